#include "zeptodb/database.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "zeptodb/common/error.h"

namespace zepto {

Schema Database::trades_schema() {
  return Schema({{"symbol", ColumnType::INT64},
                 {"timestamp", ColumnType::INT64},
                 {"price", ColumnType::INT64},
                 {"volume", ColumnType::INT64}},
                "symbol", "timestamp");
}

namespace {

size_t initial_rows(const DatabaseConfig& c) {
  // arena_size is a per-partition reservation hint for the 4 trades columns.
  return std::clamp<size_t>(c.arena_size / 32 / 1024, 16, 1 << 16);
}

bool same_physical(ColumnType a, ColumnType b) {
  auto cls = [](ColumnType t) {
    switch (t) {
      case ColumnType::INT64:
      case ColumnType::TIMESTAMP:
      case ColumnType::SYMBOL: return 0;
      case ColumnType::INT32: return 1;
      case ColumnType::DOUBLE: return 2;
      case ColumnType::BOOL: return 3;
    }
    return -1;
  };
  return cls(a) == cls(b);
}

// [begin, end) of the rows of `s` whose timestamp is in [from, to].
std::pair<size_t, size_t> time_range(const PartitionSnapshot& s, int ts_col, int64_t from,
                                     int64_t to) {
  if (ts_col < 0 || s.rows == 0) return {0, s.rows};
  if (from > to) return {0, 0};
  const int64_t* ts = s.data<int64_t>(static_cast<size_t>(ts_col));
  size_t b = static_cast<size_t>(std::lower_bound(ts, ts + s.rows, from) - ts);
  size_t e = static_cast<size_t>(std::upper_bound(ts + b, ts + s.rows, to) - ts);
  return {b, e};
}

}  // namespace

const char* storage_mode_name(StorageMode m) {
  switch (m) {
    case StorageMode::PURE_IN_MEMORY: return "PURE_IN_MEMORY";
    case StorageMode::TIERED: return "TIERED";
    case StorageMode::PURE_ON_DISK: return "PURE_ON_DISK";
  }
  return "?";
}

Database::Database(DatabaseConfig config)
    : config_(std::move(config)),
      tracker_(std::make_shared<MemoryTracker>(config_.max_memory)),
      catalog_(tracker_, initial_rows(config_)),
      queue_(config_.queue_capacity == 0 ? 1 : config_.queue_capacity) {
  if (config_.drain_batch_size == 0)
    throw_error(ErrorCode::kInvalidArgument, "drain_batch_size must be at least 1");
  if (config_.queue_capacity == 0)
    throw_error(ErrorCode::kInvalidArgument, "queue_capacity must be at least 1");
  drain_buf_.resize(config_.drain_batch_size);
  drain_cols_.resize(config_.drain_batch_size * 4);
  if (config_.storage_mode != StorageMode::PURE_IN_MEMORY) {
    open_durable();
  } else {
    catalog_.create(kTrades, trades_schema());
  }
}

Database::~Database() { close(); }

void Database::close() {
  if (closed_.load(std::memory_order_acquire)) return;
  stop();
  {
    // Set even without a thread, so that none starts from now on (see start_checkpoint_thread()).
    std::lock_guard lock(checkpoint_wait_mu_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  if (store_) {
    // A clean shutdown leaves everything in partition files: the next start
    // has no log to replay. A failure here loses nothing (the log stays).
    try {
      checkpoint();
    } catch (const std::exception& e) {
      std::lock_guard lock(error_mu_);
      last_error_ = std::string("final checkpoint failed: ") + e.what();
    }
  }
  {
    std::lock_guard cp(checkpoint_mu_);
    std::lock_guard lock(commit_mu_);
    closed_.store(true, std::memory_order_release);
    wal_.reset();
    store_.reset();
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

void Database::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (running_.load()) return;
  stop_requested_.store(false);
  running_.store(true, std::memory_order_release);
  drain_thread_ = std::thread([this] { drain_loop(); });
}

void Database::stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (running_.load()) {
    stop_requested_.store(true, std::memory_order_release);
    drain_thread_.join();
    running_.store(false, std::memory_order_release);
  }
  drain();
}

void Database::drain_loop() {
  unsigned idle = 0;
  while (!stop_requested_.load(std::memory_order_acquire)) {
    size_t n;
    {
      std::lock_guard lock(consume_mu_);
      n = drain_step();
    }
    if (n == drain_buf_.size()) {  // a full step: more is waiting
      idle = 0;
    } else if (n > 0) {
      // The producers are slower than this thread. Let some ticks gather
      // before the next step rather than take them one by one as they
      // arrive, which bounces the queue's cache lines between the cores and
      // slows the producers down.
      idle = 0;
      for (int i = 0; i < 64; ++i) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
    } else if (++idle < 64) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else if (idle < 128) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

size_t Database::drain_step() {
  size_t n = queue_.pop_batch(drain_buf_.data(), drain_buf_.size());
  if (n > 0) store_ticks(drain_buf_.data(), n);
  return n;
}

void Database::store_ticks(const Tick* ticks, size_t n) {
  // Transpose to columns in trades order: symbol, timestamp, price, volume.
  int64_t* sym = drain_cols_.data();
  int64_t* ts = sym + n;
  int64_t* px = ts + n;
  int64_t* vol = px + n;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < n; ++i) {
    sym[i] = ticks[i].symbol;
    ts[i] = ticks[i].timestamp;
    px[i] = ticks[i].price;
    vol[i] = ticks[i].volume;
    lo = std::min(lo, sym[i]);
    hi = std::max(hi, sym[i]);
  }
  symbols_.note_ids(lo, hi);
  const void* cols[4] = {sym, ts, px, vol};
  auto t0 = std::chrono::steady_clock::now();
  try {
    auto table = catalog_.require(kTrades);
    store_batch(*table, cols, nullptr, n);
    stored_.fetch_add(n, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    dropped_.fetch_add(n, std::memory_order_relaxed);
    std::lock_guard lock(error_mu_);
    last_error_ = e.what();
  }
  last_latency_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count(),
                      std::memory_order_relaxed);
}

bool Database::ingest(int64_t symbol, int64_t price, int64_t volume,
                      std::optional<int64_t> timestamp) {
  if (closed()) throw_error(ErrorCode::kInvalidArgument, "the pipeline is closed");
  // Large ids are recorded before the tick is accepted, so that a name
  // created before the next drain cannot be given the same id.
  if (symbol >= SymbolDictionary::kNameIdBase) symbols_.note_ids(symbol, symbol);
  Tick t{symbol, price, volume, timestamp ? *timestamp : now_ns()};
  if (queue_.try_push(t)) return true;
  // Full. Without a drain thread, drain from this thread. With one, wait
  // for it instead of taking its work: producer and drain thread taking turns
  // would leave a core idle. Give up only when nothing at all is drained for
  // kStallLimit, i.e. the drainer is stuck, not merely slower than producers.
  constexpr auto kStallLimit = std::chrono::milliseconds(100);
  uint64_t seen = queue_.popped();
  auto deadline = std::chrono::steady_clock::now() + kStallLimit;
  for (unsigned spins = 0;; ++spins) {
    if (!running() && consume_mu_.try_lock()) {
      drain_step();
      consume_mu_.unlock();
    } else if (spins < 64) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
    if (queue_.try_push(t)) return true;
    const auto now = std::chrono::steady_clock::now();
    if (const uint64_t popped = queue_.popped(); popped != seen) {
      seen = popped;
      deadline = now + kStallLimit;
    } else if (now > deadline) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
}

void Database::drain() {
  const uint64_t target = queue_.pushed();
  while (queue_.popped() < target) {
    size_t n;
    {
      std::lock_guard lock(consume_mu_);
      n = drain_step();
    }
    if (n == 0) std::this_thread::yield();  // a producer is still filling its slot
  }
  // The drain thread may have popped our last ticks and still be storing
  // them: its step holds consume_mu_ from pop to store, so wait for it.
  std::lock_guard lock(consume_mu_);
  // The ticks are acknowledged now: make them durable per the fsync policy.
  if (wal_) wal_->commit(wal_->last_lsn());
}

size_t Database::ingest_columns(std::string_view table_name, const std::vector<ColumnInput>& columns,
                                size_t n) {
  auto table = catalog_.require(table_name);
  const Schema& schema = table->schema();
  std::vector<const void*> ptrs(schema.size(), nullptr);
  std::vector<const uint8_t*> valid(schema.size(), nullptr);
  for (const auto& in : columns) {
    size_t idx = schema.require(in.name, table->name());
    const ColumnDef& def = schema.column(idx);
    if (ptrs[idx] != nullptr)
      throw_error(ErrorCode::kInvalidArgument, "column '" + def.name + "' given twice");
    if (!same_physical(in.type, def.type))
      throw_error(ErrorCode::kTypeMismatch, "column '" + def.name + "' of table '" + table->name() +
                                                "' is " + std::string(type_name(def.type)) +
                                                ", got " + std::string(type_name(in.type)) + " values");
    if (n > 0 && in.data == nullptr)
      throw_error(ErrorCode::kInvalidArgument, "column '" + def.name + "' has no data");
    ptrs[idx] = in.data == nullptr ? &n : in.data;  // any non-null pointer for n == 0
    if (in.valid != nullptr && std::find(in.valid, in.valid + n, 0) != in.valid + n)
      valid[idx] = in.valid;
  }
  // Columns not given: the timestamp defaults to the ingest time, the
  // partition key is required, every other column is NULL.
  std::vector<int64_t> now_ts;
  std::vector<std::unique_ptr<uint8_t[]>> filler;
  for (size_t i = 0; i < schema.size(); ++i) {
    if (ptrs[i] != nullptr) continue;
    const ColumnDef& def = schema.column(i);
    if (static_cast<int>(i) == schema.timestamp_index()) {
      now_ts.assign(n, now_ns());
      ptrs[i] = now_ts.data();
    } else if (static_cast<int>(i) == schema.symbol_index()) {
      throw_error(ErrorCode::kInvalidArgument, "missing column '" + def.name + "' for table '" +
                                                   table->name() + "' (it is the partition key)");
    } else {
      filler.emplace_back(new uint8_t[n * type_width(def.type) + 1]());
      ptrs[i] = filler.back().get();
      filler.emplace_back(new uint8_t[n + 1]());
      valid[i] = filler.back().get();
    }
  }
  for (int key : {schema.symbol_index(), schema.timestamp_index()}) {
    if (key < 0 || valid[key] == nullptr) continue;
    size_t r = static_cast<size_t>(std::find(valid[key], valid[key] + n, 0) - valid[key]);
    throw_error(ErrorCode::kInvalidArgument, "column '" + schema.column(key).name + "' row " +
                                                 std::to_string(r) + " is NULL; " +
                                                 (key == schema.symbol_index() ? "the partition key" : "the timestamp") +
                                                 " cannot be NULL");
  }
  for (size_t i = 0; i < schema.size(); ++i) {
    const ColumnDef& def = schema.column(i);
    const uint8_t* ok = valid[i];
    if (def.type == ColumnType::DOUBLE) {
      const double* v = static_cast<const double*>(ptrs[i]);
      for (size_t r = 0; r < n; ++r)
        if (!std::isfinite(v[r]) && (ok == nullptr || ok[r]))
          throw_error(ErrorCode::kInvalidArgument,
                      "column '" + def.name + "' row " + std::to_string(r) + " is " +
                          (std::isnan(v[r]) ? "NaN" : "infinite") + "; NaN/infinite values are not accepted");
    } else if (def.type == ColumnType::BOOL) {
      const uint8_t* v = static_cast<const uint8_t*>(ptrs[i]);
      for (size_t r = 0; r < n; ++r)
        if (v[r] > 1 && (ok == nullptr || ok[r]))
          throw_error(ErrorCode::kInvalidArgument,
                      "column '" + def.name + "' row " + std::to_string(r) + " is not a boolean");
    }
  }
  if (n == 0) return 0;
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t lsn = store_batch(*table, ptrs.data(), valid.data(), n);
  if (lsn != 0) wal_->commit(lsn);
  batch_rows_.fetch_add(n, std::memory_order_relaxed);
  stored_.fetch_add(n, std::memory_order_relaxed);
  last_latency_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count(),
                      std::memory_order_relaxed);
  return n;
}

size_t Database::ingest_arrow(std::string_view table_name, ArrowArrayStream* stream,
                              const formats::ArrowImportOptions& options) {
  std::shared_ptr<Table> table;
  try {
    table = catalog_.require(table_name);
  } catch (...) {
    if (stream->release != nullptr) stream->release(stream);
    throw;
  }
  auto batch = formats::import_arrow_stream(stream, table->schema(), table->name(), symbols_, options);
  std::vector<ColumnInput> inputs;
  inputs.reserve(batch.columns.size());
  for (const auto& c : batch.columns) inputs.push_back({c.name, c.type, c.data, c.valid});
  return ingest_columns(table_name, inputs, batch.rows);
}

size_t Database::ingest_arrow(std::string_view table_name, ArrowSchema* schema, ArrowArray* array,
                              const formats::ArrowImportOptions& options) {
  ArrowArrayStream stream;
  formats::single_batch_stream(schema, array, &stream);
  return ingest_arrow(table_name, &stream, options);
}

std::shared_ptr<const formats::TableExport> Database::export_arrow(
    std::string_view table_name, const std::optional<std::vector<int64_t>>& symbols,
    const formats::TableExportOptions& options) {
  auto table = catalog_.require(table_name);
  return std::make_shared<const formats::TableExport>(table, symbols_, symbols, options);
}

size_t Database::count(std::string_view table_name, int64_t symbol, int64_t from_ns, int64_t to_ns) {
  auto table = catalog_.require(table_name);
  const Partition* p = table->find_partition(symbol);
  size_t rows = 0;
  if (p) {
    auto snap = p->snapshot();
    auto [b, e] = time_range(snap, table->schema().timestamp_index(), from_ns, to_ns);
    rows = e - b;
  }
  note_query(rows);
  return rows;
}

Number Database::sum(std::string_view table_name, int64_t symbol, std::string_view column,
                     int64_t from_ns, int64_t to_ns) {
  auto table = catalog_.require(table_name);
  const Schema& schema = table->schema();
  size_t col = schema.require(column, table->name());
  ColumnType type = schema.column(col).type;
  const Partition* p = table->find_partition(symbol);
  PartitionSnapshot snap;
  size_t b = 0, e = 0;
  if (p) {
    snap = p->snapshot();
    std::tie(b, e) = time_range(snap, schema.timestamp_index(), from_ns, to_ns);
  }
  note_query(e - b);
  if (type == ColumnType::DOUBLE) {
    double acc = 0;
    if (e > b) {
      const double* v = snap.data<double>(col);
      for (size_t i = b; i < e; ++i) acc += v[i];
    }
    return acc;
  }
  __int128 acc = 0;
  if (e > b) {
    if (type == ColumnType::INT32) {
      const int32_t* v = snap.data<int32_t>(col);
      for (size_t i = b; i < e; ++i) acc += v[i];
    } else if (type == ColumnType::BOOL) {
      const uint8_t* v = snap.data<uint8_t>(col);
      for (size_t i = b; i < e; ++i) acc += v[i];
    } else {
      const int64_t* v = snap.data<int64_t>(col);
      for (size_t i = b; i < e; ++i) acc += v[i];
    }
  }
  if (acc > INT64_MAX || acc < INT64_MIN)
    throw_error(ErrorCode::kInvalidArgument,
                "sum of column '" + std::string(column) + "' overflows a 64-bit integer");
  return static_cast<int64_t>(acc);
}

double Database::vwap(std::string_view table_name, int64_t symbol, int64_t from_ns, int64_t to_ns) {
  auto table = catalog_.require(table_name);
  const Schema& schema = table->schema();
  size_t pc = schema.require("price", table->name());
  size_t vc = schema.require("volume", table->name());
  const Partition* p = table->find_partition(symbol);
  if (!p) {
    note_query(0);
    return std::nan("");
  }
  auto snap = p->snapshot();
  auto [b, e] = time_range(snap, schema.timestamp_index(), from_ns, to_ns);
  note_query(e - b);
  auto value = [&](size_t c, size_t i) -> double {
    switch (schema.column(c).type) {
      case ColumnType::DOUBLE: return snap.data<double>(c)[i];
      case ColumnType::INT32: return snap.data<int32_t>(c)[i];
      case ColumnType::BOOL: return snap.data<uint8_t>(c)[i];
      default: return static_cast<double>(snap.data<int64_t>(c)[i]);
    }
  };
  bool ints = schema.column(pc).type == ColumnType::INT64 && schema.column(vc).type == ColumnType::INT64;
  if (ints) {
    const int64_t* px = snap.data<int64_t>(pc);
    const int64_t* vol = snap.data<int64_t>(vc);
    __int128 pv = 0, v = 0;
    for (size_t i = b; i < e; ++i) {
      pv += static_cast<__int128>(px[i]) * vol[i];
      v += vol[i];
    }
    if (v == 0) return std::nan("");
    return static_cast<double>(static_cast<long double>(pv) / static_cast<long double>(v));
  }
  double pv = 0, v = 0;
  for (size_t i = b; i < e; ++i) {
    double vi = value(vc, i);
    pv += value(pc, i) * vi;
    v += vi;
  }
  return v == 0 ? std::nan("") : pv / v;
}

ColumnRef Database::column(std::string_view table_name, int64_t symbol, std::string_view column) {
  auto table = catalog_.require(table_name);
  size_t col = table->schema().require(column, table->name());
  ColumnRef ref;
  ref.type = table->schema().column(col).type;
  if (const Partition* p = table->find_partition(symbol)) std::tie(ref.block, ref.rows) = p->column(col);
  return ref;
}

void Database::note_query(uint64_t rows_scanned) {
  queries_.fetch_add(1, std::memory_order_relaxed);
  rows_scanned_.fetch_add(rows_scanned, std::memory_order_relaxed);
}

DatabaseStats Database::stats() const {
  DatabaseStats s;
  s.ticks_ingested = queue_.pushed() + batch_rows_.load(std::memory_order_relaxed);
  s.ticks_stored = stored_.load(std::memory_order_relaxed);
  s.ticks_dropped = dropped_.load(std::memory_order_relaxed);
  s.queries_executed = queries_.load(std::memory_order_relaxed);
  s.total_rows_scanned = rows_scanned_.load(std::memory_order_relaxed);
  s.partitions_created = partitions_.load(std::memory_order_relaxed);
  s.last_ingest_latency_ns = last_latency_.load(std::memory_order_relaxed);
  s.memory_bytes = tracker_->used();
  s.checkpoints = checkpoints_.load(std::memory_order_relaxed);
  if (wal_) s.wal_bytes = wal_->stats().bytes;
  std::lock_guard lock(error_mu_);
  s.last_error = last_error_;
  return s;
}

}  // namespace zepto
