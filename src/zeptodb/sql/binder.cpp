#include "zeptodb/sql/binder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <unordered_map>

#include "zeptodb/common/error.h"
#include "zeptodb/database.h"
#include "zeptodb/exec/kernels/grouping.h"

namespace zepto::sql {

using namespace exec;

namespace {

// ------------------------------------------------------------ helpers

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool ieq(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

std::string at(const SourcePos& p) {
  return " (line " + std::to_string(p.line) + ", column " + std::to_string(p.column) + ")";
}

[[noreturn]] void fail(const SourcePos& p, const std::string& msg) {
  throw_error(ErrorCode::kInvalidArgument, msg + at(p));
}

[[noreturn]] void fail_type(const SourcePos& p, const std::string& msg) {
  throw_error(ErrorCode::kTypeMismatch, msg + at(p));
}

std::string tname(LType t) { return std::string(ltype_name(t)); }

// Reference kinds of BoundExpr::ref made by the binder.
constexpr uint8_t kRefAgg = 1;     // column of P (group key or aggregate)
constexpr uint8_t kRefWindow = 2;  // window result w (index fixed up later)
constexpr uint8_t kRefOutput = 3;  // output column k (index fixed up later)

BoundPtr ref(size_t index, LType type, uint8_t kind) {
  BoundPtr e = make_column(index, type);
  e->ref = kind;
  return e;
}

// ---------------------------------------------------------------- scope

struct ScopeCol {
  std::string qualifier;
  std::string name;
  LType type = LType::kNull;
  bool symbolic = false;
  bool hidden = false;  // the right column of JOIN ... USING: only reachable qualified
};

struct Scope {
  std::vector<ScopeCol> cols;
  int ts_index = -1;  // the table's timestamp column (orders first/last), or -1
};

std::string last_part(const std::string& q) {
  size_t dot = q.rfind('.');
  return dot == std::string::npos ? q : q.substr(dot + 1);
}

size_t resolve(const Scope& s, const Expr& e) {
  std::string q = last_part(e.qualifier);
  std::vector<size_t> hits;
  for (size_t i = 0; i < s.cols.size(); ++i) {
    const ScopeCol& c = s.cols[i];
    if (!ieq(c.name, e.name)) continue;
    if (q.empty() ? c.hidden : !ieq(c.qualifier, q)) continue;
    hits.push_back(i);
  }
  if (hits.size() == 1) return hits[0];
  std::string full = (e.qualifier.empty() ? "" : e.qualifier + ".") + e.name;
  if (hits.empty()) {
    std::set<std::string> quals;
    for (const auto& c : s.cols) quals.insert(lower(c.qualifier));
    std::string valid;
    for (const auto& c : s.cols) {
      if (c.hidden) continue;
      std::string n = quals.size() > 1 && !c.qualifier.empty() ? c.qualifier + "." + c.name : c.name;
      valid += (valid.empty() ? "" : ", ") + n;
    }
    if (!q.empty() && !quals.count(lower(q)))
      throw_error(ErrorCode::kNotFound, "unknown table or alias '" + e.qualifier + "' in '" + full + "'" + at(e.pos) +
                                            "; valid columns: " + (valid.empty() ? "(none)" : valid));
    throw_error(ErrorCode::kNotFound, "unknown column '" + full + "'" + at(e.pos) +
                                          "; valid columns: " + (valid.empty() ? "(none: the query has no FROM)" : valid));
  }
  std::string list;
  for (size_t i : hits) list += (list.empty() ? "" : ", ") + s.cols[i].qualifier + "." + s.cols[i].name;
  fail(e.pos, "column '" + full + "' is ambiguous (" + list + "); qualify it");
}

// ------------------------------------------------------- function registry

enum class FnClass { kScalar, kAggregate, kWindow };

struct FnInfo {
  FnClass cls;
  int code;  // ScalarFn, AggKind or WinKind
};

const std::unordered_map<std::string, FnInfo>& registry() {
  static const std::unordered_map<std::string, FnInfo> r = [] {
    std::unordered_map<std::string, FnInfo> m;
    auto s = [&](const char* n, ScalarFn f) { m[n] = {FnClass::kScalar, static_cast<int>(f)}; };
    auto a = [&](const char* n, AggKind k) { m[n] = {FnClass::kAggregate, static_cast<int>(k)}; };
    auto w = [&](const char* n, WinKind k) { m[n] = {FnClass::kWindow, static_cast<int>(k)}; };
    s("abs", ScalarFn::kAbs); s("round", ScalarFn::kRound); s("floor", ScalarFn::kFloor);
    s("ceil", ScalarFn::kCeil); s("ceiling", ScalarFn::kCeil); s("sqrt", ScalarFn::kSqrt);
    s("ln", ScalarFn::kLn); s("log", ScalarFn::kLog10); s("log10", ScalarFn::kLog10); s("log2", ScalarFn::kLog2);
    s("exp", ScalarFn::kExp); s("pow", ScalarFn::kPow); s("power", ScalarFn::kPow); s("least", ScalarFn::kLeast);
    s("greatest", ScalarFn::kGreatest); s("sign", ScalarFn::kSign); s("xbar", ScalarFn::kXbar);
    s("date_trunc", ScalarFn::kDateTrunc); s("epoch_s", ScalarFn::kEpochS); s("epoch", ScalarFn::kEpochS);
    s("epoch_ms", ScalarFn::kEpochMs); s("epoch_us", ScalarFn::kEpochUs); s("epoch_ns", ScalarFn::kEpochNs);
    s("lower", ScalarFn::kLower); s("upper", ScalarFn::kUpper); s("length", ScalarFn::kLength);
    s("concat", ScalarFn::kConcat); s("nullif", ScalarFn::kNullIf);
    a("count", AggKind::kCount); a("sum", AggKind::kSum); a("avg", AggKind::kAvg); a("mean", AggKind::kAvg);
    a("min", AggKind::kMin); a("max", AggKind::kMax); a("first", AggKind::kFirst); a("last", AggKind::kLast);
    a("vwap", AggKind::kVwap); a("stddev", AggKind::kStddevSamp); a("stddev_samp", AggKind::kStddevSamp);
    a("stddev_pop", AggKind::kStddevPop); a("variance", AggKind::kVarSamp); a("var_samp", AggKind::kVarSamp);
    a("var_pop", AggKind::kVarPop); a("median", AggKind::kMedian); a("percentile", AggKind::kPercentile);
    a("quantile", AggKind::kPercentile); a("quantile_cont", AggKind::kPercentile);
    w("row_number", WinKind::kRowNumber); w("rank", WinKind::kRank); w("dense_rank", WinKind::kDenseRank);
    w("lag", WinKind::kLag); w("lead", WinKind::kLead); w("ema", WinKind::kEma); w("delta", WinKind::kDelta);
    w("first_value", WinKind::kFirstValue); w("last_value", WinKind::kLastValue);
    return m;
  }();
  return r;
}

const FnInfo* find_fn(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

bool is_aggregate_call(const Expr& e) {
  if (e.kind != ExprKind::kFunction || e.window) return false;
  const FnInfo* f = find_fn(e.name);
  return f && f->cls == FnClass::kAggregate;
}

bool contains_aggregate(const Expr& e) {
  if (is_aggregate_call(e)) return true;
  if (e.kind == ExprKind::kFunction && e.window) return false;  // sum(x) OVER (...) is a window
  for (const auto& c : e.children)
    if (c && contains_aggregate(*c)) return true;
  return false;
}

// ------------------------------------------------------------ the state

struct State {
  Database& db;
  ExecContext& ctx;
  std::vector<const CommonTableExpr*>& ctes;
  int64_t now;
};

struct Env {
  const Scope* scope = nullptr;
  std::vector<AggCall>* aggs = nullptr;  // aggregates allowed (collected here)
  size_t agg_base = 0;                   // index of the first aggregate in P
  std::vector<WindowCall>* windows = nullptr;
  const char* clause = "";
  // Converts a bound expression over the source to one over P (aggregation).
  std::function<BoundPtr(BoundPtr)> to_post;
};

PlanPtr bind_query(State& st, const SelectStmt& s);

// --------------------------------------------------------------- types

bool is_intish(LType t) { return t == LType::kInteger || t == LType::kBigint; }

std::optional<LType> unify(LType a, LType b) {
  if (a == b) return a;
  if (a == LType::kNull) return b;
  if (b == LType::kNull) return a;
  if ((is_intish(a) || a == LType::kDouble) && (is_intish(b) || b == LType::kDouble))
    return a == LType::kDouble || b == LType::kDouble ? LType::kDouble : LType::kBigint;
  if ((a == LType::kTimestamp && is_intish(b)) || (b == LType::kTimestamp && is_intish(a))) return LType::kTimestamp;
  if ((a == LType::kSymbol && b == LType::kVarchar) || (b == LType::kSymbol && a == LType::kVarchar))
    return LType::kVarchar;
  if ((a == LType::kSymbol && is_intish(b)) || (b == LType::kSymbol && is_intish(a))) return LType::kSymbol;
  if ((a == LType::kBoolean && is_intish(b)) || (b == LType::kBoolean && is_intish(a))) return LType::kBigint;
  return std::nullopt;
}

BoundPtr fold(BoundPtr e, State& st) {
  if (e->op == ExprOp::kConst || e->op == ExprOp::kColumn || !e->is_constant()) return e;
  Vec v = eval(*e, {}, 1);
  Vec one = flatten(v);
  one.n = 1;
  BoundPtr c = make_const(one);
  c->type = e->type;
  c->value.type = e->type == LType::kNull ? one.type : e->type;
  return c;
}

BoundPtr cast_to(BoundPtr e, LType t, State& st) {
  if (e->type == t) return e;
  if (e->op == ExprOp::kColumn && is_int_like(e->type) && is_int_like(t) && t != LType::kInteger) {
    e->type = t;  // same int64 values, another meaning (BIGINT ns as TIMESTAMP)
    return e;
  }
  BoundPtr c = make_node(ExprOp::kCast, t, {});
  c->children.push_back(std::move(e));
  c->symbols = &st.db.symbols();
  return fold(std::move(c), st);
}

bool is_const_string(const BoundExpr& e) {
  return e.op == ExprOp::kConst && e.type == LType::kVarchar && e.value.is_valid(0);
}

bool is_symbolic(const BoundExpr& e) { return e.type == LType::kSymbol || (e.symbolic && is_int_like(e.type)); }

LType target_type(const TypeName& t) {
  std::string n = lower(t.name);
  if (n == "varchar" || n == "string" || n == "text" || n == "char") return LType::kVarchar;
  switch (t.type) {
    case ColumnType::INT64: return LType::kBigint;
    case ColumnType::INT32: return LType::kInteger;
    case ColumnType::DOUBLE: return LType::kDouble;
    case ColumnType::BOOL: return LType::kBoolean;
    case ColumnType::TIMESTAMP: return LType::kTimestamp;
    case ColumnType::SYMBOL: return n == "symbol" ? LType::kSymbol : LType::kVarchar;
  }
  return LType::kBigint;
}

// --------------------------------------------------------- expressions

BoundPtr bind(State& st, const Expr& e, Env& env);

BoundPtr bind_bool(State& st, const Expr& e, Env& env, const char* what) {
  BoundPtr b = bind(st, e, env);
  if (b->type == LType::kNull) return cast_to(std::move(b), LType::kBoolean, st);
  if (b->type != LType::kBoolean)
    fail_type(e.pos, std::string(what) + " must be a boolean expression, got " + tname(b->type));
  return b;
}

ExprOp compare_op(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEq: return ExprOp::kEq;
    case BinaryOp::kNe: return ExprOp::kNe;
    case BinaryOp::kLt: return ExprOp::kLt;
    case BinaryOp::kLe: return ExprOp::kLe;
    case BinaryOp::kGt: return ExprOp::kGt;
    default: return ExprOp::kGe;
  }
}

// A symbol id for a string or integer constant compared with a symbolic
// expression; nullopt if the name is unknown.
std::optional<int64_t> symbol_id(State& st, const Vec& v) {
  if (v.type == LType::kVarchar) return st.db.symbols().find(v.str(0));
  return v.i64(0);
}

BoundPtr compare(State& st, ExprOp op, BoundPtr l, BoundPtr r, const SourcePos& pos) {
  if (is_const_string(*l) && !is_const_string(*r)) {
    std::swap(l, r);
    op = mirror(op);
  }
  bool equality = op == ExprOp::kEq || op == ExprOp::kNe;
  if (is_symbolic(*l) && r->op == ExprOp::kConst && (r->type == LType::kVarchar || is_intish(r->type))) {
    if (!r->value.is_valid(0)) return make_const(const_null(LType::kBoolean, 1));
    if (equality || r->type != LType::kVarchar) {
      std::optional<int64_t> id = symbol_id(st, r->value);
      if (!id) {
        BoundPtr never = make_node(ExprOp::kNeverUnlessNull, LType::kBoolean, {});
        never->children.push_back(std::move(l));
        if (op == ExprOp::kEq) return never;
        return make_node(ExprOp::kNot, LType::kBoolean, [&] {
          std::vector<BoundPtr> v;
          v.push_back(std::move(never));
          return v;
        }());
      }
      r = make_const(const_int(l->type, *id, 1));
    }
  }
  if ((l->type == LType::kSymbol || r->type == LType::kSymbol) && !equality) {
    l = cast_to(std::move(l), LType::kVarchar, st);  // order symbols by name
    r = cast_to(std::move(r), LType::kVarchar, st);
  }
  // A string constant compared with another type is read as that type.
  if (is_const_string(*r) && l->type != LType::kVarchar && l->type != LType::kSymbol && l->type != LType::kNull)
    r = cast_to(std::move(r), l->type, st);
  auto t = unify(l->type, r->type);
  if (!t) fail_type(pos, "cannot compare " + tname(l->type) + " with " + tname(r->type));
  l = cast_to(std::move(l), *t, st);
  r = cast_to(std::move(r), *t, st);
  std::vector<BoundPtr> ch;
  ch.push_back(std::move(l));
  ch.push_back(std::move(r));
  return fold(make_node(op, LType::kBoolean, std::move(ch)), st);
}

BoundPtr arithmetic(State& st, BinaryOp op, BoundPtr l, BoundPtr r, const SourcePos& pos) {
  if (op == BinaryOp::kConcat) {
    l = cast_to(std::move(l), LType::kVarchar, st);
    r = cast_to(std::move(r), LType::kVarchar, st);
    BoundPtr f = make_node(ExprOp::kFunction, LType::kVarchar, {});
    f->fn = ScalarFn::kConcat;
    f->children.push_back(std::move(l));
    f->children.push_back(std::move(r));
    return fold(std::move(f), st);
  }
  LType a = l->type, b = r->type;
  auto numeric = [](LType t) { return is_intish(t) || t == LType::kDouble || t == LType::kNull || t == LType::kTimestamp; };
  if (!numeric(a) || !numeric(b))
    fail_type(pos, "arithmetic needs numbers, got " + tname(a) + " and " + tname(b));
  LType rt;
  ExprOp xop;
  switch (op) {
    case BinaryOp::kAdd: xop = ExprOp::kAdd; break;
    case BinaryOp::kSub: xop = ExprOp::kSub; break;
    case BinaryOp::kMul: xop = ExprOp::kMul; break;
    case BinaryOp::kDiv: xop = ExprOp::kDiv; break;
    default: xop = ExprOp::kMod; break;
  }
  if (xop == ExprOp::kDiv) {
    rt = LType::kDouble;
  } else if (a == LType::kDouble || b == LType::kDouble) {
    rt = LType::kDouble;
  } else if (a == LType::kTimestamp || b == LType::kTimestamp) {
    bool both = a == LType::kTimestamp && b == LType::kTimestamp;
    if (xop == ExprOp::kSub && both) rt = LType::kBigint;
    else if ((xop == ExprOp::kAdd && !both) || (xop == ExprOp::kSub && a == LType::kTimestamp)) rt = LType::kTimestamp;
    else fail_type(pos, "cannot apply this operator to TIMESTAMP values");
  } else {
    rt = LType::kBigint;
  }
  LType operand = rt == LType::kDouble ? LType::kDouble : LType::kBigint;
  if (a == LType::kNull && b == LType::kNull) operand = rt = LType::kBigint;
  l = cast_to(std::move(l), operand, st);
  r = cast_to(std::move(r), operand, st);
  std::vector<BoundPtr> ch;
  ch.push_back(std::move(l));
  ch.push_back(std::move(r));
  return fold(make_node(xop, rt, std::move(ch)), st);
}

Vec literal(State& st, const Literal& lit) {
  switch (lit.kind) {
    case LiteralKind::kNull: return const_null(LType::kNull, 1);
    case LiteralKind::kBool: return const_bool(lit.int_value != 0, 1);
    case LiteralKind::kInt: return const_int(LType::kBigint, lit.int_value, 1);
    case LiteralKind::kDouble: return const_double(lit.double_value, 1);
    case LiteralKind::kString: return const_string(lit.string_value, 1);
    case LiteralKind::kTimestamp: return const_int(LType::kTimestamp, lit.int_value, 1);
    case LiteralKind::kInterval: return const_int(LType::kBigint, lit.int_value, 1);
  }
  return const_null(LType::kNull, 1);
}

// Runs an uncorrelated subquery now.
Relation run_subquery(State& st, const SelectStmt& q, const SourcePos& pos, std::vector<ColumnInfo>* cols) {
  PlanPtr plan = bind_query(st, q);
  if (plan->columns.size() != 1) fail(pos, "subquery must return one column, it returns " + std::to_string(plan->columns.size()));
  *cols = plan->columns;
  return plan->execute(st.ctx);
}

BoundPtr bind_in_values(State& st, BoundPtr lhs, const std::vector<Vec>& values, bool negated, const SourcePos& pos) {
  BoundPtr e = make_node(ExprOp::kInSet, LType::kBoolean, {});
  e->negated = negated;
  bool sym = is_symbolic(*lhs);
  LType t = lhs->type;
  for (const Vec& v : values) {
    if (!v.is_valid(0)) {
      e->set_has_null = true;
      continue;
    }
    Vec x = v;
    if (sym && (v.type == LType::kVarchar || is_intish(v.type))) {
      auto id = symbol_id(st, v);
      if (!id) continue;  // unknown name: matches nothing
      x = const_int(t, *id, 1);
    } else if (t == LType::kSymbol) {
      lhs = cast_to(std::move(lhs), LType::kVarchar, st);
      t = LType::kVarchar;
      x = cast_vec(v, t, &st.db.symbols());
    } else {
      auto u = unify(t, v.type);
      if (v.type == LType::kVarchar && t != LType::kVarchar) u = t;
      if (!u) fail_type(pos, "IN list value of type " + tname(v.type) + " does not match " + tname(t));
      if (*u != t) {
        lhs = cast_to(std::move(lhs), *u, st);
        t = *u;
      }
      x = cast_vec(v, t, &st.db.symbols());
    }
    std::string k;
    append_key(k, x, 0);
    e->set.insert(k);
  }
  // Keys added before a later type change must be rebuilt in the final type.
  if (t != LType::kNull) {
    std::unordered_set<std::string> rebuilt;
    for (const Vec& v : values) {
      if (!v.is_valid(0)) continue;
      if (sym && (v.type == LType::kVarchar || is_intish(v.type)) && t != LType::kVarchar) {
        auto id = symbol_id(st, v);
        if (!id) continue;
        std::string k;
        append_key(k, const_int(t, *id, 1), 0);
        rebuilt.insert(k);
        continue;
      }
      std::string k;
      append_key(k, cast_vec(v, t, &st.db.symbols()), 0);
      rebuilt.insert(k);
    }
    e->set = std::move(rebuilt);
  }
  e->children.push_back(std::move(lhs));
  return fold(std::move(e), st);
}

AggCall make_agg(State& st, const Expr& e, AggKind kind, Env& env) {
  AggCall call;
  call.text = to_string(e);
  Env inner;
  inner.scope = env.scope;
  inner.clause = "an aggregate's argument";
  size_t nargs = e.children.size();
  bool star = nargs == 1 && e.children[0]->kind == ExprKind::kStar;
  if (kind == AggKind::kCount && (nargs == 0 || star)) {
    call.spec.kind = AggKind::kCountStar;
    call.spec.result_type = LType::kBigint;
    return call;
  }
  size_t want = kind == AggKind::kVwap ? 2 : kind == AggKind::kPercentile ? 2 : 1;
  if (nargs != want)
    fail(e.pos, e.name + "() takes " + std::to_string(want) + " argument" + (want > 1 ? "s" : "") + ", got " +
                    std::to_string(nargs));
  for (size_t i = 0; i < (kind == AggKind::kPercentile ? 1 : nargs); ++i) {
    if (contains_aggregate(*e.children[i])) fail(e.children[i]->pos, "aggregate functions cannot be nested");
    call.args.push_back(bind(st, *e.children[i], inner));
  }
  LType a = call.args[0]->type;
  if (e.distinct && kind != AggKind::kCount && kind != AggKind::kMin && kind != AggKind::kMax)
    fail(e.pos, "DISTINCT is supported in count(DISTINCT x) only");
  if (kind == AggKind::kCount && e.distinct) kind = AggKind::kCountDistinct;
  bool numeric_arg = kind != AggKind::kCount && kind != AggKind::kCountDistinct && kind != AggKind::kMin &&
                     kind != AggKind::kMax && kind != AggKind::kFirst && kind != AggKind::kLast;
  if (numeric_arg) {
    for (auto& arg : call.args) {
      if (arg->type == LType::kBoolean) arg = cast_to(std::move(arg), LType::kBigint, st);
      if (!(is_intish(arg->type) || arg->type == LType::kDouble || arg->type == LType::kNull ||
            arg->type == LType::kTimestamp))
        fail_type(e.pos, e.name + "() needs a number, got " + tname(arg->type));
    }
    a = call.args[0]->type;
  }
  if ((kind == AggKind::kMin || kind == AggKind::kMax) && a == LType::kSymbol) {
    call.args[0] = cast_to(std::move(call.args[0]), LType::kVarchar, st);
    a = LType::kVarchar;
  }
  if (kind == AggKind::kPercentile) {
    Env none;
    BoundPtr p = bind(st, *e.children[1], none);
    if (p->op != ExprOp::kConst || !is_numeric(p->type) || !p->value.is_valid(0))
      fail(e.children[1]->pos, "percentile() needs a constant fraction between 0 and 1");
    double q = p->value.num(0);
    if (q > 1 && q <= 100) q /= 100;  // percentile(x, 95) means the 95th percentile
    if (!(q >= 0 && q <= 1)) fail(e.children[1]->pos, "percentile() needs a fraction between 0 and 1");
    call.spec.param = q;
  }
  call.spec.kind = kind;
  call.spec.arg_type = a;
  call.spec.arg2_type = call.args.size() > 1 ? call.args[1]->type : LType::kNull;
  call.spec.result_type = aggregate_result_type(kind, a, call.spec.arg2_type);
  if ((kind == AggKind::kFirst || kind == AggKind::kLast) && env.scope && env.scope->ts_index >= 0) {
    call.spec.ordered = true;
    call.args.push_back(make_column(static_cast<size_t>(env.scope->ts_index), LType::kBigint));
  }
  return call;
}

BoundPtr bind_aggregate(State& st, const Expr& e, AggKind kind, Env& env) {
  if (!env.aggs) fail(e.pos, "aggregate function " + e.name + "() is not allowed in " + env.clause);
  AggCall call = make_agg(st, e, kind, env);
  // The same aggregate of the same arguments (the parameter compared
  // exactly) is computed once.
  std::string fp;
  for (const auto& a : call.args) fp += a->fingerprint();
  for (size_t j = 0; j < env.aggs->size(); ++j) {
    const AggCall& o = (*env.aggs)[j];
    if (o.spec.kind != call.spec.kind || o.spec.param != call.spec.param) continue;
    std::string other;
    for (const auto& a : o.args) other += a->fingerprint();
    if (other == fp) return ref(env.agg_base + j, o.spec.result_type, kRefAgg);
  }
  LType t = call.spec.result_type;
  env.aggs->push_back(std::move(call));
  return ref(env.agg_base + env.aggs->size() - 1, t, kRefAgg);
}

// The frame of a window; RANGE frames with offsets or starting at CURRENT
// ROW set w.range_frame and its distances instead.
RowsFrame frame_of(const WindowSpec& w, bool* peers, WindowCall& wc, const SourcePos& pos) {
  *peers = false;
  if (!w.frame) {
    if (w.order_by.empty()) return RowsFrame::whole();
    *peers = true;
    return RowsFrame::running();
  }
  const WindowFrame& f = *w.frame;
  auto start = [&](const FrameBound& b) -> int64_t {
    switch (b.kind) {
      case FrameBoundKind::kUnboundedPreceding: return kUnbounded;
      case FrameBoundKind::kPreceding: return b.offset;
      case FrameBoundKind::kCurrentRow: return 0;
      case FrameBoundKind::kFollowing: return -b.offset;
      case FrameBoundKind::kUnboundedFollowing: fail(pos, "a frame cannot start at UNBOUNDED FOLLOWING");
    }
    return 0;
  };
  auto end = [&](const FrameBound& b) -> int64_t {
    switch (b.kind) {
      case FrameBoundKind::kUnboundedFollowing: return kUnbounded;
      case FrameBoundKind::kFollowing: return b.offset;
      case FrameBoundKind::kCurrentRow: return 0;
      case FrameBoundKind::kPreceding: return -b.offset;
      case FrameBoundKind::kUnboundedPreceding: fail(pos, "a frame cannot end at UNBOUNDED PRECEDING");
    }
    return 0;
  };
  if (f.range) {
    bool unbounded_start = f.start.kind == FrameBoundKind::kUnboundedPreceding;
    if (unbounded_start && f.end.kind == FrameBoundKind::kUnboundedFollowing) return RowsFrame::whole();
    if (w.order_by.empty()) {
      // Without ORDER BY every row is a peer of every other: CURRENT ROW is the whole partition.
      if (f.start.kind != FrameBoundKind::kPreceding && f.start.kind != FrameBoundKind::kFollowing &&
          f.end.kind != FrameBoundKind::kPreceding && f.end.kind != FrameBoundKind::kFollowing)
        return RowsFrame::whole();
      fail(pos, "a RANGE frame with offsets needs an ORDER BY with one numeric or TIMESTAMP key");
    }
    if (unbounded_start && f.end.kind == FrameBoundKind::kCurrentRow) {
      *peers = true;
      return RowsFrame::running();
    }
    if (w.order_by.size() != 1)
      fail(pos, "a RANGE frame with offsets needs an ORDER BY with one numeric or TIMESTAMP key, got " +
                    std::to_string(w.order_by.size()) + " keys");
    // Distances along the key: PRECEDING / FOLLOWING as signed offsets from the current row.
    auto dist = [](const FrameBound& b, bool at_start) -> int64_t {
      switch (b.kind) {
        case FrameBoundKind::kUnboundedPreceding:
        case FrameBoundKind::kUnboundedFollowing: return kUnbounded;
        case FrameBoundKind::kCurrentRow: return 0;
        case FrameBoundKind::kPreceding: return at_start ? b.offset : -b.offset;
        case FrameBoundKind::kFollowing: return at_start ? -b.offset : b.offset;
      }
      return 0;
    };
    wc.range_frame = true;
    wc.range_preceding = dist(f.start, true);
    wc.range_following = dist(f.end, false);
    return RowsFrame::whole();
  }
  return {start(f.start), end(f.end)};
}

std::vector<SortKey> bind_order(State& st, const std::vector<OrderItem>& items, Env& env);

BoundPtr bind_window(State& st, const Expr& e, const FnInfo* f, Env& env) {
  if (!env.windows) fail(e.pos, "window function " + e.name + "() is not allowed in " + env.clause);
  WindowCall w;
  w.text = to_string(e);
  Env inner = env;
  inner.windows = nullptr;
  inner.clause = "a window function's argument";
  auto post = [&](BoundPtr b) { return env.to_post ? env.to_post(std::move(b)) : std::move(b); };
  for (const auto& p : e.window->partition_by) w.partition_by.push_back(post(bind(st, *p, inner)));
  w.order_by = bind_order(st, e.window->order_by, inner);
  for (auto& k : w.order_by) k.expr = post(std::move(k.expr));
  w.frame = frame_of(*e.window, &w.peers_share_frame, w, e.pos);
  if (w.range_frame) {
    LType k = w.order_by[0].expr->type;
    if (!(is_intish(k) || k == LType::kDouble || k == LType::kTimestamp))
      fail_type(e.pos, "a RANGE frame with offsets needs a numeric or TIMESTAMP ORDER BY key, got " + tname(k));
  }
  size_t nargs = e.children.size();
  bool star = nargs == 1 && e.children[0]->kind == ExprKind::kStar;
  auto arg = [&](size_t i) { return post(bind(st, *e.children[i], inner)); };
  auto need = [&](size_t lo, size_t hi) {
    if (nargs < lo || nargs > hi)
      fail(e.pos, e.name + "() takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                      " arguments, got " + std::to_string(nargs));
  };
  auto numeric_arg = [&](BoundPtr b) {
    if (b->type == LType::kBoolean || b->type == LType::kNull) b = cast_to(std::move(b), LType::kBigint, st);
    if (!(is_intish(b->type) || b->type == LType::kDouble || b->type == LType::kTimestamp))
      fail_type(e.pos, e.name + "() over a window needs a number, got " + tname(b->type));
    if (b->type == LType::kInteger) b = cast_to(std::move(b), LType::kBigint, st);
    return b;
  };
  auto const_arg = [&](size_t i) {
    Env none;
    BoundPtr b = bind(st, *e.children[i], none);
    if (b->op != ExprOp::kConst || !b->value.is_valid(0) || !is_numeric(b->type))
      fail(e.children[i]->pos, e.name + "(): argument " + std::to_string(i + 1) + " must be a constant number");
    return b->value.num(0);
  };
  if (f->cls == FnClass::kWindow) {
    w.kind = static_cast<WinKind>(f->code);
    bool framed = w.kind == WinKind::kFirstValue || w.kind == WinKind::kLastValue;
    if (!framed) {
      w.peers_share_frame = false;  // ranking, offsets and ema/delta ignore frames
      w.range_frame = false;
    }
    switch (w.kind) {
      case WinKind::kFirstValue:
      case WinKind::kLastValue: {
        need(1, 1);
        BoundPtr x = arg(0);
        if (x->type == LType::kSymbol || x->type == LType::kVarchar || x->type == LType::kBoolean)
          fail_type(e.pos, e.name + "() of " + tname(x->type) + " values is not supported");
        if (x->type == LType::kInteger || x->type == LType::kNull) x = cast_to(std::move(x), LType::kBigint, st);
        w.type = x->type;
        w.args.push_back(std::move(x));
        break;
      }
      case WinKind::kRowNumber:
      case WinKind::kRank:
      case WinKind::kDenseRank:
        need(0, 0);
        w.type = LType::kBigint;
        break;
      case WinKind::kLag:
      case WinKind::kLead: {
        need(1, 3);
        BoundPtr x = arg(0);
        if (x->type == LType::kSymbol || x->type == LType::kVarchar)
          fail_type(e.pos, e.name + "() of text values is not supported");
        if (x->type == LType::kInteger || x->type == LType::kNull) x = cast_to(std::move(x), LType::kBigint, st);
        w.type = x->type;
        w.args.push_back(std::move(x));
        if (nargs > 1) w.offset = static_cast<int64_t>(const_arg(1));
        if (nargs > 2) {
          Env none;
          w.args.push_back(cast_to(bind(st, *e.children[2], none), w.type, st));
          w.has_default = true;
        }
        break;
      }
      case WinKind::kEma: {
        need(2, 2);
        w.args.push_back(numeric_arg(arg(0)));
        w.alpha = ema_alpha(const_arg(1));
        w.type = LType::kDouble;
        break;
      }
      case WinKind::kDelta:
        need(1, 1);
        w.args.push_back(numeric_arg(arg(0)));
        w.type = w.args[0]->type;
        break;
      default: break;
    }
  } else if (f->cls == FnClass::kAggregate) {
    auto kind = static_cast<AggKind>(f->code);
    if (e.distinct) fail(e.pos, "DISTINCT is not supported in window functions");
    switch (kind) {
      case AggKind::kCount:
        if (nargs == 0 || star) {
          w.kind = WinKind::kCountStar;
        } else {
          need(1, 1);
          w.kind = WinKind::kCount;
          w.args.push_back(arg(0));
        }
        w.type = LType::kBigint;
        break;
      case AggKind::kSum:
      case AggKind::kAvg:
      case AggKind::kMin:
      case AggKind::kMax: {
        need(1, 1);
        w.kind = kind == AggKind::kSum ? WinKind::kSum
                 : kind == AggKind::kAvg ? WinKind::kAvg
                 : kind == AggKind::kMin ? WinKind::kMin
                                         : WinKind::kMax;
        w.args.push_back(numeric_arg(arg(0)));
        LType a = w.args[0]->type;
        w.type = kind == AggKind::kAvg ? LType::kDouble
                 : kind == AggKind::kSum ? (a == LType::kDouble ? LType::kDouble : LType::kBigint)
                                         : a;
        break;
      }
      default: fail(e.pos, e.name + "() cannot be used as a window function");
    }
  } else {
    fail(e.pos, e.name + "() is not a window function");
  }
  LType t = w.type;
  env.windows->push_back(std::move(w));
  return ref(env.windows->size() - 1, t, kRefWindow);
}

BoundPtr bind_function(State& st, const Expr& e, Env& env) {
  const FnInfo* f = find_fn(e.name);
  if (e.name == "now" || e.name == "current_timestamp") {
    if (!e.children.empty()) fail(e.pos, "now() takes no arguments");
    return make_const(const_int(LType::kTimestamp, st.now, 1));
  }
  if (e.name == "coalesce" || e.name == "ifnull") {
    if (e.children.empty()) fail(e.pos, "coalesce() needs at least one argument");
    std::vector<BoundPtr> args;
    LType t = LType::kNull;
    for (const auto& c : e.children) {
      args.push_back(bind(st, *c, env));
      auto u = unify(t, args.back()->type);
      if (!u) fail_type(c->pos, "coalesce() arguments have incompatible types " + tname(t) + " and " + tname(args.back()->type));
      t = *u;
    }
    for (auto& a : args) a = cast_to(std::move(a), t, st);
    return fold(make_node(ExprOp::kCoalesce, t, std::move(args)), st);
  }
  if (!f) {
    std::vector<std::string> names;
    for (const auto& [n, _] : registry()) names.push_back(n);
    std::sort(names.begin(), names.end());
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw_error(ErrorCode::kNotFound, "unknown function " + e.name + "()" + at(e.pos) + "; functions: " + list +
                                          ", coalesce, now");
  }
  if (e.window) return bind_window(st, e, f, env);
  if (f->cls == FnClass::kAggregate) return bind_aggregate(st, e, static_cast<AggKind>(f->code), env);
  if (f->cls == FnClass::kWindow) fail(e.pos, e.name + "() needs an OVER (...) clause");
  auto fn = static_cast<ScalarFn>(f->code);
  if (e.distinct) fail(e.pos, "DISTINCT is not allowed in " + e.name + "()");
  std::vector<BoundPtr> args;
  // date_trunc's unit is text, not an expression over rows.
  if (fn == ScalarFn::kDateTrunc) {
    if (e.children.size() != 2) fail(e.pos, "date_trunc() takes 2 arguments: a unit ('minute', 'hour', ...) and a timestamp");
    const Expr& u = *e.children[0];
    if (u.kind != ExprKind::kLiteral || u.value.kind != LiteralKind::kString)
      fail(u.pos, "date_trunc(): the unit must be a string such as 'minute'");
    auto unit = parse_time_unit(u.value.string_value);
    if (!unit) fail(u.pos, "date_trunc(): unknown unit '" + u.value.string_value + "' (use second, minute, hour, day, week, month, quarter or year)");
    BoundPtr ts = bind(st, *e.children[1], env);
    if (ts->type == LType::kVarchar) ts = cast_to(std::move(ts), LType::kTimestamp, st);
    if (!(ts->type == LType::kTimestamp || is_intish(ts->type) || ts->type == LType::kNull))
      fail_type(e.pos, "date_trunc() needs a TIMESTAMP, got " + tname(ts->type));
    if (ts->type == LType::kInteger || ts->type == LType::kNull) ts = cast_to(std::move(ts), LType::kBigint, st);
    BoundPtr n = make_node(ExprOp::kFunction, ts->type, {});
    n->fn = fn;
    n->unit = static_cast<int64_t>(*unit);
    n->children.push_back(std::move(ts));
    return fold(std::move(n), st);
  }
  for (const auto& c : e.children) args.push_back(bind(st, *c, env));
  auto arity = [&](size_t lo, size_t hi) {
    if (args.size() < lo || args.size() > hi)
      fail(e.pos, e.name + "() takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " or " + std::to_string(hi)) +
                      " argument" + (hi > 1 ? "s" : "") + ", got " + std::to_string(args.size()));
  };
  auto numeric = [&](BoundPtr& a, bool allow_ts) {
    if (a->type == LType::kNull || a->type == LType::kBoolean || a->type == LType::kInteger)
      a = cast_to(std::move(a), LType::kBigint, st);
    bool ok = is_intish(a->type) || a->type == LType::kDouble || (allow_ts && a->type == LType::kTimestamp);
    if (!ok) fail_type(e.pos, e.name + "() needs a number, got " + tname(a->type));
  };
  LType rt = LType::kDouble;
  switch (fn) {
    case ScalarFn::kAbs:
    case ScalarFn::kFloor:
    case ScalarFn::kCeil:
    case ScalarFn::kSign:
      arity(1, 1);
      numeric(args[0], false);
      rt = args[0]->type;
      break;
    case ScalarFn::kRound:
      arity(1, 2);
      numeric(args[0], false);
      if (args.size() == 2) args[1] = cast_to(std::move(args[1]), LType::kBigint, st);
      rt = args[0]->type;
      break;
    case ScalarFn::kSqrt:
    case ScalarFn::kLn:
    case ScalarFn::kLog10:
    case ScalarFn::kLog2:
    case ScalarFn::kExp:
      if (fn == ScalarFn::kLog10 && args.size() == 2) {
        // log(b, x) = ln(x) / ln(b)
        for (auto& a : args) {
          numeric(a, false);
          a = cast_to(std::move(a), LType::kDouble, st);
        }
        std::vector<BoundPtr> num, den;
        BoundPtr ln_x = make_node(ExprOp::kFunction, LType::kDouble, {});
        ln_x->fn = ScalarFn::kLn;
        ln_x->children.push_back(std::move(args[1]));
        BoundPtr ln_b = make_node(ExprOp::kFunction, LType::kDouble, {});
        ln_b->fn = ScalarFn::kLn;
        ln_b->children.push_back(std::move(args[0]));
        std::vector<BoundPtr> ch;
        ch.push_back(std::move(ln_x));
        ch.push_back(std::move(ln_b));
        return fold(make_node(ExprOp::kDiv, LType::kDouble, std::move(ch)), st);
      }
      arity(1, 1);
      numeric(args[0], false);
      args[0] = cast_to(std::move(args[0]), LType::kDouble, st);
      break;
    case ScalarFn::kPow:
      arity(2, 2);
      for (auto& a : args) {
        numeric(a, false);
        a = cast_to(std::move(a), LType::kDouble, st);
      }
      break;
    case ScalarFn::kLeast:
    case ScalarFn::kGreatest: {
      if (args.empty()) fail(e.pos, e.name + "() needs at least one argument");
      LType t = LType::kNull;
      for (auto& a : args) {
        auto u = unify(t, a->type);
        if (!u) fail_type(e.pos, e.name + "() arguments have incompatible types");
        t = *u;
      }
      if (t == LType::kSymbol) t = LType::kVarchar;
      for (auto& a : args) a = cast_to(std::move(a), t, st);
      rt = t;
      break;
    }
    case ScalarFn::kXbar: {
      arity(2, 2);
      numeric(args[0], true);
      numeric(args[1], false);
      if (args[0]->type == LType::kDouble || args[1]->type == LType::kDouble) {
        args[0] = cast_to(std::move(args[0]), LType::kDouble, st);
        args[1] = cast_to(std::move(args[1]), LType::kDouble, st);
      } else {
        args[1] = cast_to(std::move(args[1]), LType::kBigint, st);
      }
      rt = args[0]->type;
      break;
    }
    case ScalarFn::kEpochS:
    case ScalarFn::kEpochMs:
    case ScalarFn::kEpochUs:
    case ScalarFn::kEpochNs:
      arity(1, 1);
      if (args[0]->type == LType::kVarchar) args[0] = cast_to(std::move(args[0]), LType::kTimestamp, st);
      numeric(args[0], true);
      if (args[0]->type == LType::kDouble) fail_type(e.pos, e.name + "() needs a TIMESTAMP or ns integer");
      rt = LType::kBigint;
      break;
    case ScalarFn::kLower:
    case ScalarFn::kUpper:
    case ScalarFn::kLength:
      arity(1, 1);
      args[0] = cast_to(std::move(args[0]), LType::kVarchar, st);
      rt = fn == ScalarFn::kLength ? LType::kBigint : LType::kVarchar;
      break;
    case ScalarFn::kConcat: {
      if (args.empty()) fail(e.pos, "concat() needs arguments");
      BoundPtr acc = cast_to(std::move(args[0]), LType::kVarchar, st);
      for (size_t i = 1; i < args.size(); ++i) acc = arithmetic(st, BinaryOp::kConcat, std::move(acc), std::move(args[i]), e.pos);
      return acc;
    }
    case ScalarFn::kNullIf: {
      arity(2, 2);
      auto u = unify(args[0]->type, args[1]->type);
      if (!u) fail_type(e.pos, "nullif() arguments have incompatible types");
      for (auto& a : args) a = cast_to(std::move(a), *u, st);
      rt = *u;
      break;
    }
    default: break;
  }
  BoundPtr n = make_node(ExprOp::kFunction, rt, std::move(args));
  n->fn = fn;
  return fold(std::move(n), st);
}

BoundPtr bind(State& st, const Expr& e, Env& env) {
  switch (e.kind) {
    case ExprKind::kLiteral: return make_const(literal(st, e.value));
    case ExprKind::kColumnRef: {
      if (!env.scope || env.scope->cols.empty()) {
        Scope empty;
        resolve(env.scope ? *env.scope : empty, e);
      }
      size_t i = resolve(*env.scope, e);
      const ScopeCol& c = env.scope->cols[i];
      BoundPtr b = make_column(i, c.type);
      b->symbolic = c.symbolic;
      return b;
    }
    case ExprKind::kStar: fail(e.pos, "* is only allowed in the select list and in count(*)");
    case ExprKind::kParameter:
      fail(e.pos, "query parameter {" + e.name + "} has no value (parameters are given with the HTTP request)");
    case ExprKind::kUnary: {
      BoundPtr a = bind(st, *e.children[0], env);
      if (e.unary_op == UnaryOp::kNot) {
        if (a->type == LType::kNull) a = cast_to(std::move(a), LType::kBoolean, st);
        if (a->type != LType::kBoolean) fail_type(e.pos, "NOT needs a boolean, got " + tname(a->type));
        std::vector<BoundPtr> ch;
        ch.push_back(std::move(a));
        return fold(make_node(ExprOp::kNot, LType::kBoolean, std::move(ch)), st);
      }
      if (a->type == LType::kNull || a->type == LType::kInteger) a = cast_to(std::move(a), LType::kBigint, st);
      if (!(a->type == LType::kBigint || a->type == LType::kDouble))
        fail_type(e.pos, "unary minus needs a number, got " + tname(a->type));
      LType t = a->type;
      std::vector<BoundPtr> ch;
      ch.push_back(std::move(a));
      return fold(make_node(ExprOp::kNeg, t, std::move(ch)), st);
    }
    case ExprKind::kBinary: {
      if (e.binary_op == BinaryOp::kAnd || e.binary_op == BinaryOp::kOr) {
        std::vector<BoundPtr> ch;
        ch.push_back(bind_bool(st, *e.children[0], env, e.binary_op == BinaryOp::kAnd ? "AND operand" : "OR operand"));
        ch.push_back(bind_bool(st, *e.children[1], env, e.binary_op == BinaryOp::kAnd ? "AND operand" : "OR operand"));
        return fold(make_node(e.binary_op == BinaryOp::kAnd ? ExprOp::kAnd : ExprOp::kOr, LType::kBoolean, std::move(ch)), st);
      }
      BoundPtr l = bind(st, *e.children[0], env);
      BoundPtr r = bind(st, *e.children[1], env);
      switch (e.binary_op) {
        case BinaryOp::kEq:
        case BinaryOp::kNe:
        case BinaryOp::kLt:
        case BinaryOp::kLe:
        case BinaryOp::kGt:
        case BinaryOp::kGe: return compare(st, compare_op(e.binary_op), std::move(l), std::move(r), e.pos);
        default: return arithmetic(st, e.binary_op, std::move(l), std::move(r), e.pos);
      }
    }
    case ExprKind::kBetween: {
      BoundPtr v = bind(st, *e.children[0], env);
      BoundPtr lo = bind(st, *e.children[1], env);
      BoundPtr hi = bind(st, *e.children[2], env);
      BoundPtr v2 = v->clone();
      std::vector<BoundPtr> ch;
      ch.push_back(compare(st, ExprOp::kGe, std::move(v), std::move(lo), e.pos));
      ch.push_back(compare(st, ExprOp::kLe, std::move(v2), std::move(hi), e.pos));
      BoundPtr both = fold(make_node(ExprOp::kAnd, LType::kBoolean, std::move(ch)), st);
      if (!e.negated) return both;
      std::vector<BoundPtr> n;
      n.push_back(std::move(both));
      return fold(make_node(ExprOp::kNot, LType::kBoolean, std::move(n)), st);
    }
    case ExprKind::kInList: {
      BoundPtr lhs = bind(st, *e.children[0], env);
      std::vector<BoundPtr> items;
      bool all_const = true;
      for (size_t i = 1; i < e.children.size(); ++i) {
        items.push_back(bind(st, *e.children[i], env));
        all_const &= items.back()->op == ExprOp::kConst;
      }
      if (all_const) {
        std::vector<Vec> values;
        for (auto& it : items) values.push_back(it->value);
        return bind_in_values(st, std::move(lhs), values, e.negated, e.pos);
      }
      // x IN (a, b) with expressions: x = a OR x = b.
      BoundPtr acc;
      for (auto& it : items) {
        BoundPtr eq = compare(st, ExprOp::kEq, lhs->clone(), std::move(it), e.pos);
        if (!acc) {
          acc = std::move(eq);
          continue;
        }
        std::vector<BoundPtr> ch;
        ch.push_back(std::move(acc));
        ch.push_back(std::move(eq));
        acc = make_node(ExprOp::kOr, LType::kBoolean, std::move(ch));
      }
      if (e.negated) {
        std::vector<BoundPtr> ch;
        ch.push_back(std::move(acc));
        acc = make_node(ExprOp::kNot, LType::kBoolean, std::move(ch));
      }
      return fold(std::move(acc), st);
    }
    case ExprKind::kInSubquery: {
      BoundPtr lhs = bind(st, *e.children[0], env);
      std::vector<ColumnInfo> cols;
      Relation r = run_subquery(st, *e.subquery, e.pos, &cols);
      std::vector<Vec> values;
      Vec col = r.n ? flatten(r.cols[0]) : Vec{};
      if (col.type == LType::kSymbol) col = cast_vec(col, LType::kVarchar, &st.db.symbols());
      for (size_t i = 0; i < r.n; ++i) values.push_back(slice(col, i, 1));
      return bind_in_values(st, std::move(lhs), values, e.negated, e.pos);
    }
    case ExprKind::kSubquery: {
      std::vector<ColumnInfo> cols;
      Relation r = run_subquery(st, *e.subquery, e.pos, &cols);
      if (r.n > 1) fail(e.pos, "scalar subquery returned " + std::to_string(r.n) + " rows; it must return at most one");
      Vec v = r.n == 0 ? const_null(cols[0].type == LType::kNull ? LType::kBigint : cols[0].type, 1)
                       : slice(flatten(r.cols[0]), 0, 1);
      if (v.type == LType::kNull) v = const_null(LType::kNull, 1);
      BoundPtr c = make_const(flatten(v));
      c->value.n = 1;
      return c;
    }
    case ExprKind::kIsNull: {
      BoundPtr a = bind(st, *e.children[0], env);
      BoundPtr n = make_node(ExprOp::kIsNull, LType::kBoolean, {});
      n->negated = e.negated;
      n->children.push_back(std::move(a));
      return fold(std::move(n), st);
    }
    case ExprKind::kLike: {
      BoundPtr a = cast_to(bind(st, *e.children[0], env), LType::kVarchar, st);
      BoundPtr p = cast_to(bind(st, *e.children[1], env), LType::kVarchar, st);
      BoundPtr n = make_node(ExprOp::kLike, LType::kBoolean, {});
      n->negated = e.negated;
      n->children.push_back(std::move(a));
      n->children.push_back(std::move(p));
      return fold(std::move(n), st);
    }
    case ExprKind::kCase: {
      size_t k = 0;
      BoundPtr operand;
      if (e.case_has_operand) operand = bind(st, *e.children[k++], env);
      size_t stop = e.children.size() - (e.case_has_else ? 1 : 0);
      std::vector<BoundPtr> whens, thens;
      for (; k + 1 < stop + 1 && k < stop; k += 2) {
        BoundPtr w = operand ? compare(st, ExprOp::kEq, operand->clone(), bind(st, *e.children[k], env), e.children[k]->pos)
                             : bind_bool(st, *e.children[k], env, "WHEN condition");
        whens.push_back(std::move(w));
        thens.push_back(bind(st, *e.children[k + 1], env));
      }
      BoundPtr els = e.case_has_else ? bind(st, *e.children.back(), env) : nullptr;
      LType t = els ? els->type : LType::kNull;
      for (auto& th : thens) {
        auto u = unify(t, th->type);
        if (!u) fail_type(e.pos, "CASE branches have incompatible types " + tname(t) + " and " + tname(th->type));
        t = *u;
      }
      if (t == LType::kNull) t = LType::kBigint;
      BoundPtr n = make_node(ExprOp::kCase, t, {});
      for (size_t i = 0; i < whens.size(); ++i) {
        n->children.push_back(std::move(whens[i]));
        n->children.push_back(cast_to(std::move(thens[i]), t, st));
      }
      if (els) {
        n->children.push_back(cast_to(std::move(els), t, st));
        n->has_else = true;
      }
      return fold(std::move(n), st);
    }
    case ExprKind::kCast: {
      BoundPtr a = bind(st, *e.children[0], env);
      LType t = target_type(e.type);
      if (a->type == LType::kNull) return make_const(const_null(t, 1));
      return cast_to(std::move(a), t, st);
    }
    case ExprKind::kFunction: return bind_function(st, e, env);
  }
  fail(e.pos, "unsupported expression");
}

// ----------------------------------------------------------- ORDER BY

std::vector<SortKey> bind_order(State& st, const std::vector<OrderItem>& items, Env& env) {
  std::vector<SortKey> keys;
  for (const auto& it : items) {
    SortKey k;
    k.expr = bind(st, *it.expr, env);
    if (k.expr->type == LType::kSymbol) k.expr = cast_to(std::move(k.expr), LType::kVarchar, st);
    k.descending = it.descending;
    k.nulls_first = it.nulls == NullsOrder::kFirst;
    keys.push_back(std::move(k));
  }
  return keys;
}

// --------------------------------------------------------- pruning

void split_and(BoundPtr e, std::vector<BoundPtr>& out) {
  if (e->op == ExprOp::kAnd) {
    split_and(std::move(e->children[0]), out);
    split_and(std::move(e->children[1]), out);
  } else {
    out.push_back(std::move(e));
  }
}

BoundPtr join_and(std::vector<BoundPtr> parts) {
  BoundPtr acc;
  for (auto& p : parts) {
    if (!acc) {
      acc = std::move(p);
      continue;
    }
    std::vector<BoundPtr> ch;
    ch.push_back(std::move(acc));
    ch.push_back(std::move(p));
    acc = make_node(ExprOp::kAnd, LType::kBoolean, std::move(ch));
  }
  return acc;
}

bool is_col(const BoundExpr& e, size_t c) { return e.op == ExprOp::kColumn && e.column == c && e.ref == 0; }

// The exact set of partition keys for which `e` can hold, if `e` is made of
// key comparisons only.
std::optional<std::set<int64_t>> key_set(const BoundExpr& e, size_t key) {
  switch (e.op) {
    case ExprOp::kEq:
      for (int s = 0; s < 2; ++s) {
        const BoundExpr& c = *e.children[s];
        const BoundExpr& v = *e.children[1 - s];
        if (is_col(c, key) && v.op == ExprOp::kConst && phys_of(v.type) == Phys::kI64) {
          if (!v.value.is_valid(0)) return std::set<int64_t>{};
          return std::set<int64_t>{v.value.i64(0)};
        }
      }
      return std::nullopt;
    case ExprOp::kInSet: {
      if (e.negated || !is_col(*e.children[0], key) || phys_of(e.children[0]->type) != Phys::kI64) return std::nullopt;
      std::set<int64_t> out;
      for (const auto& k : e.set) {
        if (k.size() != 9 || k[0] != '\1') return std::nullopt;
        int64_t x;
        std::memcpy(&x, k.data() + 1, 8);
        out.insert(x);
      }
      return out;
    }
    case ExprOp::kNeverUnlessNull:
      if (is_col(*e.children[0], key)) return std::set<int64_t>{};
      return std::nullopt;
    case ExprOp::kAnd:
    case ExprOp::kOr: {
      auto a = key_set(*e.children[0], key);
      auto b = key_set(*e.children[1], key);
      if (!a || !b) return std::nullopt;
      std::set<int64_t> out;
      if (e.op == ExprOp::kAnd) {
        std::set_intersection(a->begin(), a->end(), b->begin(), b->end(), std::inserter(out, out.begin()));
      } else {
        out = *a;
        out.insert(b->begin(), b->end());
      }
      return out;
    }
    default: return std::nullopt;
  }
}

struct TimeRange {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  bool exact = true;
};

// The timestamp range outside which `e` is false, if `e` is made of time
// comparisons (exact when the predicate is the range itself).
std::optional<TimeRange> time_range(const BoundExpr& e, size_t ts) {
  switch (e.op) {
    case ExprOp::kEq:
    case ExprOp::kLt:
    case ExprOp::kLe:
    case ExprOp::kGt:
    case ExprOp::kGe:
      for (int s = 0; s < 2; ++s) {
        const BoundExpr& c = *e.children[s];
        const BoundExpr& v = *e.children[1 - s];
        if (!(is_col(c, ts) && v.op == ExprOp::kConst && phys_of(v.type) == Phys::kI64)) continue;
        if (!v.value.is_valid(0)) return TimeRange{1, 0, true};
        int64_t x = v.value.i64(0);
        ExprOp op = s == 0 ? e.op : mirror(e.op);
        TimeRange r;
        switch (op) {
          case ExprOp::kEq: r.lo = r.hi = x; break;
          case ExprOp::kLt:
            if (x == INT64_MIN) return TimeRange{1, 0, true};
            r.hi = x - 1;
            break;
          case ExprOp::kLe: r.hi = x; break;
          case ExprOp::kGt:
            if (x == INT64_MAX) return TimeRange{1, 0, true};
            r.lo = x + 1;
            break;
          default: r.lo = x; break;
        }
        return r;
      }
      return std::nullopt;
    case ExprOp::kAnd:
    case ExprOp::kOr: {
      auto a = time_range(*e.children[0], ts);
      auto b = time_range(*e.children[1], ts);
      if (e.op == ExprOp::kAnd) {
        if (!a && !b) return std::nullopt;
        if (!a || !b) {
          TimeRange r = a ? *a : *b;
          r.exact = false;
          return r;
        }
        return TimeRange{std::max(a->lo, b->lo), std::min(a->hi, b->hi), a->exact && b->exact};
      }
      if (!a || !b) return std::nullopt;
      return TimeRange{std::min(a->lo, b->lo), std::max(a->hi, b->hi), false};
    }
    default: return std::nullopt;
  }
}

// Adds predicate `pred` (over the table's columns) to a scan: key and time
// conjuncts prune, the rest filters.
void attach_filter(State& st, ScanNode& scan, BoundPtr pred, const std::string& text) {
  if (scan.filter) {
    std::vector<BoundPtr> two;
    two.push_back(std::move(scan.filter));
    two.push_back(std::move(pred));
    pred = join_and(std::move(two));
  }
  scan.filter.reset();
  std::vector<BoundPtr> conj;
  split_and(std::move(pred), conj);
  std::vector<BoundPtr> residual, timed;
  int key = scan.key_column(), ts = scan.ts_column();
  for (auto& c : conj) {
    if (key >= 0) {
      if (auto ks = key_set(*c, static_cast<size_t>(key))) {
        std::vector<int64_t> keep;
        for (int64_t k : *ks)
          if (!scan.keys || std::find(scan.keys->begin(), scan.keys->end(), k) != scan.keys->end()) keep.push_back(k);
        scan.keys = std::move(keep);
        continue;
      }
    }
    if (ts >= 0) {
      if (auto tr = time_range(*c, static_cast<size_t>(ts))) {
        scan.ts_lo = std::max(scan.ts_lo, tr->lo);
        scan.ts_hi = std::min(scan.ts_hi, tr->hi);
        if (tr->exact) {
          timed.push_back(std::move(c));
          continue;
        }
      }
    }
    residual.push_back(std::move(c));
  }
  if (!timed.empty()) {
    std::vector<BoundPtr> all;
    if (scan.time_filter) all.push_back(std::move(scan.time_filter));
    for (auto& t : timed) all.push_back(std::move(t));
    scan.time_filter = join_and(std::move(all));
  }
  scan.filter = residual.empty() ? nullptr : join_and(std::move(residual));
  if (scan.filter) scan.filter_text = scan.filter_text.empty() ? text : scan.filter_text + " AND " + text;
  (void)st;
}

// ------------------------------------------------------------------ FROM

struct From {
  PlanPtr plan;  // null: no FROM
  Scope scope;
  std::unique_ptr<WindowJoinSpec> wj;
  size_t left_width = 0;  // window join: columns of the left side
};

Scope scope_of(const std::vector<ColumnInfo>& cols, const std::string& qualifier) {
  Scope s;
  for (const auto& c : cols) s.cols.push_back({qualifier, c.name, c.type, c.symbolic, false});
  return s;
}

From bind_from(State& st, const TableRef& t);

void collect_cols(const BoundExpr& e, size_t& lo, size_t& hi) {
  if (e.op == ExprOp::kColumn) {
    lo = std::min(lo, e.column);
    hi = std::max(hi, e.column);
  }
  for (const auto& c : e.children) collect_cols(*c, lo, hi);
}

enum class Side { kNone, kLeft, kRight, kBoth };

Side side_of(const BoundExpr& e, size_t lw) {
  size_t lo = SIZE_MAX, hi = 0;
  collect_cols(e, lo, hi);
  if (lo == SIZE_MAX) return Side::kNone;
  if (hi < lw) return Side::kLeft;
  if (lo >= lw) return Side::kRight;
  return Side::kBoth;
}

void shift(BoundExpr& e, size_t by) {
  if (e.op == ExprOp::kColumn) e.column -= by;
  for (auto& c : e.children) shift(*c, by);
}

// Decomposes `col + c` / `col - c` / `col` into (column expr, offset).
bool offset_of(BoundPtr& e, BoundPtr* col, int64_t* off) {
  if (e->op == ExprOp::kColumn) {
    *col = std::move(e);
    *off = 0;
    return true;
  }
  if ((e->op == ExprOp::kAdd || e->op == ExprOp::kSub) && e->children[1]->op == ExprOp::kConst &&
      e->children[0]->op == ExprOp::kColumn && e->children[1]->value.is_valid(0)) {
    int64_t c = e->children[1]->value.i64(0);
    *off = e->op == ExprOp::kAdd ? c : -c;
    *col = std::move(e->children[0]);
    return true;
  }
  return false;
}

From bind_join(State& st, const TableRef& t) {
  From l = bind_from(st, *t.left);
  From r = bind_from(st, *t.right);
  if (l.wj || r.wj) fail(t.pos, "a window join cannot be combined with other joins");
  size_t lw = l.scope.cols.size();
  Scope scope = l.scope;
  for (const auto& c : r.scope.cols) scope.cols.push_back(c);
  if (t.join_type == JoinType::kWindow) {
    if (!t.on) fail(t.pos, "WINDOW JOIN needs ON a.symbol = b.symbol AND b.timestamp BETWEEN a.timestamp - x AND a.timestamp + y");
    auto spec = std::make_unique<WindowJoinSpec>();
    std::vector<const Expr*> conj;
    std::function<void(const Expr&)> split = [&](const Expr& e) {
      if (e.kind == ExprKind::kBinary && e.binary_op == BinaryOp::kAnd) {
        split(*e.children[0]);
        split(*e.children[1]);
      } else {
        conj.push_back(&e);
      }
    };
    split(*t.on);
    Env env;
    env.scope = &scope;
    env.clause = "ON";
    bool have_window = false;
    for (const Expr* c : conj) {
      if (c->kind == ExprKind::kBetween && !c->negated) {
        BoundPtr v = bind(st, *c->children[0], env);
        BoundPtr lo = bind(st, *c->children[1], env);
        BoundPtr hi = bind(st, *c->children[2], env);
        BoundPtr lcol, hcol;
        int64_t loff = 0, hoff = 0;
        if (side_of(*v, lw) != Side::kRight || !offset_of(lo, &lcol, &loff) || !offset_of(hi, &hcol, &hoff) ||
            side_of(*lcol, lw) != Side::kLeft || lcol->fingerprint() != hcol->fingerprint())
          fail(c->pos, "the window of a WINDOW JOIN is written b.timestamp BETWEEN a.timestamp - x AND a.timestamp + y");
        shift(*v, lw);
        spec->right_ts = std::move(v);
        spec->left_ts = std::move(lcol);
        spec->lo = -loff;
        spec->hi = hoff;
        have_window = true;
        continue;
      }
      BoundPtr b = bind_bool(st, *c, env, "ON condition");
      if (b->op == ExprOp::kEq) {
        Side s0 = side_of(*b->children[0], lw), s1 = side_of(*b->children[1], lw);
        if (s0 == Side::kRight && s1 == Side::kLeft) std::swap(b->children[0], b->children[1]), std::swap(s0, s1);
        if (s0 == Side::kLeft && s1 == Side::kRight) {
          shift(*b->children[1], lw);
          spec->left_keys.push_back(std::move(b->children[0]));
          spec->right_keys.push_back(std::move(b->children[1]));
          continue;
        }
      }
      fail(c->pos, "WINDOW JOIN conditions are equalities between the two sides and one BETWEEN window");
    }
    if (!have_window) fail(t.pos, "WINDOW JOIN needs a window: b.timestamp BETWEEN a.timestamp - x AND a.timestamp + y");
    for (auto* k : {&spec->left_ts, &spec->right_ts})
      if (!is_int_like((*k)->type)) fail_type(t.pos, "the WINDOW JOIN window must be on timestamps or integers");
    spec->left = std::move(l.plan);
    spec->right = std::move(r.plan);
    From out;
    out.scope = std::move(scope);
    out.wj = std::move(spec);
    out.left_width = lw;
    return out;
  }
  auto node = std::make_unique<JoinNode>();
  static const JoinKind2 kinds[] = {JoinKind2::kInner, JoinKind2::kLeft, JoinKind2::kRight, JoinKind2::kFull,
                                    JoinKind2::kCross, JoinKind2::kAsof, JoinKind2::kAsofLeft};
  node->kind = kinds[static_cast<int>(t.join_type)];
  bool asof = node->kind == JoinKind2::kAsof || node->kind == JoinKind2::kAsofLeft;
  Env env;
  env.scope = &scope;
  env.clause = "ON";
  std::vector<BoundPtr> residual;
  if (!t.using_columns.empty()) {
    for (size_t i = 0; i < t.using_columns.size(); ++i) {
      Expr ref_expr;
      ref_expr.kind = ExprKind::kColumnRef;
      ref_expr.name = t.using_columns[i];
      ref_expr.pos = t.pos;
      size_t li = resolve(l.scope, ref_expr);
      size_t ri = resolve(r.scope, ref_expr);
      scope.cols[lw + ri].hidden = true;
      BoundPtr a = make_column(li, l.scope.cols[li].type);
      BoundPtr b = make_column(ri, r.scope.cols[ri].type);
      if (asof && i + 1 == t.using_columns.size()) {
        node->left_ts = std::move(a);
        node->right_ts = std::move(b);
      } else {
        auto u = unify(a->type, b->type);
        if (!u) fail_type(t.pos, "USING column '" + t.using_columns[i] + "' has different types on the two sides");
        node->left_keys.push_back(cast_to(std::move(a), *u, st));
        node->right_keys.push_back(cast_to(std::move(b), *u, st));
      }
    }
  } else if (t.on) {
    BoundPtr on = bind_bool(st, *t.on, env, "ON condition");
    std::vector<BoundPtr> conj;
    split_and(std::move(on), conj);
    for (auto& c : conj) {
      if (c->op == ExprOp::kEq || (asof && (c->op == ExprOp::kGe || c->op == ExprOp::kGt || c->op == ExprOp::kLe ||
                                            c->op == ExprOp::kLt))) {
        Side s0 = side_of(*c->children[0], lw), s1 = side_of(*c->children[1], lw);
        ExprOp op = c->op;
        if (s0 == Side::kRight && s1 == Side::kLeft) {
          std::swap(c->children[0], c->children[1]);
          std::swap(s0, s1);
          op = mirror(op);
        }
        if (s0 == Side::kLeft && s1 == Side::kRight) {
          shift(*c->children[1], lw);
          if (op == ExprOp::kEq) {
            node->left_keys.push_back(std::move(c->children[0]));
            node->right_keys.push_back(std::move(c->children[1]));
            continue;
          }
          if (op == ExprOp::kGe || op == ExprOp::kGt) {
            if (node->left_ts) fail(t.pos, "ASOF JOIN takes one inequality (left.timestamp >= right.timestamp)");
            node->left_ts = std::move(c->children[0]);
            node->right_ts = std::move(c->children[1]);
            node->strict = op == ExprOp::kGt;
            continue;
          }
          fail(t.pos, "ASOF JOIN matches the latest earlier right row: write left.timestamp >= right.timestamp");
        }
      }
      if (asof) fail(t.pos, "ASOF JOIN conditions are equalities and one inequality between the two sides");
      residual.push_back(std::move(c));
    }
  } else if (node->kind != JoinKind2::kCross) {
    fail(t.pos, "JOIN needs ON or USING (or use CROSS JOIN)");
  }
  if (asof && !node->left_ts) fail(t.pos, "ASOF JOIN needs an inequality on the ordered column (left.timestamp >= right.timestamp)");
  if (asof) {
    for (auto* k : {&node->left_ts, &node->right_ts})
      if (!is_int_like((*k)->type)) fail_type(t.pos, "ASOF JOIN orders by a timestamp or integer column");
  }
  if (!residual.empty()) node->residual = join_and(std::move(residual));
  if (t.on) node->text = to_string(*t.on);
  node->left = std::move(l.plan);
  node->right = std::move(r.plan);
  for (const auto& c : scope.cols) node->columns.push_back({c.name, c.type, c.symbolic});
  // Outer joins make the other side's columns nullable; types stay.
  From out;
  out.plan = std::move(node);
  out.scope = std::move(scope);
  out.scope.ts_index = -1;
  return out;
}

From bind_from(State& st, const TableRef& t) {
  From f;
  switch (t.kind) {
    case TableRefKind::kTable: {
      std::string qual = t.alias.empty() ? t.table.name : t.alias;
      if (t.table.schema.empty()) {
        for (size_t i = st.ctes.size(); i-- > 0;) {
          const CommonTableExpr* cte = st.ctes[i];
          if (!ieq(cte->name, t.table.name)) continue;
          // Bind the CTE with only the CTEs defined before it visible.
          std::vector<const CommonTableExpr*> saved = st.ctes;
          st.ctes.resize(i);
          PlanPtr plan = bind_query(st, *cte->query);
          st.ctes = saved;
          if (!cte->columns.empty()) {
            if (cte->columns.size() != plan->columns.size())
              fail(cte->pos, "WITH " + cte->name + " names " + std::to_string(cte->columns.size()) +
                                 " columns but its query returns " + std::to_string(plan->columns.size()));
            for (size_t c = 0; c < cte->columns.size(); ++c) plan->columns[c].name = cte->columns[c];
          }
          f.scope = scope_of(plan->columns, qual);
          f.plan = std::move(plan);
          return f;
        }
      }
      auto table = st.db.catalog().find(t.table.name);
      if (!table) {
        std::string valid;
        for (const auto& n : st.db.catalog().names()) valid += (valid.empty() ? "" : ", ") + n;
        for (const auto* c : st.ctes) valid += (valid.empty() ? "" : ", ") + c->name;
        throw_error(ErrorCode::kNotFound, "unknown table '" + t.table.name + "'" + at(t.pos) + "; tables: " + valid);
      }
      auto scan = std::make_unique<ScanNode>();
      scan->table = table;
      scan->alias = qual;
      const Schema& schema = table->schema();
      for (size_t c = 0; c < schema.size(); ++c) {
        const ColumnDef& d = schema.column(c);
        bool sym = static_cast<int>(c) == schema.symbol_index() || d.type == ColumnType::SYMBOL;
        scan->columns.push_back({d.name, ltype_of(d.type), sym});
      }
      f.scope = scope_of(scan->columns, qual);
      f.scope.ts_index = schema.timestamp_index();
      f.plan = std::move(scan);
      return f;
    }
    case TableRefKind::kSubquery: {
      f.plan = bind_query(st, *t.subquery);
      f.scope = scope_of(f.plan->columns, t.alias);
      return f;
    }
    case TableRefKind::kJoin: return bind_join(st, t);
  }
  return f;
}

// ----------------------------------------------------------- SELECT

std::string default_name(const Expr& e) {
  if (e.kind == ExprKind::kColumnRef) return e.name;
  return to_string(e);
}

// Pushes WHERE conjuncts to the scans below a join when that keeps the result.
std::vector<BoundPtr> push_into_join(State& st, JoinNode& j, std::vector<BoundPtr> conj) {
  auto* ls = dynamic_cast<ScanNode*>(j.left.get());
  auto* rs = dynamic_cast<ScanNode*>(j.right.get());
  size_t lw = j.left->columns.size();
  bool left_ok = j.kind == JoinKind2::kInner || j.kind == JoinKind2::kLeft || j.kind == JoinKind2::kCross ||
                 j.kind == JoinKind2::kAsof || j.kind == JoinKind2::kAsofLeft;
  bool right_ok = j.kind == JoinKind2::kInner || j.kind == JoinKind2::kCross;
  std::vector<BoundPtr> rest;
  for (auto& c : conj) {
    Side s = side_of(*c, lw);
    if (s == Side::kLeft && left_ok && ls) {
      attach_filter(st, *ls, std::move(c), "(pushed down)");
    } else if (s == Side::kRight && right_ok && rs) {
      shift(*c, lw);
      attach_filter(st, *rs, std::move(c), "(pushed down)");
    } else {
      rest.push_back(std::move(c));
    }
  }
  return rest;
}

PlanPtr bind_select_block(State& st, const SelectStmt& s) {
  From f;
  if (s.from) f = bind_from(st, *s.from);
  auto node = std::make_unique<SelectNode>();
  Scope& scope = f.scope;
  bool wj = f.wj != nullptr;
  size_t lw = f.left_width;

  // WHERE
  if (s.where) {
    Env env;
    env.scope = &scope;
    env.clause = "WHERE";
    if (contains_aggregate(*s.where)) fail(s.where->pos, "aggregate functions are not allowed in WHERE; use HAVING");
    BoundPtr w = bind_bool(st, *s.where, env, "WHERE");
    std::string text = to_string(*s.where);
    if (wj) {
      if (side_of(*w, lw) == Side::kRight || side_of(*w, lw) == Side::kBoth)
        fail(s.where->pos, "WHERE of a WINDOW JOIN may only use the left side's columns");
      auto* ls = dynamic_cast<ScanNode*>(f.wj->left.get());
      if (ls) {
        attach_filter(st, *ls, std::move(w), text);
      } else {
        auto wrap = std::make_unique<SelectNode>();
        wrap->columns = f.wj->left->columns;
        for (size_t i = 0; i < wrap->columns.size(); ++i) wrap->outputs.push_back(make_column(i, wrap->columns[i].type));
        wrap->where = std::move(w);
        wrap->where_text = text;
        wrap->source = std::move(f.wj->left);
        f.wj->left = std::move(wrap);
      }
    } else if (auto* scan = dynamic_cast<ScanNode*>(f.plan.get())) {
      attach_filter(st, *scan, std::move(w), text);
    } else if (auto* join = dynamic_cast<JoinNode*>(f.plan.get())) {
      std::vector<BoundPtr> conj;
      split_and(std::move(w), conj);
      std::vector<BoundPtr> rest = push_into_join(st, *join, std::move(conj));
      if (!rest.empty()) {
        node->where = join_and(std::move(rest));
        node->where_text = text;
      }
    } else {
      node->where = std::move(w);
      node->where_text = text;
    }
  }

  // Is this an aggregation?
  bool agg = !s.group_by.empty() || s.having != nullptr || wj;
  for (const auto& it : s.select_list) agg |= it.expr->kind != ExprKind::kStar && contains_aggregate(*it.expr);
  for (const auto& o : s.order_by) agg |= contains_aggregate(*o.expr);
  node->aggregate = agg && !wj;
  if (wj && !s.group_by.empty()) fail(s.pos, "GROUP BY is not supported with WINDOW JOIN (it aggregates per left row)");

  // GROUP BY
  std::vector<std::string> group_fps;
  for (const auto& g : s.group_by) {
    const Expr* e = g.get();
    if (e->kind == ExprKind::kLiteral && e->value.kind == LiteralKind::kInt) {
      int64_t k = e->value.int_value;
      if (k < 1 || k > static_cast<int64_t>(s.select_list.size()))
        fail(e->pos, "GROUP BY position " + std::to_string(k) + " is not in the select list (1.." +
                         std::to_string(s.select_list.size()) + ")");
      e = s.select_list[static_cast<size_t>(k - 1)].expr.get();
    } else if (e->kind == ExprKind::kColumnRef && e->qualifier.empty()) {
      bool in_scope = false;
      for (const auto& c : scope.cols) in_scope |= ieq(c.name, e->name) && !c.hidden;
      if (!in_scope)
        for (const auto& it : s.select_list)
          if (!it.alias.empty() && ieq(it.alias, e->name)) e = it.expr.get();
    }
    if (e->kind == ExprKind::kStar) fail(g->pos, "GROUP BY * is not supported");
    if (contains_aggregate(*e)) fail(g->pos, "GROUP BY cannot contain aggregate functions");
    Env env;
    env.scope = &scope;
    env.clause = "GROUP BY";
    BoundPtr k = bind(st, *e, env);
    group_fps.push_back(k->fingerprint());
    node->group_texts.push_back(to_string(*e));
    node->group_keys.push_back(std::move(k));
  }
  size_t nkeys = node->group_keys.size();

  // Conversion of expressions over the source to expressions over P.
  std::function<BoundPtr(BoundPtr)> to_post;
  if (node->aggregate) {
    to_post = [&](BoundPtr e) -> BoundPtr {
      std::function<BoundPtr(BoundPtr)> go = [&](BoundPtr x) -> BoundPtr {
        if (x->ref != 0) return x;
        std::string fp = x->fingerprint();
        for (size_t k = 0; k < nkeys; ++k)
          if (group_fps[k] == fp) return ref(k, node->group_keys[k]->type, kRefAgg);
        if (x->op == ExprOp::kColumn) {
          throw_error(ErrorCode::kInvalidArgument,
                      "column '" + scope.cols[x->column].name +
                          "' must appear in the GROUP BY clause or be used in an aggregate function");
        }
        for (auto& c : x->children) c = go(std::move(c));
        return x;
      };
      return go(std::move(e));
    };
  } else if (wj) {
    to_post = [&](BoundPtr e) -> BoundPtr {
      std::function<void(BoundExpr&)> check = [&](BoundExpr& x) {
        if (x.ref == 0 && x.op == ExprOp::kColumn && x.column >= lw)
          throw_error(ErrorCode::kInvalidArgument, "column '" + scope.cols[x.column].name +
                                                       "' of the right side of a WINDOW JOIN must be aggregated");
        for (auto& c : x.children) check(*c);
      };
      check(*e);
      return e;
    };
  }

  Env env;
  env.scope = &scope;
  env.clause = "the select list";
  env.windows = &node->windows;
  env.to_post = to_post;
  if (node->aggregate || wj) {
    env.aggs = &node->aggs;
    env.agg_base = wj ? lw : nkeys;
  }
  auto post = [&](BoundPtr b) { return to_post ? to_post(std::move(b)) : std::move(b); };

  // Select list
  std::vector<std::string> fps;
  std::vector<std::string> aliases;
  for (const auto& it : s.select_list) {
    if (it.expr->kind == ExprKind::kStar) {
      std::string q = last_part(it.expr->qualifier);
      bool any = false;
      for (size_t i = 0; i < scope.cols.size(); ++i) {
        const ScopeCol& c = scope.cols[i];
        if (q.empty() ? c.hidden : !ieq(c.qualifier, q)) continue;
        if (wj && i >= lw && q.empty()) continue;
        any = true;
        BoundPtr b = make_column(i, c.type);
        b->symbolic = c.symbolic;
        b = post(std::move(b));
        fps.push_back(b->fingerprint());
        node->columns.push_back({c.name, c.type, c.symbolic});
        aliases.push_back("");
        node->outputs.push_back(std::move(b));
      }
      if (!any && !q.empty()) fail(it.expr->pos, "unknown table or alias '" + it.expr->qualifier + "' in " + it.expr->qualifier + ".*");
      continue;
    }
    BoundPtr b;
    if (wj && is_aggregate_call(*it.expr)) {
      // Aggregates of a window join read the right side.
      b = bind(st, *it.expr, env);
    } else {
      b = post(bind(st, *it.expr, env));
    }
    fps.push_back(b->fingerprint());
    bool sym = b->op == ExprOp::kColumn && b->symbolic;
    node->columns.push_back({it.alias.empty() ? default_name(*it.expr) : it.alias, b->type, sym});
    aliases.push_back(it.alias);
    node->outputs.push_back(std::move(b));
  }
  if (node->outputs.empty()) fail(s.pos, "the select list is empty");

  // Window join: aggregate arguments are over the right side alone.
  if (wj) {
    for (auto& a : node->aggs) {
      if (a.spec.ordered) {
        a.spec.ordered = false;  // right rows are in time order already
        a.args.pop_back();
      }
      for (auto& arg : a.args) {
        if (side_of(*arg, lw) == Side::kLeft || side_of(*arg, lw) == Side::kBoth)
          fail(s.pos, "aggregates of a WINDOW JOIN read the right side's columns only");
        shift(*arg, lw);
      }
    }
  }

  // HAVING
  if (s.having) {
    Env h = env;
    h.clause = "HAVING";
    h.windows = nullptr;
    BoundPtr b = post(bind_bool(st, *s.having, h, "HAVING"));
    node->having = std::move(b);
  }

  // ORDER BY: ordinals and aliases name outputs; other expressions are over P.
  for (const auto& o : s.order_by) {
    SortKey k;
    k.descending = o.descending;
    k.nulls_first = o.nulls == NullsOrder::kFirst;
    const Expr& e = *o.expr;
    std::optional<size_t> out;
    if (e.kind == ExprKind::kLiteral && e.value.kind == LiteralKind::kInt) {
      int64_t p = e.value.int_value;
      if (p < 1 || p > static_cast<int64_t>(node->outputs.size()))
        fail(e.pos, "ORDER BY position " + std::to_string(p) + " is not in the select list (1.." +
                        std::to_string(node->outputs.size()) + ")");
      out = static_cast<size_t>(p - 1);
    } else if (e.kind == ExprKind::kColumnRef && e.qualifier.empty()) {
      for (size_t i = 0; i < aliases.size() && !out; ++i)
        if (!aliases[i].empty() && ieq(aliases[i], e.name)) out = i;
    }
    if (!out) {
      Env oe = env;
      oe.clause = "ORDER BY";
      BoundPtr b = post(bind(st, e, oe));
      std::string fp = b->fingerprint();
      for (size_t i = 0; i < fps.size() && !out; ++i)
        if (fps[i] == fp) out = i;
      if (!out) {
        if (node->distinct || s.distinct)
          fail(e.pos, "for SELECT DISTINCT, ORDER BY expressions must appear in the select list");
        k.expr = std::move(b);
      }
    }
    if (out) k.expr = ref(*out, node->outputs[*out]->type, kRefOutput);
    if (k.expr->type == LType::kSymbol) k.expr = cast_to(std::move(k.expr), LType::kVarchar, st);
    node->order_texts.push_back(to_string(e) + (o.descending ? " DESC" : ""));
    node->order_by.push_back(std::move(k));
  }
  node->distinct = s.distinct;
  if (s.limit) node->limit = *s.limit;
  if (s.offset) node->offset = *s.offset;

  // Fix up references now that the layout is known: P = base ++ windows.
  size_t base = wj ? lw + node->aggs.size() : node->aggregate ? nkeys + node->aggs.size() : scope.cols.size();
  size_t nwin = node->windows.size();
  std::function<void(BoundExpr&)> fix = [&](BoundExpr& x) {
    if (x.op == ExprOp::kColumn && x.ref == kRefWindow) x.column += base;
    if (x.op == ExprOp::kColumn && x.ref == kRefOutput) x.column += base + nwin;
    for (auto& c : x.children) fix(*c);
  };
  for (auto& o : node->outputs) fix(*o);
  if (node->having) fix(*node->having);
  for (auto& k : node->order_by) fix(*k.expr);
  for (auto& w : node->windows) {
    for (auto& a : w.args) fix(*a);
    for (auto& a : w.partition_by) fix(*a);
    for (auto& a : w.order_by) fix(*a.expr);
  }
  if (wj) {
    node->window_join = std::move(f.wj);
  } else {
    node->source = std::move(f.plan);
  }
  return node;
}

PlanPtr bind_query(State& st, const SelectStmt& s) {
  size_t saved = st.ctes.size();
  for (const auto& c : s.ctes) st.ctes.push_back(&c);
  struct Restore {
    std::vector<const CommonTableExpr*>& v;
    size_t n;
    ~Restore() { v.resize(n); }
  } restore{st.ctes, saved};
  if (s.union_all.empty()) return bind_select_block(st, s);
  auto u = std::make_unique<UnionNode>();
  for (const auto& b : s.union_all) u->inputs.push_back(bind_query(st, *b));
  size_t width = u->inputs[0]->columns.size();
  u->columns = u->inputs[0]->columns;
  for (size_t i = 1; i < u->inputs.size(); ++i) {
    const auto& cols = u->inputs[i]->columns;
    if (cols.size() != width)
      fail(s.union_all[i]->pos, "UNION ALL branches have different numbers of columns (" + std::to_string(width) +
                                    " and " + std::to_string(cols.size()) + ")");
    for (size_t c = 0; c < width; ++c) {
      auto t = unify(u->columns[c].type, cols[c].type);
      if (!t) fail_type(s.union_all[i]->pos, "UNION ALL column " + std::to_string(c + 1) + " has types " +
                                                  tname(u->columns[c].type) + " and " + tname(cols[c].type));
      u->columns[c].type = *t;
      u->columns[c].symbolic &= cols[c].symbolic;
    }
  }
  if (s.order_by.empty() && !s.limit && !s.offset) return u;
  // ORDER BY / LIMIT of the whole union: a SELECT * over it.
  auto node = std::make_unique<SelectNode>();
  Scope scope = scope_of(u->columns, "");
  node->columns = u->columns;
  for (size_t i = 0; i < u->columns.size(); ++i) node->outputs.push_back(make_column(i, u->columns[i].type));
  Env env;
  env.scope = &scope;
  env.clause = "ORDER BY";
  for (const auto& o : s.order_by) {
    SortKey k;
    const Expr& e = *o.expr;
    if (e.kind == ExprKind::kLiteral && e.value.kind == LiteralKind::kInt) {
      int64_t p = e.value.int_value;
      if (p < 1 || p > static_cast<int64_t>(u->columns.size()))
        fail(e.pos, "ORDER BY position " + std::to_string(p) + " is not in the select list");
      k.expr = make_column(static_cast<size_t>(p - 1), u->columns[static_cast<size_t>(p - 1)].type);
    } else {
      k.expr = bind(st, e, env);
    }
    if (k.expr->type == LType::kSymbol) k.expr = cast_to(std::move(k.expr), LType::kVarchar, st);
    k.descending = o.descending;
    k.nulls_first = o.nulls == NullsOrder::kFirst;
    node->order_texts.push_back(to_string(e));
    node->order_by.push_back(std::move(k));
  }
  if (s.limit) node->limit = *s.limit;
  if (s.offset) node->offset = *s.offset;
  node->source = std::move(u);
  return node;
}

}  // namespace

Binder::Binder(Database& db, ExecContext& ctx) : db_(db), ctx_(ctx), now_(now_ns()) {}

PlanPtr Binder::bind_query(const SelectStmt& stmt) {
  State st{db_, ctx_, ctes_, now_};
  return sql::bind_query(st, stmt);
}

Vec Binder::bind_constant(const Expr& e) {
  State st{db_, ctx_, ctes_, now_};
  Env env;
  env.clause = "VALUES";
  BoundPtr b = bind(st, e, env);
  if (b->op != ExprOp::kConst) fail(e.pos, "VALUES must hold constants");
  return b->value;
}

}  // namespace zepto::sql
