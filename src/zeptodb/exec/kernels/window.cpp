#include "zeptodb/exec/kernels/window.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "zeptodb/common/error.h"
#include "zeptodb/exec/kernels/kernel_internal.h"

namespace zepto::exec {

namespace {

// Frame [b, e) of row i in a partition of n rows, clamped to [0, n].
struct FrameRange {
  int64_t b, e;
};

inline int64_t clamp128(__int128 v, int64_t n) {
  return v < 0 ? 0 : v > n ? n : static_cast<int64_t>(v);
}

inline FrameRange frame_at(RowsFrame f, int64_t i, int64_t n) {
  const int64_t b = f.preceding == kUnbounded ? 0 : clamp128(static_cast<__int128>(i) - f.preceding, n);
  const int64_t e = f.following == kUnbounded ? n : clamp128(static_cast<__int128>(i) + f.following + 1, n);
  return {b, std::max(b, e)};
}

// Moves a window [cb, ce) forward to each row's frame, calling add(j) for
// rows entering and remove(j) for rows leaving, then emit(i). Frames only
// move forward, so the total work is O(n).
template <class Add, class Remove, class Emit>
void slide(int64_t n, RowsFrame f, Add&& add, Remove&& remove, Emit&& emit) {
  int64_t cb = 0, ce = 0;
  for (int64_t i = 0; i < n; ++i) {
    const FrameRange r = frame_at(f, i, n);
    if (r.b >= ce) {  // disjoint from the current window: restart it
      for (int64_t j = cb; j < ce; ++j) remove(j);
      cb = ce = r.b;
    }
    for (; ce < r.e; ++ce) add(ce);
    for (; cb < r.b; ++cb) remove(cb);
    emit(i);
  }
}

// Exact sum and count of the valid integers in a sliding frame (128-bit,
// so the running total itself can never overflow).
template <class T, class Emit>
void slide_int_sum(std::span<const T> x, const uint8_t* valid, RowsFrame frame, Emit&& emit) {
  __int128 total = 0;
  int64_t count = 0;
  const int64_t n = static_cast<int64_t>(x.size());
  auto add = [&](int64_t j) {
    if (!is_valid(valid, j)) return;
    ++count;
    total += x[j];
  };
  auto remove = [&](int64_t j) {
    if (!is_valid(valid, j)) return;
    --count;
    total -= x[j];
  };
  slide(n, frame, add, remove, [&](int64_t i) { emit(i, total, count); });
}

// Sum and count of the valid doubles of every frame from prefix totals.
template <class Emit>
void frame_double_sums(std::span<const double> x, const uint8_t* valid, RowsFrame frame, Emit&& emit) {
  const int64_t n = static_cast<int64_t>(x.size());
  const internal::DoubleSumPrefix sums(x, valid);
  std::vector<int64_t> counts;
  if (valid != nullptr) {
    counts.resize(n + 1);
    counts[0] = 0;
    for (int64_t i = 0; i < n; ++i) counts[i + 1] = counts[i] + (valid[i] != 0);
  }
  for (int64_t i = 0; i < n; ++i) {
    const FrameRange r = frame_at(frame, i, n);
    const int64_t count = valid ? counts[r.e] - counts[r.b] : r.e - r.b;
    emit(i, count > 0 ? sums.sum(r.b, r.e) : 0.0, count);
  }
}

// MIN / MAX of every frame with block prefix/suffix extremes (van Herk /
// Gil-Werman): with block width W = the frame width, any frame spans at
// most two blocks, so its extreme is the suffix extreme of its first block
// combined with the prefix extreme of its last. Three branch-light passes,
// O(n) whatever the frame. NULLs become `identity` (an element no valid
// value is worse than); a frame's validity comes from its valid count.
template <class T, class Better>
void window_extreme(std::span<const T> x, const uint8_t* valid, RowsFrame frame, std::span<T> out,
                    std::span<uint8_t> out_valid, Better better, T identity) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (n == 0) return;
  auto comb = [&](T a, T b) { return better(b, a) ? b : a; };
  std::vector<T> v;
  if (valid != nullptr) {
    v.resize(n);
    for (int64_t i = 0; i < n; ++i) v[i] = valid[i] ? x[i] : identity;
  }
  const T* xs = valid ? v.data() : x.data();
  std::vector<int64_t> counts;
  if (valid != nullptr) {
    counts.resize(n + 1);
    counts[0] = 0;
    for (int64_t i = 0; i < n; ++i) counts[i + 1] = counts[i] + (valid[i] != 0);
  }
  auto emit = [&](int64_t i, const FrameRange& r, T value) {
    const bool ok = valid ? counts[r.e] > counts[r.b] : r.e > r.b;
    out_valid[i] = ok;
    out[i] = ok ? value : T{};
  };

