// Dictionary-encoded VARCHAR result columns (SYMBOL columns leave the engine
// as codes plus the distinct names): every consumer gives what it gives for
// the same text in the plain layout.
#include <gtest/gtest.h>

#include "result_util.h"

#include <string>

#include "zeptodb/database.h"
#include "zeptodb/formats/arrow_result.h"
#include "zeptodb/formats/input.h"
#include "zeptodb/formats/output.h"

using namespace zepto;
using namespace zepto::formats;

namespace {

// `rs` with every dictionary-encoded column in the plain layout.
exec::ResultSet plain(const exec::ResultSet& rs) {
  exec::ResultSet out = rs;
  for (auto& c : out.columns)
    if (c.is_dictionary()) c = test_util::plain_strings(c, 0, c.length);
  return out;
}

// Two SYMBOL columns (the partition key and one with NULLs) over 3 partitions.
std::unique_ptr<Database> make_db() {
  auto db = std::make_unique<Database>();
  db->execute("CREATE TABLE t (sym SYMBOL, ts TIMESTAMP, venue SYMBOL, px DOUBLE)");
  std::string rows;
  for (int i = 0; i < 30; ++i)
    rows += "{\"sym\":\"S" + std::to_string(i % 3) + "\",\"ts\":" + std::to_string(i) + ",\"venue\":" +
            (i % 4 == 0 ? std::string("null") : "\"V" + std::to_string(i % 5) + "\"") + ",\"px\":" +
            std::to_string(i) + ".5}\n";
  EXPECT_EQ(insert_formatted(*db, "t", {}, "JSONEachRow", rows), 30u);
  return db;
}

void expect_same_in_every_format(const exec::ResultSet& rs) {
  exec::ResultSet p = plain(rs);
  for (const char* f : {"TabSeparated", "TabSeparatedWithNamesAndTypes", "CSVWithNames", "JSON", "JSONCompact",
                        "JSONEachRow", "Native", "ArrowStream"})
    EXPECT_EQ(encode(rs, f), encode(p, f)) << f;
  OutputOptions lc;
  lc.native_low_cardinality_strings = true;
  lc.block_rows = 7;  // blocks that each use a part of the dictionary
  EXPECT_EQ(encode(rs, "Native", lc), encode(p, "Native", lc));
  EXPECT_EQ(rs.to_string(100), p.to_string(100));
}

}  // namespace

TEST(ResultDictionary, SymbolColumnsAreCodesAndDistinctNames) {
  auto db = make_db();
  auto rs = db->execute("SELECT sym, venue, px FROM t ORDER BY ts");
  ASSERT_EQ(rs.rows, 30u);
  const auto& sym = rs.column("sym");
  const auto& venue = rs.column("venue");
  ASSERT_TRUE(sym.is_dictionary());
  ASSERT_TRUE(venue.is_dictionary());
  EXPECT_EQ(sym.dictionary->length, 3u);
  EXPECT_EQ(venue.dictionary->length, 5u);  // V0..V4, not NULL
  EXPECT_FALSE(sym.has_nulls());
  EXPECT_EQ(venue.null_count(), 8u);
  for (size_t r = 0; r < rs.rows; ++r) {
    EXPECT_EQ(sym.string_at(r), "S" + std::to_string(r % 3)) << r;
    EXPECT_EQ(venue.is_null(r), r % 4 == 0) << r;
    if (r % 4) {
      EXPECT_EQ(venue.string_at(r), "V" + std::to_string(r % 5)) << r;
    }
  }
  EXPECT_EQ(sym.text_bytes(0, 30), 60u);
  EXPECT_EQ(venue.text_bytes(0, 4), 6u);  // rows 1..3; row 0 is NULL
}

TEST(ResultDictionary, EveryFormatMatchesThePlainLayout) {
  auto db = make_db();
  expect_same_in_every_format(db->execute("SELECT sym, venue, px FROM t ORDER BY ts"));
  expect_same_in_every_format(db->execute("SELECT * FROM t"));  // partition by partition
  expect_same_in_every_format(db->execute("SELECT venue, count(*) AS n FROM t GROUP BY venue ORDER BY venue"));
}

TEST(ResultDictionary, EmptyAndAllNullResults) {
  auto db = make_db();
  auto empty = db->execute("SELECT sym, venue FROM t WHERE px < 0");
  ASSERT_EQ(empty.rows, 0u);
  EXPECT_EQ(empty.column("sym").length, 0u);
  expect_same_in_every_format(empty);
  auto nulls = db->execute("SELECT sym, venue FROM t WHERE venue IS NULL ORDER BY ts");
  ASSERT_EQ(nulls.rows, 8u);
  EXPECT_EQ(nulls.column("venue").null_count(), 8u);
  expect_same_in_every_format(nulls);
}

TEST(ResultDictionary, PlainStringsOfARange) {
  auto db = make_db();
  auto rs = db->execute("SELECT venue FROM t ORDER BY ts");
  const auto& c = rs.column("venue");
  exec::ResultColumn part = test_util::plain_strings(c, 3, 9);
  ASSERT_FALSE(part.is_dictionary());
  ASSERT_EQ(part.length, 6u);
  EXPECT_EQ(part.data<int64_t>()[0], 0);
  for (size_t r = 0; r < part.length; ++r) {
    EXPECT_EQ(part.is_null(r), c.is_null(r + 3)) << r;
    if (!part.is_null(r)) {
      EXPECT_EQ(part.string_at(r), c.string_at(r + 3)) << r;
    }
  }
  // The Arrow view of a range carries that range's text.
  ArrowColumn a = result_column(c, 3, 9);
  EXPECT_EQ(a.kind, ArrowKind::kLargeUtf8);
  EXPECT_EQ(a.length, 6u);
  const int64_t* off = static_cast<const int64_t*>(a.values.get());
  EXPECT_EQ(off[2] - off[1], 0);  // row 4: NULL
  EXPECT_EQ(std::string(a.chars.get() + off[2], static_cast<size_t>(off[3] - off[2])), "V0");  // row 5
}
