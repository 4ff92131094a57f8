// Aggregates of a column over many row ranges [begin[k], end[k]).
//
// Used for window joins (ranges from window_join_ranges) and for streaming
// GROUP BY over sorted runs (ranges from sorted_runs(): with offsets o of
// size r+1, pass begin = o.first(r), end = o.subspan(1)). Every function
// writes one result per range: out.size() == begin.size() == end.size(),
// with 0 <= begin[k] <= end[k] <= x.size().
//
// NULL semantics as SQL aggregates: NULL inputs are skipped; a range with no
// valid row gives NULL (count gives 0). NaN ordering for min/max as in
// window.h (NaN above every number).
//
// Cost: sum/avg/count use prefix sums, O(m + r) for m rows and r ranges.
// min/max run a monotonic deque in O(m + r) when begin and end are both
// non-decreasing (always true for window joins of sorted data and for
// sorted runs); otherwise they fall back to a segment tree,
// O(m + r log m).
#pragma once

#include <cstdint>
#include <span>

#include "zeptodb/exec/kernels/kernel_common.h"

namespace zepto::exec {

// Integer sums are exact; a range sum outside int64 throws
// Error(kInvalidArgument, "BIGINT overflow in sum..."). Double sums use
// double-double (TwoSum) prefix totals of the finite values, accurate to
// about one rounding of each range's result, with NaN / +-inf counted
// separately so one infinity does not poison other ranges.
template <class T>
void range_sum(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<sum_type_t<T>> out, std::span<uint8_t> out_valid);

template <class T>
void range_avg(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<double> out, std::span<uint8_t> out_valid);

// Number of valid rows in each range (valid == nullptr: end - begin).
void range_count(const uint8_t* valid, size_t rows, std::span<const int64_t> begin,
                 std::span<const int64_t> end, std::span<int64_t> out);

template <class T>
void range_min(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid);

template <class T>
void range_max(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid);

// FIRST / LAST value of each range in row order. With ignore_nulls (the
// default) the first/last VALID value, NULL if none; without, the value of
// row begin[k] / end[k]-1 as stored, NULL if that row is NULL or the range
// is empty. O(m + r).
template <class T>
void range_first(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                 std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid,
                 bool ignore_nulls = true);

template <class T>
void range_last(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid,
                bool ignore_nulls = true);

}  // namespace zepto::exec
