// Output encoders and input decoders of the HTTP formats.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "zeptodb/common/error.h"
#include "zeptodb/database.h"
#include "zeptodb/formats/arrow_ipc.h"
#include "zeptodb/formats/input.h"
#include "zeptodb/formats/output.h"

using namespace zepto;
using namespace zepto::formats;

namespace {

exec::ResultSet sample() {
  exec::ResultSet rs;
  exec::ColumnBuilder s("s", exec::DataType::kVarchar), d("d", exec::DataType::kDouble), i("i", exec::DataType::kBigint);
  s.append_string("a\tb\"c\n");
  s.append_null();
  d.append_double(0.1);
  d.append_double(std::numeric_limits<double>::quiet_NaN());
  i.append_int(1);
  i.append_int(-2);
  rs.columns = {s.finish(), d.finish(), i.finish()};
  rs.rows = 2;
  return rs;
}

std::unique_ptr<Database> make_db() {
  auto db = std::make_unique<Database>();
  db->execute("CREATE TABLE q (sym SYMBOL, ts TIMESTAMP, px DOUBLE, n BIGINT)");
  return db;
}

}  // namespace

TEST(FormatsOutput, TabSeparatedEscapesAndNulls) {
  EXPECT_EQ(encode(sample(), "TabSeparated"), "a\\tb\"c\\n\t0.1\t1\n\\N\tnan\t-2\n");
  EXPECT_EQ(encode(sample(), "TSVWithNames").substr(0, 6), "s\td\ti\n");
}

TEST(FormatsOutput, CsvQuotesStrings) {
  EXPECT_EQ(encode(sample(), "CSV"), "\"a\tb\"\"c\n\",0.1,1\n\\N,nan,-2\n");
}

TEST(FormatsOutput, JsonNeverInvalid) {
  std::string j = encode(sample(), "JSONEachRow");
  EXPECT_EQ(j, "{\"s\":\"a\\tb\\\"c\\n\",\"d\":0.1,\"i\":\"1\"}\n{\"s\":null,\"d\":null,\"i\":\"-2\"}\n");
  OutputOptions o;
  o.quote_64bit_integers = false;
  EXPECT_NE(encode(sample(), "JSONCompact", o).find("[null, null, -2]"), std::string::npos);
  std::string full = encode(sample(), "JSON");
  EXPECT_NE(full.find("\"type\": \"Nullable(String)\""), std::string::npos);
  EXPECT_NE(full.find("\"rows\": 2"), std::string::npos);
}

TEST(FormatsOutput, UnknownFormatIsAnError) { EXPECT_THROW(encode(sample(), "Parquet"), Error); }

TEST(FormatsOutput, ResultStreamChunks) {
  exec::ResultSet rs;
  exec::ColumnBuilder b("x", exec::DataType::kBigint);
  for (int k = 0; k < 100000; ++k) b.append_int(k);
  rs.columns = {b.finish()};
  rs.rows = 100000;
  OutputOptions o;
  o.block_rows = 1000;
  o.chunk_bytes = 4096;
  ResultStream stream(std::make_shared<exec::ResultSet>(rs), "TabSeparated", o);
  std::string chunk, all;
  int chunks = 0;
  while (stream.next(chunk)) {
    all += chunk;
    ++chunks;
  }
  EXPECT_GT(chunks, 10);
  EXPECT_EQ(all, encode(rs, "TabSeparated"));
}

TEST(FormatsInput, JsonEachRowIsAtomic) {
  auto owned = make_db();
  Database& db = *owned;
  EXPECT_EQ(insert_formatted(db, "q", {}, "JSONEachRow",
                             "{\"sym\":\"AAPL\",\"ts\":\"2024-01-02 14:30:00\",\"px\":1.5,\"n\":3}\n"
                             "{\"sym\":\"MSFT\",\"ts\":1711000000000000000,\"px\":2}\n"),
            2u);
  EXPECT_THROW(insert_formatted(db, "q", {}, "JSONEachRow", "{\"sym\":\"X\",\"px\":1}\n{\"sym\":\"Y\",\"px\":\"oops\"}\n"),
               Error);
  EXPECT_THROW(insert_formatted(db, "q", {}, "JSONEachRow", "{\"sym\":\"X\",\"px\":1"), Error);
  auto rs = db.execute("SELECT count(*) FROM q");
  EXPECT_EQ(rs.columns[0].int_at(0), 2);
}

