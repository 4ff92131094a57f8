#include "zeptodb/storage/block.h"

#include <cstdlib>
#include <new>
#include <string>

#include "zeptodb/common/error.h"

namespace zepto {

void MemoryTracker::charge(size_t bytes) {
  size_t prev = used_.fetch_add(bytes, std::memory_order_relaxed);
  if (limit_ != 0 && prev + bytes > limit_) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    throw_error(ErrorCode::kOutOfMemory,
                "memory limit reached: " + std::to_string(prev) + " of " + std::to_string(limit_) +
                    " bytes in use, " + std::to_string(bytes) + " more requested");
  }
}

std::shared_ptr<Block> Block::allocate(size_t bytes, std::shared_ptr<MemoryTracker> tracker) {
  size_t cap = (bytes + 63) & ~size_t{63};
  if (cap == 0) cap = 64;
  tracker->charge(cap);
  void* p = std::aligned_alloc(64, cap);
  if (p == nullptr) {
    tracker->release(cap);
    throw_error(ErrorCode::kOutOfMemory,
                "out of memory allocating " + std::to_string(cap) + " bytes of column storage");
  }
  return std::shared_ptr<Block>(new Block(static_cast<std::byte*>(p), cap, std::move(tracker)));
}

Block::~Block() {
  std::free(data_);
  tracker_->release(capacity_);
}

}  // namespace zepto
