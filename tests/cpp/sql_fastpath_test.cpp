// SQL fast paths that exploit the storage order (one partition per symbol,
// rows sorted by timestamp): each query is run as is and again with a
// predicate that is always true, which turns the fast path off, and the two
// results must be identical (same rows, same order, same digits), serially
// and on several threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "zeptodb/database.h"

namespace zepto {
namespace {

using exec::ResultSet;
using Rows = std::vector<std::string>;

Rows rows(const ResultSet& rs) {
  Rows out;
  for (size_t r = 0; r < rs.rows; ++r) {
    std::string line;
    for (size_t c = 0; c < rs.columns.size(); ++c) line += (c ? "|" : "") + rs.columns[c].format(r);
    out.push_back(line);
  }
  return out;
}

constexpr const char* kAlwaysTrue = "(volume IS NULL OR volume IS NOT NULL)";

class SqlFastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db.execute(
        "CREATE TABLE f (symbol BIGINT, timestamp TIMESTAMP, price BIGINT, px DOUBLE, volume BIGINT) "
        "PARTITION BY symbol ORDER BY timestamp");
  }

  // Appends n rows: symbols from `syms`, timestamps in [t0, t0 + span), some
  // NULL prices and px, repeated timestamps.
  void add(std::mt19937_64& rng, size_t n, const std::vector<int64_t>& syms, int64_t t0, int64_t span) {
    std::vector<int64_t> sym(n), ts(n), price(n), volume(n);
    std::vector<double> px(n);
    std::vector<uint8_t> pv(n), xv(n);
    for (size_t i = 0; i < n; ++i) {
      sym[i] = syms[rng() % syms.size()];
      ts[i] = t0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span)) / 7 * 7;  // ties
      price[i] = 100 + static_cast<int64_t>(rng() % 900);
      px[i] = static_cast<double>(rng() % 100000) / 7.0;
      volume[i] = 1 + static_cast<int64_t>(rng() % 50);
      pv[i] = rng() % 11 != 0;
      xv[i] = rng() % 5 != 0;
    }
    db.ingest_columns("f",
                      {{"symbol", ColumnType::INT64, sym.data()},
                       {"timestamp", ColumnType::INT64, ts.data()},
                       {"price", ColumnType::INT64, price.data(), pv.data()},
                       {"px", ColumnType::DOUBLE, px.data(), xv.data()},
                       {"volume", ColumnType::INT64, volume.data()}},
                      n);
  }

  void load_random() {
    std::mt19937_64 rng(42);
    // Symbol 1 gets enough rows to span several 8192-row chunks; 5 one row;
    // later batches go back in time (merged into the sorted partitions);
    // symbol 7 lies wholly before the time ranges queried below.
    add(rng, 30000, {1, 1, 1, 2, 3, 4}, 1'000'000, 5'000'000);
    add(rng, 5000, {1, 2, 3, 4, 6}, -2'000'000, 4'000'000);
    add(rng, 3000, {2, 3, 6}, 3'000'000, 500'000);
    std::vector<int64_t> one_sym{5}, one_ts{2'500'000}, one_px{7}, one_vol{3};
    std::vector<double> one_x{1.5};
    db.ingest_columns("f",
                      {{"symbol", ColumnType::INT64, one_sym.data()},
                       {"timestamp", ColumnType::INT64, one_ts.data()},
                       {"price", ColumnType::INT64, one_px.data()},
                       {"px", ColumnType::DOUBLE, one_x.data()},
                       {"volume", ColumnType::INT64, one_vol.data()}},
                      1);
    add(rng, 200, {7}, -9'000'000, 1'000'000);
  }

  std::string explain(const std::string& sql) {
    std::string plan;
    for (const auto& r : rows(db.execute("EXPLAIN " + sql))) plan += r + "\n";
    return plan;
  }

  // `select` + WHERE `where` + `tail`, against the same with the always-true
  // predicate added; `fast`: whether the first is expected to take the fast path.
  void check(const std::string& select, const std::string& where, const std::string& tail, bool fast = true) {
    std::string sql = select + (where.empty() ? "" : " WHERE " + where) + tail;
    std::string general =
        select + " WHERE " + (where.empty() ? "" : "(" + where + ") AND ") + kAlwaysTrue + tail;
    const std::string marker = "groups are row ranges";
    EXPECT_EQ(explain(sql).find(marker) != std::string::npos, fast) << explain(sql);
    EXPECT_EQ(explain(general).find(marker), std::string::npos) << explain(general);
    exec::ExecOptions serial, parallel;
    parallel.threads = 4;
    parallel.row_threshold = 0;
    Rows want = rows(db.execute(general, serial));
    EXPECT_FALSE(want.empty()) << sql;
    EXPECT_EQ(rows(db.execute(sql, serial)), want) << sql;
    EXPECT_EQ(rows(db.execute(sql, parallel)), want) << sql;
    EXPECT_EQ(rows(db.execute(general, parallel)), want) << general;
  }

  Database db;
};

