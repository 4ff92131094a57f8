#include "zeptodb/exec/aggregate.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <unordered_set>

#include "zeptodb/common/error.h"
#include "zeptodb/common/target_clones.h"
#include "zeptodb/exec/kernels/kernel_internal.h"
#include "zeptodb/exec/kernels/stats.h"

namespace zepto::exec {

namespace {

// Neumaier-compensated double sum: stable enough that parallel and serial
// runs agree to ~1 ulp of the total.
struct DSum {
  double s = 0, c = 0;
  void add(double x) {
    double t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  void add(const DSum& o) {
    add(o.s);
    add(o.c);
  }
  double value() const { return s + c; }
};

// Exact sum of n int64 values, in a form compilers vectorize without
// 64-bit arithmetic shifts or 128-bit adds: each value as unsigned bits
// u = hi * 2^32 + lo, minus 2^64 for negative values. Also compiled for
// AVX2 and AVX-512 (wider vectors), picked at load time.
ZEPTO_TARGET_CLONES
__int128 sum_i64(const int64_t* x, size_t n) {
  __int128 total = 0;
  for (size_t b = 0; b < n;) {
    size_t e = std::min(n, b + (size_t{1} << 31));  // keeps the partial sums below 2^64
    uint64_t lo = 0, hi = 0, neg = 0;
    for (size_t i = b; i < e; ++i) {
      uint64_t u = static_cast<uint64_t>(x[i]);
      lo += u & 0xffffffffu;
      hi += u >> 32;
      neg += u >> 63;
    }
    total += static_cast<__int128>(lo) + (static_cast<__int128>(hi) << 32) - (static_cast<__int128>(neg) << 64);
    b = e;
  }
  return total;
}

// sum_i64() of the x[i] with keep[i] != 0 (n < 2^31); adds their number
// to `kept`. Also compiled for AVX2 and AVX-512, picked at load time.
ZEPTO_TARGET_CLONES
__int128 kept_sum_i64(const int64_t* x, const uint8_t* keep, size_t n, int64_t& kept) {
  uint64_t lo = 0, hi = 0, neg = 0, k = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t u = static_cast<uint64_t>(x[i]) & (uint64_t{0} - (keep[i] != 0));
    lo += u & 0xffffffffu;
    hi += u >> 32;
    neg += u >> 63;
    k += keep[i] != 0;
  }
  kept += static_cast<int64_t>(k);
  return static_cast<__int128>(lo) + (static_cast<__int128>(hi) << 32) - (static_cast<__int128>(neg) << 64);
}

// Exact sum of x[i] * y[i] (and of y) for int64 values; false (nothing
// written) unless every value lies in [0, 2^32), where each product fits
// 64 bits and the loop vectorizes.
bool dot_u32(const int64_t* x, const int64_t* y, size_t n, __int128& xy, __int128& sy) {
  __int128 pxy = 0, psy = 0;
  for (size_t b = 0; b < n;) {
    size_t e = std::min(n, b + (size_t{1} << 30));
    uint64_t lo = 0, hi = 0, ys = 0, any = 0;
    for (size_t i = b; i < e; ++i) {
      uint64_t u = static_cast<uint64_t>(x[i]), v = static_cast<uint64_t>(y[i]);
      any |= u | v;
      uint64_t p = (u & 0xffffffffu) * (v & 0xffffffffu);
      lo += p & 0xffffffffu;
      hi += p >> 32;
      ys += v;
    }
    if (any >> 32) return false;
    pxy += static_cast<__int128>(lo) + (static_cast<__int128>(hi) << 32);
    psy += ys;
    b = e;
  }
  xy += pxy;
  sy += psy;
  return true;
}

// The smallest (largest) of n >= 1 int64 values: four independent running
// values, as 64-bit comparisons do not vectorize on baseline x86-64.
template <bool kMax>
int64_t extreme_i64(const int64_t* x, size_t n) {
  auto pick = [](int64_t a, int64_t b) { return kMax ? (a < b ? b : a) : (b < a ? b : a); };
  int64_t r0 = x[0], r1 = x[0], r2 = x[0], r3 = x[0];
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    r0 = pick(r0, x[i]);
    r1 = pick(r1, x[i + 1]);
    r2 = pick(r2, x[i + 2]);
    r3 = pick(r3, x[i + 3]);
  }
  for (; i < n; ++i) r0 = pick(r0, x[i]);
  return pick(pick(r0, r1), pick(r2, r3));
}

// A DOUBLE Vec of groups [0, groups) from optional values.
template <typename F>
Vec finish_doubles(size_t groups, F value) {
  Vec out;
  double* o = alloc_values<double>(out, LType::kDouble, groups);
  uint8_t* valid = nullptr;
  for (size_t g = 0; g < groups; ++g) {
    std::optional<double> v = value(g);
    o[g] = v.value_or(0);
    if (!v) {
      if (!valid) valid = alloc_valid(out);
      valid[g] = 0;
    }
  }
  return out;
}

// A Vec of type t from per-group states with `has` and `value` (NULL where !has).
template <typename T, typename States>
Vec finish_values(const States& states, size_t groups, LType t) {
  Vec out;
  T* o = alloc_values<T>(out, t, groups);
  uint8_t* valid = nullptr;
  for (size_t g = 0; g < groups; ++g) {
    o[g] = states[g].value;
    if (!states[g].has) {
      if (!valid) valid = alloc_valid(out);
      valid[g] = 0;
    }
  }
  return out;
}

template <typename State, typename Derived>
class Base : public Aggregator {
 public:
  void resize(size_t groups) override {
    if (states_.size() < groups) states_.resize(groups);
  }
  void merge(Aggregator& other, const std::vector<uint32_t>& map) override {
    auto& o = static_cast<Derived&>(other);
    resize(*std::max_element(map.begin(), map.end()) + 1);
    for (size_t i = 0; i < o.states_.size() && i < map.size(); ++i)
      static_cast<Derived*>(this)->combine(states_[map[i]], o.states_[i]);
  }

