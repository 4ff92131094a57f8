// Pieces shared by the kernel implementations (not part of the kernel API):
// NaN-aware ordering, double-double prefix sums, the monotonic-deque sliding
// extreme, hashing of 64-bit keys and the BIGINT overflow error.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/exec/kernels/kernel_common.h"

namespace zepto::exec::internal {

// a < b with NaN ordered above every number (two NaNs are equal).
template <class T>
inline bool less(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(b)) return !std::isnan(a);
    return a < b;  // false when a is NaN
  } else {
    return a < b;
  }
}

// Key equality for grouping: NaN equals NaN, -0.0 equals 0.0.
template <class T>
inline bool key_equal(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a == b || (a != a && b != b);
  } else {
    return a == b;
  }
}

[[noreturn]] inline void throw_sum_overflow(const char* where) {
  throw_error(ErrorCode::kInvalidArgument,
              std::string("BIGINT overflow in sum (") + where + "): the result does not fit in 64 bits; " +
                  "CAST the argument to DOUBLE to sum it approximately");
}

inline int64_t checked_int64(__int128 v, const char* where) {
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min())
    throw_sum_overflow(where);
  return static_cast<int64_t>(v);
}

// Sums of a double column over many ranges [b, e) from prefix totals kept
// in double-double (TwoSum), so a range sum is accurate to about one
// rounding of the result however large the running total grows. NULL and
// non-finite values are left out of the totals; NaN / +inf / -inf are
// counted apart (only when present) and decide the result of any range
// holding one, as IEEE addition would. Should a running total overflow, it
// falls back to long-double totals (wider exponent range).
class DoubleSumPrefix {
 public:
  DoubleSumPrefix(std::span<const double> x, const uint8_t* valid) {
    const size_t m = x.size();
    hi_.resize(m + 1);
    lo_.resize(m + 1);
    double hi = 0.0, lo = 0.0;
    bool special = false;
    hi_[0] = lo_[0] = 0.0;
    for (size_t i = 0; i < m; ++i) {
      const bool ok = is_valid(valid, i);
      const bool finite = std::isfinite(x[i]);
      special |= ok && !finite;
      const double v = ok && finite ? x[i] : 0.0;
      const double s = hi + v;  // TwoSum(hi, v)
      const double bb = s - hi;
      lo += (hi - (s - bb)) + (v - bb);
      hi = s;
      hi_[i + 1] = hi;
      lo_[i + 1] = lo;
    }
    if (!std::isfinite(hi)) {  // a running total overflowed
      hi_.clear();
      lo_.clear();
      wide_.resize(m + 1);
      wide_[0] = 0.0L;
      for (size_t i = 0; i < m; ++i) {
        const bool use = is_valid(valid, i) && std::isfinite(x[i]);
        wide_[i + 1] = wide_[i] + (use ? static_cast<long double>(x[i]) : 0.0L);
      }
    }
    if (special) {
      nan_.assign(m + 1, 0);
      pinf_.assign(m + 1, 0);
      ninf_.assign(m + 1, 0);
      for (size_t i = 0; i < m; ++i) {
        const bool ok = is_valid(valid, i);
        nan_[i + 1] = nan_[i] + (ok && std::isnan(x[i]));
        pinf_[i + 1] = pinf_[i] + (ok && x[i] == std::numeric_limits<double>::infinity());
        ninf_[i + 1] = ninf_[i] + (ok && x[i] == -std::numeric_limits<double>::infinity());
      }
    }
  }

  // The IEEE sum of the valid values of rows [b, e).
  double sum(int64_t b, int64_t e) const {
    if (!nan_.empty()) {
      const bool nan = nan_[e] > nan_[b], pinf = pinf_[e] > pinf_[b], ninf = ninf_[e] > ninf_[b];
      if (nan || (pinf && ninf)) return std::numeric_limits<double>::quiet_NaN();
      if (pinf) return std::numeric_limits<double>::infinity();
      if (ninf) return -std::numeric_limits<double>::infinity();
    }
    if (!wide_.empty()) return static_cast<double>(wide_[e] - wide_[b]);
    const double a = hi_[e], c = hi_[b];
    const double s = a - c;  // TwoSum(a, -c)
    const double bb = s - a;
    const double err = (a - (s - bb)) + (-c - bb);
    return s + (err + (lo_[e] - lo_[b]));
  }

 private:
  std::vector<double> hi_, lo_;
  std::vector<long double> wide_;
  std::vector<int64_t> nan_, pinf_, ninf_;
};

// Sliding extreme over windows [b_k, e_k) whose ends never move backwards.
// bounds(k) returns {b_k, e_k}; emit(k, index) receives the index of the
// best valid value (the earliest among equals) or -1. Better(a, b): a is
// strictly better than b. O(rows + windows).
template <class T, class Better, class Bounds, class Emit>
void sliding_extreme(std::span<const T> x, const uint8_t* valid, size_t windows, Better better,
                     Bounds&& bounds, Emit&& emit) {
  std::vector<int64_t> dq;
  dq.reserve(64);
  size_t head = 0;
  int64_t next = 0;  // next row to consider pushing
  for (size_t k = 0; k < windows; ++k) {
    const auto [b, e] = bounds(k);
    if (next < b) next = b;
    for (; next < e; ++next) {
      if (!is_valid(valid, static_cast<size_t>(next))) continue;
      const T v = x[next];
      while (dq.size() > head && !better(x[dq.back()], v)) dq.pop_back();
      dq.push_back(next);
    }
    while (head < dq.size() && dq[head] < b) ++head;
    if (head == dq.size()) {
      // Reset storage once the deque runs empty so it does not grow forever.
      dq.clear();
      head = 0;
      emit(k, int64_t{-1});
    } else {
      emit(k, dq[head]);
    }
  }
}

// 64-bit finalizer of MurmurHash3: a fast, well-mixing hash for int keys.
inline uint64_t hash64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// Smallest power of two >= 2 * n (at least 16): a table at most half full.
inline size_t table_capacity(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  return cap;
}

}  // namespace zepto::exec::internal
