// Statistical aggregates: quantiles, variance / standard deviation, and
// count-distinct, the latter two as mergeable states so that the executor
// can aggregate partitions in parallel and combine the partial results.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "zeptodb/exec/kernels/kernel_common.h"

namespace zepto::exec {

// ------------------------------------------------------------- quantiles
//
// Both quantiles skip NULLs, return nullopt when there is no valid value,
// and throw Error(kInvalidArgument) unless 0 <= p <= 1. They select with
// std::nth_element on a copy of the valid values (O(n) expected). For
// doubles NaN sorts above every number (as in DuckDB).

// Continuous quantile with linear interpolation between the two nearest
// ranks, as DuckDB's quantile_cont / PostgreSQL's percentile_cont: over the
// sorted valid values v[0..n), h = (n - 1) * p, and the result is
// v[floor(h)] + (h - floor(h)) * (v[ceil(h)] - v[floor(h)]).
template <class T>
std::optional<double> quantile_cont(std::span<const T> x, const uint8_t* valid, double p);

// Discrete quantile, as SQL percentile_disc (and DuckDB's quantile_disc):
// the smallest value v[k] whose cumulative fraction (k + 1) / n is >= p,
// i.e. k = max(0, ceil(n * p) - 1). Always one of the input values. A
// product n * p within 1e-9 (relative) of an integer is taken as that
// integer, so p = 0.28 with n = 25 selects k = 6 as the exact decimal does
// (DuckDB's result for a DECIMAL literal), not k = 7 from binary rounding.
template <class T>
std::optional<T> quantile_disc(std::span<const T> x, const uint8_t* valid, double p);

// MEDIAN(x) = quantile_cont(x, 0.5).
template <class T>
std::optional<double> median(std::span<const T> x, const uint8_t* valid);

// In-place variants for callers that already own a scratch buffer of the
// valid values: `values` is reordered. Same results as above.
template <class T>
std::optional<double> quantile_cont_inplace(std::span<T> values, double p);
template <class T>
std::optional<T> quantile_disc_inplace(std::span<T> values, double p);

// ------------------------------------------------------- variance / stddev

// Running count, mean and sum of squared deviations (Welford), numerically
// stable in one pass. States of disjoint parts combine with merge()
// (Chan et al.), giving the same result as one pass over all the rows up
// to rounding.
struct VarianceState {
  int64_t count = 0;
  double mean = 0.0;
  double m2 = 0.0;  // sum of (x - mean)^2

  // Adds one value (Welford). For columns prefer variance_add(), which is
  // faster and keeps more digits when the mean is far from zero relative to
  // the spread.
  void add(double x);
  void merge(const VarianceState& other);

  // VAR_SAMP / VARIANCE: m2 / (count - 1); nullopt when count < 2.
  std::optional<double> var_samp() const;
  // VAR_POP: m2 / count; nullopt when count == 0.
  std::optional<double> var_pop() const;
  // STDDEV_SAMP / STDDEV: sqrt(var_samp()); nullopt when count < 2.
  std::optional<double> stddev_samp() const;
  // STDDEV_POP: sqrt(var_pop()); nullopt when count == 0.
  std::optional<double> stddev_pop() const;
};

// Adds every valid value of x to `state`.
template <class T>
void variance_add(VarianceState& state, std::span<const T> x, const uint8_t* valid);

// ---------------------------------------------------------- count distinct

// The set of distinct values seen, for COUNT(DISTINCT x). Holds 64-bit
// keys: an int64 value as itself, a double by its bits after mapping -0.0
// to 0.0 and every NaN to one canonical NaN (so NaN counts once, and
// 0.0 == -0.0). Feed one state with one type only. NULLs are not counted.
class DistinctCounter {
 public:
  DistinctCounter();

  void add(std::span<const int64_t> x, const uint8_t* valid);
  void add(std::span<const int32_t> x, const uint8_t* valid);
  void add(std::span<const double> x, const uint8_t* valid);
  // Adds the values of `other` (a state of the same column type).
  void merge(const DistinctCounter& other);

  // COUNT(DISTINCT x) so far.
  int64_t count() const { return static_cast<int64_t>(size_) + (has_zero_key_ ? 1 : 0); }

 private:
  void insert(uint64_t key);
  void grow();
  void reserve_for(size_t more);  // room for `more` new keys without growing
  void prefetch(uint64_t key) const;

  // Open addressing with linear probing; 0 marks an empty slot and the key 0
  // itself is tracked by has_zero_key_.
  std::vector<uint64_t> slots_;
  size_t size_ = 0;  // nonzero keys stored
  bool has_zero_key_ = false;
};

}  // namespace zepto::exec
