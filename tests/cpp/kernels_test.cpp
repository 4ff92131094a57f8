// Tests of the exec kernels against naive reference implementations over
// seeded random inputs, plus the edge cases each kernel documents.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/exec/kernels/grouping.h"
#include "zeptodb/exec/kernels/join.h"
#include "zeptodb/exec/kernels/range_agg.h"
#include "zeptodb/exec/kernels/stats.h"
#include "zeptodb/exec/kernels/window.h"

namespace zepto::exec {
namespace {

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A column with optional NULLs.
template <class T>
struct Column {
  std::vector<T> x;
  std::vector<uint8_t> v;  // empty = all valid
  const uint8_t* valid() const { return v.empty() ? nullptr : v.data(); }
  bool ok(size_t i) const { return v.empty() || v[i]; }
  size_t size() const { return x.size(); }
};

// Random column of n values; about null_pct % NULLs (no validity array when
// null_pct is 0). Integers in [lo, hi]; doubles uniform in [lo, hi] with a
// few special values when `specials`.
template <class T>
Column<T> random_column(std::mt19937_64& rng, size_t n, int null_pct, int64_t lo, int64_t hi,
                        bool specials = false) {
  Column<T> c;
  c.x.resize(n);
  std::uniform_int_distribution<int64_t> di(lo, hi);
  std::uniform_real_distribution<double> dd(static_cast<double>(lo), static_cast<double>(hi));
  std::uniform_int_distribution<int> pct(0, 99);
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      c.x[i] = dd(rng);
      if (specials && pct(rng) < 3) {
        const double sp[] = {kNaN, kInf, -kInf, 0.0, -0.0};
        c.x[i] = sp[pct(rng) % 5];
      }
    } else {
      c.x[i] = static_cast<T>(di(rng));
    }
  }
  if (null_pct > 0) {
    c.v.resize(n);
    for (size_t i = 0; i < n; ++i) c.v[i] = pct(rng) >= null_pct;
  }
  return c;
}

// Equality for results: NaN == NaN, and doubles within `tol` (absolute).
bool same(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= tol;
}
bool same(int64_t a, int64_t b, double) { return a == b; }
bool same(int32_t a, int32_t b, double) { return a == b; }

// NaN-above-everything ordering of the kernels.
template <class T>
bool ref_less(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
  }
  return a < b;
}

// ----------------------------------------------------------------- window

// Naive frame bounds, independent of the kernel's arithmetic.
std::pair<int64_t, int64_t> ref_frame(RowsFrame f, int64_t i, int64_t n) {
  __int128 b = f.preceding == kUnbounded ? 0 : static_cast<__int128>(i) - f.preceding;
  __int128 e = f.following == kUnbounded ? n - 1 : static_cast<__int128>(i) + f.following;  // inclusive
  if (b < 0) b = 0;
  if (e > n - 1) e = n - 1;
  if (b > e) return {0, 0};
  return {static_cast<int64_t>(b), static_cast<int64_t>(e) + 1};
}

struct RefAgg {
  bool any = false;
  int64_t count = 0;
  long double dsum = 0;
  __int128 isum = 0;
  double mn = 0, mx = 0;
  bool nan = false, pinf = false, ninf = false;
};

template <class T>
RefAgg ref_aggregate(const Column<T>& c, int64_t b, int64_t e) {
  RefAgg r;
  for (int64_t j = b; j < e; ++j) {
    if (!c.ok(j)) continue;
    const T v = c.x[j];
    if (!r.any || ref_less<T>(v, static_cast<T>(r.mn))) r.mn = static_cast<double>(v);
    if (!r.any || ref_less<T>(static_cast<T>(r.mx), v)) r.mx = static_cast<double>(v);
    r.any = true;
    ++r.count;
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v)) r.nan = true;
      else if (v == kInf) r.pinf = true;
      else if (v == -kInf) r.ninf = true;
      else r.dsum += v;
    } else {
      r.isum += v;
    }
  }
  return r;
}

double ref_sum_double(const RefAgg& r) {
  if (r.nan || (r.pinf && r.ninf)) return kNaN;
  if (r.pinf) return kInf;
  if (r.ninf) return -kInf;
  return static_cast<double>(r.dsum);
}

// Checks one frame's or range's sum/avg/min/max against the reference.
template <class T>
void expect_matches(const RefAgg& r, sum_type_t<T> sum, double avg, T mn, T mx, double tol) {
  if constexpr (std::is_floating_point_v<T>) {
    EXPECT_TRUE(same(sum, ref_sum_double(r), tol)) << sum << " vs " << ref_sum_double(r);
    EXPECT_TRUE(same(avg, ref_sum_double(r) / r.count, tol)) << avg;
    EXPECT_TRUE(same(mn, r.mn, 0)) << mn << " vs " << r.mn;
    EXPECT_TRUE(same(mx, r.mx, 0)) << mx << " vs " << r.mx;
  } else {
    EXPECT_EQ(sum, static_cast<int64_t>(r.isum));
    EXPECT_NEAR(avg, static_cast<double>(r.isum) / r.count, 1e-9);
    EXPECT_EQ(mn, static_cast<T>(r.mn));
    EXPECT_EQ(mx, static_cast<T>(r.mx));
  }
}

const RowsFrame kFrames[] = {
    RowsFrame::running(), RowsFrame::whole(), RowsFrame::moving(0), RowsFrame::moving(1),
    RowsFrame::moving(4), {kUnbounded, 3}, {2, kUnbounded}, {0, kUnbounded}, {3, 2}, {-1, 3},
    {5, -2}, {-3, 1},  // empty everywhere (start after end)
    {1000, 1000}, {0, 0}, {-2, kUnbounded}, {kUnbounded, -1}, {kI64Max - 1, 2}, {3, kI64Max - 1},
};

template <class T>
void check_frame_aggregates(const Column<T>& c, RowsFrame f, double tol) {
  const size_t n = c.size();
  std::vector<sum_type_t<T>> sum(n);
  std::vector<double> avg(n);
  std::vector<T> mn(n), mx(n);
  std::vector<int64_t> cnt(n), cnt_star(n);
  std::vector<uint8_t> vs(n), va(n), vmn(n), vmx(n);
  window_sum<T>(c.x, c.valid(), f, sum, vs);
  window_avg<T>(c.x, c.valid(), f, avg, va);
  window_min<T>(c.x, c.valid(), f, mn, vmn);
  window_max<T>(c.x, c.valid(), f, mx, vmx);
  window_count(c.valid(), f, cnt);
  window_count(nullptr, f, cnt_star);
  for (size_t i = 0; i < n; ++i) {
    const auto [b, e] = ref_frame(f, static_cast<int64_t>(i), static_cast<int64_t>(n));
    const RefAgg r = ref_aggregate(c, b, e);
    SCOPED_TRACE(::testing::Message() << "row " << i << " frame [" << b << "," << e << ") of " << n
                                      << " preceding=" << f.preceding << " following=" << f.following);
    ASSERT_EQ(cnt[i], r.count);
    ASSERT_EQ(cnt_star[i], e - b);
    ASSERT_EQ(vs[i], r.any);
    ASSERT_EQ(va[i], r.any);
    ASSERT_EQ(vmn[i], r.any);
    ASSERT_EQ(vmx[i], r.any);
    if (!r.any) continue;
    expect_matches<T>(r, sum[i], avg[i], mn[i], mx[i], tol);
    ASSERT_FALSE(::testing::Test::HasFailure());  // stop at the first bad row
  }
}

TEST(KernelWindow, FrameAggregatesMatchNaiveInt64) {
  std::mt19937_64 rng(1);
  for (size_t n : {0, 1, 2, 3, 5, 17, 64, 301}) {
    for (int null_pct : {0, 30, 100}) {
      const auto c = random_column<int64_t>(rng, n, null_pct, -50, 50);
      for (RowsFrame f : kFrames) check_frame_aggregates(c, f, 0);
    }
  }
}

