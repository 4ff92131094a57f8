// SQL execution: Database::execute over the whole dialect, checked on small
// hand-made tables.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/database.h"
#include "zeptodb/sql/parse_error.h"

namespace zepto {
namespace {

using exec::DataType;
using exec::ResultSet;

// Rows of a result as text, "a|b|c" per row.
std::vector<std::string> rows(const ResultSet& rs) {
  std::vector<std::string> out;
  for (size_t r = 0; r < rs.rows; ++r) {
    std::string line;
    for (size_t c = 0; c < rs.columns.size(); ++c) line += (c ? "|" : "") + rs.columns[c].format(r);
    out.push_back(line);
  }
  return out;
}

using Rows = std::vector<std::string>;

class SqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // trades: symbol 1 (3 rows) and 2 (2 rows), ts 1000.., int prices/volumes.
    std::vector<int64_t> sym{1, 1, 2, 1, 2}, ts{1000, 2000, 1500, 3000, 2500}, px{10, 11, 20, 12, 21},
        vol{100, 200, 300, 400, 500};
    load(sym, ts, px, vol);
  }
  void load(const std::vector<int64_t>& sym, const std::vector<int64_t>& ts, const std::vector<int64_t>& px,
            const std::vector<int64_t>& vol) {
    db.ingest_columns("trades",
                      {{"symbol", ColumnType::INT64, sym.data()},
                       {"timestamp", ColumnType::INT64, ts.data()},
                       {"price", ColumnType::INT64, px.data()},
                       {"volume", ColumnType::INT64, vol.data()}},
                      sym.size());
  }
  Rows q(const std::string& sql) { return rows(db.execute(sql)); }
  Database db;
};

TEST_F(SqlTest, SelectWhereOrder) {
  EXPECT_EQ(q("SELECT price FROM trades WHERE symbol = 1 ORDER BY timestamp"), (Rows{"10", "11", "12"}));
  EXPECT_EQ(q("SELECT count(*) FROM trades"), (Rows{"5"}));
  EXPECT_EQ(q("SELECT symbol, sum(volume) FROM trades GROUP BY symbol ORDER BY symbol"), (Rows{"1|700", "2|800"}));
  EXPECT_EQ(q("SELECT symbol, count(*) AS n FROM trades WHERE symbol = 1 OR symbol = 2 GROUP BY 1 ORDER BY n DESC"),
            (Rows{"1|3", "2|2"}));
  EXPECT_EQ(q("SELECT price FROM trades WHERE NOT (symbol = 1) ORDER BY price"), (Rows{"20", "21"}));
}

TEST_F(SqlTest, Vwap) {
  ResultSet rs = db.execute("SELECT vwap(price, volume) AS v FROM trades WHERE symbol = 1");
  ASSERT_EQ(rs.columns[0].type, DataType::kDouble);
  EXPECT_NEAR(rs.columns[0].double_at(0), (10 * 100 + 11 * 200 + 12 * 400) / 700.0, 1e-12);
}

TEST_F(SqlTest, AggregatesDifferingOnlyInTheirParameterAreComputedApart) {
  // Prices 10, 11, 12 of symbol 1: the 0.5 and 0.5000001 quantiles differ
  // in the sixth decimal; the same call twice is computed once, same value.
  ResultSet rs = db.execute(
      "SELECT percentile(price, 0.5), percentile(price, 0.5000001), percentile(price, 0.5) FROM trades WHERE symbol = 1");
  ASSERT_EQ(rs.rows, 1u);
  EXPECT_EQ(rs.columns[0].double_at(0), 11.0);
  EXPECT_GT(rs.columns[1].double_at(0), 11.0);
  EXPECT_EQ(rs.columns[2].double_at(0), 11.0);
}

TEST_F(SqlTest, SyntaxErrorCarriesPosition) {
  try {
    db.execute("SELECT price FORM trades");
    FAIL();
  } catch (const sql::ParseError& e) {
    EXPECT_EQ(e.line(), 1u);
  }
}

TEST_F(SqlTest, UnknownColumnListsValid) {
  try {
    db.execute("SELECT prise FROM trades");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("price"), std::string::npos) << e.what();
  }
}

