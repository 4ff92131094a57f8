// PURE_ON_DISK: column blocks that are memory-mapped files (persist/mapped.h).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "durable_util.h"
#include "zeptodb/common/error.h"
#include "zeptodb/database.h"

namespace zepto {
namespace {

namespace fs = std::filesystem;
using namespace test_util;

DatabaseConfig on_disk(const std::string& dir, uint32_t checkpoint_ms = 0) {
  return durable_config(StorageMode::PURE_ON_DISK, dir, checkpoint_ms);
}

// The column files of every table (tables/<table>/data/<file>), by path.
std::set<std::string> data_files(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().parent_path().filename() == "data") out.insert(e.path().string());
  return out;
}

// The file of column `column` of symbol `key` (the newest generation).
fs::path column_file(const std::string& dir, int64_t key, size_t column) {
  fs::path best;
  uint64_t gen = 0;
  const std::string prefix = std::to_string(key) + "." + std::to_string(column) + ".";
  for (const std::string& p : data_files(dir)) {
    const std::string name = fs::path(p).filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const uint64_t g = std::stoull(name.substr(prefix.size()));
    if (g >= gen) {
      gen = g;
      best = p;
    }
  }
  return best;
}

TEST(PureOnDisk, RowsGoToMappedFilesNotToMemory) {
  TempDir dir;
  Database db(on_disk(dir.path()));
  Database mem;
  ingest(db, 0, 200'000, 1'000, 1, 20);
  ingest(mem, 0, 200'000, 1'000, 1, 20);
  EXPECT_EQ(fingerprint(db, "trades"), fingerprint(mem, "trades"));
  const std::string q = "SELECT symbol, sum(price * volume), max(timestamp) FROM trades GROUP BY symbol ORDER BY symbol";
  EXPECT_EQ(db.execute(q).to_string(), mem.execute(q).to_string());
  EXPECT_GE(mem.stats().memory_bytes, 200'000u * 32);
  EXPECT_LT(db.stats().memory_bytes, 200'000u * 32 / 10) << "the rows are in the page cache, not in tracked memory";
  EXPECT_EQ(data_files(dir.path()).size(), 20u * 4) << "one file per column per partition";
  const fs::path price = column_file(dir.path(), 3, 2);
  ASSERT_FALSE(price.empty());
  EXPECT_GE(fs::file_size(price), fingerprint(db, "trades").at(3).first * 8);
}

TEST(PureOnDisk, CleanRestartMapsTheFilesBack) {
  TempDir dir;
  std::string trades, quotes;
  {
    Database db(on_disk(dir.path()));
    ingest(db, 0, 30'000, kDay / 10'000, 1);  // three days
    db.execute("CREATE TABLE quotes (sym SYMBOL, ts TIMESTAMP, bid DOUBLE, ask DOUBLE, live BOOLEAN, n INTEGER)");
    db.execute("INSERT INTO quotes VALUES ('AAPL', 1, 1.5, NULL, true, 7), ('MSFT', 2, 2.5, 2.75, NULL, NULL), "
               "('AAPL', 3, 1.75, 1.8, false, NULL)");
    trades = dump(db, "trades");
    quotes = dump(db, "quotes");
  }
  Database db(on_disk(dir.path()));
  EXPECT_EQ(db.recovery().log_records, 0u) << "a clean shutdown checkpoints";
  EXPECT_EQ(db.recovery().checkpoint_rows, 30'003u);
  EXPECT_EQ(dump(db, "trades"), trades);
  EXPECT_EQ(dump(db, "quotes"), quotes);
  EXPECT_LT(db.stats().memory_bytes, 30'000u * 32 / 10);
  // Writes go on into the same files.
  db.execute("INSERT INTO quotes VALUES ('MSFT', 4, NULL, 3.0, true, 1)");
  EXPECT_EQ(db.execute("SELECT count(*), count(bid) FROM quotes").to_string(),
            Database().execute("SELECT 4 AS \"count(*)\", 3 AS \"count(bid)\"").to_string());
}

TEST(PureOnDisk, CrashImageRecoversTheCheckpointAndTheLog) {
  TempDir dir, image;
  Database db(on_disk(dir.path()));
  ingest(db, 0, 20'000, 1'000, 1);
  db.checkpoint();
  ingest(db, 20'000'000, 5'000, 1'000, 2);  // after the checkpoint: only in the log and the files' tails
  ingest(db, 5'000'017, 300, 7, 3);         // late rows inside the committed rows
  Database copy(on_disk(crash_image(dir, image)));
  EXPECT_TRUE(copy.recovery().checkpoint_found);
  EXPECT_EQ(copy.recovery().log_rows, 5'300u);
  EXPECT_EQ(fingerprint(copy, "trades"), fingerprint(db, "trades"));
}

TEST(PureOnDisk, ChangesToCommittedRowsGoToANewGeneration) {
  TempDir dir;
  {
    Database db(on_disk(dir.path()));
    ingest(db, 0, 10'000, 1'000, 1, 1);
    db.checkpoint();
    const fs::path committed = column_file(dir.path(), 1, 1);
    std::ifstream f(committed, std::ios::binary);
    std::string before((std::istreambuf_iterator<char>(f)), {});
    ingest(db, 4'000'001, 10, 3, 2, 1);  // late rows among the committed ones
    const fs::path now = column_file(dir.path(), 1, 1);
    EXPECT_NE(now, committed) << "a new file";
    std::ifstream g(committed, std::ios::binary);
    const std::string after((std::istreambuf_iterator<char>(g)), {});
    const size_t committed_bytes = 4096 + 10'000 * 8;  // the header page, then the rows
    ASSERT_GE(after.size(), committed_bytes);
    EXPECT_TRUE(after.compare(0, committed_bytes, before, 0, committed_bytes) == 0)
        << "the header and the committed rows of the file are untouched";
    db.checkpoint();
    EXPECT_FALSE(fs::exists(committed)) << "the replaced generation goes once the next checkpoint commits";
    EXPECT_EQ(data_files(dir.path()).size(), 4u);
  }
  Database db(on_disk(dir.path()));
  EXPECT_EQ(db.execute("SELECT count(*) FROM trades").to_string(), Database().execute("SELECT 10010 AS \"count(*)\"").to_string());
}

TEST(PureOnDisk, CorruptFileIsReportedNotRead) {
  TempDir dir;
  {
    Database db(on_disk(dir.path()));
    ingest(db, 0, 5'000, 1, 1);
  }
  const fs::path victim = column_file(dir.path(), 2, 2);
  ASSERT_FALSE(victim.empty());
  // A flipped bit in the rows, then in the header: each is found and named.
  for (auto [offset, what] : {std::pair{4096 + 40, "checksum mismatch in bytes 0 to"},
                              std::pair{9, "header checksum mismatch"}}) {
    flip_byte(victim, offset);
    Database db(on_disk(dir.path()));
    expect_unreadable(db, "trades", victim.filename().string(), what);
  }
}

TEST(PureOnDisk, FilesDescribeThemselves) {
  TempDir dir;
  {
    Database db(on_disk(dir.path()));
    ingest(db, 0, 1'000, 1, 1);
  }
  const fs::path f = column_file(dir.path(), 3, 2);  // symbol 3, price
  std::ifstream in(f, std::ios::binary);
  char h[48];
  in.read(h, sizeof h);
  auto u32 = [&](size_t at) { uint32_t v; std::memcpy(&v, h + at, 4); return v; };
  auto u64 = [&](size_t at) { uint64_t v; std::memcpy(&v, h + at, 8); return v; };
  EXPECT_EQ(std::string(h, 4), "ZCMF");
  EXPECT_EQ(u32(4), 1u) << "format version";
  EXPECT_EQ(u64(8), 3u) << "partition key";
  EXPECT_EQ(u32(16), 2u) << "column index";
  EXPECT_EQ(static_cast<ColumnType>(h[21]), ColumnType::INT64);
  Database db(on_disk(dir.path()));
  EXPECT_EQ(u64(32), db.count("trades", 3, INT64_MIN, INT64_MAX)) << "rows as of the last checkpoint";
}

TEST(PureOnDisk, TornFileIsReported) {
  TempDir dir;
  {
    Database db(on_disk(dir.path()));
    ingest(db, 0, 5'000, 1, 1);
  }
  const fs::path victim = column_file(dir.path(), 4, 1);
  fs::resize_file(victim, 64);
  Database db(on_disk(dir.path()));
  try {
    db.count("trades", 4, INT64_MIN, INT64_MAX);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    EXPECT_NE(std::string(e.what()).find("torn"), std::string::npos) << e.what();
  }
}

TEST(PureOnDisk, AFullDiskRejectsTheBatchWhole) {
  TempDir dir, image;
  Database db(on_disk(dir.path()));
  ingest(db, 0, 1000, 1, 1);
  const std::string before = dump(db, "trades");
  {
    FileSizeLimit limit(1 << 20);
    // One symbol: its column files would pass 1 MiB, and so would the log.
    EXPECT_THROW(ingest(db, 5000, 200'000, 1, 2, 1), Error);
    EXPECT_EQ(dump(db, "trades"), before) << "nothing of the rejected batch is visible";
  }
  ingest(db, 300'000, 10, 1, 3);
  Database copy(on_disk(crash_image(dir, image)));
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
}

TEST(PureOnDisk, TtlAndDropTableRemoveTheirFiles) {
  TempDir dir, image;
  Database db(on_disk(dir.path()));
  ingest(db, 0, 5000, kDay / 1000, 1);  // days 0..4, symbols 1..5
  db.execute("ALTER TABLE trades SET TTL 2 DAYS");
  auto min_ts = db.execute("SELECT min(timestamp) FROM trades").to_string();
  EXPECT_NE(min_ts.find(std::to_string(2 * kDay)), std::string::npos) << min_ts;
  EXPECT_EQ(data_files(dir.path()).size(), 5u * 4) << "the generations before the TTL are gone";
  db.execute("CREATE TABLE t (k BIGINT, ts TIMESTAMP, x DOUBLE)");
  db.execute("INSERT INTO t VALUES (1, 1, 1.0), (2, 2, NULL)");
  db.checkpoint();
  EXPECT_EQ(data_files(dir.path()).size(), 5u * 4 + 3 + 1) << "t: one partition, three columns, one with NULLs";
  db.execute("DROP TABLE t");
  db.checkpoint();
  EXPECT_EQ(data_files(dir.path()).size(), 5u * 4);
  Database copy(on_disk(crash_image(dir, image)));
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
  EXPECT_FALSE(copy.catalog().find("t"));
}

TEST(PureOnDisk, ADataDirOfTheOtherModeIsRefused) {
  TempDir tiered_dir, disk_dir;
  {
    Database db(durable_config(StorageMode::TIERED, tiered_dir.path()));
    ingest(db, 0, 100, 1, 1);
  }
  {
    Database db(on_disk(disk_dir.path()));
    ingest(db, 0, 100, 1, 1);
  }
  for (auto [mode, dir] : {std::pair{StorageMode::PURE_ON_DISK, tiered_dir.path()},
                           std::pair{StorageMode::TIERED, disk_dir.path()}}) {
    try {
      Database db(durable_config(mode, dir));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(mode == StorageMode::TIERED ? "holds PURE_ON_DISK data" : "holds TIERED data"),
                std::string::npos)
          << e.what();
    }
  }
  Database again(on_disk(disk_dir.path()));  // nothing was changed by the refusals
  EXPECT_EQ(again.catalog().require("trades")->row_count(), 100u);
}

// Random batches (late rows, new symbols, NULLs), checkpoints and crash
// images: every image recovers exactly what the live database holds, which
// holds exactly what an in-memory database given the same batches holds.
TEST(PureOnDisk, RandomizedAgainstMemory) {
  TempDir dir, image;
  Database db(on_disk(dir.path()));
  Database mem;
  const char* ddl = "CREATE TABLE q (s SYMBOL, ts TIMESTAMP, x DOUBLE, n INTEGER)";
  db.execute(ddl);
  mem.execute(ddl);
  std::mt19937_64 rng(42);
  int64_t clock = 0;
  for (int round = 0; round < 12; ++round) {
    const size_t n = 1 + rng() % 20'000;
    const bool late = rng() % 3 == 0;
    const int64_t start = late ? clock / 2 : clock;
    const size_t nsym = 3 + rng() % 30;
    ingest(db, start, n, 997, round, nsym);
    ingest(mem, start, n, 997, round, nsym);
    clock = std::max(clock, start + static_cast<int64_t>(n) * 997);
    std::string ins = "INSERT INTO q VALUES ";
    for (int i = 0; i < 50; ++i) {
      ins += (i ? ", ('" : "('") + std::string(1, static_cast<char>('a' + rng() % 7)) + "', " +
             std::to_string(static_cast<int64_t>(rng() % 100'000)) + ", " +
             (rng() % 4 == 0 ? std::string("NULL") : std::to_string(rng() % 1000) + ".5") + ", " +
             (rng() % 5 == 0 ? std::string("NULL") : std::to_string(rng() % 100)) + ")";
    }
    db.execute(ins);
    mem.execute(ins);
    if (rng() % 3 == 0) db.checkpoint();
    if (round % 4 == 3) {
      Database copy(on_disk(crash_image(dir, image)));
      EXPECT_EQ(fingerprint(copy, "trades"), fingerprint(db, "trades")) << "round " << round;
      EXPECT_EQ(dump(copy, "q"), dump(db, "q")) << "round " << round;
    }
  }
  EXPECT_EQ(dump(db, "q"), dump(mem, "q"));
  EXPECT_EQ(fingerprint(db, "trades"), fingerprint(mem, "trades"));
}

}  // namespace
}  // namespace zepto
