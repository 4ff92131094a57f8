// The checkpoint files of a table (persist/store.h): one segment per day a
// checkpoint touches, holding the pieces of many (symbol, day) units; how
// segments are shared, kept, compacted and deleted; and what load() reports
// when a segment does not match its manifest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "zeptodb/common/error.h"
#include "zeptodb/persist/column_file.h"
#include "zeptodb/persist/file_io.h"
#include "zeptodb/persist/store.h"
#include "zeptodb/storage/catalog.h"

namespace zepto::persist {
namespace {

namespace fs = std::filesystem;
using test_util::TempDir;

constexpr int64_t kDayNs = 86'400'000'000'000;
constexpr int64_t kDay0 = 19'724;  // 2024-01-02
const char* const kDay0Name = "2024-01-02";

// What Database::checkpoint() hands the Store for table `t` (directory id 7).
Capture capture(Table& t, uint64_t lsn) {
  Capture cap;
  cap.lsn = lsn;
  TableCapture tc;
  tc.name = t.name();
  tc.dir_id = 7;
  tc.schema = t.schema();
  tc.parts = t.checkpoint_parts();
  cap.tables.push_back(std::move(tc));
  return cap;
}

// A table t(sym SYMBOL, ts TIMESTAMP, x DOUBLE, n INTEGER) where n has NULLs,
// checkpointed into its own directory by a Store, as Database does it.
class PersistStore : public testing::Test {
 protected:
  const Schema schema{{{"sym", ColumnType::SYMBOL},
                       {"ts", ColumnType::TIMESTAMP},
                       {"x", ColumnType::DOUBLE},
                       {"n", ColumnType::INT32}}};
  TempDir dir;
  Catalog catalog{std::make_shared<MemoryTracker>()};
  std::shared_ptr<Table> table = catalog.create("t", schema);
  Store store{dir.path(), CompressionPolicy::kAuto, /*sync=*/false};
  uint64_t lsn = 0;
  int64_t seq = 0;  // makes every row's values distinct

  std::string table_dir() const { return dir / "tables/7_t"; }

  // `per` rows for each symbol of `syms` on day kDay0 + `day`, timestamps
  // `first_ns`, `first_ns` + 1, ... within the day.
  void add(const std::vector<int64_t>& syms, int64_t day, size_t per, int64_t first_ns) {
    std::vector<int64_t> s, ts;
    std::vector<double> x;
    std::vector<int32_t> n;
    std::vector<uint8_t> n_valid;
    for (int64_t sym : syms)
      for (size_t i = 0; i < per; ++i) {
        ++seq;
        s.push_back(sym);
        ts.push_back((kDay0 + day) * kDayNs + first_ns + static_cast<int64_t>(i));
        x.push_back(static_cast<double>(seq) / 4);
        n.push_back(static_cast<int32_t>(seq));
        n_valid.push_back(seq % 5 != 0);
      }
    const void* cols[] = {s.data(), ts.data(), x.data(), n.data()};
    const uint8_t* valid[] = {nullptr, nullptr, nullptr, n_valid.data()};
    table->append(cols, valid, s.size());
  }

  CheckpointResult checkpoint() { return store.write(capture(*table, ++lsn)); }

  // The segment directories on disk: day directory -> segment ids.
  std::map<std::string, std::set<uint64_t>> segments() const {
    std::map<std::string, std::set<uint64_t>> out;
    for (const auto& day : fs::directory_iterator(table_dir()))
      if (day.is_directory())
        for (const auto& seg : fs::directory_iterator(day.path()))
          out[day.path().filename().string()].insert(std::stoull(seg.path().filename().string()));
    return out;
  }
  size_t day0_segments() const {
    auto s = segments();
    return s.count(kDay0Name) ? s.at(kDay0Name).size() : 0;
  }

