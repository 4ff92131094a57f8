// Window-function kernels over ONE partition whose rows are already in the
// window's ORDER BY order, plus helpers that run them partition by partition.
//
// The caller partitions and sorts (PARTITION BY / ORDER BY) and hands each
// partition to a kernel as contiguous spans; run_partitioned() and
// rank_partitioned() do the gather / run / scatter for a whole column given
// the sort permutation and the partition offsets.
//
// NULL semantics follow SQL: aggregates skip NULL inputs; a frame with no
// valid input gives NULL for sum/avg/min/max and 0 for count. For doubles,
// NaN is ordered above every number (as in DuckDB and PostgreSQL): max()
// returns NaN if the frame holds one, min() returns NaN only if every valid
// value is NaN; sum/avg follow IEEE (NaN or +inf + -inf gives NaN).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "zeptodb/exec/kernels/kernel_common.h"

namespace zepto::exec {

// ---------------------------------------------------------------- frames

// A ROWS frame relative to the current row i of a partition of n rows: the
// rows [i - preceding, i + following] intersected with [0, n).
//   preceding = kUnbounded   UNBOUNDED PRECEDING
//   preceding = k >= 0       k PRECEDING  (0 = CURRENT ROW)
//   preceding = -k           k FOLLOWING as the frame start
//   following = kUnbounded   UNBOUNDED FOLLOWING
//   following = k >= 0       k FOLLOWING  (0 = CURRENT ROW)
//   following = -k           k PRECEDING as the frame end
// A frame whose start lies after its end is empty (sum/avg/min/max NULL,
// count 0). Any combination is accepted; every kernel is O(n) in it.
struct RowsFrame {
  int64_t preceding = kUnbounded;
  int64_t following = 0;

  // ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (a running aggregate).
  static constexpr RowsFrame running() { return {kUnbounded, 0}; }
  // ROWS BETWEEN n PRECEDING AND CURRENT ROW (a moving window of n+1 rows).
  static constexpr RowsFrame moving(int64_t n) { return {n, 0}; }
  // ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING.
  static constexpr RowsFrame whole() { return {kUnbounded, kUnbounded}; }
};

// --------------------------------------------------------------- ranking
//
// `peer_start[i] != 0` marks row i as the first row of a peer group (rows
// with equal ORDER BY keys); row 0 is always treated as a group start.
// grouping.h's mark_key_changes() computes these flags from the key columns.

// out[i] = i + 1.
void row_number(std::span<int64_t> out);

// RANK(): 1 + the number of rows before the current row's peer group
// (1, 1, 3, ...). peer_start.size() must equal out.size().
void rank(std::span<const uint8_t> peer_start, std::span<int64_t> out);

// DENSE_RANK(): 1 + the number of distinct peer groups before the current
// row's (1, 1, 2, ...).
void dense_rank(std::span<const uint8_t> peer_start, std::span<int64_t> out);

// ------------------------------------------------------------- lag / lead

// LAG(x, offset, default): out[i] = x[i - offset]. When i - offset falls
// outside the partition the result is `default_value` (NULL if nullopt); a
// NULL x at the referenced row gives NULL (RESPECT NULLS). A negative
// offset looks forward (lag(x, -k) == lead(x, k)); offset 0 is x itself.
template <class T>
void lag(std::span<const T> x, const uint8_t* valid, int64_t offset, std::optional<T> default_value,
         std::span<T> out, std::span<uint8_t> out_valid);

// LEAD(x, offset, default): out[i] = x[i + offset]; otherwise as lag().
template <class T>
void lead(std::span<const T> x, const uint8_t* valid, int64_t offset, std::optional<T> default_value,
          std::span<T> out, std::span<uint8_t> out_valid);

// -------------------------------------------------- framed aggregates, O(n)

// SUM over the frame. Integers are summed exactly (128-bit running totals);
// if a frame's sum does not fit in int64 the kernel throws
// Error(kInvalidArgument, "BIGINT overflow in sum..."). Doubles are summed
// from double-double (TwoSum) prefix totals: each frame's sum is accurate
// to about one rounding of the result however long the partition, and an
// infinity or NaN affects only the frames holding it.
template <class T>
void window_sum(std::span<const T> x, const uint8_t* valid, RowsFrame frame,
                std::span<sum_type_t<T>> out, std::span<uint8_t> out_valid);

// AVG over the frame: the exact sum (as window_sum, never overflowing for
// integers) divided by the count of valid rows, as double.
template <class T>
void window_avg(std::span<const T> x, const uint8_t* valid, RowsFrame frame,
                std::span<double> out, std::span<uint8_t> out_valid);

// MIN / MAX over the frame in O(n) for any frame, from block prefix/suffix
// extremes (van Herk / Gil-Werman), three branch-light passes.
template <class T>
void window_min(std::span<const T> x, const uint8_t* valid, RowsFrame frame,
                std::span<T> out, std::span<uint8_t> out_valid);
template <class T>
void window_max(std::span<const T> x, const uint8_t* valid, RowsFrame frame,
                std::span<T> out, std::span<uint8_t> out_valid);

// COUNT(x) over the frame: the number of valid rows (valid = nullptr gives
// COUNT(*), the frame size). Never NULL. out.size() is the partition size.
void window_count(const uint8_t* valid, RowsFrame frame, std::span<int64_t> out);

// For frames of the SQL default kind (RANGE BETWEEN UNBOUNDED PRECEDING AND
// CURRENT ROW, where peers share one frame): overwrites every row of each
// peer group with the value (and validity) of the group's LAST row. Apply
// it after a running kernel (RowsFrame::running()) to get the RANGE result.
// out_valid may be empty when the values cannot be NULL.
template <class T>
void broadcast_peer_last(std::span<const uint8_t> peer_start, std::span<T> out,
                         std::span<uint8_t> out_valid);

// ------------------------------------------------------------ time series

// The smoothing factor of ema(x, a): a >= 1 is a period N and gives
// alpha = 2 / (N + 1) (so a = 1 gives alpha = 1, no smoothing); 0 < a < 1
// is alpha itself. Throws Error(kInvalidArgument) for a <= 0 or NaN.
double ema_alpha(double alpha_or_period);

// EMA(x, alpha_or_period): the first valid x seeds the average (e = x), then
// e = alpha * x + (1 - alpha) * e_prev (pandas ewm(adjust=False), kdb+ ema).
// A NULL x carries the previous ema forward unchanged (the row's result is
// the previous row's); rows before the first valid x are NULL.
template <class T>
void ema(std::span<const T> x, const uint8_t* valid, double alpha_or_period, std::span<double> out,
         std::span<uint8_t> out_valid);

// DELTA(x) = x - LAG(x, 1, 0): the difference to the previous row, and x
// itself on the first row of the partition (kdb+ `deltas`). NULL if x or the
// previous row's x is NULL. Integer overflow throws Error(kInvalidArgument).
template <class T>
void delta(std::span<const T> x, const uint8_t* valid, std::span<T> out, std::span<uint8_t> out_valid);

// ------------------------------------------------- whole-column helpers
//
// `order` lists the column's row indices in window order: partition after
// partition, each sorted by the window ORDER BY. Partition p is
// order[offsets[p] .. offsets[p+1]). An empty `order` means the rows are
// already in window order (offsets then index rows directly, no copies).
// Inputs and outputs are in ROW order (out[order[j]] is written).

// Runs `kernel(xs, vs, os, ovs)` once per partition, where xs/os are the
// partition's contiguous slices (in window order), vs its validity (nullptr
// if `valid` is nullptr) and ovs its output validity (empty if out_valid is
// empty). Example:
//   run_partitioned<double, double>(offs, order, x, v, out, out_v,
//       [&](auto xs, auto vs, auto os, auto ovs) { window_sum<double>(xs, vs, f, os, ovs); });
template <class In, class Out, class Kernel>
void run_partitioned(std::span<const int64_t> offsets, std::span<const int64_t> order,
                     std::span<const In> x, const uint8_t* valid, std::span<Out> out,
                     std::span<uint8_t> out_valid, Kernel&& kernel);

enum class RankKind { kRowNumber, kRank, kDenseRank };

// Ranking over every partition. `peer_start` is in WINDOW order (one flag
// per position of `order`, or per row when `order` is empty); it may be empty
// for kRowNumber. Each partition starts a new peer group regardless of its
// flag. `out` is in row order.
void rank_partitioned(RankKind kind, std::span<const int64_t> offsets, std::span<const int64_t> order,
                      std::span<const uint8_t> peer_start, std::span<int64_t> out);

// ---------------------------------------------------- template definitions

template <class T>
void lag(std::span<const T> x, const uint8_t* valid, int64_t offset, std::optional<T> default_value,
         std::span<T> out, std::span<uint8_t> out_valid) {
  const int64_t n = static_cast<int64_t>(x.size());
  for (int64_t i = 0; i < n; ++i) {
    // offset may be +-2^63; compare without forming i - offset.
    const bool inside = offset >= 0 ? offset <= i : -(offset + 1) < n - 1 - i;
    if (inside) {
      const int64_t j = i - offset;
      out[i] = x[j];
      out_valid[i] = is_valid(valid, static_cast<size_t>(j));
    } else {
      out[i] = default_value ? *default_value : T{};
      out_valid[i] = default_value.has_value();
    }
  }
}

template <class T>
void lead(std::span<const T> x, const uint8_t* valid, int64_t offset, std::optional<T> default_value,
          std::span<T> out, std::span<uint8_t> out_valid) {
  if (offset == std::numeric_limits<int64_t>::min()) {
    // -offset would overflow; no row lies 2^63 rows back.
    for (size_t i = 0; i < x.size(); ++i) {
      out[i] = default_value ? *default_value : T{};
      out_valid[i] = default_value.has_value();
    }
    return;
  }
  lag<T>(x, valid, -offset, default_value, out, out_valid);
}

template <class In, class Out, class Kernel>
void run_partitioned(std::span<const int64_t> offsets, std::span<const int64_t> order,
                     std::span<const In> x, const uint8_t* valid, std::span<Out> out,
                     std::span<uint8_t> out_valid, Kernel&& kernel) {
  const bool want_valid = !out_valid.empty();
  if (order.empty()) {
    for_each_partition(offsets, [&](size_t, int64_t b, int64_t e) {
      const size_t len = static_cast<size_t>(e - b);
      kernel(x.subspan(b, len), valid ? valid + b : nullptr, out.subspan(b, len),
             want_valid ? out_valid.subspan(b, len) : std::span<uint8_t>{});
    });
    return;
  }
  const size_t n = order.size();
  std::vector<In> xs(n);
  std::vector<uint8_t> vs;
  std::vector<Out> os(n);
  std::vector<uint8_t> ovs(want_valid ? n : 0);
  gather<In>(x, order, xs);
  if (valid != nullptr) {
    vs.resize(n);
    gather_validity(valid, order, vs);
  }
  for_each_partition(offsets, [&](size_t, int64_t b, int64_t e) {
    const size_t len = static_cast<size_t>(e - b);
    kernel(std::span<const In>(xs).subspan(b, len), valid ? vs.data() + b : nullptr,
           std::span<Out>(os).subspan(b, len),
           want_valid ? std::span<uint8_t>(ovs).subspan(b, len) : std::span<uint8_t>{});
  });
  scatter<Out>(os, order, out);
  if (want_valid) scatter<uint8_t>(ovs, order, out_valid);
}

}  // namespace zepto::exec
