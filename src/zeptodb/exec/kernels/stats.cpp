#include "zeptodb/exec/kernels/stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "zeptodb/exec/kernels/kernel_internal.h"

namespace zepto::exec {

namespace {

void check_p(double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw_error(ErrorCode::kInvalidArgument,
                "quantile fraction must be between 0 and 1, got " + std::to_string(p));
  }
}

template <class T>
std::vector<T> valid_values(std::span<const T> x, const uint8_t* valid) {
  if (valid == nullptr) return std::vector<T>(x.begin(), x.end());
  std::vector<T> v;
  v.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (valid[i]) v.push_back(x[i]);
  }
  return v;
}

template <class T>
auto less_fn() {
  return [](T a, T b) { return internal::less(a, b); };
}

// Double bits with -0.0 mapped to 0.0 and every NaN to one NaN.
inline uint64_t double_key(double v) {
  if (v == 0.0) return 0;
  if (std::isnan(v)) return 0x7ff8000000000000ULL;
  return std::bit_cast<uint64_t>(v);
}

}  // namespace

// ------------------------------------------------------------- quantiles

template <class T>
std::optional<double> quantile_cont_inplace(std::span<T> v, double p) {
  check_p(p);
  const size_t n = v.size();
  if (n == 0) return std::nullopt;
  const double h = static_cast<double>(n - 1) * p;
  const size_t lo = static_cast<size_t>(std::floor(h));
  std::nth_element(v.begin(), v.begin() + lo, v.end(), less_fn<T>());
  const double a = static_cast<double>(v[lo]);
  const double frac = h - static_cast<double>(lo);
  if (frac == 0.0 || lo + 1 >= n) return a;
  // The next rank is the smallest value after the nth_element pivot.
  const double b = static_cast<double>(*std::min_element(v.begin() + lo + 1, v.end(), less_fn<T>()));
  if (a == b) return a;  // also keeps equal infinities finite-free of NaN
  return a + frac * (b - a);
}

template <class T>
std::optional<T> quantile_disc_inplace(std::span<T> v, double p) {
  check_p(p);
  const size_t n = v.size();
  if (n == 0) return std::nullopt;
  // n * p within rounding error of an integer counts as that integer, so a
  // decimal p such as 0.28 behaves as the exact decimal it was written as.
  double scaled = static_cast<double>(n) * p;
  const double nearest = std::round(scaled);
  if (std::fabs(scaled - nearest) <= 1e-9 * std::max(1.0, scaled)) scaled = nearest;
  scaled = std::ceil(scaled);
  size_t k = scaled <= 1.0 ? 0 : static_cast<size_t>(scaled) - 1;
  if (k >= n) k = n - 1;
  std::nth_element(v.begin(), v.begin() + k, v.end(), less_fn<T>());
  return v[k];
}

template <class T>
std::optional<double> quantile_cont(std::span<const T> x, const uint8_t* valid, double p) {
  check_p(p);
  std::vector<T> v = valid_values(x, valid);
  return quantile_cont_inplace<T>(v, p);
}

template <class T>
std::optional<T> quantile_disc(std::span<const T> x, const uint8_t* valid, double p) {
  check_p(p);
  std::vector<T> v = valid_values(x, valid);
  return quantile_disc_inplace<T>(v, p);
}

template <class T>
std::optional<double> median(std::span<const T> x, const uint8_t* valid) {
  return quantile_cont<T>(x, valid, 0.5);
}

// ------------------------------------------------------- variance / stddev

void VarianceState::add(double x) {
  ++count;
  const double d = x - mean;
  mean += d / static_cast<double>(count);
  m2 += d * (x - mean);
}

void VarianceState::merge(const VarianceState& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  const double na = static_cast<double>(count), nb = static_cast<double>(o.count);
  const double n = na + nb;
  const double d = o.mean - mean;
  mean += d * (nb / n);
  m2 += o.m2 + d * d * (na * nb / n);
  count += o.count;
}

std::optional<double> VarianceState::var_samp() const {
  if (count < 2) return std::nullopt;
  return m2 / static_cast<double>(count - 1);
}
std::optional<double> VarianceState::var_pop() const {
  if (count == 0) return std::nullopt;
  return m2 / static_cast<double>(count);
}
std::optional<double> VarianceState::stddev_samp() const {
  auto v = var_samp();
  if (!v) return std::nullopt;
  return std::sqrt(*v);
}
std::optional<double> VarianceState::stddev_pop() const {
  auto v = var_pop();
  if (!v) return std::nullopt;
  return std::sqrt(*v);
}

