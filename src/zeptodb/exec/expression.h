// Bound (typed, resolved) scalar expressions and their vectorized evaluation.
//
// The binder turns syntax into these trees: names become column indexes
// into the relation the expression runs over, every node has its result
// type, implicit conversions are explicit kCast nodes, so that evaluation
// only meets operands of matching physical types. eval() computes a whole
// Vec at once; constant inputs give constant outputs.
//
// SQL semantics: NULL in, NULL out (except AND/OR/IS NULL/COALESCE/CASE,
// which follow three-valued logic). Integer + - * and unary minus throw
// Error(kInvalidArgument) on overflow; `/` is always a DOUBLE division with
// IEEE results (x/0 = ±inf, 0/0 = NaN); integer `%` by zero throws. These are
// DuckDB's choices.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "zeptodb/exec/vector.h"

namespace zepto {
class SymbolDictionary;
}

namespace zepto::exec {

enum class ExprOp : uint8_t {
  kConst,     // value (a constant Vec of one row)
  kColumn,    // index into the input relation
  kNeg,       // -a
  kNot,       // NOT a
  kAdd, kSub, kMul, kDiv, kMod,    // a op b (operands of one type; kDiv: DOUBLEs)
  kEq, kNe, kLt, kLe, kGt, kGe,    // comparisons (operands of one type)
  kAnd, kOr,  // three-valued
  kIsNull,    // a IS NULL (negated: IS NOT NULL)
  kInSet,     // a IN (constants) (negated: NOT IN); `set` holds the values
  kLike,      // a LIKE pattern (negated); pattern is children[1], a constant
  kCase,      // children = when1, then1, ..., [else] (has_else)
  kCast,      // children[0] to `type`
  kCoalesce,  // first non-NULL child
  kFunction,  // scalar function `fn`
  kNeverUnlessNull,  // false where children[0] is valid, else NULL (symbol = unknown name)
};

// The comparison that gives the same result with its operands swapped
// (a < b is b > a); other operators are their own mirror.
constexpr ExprOp mirror(ExprOp op) {
  switch (op) {
    case ExprOp::kLt: return ExprOp::kGt;
    case ExprOp::kLe: return ExprOp::kGe;
    case ExprOp::kGt: return ExprOp::kLt;
    case ExprOp::kGe: return ExprOp::kLe;
    default: return op;
  }
}

// fn(cmp) with cmp the function object of comparison `op` (kEq .. kGe):
// std::equal_to<>, std::not_equal_to<>, std::less<>, ... One switch for
// every loop that compares.
template <typename Fn>
decltype(auto) with_comparison(ExprOp op, Fn&& fn) {
  switch (op) {
    case ExprOp::kEq: return fn(std::equal_to<>{});
    case ExprOp::kNe: return fn(std::not_equal_to<>{});
    case ExprOp::kLt: return fn(std::less<>{});
    case ExprOp::kLe: return fn(std::less_equal<>{});
    case ExprOp::kGt: return fn(std::greater<>{});
    default: return fn(std::greater_equal<>{});
  }
}

enum class ScalarFn : uint8_t {
  kAbs, kRound, kFloor, kCeil, kSqrt, kLn, kLog10, kLog2, kExp, kPow, kLeast, kGreatest, kSign,
  kXbar, kDateTrunc, kEpochS, kEpochMs, kEpochUs, kEpochNs, kLower, kUpper, kLength, kConcat,
  kNullIf,
};

struct BoundExpr;
using BoundPtr = std::unique_ptr<BoundExpr>;

struct BoundExpr {
  ExprOp op = ExprOp::kConst;
  LType type = LType::kNull;
  Vec value;          // kConst
  size_t column = 0;  // kColumn
  bool negated = false;
  bool has_else = false;
  ScalarFn fn = ScalarFn::kAbs;
  int64_t unit = 0;  // kDateTrunc: the TimeUnit (kernels/grouping.h)
  std::vector<BoundPtr> children;
  // kInSet: the values as keys (append_key form) and whether NULL is listed.
  std::unordered_set<std::string> set;
  bool set_has_null = false;
  const SymbolDictionary* symbols = nullptr;  // kCast between SYMBOL and VARCHAR
  bool symbolic = false;  // kColumn of an int64 partition key: strings compare as symbol names
  uint8_t ref = 0;        // binder bookkeeping: 0 plain, else a reference into a later layout

  BoundPtr clone() const;
  // Whether the expression uses no column (so it folds to a constant).
  bool is_constant() const;
  // A canonical text used to recognize equal expressions (GROUP BY matching).
  std::string fingerprint() const;
};

BoundPtr make_const(Vec value);
BoundPtr make_column(size_t index, LType type);
BoundPtr make_node(ExprOp op, LType type, std::vector<BoundPtr> children);

// Evaluates `e` over the columns of `in` (all of length n).
Vec eval(const BoundExpr& e, const std::vector<Vec>& in, size_t n);

// Rows where a BOOLEAN Vec is true (NULL counts as false).
std::vector<uint32_t> select_true(const Vec& cond);

// The text of symbol ids: the dictionary name, or the id in decimal when it
// has none. Each distinct id is looked up once (rows of a partition share
// one id, so a run costs one comparison a row); a returned reference stays
// valid for the life of the object.
class SymbolTexts {
 public:
  explicit SymbolTexts(const SymbolDictionary* symbols) : symbols_(symbols) {}
  const std::string& operator()(int64_t id) {
    if (last_ && id == last_id_) return *last_;
    return lookup(id);
  }

 private:
  const std::string& lookup(int64_t id);

  const SymbolDictionary* symbols_;
  std::unordered_map<int64_t, std::string> texts_;
  const std::string* last_ = nullptr;
  int64_t last_id_ = 0;
};

// A SYMBOL Vec of `n` rows as a dictionary-encoded VARCHAR result column:
// one code per row and the names of the distinct ids (O(distinct) text).
ResultColumn symbol_result_column(std::string name, const Vec& v, size_t n, const SymbolDictionary* symbols);

// Converts `v` to type `to` (the CAST rules: doubles to integers round to
// nearest, ties to even, as DuckDB; strings are parsed; out-of-range values throw).
Vec cast_vec(const Vec& v, LType to, const SymbolDictionary* symbols);

// Applies every index in `columns` of `e` through `map` (old → new index).
void remap_columns(BoundExpr& e, const std::vector<size_t>& map);
// Adds the column indexes `e` reads to `out`.
void collect_columns(const BoundExpr& e, std::vector<bool>& out);

}  // namespace zepto::exec
