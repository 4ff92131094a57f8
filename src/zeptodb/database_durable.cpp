// Database: DDL, the write-ahead log, checkpoints and recovery (TIERED and
// PURE_ON_DISK).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <thread>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/database.h"
#include "zeptodb/persist/file_io.h"
#include "zeptodb/persist/records.h"

namespace zepto {

namespace {

constexpr int64_t kDayNs = 86'400'000'000'000;

// The day (days since the epoch, rounded down) of timestamp `ts`.
int64_t day_of(int64_t ts) { return ts >= 0 ? ts / kDayNs : -((-(ts + 1)) / kDayNs) - 1; }

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

}  // namespace

std::string RecoveryInfo::summary() const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", seconds);
  std::string s = "recovered " + with_commas(checkpoint_rows + log_rows) + " rows in " + secs + " s: " +
                  with_commas(checkpoint_rows) + " from " + with_commas(checkpoint_files) + " partition files";
  s += checkpoint_found ? " (checkpoint at log record " + std::to_string(checkpoint_lsn) + ")" : " (no checkpoint)";
  s += ", " + with_commas(log_rows) + " from " + with_commas(log_records) + " log records";
  if (torn_bytes) s += "; cut an incomplete last log record (" + with_commas(torn_bytes) + " bytes)";
  if (removed_files) s += "; removed " + with_commas(removed_files) + " files of an unfinished checkpoint";
  return s;
}

namespace {

// Batches of at least this many bytes are logged by a second thread while
// their rows are copied in.
constexpr size_t kOverlapBytes = size_t{4} << 20;

[[noreturn]] void closed_error() { throw_error(ErrorCode::kInvalidArgument, "the pipeline is closed"); }

}  // namespace

uint64_t Database::store_batch(Table& table, const void* const* columns, const uint8_t* const* validity,
                               size_t n) {
  if (closed()) closed_error();
  if (!wal_ || replaying_) {
    // append() notes the keys in the symbol dictionary before they are visible.
    partitions_.fetch_add(table.append(columns, validity, n, &symbols_), std::memory_order_relaxed);
    return 0;
  }
  persist::Encoder e;
  persist::encode_batch(e, table.name(), table.schema(), columns, validity, n);
  const auto parts = e.parts();
  std::lock_guard lock(commit_mu_);
  if (closed()) closed_error();
  log_symbols_locked();
  if (n * table.schema().row_width() < kOverlapBytes) {
    const uint64_t lsn = wal_->append(parts);
    try {
      partitions_.fetch_add(table.append(columns, validity, n, &symbols_), std::memory_order_relaxed);
    } catch (...) {
      wal_->undo(lsn);  // the rows were not stored: neither is their record
      throw;
    }
    return lsn;
  }
  // A big batch: the log record is written by another thread while the rows
  // are copied in; they are published only once the record is written.
  uint64_t lsn = 0;
  std::exception_ptr log_error;
  std::thread writer([&] {
    try {
      lsn = wal_->append(parts);
    } catch (...) {
      log_error = std::current_exception();
    }
  });
  auto wait_for_log = [&] {
    if (writer.joinable()) writer.join();
  };
  try {
    partitions_.fetch_add(table.append(columns, validity, n, &symbols_,
                                       [&] {
                                         wait_for_log();
                                         if (log_error) std::rethrow_exception(log_error);
                                       }),
                          std::memory_order_relaxed);
  } catch (...) {
    wait_for_log();
    if (!log_error) wal_->undo(lsn);
    throw;
  }
  return lsn;
}

void Database::log_symbols_locked() {
  if (symbols_.size() == logged_symbols_) return;
  auto entries = symbols_.entries(logged_symbols_);
  persist::Encoder e;
  e.u8(static_cast<uint8_t>(persist::RecordKind::kSymbols));
  e.u64(entries.size());
  for (const auto& [id, name] : entries) {
    e.i64(id);
    e.str(name);
  }
  wal_->append(e.parts());
  logged_symbols_ += entries.size();
}

