// The one façade every front end uses: tables, ingest (single ticks through
// the queue, batches directly), direct queries and column access.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "zeptodb/common/types.h"
#include "zeptodb/exec/options.h"
#include "zeptodb/exec/result_set.h"
#include "zeptodb/formats/arrow_import.h"
#include "zeptodb/formats/arrow_table.h"
#include "zeptodb/ingest/tick_queue.h"
#include "zeptodb/persist/column_file.h"
#include "zeptodb/persist/records.h"
#include "zeptodb/persist/store.h"
#include "zeptodb/persist/wal.h"
#include "zeptodb/storage/catalog.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto {

enum class StorageMode { PURE_IN_MEMORY, TIERED, PURE_ON_DISK };

// "PURE_IN_MEMORY", "TIERED", "PURE_ON_DISK".
const char* storage_mode_name(StorageMode m);

struct DatabaseConfig {
  // Bytes of column storage reserved for a new partition up front (split
  // across its columns, at least 16 rows); buffers then grow as needed.
  // This is a sizing hint, never a cap.
  size_t arena_size = 32 * 1024 * 1024;
  size_t drain_batch_size = 256;  // ticks the drain thread stores per step
  size_t queue_capacity = 1 << 16;  // single-tick ring size (power of two)
  size_t max_memory = 0;  // limit on column storage in bytes; 0 = none
  StorageMode storage_mode = StorageMode::PURE_IN_MEMORY;
  std::string data_dir;  // required by TIERED and PURE_ON_DISK
  // TIERED, PURE_ON_DISK: when a write is durable (see docs/storage.md): kAlways (on disk
  // when acknowledged), kBatch (group commit every fsync_interval_ms), kNone.
  persist::FsyncPolicy fsync = persist::FsyncPolicy::kBatch;
  uint32_t fsync_interval_ms = 10;
  // TIERED, PURE_ON_DISK: a background checkpoint writes partition files every
  // checkpoint_interval_ms (0: only on CHECKPOINT / flush()) or when the log
  // has grown by checkpoint_wal_bytes. PURE_IN_MEMORY: once a table has a TTL
  // or size limit, the same thread applies them that often.
  uint32_t checkpoint_interval_ms = 10'000;
  size_t checkpoint_wal_bytes = size_t{256} << 20;
  persist::CompressionPolicy compression = persist::CompressionPolicy::kAuto;
};

// What opening a TIERED or PURE_ON_DISK data directory found.
struct RecoveryInfo {
  bool checkpoint_found = false;
  uint64_t checkpoint_lsn = 0;  // the last log record the checkpoint holds
  uint64_t checkpoint_rows = 0;
  uint64_t checkpoint_files = 0;
  uint64_t log_records = 0;  // replayed from the write-ahead log
  uint64_t log_rows = 0;
  uint64_t torn_bytes = 0;  // an incomplete last log record, cut off
  uint64_t removed_files = 0;  // left over from an unfinished checkpoint
  double seconds = 0;
  std::string summary() const;  // one line for logs
};

struct DatabaseStats {
  uint64_t ticks_ingested = 0;  // accepted (queue + batches)
  uint64_t ticks_stored = 0;    // visible to readers
  uint64_t ticks_dropped = 0;   // rejected by a full queue, or lost by a failed drain
  uint64_t queries_executed = 0;
  uint64_t total_rows_scanned = 0;
  uint64_t partitions_created = 0;
  uint64_t checkpoints = 0;        // completed (TIERED)
  uint64_t wal_bytes = 0;          // size of the write-ahead log
  int64_t last_ingest_latency_ns = 0;  // duration of the most recent store step
  size_t memory_bytes = 0;             // column storage held
  std::string last_error;              // last error of the drain thread, if any
};

// One column in a batch: the name of a table column and its values, already
// in that column's physical type (see types.h).
struct ColumnInput {
  std::string name;
  ColumnType type;
  const void* data;
  const uint8_t* valid = nullptr;  // one byte per row, 0 = NULL; nullptr = no NULLs
};

// A column's values as stored: the block (keeps the memory alive), the row
// count and the type.
struct ColumnRef {
  BlockPtr block;
  size_t rows = 0;
  ColumnType type = ColumnType::INT64;
};

using Number = std::variant<int64_t, double>;

class Database {
 public:
  static constexpr std::string_view kTrades = "trades";