 protected:
  std::vector<State> states_;
};

// ------------------------------------------------------------- count

class CountStar : public Base<int64_t, CountStar> {
 public:
  void update(size_t g, const Vec*, size_t b, size_t e, int64_t) override { states_[g] += static_cast<int64_t>(e - b); }
  void update_kept(size_t g, const Vec* a, size_t nargs, const uint8_t* keep, size_t n, int64_t seq) override {
    if (nargs > 0 && !a[0].all_valid()) return Aggregator::update_kept(g, a, nargs, keep, n, seq);
    int64_t c = 0;
    for (size_t i = 0; i < n; ++i) c += keep[i] != 0;
    states_[g] += c;
  }
  void combine(int64_t& a, const int64_t& b) { a += b; }
  Vec finalize(size_t groups) override {
    resize(groups);
    Vec v;
    int64_t* o = alloc_values<int64_t>(v, LType::kBigint, groups);
    std::copy(states_.begin(), states_.begin() + groups, o);
    return v;
  }
};

class Count : public CountStar {
 public:
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override {
    if (a[0].all_valid()) {
      states_[g] += static_cast<int64_t>(e - b);
    } else if (a[0].type != LType::kNull) {
      int64_t c = 0;
      for (size_t i = b; i < e; ++i) c += a[0].is_valid(i);
      states_[g] += c;
    }
  }
};

class CountDistinct : public Base<std::unordered_set<std::string>, CountDistinct> {
 public:
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override {
    std::string k;
    for (size_t i = b; i < e; ++i) {
      if (!a[0].is_valid(i)) continue;
      k.clear();
      append_key(k, a[0], i);
      states_[g].insert(k);
    }
  }
  void combine(std::unordered_set<std::string>& a, const std::unordered_set<std::string>& b) {
    a.insert(b.begin(), b.end());
  }
  Vec finalize(size_t groups) override {
    resize(groups);
    Vec v;
    int64_t* o = alloc_values<int64_t>(v, LType::kBigint, groups);
    for (size_t g = 0; g < groups; ++g) o[g] = static_cast<int64_t>(states_[g].size());
    return v;
  }
};

// ---------------------------------------------------------- sum / avg

struct NumState {
  __int128 isum = 0;
  DSum dsum;
  int64_t count = 0;
};

// Adds rows [b, e) of a numeric Vec to s.
void add_numbers(NumState& s, const Vec& a, size_t b, size_t e) {
  if (a.type == LType::kNull) return;
  Phys p = phys_of(a.type);
  if (a.constant) {
    if (!a.is_valid(0)) return;
    int64_t k = static_cast<int64_t>(e - b);
    if (p == Phys::kF64) {
      for (size_t i = b; i < e; ++i) s.dsum.add(a.f64(0));
    } else {
      s.isum += static_cast<__int128>(p == Phys::kU8 ? a.b8(0) : a.i64(0)) * k;
    }
    s.count += k;
    return;
  }
  if (p == Phys::kF64) {
    const double* x = a.as<double>();
    if (!a.valid) {
      // Plain pairwise-free loop in blocks, compensated per block.
      for (size_t i = b; i < e;) {
        size_t stop = std::min(e, i + 256);
        double blk = 0;
        for (; i < stop; ++i) blk += x[i];
        s.dsum.add(blk);
      }
      s.count += static_cast<int64_t>(e - b);
    } else {
      for (size_t i = b; i < e; ++i)
        if (a.valid[i]) {
          s.dsum.add(x[i]);
          ++s.count;
        }
    }
    return;
  }
  if (p == Phys::kU8) {
    for (size_t i = b; i < e; ++i)
      if (a.is_valid(i)) {
        s.isum += a.b8(i);
        ++s.count;
      }
    return;
  }
  const int64_t* x = a.as<int64_t>();
  if (!a.valid) {
    s.isum += sum_i64(x + b, e - b);
    s.count += static_cast<int64_t>(e - b);
  } else {
    for (size_t i = b; i < e; ++i)
      if (a.valid[i]) {
        s.isum += x[i];
        ++s.count;
      }
  }
}

class Sum : public Base<NumState, Sum> {
 public:
  explicit Sum(bool avg, LType arg) : avg_(avg), dbl_(arg == LType::kDouble) {}
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override { add_numbers(states_[g], a[0], b, e); }
  void update_kept(size_t g, const Vec* a, size_t nargs, const uint8_t* keep, size_t n, int64_t seq) override {
    const Vec& v = a[0];
    if (v.constant || v.valid || (v.type != LType::kDouble && phys_of(v.type) != Phys::kI64))
      return Aggregator::update_kept(g, a, nargs, keep, n, seq);
    NumState& s = states_[g];
    int64_t k = 0;
    if (v.type == LType::kDouble) {
      // The blocks of 256 kept values that add_numbers() forms over them gathered.
      const double* x = v.as<double>();
      double blk = 0;
      for (size_t i = 0; i < n; ++i)
        if (keep[i]) {
          blk += x[i];
          if (++k % 256 == 0) {
            s.dsum.add(blk);
            blk = 0;
          }
        }
      if (k % 256) s.dsum.add(blk);
    } else {
      s.isum += kept_sum_i64(v.as<int64_t>(), keep, n, k);
    }
    s.count += k;
  }
  void combine(NumState& x, const NumState& y) {
    x.isum += y.isum;
    x.dsum.add(y.dsum);
    x.count += y.count;
  }
  Vec finalize(size_t groups) override {
    resize(groups);
    Vec v;
    uint8_t* valid = nullptr;
    if (avg_ || dbl_) {
      double* o = alloc_values<double>(v, LType::kDouble, groups);
      for (size_t g = 0; g < groups; ++g) {
        const NumState& s = states_[g];
        double total = dbl_ ? s.dsum.value() : static_cast<double>(s.isum);
        o[g] = avg_ ? (dbl_ ? total / s.count
                            : static_cast<double>(static_cast<long double>(s.isum) / s.count))
                    : total;
      }
    } else {
      int64_t* o = alloc_values<int64_t>(v, LType::kBigint, groups);
      for (size_t g = 0; g < groups; ++g) {
        const NumState& s = states_[g];
        if (s.isum > INT64_MAX || s.isum < INT64_MIN)
          throw_error(ErrorCode::kInvalidArgument, "integer overflow in sum: the total does not fit in BIGINT");
        o[g] = static_cast<int64_t>(s.isum);
      }
    }
    for (size_t g = 0; g < groups; ++g)
      if (states_[g].count == 0) {
        if (!valid) valid = alloc_valid(v);
        valid[g] = 0;
      }
    return v;
  }

