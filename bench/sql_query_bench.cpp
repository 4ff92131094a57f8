// The queries of bench/bench_sql.py in C++, without Python: Database::execute
// on the same generated data (trades over 100 symbols, half as many quotes,
// six hours), to see what the engine itself costs and to profile it
// (`perf record -g build/.../sql_query_bench --benchmark_filter=asof`).
// ZEPTO_BENCH_ROWS sets the trade count (default 10 M); 2 threads as in the
// documented run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "zeptodb/database.h"

namespace {

constexpr int64_t kT0 = 1'711'000'000'000'000'000;
constexpr int64_t kBar = 300'000'000'000;
constexpr int64_t kHour = 3600'000'000'000;

zepto::Database& db() {
  static std::unique_ptr<zepto::Database> d = [] {
    auto out = std::make_unique<zepto::Database>();
    const char* env = std::getenv("ZEPTO_BENCH_ROWS");
    size_t n = env ? std::strtoull(env, nullptr, 10) : 10'000'000, nq = n / 2;
    std::mt19937_64 rng(7);
    std::vector<int64_t> sym(n), ts(n), px(n), vol(n), qsym(nq), qts(nq);
    std::vector<double> bid(nq), ask(nq);
    for (size_t i = 0; i < n; ++i) {
      sym[i] = 1 + static_cast<int64_t>(rng() % 100);
      ts[i] = kT0 + static_cast<int64_t>(rng() % (6 * kHour));
      px[i] = 10'000 + static_cast<int64_t>(rng() % 10'000);
      vol[i] = 1 + static_cast<int64_t>(rng() % 999);
    }
    std::sort(ts.begin(), ts.end());
    for (size_t i = 0; i < nq; ++i) {
      qsym[i] = 1 + static_cast<int64_t>(rng() % 100);
      qts[i] = kT0 + static_cast<int64_t>(rng() % (6 * kHour));
      bid[i] = static_cast<double>(10'000 + rng() % 10'000) / 100;
      ask[i] = bid[i] + 0.01;
    }
    std::sort(qts.begin(), qts.end());
    using zepto::ColumnType;
    out->ingest_columns("trades",
                        {{"symbol", ColumnType::INT64, sym.data()},
                         {"timestamp", ColumnType::TIMESTAMP, ts.data()},
                         {"price", ColumnType::INT64, px.data()},
                         {"volume", ColumnType::INT64, vol.data()}},
                        n);
    out->execute("CREATE TABLE quotes (symbol BIGINT, timestamp TIMESTAMP, bid DOUBLE, ask DOUBLE) "
                 "PARTITION BY symbol ORDER BY timestamp");
    out->ingest_columns("quotes",
                        {{"symbol", ColumnType::INT64, qsym.data()},
                         {"timestamp", ColumnType::TIMESTAMP, qts.data()},
                         {"bid", ColumnType::DOUBLE, bid.data()},
                         {"ask", ColumnType::DOUBLE, ask.data()}},
                        nq);
    out->enable_parallel(2, 100'000);
    return out;
  }();
  return *d;
}

void run(benchmark::State& state, const std::string& sql) {
  auto& d = db();
  for (auto _ : state) {
    auto rs = d.execute(sql);
    benchmark::DoNotOptimize(rs.rows);
  }
}

const std::string kLo = std::to_string(kT0 + kHour), kHi = std::to_string(kT0 + 2 * kHour);

BENCHMARK_CAPTURE(run, count_one_symbol, "SELECT count(*) FROM trades WHERE symbol = 42")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, vwap_per_symbol,
                  "SELECT symbol, vwap(price, volume) FROM trades GROUP BY symbol ORDER BY symbol")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, bars_one_symbol,
                  "SELECT xbar(timestamp, " + std::to_string(kBar) +
                      ") AS b, first(price), max(price), min(price), last(price), sum(volume) "
                      "FROM trades WHERE symbol = 42 GROUP BY b ORDER BY b")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, bars_all_symbols,
                  "SELECT symbol, xbar(timestamp, " + std::to_string(kBar) +
                      ") AS b, first(price), max(price), min(price), last(price), sum(volume) "
                      "FROM trades GROUP BY symbol, b ORDER BY symbol, b")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, filtered_sum,
                  "SELECT sum(volume) FROM trades WHERE timestamp BETWEEN " + kLo + " AND " + kHi +
                      " AND price > 15000")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, asof_one_symbol,
                  "SELECT t.timestamp, t.price, q.bid FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol "
                  "AND t.timestamp >= q.timestamp WHERE t.symbol = 42")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, latest_per_symbol,
                  "SELECT symbol, last(price), max(timestamp) FROM trades GROUP BY symbol ORDER BY symbol")
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