  // TIERED and PURE_ON_DISK open (and recover) config.data_dir; a problem
  // there throws Error(kIOError), a missing data_dir Error(kInvalidArgument).
  explicit Database(DatabaseConfig config = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const DatabaseConfig& config() const { return config_; }
  Catalog& catalog() { return catalog_; }
  SymbolDictionary& symbols() { return symbols_; }

  // --- single ticks (table `trades`) ---
  void start();  // starts the drain thread (no-op if running)
  void stop();   // stops it and stores everything accepted
  bool running() const { return running_.load(std::memory_order_acquire); }
  // Queues a tick. If the queue is full, waits for the drain thread
  // (back-pressure), or drains it from this thread when none is running;
  // returns false (tick not taken, counted as dropped) only if nothing is
  // drained for 100 ms.
  bool ingest(int64_t symbol, int64_t price, int64_t volume,
              std::optional<int64_t> timestamp = std::nullopt);
  // Returns once every tick accepted before the call is stored.
  void drain();

  // --- batches: validated whole, then stored whole ---
  // Each `data` holds `n` values of the column's physical type, `valid` marks
  // NULLs. Columns not given are NULL, except the timestamp (default: the
  // ingest time) and the partition key (required). Throws Error on unknown,
  // duplicate or missing key columns, type mismatches, NULL keys, or
  // NaN/infinite doubles (naming column and row).
  size_t ingest_columns(std::string_view table, const std::vector<ColumnInput>& columns, size_t n);

  // --- Arrow C Data / C Stream interface (formats/arrow_*.h) ---
  // Stores every record batch of `stream` as one atomic batch (decoded by
  // formats::import_arrow_stream, then ingest_columns). The stream is
  // released when done, also on error. Returns the row count.
  size_t ingest_arrow(std::string_view table, ArrowArrayStream* stream,
                      const formats::ArrowImportOptions& options = {});
  // The same for one record batch (a struct array) and its schema.
  size_t ingest_arrow(std::string_view table, ArrowSchema* schema, ArrowArray* array,
                      const formats::ArrowImportOptions& options = {});
  // A point-in-time export of `table` (every partition, or those of
  // `symbols`) whose batches Arrow consumers read without a copy.
  std::shared_ptr<const formats::TableExport> export_arrow(
      std::string_view table, const std::optional<std::vector<int64_t>>& symbols = std::nullopt,
      const formats::TableExportOptions& options = {});

  // --- direct queries over [from_ns, to_ns] (inclusive) ---
  size_t count(std::string_view table, int64_t symbol, int64_t from_ns, int64_t to_ns);
  Number sum(std::string_view table, int64_t symbol, std::string_view column, int64_t from_ns,
             int64_t to_ns);
  // sum(price*volume)/sum(volume) of table `table` (columns price, volume); NaN if no volume.
  double vwap(std::string_view table, int64_t symbol, int64_t from_ns, int64_t to_ns);

  // Zero-copy access to a column of one symbol's partition. Throws
  // Error(kNotFound) for unknown tables/columns; an unknown symbol gives an
  // empty ColumnRef (rows == 0, block == nullptr).
  ColumnRef column(std::string_view table, int64_t symbol, std::string_view column);

  // --- DDL and durability. Every front end changes tables through these,
  // so that durable modes log them; catalog() is for reading. ---
  // Throws Error(kAlreadyExists) unless `if_not_exists` (then returns null).
  std::shared_ptr<Table> create_table(std::string_view name, Schema schema, bool if_not_exists = false);
  // False if there is no such table.
  bool drop_table(std::string_view name);
  // Keeps at least the last `ttl_ns` of data (counted back from the table's
  // newest timestamp); whole days older than that are dropped now and at
  // every checkpoint. 0 removes the TTL.
  void set_ttl(std::string_view table, int64_t ttl_ns);
  // Keeps the table's rows within `max_bytes` (rows times the bytes of a
  // row, as in memory): whole days, oldest first, are dropped now and at
  // every checkpoint until the rest fits; the newest day always stays. 0
  // removes the limit.
  void set_max_bytes(std::string_view table, uint64_t max_bytes);
  // The TTL and size limit of `table` (zeros: none).
  persist::Retention retention(std::string_view table) const;
  // Stores every accepted tick, then (TIERED) writes a checkpoint: the data
  // goes to partition files and the log is truncated. Applies TTLs and size
  // limits. In PURE_IN_MEMORY only the ticks and those limits.
  persist::CheckpointResult checkpoint();
  bool durable() const { return store_ != nullptr; }
  // Stops the background threads, stores the accepted ticks, writes a last
  // checkpoint (TIERED) and releases the data directory, so another
  // Database can open it. Afterwards writes throw Error(kInvalidArgument);
  // reads still see the data. Idempotent; the destructor calls it.
  void close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  const RecoveryInfo& recovery() const { return recovery_; }

  // --- SQL (sql/engine.h; database_sql.cpp) ---
  // Runs one statement and returns its typed result. Throws zepto::Error:
  // syntax errors carry the line and column; a failed statement changes
  // nothing. Without options, the defaults set by enable_parallel() apply.
  exec::ResultSet execute(std::string_view sql);
  exec::ResultSet execute(std::string_view sql, const exec::ExecOptions& options);
  // Queries reading at least `row_threshold` rows run on `num_threads`
  // threads (0 = one per hardware thread) across partitions.
  void enable_parallel(size_t num_threads = 0, size_t row_threshold = 100'000);
  void disable_parallel();
  exec::ExecOptions exec_options() const;

  DatabaseStats stats() const;
  void note_query(uint64_t rows_scanned);

 private:
  static Schema trades_schema();  // the default table: symbol, timestamp, price, volume (INT64)
  void drain_loop();
  size_t drain_step();  // requires consume_mu_
  void store_ticks(const Tick* ticks, size_t n);
  // Appends a batch holding every column of `table`'s schema; in durable
  // modes logs it first (the log record and the rows go in together or not
  // at all) and returns the LSN to commit (0 otherwise).
  uint64_t store_batch(Table& table, const void* const* columns, const uint8_t* const* validity, size_t n);
  void log_symbols_locked();  // requires commit_mu_
  void apply_retention_locked();  // requires commit_mu_
  // Sets one limit of `table` (kSetTtl: the TTL in ns; kSetMaxBytes: the size limit; 0: none), logged in
  // durable modes, then applies it with a checkpoint; `what` names the limit in errors.
  void set_retention(std::string_view table, persist::RecordKind kind, uint64_t value, const char* what);
  // The in-memory part of set_retention(), also replaying a log record. Requires commit_mu_.
  void set_limit_locked(const std::string& table, persist::RecordKind kind, uint64_t value);
  void open_durable();
  void replay(uint64_t lsn, std::string_view payload);
  void checkpoint_loop();
  // Starts checkpoint_loop() unless it runs, the pipeline is closing or checkpoint_interval_ms is 0: at open in
  // the durable modes, at the first TTL or size limit in PURE_IN_MEMORY (where it only applies those).
  void start_checkpoint_thread();

  DatabaseConfig config_;
  std::shared_ptr<MemoryTracker> tracker_;
  Catalog catalog_;
  SymbolDictionary symbols_;
  TickQueue queue_;

  std::mutex consume_mu_;
  std::vector<Tick> drain_buf_;
  std::vector<int64_t> drain_cols_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_requested_{false};
  std::thread drain_thread_;
  std::mutex lifecycle_mu_;

  alignas(64) std::atomic<uint64_t> batch_rows_{0};
  std::atomic<uint64_t> stored_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> queries_{0};
  std::atomic<uint64_t> rows_scanned_{0};
  std::atomic<uint64_t> partitions_{0};
  std::atomic<int64_t> last_latency_{0};
  mutable std::mutex exec_mu_;
  exec::ExecOptions exec_options_;
  mutable std::mutex error_mu_;
  std::string last_error_;

  // Durable modes (null in PURE_IN_MEMORY).
  std::unique_ptr<persist::Store> store_;
  std::unique_ptr<persist::Wal> wal_;
  int lock_fd_ = -1;               // flock() on <data_dir>/LOCK: one process per directory
  mutable std::mutex commit_mu_;   // orders log records with the changes they describe
  std::mutex checkpoint_mu_;       // one checkpoint at a time
  size_t logged_symbols_ = 0;      // dictionary entries already in the log (under commit_mu_)
  std::map<std::string, uint64_t> dir_ids_;  // lower-case table name -> directory id (under commit_mu_)
  std::map<std::string, persist::Retention> retention_;  // lower-case table name -> limits (under commit_mu_)
  bool replaying_ = false;
  std::atomic<bool> closed_{false};
  RecoveryInfo recovery_;
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> wal_at_checkpoint_{0};
  std::thread checkpoint_thread_;
  std::mutex checkpoint_wait_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_stop_ = false;
};

}  // namespace zepto
