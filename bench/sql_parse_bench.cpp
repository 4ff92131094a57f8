// Parse time of typical queries: the parser must stay far below the cost
// of running the query (a few microseconds for a typical one).
#include <benchmark/benchmark.h>

#include <string>

#include "zeptodb/sql/lexer.h"
#include "zeptodb/sql/parser.h"

namespace {

using namespace zepto::sql;

constexpr const char* kTypical =
    "SELECT symbol, vwap(price, volume) AS vwap, sum(volume) AS vol FROM trades "
    "WHERE symbol = 'AAPL' AND timestamp >= TIMESTAMP '2024-01-02 14:30:00' GROUP BY symbol";

constexpr const char* kPoint = "SELECT count(*) FROM trades WHERE symbol = 'AAPL'";

constexpr const char* kComplex =
    "WITH bars AS (SELECT symbol, xbar(timestamp, 300000000000) AS bar, first(price) AS open, "
    "max(price) AS high, min(price) AS low, last(price) AS close, sum(volume) AS volume "
    "FROM trades WHERE symbol IN ('AAPL', 'MSFT', 'GOOG') AND timestamp BETWEEN "
    "TIMESTAMP '2024-01-02 09:30:00' AND TIMESTAMP '2024-01-02 16:00:00' GROUP BY symbol, bar) "
    "SELECT b.symbol, b.bar, b.close, avg(b.close) OVER (PARTITION BY b.symbol ORDER BY b.bar "
    "ROWS BETWEEN 11 PRECEDING AND CURRENT ROW) AS ma, q.bid, q.ask, "
    "CASE WHEN b.close > b.open THEN 'up' ELSE 'down' END AS dir "
    "FROM bars b ASOF JOIN quotes q ON b.symbol = q.symbol AND b.bar >= q.timestamp "
    "WHERE b.volume > 0 ORDER BY b.symbol, b.bar DESC LIMIT 100";

void BM_Parse(benchmark::State& state, const char* sql) {
  for (auto _ : state) {
    Statement st = parse(sql);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(std::char_traits<char>::length(sql)));
}
BENCHMARK_CAPTURE(BM_Parse, point, kPoint);
BENCHMARK_CAPTURE(BM_Parse, typical, kTypical);
BENCHMARK_CAPTURE(BM_Parse, complex, kComplex);

// Tokenizing alone: the floor under the parser.
void BM_Lex(benchmark::State& state, const char* sql) {
  for (auto _ : state) {
    Lexer lex(sql);
    size_t n = 0;
    while (lex.next().kind != TokenKind::kEnd) ++n;
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK_CAPTURE(BM_Lex, typical, kTypical);
BENCHMARK_CAPTURE(BM_Lex, complex, kComplex);

// A 1000-row INSERT ... VALUES, as small clients send.
void BM_ParseInsertValues(benchmark::State& state) {
  std::string sql = "INSERT INTO trades (symbol, timestamp, price, volume) VALUES ";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) sql += ", ";
    sql += "('AAPL', " + std::to_string(1704205800000000000LL + i) + ", " +
           std::to_string(15000 + i % 17) + ", " + std::to_string(100 + i) + ")";
  }
  for (auto _ : state) {
    Statement st = parse(sql);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_ParseInsertValues);

}  // namespace

BENCHMARK_MAIN();
