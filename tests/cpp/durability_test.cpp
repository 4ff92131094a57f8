// TIERED storage: write-ahead log, checkpoints, recovery (database_durable.cpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <map>
#include <random>

#include "durable_util.h"
#include "zeptodb/common/error.h"
#include "zeptodb/database.h"

namespace zepto {
namespace {

namespace fs = std::filesystem;

using namespace test_util;

DatabaseConfig tiered(const std::string& dir, uint32_t checkpoint_ms = 0) {
  return durable_config(StorageMode::TIERED, dir, checkpoint_ms);
}

TEST(Durability, TieredNeedsADataDir) {
  DatabaseConfig c;
  c.storage_mode = StorageMode::TIERED;
  try {
    Database db(c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("data_dir"), std::string::npos);
  }
}

TEST(Durability, CleanRestartKeepsTablesRowsSymbolsAndTtl) {
  TempDir dir;
  std::string before, quotes;
  int64_t aapl;
  {
    Database db(tiered(dir.path()));
    ingest(db, 0, 5000, 1'000'000, 1);
    db.execute("CREATE TABLE quotes (sym SYMBOL, ts TIMESTAMP, bid DOUBLE, ask DOUBLE, live BOOLEAN, n INTEGER)");
    db.execute("INSERT INTO quotes VALUES ('AAPL', 1, 1.5, NULL, true, 7), ('MSFT', 2, 2.5, 2.75, NULL, NULL)");
    db.execute("ALTER TABLE quotes SET TTL 30 DAYS");
    aapl = *db.symbols().find("AAPL");
    before = dump(db, "trades");
    quotes = dump(db, "quotes");
  }
  Database db(tiered(dir.path()));
  EXPECT_EQ(db.recovery().log_records, 0u) << "a clean shutdown checkpoints";
  EXPECT_EQ(db.recovery().checkpoint_rows, 5002u);
  EXPECT_EQ(dump(db, "trades"), before);
  EXPECT_EQ(dump(db, "quotes"), quotes);
  EXPECT_EQ(db.symbols().find("AAPL"), aapl);
  EXPECT_EQ(db.symbols().intern("NEW") > aapl, true) << "new names never reuse an id";
  EXPECT_EQ(db.execute("DESCRIBE quotes").to_string(), [] {
    Database mem;
    mem.execute("CREATE TABLE quotes (sym SYMBOL, ts TIMESTAMP, bid DOUBLE, ask DOUBLE, live BOOLEAN, n INTEGER)");
    return mem.execute("DESCRIBE quotes").to_string();
  }());
}

TEST(Durability, UntouchedDirectoryReopensAgainAndAgain) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) {
    Database db(tiered(dir.path()));
    EXPECT_TRUE(db.catalog().find("trades"));
    EXPECT_EQ(db.recovery().checkpoint_found, i > 0);
  }
}

TEST(Durability, BigBatchIsLoggedWhileItsRowsAreCopied) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 140'000, 1'000, 1, 50);  // 4.5 MB: past the overlap threshold
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_EQ(copy.recovery().log_rows, 140'000u);
  EXPECT_EQ(fingerprint(copy, "trades"), fingerprint(db, "trades"));
}

TEST(Durability, CrashImageHasEveryAcknowledgedBatchFromTheLog) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 3000, 1'000, 1);
  db.execute("CREATE TABLE t (k SYMBOL, ts TIMESTAMP, x DOUBLE)");
  db.execute("INSERT INTO t VALUES ('a', 5, 1.25), ('b', 6, NULL)");
  for (int64_t i = 0; i < 20; ++i) ASSERT_TRUE(db.ingest(7, 100 + i, 1, 10'000'000 + i));
  db.drain();
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_EQ(copy.recovery().checkpoint_lsn, 0u);
  EXPECT_GT(copy.recovery().log_records, 0u);
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
  EXPECT_EQ(dump(copy, "t"), dump(db, "t"));
}