 private:
  bool avg_, dbl_;
};

// ------------------------------------------------------------ min / max

template <typename T>
struct Extreme {
  bool has = false;
  T value{};
};

template <typename T>
class MinMax : public Base<Extreme<T>, MinMax<T>> {
 public:
  MinMax(bool is_max, LType type) : max_(is_max), type_(type) {}
  bool better(const T& x, const T& cur) const {
    if constexpr (std::is_same_v<T, double>) {
      if (std::isnan(x)) return max_ && !std::isnan(cur);  // NaN is the largest double
      if (std::isnan(cur)) return !max_;
    }
    return max_ ? cur < x : x < cur;
  }
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override {
    auto& s = this->states_[g];
    const Vec& v = a[0];
    if (v.type == LType::kNull) return;
    if (v.constant) {
      if (e > b && v.is_valid(0)) consider(s, v.as<T>()[0]);
      return;
    }
    const T* x = v.as<T>();
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, double>) {
      if (!v.valid && e > b) {
        T best;
        if constexpr (std::is_same_v<T, int64_t>) {
          best = max_ ? extreme_i64<true>(x + b, e - b) : extreme_i64<false>(x + b, e - b);
        } else {
          best = x[b];
          for (size_t i = b + 1; i < e; ++i) best = max_ ? std::max(best, x[i]) : std::min(best, x[i]);
        }
        consider(s, best);
        return;
      }
    }
    for (size_t i = b; i < e; ++i)
      if (!v.valid || v.valid[i]) consider(s, x[i]);
  }
  void consider(Extreme<T>& s, const T& x) {
    if (!s.has || better(x, s.value)) {
      s.value = x;
      s.has = true;
    }
  }
  void combine(Extreme<T>& a, const Extreme<T>& b) {
    if (b.has) consider(a, b.value);
  }
  Vec finalize(size_t groups) override {
    this->resize(groups);
    return finish_values<T>(this->states_, groups, type_);
  }