TEST(KernelWindow, FrameAggregatesMatchNaiveInt32) {
  std::mt19937_64 rng(2);
  for (size_t n : {0, 1, 9, 200}) {
    const auto c = random_column<int32_t>(rng, n, 20, -1000000, 1000000);
    for (RowsFrame f : kFrames) check_frame_aggregates(c, f, 0);
  }
}

TEST(KernelWindow, FrameAggregatesMatchNaiveDouble) {
  std::mt19937_64 rng(3);
  for (size_t n : {0, 1, 2, 7, 64, 257}) {
    for (int null_pct : {0, 25, 100}) {
      const auto c = random_column<double>(rng, n, null_pct, -1000, 1000);
      for (RowsFrame f : kFrames) check_frame_aggregates(c, f, 1e-9);
    }
  }
}

TEST(KernelWindow, FrameAggregatesWithNaNAndInfinity) {
  std::mt19937_64 rng(4);
  for (size_t n : {1, 5, 40, 300}) {
    const auto c = random_column<double>(rng, n, 15, -10, 10, /*specials=*/true);
    for (RowsFrame f : kFrames) check_frame_aggregates(c, f, 1e-9);
  }
  // An infinity leaves the moving sum when it leaves the frame.
  std::vector<double> x = {1, kInf, 2, 3, 4};
  std::vector<double> out(5);
  std::vector<uint8_t> ov(5);
  window_sum<double>(x, nullptr, RowsFrame::moving(1), out, ov);
  EXPECT_EQ(out, (std::vector<double>{1, kInf, kInf, 5, 7}));
  // NaN is the maximum, and the minimum only when nothing else is there.
  std::vector<double> y = {kNaN, 3, kNaN};
  std::vector<double> mn(3), mx(3);
  window_min<double>(y, nullptr, RowsFrame::running(), mn, ov);
  window_max<double>(y, nullptr, RowsFrame::running(), mx, ov);
  EXPECT_TRUE(std::isnan(mn[0]));
  EXPECT_EQ(mn[1], 3);
  EXPECT_EQ(mn[2], 3);
  EXPECT_TRUE(std::isnan(mx[1]));
}

TEST(KernelWindow, DoubleSumIsCompensated) {
  // Large and small magnitudes: a plain double running sum loses the 1s.
  std::vector<double> x = {1e17, 1, 1, 1, 1, -1e17, 1};
  std::vector<double> out(x.size());
  std::vector<uint8_t> ov(x.size());
  window_sum<double>(x, nullptr, RowsFrame::running(), out, ov);
  EXPECT_EQ(out[5], 4.0);
  EXPECT_EQ(out[6], 5.0);
  window_sum<double>(x, nullptr, RowsFrame::moving(2), out, ov);
  EXPECT_EQ(out[6], static_cast<double>(-1e17L + 2));
  EXPECT_EQ(out[4], 3.0);                                   // 1 + 1 + 1 after 1e17 left
}

TEST(KernelWindow, MovingSumStaysAccurateOverLongPartitions) {
  // The running total grows to ~1e18 while each frame sums to ~3e12: the
  // frame sums must keep full double precision.
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> d(-0.5, 0.5);
  std::vector<double> x(300000);
  for (auto& v : x) v = 1e12 + d(rng);
  std::vector<double> out(x.size());
  std::vector<uint8_t> ov(x.size());
  window_sum<double>(x, nullptr, RowsFrame::moving(2), out, ov);
  for (size_t i = 2; i < x.size(); i += 997) {
    const long double exact = static_cast<long double>(x[i - 2]) + x[i - 1] + x[i];
    ASSERT_NEAR(out[i], static_cast<double>(exact), 2e-3) << i;  // 1 ulp of 3e12 is 4.9e-4
  }
  // Sums whose running total overflows a double stay right.
  std::vector<double> big = {1e308, 1e308, -1e308, -1e308, 5};
  std::vector<double> o5(5);
  std::vector<uint8_t> v5(5);
  window_sum<double>(big, nullptr, RowsFrame::moving(1), o5, v5);
  EXPECT_EQ(o5, (std::vector<double>{1e308, kInf, 0.0, -kInf, -1e308 + 5}));
  window_sum<double>(big, nullptr, RowsFrame::moving(0), o5, v5);
  EXPECT_EQ(o5, big);
  std::vector<int64_t> b = {0, 1}, e = {3, 5};
  std::vector<double> rs(2);
  std::vector<uint8_t> rv(2);
  range_sum<double>(big, nullptr, b, e, rs, rv);
  EXPECT_EQ(rs, (std::vector<double>{1e308, -1e308 + 5}));
}

TEST(KernelWindow, IntegerSumOverflowIsAnErrorOnlyWhenAFrameOverflows) {
  std::vector<int64_t> x = {kI64Max, 1};
  std::vector<int64_t> out(2);
  std::vector<uint8_t> ov(2);
  EXPECT_THROW(window_sum<int64_t>(x, nullptr, RowsFrame::running(), out, ov), Error);
  try {
    window_sum<int64_t>(x, nullptr, RowsFrame::running(), out, ov);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos);
  }
  EXPECT_NO_THROW(window_sum<int64_t>(x, nullptr, RowsFrame::moving(0), out, ov));
  EXPECT_EQ(out, (std::vector<int64_t>{kI64Max, 1}));
  // The sliding total passes 2^63 internally, but every frame fits.
  std::vector<int64_t> y = {kI64Max, -5, kI64Max};
  std::vector<int64_t> o3(3);
  std::vector<uint8_t> v3(3);
  window_sum<int64_t>(y, nullptr, RowsFrame::moving(1), o3, v3);
  EXPECT_EQ(o3, (std::vector<int64_t>{kI64Max, kI64Max - 5, kI64Max - 5}));
  // avg never overflows.
  std::vector<double> avg(2);
  window_avg<int64_t>(x, nullptr, RowsFrame::running(), avg, ov);
  EXPECT_DOUBLE_EQ(avg[1], (static_cast<double>(kI64Max) + 1) / 2);
  // A NULL slot holding a huge value does not count.
  std::vector<uint8_t> valid = {1, 0};
  std::vector<int64_t> z = {5, kI64Max};
  window_sum<int64_t>(z, valid.data(), RowsFrame::running(), out, ov);
  EXPECT_EQ(out[1], 5);
}

TEST(KernelWindow, AllNullFrames) {
  std::vector<double> x = {1, 2, 3};
  std::vector<uint8_t> none = {0, 0, 0};
  std::vector<double> out(3);
  std::vector<int64_t> cnt(3);
  std::vector<uint8_t> ov(3, 7);
  window_sum<double>(x, none.data(), RowsFrame::whole(), out, ov);
  EXPECT_EQ(ov, (std::vector<uint8_t>{0, 0, 0}));
  window_count(none.data(), RowsFrame::whole(), cnt);
  EXPECT_EQ(cnt, (std::vector<int64_t>{0, 0, 0}));
}

TEST(KernelWindow, RowNumberRankDenseRank) {
  std::mt19937_64 rng(5);
  for (size_t n : {0, 1, 2, 10, 100}) {
    auto keys = random_column<int64_t>(rng, n, 0, 0, static_cast<int64_t>(n / 3 + 1)).x;
    std::sort(keys.begin(), keys.end());
    std::vector<uint8_t> peer(n, 0);
    mark_key_changes<int64_t>(keys, nullptr, peer);
    std::vector<int64_t> rn(n), rk(n), dr(n);
    row_number(rn);
    rank(peer, rk);
    dense_rank(peer, dr);
    for (size_t i = 0; i < n; ++i) {
      int64_t less = 0;
      std::set<int64_t> distinct_less;
      for (size_t j = 0; j < n; ++j) {
        if (keys[j] < keys[i]) {
          ++less;
          distinct_less.insert(keys[j]);
        }
      }
      EXPECT_EQ(rn[i], static_cast<int64_t>(i) + 1);
      EXPECT_EQ(rk[i], less + 1);
      EXPECT_EQ(dr[i], static_cast<int64_t>(distinct_less.size()) + 1);
    }
  }
  std::vector<uint8_t> peer = {1, 0, 1, 0, 0, 1};
  std::vector<int64_t> rk(6), dr(6);
  rank(peer, rk);
  dense_rank(peer, dr);
  EXPECT_EQ(rk, (std::vector<int64_t>{1, 1, 3, 3, 3, 6}));
  EXPECT_EQ(dr, (std::vector<int64_t>{1, 1, 2, 2, 2, 3}));
  // Row 0 starts a group even if its flag is 0.
  std::vector<uint8_t> zero = {0, 0};
  std::vector<int64_t> r2(2);
  rank(zero, r2);
  EXPECT_EQ(r2, (std::vector<int64_t>{1, 1}));
}

