// The persist layer's file utilities and column files: round trips, atomic
// replacement, and detection of every torn or corrupted byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/persist/column_file.h"
#include "zeptodb/persist/file_io.h"
#include "temp_dir.h"

namespace zepto::persist {
namespace {

using zepto::test_util::FileSizeLimit;
using zepto::test_util::TempDir;

// The code and message of the Error `f` throws (fails the test if none).
template <class F>
std::pair<ErrorCode, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  ADD_FAILURE() << "no error thrown";
  return {ErrorCode::kInternal, ""};
}

const auto kTracker = std::make_shared<MemoryTracker>();
constexpr ColumnType kAllTypes[] = {ColumnType::INT64, ColumnType::INT32,     ColumnType::DOUBLE,
                                    ColumnType::BOOL,  ColumnType::TIMESTAMP, ColumnType::SYMBOL};

// `rows` random values of `type` as raw bytes (BOOL values are 0 or 1).
std::vector<uint8_t> random_bytes(ColumnType type, size_t rows, uint64_t seed) {
  std::vector<uint8_t> out(rows * type_width(type));
  std::mt19937_64 rng(seed);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  if (type == ColumnType::BOOL)
    for (auto& b : out) b &= 1;
  if (type == ColumnType::DOUBLE)  // no NaN payload games: plain finite doubles
    for (size_t i = 0; i < rows; ++i) {
      double d = static_cast<double>(rng() % 1000000) / 100.0;
      std::memcpy(out.data() + i * 8, &d, 8);
    }
  return out;
}

// Every 7th row NULL.
std::vector<uint8_t> some_nulls(size_t rows) {
  std::vector<uint8_t> v(rows, 1);
  for (size_t i = 0; i < rows; i += 7) v[i] = 0;
  return v;
}

void expect_same(const ColumnFileData& d, ColumnType type, const std::vector<uint8_t>& bytes,
                 const std::vector<uint8_t>* valid, size_t rows) {
  ASSERT_EQ(d.type, type);
  ASSERT_EQ(d.rows, rows);
  ASSERT_NE(d.values, nullptr);
  ASSERT_GE(d.values->capacity(), rows * type_width(type));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(d.values->data()) % 64, 0u);
  if (rows > 0) {
    EXPECT_EQ(std::memcmp(d.values->data(), bytes.data(), bytes.size()), 0);
  }
  if (valid == nullptr) {
    EXPECT_EQ(d.validity, nullptr);
  } else {
    ASSERT_NE(d.validity, nullptr);
    EXPECT_EQ(std::memcmp(d.validity->data(), valid->data(), rows), 0);
  }
}

// ---------------- file_io ----------------

TEST(PersistFilesIo, ChecksumIsCrc32AndChains) {
  const char* s = "123456789";
  EXPECT_EQ(checksum32(s, 9), 0xCBF43926u);  // the standard CRC-32 check value
  EXPECT_EQ(checksum32(s + 4, 5, checksum32(s, 4)), 0xCBF43926u);
  EXPECT_EQ(checksum32(s, 0), 0u);
}

TEST(PersistFilesIo, ChecksumEqualsZlibCrc32AtEverySizeAndSeed) {
  std::vector<uint8_t> buf(70000);
  std::mt19937_64 rng(11);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 300; ++n) sizes.push_back(n);
  for (size_t n : {511, 512, 513, 1000, 4095, 4096, 4097, 65536, 69999}) sizes.push_back(n);
  for (size_t n : sizes) {
    for (size_t start : {size_t{0}, size_t{1}, size_t{7}}) {  // unaligned starts too
      if (start + n > buf.size()) continue;
      for (uint32_t seed : {0u, 0x12345678u}) {
        uLong want = ::crc32(seed, buf.data() + start, static_cast<uInt>(n));
        ASSERT_EQ(checksum32(buf.data() + start, n, seed), static_cast<uint32_t>(want))
            << "n=" << n << " start=" << start << " seed=" << seed;
      }
    }
  }
}

TEST(PersistFilesIo, WriteFileAtomicReplacesAndReads) {
  TempDir dir;
  std::string p = dir / "a.bin";
  EXPECT_FALSE(file_exists(p));
  write_file_atomic(p, "first");
  EXPECT_EQ(read_file(p), "first");
  write_file_atomic(p, std::string("sec\0ond", 7), false);
  EXPECT_EQ(read_file(p), std::string("sec\0ond", 7));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"a.bin"});  // no temp file left
}

TEST(PersistFilesIo, AtomicWriteOverADirectoryFailsAndLeavesNoTemp) {
  TempDir dir;
  std::string p = dir / "target";
  make_dirs(p + "/inner");
  auto [code, msg] = error_of([&] { write_file_atomic(p, "data"); });
  EXPECT_EQ(code, ErrorCode::kIOError);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("Is a directory"), std::string::npos) << msg;
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"target"});
  EXPECT_EQ(list_dir(p), std::vector<std::string>{"inner"});
}