 private:
  bool max_;
  LType type_;
};

// ---------------------------------------------------------- first / last

template <typename T>
struct Pick {
  bool has = false;
  int64_t key = 0;  // order key (timestamp)
  int64_t seq = 0;  // row position
  T value{};
};

template <typename T>
class FirstLast : public Base<Pick<T>, FirstLast<T>> {
 public:
  FirstLast(bool last, bool ordered, LType type) : last_(last), ordered_(ordered), type_(type) {}
  bool wins(int64_t key, int64_t seq, const Pick<T>& cur) const {
    if (!cur.has) return true;
    if (key != cur.key) return last_ ? key > cur.key : key < cur.key;
    return last_ ? seq > cur.seq : seq < cur.seq;
  }
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t seq) override {
    auto& s = this->states_[g];
    const Vec& v = a[0];
    if (v.type == LType::kNull) return;
    const Vec* ts = ordered_ ? &a[1] : nullptr;
    // Rows arrive in order within a range; with a timestamp key the best row
    // is the first (last) row holding the minimum (maximum) key.
    size_t best = e;
    int64_t best_key = 0;
    if (ts && e > b && !ts->constant && !ts->valid && !v.valid && v.type != LType::kNull) {
      // Tight loop: the first row with the smallest key, or the last with the largest.
      const int64_t* t = ts->as<int64_t>();
      best = b;
      best_key = t[b];
      if (last_) {
        for (size_t i = b + 1; i < e; ++i)
          if (t[i] >= best_key) best_key = t[best = i];
      } else {
        for (size_t i = b + 1; i < e; ++i)
          if (t[i] < best_key) best_key = t[best = i];
      }
    } else {
      for (size_t k = 0; k < e - b; ++k) {
        size_t i = last_ ? e - 1 - k : b + k;
        if (!v.is_valid(i) || (ts && !ts->is_valid(i))) continue;
        int64_t key = ts ? ts->i64(i) : 0;
        if (best == e || (last_ ? key > best_key : key < best_key)) {
          best = i;
          best_key = key;
          if (!ts) break;
        }
      }
    }
    if (best == e) return;
    int64_t pos = seq + static_cast<int64_t>(best);
    if (wins(best_key, pos, s)) {
      s.has = true;
      s.key = best_key;
      s.seq = pos;
      s.value = v.as<T>()[v.at(best)];
    }
  }
  void combine(Pick<T>& a, const Pick<T>& b) {
    if (b.has && wins(b.key, b.seq, a)) a = b;
  }
  Vec finalize(size_t groups) override {
    this->resize(groups);
    return finish_values<T>(this->states_, groups, type_);
  }

 private:
  bool last_, ordered_;
  LType type_;
};