  const __int128 width = frame.preceding == kUnbounded || frame.following == kUnbounded
                             ? static_cast<__int128>(n)
                             : static_cast<__int128>(frame.preceding) + frame.following + 1;
  if (width <= 0) {  // every frame is empty
    for (int64_t i = 0; i < n; ++i) emit(i, FrameRange{0, 0}, T{});
    return;
  }
  // Block width; frames as wide as the partition are one block, whose
  // frames all touch row 0 or row n - 1.
  const int64_t w = width >= n ? n : static_cast<int64_t>(width);
  std::vector<T> pre(n), suf(n);
  for (int64_t blk = 0; blk < n; blk += w) {
    const int64_t end = std::min(n, blk + w);
    pre[blk] = xs[blk];
    for (int64_t i = blk + 1; i < end; ++i) pre[i] = comb(pre[i - 1], xs[i]);
    suf[end - 1] = xs[end - 1];
    for (int64_t i = end - 1; i-- > blk;) suf[i] = comb(xs[i], suf[i + 1]);
  }
  int64_t bblk = 0, lblk = 0;  // block starts of b and e - 1 (both only move forward)
  for (int64_t i = 0; i < n; ++i) {
    const FrameRange r = frame_at(frame, i, n);
    if (r.b >= r.e) {
      emit(i, r, T{});
      continue;
    }
    const int64_t last = r.e - 1;
    while (r.b >= bblk + w) bblk += w;
    while (last >= lblk + w) lblk += w;
    T value;
    if (bblk != lblk) value = comb(suf[r.b], pre[last]);
    else if (r.b == bblk) value = pre[last];  // frame starts its block
    else value = suf[r.b];                    // frame ends its block (or the partition)
    emit(i, r, value);
  }
}

template <class T>
constexpr T lowest_of() {
  if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}

template <class T>
constexpr T highest_of() {  // NaN is the greatest double
  if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::quiet_NaN();
  else return std::numeric_limits<T>::max();
}

}  // namespace

void row_number(std::span<int64_t> out) {
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(i) + 1;
}

void rank(std::span<const uint8_t> peer_start, std::span<int64_t> out) {
  int64_t r = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == 0 || peer_start[i]) r = static_cast<int64_t>(i) + 1;
    out[i] = r;
  }
}

void dense_rank(std::span<const uint8_t> peer_start, std::span<int64_t> out) {
  int64_t r = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    r += (i == 0 || peer_start[i]) ? 1 : 0;
    out[i] = r;
  }
}

template <class T>
void window_sum(std::span<const T> x, const uint8_t* valid, RowsFrame frame, std::span<sum_type_t<T>> out,
                std::span<uint8_t> out_valid) {
  if constexpr (std::is_floating_point_v<T>) {
    frame_double_sums(x, valid, frame, [&](int64_t i, double sum, int64_t count) {
      out_valid[i] = count > 0;
      out[i] = sum;
    });
  } else {
    slide_int_sum<T>(x, valid, frame, [&](int64_t i, __int128 sum, int64_t count) {
      out_valid[i] = count > 0;
      out[i] = count > 0 ? internal::checked_int64(sum, "window") : 0;
    });
  }
}

template <class T>
void window_avg(std::span<const T> x, const uint8_t* valid, RowsFrame frame, std::span<double> out,
                std::span<uint8_t> out_valid) {
  if constexpr (std::is_floating_point_v<T>) {
    frame_double_sums(x, valid, frame, [&](int64_t i, double sum, int64_t count) {
      out_valid[i] = count > 0;
      out[i] = count > 0 ? sum / static_cast<double>(count) : 0.0;
    });
  } else {
    slide_int_sum<T>(x, valid, frame, [&](int64_t i, __int128 sum, int64_t count) {
      out_valid[i] = count > 0;
      out[i] = count > 0 ? static_cast<double>(static_cast<long double>(sum) / count) : 0.0;
    });
  }
}

template <class T>
void window_min(std::span<const T> x, const uint8_t* valid, RowsFrame frame, std::span<T> out,
                std::span<uint8_t> out_valid) {
  window_extreme<T>(
      x, valid, frame, out, out_valid, [](T a, T b) { return internal::less(a, b); }, highest_of<T>());
}

template <class T>
void window_max(std::span<const T> x, const uint8_t* valid, RowsFrame frame, std::span<T> out,
                std::span<uint8_t> out_valid) {
  window_extreme<T>(
      x, valid, frame, out, out_valid, [](T a, T b) { return internal::less(b, a); }, lowest_of<T>());
}