  // A column file of segment `seg` of day kDay0.
  std::string column_path(uint64_t seg, const std::string& file) const {
    return table_dir() + "/" + kDay0Name + "/" + std::to_string(seg) + "/" + file;
  }
};

// Every partition's rows: per column its bytes, and the validity of each
// row (a partition without rows, as a TTL may leave one, is not stored).
using Contents = std::map<int64_t, std::vector<std::string>>;
Contents contents(const Table& t) {
  Contents out;
  for (const Partition* p : t.partitions()) {
    auto snap = p->snapshot();
    if (snap.rows == 0) continue;
    auto& cols = out[p->key()];
    for (size_t c = 0; c < snap.columns.size(); ++c) {
      const size_t w = type_width(t.schema().column(c).type);
      cols.emplace_back(reinterpret_cast<const char*>(snap.columns[c]->data()), snap.rows * w);
      std::string valid(snap.rows, '\1');
      if (const uint8_t* v = snap.valid(c))
        for (size_t i = 0; i < snap.rows; ++i) valid[i] = v[i] ? '\1' : '\0';
      cols.push_back(valid);
    }
  }
  return out;
}

// Opens the directory as a restart would and reads table t's files.
struct Reopened {
  // `stride`: the bytes of a stride of rows that loading reads at a time.
  explicit Reopened(const std::string& dir, size_t stride = 0) : store(dir, CompressionPolicy::kAuto, false) {
    if (stride) store.set_load_stride(stride);
    loaded = store.load(catalog, symbols);
  }
  Contents rows() { return contents(*catalog.require("t")); }
  Catalog catalog{std::make_shared<MemoryTracker>()};
  SymbolDictionary symbols;
  Store store;
  LoadResult loaded;
};

// The message of the Error(kIOError) that reading t's files throws.
std::string load_error(const std::string& dir) {
  Reopened r(dir);
  try {
    r.rows();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    return e.what();
  }
  ADD_FAILURE() << "the table loaded without an error";
  return "";
}

TEST_F(PersistStore, ACheckpointWritesOneSegmentPerDayHoldingEverySymbol) {
  add({3, 1, 2}, 0, 100, 1'000);
  add({1, 2}, 1, 50, 1'000);
  add({2}, 2, 7, 0);
  const auto res = checkpoint();
  EXPECT_EQ(res.rows_written, 300u + 100 + 7);
  EXPECT_EQ(res.files_written, 3u * 4) << "three days, four columns";
  const auto segs = segments();
  ASSERT_EQ(segs.size(), 3u);
  for (const auto& [day, ids] : segs) EXPECT_EQ(ids.size(), 1u) << day;
  EXPECT_EQ(read_column_header(column_path(*segs.at(kDay0Name).begin(), "1_ts.zcol")).rows, 300u);
  EXPECT_TRUE(read_column_header(column_path(*segs.at(kDay0Name).begin(), "3_n.zcol")).has_validity);

  Reopened r(dir.path());
  EXPECT_EQ(r.loaded.rows, 407u);
  EXPECT_EQ(r.loaded.files, 12u);
  EXPECT_EQ(r.rows(), contents(*table));
}

TEST_F(PersistStore, PiecesOfSeveralCheckpointsReadBackInOrder) {
  add({1, 2, 3, 4}, 0, 1000, 0);
  checkpoint();
  // Smaller additions: each becomes a new segment holding a piece of every unit.
  add({1, 2, 3, 4}, 0, 300, 10'000);
  checkpoint();
  add({1, 3}, 0, 100, 20'000);
  add({5}, 0, 10, 0);  // a new symbol joins the day
  checkpoint();
  EXPECT_EQ(day0_segments(), 3u);
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));

  // The reopened table goes on from where it was: a checkpoint of it only
  // writes what it gains.
  Reopened r(dir.path());
  auto t = r.catalog.require("t");
  ASSERT_EQ(t->row_count(), 5'410u);
  std::vector<int64_t> s{2}, ts{kDay0 * kDayNs + 30'000};
  std::vector<double> x{1.5};
  std::vector<int32_t> n{7};
  const void* cols[] = {s.data(), ts.data(), x.data(), n.data()};
  t->append(cols, nullptr, 1);
  EXPECT_EQ(r.store.write(capture(*t, 100)).rows_written, 1u);
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*t));
}

TEST_F(PersistStore, ARewrittenUnitLeavesItsOldSegmentToTheOtherUnits) {
  add({1}, 0, 100, 1'000);
  add({2, 3}, 0, 1000, 1'000);
  checkpoint();
  const uint64_t first = *segments().at(kDay0Name).begin();
  // A late row of symbol 1 changes its older rows: that unit is rewritten
  // whole into a new segment; symbols 2 and 3 still use the first one.
  add({1}, 0, 1, 0);
  const auto res = checkpoint();
  EXPECT_EQ(res.units_rewritten, 1u);
  EXPECT_EQ(res.rows_written, 101u);
  const auto segs = segments().at(kDay0Name);
  EXPECT_EQ(segs.size(), 2u);
  EXPECT_TRUE(segs.count(first)) << "still used by symbols 2 and 3";
  EXPECT_EQ(read_column_header(column_path(first, "0_sym.zcol")).rows, 2'100u) << "the old segment is left as it was";
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));
  EXPECT_EQ(Reopened(dir.path()).loaded.removed, 0u) << "nothing on disk is unreferenced";
}

TEST_F(PersistStore, ASegmentLessThanHalfLiveHasItsUnitsRewritten) {
  add({1, 2, 3}, 0, 1000, 1'000);
  checkpoint();
  const uint64_t first = *segments().at(kDay0Name).begin();
  add({1}, 0, 1, 0);  // symbol 1 rewritten: the first segment is 2/3 live
  checkpoint();
  EXPECT_TRUE(segments().at(kDay0Name).count(first));
  add({2}, 0, 1, 0);  // symbol 2 rewritten: 1/3 live, so symbol 3 moves too
  const auto res = checkpoint();
  EXPECT_EQ(res.units_rewritten, 2u);
  EXPECT_FALSE(segments().at(kDay0Name).count(first)) << "no unit references it any more";
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));
}

TEST_F(PersistStore, NewSegmentsAbsorbTheNewestWhileTheyAreNoBigger) {
  // Equal checkpoints merge like a binary counter: 1, 2 -> 1, 2+1, 4 -> 1, ...
  const size_t expected[] = {1, 1, 2, 1, 2, 2, 3, 1};
  for (size_t i = 0; i < std::size(expected); ++i) {
    add({1, 2}, 0, 100, static_cast<int64_t>(i) * 1'000);
    checkpoint();
    EXPECT_EQ(day0_segments(), expected[i]) << "after checkpoint " << i + 1;
  }
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));
}

TEST_F(PersistStore, EqualCheckpointsRewriteEachRowAboutLog2Times) {
  // 64 = 2^6 equal checkpoints of one day: like a binary counter, a row is
  // written (6 + 2) / 2 = 4 times on average, and the day has as many
  // segments as the count has one bits.
  uint64_t written = 0;
  for (int i = 1; i <= 64; ++i) {
    add({1, 2}, 0, 10, i * 100);
    written += checkpoint().rows_written;
    if (i == 63) {
      EXPECT_EQ(day0_segments(), 6u);
    }
  }
  EXPECT_EQ(day0_segments(), 1u);
  EXPECT_EQ(written, 4u * 64 * 20);
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));
}

TEST_F(PersistStore, ADayNeverHasMoreThanSixteenSegments) {
  // Checkpoints that shrink never merge by size; the 17th segment would pass the cap.
  for (int i = 0; i < 16; ++i) {
    add({1, 2}, 0, static_cast<size_t>(40 - i), i * 1'000);
    checkpoint();
  }
  EXPECT_EQ(day0_segments(), 16u);
  add({1, 2}, 0, 20, 50'000);
  checkpoint();
  EXPECT_LE(day0_segments(), 16u);
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));
}

TEST_F(PersistStore, ASegmentIsReadInStridesOfRows) {
  add({4, 2, 9}, 0, 2'500, 0);  // 7,500 rows in one segment, written in one checkpoint
  checkpoint();
  add({2}, 0, 700, 10'000);
  add({4}, 1, 3'000, 0);
  checkpoint();
  const auto expected = contents(*table);
  // Strides of 61, 999 and 4,096 rows (a row is 28 bytes): pieces start and end inside strides.
  for (size_t stride_rows : {61, 999, 4'096}) {
    SCOPED_TRACE(stride_rows);
    EXPECT_EQ(Reopened(dir.path(), stride_rows * 28).rows(), expected);
  }
}

TEST_F(PersistStore, ADroppedDayLosesItsSegmentsAtTheNextCheckpoint) {
  add({1, 2}, 0, 100, 0);
  add({1, 2}, 1, 100, 0);
  add({1}, 2, 100, 0);
  checkpoint();
  add({1}, 1, 50, 1'000);  // day 1 gets a second (smaller) segment
  checkpoint();
  ASSERT_EQ(segments().size(), 3u);
  ASSERT_EQ(segments().at("2024-01-03").size(), 2u);
  table->drop_before((kDay0 + 2) * kDayNs);  // what a TTL does
  const auto res = checkpoint();
  EXPECT_EQ(res.rows_written, 0u) << "day 2 is unchanged";
  const auto segs = segments();
  ASSERT_EQ(segs.size(), 1u) << "the directories of days 0 and 1 are gone";
  EXPECT_TRUE(segs.count("2024-01-04"));
  EXPECT_EQ(Reopened(dir.path()).rows(), contents(*table));
  EXPECT_EQ(Reopened(dir.path()).loaded.removed, 0u);
}

TEST_F(PersistStore, ATornSegmentFileIsReportedByName) {
  add({1, 2, 3}, 0, 5'000, 0);
  checkpoint();
  const std::string victim = column_path(*segments().at(kDay0Name).begin(), "2_x.zcol");
  fs::resize_file(victim, fs::file_size(victim) - 100);
  const std::string msg = load_error(dir.path());
  EXPECT_NE(msg.find(victim), std::string::npos) << msg;
  EXPECT_TRUE(fs::exists(victim)) << "a file that fails its check is left alone";
}

TEST_F(PersistStore, AManifestPieceBeyondTheFileIsReportedByName) {
  add({1, 2, 3}, 0, 500, 0);
  checkpoint();
  // A well-formed file with fewer rows than the manifest puts in it.
  const std::string victim = column_path(*segments().at(kDay0Name).begin(), "1_ts.zcol");
  std::vector<int64_t> ts(1'200, kDay0 * kDayNs);
  write_column_file(victim, ColumnType::TIMESTAMP, ts.data(), nullptr, ts.size());
  const std::string msg = load_error(dir.path());
  EXPECT_NE(msg.find(victim), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 1200 rows"), std::string::npos) << msg;
  EXPECT_NE(msg.find("symbol 3"), std::string::npos) << "the piece past the end is symbol 3's: " << msg;
}

TEST_F(PersistStore, AnOldManifestVersionIsRefusedNamingIt) {
  add({1}, 0, 10, 0);
  checkpoint();
  // The same manifest, but claiming format version 1 (one segment per unit).
  const std::string path = table_dir() + "/MANIFEST-1";
  std::string bytes = read_file(path);
  store_le<uint32_t>(bytes.data() + 4, 1);
  store_le<uint32_t>(bytes.data() + bytes.size() - 4, checksum32(bytes.data(), bytes.size() - 4));
  write_file_atomic(path, bytes);
  Catalog c{std::make_shared<MemoryTracker>()};
  SymbolDictionary syms;
  Store s(dir.path(), CompressionPolicy::kAuto, false);
  try {
    s.load(c, syms);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIOError);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("MANIFEST-1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("format version 1 is not supported"), std::string::npos) << msg;
  }
}

TEST_F(PersistStore, LoadRemovesSegmentsNoUnitReferences) {
  add({1, 2}, 0, 100, 0);
  checkpoint();
  // Left by a checkpoint that did not commit: a segment of a known day and a whole day.
  make_dirs(column_path(99, ""));
  write_file_atomic(column_path(99, "0_sym.zcol"), "x");
  make_dirs(table_dir() + "/2024-02-01/98");
  Reopened r(dir.path());
  EXPECT_EQ(r.loaded.removed, 4u) << "two segment directories, a file, a day directory";
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_EQ(segments().at(kDay0Name).size(), 1u);
  EXPECT_EQ(r.rows(), contents(*table));
}

}  // namespace
}  // namespace zepto::persist