template <class T>
void variance_add(VarianceState& state, std::span<const T> x, const uint8_t* valid) {
  // Exact two-pass mean and m2 per block of rows (vectorizable loops), then
  // a Chan merge into the running state: as stable as Welford, much faster.
  constexpr size_t kBlock = 1024;
  for (size_t start = 0; start < x.size(); start += kBlock) {
    const size_t len = std::min(kBlock, x.size() - start);
    const T* xs = x.data() + start;
    const uint8_t* vs = valid ? valid + start : nullptr;
    double sum = 0.0;
    int64_t cnt = 0;
    if (vs == nullptr) {
      for (size_t i = 0; i < len; ++i) sum += static_cast<double>(xs[i]);
      cnt = static_cast<int64_t>(len);
    } else {
      for (size_t i = 0; i < len; ++i) {
        sum += vs[i] ? static_cast<double>(xs[i]) : 0.0;
        cnt += vs[i] != 0;
      }
    }
    if (cnt == 0) continue;
    VarianceState block;
    block.count = cnt;
    block.mean = sum / static_cast<double>(cnt);
    double m2 = 0.0, corr = 0.0;
    for (size_t i = 0; i < len; ++i) {
      const bool ok = vs == nullptr || vs[i];
      const double d = ok ? static_cast<double>(xs[i]) - block.mean : 0.0;
      m2 += d * d;
      corr += d;
    }
    // Corrected two-pass formula: removes the rounding error of the mean.
    block.m2 = m2 - corr * corr / static_cast<double>(cnt);
    if (!(block.m2 >= 0.0) && !std::isnan(block.m2)) block.m2 = 0.0;
    state.merge(block);
  }
}

// ---------------------------------------------------------- count distinct

DistinctCounter::DistinctCounter() : slots_(16, 0) {}

void DistinctCounter::grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(old.size() * 2, 0);
  size_ = 0;
  for (uint64_t k : old) {
    if (k != 0) insert(k);
  }
}

void DistinctCounter::insert(uint64_t key) {
  if (key == 0) {
    has_zero_key_ = true;
    return;
  }
  if (2 * (size_ + 1) > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  size_t s = internal::hash64(key) & mask;
  while (slots_[s] != 0) {
    if (slots_[s] == key) return;
    s = (s + 1) & mask;
  }
  slots_[s] = key;
  ++size_;
}

namespace {

// Feeds the keys of rows [0, n) to `insert` in batches, prefetching each
// batch's slots first so the table's cache misses overlap.
template <class KeyOf, class Reserve, class Prefetch, class Insert>
void add_batched(size_t n, const uint8_t* valid, KeyOf key_of, Reserve reserve, Prefetch prefetch, Insert insert) {
  constexpr size_t kBatch = 32;
  uint64_t keys[kBatch];
  for (size_t start = 0; start < n; start += kBatch) {
    const size_t len = std::min(kBatch, n - start);
    size_t k = 0;
    for (size_t i = start; i < start + len; ++i) {
      if (is_valid(valid, i)) keys[k++] = key_of(i);
    }
    reserve(k);
    for (size_t j = 0; j < k; ++j) prefetch(keys[j]);
    for (size_t j = 0; j < k; ++j) insert(keys[j]);
  }
}

}  // namespace

void DistinctCounter::reserve_for(size_t more) {
  while (2 * (size_ + more) > slots_.size()) grow();
}

void DistinctCounter::prefetch(uint64_t key) const {
  __builtin_prefetch(&slots_[internal::hash64(key) & (slots_.size() - 1)]);
}

void DistinctCounter::add(std::span<const int64_t> x, const uint8_t* valid) {
  add_batched(
      x.size(), valid, [&](size_t i) { return static_cast<uint64_t>(x[i]); },
      [&](size_t k) { reserve_for(k); }, [&](uint64_t k) { prefetch(k); }, [&](uint64_t k) { insert(k); });
}

void DistinctCounter::add(std::span<const int32_t> x, const uint8_t* valid) {
  add_batched(
      x.size(), valid, [&](size_t i) { return static_cast<uint64_t>(static_cast<int64_t>(x[i])); },
      [&](size_t k) { reserve_for(k); }, [&](uint64_t k) { prefetch(k); }, [&](uint64_t k) { insert(k); });
}

void DistinctCounter::add(std::span<const double> x, const uint8_t* valid) {
  add_batched(
      x.size(), valid, [&](size_t i) { return double_key(x[i]); }, [&](size_t k) { reserve_for(k); },
      [&](uint64_t k) { prefetch(k); }, [&](uint64_t k) { insert(k); });
}

void DistinctCounter::merge(const DistinctCounter& other) {
  if (other.has_zero_key_) has_zero_key_ = true;
  for (uint64_t k : other.slots_) {
    if (k != 0) insert(k);
  }
}

#define ZEPTO_STATS_INSTANTIATE(T)                                                                 \
  template std::optional<double> quantile_cont<T>(std::span<const T>, const uint8_t*, double);     \
  template std::optional<T> quantile_disc<T>(std::span<const T>, const uint8_t*, double);          \
  template std::optional<double> median<T>(std::span<const T>, const uint8_t*);                    \
  template std::optional<double> quantile_cont_inplace<T>(std::span<T>, double);                   \
  template std::optional<T> quantile_disc_inplace<T>(std::span<T>, double);                        \
  template void variance_add<T>(VarianceState&, std::span<const T>, const uint8_t*);

ZEPTO_STATS_INSTANTIATE(int32_t)
ZEPTO_STATS_INSTANTIATE(int64_t)
ZEPTO_STATS_INSTANTIATE(double)
#undef ZEPTO_STATS_INSTANTIATE

}  // namespace zepto::exec