TEST_F(SqlTest, PruningAndRowsScanned) {
  ResultSet rs = db.execute("SELECT count(*) FROM trades WHERE symbol = 2 AND timestamp >= 2000");
  EXPECT_EQ(rows(rs), (Rows{"1"}));
  EXPECT_EQ(rs.rows_scanned, 1u);  // one partition, binary-searched to one row
  rs = db.execute("SELECT count(*) FROM trades WHERE symbol = 1 OR timestamp > 2400");
  EXPECT_EQ(rows(rs), (Rows{"4"}));
  EXPECT_EQ(rs.rows_scanned, 5u);  // an OR with a non-key term reads everything
  EXPECT_EQ(q("SELECT count(*) FROM trades WHERE NOT (symbol <> 1)"), (Rows{"3"}));
  EXPECT_EQ(q("SELECT count(*) FROM trades WHERE symbol = 'NOPE'"), (Rows{"0"}));
  std::string plan;
  for (const auto& r : q("EXPLAIN SELECT * FROM trades WHERE symbol IN (1, 2) AND timestamp BETWEEN 1000 AND 2000"))
    plan += r + "\n";
  EXPECT_NE(plan.find("partitions=[1,2]"), std::string::npos) << plan;
  EXPECT_NE(plan.find("time=[1000, 2000]"), std::string::npos) << plan;
}

TEST_F(SqlTest, GroupByOrdinalsAliasesExpressionsHaving) {
  EXPECT_EQ(q("SELECT xbar(timestamp, 1000) AS b, count(*) FROM trades GROUP BY b ORDER BY b"),
            (Rows{"1000|2", "2000|2", "3000|1"}));
  EXPECT_EQ(q("SELECT symbol, max(price) - min(price) AS r FROM trades GROUP BY 1 HAVING count(*) > 2"),
            (Rows{"1|2"}));
  EXPECT_EQ(q("SELECT price % 2 AS odd, sum(volume) FROM trades GROUP BY price % 2 ORDER BY odd"),
            (Rows{"0|800", "1|700"}));
  EXPECT_THROW(db.execute("SELECT price, count(*) FROM trades GROUP BY symbol"), Error);
  EXPECT_EQ(q("SELECT count(*), sum(price) FROM trades WHERE symbol = 99"), (Rows{"0|NULL"}));
}

TEST_F(SqlTest, FirstLastFollowTimestamps) {
  // Rows arrived out of order; first/last follow the timestamps.
  EXPECT_EQ(q("SELECT symbol, first(price), last(price) FROM trades GROUP BY symbol ORDER BY symbol"),
            (Rows{"1|10|12", "2|20|21"}));
}

TEST_F(SqlTest, ParallelMatchesSerial) {
  std::vector<int64_t> sym, ts, px, vol;
  for (int64_t i = 0; i < 50000; ++i) {
    sym.push_back(i % 37);
    ts.push_back(100000 - i);
    px.push_back((i * 7919) % 1000);
    vol.push_back(i % 13);
  }
  load(sym, ts, px, vol);
  for (const char* sql : {"SELECT symbol, count(*), sum(volume), first(price), last(price), avg(price) FROM trades "
                          "GROUP BY symbol",
                          "SELECT price, volume FROM trades WHERE price > 990",
                          "SELECT count(DISTINCT price), median(price), round(stddev(price), 6) FROM trades"}) {
    exec::ExecOptions serial, parallel;
    parallel.threads = 4;
    parallel.row_threshold = 0;
    EXPECT_EQ(rows(db.execute(sql, serial)), rows(db.execute(sql, parallel))) << sql;
  }
}

TEST_F(SqlTest, NullsAndThreeValuedLogic) {
  db.execute("CREATE TABLE n (k SYMBOL, x INTEGER, y DOUBLE, b BOOLEAN)");
  ResultSet ins = db.execute("INSERT INTO n VALUES ('a', 1, 1.5, TRUE), ('a', NULL, NULL, NULL), ('b', 3, NULL, FALSE)");
  EXPECT_EQ(ins.affected_rows, 3u);
  EXPECT_EQ(q("SELECT count(*), count(x), sum(x), avg(y), min(y) FROM n"), (Rows{"3|2|4|1.5|1.5"}));
  EXPECT_EQ(q("SELECT x + 1, x IS NULL, b AND x > 2, b OR x > 2 FROM n ORDER BY k, x NULLS FIRST"),
            (Rows{"NULL|true|NULL|NULL", "2|false|false|true", "4|false|false|true"}));
  EXPECT_EQ(q("SELECT coalesce(y, x, -1) FROM n ORDER BY k, x"), (Rows{"1.5", "-1", "3"}));
  ResultSet rs = db.execute("SELECT k, x FROM n");
  EXPECT_EQ(rs.columns[0].type, DataType::kVarchar);
  EXPECT_EQ(rs.columns[1].type, DataType::kInteger);
  EXPECT_TRUE(rs.columns[1].has_nulls());
}