// ------------------------------------------------------------------ vwap

struct VwapState {
  __int128 ipv = 0, iv = 0;
  DSum dpv, dv;
  int64_t count = 0;
};

class Vwap : public Base<VwapState, Vwap> {
 public:
  Vwap(bool ints) : ints_(ints) {}
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override {
    auto& s = states_[g];
    const Vec& p = a[0];
    const Vec& v = a[1];
    if (p.type == LType::kNull || v.type == LType::kNull) return;
    if (ints_ && !p.constant && !v.constant && !p.valid && !v.valid) {
      const int64_t* px = p.as<int64_t>();
      const int64_t* vx = v.as<int64_t>();
      if (dot_u32(px + b, vx + b, e - b, s.ipv, s.iv)) {
        s.count += static_cast<int64_t>(e - b);
        return;
      }
      __int128 pv = 0, vv = 0;
      for (size_t i = b; i < e; ++i) {
        pv += static_cast<__int128>(px[i]) * vx[i];
        vv += vx[i];
      }
      s.ipv += pv;
      s.iv += vv;
      s.count += static_cast<int64_t>(e - b);
      return;
    }
    for (size_t i = b; i < e; ++i) {
      if (!p.is_valid(i) || !v.is_valid(i)) continue;
      if (ints_) {
        s.ipv += static_cast<__int128>(p.i64(i)) * v.i64(i);
        s.iv += v.i64(i);
      } else {
        double vi = v.num(i);
        s.dpv.add(p.num(i) * vi);
        s.dv.add(vi);
      }
      ++s.count;
    }
  }
  void combine(VwapState& x, const VwapState& y) {
    x.ipv += y.ipv;
    x.iv += y.iv;
    x.dpv.add(y.dpv);
    x.dv.add(y.dv);
    x.count += y.count;
  }
  Vec finalize(size_t groups) override {
    resize(groups);
    Vec out;
    double* o = alloc_values<double>(out, LType::kDouble, groups);
    uint8_t* valid = nullptr;
    for (size_t g = 0; g < groups; ++g) {
      const auto& s = states_[g];
      bool zero = ints_ ? s.iv == 0 : s.dv.value() == 0;
      if (s.count == 0 || zero) {
        if (!valid) valid = alloc_valid(out);
        valid[g] = 0;
        o[g] = 0;
        continue;
      }
      o[g] = ints_ ? static_cast<double>(static_cast<long double>(s.ipv) / static_cast<long double>(s.iv))
                   : s.dpv.value() / s.dv.value();
    }
    return out;
  }

 private:
  bool ints_;
};

// ------------------------------------------------- variance / stddev

class Variance : public Base<VarianceState, Variance> {
 public:
  Variance(bool sample, bool root) : sample_(sample), root_(root) {}
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override {
    auto& s = states_[g];
    const Vec& v = a[0];
    if (v.type == LType::kNull) return;
    if (v.type == LType::kDouble && !v.constant) {
      variance_add<double>(s, std::span<const double>(v.as<double>() + b, e - b), v.valid ? v.valid + b : nullptr);
      return;
    }
    for (size_t i = b; i < e; ++i)
      if (v.is_valid(i)) s.add(v.num(i));
  }
  void combine(VarianceState& x, const VarianceState& y) { x.merge(y); }
  Vec finalize(size_t groups) override {
    resize(groups);
    return finish_doubles(groups, [&](size_t g) {
      const auto& s = states_[g];
      return sample_ ? (root_ ? s.stddev_samp() : s.var_samp()) : (root_ ? s.stddev_pop() : s.var_pop());
    });
  }

