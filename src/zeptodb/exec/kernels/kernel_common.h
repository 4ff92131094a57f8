// Conventions shared by every kernel in exec/kernels, and the small helpers
// that move values between a column's row order and a sorted order.
//
// A kernel is a pure function over spans. Inputs are `std::span<const T>`
// plus an optional validity array `const uint8_t* valid` (valid[i] != 0 means
// row i is not NULL; nullptr means every row is valid). Outputs are
// caller-sized spans (`out.size()` must equal the input size unless a
// function says otherwise) and, where the result can be NULL, a validity
// span `out_valid` of the same size that the kernel fills with 0/1 for every
// row. A value slot whose validity is 0 holds an unspecified value.
//
// Numeric kernels are instantiated for T = int32_t, int64_t and double
// (TIMESTAMP and SYMBOL columns are int64_t, BOOL is widened by the caller).
// Errors are reported by throwing zepto::Error (common/error.h):
// kInvalidArgument for bad arguments and for BIGINT overflow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

namespace zepto::exec {

// True if row i of a column with validity `valid` (nullptr = all valid) is
// not NULL.
inline bool is_valid(const uint8_t* valid, size_t i) { return valid == nullptr || valid[i] != 0; }

// Result type of sum() over T: int64_t for integers (overflow is an error),
// double for floating point.
template <class T>
using sum_type_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// Frame or join bound meaning "unbounded" (UNBOUNDED PRECEDING/FOLLOWING).
inline constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

// dst[j] = src[idx[j]] for every j; dst.size() must equal idx.size().
template <class T>
void gather(std::span<const T> src, std::span<const int64_t> idx, std::span<T> dst) {
  for (size_t j = 0; j < idx.size(); ++j) dst[j] = src[static_cast<size_t>(idx[j])];
}

// dst[idx[j]] = src[j] for every j (the inverse of gather).
template <class T>
void scatter(std::span<const T> src, std::span<const int64_t> idx, std::span<T> dst) {
  for (size_t j = 0; j < idx.size(); ++j) dst[static_cast<size_t>(idx[j])] = src[j];
}

// Gathers a validity array: dst[j] = is_valid(src, idx[j]).
inline void gather_validity(const uint8_t* src, std::span<const int64_t> idx, std::span<uint8_t> dst) {
  if (src == nullptr) {
    for (size_t j = 0; j < idx.size(); ++j) dst[j] = 1;
  } else {
    for (size_t j = 0; j < idx.size(); ++j) dst[j] = src[static_cast<size_t>(idx[j])] != 0;
  }
}

// Calls fn(p, begin, end) for every partition p, where partition p is the
// half-open range [offsets[p], offsets[p+1]) of positions. `offsets` is a
// CSR offset array: non-decreasing, offsets.size() = partitions + 1 (an
// empty span or {0} means no partitions). Sorted-run detection
// (grouping.h) returns offsets in this same form.
template <class Fn>
void for_each_partition(std::span<const int64_t> offsets, Fn&& fn) {
  for (size_t p = 0; p + 1 < offsets.size(); ++p) fn(p, offsets[p], offsets[p + 1]);
}

}  // namespace zepto::exec