TEST(Durability, CheckpointsThenLogTailThenLateRows) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 4000, kDay / 1000, 1);  // four days
  auto r = db.checkpoint();
  EXPECT_EQ(r.rows_written, 4000u);
  ingest(db, 4 * kDay, 1000, 1'000, 2);  // appended to the newest day
  EXPECT_EQ(db.checkpoint().rows_written, 1000u) << "a checkpoint writes only what changed";
  ingest(db, kDay + 17, 50, 3, 3);  // late rows into day 1
  ingest(db, 6 * kDay, 10, 1, 4);   // and a log tail not yet checkpointed... then checkpoint half of it
  auto late = db.checkpoint();
  EXPECT_GT(late.units_rewritten, 0u);
  EXPECT_LT(late.rows_written, 5060u);
  ingest(db, 2 * kDay + 5, 7, 1, 5);  // only in the log
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_GT(copy.recovery().checkpoint_rows, 0u);
  EXPECT_EQ(copy.recovery().log_rows, 7u);
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
  EXPECT_EQ(copy.execute("SELECT count(*) FROM trades").to_string(), db.execute("SELECT count(*) FROM trades").to_string());
}

TEST(Durability, DropAndRecreateBetweenCheckpoints) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  db.execute("CREATE TABLE t (k BIGINT, ts TIMESTAMP, x DOUBLE)");
  db.execute("INSERT INTO t VALUES (1, 1, 1.0), (2, 2, 2.0)");
  db.checkpoint();
  db.execute("DROP TABLE t");
  db.execute("CREATE TABLE t (k BIGINT, ts TIMESTAMP, y INTEGER, z BOOLEAN)");
  db.execute("INSERT INTO t VALUES (3, 3, 30, true)");
  {
    Database copy(tiered(crash_image(dir, image)));
    EXPECT_EQ(dump(copy, "t"), dump(db, "t"));
  }
  db.checkpoint();
  db.execute("DROP TABLE t");
  db.checkpoint();
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_FALSE(copy.catalog().find("t"));
  size_t table_dirs = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(image / "tables")) ++table_dirs;
  EXPECT_EQ(table_dirs, 1u) << "only trades is left on disk";
}

TEST(Durability, TtlDropsWholeOldDaysAndStaysDropped) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 5000, kDay / 1000, 1);  // days 0..4
  db.execute("ALTER TABLE trades SET TTL 2 DAYS");
  // newest is in day 4; cutoff = newest - 2 days is in day 2: days 0 and 1 go.
  auto min_ts = db.execute("SELECT min(timestamp) FROM trades").to_string();
  EXPECT_NE(min_ts.find(std::to_string(2 * kDay)), std::string::npos) << min_ts;
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
  db.execute("CREATE TABLE nots (k BIGINT, x DOUBLE)");
  EXPECT_THROW(db.execute("ALTER TABLE nots SET TTL 1 DAYS"), Error) << "no timestamp column";
}

TEST(Durability, SizeLimitDropsTheOldestWholeDaysAndStaysDropped) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 5000, kDay / 1000, 1);  // days 0..4, 1,000 rows (32,000 bytes) each
  db.execute("ALTER TABLE trades SET RETENTION 70000 BYTES");
  EXPECT_EQ(db.retention("TRADES").max_bytes, 70000u);
  EXPECT_EQ(db.retention("trades").ttl_ns, 0);
  // Two days fit (64,000 bytes), a third would not: days 3 and 4 stay.
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 2000u);
  auto min_ts = db.execute("SELECT min(timestamp) FROM trades").to_string();
  EXPECT_NE(min_ts.find(std::to_string(3 * kDay)), std::string::npos) << min_ts;
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
  EXPECT_EQ(copy.retention("trades").max_bytes, 70000u);
  db.execute("CREATE TABLE nots (k BIGINT, x DOUBLE)");
  EXPECT_THROW(db.execute("ALTER TABLE nots SET RETENTION 1 MB"), Error) << "no timestamp column";
  db.execute("ALTER TABLE trades REMOVE RETENTION");
  EXPECT_EQ(db.retention("trades").max_bytes, 0u);
}

