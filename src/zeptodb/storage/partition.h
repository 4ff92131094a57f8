// The rows of one (table, symbol): one contiguous Block per column.
//
// Writers (serialized by the owning Table) append into spare capacity past the
// published row count and then publish the new count; a column that must grow
// moves to a larger Block while readers keep the old one alive. Readers take
// a PartitionSnapshot (blocks + row count) under a short lock and read it
// without further synchronization. Rows are kept in timestamp order when the
// table has a timestamp column.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "zeptodb/storage/block.h"

namespace zepto {

// An immutable view of a partition's first `rows` rows. Holding it keeps the
// column memory alive.
struct PartitionSnapshot {
  int64_t key = 0;
  size_t rows = 0;
  std::vector<BlockPtr> columns;
  // Per column: one byte per row (1 = valid, 0 = NULL), or nullptr when the
  // column has no NULLs in this partition. Same size as `columns`.
  std::vector<BlockPtr> validity;

  const uint8_t* valid(size_t column) const {
    return column < validity.size() && validity[column]
               ? reinterpret_cast<const uint8_t*>(validity[column]->data())
               : nullptr;
  }

  // Column values; nullptr while the partition has no storage yet (rows == 0).
  template <typename T>
  const T* data(size_t column) const {
    return columns[column] ? reinterpret_cast<const T*>(columns[column]->data()) : nullptr;
  }
};

class Partition {
 public:
  Partition(int64_t key, size_t num_columns) : key_(key), cols_(num_columns), valid_(num_columns) {}

  int64_t key() const { return key_; }
  // Published row count (may be stale the moment it returns).
  size_t rows() const { return rows_pub_.load(std::memory_order_acquire); }

  PartitionSnapshot snapshot() const;
  // One column's block and the published row count, consistent with each other.
  std::pair<BlockPtr, size_t> column(size_t index) const;

 private:
  friend class Table;

  const int64_t key_;
  // Readers take cols_/valid_ under mu_ and then read rows_pub_. A writer
  // swaps blocks only under mu_, and publishes more rows (rows_pub_, release)
  // only after the blocks holding them are in place, so a reader never sees
  // more rows than its blocks hold.
  mutable std::mutex mu_;
  std::vector<BlockPtr> cols_;   // swapped only under mu_
  std::vector<BlockPtr> valid_;  // per column: validity bytes, or null (no NULLs); under mu_
  std::atomic<size_t> rows_pub_{0};

  // Writer-only state (protected by Table::write_mu_).
  size_t rows_ = 0;  // rows written and published (the writer's copy of rows_pub_)
  size_t capacity_ = 0;
  std::vector<std::byte*> data_;  // cols_[c]->data(), refreshed whenever cols_ changes
  int64_t last_ts_ = 0;
  // Rows [0, unchanged_) have kept their position and values since the last
  // Table::checkpoint_parts() (a late row merged in at k lowers it to k).
  size_t unchanged_ = 0;
  uint64_t batch_epoch_ = 0;
  uint32_t batch_slot_ = 0;
};

}  // namespace zepto
