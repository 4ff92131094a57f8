#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "zeptodb/common/error.h"
#include "zeptodb/database.h"

namespace zepto {
namespace {

std::vector<ColumnInput> trades_cols(const std::vector<int64_t>& s, const std::vector<int64_t>& t,
                                     const std::vector<int64_t>& p, const std::vector<int64_t>& v) {
  return {{"symbol", ColumnType::INT64, s.data()},
          {"timestamp", ColumnType::INT64, t.data()},
          {"price", ColumnType::INT64, p.data()},
          {"volume", ColumnType::INT64, v.data()}};
}

std::vector<int64_t> column_values(Database& db, int64_t sym, const char* name) {
  auto ref = db.column("trades", sym, name);
  if (ref.rows == 0) return {};
  auto* d = reinterpret_cast<const int64_t*>(ref.block->data());
  return {d, d + ref.rows};
}

TEST(Storage, BatchAppendGroupsBySymbolInTimestampOrder) {
  Database db;
  std::vector<int64_t> s{1, 2, 1, 2, 1}, t{10, 20, 5, 15, 30}, p{100, 200, 101, 201, 102},
      v{1, 2, 3, 4, 5};
  EXPECT_EQ(db.ingest_columns("trades", trades_cols(s, t, p, v), 5), 5u);
  EXPECT_EQ(column_values(db, 1, "timestamp"), (std::vector<int64_t>{5, 10, 30}));
  EXPECT_EQ(column_values(db, 1, "price"), (std::vector<int64_t>{101, 100, 102}));
  EXPECT_EQ(column_values(db, 2, "volume"), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(db.count("trades", 1, INT64_MIN, INT64_MAX), 3u);
  EXPECT_EQ(db.count("trades", 1, 6, 30), 2u);
  EXPECT_EQ(db.count("trades", 3, INT64_MIN, INT64_MAX), 0u);
  EXPECT_EQ(std::get<int64_t>(db.sum("trades", 1, "volume", INT64_MIN, INT64_MAX)), 9);
  EXPECT_DOUBLE_EQ(db.vwap("trades", 2, INT64_MIN, INT64_MAX), (200.0 * 2 + 201.0 * 4) / 6.0);
  EXPECT_TRUE(std::isnan(db.vwap("trades", 99, INT64_MIN, INT64_MAX)));
  EXPECT_EQ(db.stats().partitions_created, 2u);
}

TEST(Storage, OldBlocksSurviveGrowthAndLateRows) {
  Database db;
  std::vector<int64_t> s{7}, t{100}, p{1}, v{1};
  db.ingest_columns("trades", trades_cols(s, t, p, v), 1);
  auto held = db.column("trades", 7, "timestamp");
  ASSERT_EQ(held.rows, 1u);
  // Grow far past the first block and insert rows earlier than the held one.
  std::vector<int64_t> s2(10000, 7), t2(10000), p2(10000, 2), v2(10000, 1);
  for (size_t i = 0; i < t2.size(); ++i) t2[i] = static_cast<int64_t>(i);
  db.ingest_columns("trades", trades_cols(s2, t2, p2, v2), t2.size());
  EXPECT_EQ(reinterpret_cast<const int64_t*>(held.block->data())[0], 100);
  auto ts = column_values(db, 7, "timestamp");
  ASSERT_EQ(ts.size(), 10001u);
  EXPECT_TRUE(std::is_sorted(ts.begin(), ts.end()));
  EXPECT_EQ(std::count(ts.begin(), ts.end(), 100), 2);
}

TEST(Storage, LateRowsWhileViewHeldCopyOnWrite) {
  Database db;
  std::vector<int64_t> s{1, 1, 1}, t{10, 20, 30}, p{1, 2, 3}, v{1, 1, 1};
  db.ingest_columns("trades", trades_cols(s, t, p, v), 3);
  auto held = db.column("trades", 1, "price");
  std::vector<int64_t> s2{1}, t2{15}, p2{9}, v2{1};
  db.ingest_columns("trades", trades_cols(s2, t2, p2, v2), 1);
  const int64_t* old = reinterpret_cast<const int64_t*>(held.block->data());
  EXPECT_EQ((std::vector<int64_t>{old, old + held.rows}), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(column_values(db, 1, "price"), (std::vector<int64_t>{1, 9, 2, 3}));
}

// expect_rows(): partitions get room for their share of the announced rows
// with the first batch, so later batches land in the same blocks (no move,
// no copy); the rows are the same as without the hint.
TEST(Storage, ExpectRowsSizesPartitionsOnceAndKeepsTheRows) {
  Database hinted, plain;
  hinted.catalog().require("trades")->expect_rows(200'000);
  std::mt19937_64 rng(5);
  const void* first_block = nullptr;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<int64_t> s(20'000), t(20'000), p(20'000), v(20'000, 1);
    for (size_t i = 0; i < s.size(); ++i) {
      s[i] = static_cast<int64_t>(rng() % 8);
      t[i] = batch * 100'000 + static_cast<int64_t>(i);
      p[i] = static_cast<int64_t>(rng() % 1000);
    }
    hinted.ingest_columns("trades", trades_cols(s, t, p, v), s.size());
    plain.ingest_columns("trades", trades_cols(s, t, p, v), s.size());
    const void* block = hinted.column("trades", 3, "price").block.get();
    if (batch == 0) first_block = block;
    EXPECT_EQ(block, first_block) << "batch " << batch << ": symbol 3 moved to a new block";
  }
  for (int64_t sym = 0; sym < 8; ++sym)
    for (const char* col : {"timestamp", "price"})
      EXPECT_EQ(column_values(hinted, sym, col), column_values(plain, sym, col)) << sym << " " << col;
}

// A hint larger than the memory limit allows is ignored: the batch is stored.
TEST(Storage, ExpectRowsPastTheMemoryLimitStillStoresTheBatch) {
  DatabaseConfig cfg;
  cfg.max_memory = 4 << 20;
  Database db(cfg);
  db.catalog().require("trades")->expect_rows(size_t{1} << 40);
  std::vector<int64_t> s(1000), t(1000), p(1000, 1), v(1000, 1);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<int64_t>(i % 4), t[i] = static_cast<int64_t>(i);
  EXPECT_EQ(db.ingest_columns("trades", trades_cols(s, t, p, v), s.size()), 1000u);
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 1000u);
  EXPECT_LE(db.stats().memory_bytes, size_t{4} << 20);
}

TEST(Storage, MemoryLimitRejectsWholeBatch) {
  DatabaseConfig cfg;
  cfg.max_memory = 64 * 1024;
  cfg.arena_size = 32 * 1024;
  Database db(cfg);
  std::vector<int64_t> s(100000), t(100000), p(100000, 1), v(100000, 1);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<int64_t>(i % 10), t[i] = static_cast<int64_t>(i);
  try {
    db.ingest_columns("trades", trades_cols(s, t, p, v), s.size());
    FAIL() << "expected out of memory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  }
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 0u);
  EXPECT_EQ(db.stats().ticks_stored, 0u);
}

TEST(Storage, ValidationNamesColumnAndRow) {
  Database db;
  auto t = db.catalog().create("quotes", Schema({{"sym", ColumnType::SYMBOL},
                                                  {"ts", ColumnType::TIMESTAMP},
                                                  {"bid", ColumnType::DOUBLE}}));
  std::vector<int64_t> s{1, 1}, ts{1, 2};
  std::vector<double> bid{1.0, std::nan("")};
  try {
    db.ingest_columns("quotes", {{"sym", ColumnType::SYMBOL, s.data()},
                                 {"ts", ColumnType::TIMESTAMP, ts.data()},
                                 {"bid", ColumnType::DOUBLE, bid.data()}},
                      2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'bid' row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(db.ingest_columns("quotes", {{"ts", ColumnType::TIMESTAMP, ts.data()}}, 2), Error);
  EXPECT_THROW(db.ingest_columns("nope", {}, 0), Error);
  EXPECT_EQ(t->row_count(), 0u);
}

TEST(Ingest, QueueDrainStoresEverything) {
  DatabaseConfig cfg;
  cfg.queue_capacity = 1024;
  Database db(cfg);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(db.ingest(i % 3, 100 + i, 1, i));
  db.drain();
  EXPECT_EQ(db.stats().ticks_stored, 5000u);
  EXPECT_EQ(db.count("trades", 0, INT64_MIN, INT64_MAX), 1667u);
}

TEST(Ingest, ConcurrentProducersReadersAndDrainThread) {
  DatabaseConfig cfg;
  cfg.queue_capacity = 4096;
  Database db(cfg);
  db.start();
  constexpr int kProducers = 2, kPerProducer = 20000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      auto ref = db.column("trades", 1, "timestamp");
      if (ref.rows > 1) {
        auto* d = reinterpret_cast<const int64_t*>(ref.block->data());
        ASSERT_TRUE(std::is_sorted(d, d + ref.rows));
      }
      db.vwap("trades", 1, INT64_MIN, INT64_MAX);
    }
  });
  std::thread batcher([&] {
    std::mt19937_64 rng(1);
    for (int b = 0; b < 50; ++b) {
      std::vector<int64_t> s(100), t(100), p(100, 5), v(100, 1);
      for (int i = 0; i < 100; ++i) s[i] = 1 + (i % 2), t[i] = static_cast<int64_t>(rng() % 1000000);
      db.ingest_columns("trades", trades_cols(s, t, p, v), 100);
    }
  });
  std::vector<std::thread> producers;
  std::atomic<uint64_t> accepted{0};
  for (int w = 0; w < kProducers; ++w)
    producers.emplace_back([&, w] {
      for (int i = 0; i < kPerProducer; ++i)
        if (db.ingest(1 + (i % 2), 100, 1, static_cast<int64_t>(w) * 1000000 + i)) accepted++;
    });
  for (auto& th : producers) th.join();
  batcher.join();
  db.stop();
  done = true;
  reader.join();
  auto st = db.stats();
  EXPECT_EQ(st.ticks_stored, accepted.load() + 5000);
  EXPECT_EQ(st.ticks_stored + st.ticks_dropped, uint64_t{kProducers * kPerProducer} + 5000);
  EXPECT_EQ(db.count("trades", 1, INT64_MIN, INT64_MAX) + db.count("trades", 2, INT64_MIN, INT64_MAX),
            st.ticks_stored);
}

TEST(Database, PureOnDiskNeedsADataDir) {
  DatabaseConfig cfg;
  cfg.storage_mode = StorageMode::PURE_ON_DISK;
  try {
    Database db(cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("PURE_ON_DISK needs a data_dir"), std::string::npos) << e.what();
  }
}

TEST(SymbolDictionary, NamesNeverWrapPastTheLargestId) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  SymbolDictionary dict;
  dict.note_ids(1, kMax - 1);
  EXPECT_EQ(dict.intern("A"), kMax);
  EXPECT_THROW(dict.intern("B"), Error);
  EXPECT_EQ(dict.find("B"), std::nullopt);
  EXPECT_EQ(dict.intern("A"), kMax);
}

}  // namespace
}  // namespace zepto

