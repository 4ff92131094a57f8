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

}  // namespace
}  // namespace zepto