void window_count(const uint8_t* valid, RowsFrame frame, std::span<int64_t> out) {
  const int64_t n = static_cast<int64_t>(out.size());
  if (valid == nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      const FrameRange r = frame_at(frame, i, n);
      out[i] = r.e - r.b;
    }
    return;
  }
  int64_t count = 0;
  slide(
      n, frame, [&](int64_t j) { count += valid[j] != 0; }, [&](int64_t j) { count -= valid[j] != 0; },
      [&](int64_t i) { out[i] = count; });
}

template <class T>
void broadcast_peer_last(std::span<const uint8_t> peer_start, std::span<T> out, std::span<uint8_t> out_valid) {
  const size_t n = out.size();
  size_t last = n;  // last row of the current group, scanning backwards
  for (size_t i = n; i-- > 0;) {
    if (i + 1 == n || peer_start[i + 1]) last = i;
    out[i] = out[last];
    if (!out_valid.empty()) out_valid[i] = out_valid[last];
  }
}

double ema_alpha(double a) {
  if (!(a > 0)) {
    throw_error(ErrorCode::kInvalidArgument,
                "ema(x, a): a must be a period >= 1 or a smoothing factor in (0, 1), got " + std::to_string(a));
  }
  return a >= 1 ? 2.0 / (a + 1.0) : a;
}

template <class T>
void ema(std::span<const T> x, const uint8_t* valid, double alpha_or_period, std::span<double> out,
         std::span<uint8_t> out_valid) {
  const double alpha = ema_alpha(alpha_or_period);
  const double keep = 1.0 - alpha;
  bool seeded = false;
  double e = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (is_valid(valid, i)) {
      const double v = static_cast<double>(x[i]);
      e = seeded ? alpha * v + keep * e : v;
      seeded = true;
    }
    out[i] = e;
    out_valid[i] = seeded;
  }
}

template <class T>
void delta(std::span<const T> x, const uint8_t* valid, std::span<T> out, std::span<uint8_t> out_valid) {
  const size_t n = x.size();
  if (n == 0) return;
  out[0] = x[0];
  out_valid[0] = is_valid(valid, 0);
  bool overflow = false;
  for (size_t i = 1; i < n; ++i) {
    const bool ok = is_valid(valid, i) && is_valid(valid, i - 1);
    out_valid[i] = ok;
    if constexpr (std::is_floating_point_v<T>) {
      out[i] = x[i] - x[i - 1];
    } else {
      T r;
      overflow |= __builtin_sub_overflow(x[i], x[i - 1], &r) & ok;
      out[i] = r;
    }
  }
  if (overflow) throw_error(ErrorCode::kInvalidArgument, "integer overflow in delta(x): a difference does not fit");
}

void rank_partitioned(RankKind kind, std::span<const int64_t> offsets, std::span<const int64_t> order,
                      std::span<const uint8_t> peer_start, std::span<int64_t> out) {
  std::vector<int64_t> sorted;
  std::span<int64_t> dst = out;
  if (!order.empty()) {
    sorted.resize(order.size());
    dst = sorted;
  }
  for_each_partition(offsets, [&](size_t, int64_t b, int64_t e) {
    const size_t len = static_cast<size_t>(e - b);
    std::span<int64_t> o = dst.subspan(b, len);
    switch (kind) {
      case RankKind::kRowNumber: row_number(o); break;
      case RankKind::kRank: rank(peer_start.subspan(b, len), o); break;
      case RankKind::kDenseRank: dense_rank(peer_start.subspan(b, len), o); break;
    }
  });
  if (!order.empty()) scatter<int64_t>(sorted, order, out);
}

#define ZEPTO_WINDOW_INSTANTIATE(T)                                                                       \
  template void window_sum<T>(std::span<const T>, const uint8_t*, RowsFrame, std::span<sum_type_t<T>>,   \
                              std::span<uint8_t>);                                                        \
  template void window_avg<T>(std::span<const T>, const uint8_t*, RowsFrame, std::span<double>,           \
                              std::span<uint8_t>);                                                        \
  template void window_min<T>(std::span<const T>, const uint8_t*, RowsFrame, std::span<T>,                \
                              std::span<uint8_t>);                                                        \
  template void window_max<T>(std::span<const T>, const uint8_t*, RowsFrame, std::span<T>,                \
                              std::span<uint8_t>);                                                        \
  template void ema<T>(std::span<const T>, const uint8_t*, double, std::span<double>, std::span<uint8_t>); \
  template void delta<T>(std::span<const T>, const uint8_t*, std::span<T>, std::span<uint8_t>);           \
  template void broadcast_peer_last<T>(std::span<const uint8_t>, std::span<T>, std::span<uint8_t>);

ZEPTO_WINDOW_INSTANTIATE(int32_t)
ZEPTO_WINDOW_INSTANTIATE(int64_t)
ZEPTO_WINDOW_INSTANTIATE(double)
#undef ZEPTO_WINDOW_INSTANTIATE

}  // namespace zepto::exec
