#include "zeptodb/exec/expression.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "zeptodb/common/error.h"
#include "zeptodb/exec/kernels/grouping.h"
#include "zeptodb/sql/time_literal.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto::exec {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw_error(ErrorCode::kInvalidArgument, msg); }

// ------------------------------------------------------------ validity

// Gives `out` the validity "every input valid" (nothing if all inputs are).
void merge_validity(Vec& out, std::initializer_list<const Vec*> ins) {
  bool any = false;
  for (const Vec* v : ins) any |= v->valid != nullptr || v->type == LType::kNull;
  if (!any) return;
  uint8_t* o = alloc_valid(out);
  size_t m = out.constant ? 1 : out.n;
  for (size_t i = 0; i < m; ++i) {
    uint8_t ok = 1;
    for (const Vec* v : ins) ok &= v->is_valid(i);
    o[i] = ok;
  }
}

// ----------------------------------------------------- elementwise loops

// out[i] = f(a[i], b[i]) with constants broadcast; constant if both are.
template <typename A, typename B, typename R, typename F>
Vec binary(const Vec& a, const Vec& b, LType rt, size_t n, F f) {
  Vec out;
  bool cst = a.constant && b.constant;
  size_t m = cst ? 1 : n;
  R* o = alloc_values<R>(out, rt, m);
  const A* pa = a.as<A>();
  const B* pb = b.as<B>();
  if (cst) {
    o[0] = f(pa[0], pb[0]);
  } else if (a.constant) {
    A x = pa[0];
    for (size_t i = 0; i < n; ++i) o[i] = f(x, pb[i]);
  } else if (b.constant) {
    B y = pb[0];
    for (size_t i = 0; i < n; ++i) o[i] = f(pa[i], y);
  } else {
    for (size_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
  }
  if (cst) {
    out.constant = true;
    out.n = n;
  }
  merge_validity(out, {&a, &b});
  return out;
}

template <typename A, typename R, typename F>
Vec unary(const Vec& a, LType rt, size_t n, F f) {
  Vec out;
  size_t m = a.constant ? 1 : n;
  R* o = alloc_values<R>(out, rt, m);
  const A* pa = a.as<A>();
  for (size_t i = 0; i < m; ++i) o[i] = f(pa[i]);
  if (a.constant) {
    out.constant = true;
    out.n = n;
  }
  merge_validity(out, {&a});
  return out;
}

// Throws if any valid row of `flags` is set (overflow in integer arithmetic).
void check_flags(const std::vector<uint8_t>& flags, const Vec& out, const char* what) {
  for (size_t i = 0; i < flags.size(); ++i)
    if (flags[i] && out.is_valid(i)) fail(std::string("integer overflow in ") + what);
}

template <typename F>
Vec int_arith(const Vec& a, const Vec& b, size_t n, const char* what, F f) {
  size_t m = a.constant && b.constant ? 1 : n;
  std::vector<uint8_t> flags(m, 0);
  size_t k = 0;
  Vec out = binary<int64_t, int64_t, int64_t>(a, b, LType::kBigint, n, [&](int64_t x, int64_t y) {
    int64_t r;
    flags[k++] = f(x, y, &r);
    return r;
  });
  bool any = std::find(flags.begin(), flags.end(), uint8_t{1}) != flags.end();
  if (any) check_flags(flags, out, what);
  return out;
}

// ------------------------------------------------------------ arithmetic

Vec arith(ExprOp op, const Vec& a, const Vec& b, LType rt, size_t n) {
  if (rt == LType::kDouble) {
    switch (op) {
      case ExprOp::kAdd: return binary<double, double, double>(a, b, rt, n, [](double x, double y) { return x + y; });
      case ExprOp::kSub: return binary<double, double, double>(a, b, rt, n, [](double x, double y) { return x - y; });
      case ExprOp::kMul: return binary<double, double, double>(a, b, rt, n, [](double x, double y) { return x * y; });
      case ExprOp::kDiv: return binary<double, double, double>(a, b, rt, n, [](double x, double y) { return x / y; });
      case ExprOp::kMod: return binary<double, double, double>(a, b, rt, n, [](double x, double y) { return std::fmod(x, y); });
      default: break;
    }
  }
  Vec out;
  switch (op) {
    case ExprOp::kAdd:
      out = int_arith(a, b, n, "addition", [](int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); });
      break;
    case ExprOp::kSub:
      out = int_arith(a, b, n, "subtraction", [](int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); });
      break;
    case ExprOp::kMul:
      out = int_arith(a, b, n, "multiplication", [](int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); });
      break;
    case ExprOp::kMod: {
      Vec r = binary<int64_t, int64_t, int64_t>(a, b, LType::kBigint, n, [](int64_t x, int64_t y) {
        return y == 0 || y == -1 ? 0 : x % y;
      });
      size_t m = b.constant ? 1 : n;
      for (size_t i = 0; i < m; ++i)
        if (b.as<int64_t>()[i] == 0 && b.is_valid(i) && a.is_valid(i)) fail("division by zero in %");
      out = r;
      break;
    }
    default: fail("internal: bad arithmetic operator");
  }
  out.type = rt;
  return out;
}