 private:
  bool sample_, root_;
};

// ------------------------------------------------ median / percentile

class Quantile : public Base<std::vector<double>, Quantile> {
 public:
  explicit Quantile(double q) : q_(q) {}
  void update(size_t g, const Vec* a, size_t b, size_t e, int64_t) override {
    auto& s = states_[g];
    const Vec& v = a[0];
    if (v.type == LType::kNull) return;
    for (size_t i = b; i < e; ++i)
      if (v.is_valid(i)) s.push_back(v.num(i));
  }
  void combine(std::vector<double>& x, const std::vector<double>& y) { x.insert(x.end(), y.begin(), y.end()); }
  Vec finalize(size_t groups) override {
    resize(groups);
    return finish_doubles(groups, [&](size_t g) {
      return quantile_cont_inplace<double>(std::span<double>(states_[g]), q_);
    });
  }

 private:
  double q_;
};

template <template <typename> class Agg, typename... Args>
std::unique_ptr<Aggregator> by_phys(LType t, Args... args) {
  switch (phys_of(t)) {
    case Phys::kU8: return std::make_unique<Agg<uint8_t>>(args..., t);
    case Phys::kF64: return std::make_unique<Agg<double>>(args..., t);
    case Phys::kStr: return std::make_unique<Agg<std::string>>(args..., t);
    default: return std::make_unique<Agg<int64_t>>(args..., t);
  }
}

}  // namespace

LType aggregate_result_type(AggKind kind, LType arg, LType) {
  switch (kind) {
    case AggKind::kCountStar:
    case AggKind::kCount:
    case AggKind::kCountDistinct: return LType::kBigint;
    case AggKind::kSum: return arg == LType::kDouble ? LType::kDouble : LType::kBigint;
    case AggKind::kMin:
    case AggKind::kMax:
    case AggKind::kFirst:
    case AggKind::kLast: return arg == LType::kNull ? LType::kBigint : arg;
    default: return LType::kDouble;
  }
}

std::unique_ptr<Aggregator> make_aggregator(const AggSpec& s) {
  LType t = s.arg_type == LType::kNull ? LType::kBigint : s.arg_type;
  switch (s.kind) {
    case AggKind::kCountStar: return std::make_unique<CountStar>();
    case AggKind::kCount: return std::make_unique<Count>();
    case AggKind::kCountDistinct: return std::make_unique<CountDistinct>();
    case AggKind::kSum: return std::make_unique<Sum>(false, t);
    case AggKind::kAvg: return std::make_unique<Sum>(true, t);
    case AggKind::kMin: return by_phys<MinMax>(t, false);
    case AggKind::kMax: return by_phys<MinMax>(t, true);
    case AggKind::kFirst: return by_phys<FirstLast>(t, false, s.ordered);
    case AggKind::kLast: return by_phys<FirstLast>(t, true, s.ordered);
    case AggKind::kVwap:
      return std::make_unique<Vwap>(is_int_like(s.arg_type) && is_int_like(s.arg2_type));
    case AggKind::kStddevSamp: return std::make_unique<Variance>(true, true);
    case AggKind::kStddevPop: return std::make_unique<Variance>(false, true);
    case AggKind::kVarSamp: return std::make_unique<Variance>(true, false);
    case AggKind::kVarPop: return std::make_unique<Variance>(false, false);
    case AggKind::kMedian: return std::make_unique<Quantile>(0.5);
    case AggKind::kPercentile: return std::make_unique<Quantile>(s.param);
  }
  return nullptr;
}