std::shared_ptr<Table> Database::create_table(std::string_view name, Schema schema, bool if_not_exists) {
  if (closed()) closed_error();
  if (!wal_) return catalog_.create(name, std::move(schema), if_not_exists);
  std::lock_guard lock(commit_mu_);
  if (closed()) closed_error();
  if (catalog_.find(name)) return catalog_.create(name, std::move(schema), if_not_exists);
  persist::Encoder e;
  e.u8(static_cast<uint8_t>(persist::RecordKind::kCreateTable));
  e.str(name);
  e.schema(schema);
  const uint64_t lsn = wal_->append(e.parts());
  std::shared_ptr<Table> t;
  try {
    t = catalog_.create(name, std::move(schema), if_not_exists);
    store_->attach(*t, lsn);
  } catch (...) {
    catalog_.drop(name);
    wal_->undo(lsn);
    throw;
  }
  dir_ids_[to_lower(name)] = lsn;
  wal_->commit(lsn);
  return t;
}

bool Database::drop_table(std::string_view name) {
  if (closed()) closed_error();
  if (!wal_) {
    std::lock_guard lock(commit_mu_);
    retention_.erase(to_lower(name));
    return catalog_.drop(name);
  }
  std::lock_guard lock(commit_mu_);
  if (closed()) closed_error();
  if (!catalog_.find(name)) return false;
  persist::Encoder e;
  e.u8(static_cast<uint8_t>(persist::RecordKind::kDropTable));
  e.str(name);
  const uint64_t lsn = wal_->append(e.parts());
  catalog_.drop(name);
  dir_ids_.erase(to_lower(name));
  retention_.erase(to_lower(name));
  wal_->commit(lsn);
  return true;
}

persist::Retention Database::retention(std::string_view name) const {
  std::lock_guard lock(commit_mu_);
  auto it = retention_.find(to_lower(name));
  return it == retention_.end() ? persist::Retention{} : it->second;
}

void Database::set_ttl(std::string_view name, int64_t ttl_ns) {
  if (ttl_ns < 0) throw_error(ErrorCode::kInvalidArgument, "TTL must not be negative");
  set_retention(name, persist::RecordKind::kSetTtl, static_cast<uint64_t>(ttl_ns), "a TTL");
}

void Database::set_max_bytes(std::string_view name, uint64_t max_bytes) {
  set_retention(name, persist::RecordKind::kSetMaxBytes, max_bytes, "a size limit (which drops the oldest days)");
}

void Database::set_retention(std::string_view name, persist::RecordKind kind, uint64_t value, const char* what) {
  if (closed()) closed_error();
  auto table = catalog_.require(name);
  if (value > 0 && table->schema().timestamp_index() < 0)
    throw_error(ErrorCode::kInvalidArgument, "table '" + table->name() + "' has no timestamp column, so " +
                                                 std::string(what) + " cannot apply to it");
  table->row_count();  // a recovered table reads its files now, so the limits apply at once
  {
    std::lock_guard lock(commit_mu_);
    if (closed()) closed_error();
    if (wal_) {
      persist::Encoder e;
      e.u8(static_cast<uint8_t>(kind));
      e.str(table->name());
      e.u64(value);
      wal_->commit(wal_->append(e.parts()));
    }
    set_limit_locked(table->name(), kind, value);
  }
  // In memory nothing else checkpoints: a thread applies the limits from now on.
  if (value > 0) start_checkpoint_thread();
  // Applied at once; in durable modes the checkpoint makes the removal
  // permanent (the log holds the rows but not their removal).
  checkpoint();
}

void Database::set_limit_locked(const std::string& table, persist::RecordKind kind, uint64_t value) {
  const std::string key = to_lower(table);
  persist::Retention& r = retention_[key];
  if (kind == persist::RecordKind::kSetTtl)
    r.ttl_ns = static_cast<int64_t>(value);
  else
    r.max_bytes = value;
  if (r.none()) retention_.erase(key);
}