TEST(KernelWindow, LagLeadMatchNaive) {
  std::mt19937_64 rng(6);
  for (size_t n : {0, 1, 2, 5, 50}) {
    const auto c = random_column<int64_t>(rng, n, 30, -9, 9);
    for (int64_t off : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{-1}, int64_t{-3}, int64_t{49},
                        int64_t{50}, int64_t{1000}, kI64Max, kI64Min, kI64Min + 1}) {
      for (std::optional<int64_t> def : {std::optional<int64_t>{}, std::optional<int64_t>{-77}}) {
        std::vector<int64_t> lg(n), ld(n);
        std::vector<uint8_t> vlg(n), vld(n);
        lag<int64_t>(c.x, c.valid(), off, def, lg, vlg);
        lead<int64_t>(c.x, c.valid(), off, def, ld, vld);
        for (size_t i = 0; i < n; ++i) {
          for (int dir : {-1, 1}) {
            const __int128 j = static_cast<__int128>(i) + (dir < 0 ? -static_cast<__int128>(off) : off);
            const bool inside = j >= 0 && j < static_cast<__int128>(n);
            const bool exp_valid = inside ? c.ok(static_cast<size_t>(j)) : def.has_value();
            const int64_t got = dir < 0 ? lg[i] : ld[i];
            const uint8_t got_valid = dir < 0 ? vlg[i] : vld[i];
            SCOPED_TRACE(::testing::Message() << "i=" << i << " off=" << off << " dir=" << dir);
            ASSERT_EQ(got_valid, exp_valid);
            if (exp_valid) {
              ASSERT_EQ(got, inside ? c.x[static_cast<size_t>(j)] : *def);
            }
          }
        }
      }
    }
  }
}

TEST(KernelWindow, BroadcastPeerLastGivesRangeFrames) {
  // RANGE UNBOUNDED PRECEDING: peers share the running sum of the group's end.
  std::vector<int64_t> keys = {1, 1, 2, 3, 3, 3};
  std::vector<int64_t> x = {1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> peer(6, 0);
  mark_key_changes<int64_t>(keys, nullptr, peer);
  std::vector<int64_t> out(6);
  std::vector<uint8_t> ov(6);
  window_sum<int64_t>(x, nullptr, RowsFrame::running(), out, ov);
  broadcast_peer_last<int64_t>(peer, out, ov);
  EXPECT_EQ(out, (std::vector<int64_t>{3, 3, 6, 21, 21, 21}));
  std::vector<int64_t> cnt(6);
  window_count(nullptr, RowsFrame::running(), cnt);
  broadcast_peer_last<int64_t>(peer, cnt, {});
  EXPECT_EQ(cnt, (std::vector<int64_t>{2, 2, 3, 6, 6, 6}));
}

TEST(KernelWindow, EmaMatchesRecurrence) {
  EXPECT_DOUBLE_EQ(ema_alpha(0.25), 0.25);
  EXPECT_DOUBLE_EQ(ema_alpha(3), 0.5);
  EXPECT_DOUBLE_EQ(ema_alpha(1), 1.0);
  EXPECT_DOUBLE_EQ(ema_alpha(9), 0.2);
  EXPECT_THROW(ema_alpha(0), Error);
  EXPECT_THROW(ema_alpha(-2), Error);
  EXPECT_THROW(ema_alpha(kNaN), Error);

  std::vector<double> x = {10, 20, 30};
  std::vector<uint8_t> valid = {1, 0, 1};
  std::vector<double> out(3);
  std::vector<uint8_t> ov(3);
  ema<double>(x, valid.data(), 3, out, ov);  // alpha 0.5
  EXPECT_EQ(ov, (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_DOUBLE_EQ(out[0], 10);
  EXPECT_DOUBLE_EQ(out[1], 10);  // NULL carries the previous ema
  EXPECT_DOUBLE_EQ(out[2], 20);

  std::vector<uint8_t> lead_null = {0, 0, 1};
  ema<double>(x, lead_null.data(), 0.5, out, ov);
  EXPECT_EQ(ov, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_DOUBLE_EQ(out[2], 30);  // the first valid value seeds

  std::mt19937_64 rng(7);
  for (double a : {0.1, 0.9, 1.0, 2.0, 20.0}) {
    const auto c = random_column<int64_t>(rng, 200, 20, -100, 100);
    std::vector<double> o(200);
    std::vector<uint8_t> v(200);
    ema<int64_t>(c.x, c.valid(), a, o, v);
    const double alpha = a >= 1 ? 2 / (a + 1) : a;
    std::optional<double> e;
    for (size_t i = 0; i < 200; ++i) {
      if (c.ok(i)) e = e ? alpha * c.x[i] + (1 - alpha) * *e : static_cast<double>(c.x[i]);
      ASSERT_EQ(v[i], e.has_value());
      if (e) {
        ASSERT_NEAR(o[i], *e, 1e-9);
      }
    }
  }
}

TEST(KernelWindow, Delta) {
  std::vector<int64_t> x = {5, 7, 4, 4, 10};
  std::vector<int64_t> out(5);
  std::vector<uint8_t> ov(5);
  delta<int64_t>(x, nullptr, out, ov);
  EXPECT_EQ(out, (std::vector<int64_t>{5, 2, -3, 0, 6}));  // first row: x itself
  EXPECT_EQ(ov, (std::vector<uint8_t>{1, 1, 1, 1, 1}));
  std::vector<uint8_t> valid = {1, 0, 1, 1, 1};
  delta<int64_t>(x, valid.data(), out, ov);
  EXPECT_EQ(ov, (std::vector<uint8_t>{1, 0, 0, 1, 1}));
  EXPECT_EQ(out[3], 0);
  EXPECT_EQ(out[4], 6);
  std::vector<int64_t> big = {kI64Min, 1};
  std::vector<int64_t> o2(2);
  std::vector<uint8_t> v2(2);
  EXPECT_THROW(delta<int64_t>(big, nullptr, o2, v2), Error);
  std::vector<uint8_t> hide = {0, 1};
  EXPECT_NO_THROW(delta<int64_t>(big, hide.data(), o2, v2));  // NULL garbage never raises
  std::vector<int64_t> none;
  delta<int64_t>(none, nullptr, std::span<int64_t>{}, std::span<uint8_t>{});
  std::vector<double> d = {1.5, 1.0};
  std::vector<double> od(2);
  delta<double>(d, nullptr, od, v2);
  EXPECT_EQ(od, (std::vector<double>{1.5, -0.5}));
}

TEST(KernelWindow, PartitionedHelpersMatchPerPartitionRuns) {
  std::mt19937_64 rng(8);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = trial == 0 ? 0 : rng() % 200 + 1;
    const auto c = random_column<double>(rng, n, 20, -5, 5);
    // Random partition sizes over a random permutation.
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int64_t> offsets = {0};
    while (offsets.back() < static_cast<int64_t>(n))
      offsets.push_back(std::min<int64_t>(n, offsets.back() + static_cast<int64_t>(rng() % 30)));
    std::vector<uint8_t> peer(n);
    for (auto& p : peer) p = rng() % 3 == 0;
    const RowsFrame f = RowsFrame::moving(3);

    std::vector<double> out(n);
    std::vector<uint8_t> ov(n);
    run_partitioned<double, double>(offsets, order, c.x, c.valid(), out, ov,
                                    [&](auto xs, auto vs, auto os, auto ovs) {
                                      window_sum<double>(xs, vs, f, os, ovs);
                                    });
    std::vector<int64_t> rk(n);
    rank_partitioned(RankKind::kRank, offsets, order, peer, rk);
    std::vector<int64_t> rn(n);
    rank_partitioned(RankKind::kRowNumber, offsets, order, {}, rn);

    for (size_t p = 0; p + 1 < offsets.size(); ++p) {
      const int64_t b = offsets[p], e = offsets[p + 1];
      Column<double> part;
      std::vector<uint8_t> pv;
      for (int64_t j = b; j < e; ++j) {
        part.x.push_back(c.x[order[j]]);
        part.v.push_back(c.ok(order[j]));
      }
      std::vector<double> exp(e - b);
      std::vector<uint8_t> expv(e - b);
      window_sum<double>(part.x, part.valid(), f, exp, expv);
      std::vector<uint8_t> pp(peer.begin() + b, peer.begin() + e);
      std::vector<int64_t> exp_rank(e - b);
      rank(pp, exp_rank);
      for (int64_t j = b; j < e; ++j) {
        const int64_t row = order[j];
        ASSERT_EQ(ov[row], expv[j - b]);
        if (ov[row]) {
          ASSERT_DOUBLE_EQ(out[row], exp[j - b]);
        }
        ASSERT_EQ(rk[row], exp_rank[j - b]);
        ASSERT_EQ(rn[row], j - b + 1);
      }
    }
    // Identity order: offsets index rows directly.
    std::vector<double> out2(n);
    std::vector<uint8_t> ov2(n);
    run_partitioned<double, double>(offsets, {}, c.x, c.valid(), out2, ov2,
                                    [&](auto xs, auto vs, auto os, auto ovs) {
                                      window_sum<double>(xs, vs, f, os, ovs);
                                    });
    for (size_t p = 0; p + 1 < offsets.size(); ++p) {
      const int64_t b = offsets[p], e = offsets[p + 1];
      std::vector<double> exp(e - b);
      std::vector<uint8_t> expv(e - b);
      window_sum<double>(std::span<const double>(c.x).subspan(b, e - b), c.valid() ? c.valid() + b : nullptr, f,
                         exp, expv);
      for (int64_t j = b; j < e; ++j) {
        ASSERT_EQ(ov2[j], expv[j - b]);
        if (ov2[j]) {
          ASSERT_DOUBLE_EQ(out2[j], exp[j - b]);
        }
      }
    }
  }
}

// ------------------------------------------------------------------- joins

std::vector<int64_t> sorted_ts(std::mt19937_64& rng, size_t n, int64_t span) {
  std::vector<int64_t> t(n);
  for (auto& v : t) v = static_cast<int64_t>(rng() % static_cast<uint64_t>(span)) - span / 3;
  std::sort(t.begin(), t.end());
  return t;
}

TEST(KernelJoin, AsofMatchesNaive) {
  std::mt19937_64 rng(10);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t n = trial % 7 == 0 ? 0 : rng() % 100;
    const size_t m = trial % 5 == 0 ? 0 : rng() % (trial % 2 ? 20 : 2000);
    const auto l = sorted_ts(rng, n, 300);
    const auto r = sorted_ts(rng, m, 300);
    for (bool strict : {false, true}) {
      std::vector<int64_t> out(n);
      asof_match(l, r, strict, out);
      for (size_t i = 0; i < n; ++i) {
        int64_t exp = -1;
        for (size_t j = 0; j < m; ++j) {
          if (strict ? r[j] < l[i] : r[j] <= l[i]) exp = static_cast<int64_t>(j);
        }
        ASSERT_EQ(out[i], exp) << "i=" << i << " strict=" << strict;
      }
    }
  }
  std::vector<int64_t> l = {5, 10, 10, 20}, r = {1, 10, 10, 15};
  std::vector<int64_t> out(4);
  asof_match(l, r, false, out);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 2, 2, 3}));  // last of equal timestamps
  asof_match(l, r, true, out);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 0, 0, 3}));
  std::vector<int64_t> early = {0};
  std::vector<int64_t> o1(1);
  asof_match(early, r, false, o1);
  EXPECT_EQ(o1[0], -1);
}