namespace zepto {
namespace {

TEST(Storage, NullsAreStoredPerColumnAndSurviveReordering) {
  Database db;
  db.catalog().create("q", Schema({{"sym", ColumnType::SYMBOL},
                                   {"ts", ColumnType::TIMESTAMP},
                                   {"bid", ColumnType::DOUBLE},
                                   {"size", ColumnType::INT32}}));
  std::vector<int64_t> s{1, 1, 2}, ts{30, 10, 20};
  std::vector<double> bid{1.5, 0.0, 2.5};
  std::vector<uint8_t> bid_ok{1, 0, 1};
  std::vector<int32_t> size{7, 8, 9};
  db.ingest_columns("q", {{"sym", ColumnType::SYMBOL, s.data()},
                          {"ts", ColumnType::TIMESTAMP, ts.data()},
                          {"bid", ColumnType::DOUBLE, bid.data(), bid_ok.data()},
                          {"size", ColumnType::INT32, size.data()}},
                    3);
  auto t = db.catalog().require("q");
  auto snap = t->find_partition(1)->snapshot();
  ASSERT_EQ(snap.rows, 2u);
  // Rows of symbol 1 were reordered by ts: (10, NULL, 8), (30, 1.5, 7).
  ASSERT_NE(snap.valid(2), nullptr);
  EXPECT_EQ(snap.valid(2)[0], 0);
  EXPECT_EQ(snap.valid(2)[1], 1);
  EXPECT_EQ(snap.data<double>(2)[1], 1.5);
  EXPECT_EQ(snap.valid(3), nullptr);
  EXPECT_EQ(snap.data<int32_t>(3)[0], 8);
  // A later batch without NULLs and without the `size` column: size is NULL.
  std::vector<int64_t> s2{1}, ts2{5};
  std::vector<double> bid2{3.5};
  db.ingest_columns("q", {{"sym", ColumnType::SYMBOL, s2.data()},
                          {"ts", ColumnType::TIMESTAMP, ts2.data()},
                          {"bid", ColumnType::DOUBLE, bid2.data()}},
                    1);
  snap = t->find_partition(1)->snapshot();
  ASSERT_EQ(snap.rows, 3u);
  EXPECT_EQ(snap.data<int64_t>(1)[0], 5);
  EXPECT_EQ((std::vector<uint8_t>{snap.valid(2), snap.valid(2) + 3}), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ((std::vector<uint8_t>{snap.valid(3), snap.valid(3) + 3}), (std::vector<uint8_t>{0, 1, 1}));
}

TEST(Storage, NullKeysAreRejected) {
  Database db;
  std::vector<int64_t> s{1, 2}, t{1, 2}, p{1, 1}, v{1, 1};
  std::vector<uint8_t> ok{1, 0};
  EXPECT_THROW(db.ingest_columns("trades", {{"symbol", ColumnType::INT64, s.data(), ok.data()},
                                            {"timestamp", ColumnType::INT64, t.data()},
                                            {"price", ColumnType::INT64, p.data()},
                                            {"volume", ColumnType::INT64, v.data()}},
                                 2),
               Error);
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 0u);
}

}  // namespace
}  // namespace zepto