TEST(FormatsInput, CsvAndTsvRoundTrip) {
  auto owned = make_db();
  Database& db = *owned;
  EXPECT_EQ(insert_formatted(db, "q", {"sym", "px"}, "CSV", "\"A,1\",1.5\nB,\\N\n"), 2u);
  EXPECT_EQ(insert_formatted(db, "q", {}, "TabSeparatedWithNames", "sym\tpx\nC\\tD\t3\n"), 1u);
  EXPECT_THROW(insert_formatted(db, "q", {"sym", "px"}, "CSV", "A,1\nB\n"), Error);
  auto rs = db.execute("SELECT sym, px FROM q ORDER BY sym");
  EXPECT_EQ(encode(rs, "TabSeparated"), "A,1\t1.5\nB\t\\N\nC\\tD\t3\n");
}

TEST(FormatsInput, NativeRoundTrip) {
  auto owned = make_db();
  Database& db = *owned;
  insert_formatted(db, "q", {}, "JSONEachRow", "{\"sym\":\"AAPL\",\"ts\":5,\"px\":1.5,\"n\":3}\n{\"sym\":\"B\",\"ts\":6,\"px\":2}\n");
  auto rs = db.execute("SELECT * FROM q ORDER BY ts");
  std::string native = encode(rs, "Native");
  auto other_owned = make_db();
  Database& other = *other_owned;
  EXPECT_EQ(insert_formatted(other, "q", {}, "Native", native), 2u);
  EXPECT_EQ(encode(other.execute("SELECT * FROM q ORDER BY ts"), "CSV"), encode(rs, "CSV"));
  EXPECT_THROW(insert_formatted(other, "q", {}, "Native", native.substr(0, native.size() - 3)), Error);
}

TEST(FormatsInput, NativeLowCardinalityRoundTrip) {
  // Text as LowCardinality: keys per block (blocks of 256 rows), 300 distinct
  // symbols (two-byte indices, the key table grown several times), NULLs as
  // key 0 of a Nullable column; read back it is the same table.
  auto make = [] {
    auto db = std::make_unique<Database>();
    db->execute("CREATE TABLE l (sym SYMBOL, v VARCHAR, n BIGINT)");
    return db;
  };
  auto owned = make();
  std::string rows;
  for (int i = 0; i < 700; ++i)
    rows += "{\"sym\":\"S" + std::to_string(i % 300) + "\",\"v\":" +
            (i % 7 == 0 ? std::string("null") : "\"v" + std::to_string(i % 5) + "\"") + ",\"n\":" + std::to_string(i) +
            "}\n";
  ASSERT_EQ(insert_formatted(*owned, "l", {}, "JSONEachRow", rows), 700u);
  auto rs = owned->execute("SELECT sym, v, n FROM l ORDER BY n");
  OutputOptions options;
  options.native_low_cardinality_strings = true;
  options.block_rows = 256;
  std::string native = encode(rs, "Native", options);
  EXPECT_NE(native.find("LowCardinality(String)"), std::string::npos);
  EXPECT_NE(native.find("LowCardinality(Nullable(String))"), std::string::npos);
  EXPECT_EQ(native.find("\x06String"), std::string::npos);
  EXPECT_LT(native.size(), encode(rs, "Native").size());
  auto other = make();
  EXPECT_EQ(insert_formatted(*other, "l", {}, "Native", native), 700u);
  EXPECT_EQ(encode(other->execute("SELECT sym, v, n FROM l ORDER BY n"), "CSV"), encode(rs, "CSV"));
}

TEST(FormatsInput, ArrowStreamRoundTrip) {
  auto owned = make_db();
  Database& db = *owned;
  insert_formatted(db, "q", {}, "JSONEachRow", "{\"sym\":\"AAPL\",\"ts\":5,\"px\":1.5,\"n\":3}\n{\"sym\":\"B\",\"ts\":6,\"px\":2}\n");
  auto rs = db.execute("SELECT * FROM q ORDER BY ts");
  for (const char* f : {"ArrowStream", "Arrow"}) {
    auto other_owned = make_db();
  Database& other = *other_owned;
    std::string bytes = encode(rs, f);
    EXPECT_EQ(insert_formatted(other, "q", {}, f, bytes), 2u) << f;
    EXPECT_EQ(encode(other.execute("SELECT * FROM q ORDER BY ts"), "CSV"), encode(rs, "CSV")) << f;
    EXPECT_THROW(insert_formatted(other, "q", {}, f, bytes.substr(0, bytes.size() / 2)), Error) << f;
  }
}