TEST(KernelJoin, AsofMatchesNaiveOnLongInputs) {
  // Long enough for the merge in several parts; part boundaries inside runs
  // of equal timestamps, right sides sparser, similar and denser than left.
  std::mt19937_64 rng(12);
  for (size_t m : {size_t{0}, size_t{300}, size_t{3000}, size_t{20000}}) {
    const auto l = sorted_ts(rng, 4099, 2000);
    const auto r = sorted_ts(rng, m, 2500);
    for (bool strict : {false, true}) {
      std::vector<int64_t> out(l.size());
      asof_match(l, r, strict, out);
      for (size_t i = 0; i < l.size(); ++i) {
        auto it = strict ? std::lower_bound(r.begin(), r.end(), l[i]) : std::upper_bound(r.begin(), r.end(), l[i]);
        ASSERT_EQ(out[i], (it - r.begin()) - 1) << "i=" << i << " m=" << m << " strict=" << strict;
      }
    }
  }
}

TEST(KernelJoin, AsofMatchAddsTheBaseToMatchesOnly) {
  // Left rows before the first right row stay -1; the others are shifted
  // by base, on the merge (similar densities) and the galloping path.
  std::mt19937_64 rng(13);
  for (size_t m : {size_t{0}, size_t{1}, size_t{2000}, size_t{40000}}) {
    const auto l = sorted_ts(rng, 5000, 3000);
    const auto r = sorted_ts(rng, m, 3000);
    for (bool strict : {false, true}) {
      std::vector<int64_t> plain(l.size()), shifted(l.size());
      asof_match(l, r, strict, plain);
      asof_match(l, r, strict, shifted, 1000);
      for (size_t i = 0; i < l.size(); ++i)
        ASSERT_EQ(shifted[i], plain[i] < 0 ? -1 : plain[i] + 1000) << "i=" << i << " m=" << m << " strict=" << strict;
    }
  }
}