TEST_F(SqlFastPathTest, LatestPerSymbol) {
  load_random();
  const std::string sel =
      "SELECT symbol, last(price), max(timestamp), first(price), min(timestamp), first(px), last(px), count(*), "
      "count(px), last(volume) FROM f";
  check(sel, "", " GROUP BY symbol");  // no ORDER BY: the groups' order must match too
  check(sel, "", " GROUP BY symbol ORDER BY symbol");
  check(sel, "timestamp BETWEEN 0 AND 2999999", " GROUP BY symbol");
  check(sel, "timestamp < 1000000 AND symbol IN (1, 2, 7)", " GROUP BY symbol");
  check(sel, "symbol = 5", " GROUP BY symbol");
  // Over all partitions at once: ties of timestamps between partitions.
  check("SELECT last(price), first(price), max(timestamp), min(timestamp), count(*) FROM f", "", "");
  check("SELECT count(*) FROM f", "symbol = 3", "");
  // A predicate on another column turns the fast path off.
  check(sel, "price > 500", " GROUP BY symbol", false);
}

TEST_F(SqlFastPathTest, Bars) {
  load_random();
  // stddev only per symbol: a group spread over partitions merges partial
  // states in the order threads finish, which moves its last digit.
  const std::string aggs =
      "first(price), max(price), min(price), last(price), sum(volume), sum(px), avg(px), avg(price), "
      "vwap(price, volume), count(price), min(px), max(px), median(price)";
  for (const char* width : {"1000", "333333", "100000000"}) {
    std::string b = std::string("xbar(timestamp, ") + width + ")";
    check("SELECT symbol, " + b + " AS b, " + aggs + ", stddev(px) FROM f", "", " GROUP BY symbol, b");
    check("SELECT symbol, " + b + " AS b, " + aggs + " FROM f", "", " GROUP BY symbol, b ORDER BY symbol, b");
    check("SELECT " + b + " AS b, " + aggs + " FROM f", "", " GROUP BY b");
    check("SELECT " + b + " AS b, symbol, " + aggs + " FROM f", "symbol = 1", " GROUP BY b, symbol");
    check("SELECT symbol, " + b + " AS b, " + aggs + " FROM f", "timestamp >= 2500000 AND timestamp < 4000000",
          " GROUP BY symbol, b HAVING count(*) > 1");
  }
  // Keys that vary within a partition other than by xbar of the timestamp,
  // or arguments that are expressions, take the general path.
  check("SELECT xbar(price, 100) AS b, count(*) FROM f", "", " GROUP BY b", false);
  check("SELECT symbol, sum(volume * 2) FROM f", "", " GROUP BY symbol", false);
}

