// The write-ahead log: round trips across segments, torn and corrupt tails,
// undo, truncation after a checkpoint, concurrent appenders under each
// fsync policy.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/persist/file_io.h"
#include "zeptodb/persist/wal.h"
#include "temp_dir.h"

namespace zepto::persist {
namespace {

using test_util::TempDir;

using Records = std::vector<std::pair<uint64_t, std::string>>;

WalOptions options(const std::string& dir, FsyncPolicy fsync = FsyncPolicy::kNone, size_t segment_bytes = 64 << 20) {
  WalOptions o;
  o.dir = dir;
  o.fsync = fsync;
  o.segment_bytes = segment_bytes;
  o.batch_interval_ms = 2;
  return o;
}

Records replay_all(Wal& wal, uint64_t after, Wal::ReplayResult* result = nullptr) {
  Records out;
  auto r = wal.replay(after, [&](uint64_t lsn, std::string_view payload) { out.emplace_back(lsn, payload); });
  if (result) *result = r;
  return out;
}

// Opens the log in `dir` and returns its records after `after`.
Records reopen(const std::string& dir, uint64_t after = 0, Wal::ReplayResult* result = nullptr) {
  Wal wal(options(dir));
  return replay_all(wal, after, result);
}

// Payload i of a test: `size` bytes that depend on i and their position.
std::string payload(uint64_t i, size_t size) {
  std::string s(size, '\0');
  for (size_t k = 0; k < size; ++k) s[k] = static_cast<char>((i * 131 + k * 7 + (k >> 8)) & 0xff);
  return s;
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : list_dir(dir))
    if (name.starts_with("wal-")) out.push_back(name);
  return out;
}

uint64_t first_lsn_of(const std::string& name) { return std::stoull(name.substr(4, 20)); }

void expect_records(const Records& got, const std::map<uint64_t, std::string>& want, uint64_t after) {
  Records expected;
  for (const auto& [lsn, p] : want)
    if (lsn > after) expected.emplace_back(lsn, p);
  ASSERT_EQ(got.size(), expected.size()) << "after=" << after;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, expected[i].first);
    EXPECT_TRUE(got[i].second == expected[i].second) << "payload of LSN " << got[i].first << " differs";
  }
}

TEST(PersistWal, RoundTripAcrossSegmentsAndReplayAfter) {
  TempDir dir;
  std::map<uint64_t, std::string> written;
  {
    Wal wal(options(dir.path(), FsyncPolicy::kNone, 64 << 10));
    EXPECT_TRUE(replay_all(wal, 0).empty());
    for (uint64_t i = 1; i <= 120; ++i) {
      size_t size = i % 10 == 0 ? 0 : i == 37 || i == 74 ? (2 << 20) + i : 100 * i;
      std::string p = payload(i, size);
      // Several parts (one of them empty) make up one payload.
      std::vector<std::string_view> parts{std::string_view(p).substr(0, size / 3), std::string_view(),
                                          std::string_view(p).substr(size / 3)};
      EXPECT_EQ(wal.append(parts), i);
      written[i] = std::move(p);
    }
    EXPECT_EQ(wal.last_lsn(), 120u);
    EXPECT_EQ(wal.stats().records, 120u);
    EXPECT_GT(wal.stats().segments, 10u);
    EXPECT_EQ(wal.stats().segments, segment_files(dir.path()).size());
    EXPECT_LT(wal.stats().durable_lsn, 120u) << "fsync=none syncs only when asked";
    wal.sync();
    EXPECT_EQ(wal.stats().durable_lsn, 120u);
  }
  for (uint64_t after : {0, 10, 37, 119, 120}) {
    Wal::ReplayResult r;
    Records got = reopen(dir.path(), after, &r);
    expect_records(got, written, after);
    EXPECT_EQ(r.records, 120 - after);
    EXPECT_EQ(r.last_lsn, 120u);
    EXPECT_EQ(r.torn_bytes, 0u);
  }
  // Appends after a reopen continue the LSNs.
  {
    Wal wal(options(dir.path()));
    replay_all(wal, 120);
    written[121] = payload(121, 5);
    EXPECT_EQ(wal.append({written[121]}), 121u);
  }
  expect_records(reopen(dir.path()), written, 0);
}

