// The syntax tree of ZeptoDB's SQL dialect, as produced by sql::parse().
//
// The tree is purely syntactic: names are not resolved, types are not
// checked, GROUP BY ordinals and aliases are kept as written. The binder
// walks it and gives it meaning. Every node records where it started in the
// source (line and column, both 1-based) so that later errors can point at it.
//
// Ownership: each node owns its children through std::unique_ptr; a tree is
// movable, not copyable.
//
// Identifiers keep the spelling of the source (quotes removed); unquoted
// ones compare case-insensitively (the binder's business). Function names
// are lower-cased by the parser. Keywords of the statement (types, units,
// format names) are kept as written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "zeptodb/common/types.h"

namespace zepto::sql {

// Where a node is in the source text: its first character, except for
// operators (binary, comparison, IS, IN, BETWEEN, LIKE, ::), which point at
// the operator so that type errors can name it.
struct SourcePos {
  uint32_t line = 1;
  uint32_t column = 1;
};

struct Expr;
struct SelectStmt;
using ExprPtr = std::unique_ptr<Expr>;
using ExprList = std::vector<ExprPtr>;

// A type as written in CAST(x AS T), x::T and CREATE TABLE. `type` is the
// storage type it maps to; `name` is the spelling, upper-cased, without
// arguments ("VARCHAR", "BIGINT", "DATETIME64"), so that the binder can tell
// VARCHAR from SYMBOL although both map to ColumnType::SYMBOL.
struct TypeName {
  ColumnType type = ColumnType::INT64;
  std::string name;
};

// ---------------------------------------------------------------- literals

enum class LiteralKind : uint8_t {
  kNull,
  kBool,       // int_value is 0 or 1
  kInt,        // int_value
  kDouble,     // double_value
  kString,     // string_value (quotes removed, '' unescaped)
  kTimestamp,  // TIMESTAMP '2024-01-02 14:30:00[.fff]': int_value = ns since epoch, UTC
  kInterval,   // INTERVAL '5 minutes' / INTERVAL 5 MINUTE: int_value = ns
};

struct Literal {
  LiteralKind kind = LiteralKind::kNull;
  int64_t int_value = 0;
  double double_value = 0;
  std::string string_value;
};

// ------------------------------------------------------------- expressions

enum class ExprKind : uint8_t {
  kLiteral,     // value
  kColumnRef,   // [qualifier.]name; qualifier may itself be "db.table"
  kStar,        // * or qualifier.*   (select list, and the argument of count(*))
  kParameter,   // {name:Type} placeholder (ClickHouse HTTP parameters): name, type
  kUnary,       // unary_op children[0]
  kBinary,      // children[0] binary_op children[1]
  kBetween,     // children = {value, low, high}; negated for NOT BETWEEN
  kInList,      // children = {value, item1, item2, ...}; negated for NOT IN
  kInSubquery,  // children = {value}, subquery; negated for NOT IN
  kIsNull,      // children = {value}; negated for IS NOT NULL
  kLike,        // children = {value, pattern}; negated for NOT LIKE
  kCase,        // children = {[operand,] when1, then1, when2, then2, ..., [else]};
                //   see case_has_operand / case_has_else
  kCast,        // children = {value}, type  (CAST(x AS T) and x::T)
  kFunction,    // name(children...), distinct for f(DISTINCT x), window for OVER (...)
  kSubquery,    // scalar subquery: (SELECT ...)
};

enum class UnaryOp : uint8_t { kNegate, kNot };

enum class BinaryOp : uint8_t {
  kOr,
  kAnd,
  kEq,  // = and ==
  kNe,  // != and <>
  kLt,
  kLe,
  kGt,
  kGe,
  kAdd,
  kSub,
  kConcat,  // ||
  kMul,
  kDiv,
  kMod,
};

// ORDER BY item, also used inside window specifications.
enum class NullsOrder : uint8_t { kDefault, kFirst, kLast };

struct OrderItem {
  SourcePos pos;
  ExprPtr expr;  // expression, output alias or 1-based ordinal (an integer literal)
  bool descending = false;
  NullsOrder nulls = NullsOrder::kDefault;
};

// One end of a window frame. `offset` is a row count for ROWS frames and a
// value (ns for an INTERVAL) for RANGE frames; it is used only by kPreceding
// and kFollowing.
enum class FrameBoundKind : uint8_t {
  kUnboundedPreceding,
  kPreceding,
  kCurrentRow,
  kFollowing,
  kUnboundedFollowing,
};

struct FrameBound {
  FrameBoundKind kind = FrameBoundKind::kCurrentRow;
  int64_t offset = 0;
};

// ROWS|RANGE BETWEEN start AND end. The short form `ROWS start` means
// BETWEEN start AND CURRENT ROW.
struct WindowFrame {
  bool range = false;  // RANGE rather than ROWS
  FrameBound start;
  FrameBound end;
};

// OVER (PARTITION BY ... ORDER BY ... [frame]). No frame given: the SQL
// default (whole partition without ORDER BY, else UNBOUNDED PRECEDING to
// CURRENT ROW), decided by the binder.
struct WindowSpec {
  ExprList partition_by;
  std::vector<OrderItem> order_by;
  std::optional<WindowFrame> frame;
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  SourcePos pos;