// ------------------------------------------------------------ comparison

template <typename T>
Vec compare_typed(ExprOp op, const Vec& a, const Vec& b, size_t n) {
  return with_comparison(op, [&](auto cmp) {
    return binary<T, T, uint8_t>(a, b, LType::kBoolean, n,
                                 [cmp](const T& x, const T& y) -> uint8_t { return cmp(x, y); });
  });
}

Vec compare(ExprOp op, const Vec& a, const Vec& b, size_t n) {
  switch (phys_of(a.type)) {
    case Phys::kU8: return compare_typed<uint8_t>(op, a, b, n);
    case Phys::kI64: return compare_typed<int64_t>(op, a, b, n);
    case Phys::kF64: return compare_typed<double>(op, a, b, n);
    case Phys::kStr: return compare_typed<std::string>(op, a, b, n);
    case Phys::kNone: return const_null(LType::kBoolean, n);
  }
  return const_null(LType::kBoolean, n);
}

// -------------------------------------------------------- boolean logic

Vec logic(bool is_and, const Vec& a, const Vec& b, size_t n) {
  Vec out;
  bool cst = a.constant && b.constant;
  size_t m = cst ? 1 : n;
  uint8_t* o = alloc_values<uint8_t>(out, LType::kBoolean, m);
  bool nulls = a.valid || b.valid || a.type == LType::kNull || b.type == LType::kNull;
  if (!nulls) {
    const uint8_t* pa = a.as<uint8_t>();
    const uint8_t* pb = b.as<uint8_t>();
    for (size_t i = 0; i < m; ++i) {
      uint8_t x = pa[a.at(i)], y = pb[b.at(i)];
      o[i] = is_and ? (x & y) : (x | y);
    }
  } else {
    uint8_t* v = alloc_valid(out);
    for (size_t i = 0; i < m; ++i) {
      bool va = a.is_valid(i), vb = b.is_valid(i);
      bool x = va && a.b8(i), y = vb && b.b8(i);
      if (is_and) {
        bool known_false = (va && !x) || (vb && !y);
        o[i] = x && y;
        v[i] = known_false || (va && vb);
      } else {
        bool known_true = x || y;
        o[i] = known_true;
        v[i] = known_true || (va && vb);
      }
    }
  }
  if (cst) {
    out.constant = true;
    out.n = n;
  }
  return out;
}

// ----------------------------------------------------------------- LIKE