TEST(PersistWal, BigRecordsWrittenDirectlyReplayAmongSmallOnes) {
  TempDir dir;
  std::map<uint64_t, std::string> written;
  uint64_t last_big_start = 0, last_big_end = 0;
  {
    WalOptions o = options(dir.path(), FsyncPolicy::kAlways, 8 << 20);
    o.direct_bytes = 64 << 10;  // records of 64 KiB and more go to the device directly
    Wal wal(o);
    replay_all(wal, 0);
    for (uint64_t i = 1; i <= 40; ++i) {
      const size_t size = i % 4 == 0 ? (3 << 20) + i * 1001 : i % 4 == 1 ? 70000 + i : 10 * i;
      std::string p = payload(i, size);
      const std::string seg = dir / segment_files(dir.path()).back();
      const uint64_t before = read_file(seg).size();
      EXPECT_EQ(wal.append({std::string_view(p).substr(0, 7), std::string_view(p).substr(7)}), i);
      wal.commit(i);
      if (i % 4 == 0 && i < 40) {  // a big record undone at once leaves the log as it was
        wal.undo(i);
        EXPECT_EQ(read_file(seg).size(), before);
        EXPECT_EQ(wal.append({p}), i);
      }
      written[i] = std::move(p);
    }
    EXPECT_GT(wal.stats().segments, 4u);
    const std::string seg = dir / segment_files(dir.path()).back();
    last_big_end = read_file(seg).size();
    last_big_start = last_big_end - 16 - written[40].size();
  }
  Wal::ReplayResult r;
  expect_records(reopen(dir.path(), 0, &r), written, 0);
  EXPECT_EQ(r.torn_bytes, 0u);
  // A crash in the middle of the last (big) record: it is cut as torn, the others stay.
  const std::string seg = dir / segment_files(dir.path()).back();
  File::open_append(seg).truncate(last_big_start + 16 + 12345);
  written.erase(40);
  expect_records(reopen(dir.path(), 0, &r), written, 0);
  EXPECT_EQ(r.torn_bytes, 16u + 12345u);
  EXPECT_EQ(read_file(seg).size(), last_big_start);
}

// Writes records 1..n with 40-byte payloads into a fresh log in `dir`; returns the segment file.
std::string write_small_log(const std::string& dir, uint64_t n) {
  Wal wal(options(dir));
  replay_all(wal, 0);
  for (uint64_t i = 1; i <= n; ++i) wal.append({payload(i, 40)});
  return dir + "/" + segment_files(dir).at(0);
}

// The bytes of a log of records 1..3 with 40-byte payloads, and its segment file name.
std::pair<std::string, std::string> small_log_bytes() {
  TempDir dir;
  std::string seg = write_small_log(dir.path(), 3);
  return {read_file(seg), seg.substr(dir.path().size() + 1)};
}

TEST(PersistWalTorn, TailCutAtEveryBytePositionOfTheLastRecord) {
  const size_t record = 16 + 40;
  const auto [bytes, name] = small_log_bytes();
  const uint64_t last_start = bytes.size() - record;
  for (size_t keep = 0; keep < record; ++keep) {
    TempDir dir;
    const std::string seg = dir / name;
    write_file_atomic(seg, std::string_view(bytes).substr(0, last_start + keep), false);

    Wal::ReplayResult r;
    std::map<uint64_t, std::string> want{{1, payload(1, 40)}, {2, payload(2, 40)}};
    {
      Wal wal(options(dir.path()));
      expect_records(replay_all(wal, 0, &r), want, 0);
      EXPECT_EQ(r.torn_bytes, keep) << "keep=" << keep;
      EXPECT_EQ(r.last_lsn, 2u);
      EXPECT_EQ(read_file(seg).size(), last_start) << "the torn bytes are cut off the file";
      want[3] = "after the cut";
      EXPECT_EQ(wal.append({want[3]}), 3u);
    }
    Records again = reopen(dir.path(), 0, &r);
    expect_records(again, want, 0);
    EXPECT_EQ(r.torn_bytes, 0u);
  }
}

TEST(PersistWalTorn, FlippedByteInTheLastRecordIsCutAsTorn) {
  const size_t record = 16 + 40;
  const auto [bytes, name] = small_log_bytes();
  for (size_t pos = 0; pos < record; ++pos) {
    TempDir dir;
    std::string flipped = bytes;
    size_t at = flipped.size() - record + pos;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
    write_file_atomic(dir / name, flipped, false);

    Wal::ReplayResult r;
    Records got = reopen(dir.path(), 0, &r);
    expect_records(got, {{1, payload(1, 40)}, {2, payload(2, 40)}}, 0);
    EXPECT_EQ(r.torn_bytes, record) << "pos=" << pos;
  }
}

// Writes records 1..9 with 40-byte payloads, three per segment; returns the segment file names.
std::vector<std::string> write_three_segments(const std::string& dir) {
  {
    Wal wal(options(dir, FsyncPolicy::kNone, 200));
    replay_all(wal, 0);
    for (uint64_t i = 1; i <= 9; ++i) wal.append({payload(i, 40)});
  }
  auto files = segment_files(dir);
  EXPECT_EQ(files.size(), 3u);
  return files;
}