void Database::apply_retention_locked() {
  for (const auto& [key, r] : retention_) {
    auto table = catalog_.find(key);
    if (!table || !table->loaded()) continue;  // applied once it is used
    const int ts_col = table->schema().timestamp_index();
    // Rows per day, from each partition's sorted timestamps.
    std::map<int64_t, uint64_t> day_rows;
    int64_t newest = INT64_MIN;
    for (const Partition* p : table->partitions()) {
      auto snap = p->snapshot();
      if (snap.rows == 0) continue;
      const int64_t* ts = snap.data<int64_t>(static_cast<size_t>(ts_col));
      newest = std::max(newest, ts[snap.rows - 1]);
      if (r.max_bytes == 0) continue;
      for (size_t i = 0; i < snap.rows;) {
        const int64_t day = day_of(ts[i]);
        const size_t j = static_cast<size_t>(
            std::lower_bound(ts + i, ts + snap.rows, day < INT64_MAX / kDayNs ? (day + 1) * kDayNs : INT64_MAX) - ts);
        day_rows[day] += j - i;  // j > i: ts[i] is before the next day
        i = j;
      }
    }
    if (newest == INT64_MIN) continue;
    int64_t keep_from = INT64_MIN;  // the first day kept
    if (r.ttl_ns > 0 && newest >= INT64_MIN + r.ttl_ns) keep_from = day_of(newest - r.ttl_ns);
    if (r.max_bytes > 0) {
      const uint64_t width = table->schema().row_width();
      uint64_t bytes = 0;
      for (auto it = day_rows.rbegin(); it != day_rows.rend(); ++it) {  // newest day first: always kept
        bytes += it->second * width;
        if (bytes > r.max_bytes && it != day_rows.rbegin()) {
          keep_from = std::max(keep_from, it->first + 1);  // the days after this one
          break;
        }
      }
    }
    if (keep_from != INT64_MIN) table->drop_before(keep_from * kDayNs);
  }
}

persist::CheckpointResult Database::checkpoint() {
  if (closed()) return {};
  drain();
  std::lock_guard cp(checkpoint_mu_);
  persist::Capture cap;
  {
    std::lock_guard lock(commit_mu_);
    apply_retention_locked();
    if (!store_) return {};
    cap.lsn = wal_->last_lsn();
    for (const auto& name : catalog_.names()) {
      auto table = catalog_.find(name);
      const std::string key = to_lower(name);
      persist::TableCapture tc;
      tc.name = table->name();
      tc.dir_id = dir_ids_.at(key);
      tc.schema = table->schema();
      auto limits = retention_.find(key);
      if (limits != retention_.end()) tc.retention = limits->second;
      tc.loaded = table->loaded();
      if (tc.loaded) tc.parts = table->checkpoint_parts();
      cap.tables.push_back(std::move(tc));
    }
    cap.symbols = symbols_.entries(0);
    cap.max_symbol_id = symbols_.max_id();
  }
  auto res = store_->write(cap);
  wal_->truncate_through(cap.lsn);
  wal_at_checkpoint_.store(wal_->stats().bytes, std::memory_order_relaxed);
  checkpoints_.fetch_add(1, std::memory_order_relaxed);
  return res;
}

void Database::checkpoint_loop() {
  const auto poll = std::chrono::milliseconds(std::min<uint32_t>(config_.checkpoint_interval_ms, 200));
  auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.checkpoint_interval_ms);
  std::unique_lock lock(checkpoint_wait_mu_);
  while (!checkpoint_stop_) {
    checkpoint_cv_.wait_for(lock, poll);
    if (checkpoint_stop_) break;
    const bool due = std::chrono::steady_clock::now() >= next ||
                     (wal_ && wal_->stats().bytes - wal_at_checkpoint_.load(std::memory_order_relaxed) >=
                                  config_.checkpoint_wal_bytes);
    if (!due) continue;
    lock.unlock();
    try {
      checkpoint();
    } catch (const std::exception& e) {
      std::lock_guard elock(error_mu_);
      last_error_ = std::string("checkpoint failed: ") + e.what();
    }
    lock.lock();
    next = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.checkpoint_interval_ms);
  }
}