TEST(KernelJoin, WindowRangesMatchNaive) {
  std::mt19937_64 rng(11);
  const int64_t bounds[][2] = {{0, 0}, {5, 0}, {0, 5}, {10, 20}, {1000, 1000}, {-3, 10},
                               {3, -10}, {kUnbounded, 0}, {0, kUnbounded}, {kUnbounded, kUnbounded}};
  for (int trial = 0; trial < 30; ++trial) {
    const size_t n = trial == 0 ? 0 : rng() % 80 + 1;
    const size_t m = trial == 1 ? 0 : rng() % 200;
    const auto l = sorted_ts(rng, n, 400);
    const auto r = sorted_ts(rng, m, 400);
    for (const auto& lh : bounds) {
      std::vector<int64_t> b(n), e(n);
      window_join_ranges(l, r, lh[0], lh[1], b, e);
      for (size_t i = 0; i < n; ++i) {
        const __int128 from = lh[0] == kUnbounded ? -(static_cast<__int128>(1) << 100)
                                                  : static_cast<__int128>(l[i]) - lh[0];
        const __int128 to = lh[1] == kUnbounded ? (static_cast<__int128>(1) << 100)
                                                : static_cast<__int128>(l[i]) + lh[1];
        int64_t cnt = 0, first = -1;
        for (size_t j = 0; j < m; ++j) {
          if (r[j] >= from && r[j] <= to) {
            if (first < 0) first = static_cast<int64_t>(j);
            ++cnt;
          }
        }
        ASSERT_EQ(e[i] - b[i], cnt) << "i=" << i << " lo=" << lh[0] << " hi=" << lh[1];
        if (cnt > 0) {
          ASSERT_EQ(b[i], first);
        }
        if (i > 0) {
          ASSERT_GE(b[i], b[i - 1]);
        }
        if (i > 0) {
          ASSERT_GE(e[i], e[i - 1]);
        }
      }
    }
  }
  // Saturation at the int64 edges.
  std::vector<int64_t> l = {kI64Min, kI64Max}, r = {kI64Min, 0, kI64Max};
  std::vector<int64_t> b(2), e(2);
  window_join_ranges(l, r, 10, 10, b, e);
  EXPECT_EQ(b, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(e, (std::vector<int64_t>{1, 3}));
}

JoinPairs naive_join(const Column<int64_t>& l, const Column<int64_t>& r, JoinKind kind) {
  JoinPairs p;
  for (size_t i = 0; i < l.size(); ++i) {
    bool any = false;
    for (size_t j = 0; j < r.size(); ++j) {
      if (l.ok(i) && r.ok(j) && l.x[i] == r.x[j]) {
        p.left.push_back(i);
        p.right.push_back(j);
        any = true;
      }
    }
    if (!any && kind == JoinKind::kLeft) {
      p.left.push_back(i);
      p.right.push_back(-1);
    }
  }
  return p;
}

TEST(KernelJoin, HashJoinMatchesNestedLoops) {
  std::mt19937_64 rng(12);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t n = trial % 9 == 0 ? 0 : rng() % 120;
    const size_t m = trial % 7 == 0 ? 0 : rng() % 120;  // both build sides get exercised
    const int64_t range = trial % 3 == 0 ? 5 : 60;
    auto l = random_column<int64_t>(rng, n, trial % 2 ? 10 : 0, -range, range);
    auto r = random_column<int64_t>(rng, m, trial % 4 ? 10 : 0, -range, range);
    if (trial % 6 == 1 && n > 0) l.x[0] = kI64Min;  // extreme keys hash like any other
    for (JoinKind kind : {JoinKind::kInner, JoinKind::kLeft}) {
      const JoinPairs got = hash_join(l.x, l.valid(), r.x, r.valid(), kind);
      const JoinPairs exp = naive_join(l, r, kind);
      ASSERT_EQ(got.left, exp.left) << "trial " << trial << " n=" << n << " m=" << m;
      ASSERT_EQ(got.right, exp.right) << "trial " << trial;
    }
  }
  // NULL keys never match, not even each other.
  std::vector<int64_t> k = {1, 1};
  std::vector<uint8_t> nul = {0, 1};
  const JoinPairs p = hash_join(k, nul.data(), k, nul.data(), JoinKind::kLeft);
  EXPECT_EQ(p.left, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(p.right, (std::vector<int64_t>{-1, 1}));
}

// ----------------------------------------------------------- range aggregates

template <class T>
void check_range_aggregates(const Column<T>& c, const std::vector<int64_t>& b, const std::vector<int64_t>& e,
                            double tol) {
  const size_t k = b.size();
  std::vector<sum_type_t<T>> sum(k);
  std::vector<double> avg(k);
  std::vector<T> mn(k), mx(k), fi(k), la(k), fr(k), lr(k);
  std::vector<int64_t> cnt(k);
  std::vector<uint8_t> vs(k), va(k), vmn(k), vmx(k), vfi(k), vla(k), vfr(k), vlr(k);
  range_sum<T>(c.x, c.valid(), b, e, sum, vs);
  range_avg<T>(c.x, c.valid(), b, e, avg, va);
  range_min<T>(c.x, c.valid(), b, e, mn, vmn);
  range_max<T>(c.x, c.valid(), b, e, mx, vmx);
  range_count(c.valid(), c.size(), b, e, cnt);
  range_first<T>(c.x, c.valid(), b, e, fi, vfi);
  range_last<T>(c.x, c.valid(), b, e, la, vla);
  range_first<T>(c.x, c.valid(), b, e, fr, vfr, /*ignore_nulls=*/false);
  range_last<T>(c.x, c.valid(), b, e, lr, vlr, false);
  for (size_t q = 0; q < k; ++q) {
    SCOPED_TRACE(::testing::Message() << "range " << q << " [" << b[q] << "," << e[q] << ")");
    const RefAgg r = ref_aggregate(c, b[q], e[q]);
    ASSERT_EQ(cnt[q], r.count);
    ASSERT_EQ(vs[q], r.any);
    ASSERT_EQ(va[q], r.any);
    ASSERT_EQ(vmn[q], r.any);
    ASSERT_EQ(vmx[q], r.any);
    ASSERT_EQ(vfi[q], r.any);
    ASSERT_EQ(vla[q], r.any);
    ASSERT_EQ(vfr[q], b[q] < e[q] && c.ok(b[q]));
    ASSERT_EQ(vlr[q], b[q] < e[q] && c.ok(e[q] - 1));
    if (vfr[q]) {
      ASSERT_TRUE(same(fr[q], c.x[b[q]], 0));
    }
    if (vlr[q]) {
      ASSERT_TRUE(same(lr[q], c.x[e[q] - 1], 0));
    }
    if (!r.any) continue;
    int64_t first = b[q], last = e[q] - 1;
    while (!c.ok(first)) ++first;
    while (!c.ok(last)) --last;
    ASSERT_TRUE(same(fi[q], c.x[first], 0));
    ASSERT_TRUE(same(la[q], c.x[last], 0));
    expect_matches<T>(r, sum[q], avg[q], mn[q], mx[q], tol);
    ASSERT_FALSE(::testing::Test::HasFailure());  // stop at the first bad row
  }
}

TEST(KernelRange, MonotoneAndArbitraryRangesMatchNaive) {
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t m = trial == 0 ? 0 : rng() % 300 + 1;
    const size_t k = rng() % 100;
    std::vector<int64_t> b(k), e(k);
    for (size_t q = 0; q < k; ++q) {
      b[q] = m ? static_cast<int64_t>(rng() % (m + 1)) : 0;
      e[q] = m ? static_cast<int64_t>(rng() % (m + 1)) : 0;
      if (b[q] > e[q]) std::swap(b[q], e[q]);
    }
    if (trial % 2) {  // monotone: the deque path
      std::sort(b.begin(), b.end());
      std::sort(e.begin(), e.end());
      for (size_t q = 0; q < k; ++q) e[q] = std::max(e[q], b[q]);
    }
    const int null_pct = trial % 3 == 0 ? 0 : trial % 3 == 1 ? 30 : 100;
    check_range_aggregates(random_column<int64_t>(rng, m, null_pct, -100, 100), b, e, 0);
    check_range_aggregates(random_column<double>(rng, m, null_pct, -100, 100, trial % 4 == 0), b, e, 1e-9);
    check_range_aggregates(random_column<int32_t>(rng, m, null_pct, -100, 100), b, e, 0);
  }
}

