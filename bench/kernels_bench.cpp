// The exec kernels, each against a straightforward baseline on the same data
// in the same run, so the ratio survives a noisy machine.
//
//   pair (kernel vs baseline)                 data (1 M rows unless noted)
//   window_sum     moving sum, 100 rows       vs one plain pass summing the column (memory-pass floor)
//   window_max     moving max, 100 rows       vs rescanning the frame per row
//   ema            ema(x, 20)                 vs one plain pass summing the column
//   asof           1 M trades to 500 K quotes vs std::upper_bound per trade
//   wj_sum         window join, sum +-1 ms    vs upper/lower_bound + a loop per trade
//   hash_join      1 M x 200 K int64 keys     vs std::unordered_multimap
//   quantile       quantile_cont(x, 0.9)      vs std::sort of a copy
//   variance       variance_add               vs row-at-a-time Welford
//   distinct       count distinct, 100 K keys vs std::unordered_set
//   xbar           5-minute buckets, sorted   vs floor division per row
//   date_trunc     'month', sorted ns         vs the civil-date computation per row
//   runs           sorted_runs of xbar keys   vs one plain pass summing the column
//
// After the run a summary prints each pair's median rate, the ratio kernel /
// baseline and PASS/MISS against a target ratio, and one RESULT line per
// pair for bench/run_all.py. Google Benchmark flags work as usual; the
// defaults are 3 interleaved repetitions.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench_report.h"
#include "zeptodb/exec/kernels/grouping.h"
#include "zeptodb/exec/kernels/join.h"
#include "zeptodb/exec/kernels/range_agg.h"
#include "zeptodb/exec/kernels/stats.h"
#include "zeptodb/exec/kernels/window.h"