void Aggregator::update_kept(size_t g, const Vec* args, size_t nargs, const uint8_t* keep, size_t n, int64_t seq) {
  std::vector<uint32_t> sel;
  for (size_t i = 0; i < n; ++i)
    if (keep[i]) sel.push_back(static_cast<uint32_t>(i));
  if (sel.empty()) return;
  std::vector<Vec> gathered;
  for (size_t a = 0; a < nargs; ++a) gathered.push_back(gather(args[a], sel.data(), sel.size()));
  update(g, gathered.data(), 0, sel.size(), seq);
}

// ------------------------------------------------------------ GroupTable

namespace {
constexpr uint32_t kNoGroup = UINT32_MAX;
}  // namespace

GroupTable::GroupTable(std::vector<LType> key_types) : types_(std::move(key_types)), null_id_(kNoGroup) {
  for (LType t : types_) builders_.emplace_back(t);
  int_key_ = types_.size() == 1 && phys_of(types_[0]) == Phys::kI64;
}

uint32_t GroupTable::add_group(const Vec* keys, size_t i, int64_t seq) {
  for (size_t c = 0; c < builders_.size(); ++c) builders_[c].append(keys[c], i);
  first_seq_.push_back(seq);
  return static_cast<uint32_t>(first_seq_.size() - 1);
}

void GroupTable::grow_int_index() {
  std::vector<int64_t> keys(std::max<size_t>(64, int_keys_.size() * 2));
  std::vector<uint32_t> ids(keys.size(), kNoGroup);
  size_t mask = keys.size() - 1;
  for (size_t s = 0; s < int_ids_.size(); ++s) {
    if (int_ids_[s] == kNoGroup) continue;
    size_t h = internal::hash64(static_cast<uint64_t>(int_keys_[s])) & mask;
    while (ids[h] != kNoGroup) h = (h + 1) & mask;
    keys[h] = int_keys_[s];
    ids[h] = int_ids_[s];
  }
  int_keys_.swap(keys);
  int_ids_.swap(ids);
}

uint32_t GroupTable::find_or_add_int(const Vec& key, size_t i, int64_t seq) {
  if (!key.is_valid(i)) {
    if (null_id_ == kNoGroup) null_id_ = add_group(&key, i, seq);
    return null_id_;
  }
  if ((size() + 1) * 2 > int_ids_.size()) grow_int_index();  // at most half full
  const int64_t x = key.i64(i);
  size_t mask = int_ids_.size() - 1, h = internal::hash64(static_cast<uint64_t>(x)) & mask;
  while (int_ids_[h] != kNoGroup && int_keys_[h] != x) h = (h + 1) & mask;
  if (int_ids_[h] == kNoGroup) {
    int_keys_[h] = x;
    int_ids_[h] = add_group(&key, i, seq);
  }
  return int_ids_[h];
}

uint32_t GroupTable::find_or_add(const std::vector<Vec>& keys, size_t i, int64_t seq) {
  if (int_key_) return find_or_add_int(keys[0], i, seq);
  scratch_.clear();
  for (const auto& k : keys) append_key(scratch_, k, i);
  auto [it, added] = index_.try_emplace(scratch_, kNoGroup);
  if (added) it->second = add_group(keys.data(), i, seq);
  return it->second;
}

std::vector<uint32_t> GroupTable::absorb(GroupTable& other) {
  std::vector<Vec> keys = other.keys();
  std::vector<uint32_t> map(other.size());
  for (size_t g = 0; g < other.size(); ++g) {
    map[g] = find_or_add(keys, g, other.first_seq_[g]);
    first_seq_[map[g]] = std::min(first_seq_[map[g]], other.first_seq_[g]);
  }
  return map;
}

std::vector<Vec> GroupTable::keys() {
  if (finished_.size() != builders_.size() || (!finished_.empty() && finished_[0].n != size())) {
    // Builders are consumed by finish(); rebuild them from what was finished.
    std::vector<Vec> out;
    for (size_t c = 0; c < builders_.size(); ++c) {
      Vec part = builders_[c].finish();
      if (c < finished_.size()) part = concat({finished_[c], part}, types_[c]);
      out.push_back(part);
    }
    finished_ = out;
  }
  return finished_;
}

}  // namespace zepto::exec