// SQL LIKE: % any run, _ any one character (byte), backslash escapes.
bool like_match(std::string_view s, std::string_view p) {
  size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char c = p[pi];
      if (c == '%') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (c == '\\' && pi + 1 < p.size()) {
        if (s[si] == p[pi + 1]) {
          ++si;
          pi += 2;
          continue;
        }
      } else if (c == '_' || c == s[si]) {
        ++si;
        ++pi;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

// --------------------------------------------------------------- casts

bool parse_int(std::string_view s, int64_t* out) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool parse_double(std::string_view s, double* out) {
  std::string tmp(s);
  char* end = nullptr;
  *out = std::strtod(tmp.c_str(), &end);
  while (end && *end && std::isspace(static_cast<unsigned char>(*end))) ++end;
  return !tmp.empty() && end && *end == '\0';
}

int64_t double_to_int(double x, LType to) {
  double r = std::nearbyint(x);  // ties to even, as DuckDB casts DOUBLE
  double lo = to == LType::kInteger ? -2147483648.0 : -9223372036854775808.0;
  double hi = to == LType::kInteger ? 2147483648.0 : 9223372036854775808.0;
  if (!(r >= lo && r < hi)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    fail(std::string("cannot cast ") + buf + " to " + std::string(ltype_name(to)) + ": out of range");
  }
  return static_cast<int64_t>(r);
}


// ------------------------------------------------------ scalar functions

int64_t floor_div(int64_t x, int64_t b) {
  int64_t q = x / b;
  return (x % b != 0) && ((x < 0) != (b < 0)) ? q - 1 : q;
}

Vec int_or_double_unary(const Vec& a, size_t n, int64_t (*fi)(int64_t), double (*fd)(double)) {
  if (a.type == LType::kDouble) return unary<double, double>(a, LType::kDouble, n, fd);
  Vec out = unary<int64_t, int64_t>(a, a.type, n, fi);
  return out;
}

Vec eval_function(const BoundExpr& e, const std::vector<Vec>& args, size_t n) {
  const Vec& a = args[0];
  switch (e.fn) {
    case ScalarFn::kAbs:
      if (a.type != LType::kDouble) {
        size_t m = a.constant ? 1 : n;
        for (size_t i = 0; i < m; ++i)
          if (a.as<int64_t>()[i] == INT64_MIN && a.is_valid(i)) fail("integer overflow in abs");
      }
      return int_or_double_unary(a, n, [](int64_t x) { return x < 0 ? -x : x; },
                                 [](double x) { return std::fabs(x); });
    case ScalarFn::kSign:
      return int_or_double_unary(a, n, [](int64_t x) -> int64_t { return (x > 0) - (x < 0); },
                                 [](double x) -> double { return (x > 0) - (x < 0); });
    case ScalarFn::kFloor:
      return int_or_double_unary(a, n, [](int64_t x) { return x; }, [](double x) { return std::floor(x); });
    case ScalarFn::kCeil:
      return int_or_double_unary(a, n, [](int64_t x) { return x; }, [](double x) { return std::ceil(x); });
    case ScalarFn::kRound: {
      if (args.size() == 1)
        return int_or_double_unary(a, n, [](int64_t x) { return x; }, [](double x) { return std::round(x); });
      const Vec& d = args[1];
      if (a.type != LType::kDouble) {
        return binary<int64_t, int64_t, int64_t>(a, d, a.type, n, [](int64_t x, int64_t digits) {
          if (digits >= 0) return x;
          int64_t p = 1;
          for (int64_t k = 0; k < -digits && p < INT64_MAX / 10; ++k) p *= 10;
          int64_t q = x / p, r = x % p;
          if (2 * (r < 0 ? -r : r) >= p) q += x < 0 ? -1 : 1;
          return q * p;
        });
      }
      return binary<double, int64_t, double>(a, d, LType::kDouble, n, [](double x, int64_t digits) {
        double p = std::pow(10.0, static_cast<double>(digits));
        double r = std::round(x * p) / p;
        return std::isfinite(r) ? r : x;
      });
    }
    case ScalarFn::kSqrt: return unary<double, double>(a, LType::kDouble, n, [](double x) { return std::sqrt(x); });
    case ScalarFn::kLn: return unary<double, double>(a, LType::kDouble, n, [](double x) { return std::log(x); });
    case ScalarFn::kLog10: return unary<double, double>(a, LType::kDouble, n, [](double x) { return std::log10(x); });
    case ScalarFn::kLog2: return unary<double, double>(a, LType::kDouble, n, [](double x) { return std::log2(x); });
    case ScalarFn::kExp: return unary<double, double>(a, LType::kDouble, n, [](double x) { return std::exp(x); });
    case ScalarFn::kPow:
      return binary<double, double, double>(a, args[1], LType::kDouble, n, [](double x, double y) { return std::pow(x, y); });
    case ScalarFn::kLeast:
    case ScalarFn::kGreatest: {
      // NULLs are skipped (DuckDB); NULL only if every argument is NULL.
      bool greatest = e.fn == ScalarFn::kGreatest;
      Vec acc = args[0];
      for (size_t k = 1; k < args.size(); ++k) {
        const Vec& b = args[k];
        Vec pick = compare(greatest ? ExprOp::kLt : ExprOp::kGt, acc, b, n);
        size_t m = acc.constant && b.constant ? 1 : n;
        std::vector<uint32_t> idx_a, idx_b;
        // Build the new accumulator row by row: take b where acc is NULL or b wins.
        std::vector<uint8_t> take_b(m);
        for (size_t i = 0; i < m; ++i)
          take_b[i] = !acc.is_valid(i) || (b.is_valid(i) && pick.is_valid(i) && pick.b8(i));
        Vec out;
        switch (phys_of(e.type)) {
          case Phys::kI64: {
            int64_t* o = alloc_values<int64_t>(out, e.type, m);
            for (size_t i = 0; i < m; ++i) o[i] = take_b[i] ? b.i64(i) : acc.i64(i);
            break;
          }
          case Phys::kF64: {
            double* o = alloc_values<double>(out, e.type, m);
            for (size_t i = 0; i < m; ++i) o[i] = take_b[i] ? b.f64(i) : acc.f64(i);
            break;
          }
          case Phys::kStr: {
            std::string* o = alloc_values<std::string>(out, e.type, m);
            for (size_t i = 0; i < m; ++i) o[i] = take_b[i] ? b.str(i) : acc.str(i);
            break;
          }
          case Phys::kU8: {
            uint8_t* o = alloc_values<uint8_t>(out, e.type, m);
            for (size_t i = 0; i < m; ++i) o[i] = take_b[i] ? b.b8(i) : acc.b8(i);
            break;
          }
          case Phys::kNone: return const_null(e.type, n);
        }
        if (acc.valid || b.valid) {
          uint8_t* v = alloc_valid(out);
          for (size_t i = 0; i < m; ++i) v[i] = take_b[i] ? b.is_valid(i) : acc.is_valid(i);
        }
        if (m == 1 && n != 1) {
          out.constant = true;
          out.n = n;
        }
        acc = out;
      }
      return acc;
    }
    case ScalarFn::kXbar: {
      const Vec& b = args[1];
      if (a.type == LType::kDouble)
        return binary<double, double, double>(a, b, LType::kDouble, n,
                                              [](double x, double w) { return xbar_value(x, w); });
      if (b.constant && b.is_valid(0) && !a.constant) {
        if (b.i64(0) <= 0) xbar_value(int64_t{0}, b.i64(0));  // throws the kernel's message
        Vec out;
        int64_t* o = alloc_values<int64_t>(out, a.type, n);
        xbar<int64_t>(std::span<const int64_t>(a.as<int64_t>(), n), a.valid, b.i64(0), std::span<int64_t>(o, n));
        out.valid = a.valid;
        out.keep_valid = a.keep_valid;
        return out;
      }
      return binary<int64_t, int64_t, int64_t>(a, b, a.type, n, [](int64_t x, int64_t w) { return xbar_value(x, w); });
    }
    case ScalarFn::kDateTrunc: {
      auto unit = static_cast<TimeUnit>(e.unit);
      return unary<int64_t, int64_t>(a, e.type, n, [unit](int64_t x) { return date_trunc_value(unit, x); });
    }
    case ScalarFn::kEpochS:
      return unary<int64_t, int64_t>(a, LType::kBigint, n, [](int64_t x) { return floor_div(x, 1'000'000'000); });
    case ScalarFn::kEpochMs:
      return unary<int64_t, int64_t>(a, LType::kBigint, n, [](int64_t x) { return floor_div(x, 1'000'000); });
    case ScalarFn::kEpochUs:
      return unary<int64_t, int64_t>(a, LType::kBigint, n, [](int64_t x) { return floor_div(x, 1'000); });
    case ScalarFn::kEpochNs: return unary<int64_t, int64_t>(a, LType::kBigint, n, [](int64_t x) { return x; });
    case ScalarFn::kLower:
    case ScalarFn::kUpper: {
      bool up = e.fn == ScalarFn::kUpper;
      return unary<std::string, std::string>(a, LType::kVarchar, n, [up](const std::string& s) {
        std::string r = s;
        for (auto& c : r) c = static_cast<char>(up ? std::toupper(static_cast<unsigned char>(c))
                                                   : std::tolower(static_cast<unsigned char>(c)));
        return r;
      });
    }
    case ScalarFn::kLength:
      return unary<std::string, int64_t>(a, LType::kBigint, n, [](const std::string& s) {
        int64_t count = 0;
        for (unsigned char c : s) count += (c & 0xC0) != 0x80;
        return count;
      });
    case ScalarFn::kConcat:
      return binary<std::string, std::string, std::string>(a, args[1], LType::kVarchar, n,
                                                           [](const std::string& x, const std::string& y) { return x + y; });
    case ScalarFn::kNullIf: {
      Vec eq = compare(ExprOp::kEq, a, args[1], n);
      Vec out = flatten(a);
      out.keep_valid.reset();
      out.valid = nullptr;
      uint8_t* v = alloc_valid(out);
      for (size_t i = 0; i < n; ++i) v[i] = a.is_valid(i) && !(eq.is_valid(i) && eq.b8(i));
      return out;
    }
  }
  fail("internal: unknown function");
}

// ----------------------------------------------------- CASE / COALESCE

// Scatters `piece` (rows `idx`) into the arrays of `out` (n rows).
template <typename T>
void scatter_into(T* o, uint8_t* v, const Vec& piece, const std::vector<uint32_t>& idx) {
  for (size_t k = 0; k < idx.size(); ++k) {
    bool ok = piece.is_valid(k);
    v[idx[k]] = ok;
    if (ok) o[idx[k]] = piece.as<T>()[piece.at(k)];
  }
}

std::vector<Vec> gather_inputs(const std::vector<Vec>& in, const std::vector<uint32_t>& rows,
                               const std::vector<bool>& used) {
  std::vector<Vec> out(in.size());
  for (size_t c = 0; c < in.size(); ++c)
    if (c < used.size() && used[c]) out[c] = gather(in[c], rows.data(), rows.size());
  return out;
}

Vec eval_case(const BoundExpr& e, const std::vector<Vec>& in, size_t n) {
  size_t pairs = (e.children.size() - (e.has_else ? 1 : 0)) / 2;
  Vec out;
  void* values = nullptr;
  switch (phys_of(e.type)) {
    case Phys::kU8: values = alloc_values<uint8_t>(out, e.type, n); break;
    case Phys::kI64: values = alloc_values<int64_t>(out, e.type, n); break;
    case Phys::kF64: values = alloc_values<double>(out, e.type, n); break;
    case Phys::kStr: values = alloc_values<std::string>(out, e.type, n); break;
    case Phys::kNone: return const_null(LType::kNull, n);
  }
  uint8_t* valid = alloc_valid(out);
  std::fill(valid, valid + n, uint8_t{0});
  auto put = [&](const Vec& piece, const std::vector<uint32_t>& idx) {
    switch (phys_of(e.type)) {
      case Phys::kU8: scatter_into(static_cast<uint8_t*>(values), valid, piece, idx); break;
      case Phys::kI64: scatter_into(static_cast<int64_t*>(values), valid, piece, idx); break;
      case Phys::kF64: scatter_into(static_cast<double*>(values), valid, piece, idx); break;
      case Phys::kStr: scatter_into(static_cast<std::string*>(values), valid, piece, idx); break;
      case Phys::kNone: break;
    }
  };
  std::vector<uint32_t> rest(n);
  for (size_t i = 0; i < n; ++i) rest[i] = static_cast<uint32_t>(i);
  for (size_t p = 0; p < pairs && !rest.empty(); ++p) {
    std::vector<bool> used;
    collect_columns(*e.children[2 * p], used);
    collect_columns(*e.children[2 * p + 1], used);
    std::vector<Vec> sub = gather_inputs(in, rest, used);
    Vec cond = eval(*e.children[2 * p], sub, rest.size());
    std::vector<uint32_t> hit_local = select_true(cond);
    if (hit_local.empty()) continue;
    std::vector<uint32_t> hit(hit_local.size()), keep_local;
    for (size_t k = 0; k < hit_local.size(); ++k) hit[k] = rest[hit_local[k]];
    std::vector<Vec> sub_hit(sub.size());
    for (size_t c = 0; c < sub.size(); ++c)
      if (c < used.size() && used[c]) sub_hit[c] = gather(sub[c], hit_local.data(), hit_local.size());
    put(eval(*e.children[2 * p + 1], sub_hit, hit.size()), hit);
    std::vector<uint32_t> next;
    size_t h = 0;
    for (size_t k = 0; k < rest.size(); ++k) {
      if (h < hit_local.size() && hit_local[h] == k) {
        ++h;
        continue;
      }
      next.push_back(rest[k]);
    }
    rest.swap(next);
  }
  if (e.has_else && !rest.empty()) {
    std::vector<bool> used;
    collect_columns(*e.children.back(), used);
    put(eval(*e.children.back(), gather_inputs(in, rest, used), rest.size()), rest);
  }
  return out;
}

Vec eval_coalesce(const BoundExpr& e, const std::vector<Vec>& in, size_t n) {
  Vec acc = eval(*e.children[0], in, n);
  for (size_t k = 1; k < e.children.size() && !acc.all_valid(); ++k) {
    Vec b = eval(*e.children[k], in, n);
    Vec out;
    switch (phys_of(e.type)) {
      case Phys::kU8: {
        uint8_t* o = alloc_values<uint8_t>(out, e.type, n);
        for (size_t i = 0; i < n; ++i) o[i] = acc.is_valid(i) ? acc.b8(i) : b.is_valid(i) ? b.b8(i) : 0;
        break;
      }
      case Phys::kI64: {
        int64_t* o = alloc_values<int64_t>(out, e.type, n);
        for (size_t i = 0; i < n; ++i) o[i] = acc.is_valid(i) ? acc.i64(i) : b.is_valid(i) ? b.i64(i) : 0;
        break;
      }
      case Phys::kF64: {
        double* o = alloc_values<double>(out, e.type, n);
        for (size_t i = 0; i < n; ++i) o[i] = acc.is_valid(i) ? acc.f64(i) : b.is_valid(i) ? b.f64(i) : 0;
        break;
      }
      case Phys::kStr: {
        std::string* o = alloc_values<std::string>(out, e.type, n);
        for (size_t i = 0; i < n; ++i) o[i] = acc.is_valid(i) ? acc.str(i) : b.is_valid(i) ? b.str(i) : "";
        break;
      }
      case Phys::kNone: continue;
    }
    uint8_t* v = alloc_valid(out);
    bool all = true;
    for (size_t i = 0; i < n; ++i) all &= (v[i] = acc.is_valid(i) || b.is_valid(i));
    if (all) {
      out.valid = nullptr;
      out.keep_valid.reset();
    }
    acc = out;
  }
  if (acc.type == LType::kNull) return const_null(e.type, n);
  return acc;
}

Vec eval_in(const BoundExpr& e, const Vec& a, size_t n) {
  Vec out;
  size_t m = a.constant ? 1 : n;
  uint8_t* o = alloc_values<uint8_t>(out, LType::kBoolean, m);
  bool null_rows = a.valid || a.type == LType::kNull || e.set_has_null;
  uint8_t* v = null_rows ? alloc_valid(out) : nullptr;
  std::string key;
  for (size_t i = 0; i < m; ++i) {
    if (!a.is_valid(i)) {
      o[i] = 0;
      v[i] = 0;
      continue;
    }
    key.clear();
    append_key(key, a, i);
    bool hit = e.set.count(key) != 0;
    // x NOT IN (..., NULL) is NULL unless x is listed; x IN (..., NULL) is NULL unless found.
    if (!hit && e.set_has_null) {
      o[i] = 0;
      v[i] = 0;
      continue;
    }
    o[i] = hit != e.negated;
    if (v) v[i] = 1;
  }
  if (a.constant) {
    out.constant = true;
    out.n = n;
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------- BoundExpr

BoundPtr BoundExpr::clone() const {
  auto c = std::make_unique<BoundExpr>();
  c->op = op;
  c->type = type;
  c->value = value;
  c->column = column;
  c->negated = negated;
  c->has_else = has_else;
  c->fn = fn;
  c->unit = unit;
  c->set = set;
  c->set_has_null = set_has_null;
  c->symbols = symbols;
  c->symbolic = symbolic;
  c->ref = ref;
  for (const auto& ch : children) c->children.push_back(ch->clone());
  return c;
}

bool BoundExpr::is_constant() const {
  if (op == ExprOp::kColumn) return false;
  for (const auto& ch : children)
    if (!ch->is_constant()) return false;
  return true;
}

std::string BoundExpr::fingerprint() const {
  std::string s = "(" + std::to_string(static_cast<int>(op)) + ":" + std::to_string(static_cast<int>(type));
  switch (op) {
    case ExprOp::kConst: {
      std::string k;
      append_key(k, value, 0);
      for (unsigned char c : k) s += std::to_string(c) + ",";
      break;
    }
    case ExprOp::kColumn: s += "#" + std::to_string(column) + "r" + std::to_string(ref); break;
    case ExprOp::kFunction: s += "f" + std::to_string(static_cast<int>(fn)) + "u" + std::to_string(unit); break;
    default: break;
  }
  if (negated) s += "!";
  if (op == ExprOp::kInSet) {
    std::vector<std::string> keys(set.begin(), set.end());
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) s += "[" + std::to_string(std::hash<std::string>()(k)) + "]";
  }
  for (const auto& ch : children) s += ch->fingerprint();
  return s + ")";
}

BoundPtr make_const(Vec value) {
  auto e = std::make_unique<BoundExpr>();
  e->op = ExprOp::kConst;
  e->type = value.type;
  value.n = 1;
  value.constant = true;
  e->value = std::move(value);
  return e;
}

BoundPtr make_column(size_t index, LType type) {
  auto e = std::make_unique<BoundExpr>();
  e->op = ExprOp::kColumn;
  e->type = type;
  e->column = index;
  return e;
}

BoundPtr make_node(ExprOp op, LType type, std::vector<BoundPtr> children) {
  auto e = std::make_unique<BoundExpr>();
  e->op = op;
  e->type = type;
  e->children = std::move(children);
  return e;
}

// ------------------------------------------------------------------ eval

Vec eval(const BoundExpr& e, const std::vector<Vec>& in, size_t n) {
  switch (e.op) {
    case ExprOp::kConst: return resize_const(e.value, n);
    case ExprOp::kColumn: {
      const Vec& c = in[e.column];
      if (c.type != e.type && !(c.type == LType::kNull)) {
        Vec v = c;
        v.type = e.type;  // same physical type (e.g. INTEGER widened to BIGINT)
        return v;
      }
      return c;
    }
    case ExprOp::kNeg: {
      Vec a = eval(*e.children[0], in, n);
      if (e.type == LType::kDouble) return unary<double, double>(a, LType::kDouble, n, [](double x) { return -x; });
      size_t m = a.constant ? 1 : n;
      for (size_t i = 0; i < m; ++i)
        if (a.as<int64_t>()[i] == INT64_MIN && a.is_valid(i)) fail("integer overflow in negation");
      return unary<int64_t, int64_t>(a, e.type, n, [](int64_t x) { return -x; });
    }
    case ExprOp::kNot: {
      Vec a = eval(*e.children[0], in, n);
      return unary<uint8_t, uint8_t>(a, LType::kBoolean, n, [](uint8_t x) -> uint8_t { return !x; });
    }
    case ExprOp::kAdd:
    case ExprOp::kSub:
    case ExprOp::kMul:
    case ExprOp::kDiv:
    case ExprOp::kMod: {
      Vec a = eval(*e.children[0], in, n);
      Vec b = eval(*e.children[1], in, n);
      return arith(e.op, a, b, e.type, n);
    }
    case ExprOp::kEq:
    case ExprOp::kNe:
    case ExprOp::kLt:
    case ExprOp::kLe:
    case ExprOp::kGt:
    case ExprOp::kGe: {
      Vec a = eval(*e.children[0], in, n);
      Vec b = eval(*e.children[1], in, n);
      return compare(e.op, a, b, n);
    }
    case ExprOp::kAnd:
    case ExprOp::kOr: {
      Vec a = eval(*e.children[0], in, n);
      Vec b = eval(*e.children[1], in, n);
      return logic(e.op == ExprOp::kAnd, a, b, n);
    }
    case ExprOp::kIsNull: {
      Vec a = eval(*e.children[0], in, n);
      if (a.all_valid()) return const_bool(e.negated, n);
      if (a.type == LType::kNull) return const_bool(!e.negated, n);
      Vec out;
      size_t m = a.constant ? 1 : n;
      uint8_t* o = alloc_values<uint8_t>(out, LType::kBoolean, m);
      for (size_t i = 0; i < m; ++i) o[i] = (a.valid[i] == 0) != e.negated;
      if (a.constant) {
        out.constant = true;
        out.n = n;
      }
      return out;
    }
    case ExprOp::kInSet: return eval_in(e, eval(*e.children[0], in, n), n);
    case ExprOp::kLike: {
      Vec a = eval(*e.children[0], in, n);
      Vec p = eval(*e.children[1], in, n);
      bool neg = e.negated;
      return binary<std::string, std::string, uint8_t>(a, p, LType::kBoolean, n,
                                                       [neg](const std::string& s, const std::string& pat) -> uint8_t {
                                                         return like_match(s, pat) != neg;
                                                       });
    }
    case ExprOp::kCase: return eval_case(e, in, n);
    case ExprOp::kCast: return cast_vec(eval(*e.children[0], in, n), e.type, e.symbols);
    case ExprOp::kCoalesce: return eval_coalesce(e, in, n);
    case ExprOp::kFunction: {
      std::vector<Vec> args;
      for (const auto& ch : e.children) args.push_back(eval(*ch, in, n));
      for (const auto& a : args)
        if (a.type == LType::kNull && e.fn != ScalarFn::kLeast && e.fn != ScalarFn::kGreatest)
          return const_null(e.type, n);
      return eval_function(e, args, n);
    }
    case ExprOp::kNeverUnlessNull: {
      Vec a = eval(*e.children[0], in, n);
      Vec out = const_bool(false, n);
      if (a.all_valid()) return out;
      if (a.constant) return a.is_valid(0) ? out : const_null(LType::kBoolean, n);
      out = flatten(out);
      uint8_t* v = alloc_valid(out);
      for (size_t i = 0; i < n; ++i) v[i] = a.is_valid(i);
      return out;
    }
  }
  fail("internal: unknown expression");
}

std::vector<uint32_t> select_true(const Vec& cond) {
  std::vector<uint32_t> out;
  if (cond.type == LType::kNull) return out;
  if (cond.constant) {
    if (cond.is_valid(0) && cond.b8(0)) {
      out.resize(cond.n);
      for (size_t i = 0; i < cond.n; ++i) out[i] = static_cast<uint32_t>(i);
    }
    return out;
  }
  out.resize(cond.n);
  const uint8_t* v = cond.as<uint8_t>();
  size_t k = 0;
  if (cond.valid) {
    for (size_t i = 0; i < cond.n; ++i) {
      out[k] = static_cast<uint32_t>(i);
      k += v[i] & cond.valid[i];
    }
  } else {
    for (size_t i = 0; i < cond.n; ++i) {
      out[k] = static_cast<uint32_t>(i);
      k += v[i];
    }
  }
  out.resize(k);
  return out;
}

const std::string& SymbolTexts::lookup(int64_t id) {
  auto [it, fresh] = texts_.try_emplace(id);
  if (fresh) {
    auto name = symbols_ ? symbols_->name(id) : std::nullopt;
    it->second = name ? std::move(*name) : std::to_string(id);
  }
  last_id_ = id;
  last_ = &it->second;
  return it->second;
}

ResultColumn symbol_result_column(std::string name, const Vec& v, size_t n, const SymbolDictionary* symbols) {
  SymbolTexts text(symbols);
  std::vector<std::string_view> dictionary;
  std::unordered_map<int64_t, int32_t> code_of;
  auto code = [&](int64_t id) {
    auto [it, fresh] = code_of.try_emplace(id, static_cast<int32_t>(dictionary.size()));
    if (fresh) dictionary.push_back(text(id));
    return it->second;
  };
  // Every code is written below: no zero-fill (and recycled pages, see recycled_memory()).
  std::shared_ptr<void> owner = recycled_memory(std::max<size_t>(n, 1) * sizeof(int32_t));
  int32_t* codes = static_cast<int32_t*>(owner.get());
  std::vector<uint8_t> valid;
  if (v.constant && !v.is_valid(0)) {  // (the caller passes SYMBOL vectors only)
    std::fill_n(codes, n, 0);
    valid.assign(n, 0);
  } else if (v.constant) {
    std::fill_n(codes, n, code(v.i64(0)));
  } else {
    // Rows of a partition share one id: each run is looked up once and filled.
    const int64_t* ids = v.as<int64_t>();
    const bool all_valid = v.all_valid();
    for (size_t i = 0; i < n;) {
      if (!all_valid && !v.valid[i]) {
        codes[i++] = 0;
        continue;
      }
      const int64_t id = ids[i];
      size_t j = i + 1;
      while (j < n && ids[j] == id && (all_valid || v.valid[j])) ++j;
      std::fill_n(codes + i, j - i, code(id));
      i = j;
    }
    if (!all_valid && std::find(v.valid, v.valid + n, uint8_t{0}) != v.valid + n) valid.assign(v.valid, v.valid + n);
  }
  Buffer buf(owner, static_cast<const std::byte*>(owner.get()));
  return dictionary_column(std::move(name), std::move(buf), n, std::move(valid), std::move(dictionary));
}

Vec cast_vec(const Vec& v, LType to, const SymbolDictionary* symbols) {
  LType from = v.type;
  size_t n = v.n;
  if (from == to) return v;
  if (from == LType::kNull) return const_null(to, n);
  Phys pf = phys_of(from), pt = phys_of(to);
  auto done = [&](Vec out) {
    if (v.constant) {
      out.constant = true;
      out.n = n;
    }
    if (v.valid && !out.valid) {
      out.valid = v.valid;
      out.keep_valid = v.keep_valid;
    }
    return out;
  };
  size_t m = v.constant ? 1 : n;
  Vec out;
  if (pt == Phys::kI64 && pf == Phys::kI64) {
    if (to == LType::kInteger) {
      for (size_t i = 0; i < m; ++i) {
        int64_t x = v.as<int64_t>()[i];
        if ((x < INT32_MIN || x > INT32_MAX) && v.is_valid(i))
          fail("cannot cast " + std::to_string(x) + " to INTEGER: out of range");
      }
    }
    out = v;
    out.type = to;
    return out;
  }
  if (pt == Phys::kStr) {
    std::string* o = alloc_values<std::string>(out, to, m);
    if (from == LType::kSymbol) {
      SymbolTexts text(symbols);
      for (size_t i = 0; i < m; ++i)
        if (v.is_valid(i)) o[i] = text(v.i64(i));
      return done(out);
    }
    for (size_t i = 0; i < m; ++i) {
      if (!v.is_valid(i)) continue;
      switch (from) {
        case LType::kBoolean: o[i] = v.b8(i) ? "true" : "false"; break;
        case LType::kDouble: o[i] = format_double(v.f64(i)); break;
        case LType::kTimestamp: o[i] = sql::format_timestamp(v.i64(i)); break;
        default: o[i] = std::to_string(v.i64(i));
      }
    }
    return done(out);
  }
  if (pf == Phys::kStr) {
    const std::string* s = v.as<std::string>();
    auto bad = [&](size_t i) {
      fail("cannot cast '" + s[i] + "' to " + std::string(ltype_name(to)));
    };
    switch (pt) {
      case Phys::kI64: {
        int64_t* o = alloc_values<int64_t>(out, to, m);
        for (size_t i = 0; i < m; ++i) {
          if (!v.is_valid(i)) {
            o[i] = 0;
            continue;
          }
          if (to == LType::kTimestamp) {
            auto t = sql::parse_timestamp(s[i]);
            if (!t) bad(i);
            o[i] = *t;
          } else if (to == LType::kSymbol) {
            auto id = symbols ? symbols->find(s[i]) : std::nullopt;
            int64_t x;
            if (id) o[i] = *id;
            else if (parse_int(s[i], &x)) o[i] = x;
            else bad(i);
          } else {
            int64_t x;
            double d;
            if (parse_int(s[i], &x)) o[i] = x;
            else if (parse_double(s[i], &d)) o[i] = double_to_int(d, to);
            else bad(i);
            if (to == LType::kInteger && (o[i] < INT32_MIN || o[i] > INT32_MAX)) bad(i);
          }
        }
        break;
      }
      case Phys::kF64: {
        double* o = alloc_values<double>(out, to, m);
        for (size_t i = 0; i < m; ++i) {
          o[i] = 0;
          if (v.is_valid(i) && !parse_double(s[i], &o[i])) bad(i);
        }
        break;
      }
      case Phys::kU8: {
        uint8_t* o = alloc_values<uint8_t>(out, to, m);
        for (size_t i = 0; i < m; ++i) {
          o[i] = 0;
          if (!v.is_valid(i)) continue;
          std::string t = s[i];
          for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (t == "true" || t == "t" || t == "1" || t == "yes") o[i] = 1;
          else if (!(t == "false" || t == "f" || t == "0" || t == "no")) bad(i);
        }
        break;
      }
      default: break;
    }
    return done(out);
  }
  switch (pt) {
    case Phys::kI64: {
      int64_t* o = alloc_values<int64_t>(out, to, m);
      if (pf == Phys::kU8) {
        for (size_t i = 0; i < m; ++i) o[i] = v.as<uint8_t>()[i];
      } else {  // double
        for (size_t i = 0; i < m; ++i) o[i] = v.is_valid(i) ? double_to_int(v.as<double>()[i], to) : 0;
      }
      break;
    }
    case Phys::kF64: {
      double* o = alloc_values<double>(out, to, m);
      if (pf == Phys::kU8) {
        for (size_t i = 0; i < m; ++i) o[i] = v.as<uint8_t>()[i];
      } else {
        for (size_t i = 0; i < m; ++i) o[i] = static_cast<double>(v.as<int64_t>()[i]);
      }
      break;
    }
    case Phys::kU8: {
      uint8_t* o = alloc_values<uint8_t>(out, to, m);
      if (pf == Phys::kF64) {
        for (size_t i = 0; i < m; ++i) o[i] = v.as<double>()[i] != 0;
      } else {
        for (size_t i = 0; i < m; ++i) o[i] = v.as<int64_t>()[i] != 0;
      }
      break;
    }
    default: fail("cannot cast " + std::string(ltype_name(from)) + " to " + std::string(ltype_name(to)));
  }
  return done(out);
}

void remap_columns(BoundExpr& e, const std::vector<size_t>& map) {
  if (e.op == ExprOp::kColumn) e.column = map[e.column];
  for (auto& c : e.children) remap_columns(*c, map);
}

void collect_columns(const BoundExpr& e, std::vector<bool>& out) {
  if (e.op == ExprOp::kColumn) {
    if (out.size() <= e.column) out.resize(e.column + 1, false);
    out[e.column] = true;
  }
  for (const auto& c : e.children) collect_columns(*c, out);
}

}  // namespace zepto::exec
