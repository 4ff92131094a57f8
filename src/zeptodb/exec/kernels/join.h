// Join kernels: ASOF and window joins on timestamp-sorted data, and a hash
// equi-join on int64 keys.
//
// The time-based joins work on ONE symbol at a time: the caller passes the
// timestamps of one symbol's left rows and of the same symbol's right rows
// (each non-decreasing, as storage keeps them), and the returned indices are
// positions within those spans. Both run in O(n + m) with two pointers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "zeptodb/exec/kernels/kernel_common.h"

namespace zepto::exec {

// ASOF match: out[i] = base + the index of the LAST right row with
// right_ts <= left_ts[i] (right_ts < left_ts[i] when `strict`), or -1 if
// there is none. Among right rows with equal timestamps the last one wins.
// Both spans must be sorted non-decreasing; out.size() == left_ts.size().
// (`base`: where right_ts starts in a larger array the indices refer to.)
void asof_match(std::span<const int64_t> left_ts, std::span<const int64_t> right_ts, bool strict,
                std::span<int64_t> out, int64_t base = 0);

// Window join ranges: for each left row i, the half-open range
// [begin[i], end[i]) of right rows with
//   left_ts[i] - lo <= right_ts <= left_ts[i] + hi
// (both bounds inclusive; the additions saturate at the int64 limits, and
// lo or hi may be kUnbounded). An empty range has begin[i] == end[i]. Both
// spans must be sorted non-decreasing; then begin and end are
// non-decreasing too, which the range aggregates in range_agg.h exploit.
// lo + hi < 0 gives empty ranges everywhere.
void window_join_ranges(std::span<const int64_t> left_ts, std::span<const int64_t> right_ts, int64_t lo,
                        int64_t hi, std::span<int64_t> begin, std::span<int64_t> end);

enum class JoinKind { kInner, kLeft };

// Matched row pairs of an equi-join: row left[k] of the left input joins row
// right[k] of the right input; right[k] == -1 marks an unmatched left row of
// a LEFT join (its right columns are NULL).
struct JoinPairs {
  std::vector<int64_t> left;
  std::vector<int64_t> right;
};

// Hash equi-join on int64 keys (INT64, TIMESTAMP, SYMBOL; INT32 widened by
// the caller). NULL keys (validity 0) never match anything. The hash table is
// built on the smaller input. Pairs come out in a deterministic order
// whichever side is built: by left row ascending, then right row ascending;
// for kLeft every left row appears at least once (with -1 if unmatched).
JoinPairs hash_join(std::span<const int64_t> left_keys, const uint8_t* left_valid,
                    std::span<const int64_t> right_keys, const uint8_t* right_valid, JoinKind kind);

}  // namespace zepto::exec
