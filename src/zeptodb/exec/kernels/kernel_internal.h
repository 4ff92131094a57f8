// Pieces shared by the kernel implementations (not part of the kernel API):
// NaN-aware ordering, compensated double sums, the monotonic-deque sliding
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

// Sum of doubles that supports removal: finite values go into a Neumaier-
// compensated long-double total, NaN and infinities are counted so that
// they leave the total when they leave the frame.
struct FloatSum {
  long double sum = 0.0L;
  long double comp = 0.0L;
  int64_t nan = 0, pinf = 0, ninf = 0;

  void add_finite(long double v) {
    const long double t = sum + v;
    if (std::fabs(sum) >= std::fabs(v))
      comp += (sum - t) + v;
    else
      comp += (v - t) + sum;
    sum = t;
  }
  void add(double v) {
    if (std::isfinite(v)) add_finite(v);
    else if (std::isnan(v)) ++nan;
    else if (v > 0) ++pinf;
    else ++ninf;
  }
  void remove(double v) {
    if (std::isfinite(v)) add_finite(-static_cast<long double>(v));
    else if (std::isnan(v)) --nan;
    else if (v > 0) --pinf;
    else --ninf;
  }
  long double finite_total() const { return sum + comp; }
  double special() const {  // the result when a non-finite value is present
    if (nan > 0 || (pinf > 0 && ninf > 0)) return std::numeric_limits<double>::quiet_NaN();
    return pinf > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  bool has_special() const { return nan > 0 || pinf > 0 || ninf > 0; }
  double value() const { return has_special() ? special() : static_cast<double>(finite_total()); }
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