TEST_F(SqlTest, SymbolTextsInResults) {
  // Runs of one id, ids that come back, ids without a name (trades holds
  // integer ids) and NULLs from an outer join all print as the dictionary has
  // them, in the result and through a cast.
  db.execute("CREATE TABLE s (k SYMBOL, ts TIMESTAMP, v BIGINT)");
  db.execute("INSERT INTO s VALUES ('a', 1, 1), ('a', 2, 2), ('b', 3, 3), ('a', 4, 4), ('c', 5, 6)");
  EXPECT_EQ(q("SELECT k FROM s ORDER BY ts"), (Rows{"a", "a", "b", "a", "c"}));
  EXPECT_EQ(q("SELECT CAST(k AS VARCHAR) || '!' FROM s ORDER BY ts"), (Rows{"a!", "a!", "b!", "a!", "c!"}));
  EXPECT_EQ(q("SELECT t.symbol, s.k FROM trades t LEFT JOIN s ON t.volume = s.v * 100 ORDER BY t.timestamp"),
            (Rows{"1|a", "2|b", "1|a", "2|NULL", "1|a"}));
}

TEST_F(SqlTest, FailedInsertChangesNothing) {
  db.execute("CREATE TABLE t (k SYMBOL, ts TIMESTAMP, v DOUBLE)");
  EXPECT_THROW(db.execute("INSERT INTO t VALUES ('a', 1, 1.0), ('b', 2, 'x')"), Error);
  EXPECT_THROW(db.execute("INSERT INTO t VALUES ('a', 1, 1.0), (NULL, 2, 2.0)"), Error);
  EXPECT_EQ(q("SELECT count(*) FROM t"), (Rows{"0"}));
  EXPECT_EQ(db.execute("INSERT INTO t (k, v) VALUES ('a', 2.5)").affected_rows, 1u);
  EXPECT_EQ(q("SELECT k, v FROM t"), (Rows{"a|2.5"}));
  EXPECT_THROW(db.execute("CREATE TABLE t (x BIGINT)"), Error);
  EXPECT_NO_THROW(db.execute("CREATE TABLE IF NOT EXISTS t (x BIGINT)"));
  EXPECT_NO_THROW(db.execute("DROP TABLE t"));
  EXPECT_NO_THROW(db.execute("DROP TABLE IF EXISTS t"));
  EXPECT_THROW(db.execute("DROP TABLE t"), Error);
}

TEST_F(SqlTest, JoinsAndWindows) {
  db.execute("CREATE TABLE q (symbol BIGINT, ts TIMESTAMP, bid DOUBLE) PARTITION BY symbol ORDER BY ts");
  db.execute("INSERT INTO q VALUES (1, 900, 9.5), (1, 1900, 10.5), (2, 1600, 19.5), (3, 1, 0.0)");
  EXPECT_EQ(q("SELECT t.timestamp, q.bid FROM trades t ASOF JOIN q ON t.symbol = q.symbol AND t.timestamp >= q.ts "
              "ORDER BY t.timestamp"),
            (Rows{"1000|9.5", "2000|10.5", "2500|19.5", "3000|10.5"}));
  EXPECT_EQ(q("SELECT count(*) FROM trades t ASOF LEFT JOIN q ON t.symbol = q.symbol AND t.timestamp > q.ts"),
            (Rows{"5"}));
  EXPECT_EQ(q("SELECT t.price, q.bid FROM trades t JOIN q ON t.symbol = q.symbol WHERE q.ts < 1000 ORDER BY 1"),
            (Rows{"10|9.5", "11|9.5", "12|9.5"}));
  EXPECT_EQ(q("SELECT t.timestamp, count(q.bid), sum(q.bid) FROM trades t WINDOW JOIN q ON t.symbol = q.symbol "
              "AND q.ts BETWEEN t.timestamp - 1100 AND t.timestamp + 0 ORDER BY t.timestamp"),
            (Rows{"1000|1|9.5", "1500|0|NULL", "2000|2|20", "2500|1|19.5", "3000|1|10.5"}));
  EXPECT_EQ(q("SELECT price, row_number() OVER (ORDER BY price DESC), rank() OVER (PARTITION BY symbol ORDER BY "
              "price), sum(price) OVER (PARTITION BY symbol ORDER BY timestamp ROWS 1 PRECEDING) FROM trades "
              "WHERE symbol = 1 ORDER BY timestamp"),
            (Rows{"10|3|1|10", "11|2|2|21", "12|1|3|23"}));
}

