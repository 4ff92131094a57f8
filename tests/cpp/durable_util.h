// Helpers for the tests of the durable storage modes (TIERED, PURE_ON_DISK).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.h"
#include "zeptodb/common/error.h"
#include "zeptodb/database.h"

namespace zepto::test_util {

constexpr int64_t kDay = 86'400'000'000'000;

inline DatabaseConfig durable_config(StorageMode mode, const std::string& dir, uint32_t checkpoint_ms = 0) {
  DatabaseConfig c;
  c.storage_mode = mode;
  c.data_dir = dir;
  c.fsync = persist::FsyncPolicy::kNone;  // the tests copy directories: no power loss to survive
  c.checkpoint_interval_ms = checkpoint_ms;
  return c;
}

// Copies a live data directory: the files as a process crash would leave them.
inline std::string crash_image(const TempDir& from, const TempDir& to) {
  namespace fs = std::filesystem;
  fs::remove_all(to.path());
  fs::copy(from.path(), to.path(), fs::copy_options::recursive);
  fs::remove(to / "LOCK");
  return to.path();
}

// n trades over `nsym` symbols (ids 1..nsym), timestamps first_ts + i * step.
inline void ingest(Database& db, int64_t first_ts, size_t n, int64_t step, uint64_t seed, size_t nsym = 5) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> s(n), t(n), p(n), v(n);
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<int64_t>(rng() % nsym) + 1;
    t[i] = first_ts + static_cast<int64_t>(i) * step;
    p[i] = static_cast<int64_t>(rng() % 10'000);
    v[i] = static_cast<int64_t>(rng() % 100);
  }
  db.ingest_columns("trades", {{"symbol", ColumnType::INT64, s.data()},
                               {"timestamp", ColumnType::INT64, t.data()},
                               {"price", ColumnType::INT64, p.data()},
                               {"volume", ColumnType::INT64, v.data()}},
                    n);
}

// Every partition's rows, byte for byte (cheaper than dump() for big tables).
inline std::map<int64_t, std::pair<size_t, uint64_t>> fingerprint(Database& db, const std::string& table) {
  std::map<int64_t, std::pair<size_t, uint64_t>> out;
  auto t = db.catalog().require(table);
  for (const Partition* p : t->partitions()) {
    auto snap = p->snapshot();
    uint64_t h = 1469598103934665603ull;
    for (size_t c = 0; c < snap.columns.size(); ++c) {
      const size_t bytes = snap.rows * type_width(t->schema().column(c).type);
      const auto* d = snap.columns[c] ? reinterpret_cast<const uint8_t*>(snap.columns[c]->data()) : nullptr;
      for (size_t i = 0; i < bytes; ++i) h = (h ^ d[i]) * 1099511628211ull;
      if (const uint8_t* v = snap.valid(c))
        for (size_t i = 0; i < snap.rows; ++i) h = (h ^ v[i]) * 1099511628211ull;
    }
    out[p->key()] = {snap.rows, h};
  }
  return out;
}

inline std::string dump(Database& db, const std::string& table) {
  return db.execute("SELECT * FROM " + table + " ORDER BY 1, 2").to_string(1'000'000);
}

// Flips some bits of the byte at `offset` of the file `path` (a corruption a checksum must catch).
inline void flip_byte(const std::filesystem::path& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  f.seekp(static_cast<std::streamoff>(offset));
  c = static_cast<char>(c ^ 0x5a);
  f.write(&c, 1);
}

// Expects a query of `table` to fail with an I/O error naming `file` (and `what`), twice: a table that
// could not be loaded stays unreadable, it never answers from part of its data.
inline void expect_unreadable(Database& db, const std::string& table, const std::string& file,
                              const std::string& what = "") {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      db.count(table, 1, INT64_MIN, INT64_MAX);
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIOError);
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
}

}  // namespace zepto::test_util
