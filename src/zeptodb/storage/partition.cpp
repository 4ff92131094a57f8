#include "zeptodb/storage/partition.h"

namespace zepto {

PartitionSnapshot Partition::snapshot() const {
  PartitionSnapshot s;
  s.key = key_;
  std::lock_guard lock(mu_);
  s.columns = cols_;
  s.validity = valid_;
  s.rows = rows_pub_.load(std::memory_order_acquire);
  return s;
}

std::pair<BlockPtr, size_t> Partition::column(size_t index) const {
  std::lock_guard lock(mu_);
  return {cols_[index], rows_pub_.load(std::memory_order_acquire)};
}

}  // namespace zepto