TEST_F(SqlTest, RangeFramesAndFirstLastValue) {
  // RANGE frames hold the rows whose ORDER BY key lies within the offsets;
  // first_value / last_value read the first / last row of the frame.
  EXPECT_EQ(q("SELECT symbol, sum(volume) OVER (PARTITION BY symbol ORDER BY timestamp RANGE BETWEEN 1000 PRECEDING "
              "AND CURRENT ROW), first_value(price) OVER (PARTITION BY symbol ORDER BY timestamp ROWS BETWEEN 1 "
              "PRECEDING AND CURRENT ROW), last_value(price) OVER (PARTITION BY symbol ORDER BY timestamp RANGE "
              "BETWEEN CURRENT ROW AND 1500 FOLLOWING) FROM trades ORDER BY symbol, timestamp"),
            (Rows{"1|100|10|11", "1|300|10|12", "1|600|11|12", "2|300|20|21", "2|800|20|21"}));
  // DESC keys: PRECEDING means larger keys. Peers share their frame.
  EXPECT_EQ(q("SELECT price, count(*) OVER (ORDER BY price DESC RANGE BETWEEN 1 PRECEDING AND CURRENT ROW), "
              "last_value(price) OVER (ORDER BY price % 10) FROM trades ORDER BY price"),
            (Rows{"10|2|20", "11|2|21", "12|1|12", "20|2|20", "21|1|21"}));
  EXPECT_THROW(db.execute("SELECT sum(price) OVER (ORDER BY symbol, timestamp RANGE BETWEEN 1 PRECEDING AND "
                          "CURRENT ROW) FROM trades"),
               Error);
  EXPECT_THROW(db.execute("SELECT sum(price) OVER (RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM trades"), Error);
  db.execute("CREATE TABLE w (k VARCHAR, x DOUBLE)");
  EXPECT_THROW(db.execute("SELECT sum(x) OVER (ORDER BY k RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM w"), Error);
  EXPECT_THROW(db.execute("SELECT first_value(k) OVER (ORDER BY x) FROM w"), Error);
}

TEST_F(SqlTest, UnionCteSubqueries) {
  EXPECT_EQ(q("WITH a AS (SELECT symbol, price FROM trades), b (s, p) AS (SELECT * FROM a WHERE price > 11) "
              "SELECT s, p FROM b ORDER BY p"),
            (Rows{"1|12", "2|20", "2|21"}));
  EXPECT_EQ(q("SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3 ORDER BY x DESC LIMIT 2"), (Rows{"3", "2"}));
  EXPECT_EQ(q("SELECT price FROM trades WHERE price = (SELECT max(price) FROM trades)"), (Rows{"21"}));
  EXPECT_EQ(q("SELECT count(*) FROM (SELECT symbol FROM trades WHERE symbol IN (SELECT symbol FROM trades "
              "WHERE price > 20)) s"),
            (Rows{"2"}));
  EXPECT_THROW(db.execute("SELECT (SELECT price FROM trades)"), Error);
}

TEST_F(SqlTest, ArithmeticErrorsAndNames) {
  EXPECT_THROW(db.execute("SELECT 9223372036854775807 * 2"), Error);
  EXPECT_THROW(db.execute("SELECT price % 0 FROM trades"), Error);
  EXPECT_EQ(q("SELECT 1 / 0, -1 / 0"), (Rows{"inf|-inf"}));
  ResultSet rs = db.execute("SELECT price, price, sum(volume) FROM trades GROUP BY price ORDER BY price LIMIT 1");
  EXPECT_EQ(rs.column_names(), (std::vector<std::string>{"price", "price_1", "sum(volume)"}));
}

}  // namespace
}  // namespace zepto
