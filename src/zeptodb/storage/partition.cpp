#include "zeptodb/storage/partition.h"

namespace zepto {

PartitionSnapshot Partition::snapshot() const {
  PartitionSnapshot s;
  s.key = key_;
  std::lock_guard lock(mu_);
  s.rows = rows_;
  s.columns = cols_;
  s.validity = valid_;
  return s;
}

std::pair<BlockPtr, size_t> Partition::column(size_t index) const {
  std::lock_guard lock(mu_);
  return {cols_[index], rows_};
}

}  // namespace zepto