TEST(Durability, InMemoryLimitsApplyInTheBackgroundOnceSet) {
  DatabaseConfig c;
  c.checkpoint_interval_ms = 5;
  Database db(c);
  ingest(db, 0, 5000, kDay / 1000, 1);  // days 0..4
  db.execute("ALTER TABLE trades SET RETENTION 70000 BYTES");  // two days of 32,000 bytes
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 2000u);
  ingest(db, 10 * kDay, 1000, 1, 2);  // day 10: days 3 and 4 no longer both fit
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (db.catalog().require("trades")->row_count() != 2000u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(db.catalog().require("trades")->row_count(), 2000u) << "days 4 and 10 stay, without a flush";
  db.close();  // stops the thread
  EXPECT_TRUE(db.closed());
}

TEST(Durability, RejectedBatchIsNotLogged) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  db.execute("CREATE TABLE t (k BIGINT, ts TIMESTAMP, x DOUBLE)");
  std::vector<int64_t> k{1, 2}, ts{1, 2};
  std::vector<double> x{1.0, std::nan("")};
  EXPECT_THROW(db.ingest_columns("t", {{"k", ColumnType::INT64, k.data()}, {"ts", ColumnType::TIMESTAMP, ts.data()},
                                       {"x", ColumnType::DOUBLE, x.data()}},
                                 2),
               Error);
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_EQ(copy.catalog().require("t")->row_count(), 0u);
}

TEST(Durability, AFullDiskRejectsTheBatchWholeAndReadsGoOn) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 1000, 1, 1);
  const std::string before = dump(db, "trades");
  {
    FileSizeLimit limit(1 << 20);  // the log segment cannot grow past 1 MiB
    try {
      ingest(db, 5000, 200'000, 1, 2);  // 6.4 MB: logged by a second thread
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIOError);
      EXPECT_NE(std::string(e.what()).find("wal"), std::string::npos) << e.what();
    }
    EXPECT_EQ(dump(db, "trades"), before) << "nothing of the rejected batch is visible";
  }
  ingest(db, 200'000, 10, 1, 3);  // room again
  Database copy(tiered(crash_image(dir, image)));
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
  EXPECT_EQ(copy.recovery().log_rows, 1010u) << "the rejected batch left nothing in the log";
}

TEST(Durability, OneProcessPerDataDir) {
  TempDir dir;
  Database db(tiered(dir.path()));
  try {
    Database second(tiered(dir.path()));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos);
  }
}

TEST(Durability, TornLogTailIsCutAndReported) {
  TempDir dir, image;
  Database db(tiered(dir.path()));
  ingest(db, 0, 100, 1, 1);
  crash_image(dir, image);
  for (const auto& e : fs::directory_iterator(image / "wal")) {
    std::ofstream f(e.path(), std::ios::app | std::ios::binary);
    f << "half a record";
  }
  Database copy(tiered(image.path()));
  EXPECT_EQ(copy.recovery().torn_bytes, 13u);
  EXPECT_EQ(dump(copy, "trades"), dump(db, "trades"));
}

TEST(Durability, CorruptPartitionFileIsReportedNotRead) {
  TempDir dir;
  {
    Database db(tiered(dir.path()));
    ingest(db, 0, 1000, 1, 1);
  }
  fs::path victim;
  for (const auto& e : fs::recursive_directory_iterator(dir.path()))
    if (e.path().extension() == ".zcol" && e.path().filename().string().find("price") != std::string::npos) victim = e.path();
  ASSERT_FALSE(victim.empty());
  flip_byte(victim, fs::file_size(victim) - 9);
  {
    Database db(tiered(dir.path()));  // opens: the files are read when the table is first used
    expect_unreadable(db, "trades", victim.filename().string());
    EXPECT_THROW(ingest(db, 5000, 10, 1, 2), Error) << "no write into a table that could not be loaded";
  }
  EXPECT_TRUE(fs::exists(victim)) << "the checkpoint at close leaves the files of an unloaded table alone";
}