void Database::open_durable() {
  const auto t0 = std::chrono::steady_clock::now();
  if (config_.data_dir.empty())
    throw_error(ErrorCode::kInvalidArgument, std::string("storage mode ") + storage_mode_name(config_.storage_mode) +
                                                 " needs a data_dir (the directory that holds the data)");
  persist::make_dirs(config_.data_dir);
  const std::string lock_path = config_.data_dir + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw_error(ErrorCode::kIOError, lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw_error(ErrorCode::kIOError,
                "data_dir '" + config_.data_dir + "' is in use by another database (process); one at a time");
  }
  try {
    store_ = std::make_unique<persist::Store>(config_.data_dir, config_.compression,
                                              config_.fsync != persist::FsyncPolicy::kNone,
                                              config_.storage_mode == StorageMode::PURE_ON_DISK);
    persist::LoadResult loaded = store_->load(catalog_, symbols_);
    recovery_.checkpoint_found = loaded.found;
    recovery_.checkpoint_lsn = loaded.lsn;
    recovery_.checkpoint_rows = loaded.rows;
    recovery_.checkpoint_files = loaded.files;
    recovery_.removed_files = loaded.removed;
    if (!loaded.found) {
      store_->attach(*catalog_.create(kTrades, trades_schema()), 0);
      dir_ids_[to_lower(kTrades)] = 0;
    }
    for (const auto& t : loaded.tables) {
      dir_ids_[to_lower(t.name)] = t.dir_id;
      if (!t.retention.none()) retention_[to_lower(t.name)] = t.retention;
    }
    persist::WalOptions wo;
    wo.dir = config_.data_dir + "/wal";
    wo.fsync = config_.fsync;
    wo.batch_interval_ms = config_.fsync_interval_ms;
    wal_ = std::make_unique<persist::Wal>(wo);
    replaying_ = true;
    auto rr = wal_->replay(loaded.lsn, [this](uint64_t lsn, std::string_view payload) { replay(lsn, payload); });
    replaying_ = false;
    recovery_.log_records = rr.records;
    recovery_.torn_bytes = rr.torn_bytes;
    logged_symbols_ = symbols_.size();
  } catch (...) {
    wal_.reset();
    store_.reset();
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
  recovery_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  start_checkpoint_thread();
}

void Database::start_checkpoint_thread() {
  if (config_.checkpoint_interval_ms == 0) return;
  std::lock_guard lock(checkpoint_wait_mu_);
  if (checkpoint_stop_ || checkpoint_thread_.joinable()) return;  // closing, or running already
  checkpoint_thread_ = std::thread([this] { checkpoint_loop(); });
}

void Database::replay(uint64_t lsn, std::string_view payload) {
  const std::string what = config_.data_dir + "/wal: record " + std::to_string(lsn);
  persist::Decoder d(payload, what);
  const auto kind = static_cast<persist::RecordKind>(d.u8());
  switch (kind) {
    case persist::RecordKind::kBatch: {
      persist::BatchRecord b = persist::decode_batch(d);
      auto table = catalog_.find(b.table);
      if (!table) d.fail("rows for table '" + b.table + "', which does not exist");
      const Schema& schema = table->schema();
      if (b.columns.size() != schema.size()) d.fail("rows do not match the columns of table '" + b.table + "'");
      // Copies: the payload's bytes are not aligned for the column types.
      std::vector<std::vector<uint64_t>> values(schema.size());
      std::vector<std::vector<uint8_t>> valid(schema.size());
      std::vector<const void*> ptrs(schema.size());
      std::vector<const uint8_t*> vptrs(schema.size(), nullptr);
      for (size_t c = 0; c < schema.size(); ++c) {
        const auto& col = b.columns[c];
        if (col.type != schema.column(c).type || !iequals(col.name, schema.column(c).name))
          d.fail("column '" + col.name + "' does not match table '" + b.table + "'");
        values[c].resize(col.values.size() / 8 + 1);
        std::memcpy(values[c].data(), col.values.data(), col.values.size());
        ptrs[c] = values[c].data();
        if (!col.validity.empty()) {
          valid[c].assign(col.validity.begin(), col.validity.end());
          vptrs[c] = valid[c].data();
        }
      }
      if (b.rows > 0) store_batch(*table, ptrs.data(), vptrs.data(), b.rows);
      stored_.fetch_add(b.rows, std::memory_order_relaxed);
      recovery_.log_rows += b.rows;
      break;
    }
    case persist::RecordKind::kCreateTable: {
      std::string name = d.str();
      store_->attach(*catalog_.create(name, d.schema()), lsn);
      dir_ids_[to_lower(name)] = lsn;
      break;
    }
    case persist::RecordKind::kDropTable: {
      std::string name = d.str();
      catalog_.drop(name);
      dir_ids_.erase(to_lower(name));
      retention_.erase(to_lower(name));
      break;
    }
    case persist::RecordKind::kSetTtl:
    case persist::RecordKind::kSetMaxBytes: {
      std::string name = d.str();
      set_limit_locked(name, kind, d.u64());
      break;
    }
    case persist::RecordKind::kSymbols: {
      uint64_t n = d.u64();
      for (uint64_t i = 0; i < n; ++i) {
        int64_t id = d.i64();
        symbols_.restore(id, d.bytes());
      }
      break;
    }
    default:
      d.fail("unknown record kind " + std::to_string(static_cast<int>(kind)));
  }
}

}  // namespace zepto