  Literal value;          // kLiteral
  std::string name;       // kColumnRef column, kFunction (lower-case), kParameter
  std::string qualifier;  // kColumnRef / kStar: table or alias before the dot; else empty
  UnaryOp unary_op = UnaryOp::kNegate;
  BinaryOp binary_op = BinaryOp::kAdd;
  bool negated = false;   // NOT BETWEEN / NOT IN / NOT LIKE / IS NOT NULL
  bool distinct = false;  // kFunction: f(DISTINCT ...)
  bool case_has_operand = false;  // kCase: CASE x WHEN ... (children[0] is x)
  bool case_has_else = false;     // kCase: the last child is the ELSE value
  TypeName type;                  // kCast target, kParameter declared type

  ExprList children;
  std::unique_ptr<SelectStmt> subquery;  // kSubquery, kInSubquery
  std::unique_ptr<WindowSpec> window;    // kFunction with OVER (...)

  // Levels of this expression tree (1 for a leaf; children and window
  // expressions count, subqueries do not). The parser rejects expressions
  // higher than kMaxExprHeight, so recursive walks of parsed trees are safe.
  uint32_t height = 1;
};

inline constexpr uint32_t kMaxExprHeight = 1000;

// ------------------------------------------------------------------ FROM

// A (possibly qualified) object name: [schema.]name, e.g. system.tables.
struct QualifiedName {
  std::string schema;  // empty if not given
  std::string name;
};

enum class TableRefKind : uint8_t { kTable, kSubquery, kJoin };

// Join kinds.
//   a [INNER] JOIN b ON cond | USING (cols)
//   a LEFT [OUTER] JOIN b ..., a RIGHT [OUTER] JOIN b ..., a FULL [OUTER] JOIN b ...
//   a CROSS JOIN b, and the comma form `FROM a, b`   (no condition)
//   a ASOF [LEFT] JOIN b ON a.symbol = b.symbol AND a.timestamp >= b.timestamp
//   a ASOF [LEFT] JOIN b USING (symbol, timestamp)   (the last column is the
//       ordered one: match the latest b row with b.timestamp <= a.timestamp)
//   a WINDOW JOIN b ON a.symbol = b.symbol
//       AND b.timestamp BETWEEN a.timestamp - lo AND a.timestamp + hi
//       One output row per row of a; the select list aggregates b's columns
//       over the b rows of the same symbol whose timestamp lies in
//       [a.timestamp - lo, a.timestamp + hi] (kdb+ wj). The parser keeps the
//       ON condition as written; the binder extracts the equality keys and
//       the BETWEEN window from it.
enum class JoinType : uint8_t { kInner, kLeft, kRight, kFull, kCross, kAsof, kAsofLeft, kWindow };

struct TableRef {
  TableRefKind kind = TableRefKind::kTable;
  SourcePos pos;
  std::string alias;  // AS alias; empty if none (never set on kJoin)

  QualifiedName table;                   // kTable
  std::unique_ptr<SelectStmt> subquery;  // kSubquery: (SELECT ...) [AS] alias

  // kJoin: left JOIN right; joins nest to the left: a JOIN b JOIN c is
  // (a JOIN b) JOIN c.
  JoinType join_type = JoinType::kInner;
  std::unique_ptr<TableRef> left;
  std::unique_ptr<TableRef> right;
  ExprPtr on;                              // ON condition, or null
  std::vector<std::string> using_columns;  // USING (...), or empty
};

// ---------------------------------------------------------------- SELECT

struct SelectItem {
  SourcePos pos;
  ExprPtr expr;       // may be kStar (* or t.*)
  std::string alias;  // empty if none
};

// WITH name [(col, ...)] AS (query)
struct CommonTableExpr {
  SourcePos pos;
  std::string name;
  std::vector<std::string> columns;  // optional column list; empty if none
  std::unique_ptr<SelectStmt> query;
};

// A query. Either a single SELECT block (the fields from `distinct` to
// `having`), or, when `union_all` is non-empty, the UNION ALL of those
// branches (then the block fields are empty). ORDER BY / LIMIT / OFFSET
// apply to the result of the block or of the whole union; a branch has its
// own only if it was written in parentheses. `union_all` has a single
// branch when a parenthesized query with its own ORDER BY / LIMIT gets
// another one outside: (SELECT ... LIMIT 10) ORDER BY x.
struct SelectStmt {
  SourcePos pos;
  std::vector<CommonTableExpr> ctes;  // WITH ...

