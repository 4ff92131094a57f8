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
  // number of partitions this call created.
  size_t append(const void* const* columns, const uint8_t* const* validity, size_t n);

  // The partition for `key`, or nullptr. Partitions live as long as the table.
  const Partition* find_partition(int64_t key) const;
  // All partitions, in creation order.
  std::vector<const Partition*> partitions() const;
  // Total published rows.
  size_t row_count() const;

 private:
  struct Slot;
  Partition* get_or_create(int64_t key, size_t* created);
  void grow(Partition* p, size_t needed_rows, const std::vector<uint8_t>& add_validity);
  void merge_tail(Partition* p, size_t old_rows, size_t new_rows, int64_t min_new_ts);

  const std::string name_;
  const Schema schema_;
  const std::shared_ptr<MemoryTracker> tracker_;
  const size_t initial_rows_;

  mutable std::shared_mutex parts_mu_;  // guards parts_, order_, dense_ growth
  std::unordered_map<int64_t, std::unique_ptr<Partition>> parts_;
  std::vector<Partition*> order_;
  std::vector<Partition*> dense_;  // writer-side direct index, see dense_slot() in table.cpp

  std::mutex write_mu_;  // one writer at a time
  uint64_t epoch_ = 0;
};

}  // namespace zepto