TEST(PersistFilesIo, AtomicWriteThatRunsOutOfSpaceKeepsTheOldFile) {
  TempDir dir;
  std::string p = dir / "m.bin";
  write_file_atomic(p, "old contents");
  std::string big(1 << 20, 'x');
  std::pair<ErrorCode, std::string> err;
  {
    FileSizeLimit limit(64 * 1024);
    err = error_of([&] { write_file_atomic(p, big); });
  }
  EXPECT_EQ(err.first, ErrorCode::kIOError);
  EXPECT_NE(err.second.find("File too large"), std::string::npos) << err.second;
  EXPECT_EQ(read_file(p), "old contents");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"m.bin"});
}

TEST(PersistFilesIo, MissingFilesAndDirectories) {
  TempDir dir;
  auto [code, msg] = error_of([&] { read_file(dir / "nope"); });
  EXPECT_EQ(code, ErrorCode::kIOError);
  EXPECT_NE(msg.find(dir / "nope"), std::string::npos);
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  EXPECT_EQ(error_of([&] { list_dir(dir / "nope"); }).first, ErrorCode::kIOError);
  remove_file(dir / "nope");  // missing is fine
  remove_tree(dir / "nope");
  write_file_atomic(dir / "f", "x");
  EXPECT_EQ(error_of([&] { make_dirs(dir / "f/sub"); }).first, ErrorCode::kIOError);
}