TEST_F(SqlFastPathTest, FilteredAggregatesUseTheMask) {
  // One group per partition under a filter: the aggregates take the filter
  // as a mask. Arguments written as expressions turn that off; the results
  // must be the same (NULLs in the filter's column and in the arguments).
  load_random();
  const std::string marker = "the filter is a mask";
  // Keys other than the partition key: several groups per partition.
  EXPECT_EQ(explain("SELECT price, count(*) FROM f WHERE volume > 3 GROUP BY price").find(marker), std::string::npos);
  exec::ExecOptions serial, parallel;
  parallel.threads = 4;
  parallel.row_threshold = 0;
  for (const char* where : {"price > 500", "timestamp BETWEEN 0 AND 3000000 AND price > 500", "px < 5000 OR price < 200",
                            "symbol IN (1, 3) AND price > 100000", "price IS NULL", "volume >= 25",
                            "30 > volume", "volume <> 7", "timestamp < 2000000 AND 10 <= volume"}) {
    for (const char* group : {"", " GROUP BY symbol"}) {
      std::string sel = std::string("SELECT ") + (*group ? "symbol, " : "");
      std::string fast = sel + "sum(volume), sum(px), count(*), count(px), count(price), min(price), max(px), "
                               "first(price), last(px), vwap(price, volume), avg(px) FROM f WHERE " +
                         where + group;
      std::string general = sel + "sum(volume + 0), sum(px + 0), count(*), count(px + 0), count(price + 0), "
                                  "min(price + 0), max(px + 0), first(price + 0), last(px + 0), "
                                  "vwap(price + 0, volume + 0), avg(px + 0) FROM f WHERE " +
                            std::string(where) + group;
      EXPECT_NE(explain(fast).find(marker), std::string::npos) << explain(fast);
      EXPECT_EQ(explain(general).find(marker), std::string::npos) << explain(general);
      Rows want = rows(db.execute(general, serial));
      EXPECT_EQ(want.empty(), *group != 0 && std::string(where).find("100000") != std::string::npos) << fast;
      EXPECT_EQ(rows(db.execute(fast, serial)), want) << fast;
      EXPECT_EQ(rows(db.execute(fast, parallel)), want) << fast;
    }
  }
}

TEST_F(SqlFastPathTest, EmptyTableAndEmptyRanges) {
  // No partition at all, and a time range that no partition reaches.
  EXPECT_EQ(rows(db.execute("SELECT count(*), last(price), max(timestamp) FROM f")), (Rows{"0|NULL|NULL"}));
  EXPECT_TRUE(rows(db.execute("SELECT symbol, last(price) FROM f GROUP BY symbol")).empty());
  load_random();
  EXPECT_EQ(rows(db.execute("SELECT count(*), last(price) FROM f WHERE timestamp > 99000000")), (Rows{"0|NULL"}));
  EXPECT_TRUE(rows(db.execute("SELECT symbol, xbar(timestamp, 10) AS b, count(*) FROM f WHERE timestamp > "
                              "99000000 GROUP BY symbol, b"))
                  .empty());
}

TEST_F(SqlFastPathTest, NullsAtTheEndsOfRanges) {
  // The last row of the partition (and of a bar) has a NULL price: last()
  // takes the latest non-NULL one; a partition of NULLs only gives NULL.
  db.execute("INSERT INTO f VALUES (1, 10, 5, 1.0, 1), (1, 20, NULL, NULL, 1), (2, 15, NULL, NULL, 2), "
             "(1, 5, NULL, 2.0, 1), (3, 30, 9, 9.0, 3)");
  EXPECT_EQ(rows(db.execute("SELECT symbol, first(price), last(price), first(px), last(px), max(timestamp) FROM f "
                            "GROUP BY symbol ORDER BY symbol")),
            (Rows{"1|5|5|2|1|1970-01-01 00:00:00.000000020", "2|NULL|NULL|NULL|NULL|1970-01-01 00:00:00.000000015",
                   "3|9|9|9|9|1970-01-01 00:00:00.000000030"}));
  check("SELECT symbol, xbar(timestamp, 10) AS b, first(price), last(price), sum(px) FROM f", "",
        " GROUP BY symbol, b");
}