namespace {

using namespace zepto::exec;

constexpr size_t kRows = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // 2023-11-14, ns

struct Data {
  std::vector<double> price;        // random walk
  std::vector<int64_t> trade_ts;    // sorted ns, ~1 ms apart on average
  std::vector<int64_t> quote_ts;    // sorted ns, half as many
  std::vector<int64_t> keys;        // join keys in [0, 400 K)
  std::vector<int64_t> build_keys;  // 200 K join keys
  std::vector<int64_t> ids;         // 100 K distinct ids
};

const Data& data() {
  static const Data d = [] {
    Data d;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> step(0.0, 0.01);
    d.price.resize(kRows);
    double p = 100.0;
    for (auto& v : d.price) v = (p += step(rng));
    auto ts = [&](size_t n, int64_t gap) {
      std::vector<int64_t> t(n);
      int64_t now = kT0;
      for (auto& v : t) v = (now += static_cast<int64_t>(rng() % (2 * gap)));
      return t;
    };
    d.trade_ts = ts(kRows, 1'000'000);
    d.quote_ts = ts(kRows / 2, 2'000'000);
    d.keys.resize(kRows);
    for (auto& k : d.keys) k = static_cast<int64_t>(rng() % 400'000);
    d.build_keys.resize(200'000);
    for (auto& k : d.build_keys) k = static_cast<int64_t>(rng() % 400'000);
    d.ids.resize(kRows);
    for (auto& k : d.ids) k = static_cast<int64_t>(rng() % 100'000) * 7919;
    return d;
  }();
  return d;
}

void rows(benchmark::State& state, size_t n) { state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n)); }

// ------------------------------------------------------------ baselines

void BM_base_column_pass(benchmark::State& state) {
  const auto& x = data().price;
  for (auto _ : state) {
    double s = 0;
    for (double v : x) s += v;
    benchmark::DoNotOptimize(s);
  }
  rows(state, kRows);
}

// ------------------------------------------------------------------ window

void BM_window_sum(benchmark::State& state) {
  const auto& x = data().price;
  std::vector<double> out(kRows);
  std::vector<uint8_t> ov(kRows);
  for (auto _ : state) {
    window_sum<double>(x, nullptr, RowsFrame::moving(99), out, ov);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_window_max(benchmark::State& state) {
  const auto& x = data().price;
  std::vector<double> out(kRows);
  std::vector<uint8_t> ov(kRows);
  for (auto _ : state) {
    window_max<double>(x, nullptr, RowsFrame::moving(99), out, ov);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_base_window_max(benchmark::State& state) {
  const auto& x = data().price;
  std::vector<double> out(kRows);
  for (auto _ : state) {
    for (size_t i = 0; i < kRows; ++i) {
      const size_t b = i >= 99 ? i - 99 : 0;
      double m = x[b];
      for (size_t j = b + 1; j <= i; ++j) m = std::max(m, x[j]);
      out[i] = m;
    }
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_ema(benchmark::State& state) {
  const auto& x = data().price;
  std::vector<double> out(kRows);
  std::vector<uint8_t> ov(kRows);
  for (auto _ : state) {
    ema<double>(x, nullptr, 20, out, ov);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

// ------------------------------------------------------------------- joins

void BM_asof(benchmark::State& state) {
  const auto& d = data();
  std::vector<int64_t> out(kRows);
  for (auto _ : state) {
    asof_match(d.trade_ts, d.quote_ts, false, out);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_base_asof(benchmark::State& state) {
  const auto& d = data();
  std::vector<int64_t> out(kRows);
  for (auto _ : state) {
    for (size_t i = 0; i < kRows; ++i)
      out[i] = std::upper_bound(d.quote_ts.begin(), d.quote_ts.end(), d.trade_ts[i]) - d.quote_ts.begin() - 1;
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

// Window join: the sum of quote prices within +-1 ms of each trade.
void BM_wj_sum(benchmark::State& state) {
  const auto& d = data();
  std::span<const double> qp(d.price.data(), d.quote_ts.size());
  std::vector<int64_t> b(kRows), e(kRows);
  std::vector<double> out(kRows);
  std::vector<uint8_t> ov(kRows);
  for (auto _ : state) {
    window_join_ranges(d.trade_ts, d.quote_ts, 1'000'000, 1'000'000, b, e);
    range_sum<double>(qp, nullptr, b, e, out, ov);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_base_wj_sum(benchmark::State& state) {
  const auto& d = data();
  const auto& q = d.quote_ts;
  std::vector<double> out(kRows);
  for (auto _ : state) {
    for (size_t i = 0; i < kRows; ++i) {
      const size_t b = std::lower_bound(q.begin(), q.end(), d.trade_ts[i] - 1'000'000) - q.begin();
      const size_t e = std::upper_bound(q.begin(), q.end(), d.trade_ts[i] + 1'000'000) - q.begin();
      double s = 0;
      for (size_t j = b; j < e; ++j) s += d.price[j];
      out[i] = s;
    }
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_hash_join(benchmark::State& state) {
  const auto& d = data();
  size_t pairs = 0;
  for (auto _ : state) {
    JoinPairs p = hash_join(d.keys, nullptr, d.build_keys, nullptr, JoinKind::kInner);
    pairs = p.left.size();
    benchmark::DoNotOptimize(p.left.data());
  }
  state.counters["pairs"] = static_cast<double>(pairs);
  rows(state, kRows);
}

void BM_base_hash_join(benchmark::State& state) {
  const auto& d = data();
  for (auto _ : state) {
    std::unordered_multimap<int64_t, int64_t> m;
    m.reserve(d.build_keys.size());
    for (size_t j = 0; j < d.build_keys.size(); ++j) m.emplace(d.build_keys[j], static_cast<int64_t>(j));
    JoinPairs p;
    for (size_t i = 0; i < kRows; ++i) {
      auto [lo, hi] = m.equal_range(d.keys[i]);
      for (auto it = lo; it != hi; ++it) {
        p.left.push_back(static_cast<int64_t>(i));
        p.right.push_back(it->second);
      }
    }
    benchmark::DoNotOptimize(p.left.data());
  }
  rows(state, kRows);
}

// ------------------------------------------------------------------- stats

void BM_quantile(benchmark::State& state) {
  const auto& x = data().price;
  for (auto _ : state) benchmark::DoNotOptimize(quantile_cont<double>(x, nullptr, 0.9));
  rows(state, kRows);
}

void BM_base_quantile(benchmark::State& state) {
  const auto& x = data().price;
  for (auto _ : state) {
    std::vector<double> v(x);
    std::sort(v.begin(), v.end());
    const double h = (v.size() - 1) * 0.9;
    const size_t lo = static_cast<size_t>(h);
    benchmark::DoNotOptimize(v[lo] + (h - lo) * (v[lo + 1] - v[lo]));
  }
  rows(state, kRows);
}

void BM_variance(benchmark::State& state) {
  const auto& x = data().price;
  for (auto _ : state) {
    VarianceState s;
    variance_add<double>(s, x, nullptr);
    benchmark::DoNotOptimize(s.var_samp());
  }
  rows(state, kRows);
}

void BM_base_variance(benchmark::State& state) {
  const auto& x = data().price;
  for (auto _ : state) {
    VarianceState s;
    for (double v : x) s.add(v);
    benchmark::DoNotOptimize(s.var_samp());
  }
  rows(state, kRows);
}

void BM_distinct(benchmark::State& state) {
  const auto& ids = data().ids;
  for (auto _ : state) {
    DistinctCounter c;
    c.add(std::span<const int64_t>(ids), nullptr);
    benchmark::DoNotOptimize(c.count());
  }
  rows(state, kRows);
}

void BM_base_distinct(benchmark::State& state) {
  const auto& ids = data().ids;
  for (auto _ : state) {
    std::unordered_set<int64_t> s;
    for (int64_t v : ids) s.insert(v);
    benchmark::DoNotOptimize(s.size());
  }
  rows(state, kRows);
}

// ---------------------------------------------------------------- grouping

constexpr int64_t kFiveMinutes = 300'000'000'000;

void BM_xbar(benchmark::State& state) {
  const auto& ts = data().trade_ts;
  std::vector<int64_t> out(kRows);
  for (auto _ : state) {
    xbar<int64_t>(ts, nullptr, kFiveMinutes, out);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_base_xbar(benchmark::State& state) {
  const auto& ts = data().trade_ts;
  std::vector<int64_t> out(kRows);
  int64_t bucket = kFiveMinutes;
  benchmark::DoNotOptimize(bucket);  // a run-time bucket, as in a query
  for (auto _ : state) {
    for (size_t i = 0; i < kRows; ++i) {
      const int64_t r = ts[i] % bucket;
      out[i] = ts[i] - (r < 0 ? r + bucket : r);
    }
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_date_trunc(benchmark::State& state) {
  const auto& ts = data().trade_ts;
  std::vector<int64_t> out(kRows);
  for (auto _ : state) {
    date_trunc(TimeUnit::kMonth, ts, out);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_base_date_trunc(benchmark::State& state) {
  const auto& ts = data().trade_ts;
  std::vector<int64_t> out(kRows);
  for (auto _ : state) {
    for (size_t i = 0; i < kRows; ++i) out[i] = date_trunc_value(TimeUnit::kMonth, ts[i]);
    benchmark::DoNotOptimize(out.data());
  }
  rows(state, kRows);
}

void BM_runs(benchmark::State& state) {
  static const std::vector<int64_t> buckets = [] {
    std::vector<int64_t> b(kRows);
    xbar<int64_t>(data().trade_ts, nullptr, 1'000'000'000, b);  // ~500 rows per run
    return b;
  }();
  for (auto _ : state) benchmark::DoNotOptimize(sorted_runs<int64_t>(buckets, nullptr));
  rows(state, kRows);
}

#define ZEPTO_KERNEL_BENCH(fn) BENCHMARK(fn)->Unit(benchmark::kMillisecond)->UseRealTime()

ZEPTO_KERNEL_BENCH(BM_base_column_pass);
ZEPTO_KERNEL_BENCH(BM_window_sum);
ZEPTO_KERNEL_BENCH(BM_window_max);
ZEPTO_KERNEL_BENCH(BM_base_window_max);
ZEPTO_KERNEL_BENCH(BM_ema);
ZEPTO_KERNEL_BENCH(BM_asof);
ZEPTO_KERNEL_BENCH(BM_base_asof);
ZEPTO_KERNEL_BENCH(BM_wj_sum);
ZEPTO_KERNEL_BENCH(BM_base_wj_sum);
ZEPTO_KERNEL_BENCH(BM_hash_join);
ZEPTO_KERNEL_BENCH(BM_base_hash_join);
ZEPTO_KERNEL_BENCH(BM_quantile);
ZEPTO_KERNEL_BENCH(BM_base_quantile);
ZEPTO_KERNEL_BENCH(BM_variance);
ZEPTO_KERNEL_BENCH(BM_base_variance);
ZEPTO_KERNEL_BENCH(BM_distinct);
ZEPTO_KERNEL_BENCH(BM_base_distinct);
ZEPTO_KERNEL_BENCH(BM_xbar);
ZEPTO_KERNEL_BENCH(BM_base_xbar);
ZEPTO_KERNEL_BENCH(BM_date_trunc);
ZEPTO_KERNEL_BENCH(BM_base_date_trunc);
ZEPTO_KERNEL_BENCH(BM_runs);

// A kernel, its baseline and the ratio (kernel rate / baseline rate) it
// should reach.
struct Pair {
  const char* name;
  const char* kernel;
  const char* baseline;
  double target;
  const char* what;
};

constexpr Pair kPairs[] = {
    {"window_sum", "BM_window_sum", "BM_base_column_pass", 0.05, "moving sum(100 rows) vs one summing pass"},
    {"window_max", "BM_window_max", "BM_base_window_max", 2.0, "moving max(100 rows) vs frame rescan"},
    {"ema", "BM_ema", "BM_base_column_pass", 0.25, "ema(x, 20) vs one summing pass"},
    {"asof", "BM_asof", "BM_base_asof", 2.0, "asof_match vs upper_bound per row"},
    {"wj_sum", "BM_wj_sum", "BM_base_wj_sum", 1.5, "window join sum vs bisect + loop"},
    {"hash_join", "BM_hash_join", "BM_base_hash_join", 1.25, "hash_join vs unordered_multimap"},
    {"quantile", "BM_quantile", "BM_base_quantile", 2.0, "quantile_cont vs sort"},
    {"variance", "BM_variance", "BM_base_variance", 2.0, "variance_add vs row-at-a-time Welford"},
    {"distinct", "BM_distinct", "BM_base_distinct", 1.5, "DistinctCounter vs unordered_set"},
    {"xbar", "BM_xbar", "BM_base_xbar", 1.5, "xbar (sorted) vs division per row"},
    {"date_trunc", "BM_date_trunc", "BM_base_date_trunc", 3.0, "date_trunc month (sorted) vs per row"},
    {"runs", "BM_runs", "BM_base_column_pass", 0.5, "sorted_runs vs one summing pass"},
};

}  // namespace

int main(int argc, char** argv) {
  zepto::bench::Collector reporter;
  if (!zepto::bench::run(argc, argv, {"--benchmark_repetitions=3", "--benchmark_min_time=0.2"}, reporter))
    return 1;

  std::printf("\nexec kernels, %zu rows, single thread (median of runs; ratio = kernel rate / baseline rate)\n",
              kRows);
  std::printf("  %-11s %12s %12s %8s %7s  %s\n", "kernel", "M rows/s", "baseline", "ratio", "target", "what");
  for (const Pair& p : kPairs) {
    const double k = reporter.median(p.kernel), b = reporter.median(p.baseline);
    if (k <= 0 || b <= 0) continue;  // filtered out
    const bool pass = k / b >= p.target;
    std::printf("  %-11s %12.1f %12.1f %8.3f %7.2f  %s %s\n", p.name, k / 1e6, b / 1e6, k / b, p.target, p.what,
                pass ? "PASS" : "MISS");
  }
  // Machine-readable lines for bench/run_all.py.
  for (const Pair& p : kPairs) {
    const double k = reporter.median(p.kernel), b = reporter.median(p.baseline);
    if (k <= 0 || b <= 0) continue;
    std::printf("RESULT kernel_%s value=%.6g unit=rows/s baseline=%.6g ratio=%.4f target=%.4g %s\n", p.name, k, b,
                k / b, p.target, k / b >= p.target ? "PASS" : "MISS");
  }
  return 0;
}
