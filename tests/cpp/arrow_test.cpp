// Arrow C Data / C Stream export and import (src/zeptodb/formats/arrow_*).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/database.h"
#include "zeptodb/formats/arrow_export.h"
#include "zeptodb/formats/arrow_import.h"
#include "zeptodb/formats/arrow_result.h"

namespace zepto {
namespace {

using formats::ArrowImportOptions;
using formats::SymbolExport;
using formats::TableExportOptions;

// ------------------------------------------------------------------ helpers

// A hand-made Arrow column: format string, buffers (buffer 0 = validity,
// empty vector = null pointer), length/offset/null_count, optional dictionary.
struct TestCol {
  std::string name, format;
  int64_t length = 0, offset = 0, null_count = 0;
  std::vector<std::vector<uint8_t>> buffers;
  std::shared_ptr<TestCol> dict;
};

template <typename T>
std::vector<uint8_t> bytes(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<uint8_t> bitmap(const std::vector<int>& bits) {
  std::vector<uint8_t> out((bits.size() + 7) / 8, 0);
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i]) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  return out;
}

template <typename T>
TestCol fixed(std::string name, std::string format, const std::vector<T>& values) {
  return {std::move(name), std::move(format), static_cast<int64_t>(values.size()), 0, 0, {{}, bytes(values)}, nullptr};
}

TestCol utf8(std::string name, const std::vector<std::string>& strings) {
  std::vector<int32_t> offsets{0};
  std::string chars;
  for (const auto& s : strings) {
    chars += s;
    offsets.push_back(static_cast<int32_t>(chars.size()));
  }
  return {std::move(name), "u", static_cast<int64_t>(strings.size()), 0, 0,
          {{}, bytes(offsets), std::vector<uint8_t>(chars.begin(), chars.end())}, nullptr};
}

struct Holder {
  std::vector<std::shared_ptr<TestCol>> cols;
  std::vector<std::vector<const void*>> buffers;
  std::vector<ArrowArray> arrays;
  std::vector<ArrowArray*> array_ptrs;
  std::vector<ArrowSchema> schemas;
  std::vector<ArrowSchema*> schema_ptrs;
  std::vector<ArrowArray> dict_arrays;
  std::vector<ArrowSchema> dict_schemas;
  std::vector<const void*> top_buffers{nullptr};
};

int g_released = 0;

void fill(const TestCol& c, ArrowArray* a, ArrowSchema* s, std::vector<const void*>& bufs) {
  for (const auto& b : c.buffers) bufs.push_back(b.empty() ? nullptr : b.data());
  *a = ArrowArray{c.length, c.null_count, c.offset, static_cast<int64_t>(bufs.size()), 0, bufs.data(), nullptr,
                  nullptr, [](ArrowArray* x) { x->release = nullptr; }, nullptr};
  *s = ArrowSchema{c.format.c_str(), c.name.c_str(), nullptr, ARROW_FLAG_NULLABLE, 0, nullptr, nullptr,
                   [](ArrowSchema* x) { x->release = nullptr; }, nullptr};
}

// Writes a record batch of `cols` (length `rows`, struct offset `offset`).
void make_batch(std::vector<TestCol> cols, int64_t rows, ArrowSchema* schema, ArrowArray* array,
                int64_t offset = 0) {
  auto shared = std::make_shared<Holder>();  // owned by both the schema and the array
  Holder* h = shared.get();
  size_t n = cols.size();
  h->buffers.resize(n * 2);
  h->arrays.resize(n);
  h->schemas.resize(n);
  h->dict_arrays.resize(n);
  h->dict_schemas.resize(n);
  for (size_t i = 0; i < n; ++i) {
    h->cols.push_back(std::make_shared<TestCol>(std::move(cols[i])));
    const TestCol& c = *h->cols.back();
    fill(c, &h->arrays[i], &h->schemas[i], h->buffers[2 * i]);
    if (c.dict) {
      fill(*c.dict, &h->dict_arrays[i], &h->dict_schemas[i], h->buffers[2 * i + 1]);
      h->arrays[i].dictionary = &h->dict_arrays[i];
      h->schemas[i].dictionary = &h->dict_schemas[i];
    }
    h->array_ptrs.push_back(&h->arrays[i]);
    h->schema_ptrs.push_back(&h->schemas[i]);
  }
  *array = ArrowArray{rows, 0, offset, 1, static_cast<int64_t>(n), h->top_buffers.data(), h->array_ptrs.data(),
                      nullptr,
                      [](ArrowArray* x) {
                        ++g_released;
                        delete static_cast<std::shared_ptr<Holder>*>(x->private_data);
                        x->release = nullptr;
                      },
                      new std::shared_ptr<Holder>(shared)};
  *schema = ArrowSchema{"+s", "", nullptr, 0, static_cast<int64_t>(n), h->schema_ptrs.data(), nullptr,
                        [](ArrowSchema* x) {
                          delete static_cast<std::shared_ptr<Holder>*>(x->private_data);
                          x->release = nullptr;
                        },
                        new std::shared_ptr<Holder>(shared)};
}

size_t ingest(Database& db, std::vector<TestCol> cols, ArrowImportOptions opts = {}, const char* table = "trades") {
  ArrowSchema s;
  ArrowArray a;
  int64_t rows = cols.empty() ? 0 : cols[0].length - cols[0].offset;
  make_batch(std::move(cols), rows, &s, &a);
  return db.ingest_arrow(table, &s, &a, opts);
}

template <typename T>
std::vector<T> stored(Database& db, int64_t sym, const char* name, const char* table = "trades") {
  auto ref = db.column(table, sym, name);
  if (ref.rows == 0) return {};
  auto* d = reinterpret_cast<const T*>(ref.block->data());
  return {d, d + ref.rows};
}

void ingest_trades(Database& db, std::vector<int64_t> s, std::vector<int64_t> t, std::vector<int64_t> p,
                   std::vector<int64_t> v) {
  std::vector<ColumnInput> in{{"symbol", ColumnType::INT64, s.data()},
                              {"timestamp", ColumnType::INT64, t.data()},
                              {"price", ColumnType::INT64, p.data()},
                              {"volume", ColumnType::INT64, v.data()}};
  db.ingest_columns("trades", in, s.size());
}

// Reads every batch of a stream: (schema formats, per batch the array).
struct Drained {
  std::vector<std::string> formats, names;
  std::vector<ArrowArray> batches;
  ~Drained() {
    for (auto& b : batches)
      if (b.release) b.release(&b);
  }
};

void drain(ArrowArrayStream* st, Drained& out) {
  ArrowSchema s;
  ASSERT_EQ(st->get_schema(st, &s), 0);
  for (int64_t i = 0; i < s.n_children; ++i) {
    out.formats.push_back(s.children[i]->format);
    out.names.push_back(s.children[i]->name);
  }
  s.release(&s);
  for (;;) {
    ArrowArray a;
    ASSERT_EQ(st->get_next(st, &a), 0);
    if (a.release == nullptr) break;
    out.batches.push_back(a);
  }
  st->release(st);
}

// ------------------------------------------------------------------ export

TEST(ArrowExport, NumericColumnsPointAtStorage) {
  Database db;
  ingest_trades(db, {1, 1, 2}, {10, 20, 30}, {100, 101, 200}, {5, 6, 7});
  auto exp = db.export_arrow("trades", std::vector<int64_t>{1});
  ASSERT_EQ(exp->batch_count(), 1u);
  ArrowSchema s;
  formats::export_schema(exp->schema(), &s);
  ASSERT_EQ(s.n_children, 4);
  EXPECT_STREQ(s.children[0]->format, "l");  // integer ids without names stay ids
  EXPECT_STREQ(s.children[1]->format, "tsn:UTC");
  EXPECT_STREQ(s.children[2]->format, "l");
  EXPECT_STREQ(s.children[2]->name, "price");
  s.release(&s);
  EXPECT_EQ(s.release, nullptr);

  ArrowArray a;
  formats::export_batch(exp->batch(0), &a);
  EXPECT_EQ(a.length, 2);
  auto price = db.column("trades", 1, "price");
  EXPECT_EQ(a.children[2]->buffers[1], static_cast<const void*>(price.block->data()));  // zero copy
  EXPECT_EQ(a.children[2]->buffers[0], nullptr);
  EXPECT_EQ(a.children[2]->null_count, 0);
  exp.reset();
  // The array alone keeps the storage alive.
  EXPECT_EQ(static_cast<const int64_t*>(a.children[2]->buffers[1])[1], 101);
  a.release(&a);
  EXPECT_EQ(a.release, nullptr);
}

TEST(ArrowExport, NamedSymbolsAsDictionaryOrUtf8) {
  Database db;
  int64_t aapl = db.symbols().intern("AAPL"), msft = db.symbols().intern("MSFT");
  ingest_trades(db, {aapl, msft, aapl}, {1, 2, 3}, {10, 20, 30}, {1, 1, 1});
  ArrowArrayStream st;
  formats::export_stream(db.export_arrow("trades"), &st);
  Drained d;
  drain(&st, d);
  EXPECT_EQ(d.formats[0], "i");
  ASSERT_EQ(d.batches.size(), 2u);  // one batch per partition
  const ArrowArray& sym = *d.batches[0].children[0];
  ASSERT_NE(sym.dictionary, nullptr);
  EXPECT_EQ(sym.length, 2);
  EXPECT_EQ(static_cast<const int32_t*>(sym.buffers[1])[1], 0);
  const ArrowArray& dict = *sym.dictionary;
  EXPECT_EQ(dict.length, 1);
  EXPECT_EQ(std::string(static_cast<const char*>(dict.buffers[2]), 4), "AAPL");

  TableExportOptions utf8;
  utf8.symbols = SymbolExport::kUtf8;
  utf8.columns = {"symbol", "price"};
  auto exp = db.export_arrow("trades", std::nullopt, utf8);
  ArrowArray all;
  formats::export_batch(exp->combined(), &all);
  ASSERT_EQ(all.n_children, 2);
  EXPECT_EQ(all.length, 3);
  const int32_t* off = static_cast<const int32_t*>(all.children[0]->buffers[1]);
  EXPECT_EQ(std::string(static_cast<const char*>(all.children[0]->buffers[2]) + off[2], off[3] - off[2]), "MSFT");
  EXPECT_EQ(static_cast<const int64_t*>(all.children[1]->buffers[1])[2], 20);
  all.release(&all);
}

TEST(ArrowExport, NullsBecomeBitmapsAndBooleansArePacked) {
  Database db;
  db.catalog().create("t", Schema({{"k", ColumnType::INT64}, {"x", ColumnType::DOUBLE}, {"b", ColumnType::BOOL}}, "k"));
  std::vector<int64_t> k(10, 1);
  std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::vector<uint8_t> xv{1, 0, 1, 1, 1, 1, 1, 1, 1, 0};
  std::vector<uint8_t> b{1, 0, 1, 0, 0, 0, 0, 0, 1, 1};
  db.ingest_columns("t", {{"k", ColumnType::INT64, k.data()}, {"x", ColumnType::DOUBLE, x.data(), xv.data()},
                          {"b", ColumnType::BOOL, b.data()}}, 10);
  auto exp = db.export_arrow("t");
  ArrowArray a;
  formats::export_batch(exp->batch(0), &a);
  const ArrowArray& xa = *a.children[1];
  EXPECT_EQ(xa.null_count, 2);
  ASSERT_NE(xa.buffers[0], nullptr);
  auto* bits = static_cast<const uint8_t*>(xa.buffers[0]);
  EXPECT_EQ(bits[0], 0b11111101);
  EXPECT_EQ(bits[1], 0b01);
  auto* packed = static_cast<const uint8_t*>(a.children[2]->buffers[1]);
  EXPECT_EQ(packed[0], 0b00000101);
  EXPECT_EQ(packed[1], 0b11);
  a.release(&a);
}

TEST(ArrowExport, RoundTripThroughImport) {
  Database src, dst;
  int64_t ids[] = {src.symbols().intern("AAPL"), src.symbols().intern("MSFT")};
  std::vector<int64_t> s, t, p, v;
  for (int i = 0; i < 1000; ++i) {
    s.push_back(ids[i % 2]);
    t.push_back(1'700'000'000'000'000'000 + i);
    p.push_back(100 + i);
    v.push_back(i);
  }
  ingest_trades(src, s, t, p, v);
  ArrowArrayStream st;
  formats::export_stream(src.export_arrow("trades"), &st);
  EXPECT_EQ(dst.ingest_arrow("trades", &st), 1000u);
  EXPECT_EQ(st.release, nullptr);
  auto aapl = *dst.symbols().find("AAPL");
  EXPECT_EQ(stored<int64_t>(dst, aapl, "price"), stored<int64_t>(src, ids[0], "price"));
  EXPECT_EQ(stored<int64_t>(dst, aapl, "timestamp"), stored<int64_t>(src, ids[0], "timestamp"));
}

TEST(ArrowExport, EmptyTableStreamHasSchemaAndNoBatches) {
  Database db;
  ArrowArrayStream st;
  formats::export_stream(db.export_arrow("trades"), &st);
  Drained d;
  drain(&st, d);
  EXPECT_EQ(d.names, (std::vector<std::string>{"symbol", "timestamp", "price", "volume"}));
  EXPECT_TRUE(d.batches.empty());
}

// ------------------------------------------------------------------ import

TEST(ArrowImport, IntegerWidthsFloatsAndScale) {
  Database db;
  ArrowImportOptions opts;
  opts.scales = {{"price", 100.0}};
  EXPECT_EQ(ingest(db,
                   {fixed<int8_t>("symbol", "c", {7, 7, 7}), fixed<uint64_t>("timestamp", "L", {3, 1, 2}),
                    fixed<double>("price", "g", {1.005, 2.5, -0.015}), fixed<uint16_t>("volume", "S", {1, 2, 65535})},
                   opts),
            3u);
  EXPECT_EQ(stored<int64_t>(db, 7, "timestamp"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(stored<int64_t>(db, 7, "price"), (std::vector<int64_t>{250, -2, 100}));  // sorted by time
  EXPECT_EQ(stored<int64_t>(db, 7, "volume"), (std::vector<int64_t>{2, 65535, 1}));
}

TEST(ArrowImport, RejectsWhatDoesNotFitNamingColumnAndRow) {
  Database db;
  auto expect_error = [&](std::vector<TestCol> cols, const std::string& needle, ArrowImportOptions opts = {}) {
    try {
      ingest(db, std::move(cols), opts);
      ADD_FAILURE() << "no error, expected " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({fixed<int64_t>("symbol", "l", {1, 1}), fixed<uint64_t>("price", "L", {1, UINT64_MAX})},
               "column 'price' row 1");
  expect_error({fixed<int64_t>("symbol", "l", {1}), fixed<double>("price", "g", {1.5})},
               "floating-point values need a scale");
  ArrowImportOptions scaled;
  scaled.scales = {{"price", 1.0}};
  expect_error({fixed<int64_t>("symbol", "l", {1, 1}), fixed<double>("price", "g", {1.5, NAN})},
               "column 'price' row 1 is NaN", scaled);
  expect_error({fixed<int64_t>("symbol", "l", {1}), fixed<uint16_t>("price", "e", {0})},
               "column 'price': Arrow type 'e' is not supported");
  expect_error({fixed<int64_t>("symbol", "l", {1}), fixed<int32_t>("price", "d:9,2", {0})}, "'d:9,2'");
  expect_error({fixed<int64_t>("symbol", "l", {1}), fixed<int64_t>("nope", "l", {0})}, "nope");
  expect_error({fixed<int64_t>("symbol", "l", {1}), utf8("price", {"x"})}, "strings are stored in SYMBOL columns");
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 0u);
}

TEST(ArrowImport, TimestampsOfAnyUnitAndZoneAreNsUtc) {
  Database db;
  const int64_t sec = 1'700'000'000;
  ingest(db, {fixed<int64_t>("symbol", "l", {1}), fixed<int64_t>("timestamp", "tss:America/New_York", {sec})});
  ingest(db, {fixed<int64_t>("symbol", "l", {1}), fixed<int64_t>("timestamp", "tsm:", {sec * 1000 + 1})});
  ingest(db, {fixed<int64_t>("symbol", "l", {1}), fixed<int64_t>("timestamp", "tsu:UTC", {sec * 1'000'000 + 2})});
  ingest(db, {fixed<int64_t>("symbol", "l", {1}), fixed<int32_t>("timestamp", "tdD", {19675})});
  ingest(db, {fixed<int64_t>("symbol", "l", {1}), fixed<int64_t>("timestamp", "tdm", {86'400'000})});
  EXPECT_EQ(stored<int64_t>(db, 1, "timestamp"),
            (std::vector<int64_t>{86'400'000'000'000, 19675 * 86'400'000'000'000, sec * 1'000'000'000,
                                  sec * 1'000'000'000 + 2'000, sec * 1'000'000'000 + 1'000'000}));
  try {
    ingest(db, {fixed<int64_t>("symbol", "l", {1}), fixed<int64_t>("timestamp", "tss:", {INT64_MAX / 10})});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflows int64 nanoseconds"), std::string::npos);
  }
}

TEST(ArrowImport, StringsViewsDictionariesAndSlices) {
  Database db;
  // utf8, sliced by one
  TestCol s = utf8("symbol", {"SKIP", "AAPL", "MSFT", "AAPL"});
  s.offset = 1;
  TestCol p = fixed<int64_t>("price", "l", {0, 10, 20, 30});
  p.offset = 1;
  ArrowSchema sc;
  ArrowArray ar;
  make_batch({s, p}, 3, &sc, &ar);
  EXPECT_EQ(db.ingest_arrow("trades", &sc, &ar), 3u);
  auto aapl = *db.symbols().find("AAPL");
  EXPECT_EQ(stored<int64_t>(db, aapl, "price"), (std::vector<int64_t>{10, 30}));
  EXPECT_FALSE(db.symbols().find("SKIP"));

  // utf8_view: one inline (<= 12 bytes), one out of line
  std::string long_name = "A_VERY_LONG_SYMBOL";
  std::vector<uint8_t> views(32, 0);
  int32_t len1 = 4, len2 = static_cast<int32_t>(long_name.size()), buf = 0, pos = 0;
  std::memcpy(views.data(), &len1, 4);
  std::memcpy(views.data() + 4, "MSFT", 4);
  std::memcpy(views.data() + 16, &len2, 4);
  std::memcpy(views.data() + 20, long_name.data(), 4);
  std::memcpy(views.data() + 24, &buf, 4);
  std::memcpy(views.data() + 28, &pos, 4);
  std::vector<int64_t> sizes{len2};
  TestCol sv{"symbol", "vu", 2, 0, 0,
             {{}, views, std::vector<uint8_t>(long_name.begin(), long_name.end()), bytes(sizes)}, nullptr};
  ingest(db, {sv, fixed<int64_t>("price", "l", {1, 2})});
  EXPECT_EQ(stored<int64_t>(db, *db.symbols().find(long_name), "price"), (std::vector<int64_t>{2}));
  EXPECT_EQ(stored<int64_t>(db, *db.symbols().find("MSFT"), "price"), (std::vector<int64_t>{20, 1}));

  // dictionary<int8, utf8>; a NULL index in the key column is rejected
  TestCol d = fixed<int8_t>("symbol", "c", {1, 0, 1});
  d.dict = std::make_shared<TestCol>(utf8("", {"IBM", "ORCL"}));
  ingest(db, {d, fixed<int64_t>("price", "l", {5, 6, 7})});
  EXPECT_EQ(stored<int64_t>(db, *db.symbols().find("ORCL"), "price"), (std::vector<int64_t>{5, 7}));
  TestCol dn = fixed<int8_t>("symbol", "c", {1, 0});
  dn.dict = d.dict;
  dn.buffers[0] = bitmap({1, 0});
  dn.null_count = 1;
  try {
    ingest(db, {dn, fixed<int64_t>("price", "l", {5, 6})});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'symbol' row 1 is NULL"), std::string::npos) << e.what();
  }
}

TEST(ArrowImport, ValidityBitmapsBoolsAndNullColumns) {
  Database db;
  db.catalog().create("t", Schema({{"k", ColumnType::SYMBOL}, {"x", ColumnType::DOUBLE}, {"b", ColumnType::BOOL},
                                   {"n", ColumnType::INT32}}, "k"));
  TestCol x = fixed<float>("x", "f", {1.5f, 0.f, 2.5f});
  x.buffers[0] = bitmap({1, 0, 1});
  x.null_count = -1;  // unknown: computed from the bitmap
  TestCol b{"b", "b", 3, 0, 0, {{}, bitmap({1, 0, 1})}, nullptr};
  TestCol n{"n", "n", 3, 0, 3, {}, nullptr};
  ingest(db, {utf8("k", {"A", "A", "A"}), x, b, n}, {}, "t");
  auto snap = db.catalog().require("t")->find_partition(*db.symbols().find("A"))->snapshot();
  ASSERT_EQ(snap.rows, 3u);
  EXPECT_EQ(snap.data<double>(1)[2], 2.5);
  ASSERT_NE(snap.valid(1), nullptr);
  EXPECT_EQ(snap.valid(1)[1], 0);
  EXPECT_EQ(snap.data<uint8_t>(2)[0], 1);
  EXPECT_EQ(snap.data<uint8_t>(2)[1], 0);
  ASSERT_NE(snap.valid(3), nullptr);
  EXPECT_EQ(snap.valid(3)[0], 0);

  ArrowImportOptions strict;
  strict.reject_nulls = true;
  try {
    ingest(db, {utf8("k", {"A", "A", "A"}), x}, strict, "t");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("column 'x' row 1 is null"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.catalog().require("t")->row_count(), 3u);
}

// A stream of several chunks, one of them empty with null buffers.
struct ChunkStream {
  std::vector<std::vector<int64_t>> prices;
  size_t next = 0;
  static ChunkStream* self(ArrowArrayStream* s) { return static_cast<ChunkStream*>(s->private_data); }
};

TEST(ArrowImport, ChunkedStreamIsOneAtomicBatch) {
  auto run = [](std::vector<std::vector<int64_t>> prices, Database& db) {
    ArrowArrayStream st;
    st.private_data = new ChunkStream{std::move(prices)};
    st.get_schema = [](ArrowArrayStream*, ArrowSchema* out) {
      ArrowArray tmp;
      make_batch({fixed<int64_t>("symbol", "l", {}), fixed<int64_t>("price", "l", {})}, 0, out, &tmp);
      tmp.release(&tmp);
      --g_released;  // count only the chunks
      return 0;
    };
    st.get_next = [](ArrowArrayStream* s, ArrowArray* out) {
      ChunkStream* c = ChunkStream::self(s);
      if (c->next == c->prices.size()) {
        out->release = nullptr;
        return 0;
      }
      const auto& p = c->prices[c->next++];
      ArrowSchema tmp;
      TestCol sym = fixed<int64_t>("symbol", "l", std::vector<int64_t>(p.size(), 3));
      TestCol px = fixed<int64_t>("price", "l", p);
      if (p.empty()) sym.buffers[1].clear(), px.buffers[1].clear();  // zero-length, null buffers
      make_batch({sym, px}, static_cast<int64_t>(p.size()), &tmp, out);
      tmp.release(&tmp);
      return 0;
    };
    st.get_last_error = [](ArrowArrayStream*) -> const char* { return nullptr; };
    st.release = [](ArrowArrayStream* s) {
      delete ChunkStream::self(s);
      s->release = nullptr;
    };
    return db.ingest_arrow("trades", &st);
  };
  Database db;
  g_released = 0;
  EXPECT_EQ(run({{1, 2}, {}, {3}, {4, 5, 6}}, db), 6u);
  EXPECT_EQ(g_released, 4);
  EXPECT_EQ(stored<int64_t>(db, 3, "price"), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(run({}, db), 0u);
  EXPECT_EQ(stored<int64_t>(db, 3, "price").size(), 6u);
}

TEST(ArrowImport, BigImportsConvertEveryColumnAndNameTheFirstBadOne) {
  // Big enough to decode on two threads, into buffers that the second
  // import reuses: both batches must stay intact.
  const int64_t n = 300'000;
  std::vector<int32_t> codes(n);
  std::vector<int64_t> us(n), volume(n);
  std::vector<double> price(n);
  for (int64_t i = 0; i < n; ++i) {
    codes[i] = static_cast<int32_t>(i % 2);
    us[i] = 1'700'000'000'000'000 + i;
    price[i] = static_cast<double>(i) / 100 + 0.004;
    volume[i] = i;
  }
  auto batch = [&](std::vector<int64_t> ts, std::vector<double> px, const char* ts_format) {
    TestCol sym = fixed<int32_t>("symbol", "i", codes);
    sym.dict = std::make_shared<TestCol>(utf8("", {"EVEN", "ODD"}));
    return std::vector<TestCol>{sym, fixed<int64_t>("timestamp", ts_format, ts), fixed<double>("price", "g", px),
                                fixed<int64_t>("volume", "l", volume)};
  };
  ArrowImportOptions opts;
  opts.scales = {{"price", 100.0}};
  opts.reject_nat = true;
  Database db;
  EXPECT_EQ(ingest(db, batch(us, price, "tsu:"), opts), static_cast<size_t>(n));
  EXPECT_EQ(ingest(db, batch(us, price, "tsu:"), opts), static_cast<size_t>(n));
  const int64_t odd = *db.symbols().find("ODD");
  auto ts = stored<int64_t>(db, odd, "timestamp");
  auto px = stored<int64_t>(db, odd, "price");
  auto vol = stored<int64_t>(db, odd, "volume");
  ASSERT_EQ(ts.size(), static_cast<size_t>(n));  // n / 2 rows of ODD from each import
  for (size_t r = 0; r < ts.size(); ++r) {
    const int64_t i = 2 * static_cast<int64_t>(r / 2) + 1;  // equal timestamps keep arrival order
    ASSERT_EQ(ts[r], us[i] * 1000) << r;
    ASSERT_EQ(px[r], i) << r;
    ASSERT_EQ(vol[r], i) << r;
  }
  // Bad values in the last row of two columns: the first column (in the
  // order of the data) is named, and nothing is stored.
  auto expect_error = [&](std::vector<TestCol> cols, const std::string& needle) {
    try {
      ingest(db, std::move(cols), opts);
      ADD_FAILURE() << "no error, expected " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto bad_ts = us, nat = us;
  auto bad_px = price;
  bad_ts[n - 1] = INT64_MAX / 10;
  bad_px[n - 1] = NAN;
  const std::string last = std::to_string(n - 1);
  expect_error(batch(bad_ts, bad_px, "tsu:"), "column 'timestamp' row " + last + " overflows int64 nanoseconds");
  expect_error(batch(us, bad_px, "tsu:"), "column 'price' row " + last + " is NaN");
  nat[5] = INT64_MIN;  // NumPy's NaT, converted or passed through
  expect_error(batch(nat, price, "tsu:"), "column 'timestamp' row 5 is NaT");
  expect_error(batch(nat, price, "tsn:"), "column 'timestamp' row 5 is NaT");
  EXPECT_EQ(db.catalog().require("trades")->row_count(), static_cast<size_t>(2 * n));
}

TEST(ArrowResult, SliceOfAResultSharesItsBuffers) {
  exec::ResultSet rs;
  exec::ColumnBuilder ts("ts", exec::DataType::kTimestamp), x("x", exec::DataType::kDouble),
      s("s", exec::DataType::kVarchar);
  for (int i = 0; i < 4; ++i) {
    ts.append_int(100 + i);
    if (i == 2) x.append_null();
    else x.append_double(i + 0.5);
    s.append_string(std::string(static_cast<size_t>(i + 1), static_cast<char>('a' + i)));
  }
  rs.columns = {ts.finish(), x.finish(), s.finish()};
  rs.rows = 4;

  ArrowSchema schema;
  formats::export_schema(formats::result_schema(rs), &schema);
  ASSERT_EQ(schema.n_children, 3);
  EXPECT_STREQ(schema.children[0]->format, "tsn:UTC");
  EXPECT_STREQ(schema.children[1]->format, "g");
  EXPECT_STREQ(schema.children[2]->format, "U");
  schema.release(&schema);

  ArrowArray a;
  formats::export_batch(formats::result_batch(rs, 1, 3), &a);  // rows 1 and 2
  ASSERT_EQ(a.length, 2);
  EXPECT_EQ(a.children[0]->buffers[1], rs.columns[0].data<int64_t>() + 1);  // zero copy
  EXPECT_EQ(a.children[1]->null_count, 1);
  EXPECT_EQ(static_cast<const uint8_t*>(a.children[1]->buffers[0])[0] & 0b11, 0b01);
  auto* off = static_cast<const int64_t*>(a.children[2]->buffers[1]);
  auto* chars = static_cast<const char*>(a.children[2]->buffers[2]);
  EXPECT_EQ(std::string(chars + off[0], off[1] - off[0]), "bb");
  EXPECT_EQ(std::string(chars + off[1], off[2] - off[1]), "ccc");
  rs = exec::ResultSet();  // the array keeps the buffers alive
  EXPECT_EQ(static_cast<const int64_t*>(a.children[0]->buffers[1])[1], 102);
  a.release(&a);
}

}  // namespace
}  // namespace zepto