TEST_F(SqlFastPathTest, PartitionOverSeveralMorsels) {
  // More than 2^20 rows in one partition: several morsels (tasks) share
  // its groups, the bar straddling the morsel boundary included.
  size_t n = (size_t{1} << 20) + 70000;
  std::vector<int64_t> sym(n, 9), ts(n), price(n), volume(n);
  for (size_t i = 0; i < n; ++i) {
    ts[i] = static_cast<int64_t>(i / 3);
    price[i] = static_cast<int64_t>((i * 7919) % 1000);
    volume[i] = static_cast<int64_t>(i % 17);
  }
  db.ingest_columns("f",
                    {{"symbol", ColumnType::INT64, sym.data()},
                     {"timestamp", ColumnType::INT64, ts.data()},
                     {"price", ColumnType::INT64, price.data()},
                     {"volume", ColumnType::INT64, volume.data()}},
                    n);
  check("SELECT symbol, xbar(timestamp, 100000) AS b, first(price), last(price), max(price), sum(volume), count(*) "
        "FROM f",
        "", " GROUP BY symbol, b");
  check("SELECT symbol, last(price), first(price), max(timestamp), count(*) FROM f", "", " GROUP BY symbol");
}

TEST_F(SqlFastPathTest, AsofJoinMatchesGroupedPath) {
  // Trades as stored (one run per symbol, sorted): the merge per partition.
  // The same trades and quotes reordered by a subquery (keys no longer in
  // runs) take the grouped path; the matches must agree. Quote times are
  // distinct per symbol, so the match of each trade is unique.
  load_random();
  db.execute("CREATE TABLE g (symbol BIGINT, timestamp TIMESTAMP, bid DOUBLE) PARTITION BY symbol ORDER BY timestamp");
  std::mt19937_64 rng(5);
  size_t n = 6000;
  std::vector<int64_t> sym(n), ts(n);
  std::vector<double> bid(n);
  std::vector<uint8_t> bv(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = 1 + static_cast<int64_t>(i % 5);  // no quotes for symbols 6 and 7
    ts[i] = -1'000'000 + static_cast<int64_t>(i) * 1013;  // some trades come before any quote
    bid[i] = static_cast<double>(rng() % 1000) / 4;
    bv[i] = rng() % 9 != 0;
  }
  std::shuffle(ts.begin(), ts.end(), rng);
  db.ingest_columns("g",
                    {{"symbol", ColumnType::INT64, sym.data()},
                     {"timestamp", ColumnType::INT64, ts.data()},
                     {"bid", ColumnType::DOUBLE, bid.data(), bv.data()}},
                    n);
  for (const char* join : {"ASOF JOIN", "ASOF LEFT JOIN"})
    for (const char* cond : {">=", ">"})
      for (const char* where : {"", " WHERE t.symbol = 2", " WHERE t.symbol IN (1, 6, 3)"}) {
        std::string on = std::string(" ON t.symbol = q.symbol AND t.timestamp ") + cond + " q.timestamp";
        // q.symbol: one partition's key is a constant (not gathered by the
        // merge's pieces, so every match is kept), several partitions' a column.
        std::string sel = "SELECT t.symbol, t.timestamp, t.price, q.timestamp, q.bid, q.symbol FROM ";
        std::string fast = sel + "f t " + join + " g q" + on + where;
        std::string grouped = sel + "(SELECT * FROM f ORDER BY price, volume) t " + join +
                              " (SELECT * FROM g ORDER BY bid) q" + on + where;
        exec::ExecOptions parallel;
        parallel.threads = 4;
        parallel.row_threshold = 0;
        Rows a = rows(db.execute(fast)), b = rows(db.execute(grouped)), c = rows(db.execute(fast, parallel));
        EXPECT_FALSE(a.empty()) << fast;
        EXPECT_EQ(a, c) << fast;
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        EXPECT_EQ(a, b) << fast;
      }
}

}  // namespace
}  // namespace zepto
