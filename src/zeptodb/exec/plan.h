// Physical plans of queries and their execution.
//
// The binder (sql/binder.h) builds a tree of PlanNodes; executing the root
// gives a Relation. Table scans are not materialized by the node that reads
// them: a SelectNode pulls chunks straight from the partitions (zero copy),
// filters them and aggregates or collects them, one morsel (a partition's
// row range) per task, in parallel when the options allow. Within a
// partition rows are in timestamp order, so grouping by the symbol or by a
// time bucket sees long runs of one group (see aggregate.h).
//
// Row order: a scan yields partitions in creation order and rows in
// timestamp order within each; operators preserve their input order, so a
// query without ORDER BY still returns the same rows in the same order on
// every run and with any thread count.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zeptodb/exec/aggregate.h"
#include "zeptodb/exec/expression.h"
#include "zeptodb/exec/kernels/window.h"
#include "zeptodb/exec/options.h"
#include "zeptodb/exec/result_set.h"
#include "zeptodb/storage/table.h"

namespace zepto::exec {

struct ExecContext {
  ExecOptions options;
  const SymbolDictionary* symbols = nullptr;
  std::atomic<uint64_t> rows_scanned{0};
};

struct ColumnInfo {
  std::string name;
  LType type = LType::kNull;
  bool symbolic = false;  // an int64 partition key: string literals compare through the dictionary
};

class PlanNode {
 public:
  virtual ~PlanNode() = default;
  virtual Relation execute(ExecContext& ctx) = 0;
  // Appends this node and its inputs to `out`, one line each, indented.
  virtual void explain(std::string& out, int depth) const = 0;

  std::vector<ColumnInfo> columns;  // output columns
  // Output columns the parent reads (empty: all). Scans and joins leave the
  // others as NULL placeholders instead of materializing them.
  std::vector<bool> needed;
};
using PlanPtr = std::unique_ptr<PlanNode>;

// Chunks of rows from a source, after its filter: fn(columns, n, seq) where
// seq is the position of the chunk's first row in the source's order.
using ChunkFn = std::function<void(const std::vector<Vec>& cols, size_t n, int64_t seq)>;

// A morsel's rows in one piece, as stored, before the filter.
struct MorselView {
  std::vector<Vec> cols;  // columns not needed: NULL placeholders; the partition key: a constant
  size_t n = 0;
  int64_t seq = 0;     // position of row 0 in the source's order (as scan() numbers it)
  int ts_column = -1;  // a column without NULLs whose values never decrease, or -1
  const BoundExpr* filter = nullptr;  // the rows that count are those it holds for (null: all)
};

class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  virtual size_t morsels() const = 0;
  virtual size_t rows() const = 0;  // rows to read (an upper bound of what passes the filter)
  // Reads morsel m in chunks of at most `chunk` rows. Columns not in
  // `needed` are NULL placeholders.
  virtual void scan(size_t m, const std::vector<bool>& needed, size_t chunk, const ChunkFn& fn) = 0;
  // Morsel m without copying (false if the source cannot: the caller scans
  // it), with the columns of its filter. Counts its rows as scanned.
  virtual bool view(size_t, const std::vector<bool>&, MorselView&) { return false; }
  // A hint before reading a row or two at the ends of every morsel: asks
  // the cache for them all at once (their misses overlap).
  virtual void prefetch_ends(const std::vector<bool>& /*needed*/) const {}
};

// Reads a table. Partitions outside `keys` and rows outside [ts_lo, ts_hi]
// (binary search on the timestamp column) are never touched; `filter` is
// evaluated on the rest.
class ScanNode : public PlanNode {
 public:
  std::shared_ptr<Table> table;
  std::string alias;
  std::optional<std::vector<int64_t>> keys;  // partition keys to read; nullopt = all
  int64_t ts_lo = INT64_MIN, ts_hi = INT64_MAX;  // inclusive
  BoundPtr filter;       // over the table's columns
  BoundPtr time_filter;  // the time range as a predicate, for partitions with NULL timestamps
  std::string filter_text;  // for EXPLAIN

  Relation execute(ExecContext& ctx) override;
  void explain(std::string& out, int depth) const override;
  std::unique_ptr<ChunkSource> open(ExecContext& ctx) const;
  int key_column() const { return table->schema().symbol_index(); }
  int ts_column() const { return table->schema().timestamp_index(); }
};

// A source that is computed (subquery, join, union) and then filtered.
std::unique_ptr<ChunkSource> relation_source(Relation rel, const BoundExpr* filter, ExecContext& ctx);

struct AggCall {
  AggSpec spec;
  std::vector<BoundPtr> args;  // over the source (for first/last the order key is appended)
  std::string text;
};

struct SortKey {
  BoundPtr expr;
  bool descending = false;
  bool nulls_first = false;
};

enum class WinKind : uint8_t {
  kRowNumber, kRank, kDenseRank, kLag, kLead, kSum, kAvg, kMin, kMax, kCount, kCountStar, kEma, kDelta,
  kFirstValue, kLastValue,
};

