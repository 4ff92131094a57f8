// A table: a schema and one Partition per value of its symbol column.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "zeptodb/storage/block.h"
#include "zeptodb/storage/partition.h"
#include "zeptodb/storage/scatter.h"
#include "zeptodb/storage/schema.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto {

// Where a table's column blocks come from instead of memory (PURE_ON_DISK:
// files, persist/mapped.h).
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  // A new block of at least `bytes` for column `column` of partition `key`
  // (for its validity bytes if `validity`). Throws like Block::allocate().
  virtual BlockPtr allocate(int64_t key, size_t column, bool validity, size_t bytes) = 0;
};

class Table {
 public:
  Table(std::string name, Schema schema, std::shared_ptr<MemoryTracker> tracker,
        size_t initial_rows = 1024);
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  const std::string& name() const { return name_; }
  const Schema& schema() const { return schema_; }

  // Appends `n` rows. `columns[i]` points at n values of schema column i, of
  // that column's physical type. `validity` is null (no NULLs) or holds per
  // column null or n bytes (1 = valid, 0 = NULL). All rows are stored or none: on error
  // (Error(kOutOfMemory)) nothing is visible to readers. Within a partition,
  // rows end up ordered by timestamp (ties keep arrival order). Returns the
  // number of partitions that got their first rows in this call. With `ids`,
  // the batch's partition keys are noted there (SymbolDictionary::note_ids)
  // before any row is visible. A big batch is stored by two threads.
  // `before_publish` runs once the rows are in place but before any is
  // visible; if it throws, nothing is stored and the exception propagates.
  size_t append(const void* const* columns, const uint8_t* const* validity, size_t n,
                SymbolDictionary* ids = nullptr, const std::function<void()>& before_publish = {});

  // The partition for `key`, or nullptr. Partitions live as long as the table.
  const Partition* find_partition(int64_t key) const;
  // All partitions, in creation order.
  std::vector<const Partition*> partitions() const;
  // Total published rows.
  size_t row_count() const;

  // For checkpoints: a snapshot of every partition (creation order) and how
  // many of its first rows kept their position and values since the previous
  // call (0 on the first call); then marks every row as unchanged. Waits for
  // an append in flight.
  struct CheckpointPart {
    PartitionSnapshot snap;
    size_t unchanged = 0;
  };
  std::vector<CheckpointPart> checkpoint_parts();

