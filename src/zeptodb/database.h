// The one façade every front end uses: tables, ingest (single ticks through
// the queue, batches directly), direct queries and column access.
#pragma once

#include <atomic>
#include <cstdint>
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
  std::string data_dir;
};

struct DatabaseStats {
  uint64_t ticks_ingested = 0;  // accepted (queue + batches)
  uint64_t ticks_stored = 0;    // visible to readers
  uint64_t ticks_dropped = 0;   // rejected by a full queue, or lost by a failed drain
  uint64_t queries_executed = 0;
  uint64_t total_rows_scanned = 0;
  uint64_t partitions_created = 0;
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

  // Throws Error(kNotAvailable) for storage modes that are not built yet.
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
  void drain_loop();
  size_t drain_step();  // requires consume_mu_
  void store_ticks(const Tick* ticks, size_t n);

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
};

}  // namespace zepto