TEST(Durability, TablesLoadTheirFilesOnFirstUse) {
  TempDir dir;
  std::map<int64_t, std::pair<size_t, uint64_t>> before;
  {
    Database db(tiered(dir.path()));
    ingest(db, 0, 50'000, 1'000, 1);
    db.execute("CREATE TABLE other (k BIGINT, ts TIMESTAMP, x DOUBLE)");
    before = fingerprint(db, "trades");
  }
  {
    Database db(tiered(dir.path()));
    EXPECT_EQ(db.recovery().checkpoint_rows, 50'000u);
    EXPECT_LT(db.stats().memory_bytes, 50'000u * 8) << "nothing read yet";
    db.execute("INSERT INTO other VALUES (1, 2, 3.0)");
    db.checkpoint();  // trades is still unloaded: its files must survive this checkpoint
  }
  Database db(tiered(dir.path()));
  EXPECT_EQ(fingerprint(db, "trades"), before);
  EXPECT_GT(db.stats().memory_bytes, 50'000u * 32);
  EXPECT_EQ(db.catalog().require("other")->row_count(), 1u);
}

TEST(Durability, CorruptCatalogIsReported) {
  TempDir dir;
  { Database db(tiered(dir.path())); }
  fs::resize_file(dir / "CATALOG", fs::file_size(dir / "CATALOG") - 3);
  try {
    Database db(tiered(dir.path()));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    EXPECT_NE(std::string(e.what()).find("CATALOG"), std::string::npos) << e.what();
  }
}

// The CATALOG of `dir` rewritten as `version`, its body edited by `edit` (the checksum made to match).
void rewrite_catalog(const TempDir& dir, uint32_t version, const std::function<void(std::string&)>& edit) {
  std::string s = persist::read_file(dir / "CATALOG");
  std::string body = s.substr(8, s.size() - 12);
  edit(body);
  std::string out = s.substr(0, 4);
  out.append(reinterpret_cast<const char*>(&version), 4);
  out += body;
  const uint32_t crc = persist::checksum32(out.data(), out.size());
  out.append(reinterpret_cast<const char*>(&crc), 4);
  persist::write_file_atomic(dir / "CATALOG", out);
}

TEST(Durability, ACatalogOfTheFormerVersionIsReadANewerOneRefused) {
  TempDir dir;
  std::string before;
  {
    Database db(tiered(dir.path()));
    ingest(db, 0, 1000, 1000, 1);
    db.execute("ALTER TABLE trades SET TTL 30 DAYS");
    before = dump(db, "trades");
  }
  // Version 1 had no size limit: the one table's entry (lsn, count, name "trades", directory id,
  // TTL, then the limit at body offset 46) loses those 8 bytes.
  rewrite_catalog(dir, 1, [](std::string& body) {
    ASSERT_EQ(body.substr(24, 6), "trades");
    uint64_t limit = 1;
    std::memcpy(&limit, body.data() + 46, 8);
    ASSERT_EQ(limit, 0u);
    body.erase(46, 8);
  });
  {
    Database db(tiered(dir.path()));
    EXPECT_EQ(dump(db, "trades"), before);
    EXPECT_EQ(db.retention("trades").ttl_ns, 30 * kDay);
    EXPECT_EQ(db.retention("trades").max_bytes, 0u);
  }  // closing writes version 2 again
  rewrite_catalog(dir, 3, [](std::string&) {});
  try {
    Database db(tiered(dir.path()));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    EXPECT_NE(std::string(e.what()).find("format version 3 is not supported (this build reads version 1 to 2"),
              std::string::npos)
        << e.what();
  }
}

TEST(Durability, BackgroundCheckpointTruncatesTheLog) {
  TempDir dir;
  Database db(tiered(dir.path(), /*checkpoint_ms=*/20));
  ingest(db, 0, 2000, 1, 1);
  for (int i = 0; i < 500 && db.stats().checkpoints == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(db.stats().checkpoints, 0u);
  size_t wal_files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "wal")) ++wal_files;
  EXPECT_LE(wal_files, 1u);
}

}  // namespace
}  // namespace zepto