TEST(KernelRange, SortedRunsDriveAStreamingGroupBy) {
  std::vector<int64_t> keys = {1, 1, 1, 4, 4, 9};
  std::vector<double> x = {1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> offs = sorted_runs<int64_t>(keys, nullptr);
  ASSERT_EQ(offs, (std::vector<int64_t>{0, 3, 5, 6}));
  const std::span<const int64_t> o(offs);
  const size_t runs = offs.size() - 1;
  std::vector<double> sum(runs);
  std::vector<uint8_t> sv(runs);
  range_sum<double>(x, nullptr, o.first(runs), o.subspan(1), sum, sv);
  EXPECT_EQ(sum, (std::vector<double>{6, 9, 6}));
  std::vector<double> mx(runs);
  range_max<double>(x, nullptr, o.first(runs), o.subspan(1), mx, sv);
  EXPECT_EQ(mx, (std::vector<double>{3, 5, 6}));
}

TEST(KernelRange, IntegerRangeSumOverflowThrows) {
  std::vector<int64_t> x = {kI64Max, kI64Max, -kI64Max};
  std::vector<int64_t> b = {0, 1}, e = {1, 3};
  std::vector<int64_t> out(2);
  std::vector<uint8_t> ov(2);
  range_sum<int64_t>(x, nullptr, b, e, out, ov);
  EXPECT_EQ(out, (std::vector<int64_t>{kI64Max, 0}));
  std::vector<int64_t> b2 = {0}, e2 = {2};
  EXPECT_THROW(range_sum<int64_t>(x, nullptr, b2, e2, std::span<int64_t>(out).first(1),
                                  std::span<uint8_t>(ov).first(1)),
               Error);
}

// ------------------------------------------------------------------- stats

template <class T>
std::vector<T> sorted_valid(const Column<T>& c) {
  std::vector<T> v;
  for (size_t i = 0; i < c.size(); ++i)
    if (c.ok(i)) v.push_back(c.x[i]);
  std::sort(v.begin(), v.end(), ref_less<T>);
  return v;
}

TEST(KernelStats, QuantilesMatchSortedReference) {
  std::mt19937_64 rng(20);
  for (size_t n : {0, 1, 2, 3, 4, 10, 101, 1000}) {
    for (int null_pct : {0, 40, 100}) {
      const auto c = random_column<int64_t>(rng, n, null_pct, -20, 20);  // many ties
      const auto s = sorted_valid(c);
      for (double p : {0.0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 0.99, 1.0}) {
        const auto qc = quantile_cont<int64_t>(c.x, c.valid(), p);
        const auto qd = quantile_disc<int64_t>(c.x, c.valid(), p);
        ASSERT_EQ(qc.has_value(), !s.empty());
        ASSERT_EQ(qd.has_value(), !s.empty());
        if (s.empty()) continue;
        const double h = (s.size() - 1) * p;
        const size_t lo = static_cast<size_t>(std::floor(h)), hi = static_cast<size_t>(std::ceil(h));
        ASSERT_NEAR(*qc, s[lo] + (h - lo) * (static_cast<double>(s[hi]) - s[lo]), 1e-9) << "p=" << p;
        // Discrete: the smallest value whose cumulative fraction reaches p.
        size_t k = 0;
        while ((k + 1) * 1000000 < static_cast<size_t>(std::llround(p * 1000000)) * s.size()) ++k;
        ASSERT_EQ(*qd, s[std::min(k, s.size() - 1)]) << "p=" << p << " n=" << s.size();
      }
      const auto med = median<int64_t>(c.x, c.valid());
      if (!s.empty()) {
        const double m = s.size() % 2 ? s[s.size() / 2] : (s[s.size() / 2 - 1] + s[s.size() / 2]) / 2.0;
        EXPECT_DOUBLE_EQ(*med, m);
      }
    }
  }
}

TEST(KernelStats, QuantilesAgreeWithDuckDB) {
  // Values from DuckDB: quantile_cont / quantile_disc over 1, 2, 3, 4.
  std::vector<int64_t> x = {4, 2, 1, 3};
  const double ps[] = {0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0};
  const double cont[] = {1.0, 1.3, 1.75, 1.9, 2.5, 3.25, 3.7, 4.0};
  const int64_t disc[] = {1, 1, 1, 2, 2, 3, 4, 4};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(*quantile_cont<int64_t>(x, nullptr, ps[i]), cont[i], 1e-12) << ps[i];
    EXPECT_EQ(*quantile_disc<int64_t>(x, nullptr, ps[i]), disc[i]) << ps[i];
  }
  // DuckDB with the decimal literal 0.28 over range(25) picks 6.
  std::vector<int64_t> r(25);
  std::iota(r.begin(), r.end(), 0);
  EXPECT_EQ(*quantile_disc<int64_t>(r, nullptr, 0.28), 6);
  EXPECT_EQ(*quantile_disc<int64_t>(r, nullptr, 0.56), 13);
  // NaN sorts last: median of {1, NaN, 3} is 3.
  std::vector<double> d = {1.0, kNaN, 3.0};
  EXPECT_EQ(*median<double>(d, nullptr), 3.0);
  std::vector<double> inf = {kInf, kInf};
  EXPECT_EQ(*quantile_cont<double>(inf, nullptr, 0.5), kInf);
  EXPECT_THROW(quantile_cont<int64_t>(x, nullptr, 1.5), Error);
  EXPECT_THROW(quantile_disc<int64_t>(x, nullptr, -0.1), Error);
  EXPECT_THROW(quantile_cont<int64_t>(x, nullptr, kNaN), Error);
  std::vector<int64_t> none;
  EXPECT_THROW(quantile_cont<int64_t>(none, nullptr, 2), Error);  // p is checked even without rows
}

TEST(KernelStats, VarianceMatchesTwoPassAndMerges) {
  std::mt19937_64 rng(21);
  for (size_t n : {0, 1, 2, 3, 10, 1000, 5000}) {
    for (int null_pct : {0, 30}) {
      auto c = random_column<double>(rng, n, null_pct, -1000, 1000);
      for (auto& v : c.x) v += 1e9;  // a large offset breaks the naive sum-of-squares formula
      const auto s = sorted_valid(c);
      long double mean = 0, m2 = 0;
      for (double v : s) mean += v;
      if (!s.empty()) mean /= s.size();
      for (double v : s) m2 += (v - mean) * (v - mean);

      VarianceState whole;
      variance_add<double>(whole, c.x, c.valid());
      ASSERT_EQ(whole.count, static_cast<int64_t>(s.size()));
      // Parts merged in any split give the same result.
      VarianceState merged;
      size_t at = 0;
      while (at < n) {
        const size_t len = std::min<size_t>(n - at, rng() % 700 + 1);
        VarianceState part;
        variance_add<double>(part, std::span<const double>(c.x).subspan(at, len),
                             c.valid() ? c.valid() + at : nullptr);
        if (rng() % 2) {
          merged.merge(part);
        } else {
          part.merge(merged);
          merged = part;
        }
        at += len;
      }
      VarianceState welford;
      for (double v : s) welford.add(v);
      for (const VarianceState* st : {&whole, &merged, &welford}) {
        SCOPED_TRACE(::testing::Message() << "n=" << n << " nulls=" << null_pct << " state "
                                          << (st == &whole ? "whole" : st == &merged ? "merged" : "welford"));
        // Row-at-a-time Welford loses a few more digits on data whose mean is
        // 1e6 standard deviations from zero than the blocked two-pass path.
        const double rel = st == &welford ? 1e-7 : 1e-9;
        ASSERT_EQ(st->count, static_cast<int64_t>(s.size()));
        ASSERT_EQ(st->var_pop().has_value(), !s.empty());
        ASSERT_EQ(st->var_samp().has_value(), s.size() >= 2);
        if (!s.empty()) {
          const double vp = static_cast<double>(m2 / s.size());
          ASSERT_NEAR(*st->var_pop(), vp, rel * std::max(1.0, vp));
          ASSERT_NEAR(*st->stddev_pop(), std::sqrt(vp), rel * std::max(1.0, std::sqrt(vp)));
        }
        if (s.size() >= 2) {
          const double vs = static_cast<double>(m2 / (s.size() - 1));
          ASSERT_NEAR(*st->var_samp(), vs, rel * std::max(1.0, vs));
          ASSERT_NEAR(*st->stddev_samp(), std::sqrt(vs), rel * std::max(1.0, std::sqrt(vs)));
        }
      }
    }
  }
  VarianceState one;
  one.add(5);
  EXPECT_EQ(*one.var_pop(), 0.0);
  EXPECT_FALSE(one.var_samp().has_value());
  std::vector<int64_t> ints = {1, 2, 3, 4};
  VarianceState vi;
  variance_add<int64_t>(vi, ints, nullptr);
  EXPECT_DOUBLE_EQ(*vi.var_samp(), 5.0 / 3.0);
}

