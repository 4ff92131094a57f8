// Big batches (split across two threads), block growth (heap blocks, blocks
// with mappings of their own that grow in place, blocks a reader holds) and
// readers running alongside, checked against a straightforward reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "zeptodb/database.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto {
namespace {

struct Row {
  int64_t ts, px, vol;
};
using Reference = std::map<int64_t, std::vector<Row>>;

struct Batch {
  std::vector<int64_t> sym, ts, px, vol;
  void add(int64_t s, int64_t t, int64_t p, int64_t v) {
    sym.push_back(s), ts.push_back(t), px.push_back(p), vol.push_back(v);
  }
  size_t ingest(Database& db) const {
    return db.ingest_columns("trades",
                             {{"symbol", ColumnType::INT64, sym.data()},
                              {"timestamp", ColumnType::INT64, ts.data()},
                              {"price", ColumnType::INT64, px.data()},
                              {"volume", ColumnType::INT64, vol.data()}},
                             sym.size());
  }
  void apply(Reference& ref) const {
    for (size_t i = 0; i < sym.size(); ++i) ref[sym[i]].push_back({ts[i], px[i], vol[i]});
    for (auto& [k, rows] : ref)
      std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.ts < b.ts; });
  }
};

// Keys of every kind: small ids, ids of names, and keys outside both ranges.
int64_t key_of(uint64_t r) {
  switch (r % 4) {
    case 0:
    case 1: return static_cast<int64_t>(r / 4 % 150);
    case 2: return SymbolDictionary::kNameIdBase + static_cast<int64_t>(r / 4 % 50);
    default: return -1000 - static_cast<int64_t>(r / 4 % 20);
  }
}

// Stops and joins a reader thread when the test body ends, also early.
struct StopAndJoin {
  std::atomic<bool>& done;
  std::thread& thread;
  ~StopAndJoin() {
    done = true;
    if (thread.joinable()) thread.join();
  }
};

void expect_matches(Database& db, const Reference& ref) {
  auto table = db.catalog().require("trades");
  size_t total = 0;
  for (const auto& [key, rows] : ref) {
    const Partition* p = table->find_partition(key);
    ASSERT_NE(p, nullptr) << key;
    PartitionSnapshot snap = p->snapshot();
    ASSERT_EQ(snap.rows, rows.size()) << key;
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(snap.data<int64_t>(0)[i], key);
      ASSERT_EQ(snap.data<int64_t>(1)[i], rows[i].ts) << key << " row " << i;
      ASSERT_EQ(snap.data<int64_t>(2)[i], rows[i].px) << key << " row " << i;
      ASSERT_EQ(snap.data<int64_t>(3)[i], rows[i].vol) << key << " row " << i;
    }
    total += rows.size();
  }
  EXPECT_EQ(table->row_count(), total);
}

TEST(StorageBulk, BigBatchesMatchReference) {
  Database db;
  Reference ref;
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3; ++round) {
    Batch b;
    const size_t n = round == 1 ? 50'000 : 1'300'000;  // big ones take the two-thread path
    for (size_t i = 0; i < n; ++i) {
      uint64_t r = rng();
      int64_t key = key_of(r);
      // Increasing time, except that some keys get rows from the past.
      int64_t t = round * 10'000'000 + static_cast<int64_t>(i);
      if (key % 7 == 3 && r % 5 == 0) t -= static_cast<int64_t>(r % 20'000'000);
      b.add(key, t, static_cast<int64_t>(r >> 40), static_cast<int64_t>(i));
    }
    EXPECT_EQ(b.ingest(db), n);
    b.apply(ref);
    expect_matches(db, ref);
  }
  // Name ids seen in a batch are reserved: the next name gets a larger id.
  EXPECT_GT(db.symbols().intern("NEW"), SymbolDictionary::kNameIdBase + 49);
}

// Each half of a big batch in order, the second half earlier than the first:
// the halves are written by different threads, and the order across them
// must still be restored.
TEST(StorageBulk, BigBatchOrderAcrossHalves) {
  Database db;
  Reference ref;
  Batch b;
  const int64_t n = 1'200'000;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = i < n / 2 ? n + i : i - n / 2;
    b.add((i * 7) % 13, t, i, 1);
  }
  b.ingest(db);
  b.apply(ref);
  expect_matches(db, ref);
}

// Keys near the first name id (numbered from there), and keys that run past
// the small numbers halfway through the batch (numbered through a map).
TEST(StorageBulk, BigBatchKeyRanges) {
  for (int64_t base : {SymbolDictionary::kNameIdBase, int64_t{0}}) {
    Database db;
    Reference ref;
    Batch b;
    for (int64_t i = 0; i < 300'000; ++i) {
      const int64_t spread = base == 0 && i > 200'000 ? 9'000 : 40;
      b.add(base + (i * 31) % spread, i, i, 2);
    }
    b.ingest(db);
    b.apply(ref);
    expect_matches(db, ref);
  }
}