TEST(PersistFilesIo, DirectoriesAreMadeListedSortedAndRemoved) {
  TempDir dir;
  make_dirs(dir / "a/b/c");
  make_dirs(dir / "a/b/c");  // existing is fine
  write_file_atomic(dir / "a/b/z", "1");
  write_file_atomic(dir / "a/b/m", "2");
  fsync_dir(dir / "a/b");
  EXPECT_EQ(list_dir(dir / "a/b"), (std::vector<std::string>{"c", "m", "z"}));
  remove_tree(dir / "a");
  EXPECT_FALSE(file_exists(dir / "a"));
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(PersistFilesIo, FileAppendsWritesPartsReadsAndTruncates) {
  TempDir dir;
  std::string p = dir / "log";
  {
    File f = File::create(p);
    f.write("abc", 3);
    f.write_parts({"de", "", "fgh"});
    EXPECT_EQ(f.size(), 8u);
    f.sync();
    char buf[4] = {};
    f.pread(2, buf, 4);
    EXPECT_EQ(std::string(buf, 4), "cdef");
    auto [code, msg] = error_of([&] { f.pread(6, buf, 4); });
    EXPECT_EQ(code, ErrorCode::kIOError);
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    f.truncate(5);
    EXPECT_EQ(f.size(), 5u);
    f.close();
  }
  EXPECT_EQ(read_file(p), "abcde");
  File g = File::open_append(p);
  EXPECT_EQ(g.size(), 5u);
  g.write("XY", 2);
  g.write_at(0, "A", 1);
  g.close();
  EXPECT_EQ(read_file(p), "AbcdeXY");
}

TEST(PersistFilesIo, WriteOnAFullDeviceNamesThePathAndReason) {
  if (!file_exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  File f = File::open_append("/dev/full");
  auto [code, msg] = error_of([&] { f.write("abc", 3); });
  EXPECT_EQ(code, ErrorCode::kIOError);
  EXPECT_NE(msg.find("/dev/full"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
}

TEST(PersistFilesIo, FailedWriteLeavesNoPartialData) {
  TempDir dir;
  std::string p = dir / "log";
  File f = File::create(p);
  std::string first(40000, 'a'), second(40000, 'b');
  {
    FileSizeLimit limit(64 * 1024);  // the second write gets 24 KiB in, then fails
    f.write(first.data(), first.size());
    EXPECT_EQ(error_of([&] { f.write_parts({second, second}); }).first, ErrorCode::kIOError);
    EXPECT_EQ(f.size(), first.size());
    EXPECT_EQ(error_of([&] { f.write(second.data(), second.size()); }).first, ErrorCode::kIOError);
  }
  EXPECT_EQ(f.size(), first.size());
  f.write("c", 1);  // the file still works after a failure
  f.close();
  EXPECT_EQ(read_file(p), first + "c");
}

// ---------------- direct appends ----------------

// `n` bytes that depend on `seed` and their position.
std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

// The header a test appends: 16 bytes, the CRC finish_header() is given in the first four.
struct DirectCase {
  std::string header = std::string(16, '?');
  uint32_t crc = 0;
  bool called = false;
  std::function<void(uint32_t)> finish() {
    return [this](uint32_t c) {
      called = true;
      crc = c;
      std::memcpy(header.data(), &c, 4);
    };
  }
};

TEST(PersistFilesDirect, AppendsTheSameBytesAsBufferedWritesAtAnyOffsetAndSize) {
  TempDir dir;
  DirectAppender direct;
  const size_t kMiB = size_t{1} << 20;
  // Starts inside, at and just past a block; sizes below a block, a block exactly (with the
  // header), many staging chunks (the ring of slots is reused), and the head blocks only.
  const size_t starts[] = {0, 1, 4095, 4096, 5000, 8191};
  const size_t sizes[] = {1, 4096 - 16, 100000, 2 * kMiB - 16, 11 * kMiB + 3};
  unsigned seed = 1;
  for (size_t start : starts) {
    for (size_t size : sizes) {
      SCOPED_TRACE("start " + std::to_string(start) + ", size " + std::to_string(size));
      const std::string before = pattern(start, seed++);
      const std::string a = pattern(size / 3, seed++), b = pattern(size - size / 3, seed++);
      File f = File::create(dir / "direct");
      if (!before.empty()) f.write(before.data(), before.size());
      DirectCase c;
      if (!direct.append(f, {c.header, a, "", b}, c.finish()))
        GTEST_SKIP() << "the file system of the test directory refuses direct I/O (O_DIRECT)";
      ASSERT_TRUE(c.called);
      EXPECT_EQ(c.crc, checksum32(b.data(), b.size(), checksum32(a.data(), a.size())));
      EXPECT_EQ(f.size(), start + 16 + size);
      f.write("!", 1);  // a buffered append after a direct one continues at the right place
      f.close();
      std::string crc4(4, '\0');
      std::memcpy(crc4.data(), &c.crc, 4);
      EXPECT_TRUE(read_file(dir / "direct") == before + crc4 + std::string(12, '?') + a + b + "!")
          << "the file's bytes differ from what was appended";
    }
  }
}

TEST(PersistFilesDirect, AppendsBypassThePageCache) {
  TempDir dir;
  DirectAppender direct;
  File f = File::create(dir / "direct");
  const std::string big = pattern(size_t{8} << 20, 7);
  DirectCase c;
  if (!direct.append(f, {c.header, big}, c.finish()))
    GTEST_SKIP() << "the file system of the test directory refuses direct I/O (O_DIRECT)";
  // A buffered twin, for contrast: its pages stay in the page cache.
  File g = File::create(dir / "buffered");
  g.write_parts({c.header, big});
  auto resident_pages = [](const File& file) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const int fd = ::open(file.path().c_str(), O_RDONLY);
    void* map = ::mmap(nullptr, file.size(), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    EXPECT_NE(map, MAP_FAILED);
    std::vector<unsigned char> in((file.size() + page - 1) / page);
    EXPECT_EQ(::mincore(map, file.size(), in.data()), 0);
    ::munmap(map, file.size());
    size_t n = 0;
    for (unsigned char v : in) n += v & 1;
    return std::pair{n, in.size()};
  };
  auto [direct_in, pages] = resident_pages(f);
  auto [buffered_in, pages2] = resident_pages(g);
  EXPECT_LE(direct_in, 4u) << "of " << pages << " pages";  // at most the head and tail blocks
  EXPECT_GT(buffered_in, pages2 / 2);
}

TEST(PersistFilesDirect, FailedAppendLeavesNoPartialDataAndTheFileWorksOn) {
  TempDir dir;
  DirectAppender direct;
  File f = File::create(dir / "direct");
  const std::string first(5000, 'a'), big = pattern(size_t{3} << 20, 9);
  f.write(first.data(), first.size());
  {
    FileSizeLimit limit(size_t{1} << 20);  // the append gets partly written, then fails
    DirectCase c;
    auto [code, msg] = error_of([&] {
      if (!direct.append(f, {c.header, big}, c.finish())) throw Error(ErrorCode::kIOError, "refused");
    });
    if (msg == "refused") GTEST_SKIP() << "the file system of the test directory refuses direct I/O (O_DIRECT)";
    EXPECT_EQ(code, ErrorCode::kIOError);
    EXPECT_NE(msg.find(dir / "direct"), std::string::npos) << msg;
    EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
    EXPECT_FALSE(c.called);  // the header is written last: a failed record never gets one
  }
  EXPECT_EQ(f.size(), first.size());
  EXPECT_EQ(read_file(dir / "direct"), first);
  DirectCase c;
  ASSERT_TRUE(direct.append(f, {c.header, big}, c.finish()));
  f.close();
  EXPECT_TRUE(read_file(dir / "direct") == first + c.header + big);
}

TEST(PersistFilesDirect, AHeaderOverABlockIsRejected) {
  TempDir dir;
  DirectAppender direct;
  File f = File::create(dir / "direct");
  const std::string header(4097, 'h');
  auto [code, msg] = error_of([&] { direct.append(f, {header, "x"}, [](uint32_t) {}); });
  EXPECT_EQ(code, ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("4 KiB"), std::string::npos) << msg;
  EXPECT_EQ(f.size(), 0u);
}

// ---------------- column files ----------------

TEST(PersistFilesColumn, RoundTripsEveryTypeWithAndWithoutNulls) {
  TempDir dir;
  for (ColumnType type : kAllTypes) {
    for (size_t rows : {size_t{0}, size_t{1}, size_t{1000}}) {
      for (bool nulls : {false, true}) {
        SCOPED_TRACE(std::string(type_name(type)) + " rows=" + std::to_string(rows) + " nulls=" + std::to_string(nulls));
        auto bytes = random_bytes(type, rows, rows + 17);
        auto valid = some_nulls(rows);
        std::string p = dir / "c.zcol";
        write_column_file(p, type, bytes.data(), nulls ? valid.data() : nullptr, rows);
        ColumnFileInfo info = read_column_header(p);
        EXPECT_EQ(info.type, type);
        EXPECT_EQ(info.rows, rows);
        bool has_nulls = nulls && rows > 0;
        EXPECT_EQ(info.has_validity, has_nulls);
        expect_same(read_column_file(p, kTracker, 0, type), type, bytes, has_nulls ? &valid : nullptr, rows);
      }
    }
  }
}

TEST(PersistFilesColumn, ChunksWriteTheSameFileAsOneBuffer) {
  TempDir dir;
  std::mt19937_64 rng(5);
  for (ColumnType type : {ColumnType::INT64, ColumnType::INT32, ColumnType::BOOL}) {
    for (CompressionPolicy policy : {CompressionPolicy::kNone, CompressionPolicy::kLz4}) {
      SCOPED_TRACE(std::string(type_name(type)) + " policy=" + std::to_string(static_cast<int>(policy)));
      const size_t width = type_width(type);
      const size_t rows = 3 * (size_t{1} << 20) / width + 12'345;  // several blocks, the last one ragged
      auto bytes = random_bytes(type, rows, 11);
      // Validity bytes as a caller may pass them (any nonzero is valid).
      std::vector<uint8_t> valid(rows);
      for (auto& v : valid) v = rng() % 7 == 0 ? 0 : static_cast<uint8_t>(1 + rng() % 200);
      // Chunks of random sizes (some empty, some spanning blocks); every
      // other one without validity, which means all its rows are valid.
      std::vector<ColumnChunk> chunks;
      std::vector<uint8_t> expected_valid(rows);
      for (size_t at = 0, i = 0; at < rows; ++i) {
        const size_t n = std::min<size_t>(rows - at, i % 5 == 3 ? 0 : rng() % (3 * (size_t{1} << 20) / width / 4));
        const bool with_valid = i % 2 == 0;
        chunks.push_back({bytes.data() + at * width, with_valid ? valid.data() + at : nullptr, n});
        for (size_t r = at; r < at + n; ++r) expected_valid[r] = with_valid ? valid[r] != 0 : 1;
        at += n;
      }
      ASSERT_GT(chunks.size(), 6u);
      write_column_file(dir / "chunks.zcol", type, chunks, policy, /*sync=*/false, /*atomic=*/false);
      write_column_file(dir / "one.zcol", type, bytes.data(), expected_valid.data(), rows, policy, false);
      EXPECT_EQ(read_file(dir / "chunks.zcol"), read_file(dir / "one.zcol"));
      expect_same(read_column_file(dir / "chunks.zcol", kTracker, 0, type), type, bytes, &expected_valid, rows);
    }
  }
}

TEST(PersistFilesColumn, AReaderHandsOutTheRowsInPartsOfAnySize) {
  TempDir dir;
  std::mt19937_64 rng(3);
  for (ColumnType type : {ColumnType::INT64, ColumnType::INT32, ColumnType::BOOL}) {
    for (bool nulls : {false, true}) {
      SCOPED_TRACE(std::string(type_name(type)) + " nulls=" + std::to_string(nulls));
      const size_t width = type_width(type);
      const size_t rows = 2 * (size_t{1} << 20) / width + 777;  // three value blocks
      auto bytes = random_bytes(type, rows, 9);
      auto valid = some_nulls(rows);
      write_column_file(dir / "c.zcol", type, bytes.data(), nulls ? valid.data() : nullptr, rows,
                        CompressionPolicy::kAuto, false);
      ColumnFileReader reader(dir / "c.zcol", type);
      EXPECT_EQ(reader.info().rows, rows);
      EXPECT_EQ(reader.info().has_validity, nulls);
      std::vector<uint8_t> got(rows * width), got_valid(rows, 9);
      for (size_t at = 0; at < rows;) {
        // Parts smaller than a block, parts spanning blocks, empty parts.
        const size_t n = std::min<size_t>(rows - at, rng() % 3 == 0 ? rng() % 50 : rng() % (size_t{1} << 20) / width);
        reader.read(n, got.data() + at * width, got_valid.data() + at);
        at += n;
        EXPECT_EQ(reader.rows_left(), rows - at);
      }
      EXPECT_EQ(got, bytes);
      if (nulls) EXPECT_EQ(got_valid, valid);
      else EXPECT_EQ(got_valid, std::vector<uint8_t>(rows, 9)) << "no validity stream: untouched";
      auto [code, msg] = error_of([&] { reader.read(1, got.data(), got_valid.data()); });
      EXPECT_EQ(code, ErrorCode::kInvalidArgument);
      EXPECT_NE(msg.find("1 rows asked for, 0 left"), std::string::npos) << msg;
    }
  }
}

TEST(PersistFilesColumn, AllValidRowsStoreNoValidityAndNonzeroMeansValid) {
  TempDir dir;
  std::vector<int64_t> v{1, 2, 3};
  std::vector<uint8_t> all_valid{1, 7, 1}, two{2, 0, 1};
  write_column_file(dir / "a", ColumnType::INT64, v.data(), all_valid.data(), 3);
  EXPECT_FALSE(read_column_header(dir / "a").has_validity);
  EXPECT_EQ(read_column_file(dir / "a", kTracker).validity, nullptr);
  write_column_file(dir / "b", ColumnType::INT64, v.data(), two.data(), 3);
  auto d = read_column_file(dir / "b", kTracker);
  ASSERT_NE(d.validity, nullptr);
  auto* valid = reinterpret_cast<const uint8_t*>(d.validity->data());
  EXPECT_EQ((std::vector<uint8_t>(valid, valid + 3)), (std::vector<uint8_t>{1, 0, 1}));
}

TEST(PersistFilesColumn, MultiBlockFilesUnderEveryPolicy) {
  TempDir dir;
  const size_t rows = 1'100'000;  // 8.8 MB of INT64: nine value blocks (past the 8 MiB writeback step)
  std::vector<int64_t> compressible(rows), random(rows);
  std::mt19937_64 rng(5);
  for (size_t i = 0; i < rows; ++i) {
    compressible[i] = 1'700'000'000'000'000'000 + static_cast<int64_t>(i / 4) * 1000;
    random[i] = static_cast<int64_t>(rng());
  }
  auto valid = some_nulls(rows);
  struct Case {
    CompressionPolicy policy;
    Codec compressible_codec, random_codec;
  };
  for (Case c : {Case{CompressionPolicy::kNone, Codec::kNone, Codec::kNone},
                 Case{CompressionPolicy::kAuto, Codec::kLz4, Codec::kNone},
                 Case{CompressionPolicy::kLz4, Codec::kLz4, Codec::kLz4},
                 Case{CompressionPolicy::kZstd, Codec::kZstd, Codec::kZstd}}) {
    SCOPED_TRACE(static_cast<int>(c.policy));
    for (bool is_random : {false, true}) {
      const auto& values = is_random ? random : compressible;
      std::string p = dir / "ts.zcol";
      write_column_file(p, ColumnType::TIMESTAMP, values.data(), nullptr, rows, c.policy);
      ColumnFileInfo info = read_column_header(p);
      EXPECT_EQ(info.value_blocks, 9u);
      Codec expect = is_random ? c.random_codec : c.compressible_codec;
      EXPECT_EQ(info.codecs, 1u << static_cast<unsigned>(expect)) << "random=" << is_random;
      EXPECT_TRUE(info.uses(expect));
      EXPECT_EQ(info.codec_summary(), codec_name(expect));
      if (expect != Codec::kNone && !is_random) {
        EXPECT_LT(info.file_bytes, rows * 8 / 2);
      }
      std::vector<uint8_t> bytes(rows * 8);
      std::memcpy(bytes.data(), values.data(), bytes.size());
      expect_same(read_column_file(p, kTracker), ColumnType::TIMESTAMP, bytes, nullptr, rows);
      // With NULLs: the validity stream compresses too.
      write_column_file(p, ColumnType::TIMESTAMP, values.data(), valid.data(), rows, c.policy);
      EXPECT_TRUE(read_column_header(p).has_validity);
      expect_same(read_column_file(p, kTracker, rows + 100), ColumnType::TIMESTAMP, bytes, &valid, rows);
    }
  }
}

TEST(PersistFilesColumn, EveryTypeUnderEveryPolicyWithCompressibleData) {
  TempDir dir;
  const size_t rows = 300'007;  // two or three value blocks, the last with a ragged end
  for (ColumnType type : kAllTypes) {
    const size_t width = type_width(type);
    std::vector<uint8_t> bytes(rows * width);
    for (size_t i = 0; i < rows; ++i) {
      int64_t v = type == ColumnType::BOOL ? (i / 5) % 2 : 1'000'000 + static_cast<int64_t>(i / 3);
      if (type == ColumnType::DOUBLE) {
        double d = static_cast<double>(v) / 4;
        std::memcpy(bytes.data() + i * 8, &d, 8);
      } else {
        std::memcpy(bytes.data() + i * width, &v, width);  // little endian: the low bytes
      }
    }
    auto valid = some_nulls(rows);
    for (auto [policy, codec] : {std::pair{CompressionPolicy::kNone, Codec::kNone},
                                 std::pair{CompressionPolicy::kAuto, Codec::kLz4},
                                 std::pair{CompressionPolicy::kLz4, Codec::kLz4},
                                 std::pair{CompressionPolicy::kZstd, Codec::kZstd}}) {
      SCOPED_TRACE(std::string(type_name(type)) + " policy " + std::to_string(static_cast<int>(policy)));
      std::string p = dir / "c.zcol";
      write_column_file(p, type, bytes.data(), valid.data(), rows, policy);
      ColumnFileInfo info = read_column_header(p);
      EXPECT_EQ(info.codecs, 1u << static_cast<unsigned>(codec));
      EXPECT_EQ(info.value_blocks, (rows * width + (1 << 20) - 1) >> 20);
      // Compressed blocks of 4- and 8-byte values are byte-shuffled (block header byte 14).
      std::string file = read_file(p);
      EXPECT_EQ(file[64 + 14], codec != Codec::kNone && width > 1 ? 1 : 0);
      if (codec != Codec::kNone) {
        EXPECT_LT(info.file_bytes, rows * width / 2);
      }
      expect_same(read_column_file(p, kTracker, 0, type), type, bytes, &valid, rows);
    }
  }
}

TEST(PersistFilesColumn, AutoChoosesTheCodecPerBlock) {
  TempDir dir;
  // Block 0 (131072 rows of 8 bytes) is random, block 1 repeats one value.
  const size_t per_block = (1 << 20) / 8;
  std::vector<int64_t> v(2 * per_block, 42);
  std::mt19937_64 rng(9);
  for (size_t i = 0; i < per_block; ++i) v[i] = static_cast<int64_t>(rng());
  std::string p = dir / "mixed.zcol";
  write_column_file(p, ColumnType::INT64, v.data(), nullptr, v.size());
  ColumnFileInfo info = read_column_header(p);
  EXPECT_EQ(info.value_blocks, 2u);
  EXPECT_TRUE(info.uses(Codec::kNone));
  EXPECT_TRUE(info.uses(Codec::kLz4));
  EXPECT_FALSE(info.uses(Codec::kZstd));
  EXPECT_EQ(info.codec_summary(), "lz4+none");
  auto d = read_column_file(p, kTracker);
  EXPECT_EQ(std::memcmp(d.values->data(), v.data(), v.size() * 8), 0);
  write_column_file(p, ColumnType::INT64, v.data(), nullptr, 0);
  EXPECT_EQ(read_column_header(p).codec_summary(), "none");
}

TEST(PersistFilesColumn, CapacityAndMemoryAreCharged) {
  TempDir dir;
  std::vector<double> v(1000, 1.5);
  write_column_file(dir / "p", ColumnType::DOUBLE, v.data(), nullptr, v.size());
  auto tracker = std::make_shared<MemoryTracker>();
  {
    auto d = read_column_file(dir / "p", tracker, 5000);
    EXPECT_GE(d.values->capacity(), 5000u * 8);
    EXPECT_GE(tracker->used(), 5000u * 8);
    EXPECT_EQ(reinterpret_cast<const double*>(d.values->data())[999], 1.5);
  }
  EXPECT_EQ(tracker->used(), 0u);
  auto small = std::make_shared<MemoryTracker>(1000);
  EXPECT_EQ(error_of([&] { read_column_file(dir / "p", small); }).first, ErrorCode::kOutOfMemory);
}

TEST(PersistFilesColumn, WrongExpectedTypeMagicAndVersionAreReported) {
  TempDir dir;
  std::vector<int32_t> v{1, 2, 3};
  std::string p = dir / "v.zcol";
  write_column_file(p, ColumnType::INT32, v.data(), nullptr, 3);
  auto [code, msg] = error_of([&] { read_column_file(p, kTracker, 0, ColumnType::INT64); });
  EXPECT_EQ(code, ErrorCode::kIOError);
  EXPECT_NE(msg.find(p), std::string::npos);
  EXPECT_NE(msg.find("INTEGER, expected BIGINT"), std::string::npos) << msg;

  std::string bytes = read_file(p);
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  write_file_atomic(dir / "m", bad_magic, false);
  EXPECT_NE(error_of([&] { read_column_header(dir / "m"); }).second.find("bad magic"), std::string::npos);
  std::string v2 = bytes;
  v2[4] = 2;
  write_file_atomic(dir / "w", v2, false);
  EXPECT_NE(error_of([&] { read_column_file(dir / "w", kTracker); }).second.find("version 2"), std::string::npos);
  EXPECT_EQ(error_of([&] { read_column_header(dir / "missing"); }).first, ErrorCode::kIOError);
}

// A file with two value blocks, one validity block, of the given policy.
std::string corruptible_file(const TempDir& dir, CompressionPolicy policy) {
  const size_t rows = 300'000;  // 1.2 MB of INT32
  std::vector<int32_t> v(rows);
  for (size_t i = 0; i < rows; ++i) v[i] = static_cast<int32_t>((i * 2654435761u) % 1000);
  auto valid = some_nulls(rows);
  std::string p = dir / "orig.zcol";
  write_column_file(p, ColumnType::INT32, v.data(), valid.data(), rows, policy);
  EXPECT_EQ(read_column_header(p).value_blocks, 2u);
  EXPECT_EQ(read_column_header(p).validity_blocks, 1u);
  return read_file(p);
}

// Offsets of the block headers in `file` (walking the stored sizes).
std::vector<size_t> block_offsets(const std::string& file) {
  std::vector<size_t> out;
  size_t off = 64;
  while (off + 32 <= file.size()) {
    out.push_back(off);
    uint32_t stored;
    std::memcpy(&stored, file.data() + off + 8, 4);
    off += 32 + stored;
  }
  return out;
}

void expect_rejected(const TempDir& dir, const std::string& bytes, const std::string& what) {
  std::string p = dir / "bad.zcol";
  write_file_atomic(p, bytes, false);
  auto [code, msg] = error_of([&] { read_column_file(p, kTracker, 0, ColumnType::INT32); });
  EXPECT_EQ(code, ErrorCode::kIOError) << what;
  EXPECT_NE(msg.find(p), std::string::npos) << what << ": " << msg;
}

TEST(PersistFilesCorruption, TruncationAnywhereIsDetected) {
  TempDir dir;
  for (auto policy : {CompressionPolicy::kNone, CompressionPolicy::kAuto, CompressionPolicy::kZstd}) {
    std::string file = corruptible_file(dir, policy);
    std::vector<size_t> cuts{0, 1, 4, 32, 63, 64, 65, file.size() - 1};
    for (size_t off : block_offsets(file))
      for (size_t d : {0, 1, 16, 31, 32, 33, 1000}) cuts.push_back(off + d);
    std::mt19937_64 rng(1);
    for (int i = 0; i < 40; ++i) cuts.push_back(rng() % file.size());
    for (size_t cut : cuts) {
      if (cut >= file.size()) continue;
      expect_rejected(dir, file.substr(0, cut), "cut at " + std::to_string(cut));
    }
    expect_rejected(dir, file + "x", "trailing byte");
    auto [code, msg] = error_of([&] {
      write_file_atomic(dir / "t", file.substr(0, file.size() - 10), false);
      read_column_file(dir / "t", kTracker);
    });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
}

TEST(PersistFilesCorruption, AFlippedByteAnywhereIsDetected) {
  TempDir dir;
  for (auto policy : {CompressionPolicy::kNone, CompressionPolicy::kAuto, CompressionPolicy::kZstd}) {
    std::string file = corruptible_file(dir, policy);
    std::vector<size_t> offsets = block_offsets(file);
    ASSERT_EQ(offsets.size(), 3u);  // two value blocks, one validity block
    std::vector<size_t> positions;
    for (size_t i = 0; i < 64; ++i) positions.push_back(i);  // the whole file header
    std::mt19937_64 rng(2);
    for (size_t b = 0; b < offsets.size(); ++b) {
      for (size_t i = 0; i < 32; ++i) positions.push_back(offsets[b] + i);  // every block header byte
      size_t payload = offsets[b] + 32;
      size_t end = b + 1 < offsets.size() ? offsets[b + 1] : file.size();
      positions.push_back(payload);
      positions.push_back(end - 1);
      for (int i = 0; i < 25; ++i) positions.push_back(payload + rng() % (end - payload));
    }
    for (size_t pos : positions) {
      for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
        std::string bad = file;
        bad[pos] = static_cast<char>(bad[pos] ^ mask);
        expect_rejected(dir, bad, "flip at " + std::to_string(pos));
      }
    }
  }
}

TEST(PersistFilesCorruption, MessagesNameTheBlock) {
  TempDir dir;
  std::string file = corruptible_file(dir, CompressionPolicy::kNone);
  std::vector<size_t> offsets = block_offsets(file);
  std::string p = dir / "price.zcol";
  std::string bad = file;
  bad[offsets[1] + 100] ^= 1;
  write_file_atomic(p, bad, false);
  EXPECT_EQ(error_of([&] { read_column_file(p, kTracker); }).second,
            p + ": checksum mismatch in block 1 (file is corrupt)");
  bad = file;
  bad[offsets[2] + 40] ^= 1;
  write_file_atomic(p, bad, false);
  EXPECT_EQ(error_of([&] { read_column_file(p, kTracker); }).second,
            p + ": checksum mismatch in validity block 0 (file is corrupt)");
  bad = file;
  bad[offsets[0] + 3] ^= 1;
  write_file_atomic(p, bad, false);
  EXPECT_EQ(error_of([&] { read_column_file(p, kTracker); }).second,
            p + ": checksum mismatch in the header of block 0 (file is corrupt)");
  bad = file;
  bad[20] ^= 1;
  write_file_atomic(p, bad, false);
  EXPECT_EQ(error_of([&] { read_column_header(p); }).second, p + ": header checksum mismatch (file is corrupt)");
}

TEST(PersistFilesCorruption, AReaderReportsACorruptBlockWhenItGetsThere) {
  TempDir dir;
  std::string file = corruptible_file(dir, CompressionPolicy::kNone);
  std::vector<size_t> offsets = block_offsets(file);
  std::string p = dir / "c.zcol";
  file[offsets[1] + 100] ^= 1;  // in value block 1
  write_file_atomic(p, file, false);
  ColumnFileReader reader(p);
  const size_t first_block = load_le<uint32_t>(file.data() + offsets[0]);
  std::vector<uint8_t> values(reader.info().rows * type_width(reader.info().type)), validity(reader.info().rows);
  reader.read(first_block, values.data(), validity.data());  // block 0 and its validity are intact
  EXPECT_EQ(error_of([&] { reader.read(1, values.data(), validity.data()); }).second,
            p + ": checksum mismatch in block 1 (file is corrupt)");
}

TEST(PersistFilesColumn, FailedWriteKeepsTheOldFile) {
  TempDir dir;
  std::string p = dir / "vol.zcol";
  std::vector<int64_t> old_values{1, 2, 3};
  write_column_file(p, ColumnType::INT64, old_values.data(), nullptr, 3);
  std::vector<int64_t> big(500'000);
  std::mt19937_64 rng(3);
  for (auto& x : big) x = static_cast<int64_t>(rng());
  std::pair<ErrorCode, std::string> err;
  {
    FileSizeLimit limit(1 << 20);
    err = error_of([&] { write_column_file(p, ColumnType::INT64, big.data(), nullptr, big.size()); });
  }
  EXPECT_EQ(err.first, ErrorCode::kIOError);
  EXPECT_NE(err.second.find(p), std::string::npos) << err.second;
  auto d = read_column_file(p, kTracker);
  ASSERT_EQ(d.rows, 3u);
  EXPECT_EQ(reinterpret_cast<const int64_t*>(d.values->data())[2], 3);
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"vol.zcol"});
  // A directory in the way: nothing is written, the directory stays.
  make_dirs(dir / "d.zcol");
  EXPECT_EQ(error_of([&] { write_column_file(dir / "d.zcol", ColumnType::INT64, big.data(), nullptr, 10); }).first,
            ErrorCode::kIOError);
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"d.zcol", "vol.zcol"}));
}

TEST(PersistFilesColumn, InPlaceWritesLeaveNoTemporaryAndNoPartialFile) {
  TempDir dir;
  std::vector<int64_t> big(500'000);
  std::mt19937_64 rng(4);
  for (auto& x : big) x = static_cast<int64_t>(rng());
  write_column_file(dir / "a.zcol", ColumnType::INT64, big.data(), nullptr, 1000, CompressionPolicy::kAuto,
                    /*sync=*/false, /*atomic=*/false);
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"a.zcol"});
  EXPECT_EQ(read_column_file(dir / "a.zcol", kTracker).rows, 1000u);
  std::pair<ErrorCode, std::string> err;
  {
    FileSizeLimit limit(1 << 20);
    err = error_of([&] {
      write_column_file(dir / "b.zcol", ColumnType::INT64, big.data(), nullptr, big.size(), CompressionPolicy::kNone,
                        false, false);
    });
  }
  EXPECT_EQ(err.first, ErrorCode::kIOError);
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"a.zcol"}) << "the partial file is removed";
}

}  // namespace
}  // namespace zepto::persist