TEST(KernelStats, CountDistinct) {
  std::mt19937_64 rng(22);
  for (size_t n : {0, 1, 100, 10000}) {
    const auto c = random_column<int64_t>(rng, n, 10, -3000, 3000);
    std::set<int64_t> ref;
    for (size_t i = 0; i < n; ++i)
      if (c.ok(i)) ref.insert(c.x[i]);
    DistinctCounter whole;
    whole.add(std::span<const int64_t>(c.x), c.valid());
    EXPECT_EQ(whole.count(), static_cast<int64_t>(ref.size()));
    DistinctCounter a, b;
    a.add(std::span<const int64_t>(c.x).first(n / 3), c.valid());
    b.add(std::span<const int64_t>(c.x).subspan(n / 3), c.valid() ? c.valid() + n / 3 : nullptr);
    a.merge(b);
    EXPECT_EQ(a.count(), static_cast<int64_t>(ref.size()));
  }
  std::vector<double> d = {0.0, -0.0, kNaN, -kNaN, 1.5, 1.5, kInf};
  DistinctCounter dc;
  dc.add(std::span<const double>(d), nullptr);
  EXPECT_EQ(dc.count(), 4);  // 0, NaN, 1.5, inf (as DuckDB counts them)
  std::vector<int32_t> i32 = {0, -1, -1, 7};
  DistinctCounter ic;
  ic.add(std::span<const int32_t>(i32), nullptr);
  EXPECT_EQ(ic.count(), 3);
  std::vector<uint8_t> none = {0, 0, 0, 0};
  DistinctCounter nc;
  nc.add(std::span<const int32_t>(i32), none.data());
  EXPECT_EQ(nc.count(), 0);
}

// ---------------------------------------------------------------- grouping

int64_t ref_xbar(int64_t x, int64_t b) {
  __int128 q = x / b;
  if (x % b != 0 && x < 0) --q;
  return static_cast<int64_t>(q * b);
}

TEST(KernelGrouping, XbarFloorsNegativeValues) {
  EXPECT_EQ(xbar_value(int64_t{-1}, 5), -5);
  EXPECT_EQ(xbar_value(int64_t{-5}, 5), -5);
  EXPECT_EQ(xbar_value(int64_t{-6}, 5), -10);
  EXPECT_EQ(xbar_value(int64_t{7}, 5), 5);
  EXPECT_EQ(xbar_value(int64_t{0}, 5), 0);
  EXPECT_EQ(xbar_value(-0.5, 0.25), -0.5);
  EXPECT_EQ(xbar_value(-0.6, 0.25), -0.75);
  EXPECT_EQ(xbar_value(1.3, 0.5), 1.0);
  EXPECT_EQ(xbar_value(kI64Min, 1), kI64Min);
  EXPECT_EQ(xbar_value(kI64Max, kI64Max), kI64Max);
  EXPECT_THROW(xbar_value(kI64Min + 1, 3), Error);  // would fall below INT64_MIN
  EXPECT_THROW(xbar_value(int64_t{1}, 0), Error);
  EXPECT_THROW(xbar_value(int64_t{1}, -5), Error);
  EXPECT_THROW(xbar_value(1.0, 0.0), Error);
  EXPECT_THROW(xbar_value(1.0, kNaN), Error);

  std::mt19937_64 rng(30);
  for (int64_t bucket : {int64_t{1}, int64_t{3}, int64_t{300000000000}, int64_t{1} << 40}) {
    for (bool sorted : {false, true}) {
      auto c = random_column<int64_t>(rng, 2000, 0, -(int64_t{1} << 50), int64_t{1} << 50);
      if (sorted) std::sort(c.x.begin(), c.x.end());
      std::vector<int64_t> out(c.size());
      xbar<int64_t>(c.x, nullptr, bucket, out);
      for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(out[i], ref_xbar(c.x[i], bucket)) << c.x[i];
    }
  }
  // Small sorted data with many rows per bucket, across zero.
  std::vector<int64_t> x;
  for (int64_t v = -25; v <= 25; ++v) x.push_back(v);
  std::vector<int64_t> out(x.size());
  xbar<int64_t>(x, nullptr, 10, out);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(out[i], ref_xbar(x[i], 10));
  // Overflow only raises for valid rows.
  std::vector<int64_t> edge = {kI64Min + 1, 5};
  std::vector<int64_t> o2(2);
  EXPECT_THROW(xbar<int64_t>(edge, nullptr, 3, o2), Error);
  std::vector<uint8_t> hide = {0, 1};
  EXPECT_NO_THROW(xbar<int64_t>(edge, hide.data(), 3, o2));
  EXPECT_EQ(o2[1], 3);
  std::vector<int32_t> i32 = {std::numeric_limits<int32_t>::min() + 1, -7};
  std::vector<int32_t> o32(2);
  EXPECT_NO_THROW(xbar<int32_t>(i32, nullptr, 4, o32));  // INT32_MIN itself fits
  EXPECT_EQ(o32[0], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(o32[1], -8);
  EXPECT_THROW(xbar<int32_t>(i32, nullptr, 3, o32), Error);  // -2147483649 does not
  std::vector<double> dx = {-0.1, 0.1, 2.49, -2.5};
  std::vector<double> dout(4);
  xbar<double>(dx, nullptr, 0.5, dout);
  EXPECT_EQ(dout, (std::vector<double>{-0.5, 0.0, 2.0, -2.5}));
}

int64_t ns_of(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0, int64_t ns = 0) {
  using namespace std::chrono;
  const sys_days day = year_month_day{year{y}, month{m}, std::chrono::day{d}};
  return (static_cast<int64_t>(day.time_since_epoch().count()) * 86400 + hh * 3600 + mm * 60 + ss) *
             1000000000LL + ns;
}

// Reference date_trunc with <chrono>'s calendar, independent of the kernel.
int64_t ref_trunc(TimeUnit u, int64_t ts) {
  using namespace std::chrono;
  const int64_t day_ns = 86400000000000LL;
  __int128 d = ts / day_ns;
  if (ts % day_ns != 0 && ts < 0) --d;
  const sys_days sd{days{static_cast<int64_t>(d)}};
  const year_month_day ymd{sd};
  sys_days start = sd;
  switch (u) {
    case TimeUnit::kWeek: start = sd - (weekday{sd} - Monday); break;
    case TimeUnit::kMonth: start = ymd.year() / ymd.month() / 1; break;
    case TimeUnit::kQuarter: {
      const unsigned m = (static_cast<unsigned>(ymd.month()) - 1) / 3 * 3 + 1;
      start = ymd.year() / month{m} / 1;
      break;
    }
    case TimeUnit::kYear: start = ymd.year() / January / 1; break;
    default: {
      int64_t step = 0;
      switch (u) {
        case TimeUnit::kMicrosecond: step = 1000; break;
        case TimeUnit::kMillisecond: step = 1000000; break;
        case TimeUnit::kSecond: step = 1000000000; break;
        case TimeUnit::kMinute: step = 60000000000; break;
        case TimeUnit::kHour: step = 3600000000000; break;
        default: step = day_ns; break;
      }
      __int128 q = ts / step;
      if (ts % step != 0 && ts < 0) --q;
      return q * step < kI64Min ? kI64Min : static_cast<int64_t>(q * step);  // saturates
    }
  }
  const __int128 r = static_cast<__int128>(start.time_since_epoch().count()) * day_ns;
  return r < kI64Min ? kI64Min : static_cast<int64_t>(r);
}

constexpr TimeUnit kUnits[] = {TimeUnit::kMicrosecond, TimeUnit::kMillisecond, TimeUnit::kSecond,
                               TimeUnit::kMinute,      TimeUnit::kHour,        TimeUnit::kDay,
                               TimeUnit::kWeek,        TimeUnit::kMonth,       TimeUnit::kQuarter,
                               TimeUnit::kYear};

TEST(KernelGrouping, DateTruncCalendarEdges) {
  const int64_t t = ns_of(2023, 12, 31, 23, 59, 59, 999999999);  // a Sunday
  EXPECT_EQ(date_trunc_value(TimeUnit::kSecond, t), ns_of(2023, 12, 31, 23, 59, 59));
  EXPECT_EQ(date_trunc_value(TimeUnit::kMinute, t), ns_of(2023, 12, 31, 23, 59));
  EXPECT_EQ(date_trunc_value(TimeUnit::kHour, t), ns_of(2023, 12, 31, 23));
  EXPECT_EQ(date_trunc_value(TimeUnit::kDay, t), ns_of(2023, 12, 31));
  EXPECT_EQ(date_trunc_value(TimeUnit::kWeek, t), ns_of(2023, 12, 25));
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, t), ns_of(2023, 12, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kQuarter, t), ns_of(2023, 10, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kYear, t), ns_of(2023, 1, 1));
  // Leap days: 2024 and 2000 are leap years, 1900 is not.
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, ns_of(2024, 2, 29, 12)), ns_of(2024, 2, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kDay, ns_of(2024, 2, 29, 12)), ns_of(2024, 2, 29));
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, ns_of(2024, 3, 1)), ns_of(2024, 3, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, ns_of(2024, 3, 1) - 1), ns_of(2024, 2, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, ns_of(2000, 2, 29, 23)), ns_of(2000, 2, 1));
  EXPECT_EQ(ns_of(1900, 3, 1) - ns_of(1900, 2, 28), 86400000000000LL);
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, ns_of(1900, 3, 1) - 1), ns_of(1900, 2, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kQuarter, ns_of(2024, 6, 30, 23)), ns_of(2024, 4, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kQuarter, ns_of(2024, 7, 1)), ns_of(2024, 7, 1));
  // Before 1970: floor, not truncation toward zero.
  EXPECT_EQ(date_trunc_value(TimeUnit::kDay, -1), ns_of(1969, 12, 31));
  EXPECT_EQ(date_trunc_value(TimeUnit::kSecond, -1), -1000000000LL);
  EXPECT_EQ(date_trunc_value(TimeUnit::kMonth, -1), ns_of(1969, 12, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kYear, -1), ns_of(1969, 1, 1));
  EXPECT_EQ(date_trunc_value(TimeUnit::kWeek, 0), ns_of(1969, 12, 29));  // Thursday -> Monday
  EXPECT_EQ(date_trunc_value(TimeUnit::kWeek, ns_of(2024, 1, 1, 5)), ns_of(2024, 1, 1));  // a Monday
  // The earliest representable instants saturate instead of wrapping.
  EXPECT_EQ(date_trunc_value(TimeUnit::kYear, kI64Min), kI64Min);
  EXPECT_EQ(date_trunc_value(TimeUnit::kDay, kI64Min), kI64Min);
  EXPECT_EQ(date_trunc_value(TimeUnit::kYear, kI64Max), ns_of(2262, 1, 1));

  EXPECT_EQ(parse_time_unit("MINUTE"), TimeUnit::kMinute);
  EXPECT_EQ(parse_time_unit("minutes"), TimeUnit::kMinute);
  EXPECT_EQ(parse_time_unit("Quarter"), TimeUnit::kQuarter);
  EXPECT_EQ(parse_time_unit("ms"), TimeUnit::kMillisecond);
  EXPECT_EQ(parse_time_unit("fortnight"), std::nullopt);
}

