// A table: a schema and one Partition per value of its symbol column.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "zeptodb/storage/block.h"
#include "zeptodb/storage/partition.h"
#include "zeptodb/storage/schema.h"

namespace zepto {

class Table {
 public:
  Table(std::string name, Schema schema, std::shared_ptr<MemoryTracker> tracker,
        size_t initial_rows = 1024);

  const std::string& name() const { return name_; }
  const Schema& schema() const { return schema_; }

  // Appends `n` rows. `columns[i]` points at n values of schema column i, of
  // that column's physical type. `validity` is null (no NULLs) or holds per
  // column null or n bytes (1 = valid, 0 = NULL). All rows are stored or none: on error
  // (Error(kOutOfMemory)) nothing is visible to readers. Within a partition,
  // rows end up ordered by timestamp (ties keep arrival order). Returns the
  // number of partitions that got their first rows in this call.
  size_t append(const void* const* columns, const uint8_t* const* validity, size_t n);

  // The partition for `key`, or nullptr. Partitions live as long as the table.
  const Partition* find_partition(int64_t key) const;
  // All partitions, in creation order.
  std::vector<const Partition*> partitions() const;
  // Total published rows.
  size_t row_count() const;

 private:
  // A partition the current batch touches.
  struct Slot {
    Partition* p;
    size_t count = 0;  // rows of this batch
    int64_t min_ts = INT64_MAX;
    int64_t max_ts = INT64_MIN;
    bool sorted = true;  // this batch's rows of p are in timestamp order
  };

  Partition* get_or_create(int64_t key);
  uint32_t slot_for(int64_t key, uint64_t epoch);
  void reserve(const std::vector<uint8_t>& add_validity);
  bool grow_in_place(Partition* p, size_t needed_rows);
  void scatter_rows(const void* const* columns, const uint8_t* const* validity,
                    const std::vector<uint8_t>& add_validity, const uint32_t* slot_of, size_t n);
  void merge_tail(Partition* p, size_t old_rows, size_t new_rows, int64_t min_new_ts);
  static void refresh_data(Partition* p);

  const std::string name_;
  const Schema schema_;
  const std::shared_ptr<MemoryTracker> tracker_;
  const size_t initial_rows_;

  mutable std::shared_mutex parts_mu_;  // guards parts_, order_, dense_ growth
  std::unordered_map<int64_t, std::unique_ptr<Partition>> parts_;
  std::vector<Partition*> order_;
  std::vector<Partition*> dense_;  // writer-side direct index, see dense_slot() in table.cpp

  // Writer state and scratch, reused across appends (under write_mu_).
  std::mutex write_mu_;  // one writer at a time
  uint64_t epoch_ = 0;
  std::vector<Slot> slots_;            // partitions the current batch touches
  std::vector<uint64_t> batch_map_;    // per dense index: (epoch tag << 32) | slot
  std::vector<uint32_t> slot_buf_;     // slot of each row, for small batches
  std::vector<std::byte*> dst_;        // scatter destinations
  std::vector<size_t> cursor_;         // scatter positions
  bool any_validity_ = false;          // some partition has a validity column
};

}  // namespace zepto
