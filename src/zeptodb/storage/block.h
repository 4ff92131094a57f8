// Reference-counted column memory and the memory budget it is charged to.
//
// A Block is one contiguous, 64-byte aligned allocation. Column buffers are
// Blocks held by std::shared_ptr: when a column grows it moves to a new,
// larger Block, and the old one stays alive for as long as a reader (a query,
// a NumPy view, an Arrow export) still holds it. A view can never dangle.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace zepto {

// Counts bytes held by Blocks against an optional limit (0 = no limit).
// Shared by every Block of a database and outlives them all.
class MemoryTracker {
 public:
  explicit MemoryTracker(size_t limit_bytes = 0) : limit_(limit_bytes) {}

  // Charges `bytes`; throws Error(kOutOfMemory) if the limit would be passed.
  void charge(size_t bytes);
  void release(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  std::atomic<size_t> used_{0};
  size_t limit_;
};

class Block {
 public:
  // Allocates `bytes` (rounded up to 64) charged to `tracker`. Throws
  // Error(kOutOfMemory) when the tracker's limit or the allocator refuses.
  static std::shared_ptr<Block> allocate(size_t bytes, std::shared_ptr<MemoryTracker> tracker);

  ~Block();
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  Block(std::byte* data, size_t capacity, std::shared_ptr<MemoryTracker> tracker)
      : data_(data), capacity_(capacity), tracker_(std::move(tracker)) {}

  std::byte* data_;
  size_t capacity_;
  std::shared_ptr<MemoryTracker> tracker_;
};

using BlockPtr = std::shared_ptr<Block>;

}  // namespace zepto