// Replays the log in `dir`, expecting kIOError with a message that contains `needle`.
void expect_replay_error(const std::string& dir, const std::string& needle) {
  Wal wal(options(dir));
  try {
    replay_all(wal, 0);
    ADD_FAILURE() << "the damage was not reported (expected a message naming " << needle << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PersistWalCorrupt, FlippedByteBeforeIntactRecordsThrowsNamingTheSegment) {
  const size_t record = 16 + 40;
  for (size_t pos : {0, 3, 5, 9, 16, 30, 55}) {
    TempDir dir;
    std::string seg = write_small_log(dir.path(), 5);
    std::string bytes = read_file(seg);
    size_t at = 16 + record + pos;  // inside record 2
    bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
    write_file_atomic(seg, bytes, false);
    SCOPED_TRACE("byte " + std::to_string(pos) + " of record 2 flipped");
    expect_replay_error(dir.path(), seg + " is corrupt at offset " + std::to_string(16 + record));
    EXPECT_EQ(read_file(seg), bytes) << "a corrupt log is left as it is";
  }
}

TEST(PersistWalCorrupt, BadLastRecordOfASegmentFollowedBySegmentsWithRecordsThrows) {
  TempDir dir;
  auto files = write_three_segments(dir.path());
  ASSERT_EQ(files.size(), 3u);
  std::string bytes = read_file(dir / files[0]);
  bytes.back() = static_cast<char>(bytes.back() ^ 0x40);
  write_file_atomic(dir / files[0], bytes, false);
  expect_replay_error(dir.path(), files[0]);
}

TEST(PersistWalCorrupt, MissingSegmentInTheMiddleIsReported) {
  TempDir dir;
  auto files = write_three_segments(dir.path());
  ASSERT_EQ(files.size(), 3u);
  remove_file(dir / files[1]);
  expect_replay_error(dir.path(), files[2]);
}

TEST(PersistWal, UndoRemovesOnlyTheLastRecord) {
  TempDir dir;
  {
    Wal wal(options(dir.path(), FsyncPolicy::kAlways));
    replay_all(wal, 0);
    for (uint64_t i = 1; i <= 3; ++i) wal.append({payload(i, 40)});
    EXPECT_THROW(wal.undo(2), Error);
    EXPECT_THROW(wal.undo(4), Error);
    wal.undo(3);
    EXPECT_EQ(wal.last_lsn(), 2u);
    EXPECT_EQ(wal.stats().records, 2u);
    EXPECT_EQ(wal.append({std::string("replacement")}), 3u);
    wal.commit(3);
    wal.undo(3);
    try {
      wal.undo(2);  // only the record appended last, once
      ADD_FAILURE() << "undo of an older record was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
    EXPECT_LE(wal.stats().durable_lsn, 2u);
  }
  expect_records(reopen(dir.path()), {{1, payload(1, 40)}, {2, payload(2, 40)}}, 0);
}

TEST(PersistWal, TruncateThroughDeletesOnlyFullyCoveredSegments) {
  TempDir dir;
  std::map<uint64_t, std::string> written;
  {
    Wal wal(options(dir.path(), FsyncPolicy::kBatch, 4096));
    replay_all(wal, 0);
    for (uint64_t i = 1; i <= 40; ++i) wal.append({written[i] = payload(i, 1000)});
    auto before = segment_files(dir.path());
    ASSERT_GE(before.size(), 5u);
    const uint64_t k = 17;
    wal.truncate_through(k);
    std::vector<std::string> expected;
    for (size_t i = 0; i < before.size(); ++i) {
      bool covered = i + 1 < before.size() && first_lsn_of(before[i + 1]) - 1 <= k;
      if (!covered) expected.push_back(before[i]);
    }
    EXPECT_EQ(segment_files(dir.path()), expected);
    EXPECT_LE(first_lsn_of(expected.front()), k + 1);
    EXPECT_EQ(wal.stats().segments, expected.size());
    EXPECT_THROW(wal.truncate_through(41), Error);
  }
  // Replay after a truncation still works, from the checkpoint on.
  expect_records(reopen(dir.path(), 17), written, 17);
  {
    Wal wal(options(dir.path()));
    replay_all(wal, 40);
    wal.truncate_through(40);  // everything is checkpointed: a new, empty segment continues the LSNs
    auto files = segment_files(dir.path());
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(first_lsn_of(files[0]), 41u);
    EXPECT_EQ(wal.append({written[41] = "next"}), 41u);
  }
  Wal::ReplayResult r;
  Records got = reopen(dir.path(), 0, &r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Records::value_type(41, "next"));
  EXPECT_EQ(r.last_lsn, 41u);
}

TEST(PersistWal, ReplayAfterPastTheLogRestartsTheLsns) {
  TempDir dir;
  write_small_log(dir.path(), 3);
  {
    Wal wal(options(dir.path()));
    Wal::ReplayResult r;
    EXPECT_TRUE(replay_all(wal, 10, &r).empty());
    EXPECT_EQ(r.last_lsn, 10u);
    EXPECT_EQ(wal.append({std::string("x")}), 11u);
  }
  Records got = reopen(dir.path());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, 11u);
}

TEST(PersistWal, CallsOutOfOrderAreRejected) {
  TempDir dir;
  Wal wal(options(dir.path()));
  EXPECT_THROW(wal.append({std::string("x")}), Error);
  replay_all(wal, 0);
  EXPECT_THROW(replay_all(wal, 0), Error);
  EXPECT_THROW(wal.commit(1), Error);
}

// Each of `threads` threads appends `per_thread` records (payload: thread,
// sequence number, filler) and commits each. Returns every record's payload by LSN.
std::map<uint64_t, std::string> append_concurrently(Wal& wal, int threads, int per_thread) {
  std::vector<std::vector<std::pair<uint64_t, std::string>>> got(threads);
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i) {
        std::string head = std::to_string(t) + ":" + std::to_string(i) + ":";
        std::string body = payload(static_cast<uint64_t>(t * 1000 + i), 200 + 97 * i);
        uint64_t lsn = wal.append({head, body});
        wal.commit(lsn);
        got[t].emplace_back(lsn, head + body);
      }
    });
  for (auto& th : pool) th.join();
  std::map<uint64_t, std::string> all;
  for (auto& v : got)
    for (auto& [lsn, p] : v) EXPECT_TRUE(all.emplace(lsn, p).second) << "LSN " << lsn << " given twice";
  return all;
}