struct WindowCall {
  WinKind kind = WinKind::kRowNumber;
  LType type = LType::kBigint;
  std::vector<BoundPtr> args;          // over P
  std::vector<BoundPtr> partition_by;  // over P
  std::vector<SortKey> order_by;       // over P
  RowsFrame frame = RowsFrame::whole();
  bool peers_share_frame = false;  // RANGE ... CURRENT ROW (the SQL default with ORDER BY)
  // RANGE frames other than UNBOUNDED PRECEDING to CURRENT ROW / UNBOUNDED
  // FOLLOWING: the rows whose single ORDER BY key lies within these
  // distances of the current row's (kUnbounded: to the partition's end;
  // 0: CURRENT ROW, peers included).
  bool range_frame = false;
  int64_t range_preceding = 0, range_following = 0;
  int64_t offset = 1;              // lag / lead
  bool has_default = false;        // lag / lead third argument (args[1])
  double alpha = 0;                // ema
  std::string text;
};

// The window join of a SELECT: for each left row, aggregates over the right
// rows with equal keys whose order key lies in [left_ts - lo, left_ts + hi].
struct WindowJoinSpec {
  PlanPtr left, right;
  std::vector<BoundPtr> left_keys, right_keys;  // over left / right
  BoundPtr left_ts, right_ts;
  int64_t lo = 0, hi = 0;
};

// One SELECT block: source → WHERE → [GROUP BY + aggregates] → HAVING →
// windows → select list → DISTINCT → ORDER BY → OFFSET/LIMIT.
//
// Layouts: source columns S; the post-aggregation relation P is S without
// aggregation, else [group keys..., aggregates...]; windows are appended to
// P. `outputs` and `having` are over P; sort keys are over P ++ outputs.
class SelectNode : public PlanNode {
 public:
  PlanPtr source;  // null: one row without columns (SELECT 1)
  std::unique_ptr<WindowJoinSpec> window_join;  // instead of `source`
  BoundPtr where;  // over S (a ScanNode source filters itself)
  std::string where_text;
  bool aggregate = false;
  std::vector<BoundPtr> group_keys;
  std::vector<std::string> group_texts;
  std::vector<AggCall> aggs;
  BoundPtr having;
  std::vector<WindowCall> windows;
  std::vector<BoundPtr> outputs;
  bool distinct = false;
  std::vector<SortKey> order_by;
  std::vector<std::string> order_texts;
  int64_t limit = -1;
  int64_t offset = 0;

  Relation execute(ExecContext& ctx) override;
  void explain(std::string& out, int depth) const override;

 private:
  Relation aggregate_rows(ChunkSource& src, const std::vector<bool>& needed, ExecContext& ctx);
  Relation collect_rows(ChunkSource& src, const std::vector<bool>& needed, size_t width, ExecContext& ctx);
  Relation window_join_rows(ExecContext& ctx);
  Relation finish(Relation p, ExecContext& ctx);
};

// UNION ALL of its inputs (columns by position, types unified by casts).
class UnionNode : public PlanNode {
 public:
  std::vector<PlanPtr> inputs;
  Relation execute(ExecContext& ctx) override;
  void explain(std::string& out, int depth) const override;
};

enum class JoinKind2 : uint8_t { kInner, kLeft, kRight, kFull, kCross, kAsof, kAsofLeft };

class JoinNode : public PlanNode {
 public:
  JoinKind2 kind = JoinKind2::kInner;
  PlanPtr left, right;
  std::vector<BoundPtr> left_keys, right_keys;  // equality keys, over left / right
  BoundPtr residual;                            // over left ++ right; null = none
  BoundPtr left_ts, right_ts;                   // ASOF: match right_ts <= left_ts
  bool strict = false;                          // ASOF with > instead of >=
  std::string text;

  Relation execute(ExecContext& ctx) override;
  void explain(std::string& out, int depth) const override;

 private:
  Relation asof(Relation l, Relation r, ExecContext& ctx);
  Relation equi(Relation l, Relation r, ExecContext& ctx);
};

// Rows given by value (already computed, e.g. a scalar subquery's input).
class ValuesNode : public PlanNode {
 public:
  Relation rel;
  Relation execute(ExecContext&) override { return rel; }
  void explain(std::string& out, int depth) const override;
};

// Sorts `rel` rows by `keys` (evaluated over rel's columns) and returns the
// permutation; stable, NULLs placed per key.
std::vector<uint32_t> sort_rows(const std::vector<Vec>& keys, const std::vector<SortKey>& spec, size_t n,
                                size_t limit);

// The result of a query: `rel` as typed result columns (SYMBOL ids become
// names from `symbols`; buffers are shared with `rel`, not copied, where the
// layouts agree).
ResultSet make_result(const Relation& rel, const std::vector<ColumnInfo>& columns, const SymbolDictionary* symbols);

// Whether a query over `rows` rows runs on more than one thread.
size_t threads_for(const ExecContext& ctx, size_t rows);

}  // namespace zepto::exec