TEST(StorageBulk, ValidityInBigBatches) {
  Database db;
  db.catalog().create("q", Schema({{"sym", ColumnType::SYMBOL},
                                   {"ts", ColumnType::TIMESTAMP},
                                   {"bid", ColumnType::DOUBLE},
                                   {"n", ColumnType::INT32}}));
  const size_t n = 1'100'000;
  std::vector<int64_t> sym(n), ts(n);
  std::vector<double> bid(n);
  std::vector<int32_t> cnt(n);
  std::vector<uint8_t> ok(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = static_cast<int64_t>((i * 2654435761u) % 97);
    ts[i] = static_cast<int64_t>(i);
    bid[i] = static_cast<double>(i) / 4;
    cnt[i] = static_cast<int32_t>(i % 1000);
    ok[i] = i % 3 != 0;
  }
  db.ingest_columns("q", {{"sym", ColumnType::SYMBOL, sym.data()},
                          {"ts", ColumnType::TIMESTAMP, ts.data()},
                          {"bid", ColumnType::DOUBLE, bid.data(), ok.data()},
                          {"n", ColumnType::INT32, cnt.data()}},
                    n);
  auto table = db.catalog().require("q");
  for (int64_t key = 0; key < 97; ++key) {
    PartitionSnapshot snap = table->find_partition(key)->snapshot();
    ASSERT_NE(snap.valid(2), nullptr);
    EXPECT_EQ(snap.valid(3), nullptr);
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
      if (sym[i] != key) continue;
      ASSERT_LT(at, snap.rows);
      ASSERT_EQ(snap.data<int64_t>(1)[at], ts[i]);
      ASSERT_EQ(snap.valid(2)[at], ok[i]);
      if (ok[i]) {
        ASSERT_EQ(snap.data<double>(2)[at], bid[i]);
      }
      ASSERT_EQ(snap.data<int32_t>(3)[at], cnt[i]);
      ++at;
    }
    EXPECT_EQ(at, snap.rows);
  }
}

// Ticks grow a few partitions from small heap blocks past the size where
// they get mappings of their own and then grow in place; a held column forces
// a copy instead at one point. Readers check order and contents meanwhile.
TEST(StorageBulk, QueueGrowthWithReaders) {
  DatabaseConfig cfg;
  cfg.queue_capacity = 1 << 19;  // never full: no tick is rejected on a slow machine
  Database db(cfg);
  db.start();
  constexpr int64_t kTicks = 400'000, kKeys = 3;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      for (int64_t k = 0; k < kKeys; ++k) {
        ColumnRef ref = db.column("trades", k, "price");
        if (ref.rows == 0) continue;
        const int64_t* px = reinterpret_cast<const int64_t*>(ref.block->data());
        // Tick i of key k has price i, so a key's prices increase.
        ASSERT_TRUE(std::is_sorted(px, px + ref.rows));
        ASSERT_EQ(px[0], k);
      }
    }
  });
  StopAndJoin stop{done, reader};
  ColumnRef held;
  for (int64_t i = 0; i < kTicks; ++i) {
    ASSERT_TRUE(db.ingest(i % kKeys, i, 1, 1'000 + i));
    if (i == kTicks / 2) {
      db.drain();
      held = db.column("trades", 1, "price");
    }
  }
  db.drain();
  done = true;
  reader.join();
  const int64_t* old = reinterpret_cast<const int64_t*>(held.block->data());
  for (size_t j = 0; j < held.rows; ++j) ASSERT_EQ(old[j], static_cast<int64_t>(1 + 3 * j));
  for (int64_t k = 0; k < kKeys; ++k) {
    ColumnRef ref = db.column("trades", k, "price");
    ASSERT_EQ(ref.rows, static_cast<size_t>(kTicks / kKeys + (k < kTicks % kKeys)));
    const int64_t* px = reinterpret_cast<const int64_t*>(ref.block->data());
    for (size_t j = 0; j < ref.rows; ++j) ASSERT_EQ(px[j], static_cast<int64_t>(k + kKeys * j));
  }
  db.stop();
}

// Big batches while other threads read: readers never see more rows than
// were published, nor a row out of order.
TEST(StorageBulk, BigBatchesWithReaders) {
  Database db;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      for (int64_t k = 0; k < 10; ++k) {
        auto snap = db.catalog().require("trades")->find_partition(k);
        if (snap == nullptr) continue;
        PartitionSnapshot s = snap->snapshot();
        const int64_t* ts = s.data<int64_t>(1);
        if (s.rows > 0) {
          ASSERT_TRUE(std::is_sorted(ts, ts + s.rows));
        }
      }
    }
  });
  StopAndJoin stop{done, reader};
  for (int round = 0; round < 3; ++round) {
    Batch b;
    for (int64_t i = 0; i < 1'100'000; ++i) b.add(i % 10, round * 2'000'000 + (i ^ 1), i, 1);
    b.ingest(db);
  }
  done = true;
  reader.join();
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 3'300'000u);
}

}  // namespace
}  // namespace zepto