TEST(PersistWalConcurrent, AlwaysSharesFsyncsBetweenConcurrentCommits) {
  TempDir dir;
  const int threads = 8, per_thread = 40;
  std::map<uint64_t, std::string> all;
  {
    Wal wal(options(dir.path(), FsyncPolicy::kAlways, 32 << 10));
    replay_all(wal, 0);
    all = append_concurrently(wal, threads, per_thread);
    WalStats s = wal.stats();
    EXPECT_EQ(s.durable_lsn, s.last_lsn);
    EXPECT_LT(s.syncs, static_cast<uint64_t>(threads * per_thread)) << "commits did not share fdatasyncs";
    EXPECT_GT(s.syncs, 0u);
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(threads * per_thread));
  EXPECT_EQ(all.begin()->first, 1u);
  EXPECT_EQ(all.rbegin()->first, static_cast<uint64_t>(threads * per_thread)) << "LSNs are not consecutive";
  expect_records(reopen(dir.path()), all, 0);
}

TEST(PersistWalConcurrent, BatchBackgroundThreadCatchesUp) {
  TempDir dir;
  std::map<uint64_t, std::string> all;
  {
    Wal wal(options(dir.path(), FsyncPolicy::kBatch, 32 << 10));
    replay_all(wal, 0);
    all = append_concurrently(wal, 4, 50);
    const uint64_t last = wal.last_lsn();
    EXPECT_EQ(last, 200u);
    // No sync was asked for: the background thread makes the records durable.
    for (int i = 0; i < 10000 && wal.stats().durable_lsn < last; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(wal.stats().durable_lsn, last);
    EXPECT_GT(wal.stats().syncs, 0u);
  }
  expect_records(reopen(dir.path()), all, 0);
}

TEST(PersistWal, ParseFsyncPolicy) {
  EXPECT_EQ(parse_fsync_policy("always"), FsyncPolicy::kAlways);
  EXPECT_EQ(parse_fsync_policy("BATCH"), FsyncPolicy::kBatch);
  EXPECT_EQ(parse_fsync_policy("None"), FsyncPolicy::kNone);
  for (FsyncPolicy p : {FsyncPolicy::kAlways, FsyncPolicy::kBatch, FsyncPolicy::kNone})
    EXPECT_EQ(parse_fsync_policy(fsync_policy_name(p)), p);
  for (const char* bad : {"", "sometimes", "always "}) {
    try {
      parse_fsync_policy(bad);
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      std::string msg = e.what();
      EXPECT_NE(msg.find("always, batch, none"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace zepto::persist