  bool distinct = false;
  std::vector<SelectItem> select_list;
  std::unique_ptr<TableRef> from;  // null for SELECT without FROM
  ExprPtr where;
  ExprList group_by;  // expressions, output aliases or 1-based ordinals, as written
  ExprPtr having;

  std::vector<std::unique_ptr<SelectStmt>> union_all;

  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit;   // LIMIT n, or the n of LIMIT m, n
  std::optional<int64_t> offset;  // OFFSET m, or the m of LIMIT m, n
};

// ------------------------------------------------------------ statements

struct ColumnDefinition {
  SourcePos pos;
  std::string name;
  TypeName type;
};

// CREATE TABLE [IF NOT EXISTS] t (col TYPE, ...) [PARTITION BY col] [ORDER BY col]
// PARTITION BY names the symbol (partition key) column, ORDER BY the
// timestamp column; empty means the storage default (first SYMBOL column,
// first TIMESTAMP column).
struct CreateTableStmt {
  QualifiedName table;
  bool if_not_exists = false;
  std::vector<ColumnDefinition> columns;
  std::string partition_by;
  std::string order_by;
};

// DROP TABLE [IF EXISTS] t
struct DropTableStmt {
  QualifiedName table;
  bool if_exists = false;
};

// SHOW TABLES
struct ShowTablesStmt {};

// DESCRIBE [TABLE] t, DESC t
struct DescribeStmt {
  QualifiedName table;
};

// INSERT INTO t [(cols)] VALUES (...), (...)
// INSERT INTO t [(cols)] SELECT ...
// INSERT INTO t [(cols)] [SETTINGS ...] FORMAT Name <data>
//   The rest of the input after FORMAT Name is data in that format, never
//   parsed as SQL. Like ClickHouse, the data starts after the spaces and
//   tabs that follow the name and after at most one line break.
struct InsertStmt {
  enum class Source : uint8_t { kValues, kSelect, kFormat };

  QualifiedName table;
  std::vector<std::string> columns;  // empty: all columns in schema order
  Source source = Source::kValues;
  std::vector<ExprList> rows;          // kValues
  std::unique_ptr<SelectStmt> select;  // kSelect
  std::string format;                  // kFormat: input format name as written
  size_t data_offset = 0;              // kFormat: byte offset of the data in the input
};

// CHECKPOINT: flush in-memory data to partition files.
struct CheckpointStmt {};

// ALTER TABLE t SET TTL n DAYS (any interval unit accepted; stored in ns),
// or ALTER TABLE t REMOVE TTL (ttl_ns = 0).
// ALTER TABLE t SET TTL n unit | REMOVE TTL | SET RETENTION n unit | REMOVE RETENTION
struct AlterTableStmt {
  QualifiedName table;
  bool retention = false;  // false: the TTL is set; true: the size limit
  int64_t ttl_ns = 0;      // 0: no TTL
  uint64_t max_bytes = 0;  // 0: no size limit
};

// SETTINGS name = value, ...  (ClickHouse query-level settings)
struct Setting {
  SourcePos pos;
  std::string name;
  Literal value;  // bare identifiers (e.g. `join_use_nulls = true`) become kString/kBool
};

using StatementBody = std::variant<SelectStmt, InsertStmt, CreateTableStmt, DropTableStmt,
                                   ShowTablesStmt, DescribeStmt, CheckpointStmt, AlterTableStmt>;

// One parsed statement with its clauses common to several kinds.
struct Statement {
  SourcePos pos;
  bool explain = false;          // EXPLAIN <statement>
  bool explain_analyze = false;  // EXPLAIN ANALYZE <statement>
  StatementBody body;
  std::string format;             // output FORMAT Name (SELECT, SHOW, DESCRIBE); empty if none
  std::vector<Setting> settings;  // SETTINGS k = v, ...
};

// A readable canonical form of an expression, used as the default name of a
// result column: "sum(volume)", "price * 2", "count(*)", "t.price".
// Parentheses appear only where precedence needs them.
std::string to_string(const Expr& expr);

// Canonical SQL text of a query (round-trips through parse()).
std::string to_string(const SelectStmt& select);

}  // namespace zepto::sql