namespace zepto {
namespace {

// A batch with late rows for two partitions, while a reader holds both: the
// copy-on-write of one partition must never fail after the other one was
// published. Whatever the memory limit, the batch is stored whole or not at all.
TEST(Storage, LateBatchUnderMemoryLimitIsAllOrNothing) {
  const size_t n = 2000;  // 1000 rows a partition: within the first block (1024 rows)
  std::vector<int64_t> s(n), t(n), p(n, 1), v(n, 1);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<int64_t>(i % 2), t[i] = static_cast<int64_t>(1000 + i);
  std::vector<int64_t> s2{0, 1}, t2{5, 5}, p2{9, 9}, v2{1, 1};
  size_t base = 0;
  {
    Database probe;
    probe.ingest_columns("trades", trades_cols(s, t, p, v), n);
    base = probe.stats().memory_bytes;
  }
  int stored = 0;
  for (size_t pct = 100; pct <= 260; pct += 4) {
    DatabaseConfig cfg;
    cfg.max_memory = base * pct / 100;
    Database db(cfg);
    try {
      db.ingest_columns("trades", trades_cols(s, t, p, v), n);
    } catch (const Error&) {
      continue;
    }
    auto held0 = db.column("trades", 0, "timestamp");
    auto held1 = db.column("trades", 1, "timestamp");
    try {
      db.ingest_columns("trades", trades_cols(s2, t2, p2, v2), 2);
      ++stored;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
    }
    size_t c0 = db.count("trades", 0, INT64_MIN, INT64_MAX), c1 = db.count("trades", 1, INT64_MIN, INT64_MAX);
    EXPECT_EQ(c0, c1) << "partial batch at limit " << pct << "% of " << base;
    EXPECT_TRUE(c0 == n / 2 || c0 == n / 2 + 1);
  }
  EXPECT_GT(stored, 0);
}

}  // namespace
}  // namespace zepto

namespace zepto {
namespace {

// drain() must not return while the drain thread is still storing ticks it
// has already taken from the queue.
TEST(Ingest, DrainWaitsForTheStepInFlight) {
  for (int round = 0; round < 300; ++round) {
    Database db;
    db.start();
    for (int i = 0; i < 64; ++i) ASSERT_TRUE(db.ingest(1 + (i % 50), 1, 1, i));
    db.drain();
    size_t seen = 0;
    for (int s = 1; s <= 50; ++s) seen += db.count("trades", s, INT64_MIN, INT64_MAX);
    ASSERT_EQ(seen, 64u) << "round " << round;
    db.stop();
  }
}

}  // namespace
}  // namespace zepto
