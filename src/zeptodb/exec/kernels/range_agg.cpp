#include "zeptodb/exec/kernels/range_agg.h"

#include <vector>

#include "zeptodb/exec/kernels/kernel_internal.h"

namespace zepto::exec {

namespace {

bool monotone(std::span<const int64_t> begin, std::span<const int64_t> end) {
  for (size_t k = 1; k < begin.size(); ++k) {
    if (begin[k] < begin[k - 1] || end[k] < end[k - 1]) return false;
  }
  return true;
}

// prefix[k] = number of valid rows among the first k.
std::vector<int64_t> valid_prefix(const uint8_t* valid, size_t rows) {
  std::vector<int64_t> p(rows + 1);
  p[0] = 0;
  for (size_t i = 0; i < rows; ++i) p[i + 1] = p[i] + (valid[i] != 0);
  return p;
}

// Range sums: calls emit(k, sum, count) for every range, where sum is an
// exact __int128 for integers and the IEEE double sum for doubles.
template <class T, class Emit>
void range_sums(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                std::span<const int64_t> end, Emit&& emit) {
  const size_t m = x.size();
  std::vector<int64_t> cnt;
  if (valid != nullptr) cnt = valid_prefix(valid, m);
  auto count = [&](int64_t b, int64_t e) { return valid ? cnt[e] - cnt[b] : e - b; };
  if constexpr (std::is_floating_point_v<T>) {
    const internal::DoubleSumPrefix sums(x, valid);
    for (size_t k = 0; k < begin.size(); ++k) {
      const int64_t b = begin[k], e = end[k];
      const int64_t c = count(b, e);
      emit(k, c > 0 ? sums.sum(b, e) : 0.0, c);
    }
  } else {
    std::vector<__int128> p(m + 1);
    p[0] = 0;
    for (size_t i = 0; i < m; ++i) p[i + 1] = p[i] + (is_valid(valid, i) ? x[i] : T{0});
    for (size_t k = 0; k < begin.size(); ++k) {
      const int64_t b = begin[k], e = end[k];
      emit(k, p[e] - p[b], count(b, e));
    }
  }
}

// Min/max of arbitrary ranges with a bottom-up segment tree over the
// indices of the best valid value (-1 = none).
template <class T, class Better>
void segment_tree_extreme(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                          std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid,
                          Better better) {
  const size_t m = x.size();
  std::vector<int64_t> tree(2 * m, -1);
  auto pick = [&](int64_t a, int64_t b) {
    if (a < 0) return b;
    if (b < 0) return a;
    if (better(x[b], x[a])) return b;
    if (better(x[a], x[b])) return a;
    return a < b ? a : b;  // the earlier row wins ties, in any combining order
  };
  for (size_t i = 0; i < m; ++i) tree[m + i] = is_valid(valid, i) ? static_cast<int64_t>(i) : -1;
  for (size_t i = m; i-- > 1;) tree[i] = pick(tree[2 * i], tree[2 * i + 1]);
  for (size_t k = 0; k < begin.size(); ++k) {
    int64_t best = -1;
    for (size_t l = begin[k] + m, r = end[k] + m; l < r; l >>= 1, r >>= 1) {
      if (l & 1) best = pick(best, tree[l++]);
      if (r & 1) best = pick(best, tree[--r]);
    }
    out_valid[k] = best >= 0;
    out[k] = best >= 0 ? x[best] : T{};
  }
}

template <class T, class Better>
void range_extreme(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                   std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid, Better better) {
  if (!monotone(begin, end)) {
    segment_tree_extreme<T>(x, valid, begin, end, out, out_valid, better);
    return;
  }
  internal::sliding_extreme<T>(
      x, valid, begin.size(), better, [&](size_t k) { return std::pair<int64_t, int64_t>{begin[k], end[k]}; },
      [&](size_t k, int64_t idx) {
        out_valid[k] = idx >= 0;
        out[k] = idx >= 0 ? x[idx] : T{};
      });
}

}  // namespace

template <class T>
void range_sum(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<sum_type_t<T>> out, std::span<uint8_t> out_valid) {
  range_sums<T>(x, valid, begin, end, [&](size_t k, const auto& s, int64_t count) {
    out_valid[k] = count > 0;
    if constexpr (std::is_floating_point_v<T>) {
      out[k] = s;
    } else {
      out[k] = count > 0 ? internal::checked_int64(s, "range") : 0;
    }
  });
}

template <class T>
void range_avg(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<double> out, std::span<uint8_t> out_valid) {
  range_sums<T>(x, valid, begin, end, [&](size_t k, const auto& s, int64_t count) {
    out_valid[k] = count > 0;
    if (count == 0) {
      out[k] = 0.0;
    } else if constexpr (std::is_floating_point_v<T>) {
      out[k] = s / static_cast<double>(count);
    } else {
      out[k] = static_cast<double>(static_cast<long double>(s) / count);
    }
  });
}

void range_count(const uint8_t* valid, size_t rows, std::span<const int64_t> begin, std::span<const int64_t> end,
                 std::span<int64_t> out) {
  if (valid == nullptr) {
    for (size_t k = 0; k < begin.size(); ++k) out[k] = end[k] - begin[k];
    return;
  }
  const std::vector<int64_t> p = valid_prefix(valid, rows);
  for (size_t k = 0; k < begin.size(); ++k) out[k] = p[end[k]] - p[begin[k]];
}

template <class T>
void range_min(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid) {
  range_extreme<T>(x, valid, begin, end, out, out_valid, [](T a, T b) { return internal::less(a, b); });
}

template <class T>
void range_max(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
               std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid) {
  range_extreme<T>(x, valid, begin, end, out, out_valid, [](T a, T b) { return internal::less(b, a); });
}

template <class T>
void range_first(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                 std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid,
                 bool ignore_nulls) {
  if (valid == nullptr || !ignore_nulls) {
    for (size_t k = 0; k < begin.size(); ++k) {
      const bool ok = begin[k] < end[k] && is_valid(valid, begin[k]);
      out_valid[k] = ok;
      out[k] = ok ? x[begin[k]] : T{};
    }
    return;
  }
  // next[i] = the first valid row at or after i (x.size() if none).
  const size_t m = x.size();
  std::vector<int64_t> next(m + 1);
  next[m] = static_cast<int64_t>(m);
  for (size_t i = m; i-- > 0;) next[i] = valid[i] ? static_cast<int64_t>(i) : next[i + 1];
  for (size_t k = 0; k < begin.size(); ++k) {
    const int64_t r = next[begin[k]];
    const bool ok = r < end[k];
    out_valid[k] = ok;
    out[k] = ok ? x[r] : T{};
  }
}

template <class T>
void range_last(std::span<const T> x, const uint8_t* valid, std::span<const int64_t> begin,
                std::span<const int64_t> end, std::span<T> out, std::span<uint8_t> out_valid, bool ignore_nulls) {
  if (valid == nullptr || !ignore_nulls) {
    for (size_t k = 0; k < begin.size(); ++k) {
      const bool ok = begin[k] < end[k] && is_valid(valid, end[k] - 1);
      out_valid[k] = ok;
      out[k] = ok ? x[end[k] - 1] : T{};
    }
    return;
  }
  // prev[i] = the last valid row before i (-1 if none).
  const size_t m = x.size();
  std::vector<int64_t> prev(m + 1);
  prev[0] = -1;
  for (size_t i = 0; i < m; ++i) prev[i + 1] = valid[i] ? static_cast<int64_t>(i) : prev[i];
  for (size_t k = 0; k < begin.size(); ++k) {
    const int64_t r = prev[end[k]];
    const bool ok = r >= begin[k];
    out_valid[k] = ok;
    out[k] = ok ? x[r] : T{};
  }
}

#define ZEPTO_RANGE_INSTANTIATE(T)                                                                          \
  template void range_sum<T>(std::span<const T>, const uint8_t*, std::span<const int64_t>,                  \
                             std::span<const int64_t>, std::span<sum_type_t<T>>, std::span<uint8_t>);       \
  template void range_avg<T>(std::span<const T>, const uint8_t*, std::span<const int64_t>,                  \
                             std::span<const int64_t>, std::span<double>, std::span<uint8_t>);              \
  template void range_min<T>(std::span<const T>, const uint8_t*, std::span<const int64_t>,                  \
                             std::span<const int64_t>, std::span<T>, std::span<uint8_t>);                   \
  template void range_max<T>(std::span<const T>, const uint8_t*, std::span<const int64_t>,                  \
                             std::span<const int64_t>, std::span<T>, std::span<uint8_t>);                   \
  template void range_first<T>(std::span<const T>, const uint8_t*, std::span<const int64_t>,                \
                               std::span<const int64_t>, std::span<T>, std::span<uint8_t>, bool);           \
  template void range_last<T>(std::span<const T>, const uint8_t*, std::span<const int64_t>,                 \
                              std::span<const int64_t>, std::span<T>, std::span<uint8_t>, bool);

ZEPTO_RANGE_INSTANTIATE(int32_t)
ZEPTO_RANGE_INSTANTIATE(int64_t)
ZEPTO_RANGE_INSTANTIATE(double)
#undef ZEPTO_RANGE_INSTANTIATE

}  // namespace zepto::exec