TEST(KernelGrouping, DateTruncMatchesChronoReference) {
  std::mt19937_64 rng(31);
  for (bool sorted : {false, true}) {
    for (int64_t spread : {int64_t{1} << 62, int64_t{40} * int64_t{86400000000000}, int64_t{3600000000000}}) {
      std::vector<int64_t> ts(3000);
      std::uniform_int_distribution<int64_t> d(-spread, spread);
      for (auto& v : ts) v = d(rng);
      if (sorted) std::sort(ts.begin(), ts.end());
      std::vector<int64_t> out(ts.size());
      for (TimeUnit u : kUnits) {
        date_trunc(u, ts, out);
        for (size_t i = 0; i < ts.size(); ++i) {
          ASSERT_EQ(out[i], ref_trunc(u, ts[i])) << "unit " << static_cast<int>(u) << " ts " << ts[i];
          ASSERT_EQ(date_trunc_value(u, ts[i]), out[i]);
        }
      }
    }
  }
  std::vector<int64_t> edge = {kI64Min, kI64Min + 1, -1, 0, 1, kI64Max - 1, kI64Max};
  std::vector<int64_t> out(edge.size());
  for (TimeUnit u : kUnits) {
    date_trunc(u, edge, out);
    for (size_t i = 0; i < edge.size(); ++i) ASSERT_EQ(out[i], ref_trunc(u, edge[i])) << static_cast<int>(u);
  }
}

TEST(KernelGrouping, CivilDateRoundTrips) {
  for (int64_t d = -800000; d <= 800000; d += 7) {
    const CivilDate c = civil_from_days(d);
    ASSERT_EQ(days_from_civil(c.year, c.month, c.day), d);
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{d}}};
    ASSERT_EQ(c.year, static_cast<int>(ymd.year()));
    ASSERT_EQ(c.month, static_cast<int32_t>(static_cast<unsigned>(ymd.month())));
    ASSERT_EQ(c.day, static_cast<int32_t>(static_cast<unsigned>(ymd.day())));
  }
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
  EXPECT_EQ(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28), 1);
}

TEST(KernelGrouping, SortedRunsAndKeyChanges) {
  std::mt19937_64 rng(32);
  for (size_t n : {0, 1, 2, 50, 500}) {
    for (int null_pct : {0, 20}) {
      auto c = random_column<double>(rng, n, null_pct, 0, 4);
      for (auto& v : c.x) v = std::floor(v);
      std::sort(c.x.begin(), c.x.end());
      const auto offs = sorted_runs<double>(c.x, c.valid());
      std::vector<int64_t> ref = {0};
      for (size_t i = 1; i < n; ++i) {
        const bool diff = c.ok(i) != c.ok(i - 1) || (c.ok(i) && c.x[i] != c.x[i - 1]);
        if (diff) ref.push_back(i);
      }
      if (n > 0) ref.push_back(n);
      ASSERT_EQ(offs, ref);
      std::vector<uint8_t> flags(n, 0);
      mark_key_changes<double>(c.x, c.valid(), flags);
      ASSERT_EQ(offsets_from_flags(flags), ref);
    }
  }
  // Two key columns: a run ends where either changes.
  std::vector<int64_t> a = {1, 1, 1, 2, 2};
  std::vector<int64_t> b = {7, 7, 8, 8, 8};
  std::vector<uint8_t> flags(5, 0);
  mark_key_changes<int64_t>(a, nullptr, flags);
  mark_key_changes<int64_t>(b, nullptr, flags);
  EXPECT_EQ(offsets_from_flags(flags), (std::vector<int64_t>{0, 2, 3, 5}));
  // NaN equals NaN, -0.0 equals 0.0, NULL equals NULL.
  std::vector<double> d = {-0.0, 0.0, kNaN, kNaN, 1, 1};
  std::vector<uint8_t> v = {1, 1, 1, 1, 0, 0};
  EXPECT_EQ(sorted_runs<double>(d, v.data()), (std::vector<int64_t>{0, 2, 4, 6}));
  std::vector<int64_t> empty;
  EXPECT_EQ(sorted_runs<int64_t>(empty, nullptr), (std::vector<int64_t>{0}));
  EXPECT_EQ(offsets_from_flags({}), (std::vector<int64_t>{0}));
  std::vector<uint8_t> f0 = {0, 0, 1};
  EXPECT_EQ(offsets_from_flags(f0), (std::vector<int64_t>{0, 2, 3}));
}

}  // namespace
}  // namespace zepto::exec