  // Makes the table load its rows on first use (a recovered table whose
  // partition files are read only when a query or a write needs them):
  // `loader` runs once, before anything reads or writes the partitions, and
  // may append. If it throws, the table is unusable: every later use throws
  // Error(kIOError) with its message.
  void set_loader(std::function<void(Table&)> loader);
  // False while a loader is pending (checkpoints leave such a table's files as they are).
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }

  // A sizing hint: about `rows` more rows are coming, over any number of
  // appends. A partition that needs room then gets room for its share of them
  // (its share of the current batch) at once, instead of growing step by step
  // (each step maps and zeroes fresh pages). A wrong hint costs memory or
  // speed, never rows: if the hinted room cannot be had, the append takes
  // only what it needs.
  void expect_rows(size_t rows);

  // New column blocks come from `source` from now on (before the first row).
  void set_block_source(std::shared_ptr<BlockSource> source) { source_ = std::move(source); }
  // Installs a partition made of existing blocks holding `rows` rows in
  // timestamp order (PURE_ON_DISK recovery): `columns` has a block per
  // column, `validity` per column a block or null. The partition must not
  // exist yet; the rows count as unchanged for checkpoint_parts().
  void restore_partition(int64_t key, std::vector<BlockPtr> columns, std::vector<BlockPtr> validity,
                         size_t rows);

  // Removes the rows whose timestamp is before `ts` from every partition
  // (TTL); readers holding snapshots keep their rows. Returns the rows
  // removed; 0 for a table without a timestamp column.
  size_t drop_before(int64_t ts);

 private:
  // A partition the current batch touches.
  struct Slot {
    Partition* p;
    size_t count = 0;  // rows of this batch
    int64_t min_ts = INT64_MAX;
    int64_t max_ts = INT64_MIN;
    bool sorted = true;  // this batch's rows of p are in timestamp order
  };

  // One part of a batch's rows, classified (pass 1) and scattered by one
  // thread: its rows get local slots, mapped to slots_ afterwards.
  struct Range {
    size_t begin = 0, end = 0;
    bool direct = false;             // 16-bit slot numbers: key - base (classify_direct())
    std::vector<int64_t> keys;       // key of each local slot, in order of first appearance
    std::vector<size_t> counts;      // rows of each local slot
    std::vector<uint32_t> global;    // local slot -> index in slots_
    std::vector<size_t> offset;      // local slot -> its first row among the slot's new rows
    std::vector<uint32_t> dense;     // dense index of a key -> local slot + 1 (0: none)
    std::unordered_map<int64_t, uint32_t> sparse;  // local slots of the other keys
    std::vector<std::byte*> dst;     // scatter destinations
    std::vector<size_t> cursor;      // scatter positions
    std::vector<scatter::StreamSlot> stream;  // per local slot, for scatter_streaming()
    BlockPtr lines;                  // scratch lines for scatter_streaming()
  };

  void ensure_loaded() const {
    if (!loaded_.load(std::memory_order_acquire)) load();
  }
  void load() const;
  Partition* dense_partition(int64_t dense_index) const;
  Partition* get_or_create(int64_t key);
  uint32_t slot_for(int64_t key, uint64_t epoch);
  static void classify(Range& r, const int64_t* sym, std::byte* slot_of);
  static bool classify_direct(Range& r, const int64_t* sym, uint16_t* slot_of);
  static void classify_mapped(Range& r, const int64_t* sym, uint32_t* slot_of);
  void reserve(const std::vector<uint8_t>& add_validity, size_t batch_rows, bool hinted);
  bool grow_in_place(Partition* p, size_t needed_rows);
  void scatter_rows(const void* const* columns, const uint8_t* const* validity,
                    const std::vector<uint8_t>& add_validity, const std::byte* slot_of, size_t nranges);
  bool scatter_streaming(Range& r, size_t k, bool with_ts, const std::byte* const* src, size_t n,
                         const std::byte* slots);
  void finish_slots(const std::vector<uint8_t>& add_validity, size_t nranges, size_t threads);
  void merge_tail(Partition* p, size_t old_rows, size_t new_rows, int64_t min_new_ts);
  static void refresh_data(Partition* p);
  BlockPtr new_block(const Partition* p, size_t column, bool validity, size_t bytes);

  const std::string name_;
  const Schema schema_;
  const std::shared_ptr<MemoryTracker> tracker_;
  const size_t initial_rows_;
  std::shared_ptr<BlockSource> source_;  // null: memory

  mutable std::shared_mutex parts_mu_;  // guards parts_ and order_
  std::unordered_map<int64_t, std::unique_ptr<Partition>> parts_;
  std::vector<Partition*> order_;
  // The partitions of the common keys by dense index (dense_slot() in
  // table.cpp), readable without a lock: chunks of pointers made on demand
  // and kept for the table's life, like the partitions themselves.
  static constexpr size_t kDenseChunk = 1024;
  std::array<std::atomic<std::atomic<Partition*>*>, 128> dense_{};

  // Writer state and scratch, reused across appends (under write_mu_).
  std::mutex write_mu_;  // one writer at a time
  uint64_t epoch_ = 0;
  std::vector<Slot> slots_;            // partitions the current batch touches
  std::array<Range, 2> ranges_;
  std::vector<uint32_t> slot_buf_;     // local slot of each row, for small batches
  bool any_validity_ = false;          // some partition has a validity column
  bool ts_ordered_ = false;            // the scatter tracked the timestamp order (Range::stream)
  size_t expected_ = 0;                // rows expect_rows() announced and not yet appended

  // Lazy loading (set_loader()).
  mutable std::atomic<bool> loaded_{true};
  mutable std::recursive_mutex load_mu_;
  mutable bool loading_ = false;  // the loader is running (its own appends pass)
  mutable std::string load_error_;
  std::function<void(Table&)> loader_;
};

}  // namespace zepto
