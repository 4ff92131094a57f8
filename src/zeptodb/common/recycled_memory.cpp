#include "zeptodb/common/recycled_memory.h"

#include <mutex>
#include <new>
#include <tuple>
#include <utility>
#include <vector>

#include "zeptodb/common/huge_pages.h"

namespace zepto {

namespace {

constexpr size_t kPooledMin = size_t{128} << 10;  // smaller blocks come from malloc's free lists anyway
constexpr size_t kPoolBytes = size_t{512} << 20;
constexpr size_t kPoolBlocks = 16;
constexpr std::align_val_t kAlign{64};

// Freed large blocks waiting for reuse. Never destroyed: buffers may be
// released during static destruction.
struct MemoryPool {
  std::mutex mu;
  std::vector<std::pair<void*, size_t>> blocks;  // (memory, capacity)
  size_t bytes = 0;
};

MemoryPool& memory_pool() {
  static MemoryPool* pool = new MemoryPool;
  return *pool;
}

void give_back(void* p, size_t capacity) {
  MemoryPool& pool = memory_pool();
  {
    std::lock_guard lock(pool.mu);
    if (pool.blocks.size() < kPoolBlocks && pool.bytes + capacity <= kPoolBytes) {
      pool.blocks.emplace_back(p, capacity);
      pool.bytes += capacity;
      return;
    }
  }
  ::operator delete(p, kAlign);
}

}  // namespace

size_t trim_recycled_memory() {
  std::vector<std::pair<void*, size_t>> blocks;
  {
    MemoryPool& pool = memory_pool();
    std::lock_guard lock(pool.mu);
    blocks.swap(pool.blocks);
    pool.bytes = 0;
  }
  size_t bytes = 0;
  for (auto [p, capacity] : blocks) {
    ::operator delete(p, kAlign);
    bytes += capacity;
  }
  return bytes;
}

std::shared_ptr<void> recycled_memory(size_t bytes) {
  if (bytes < kPooledMin)
    return std::shared_ptr<void>(::operator new(bytes, kAlign), [](void* p) { ::operator delete(p, kAlign); });
  void* p = nullptr;
  size_t capacity = 0;
  {
    // The smallest block that holds `bytes` without wasting more than half of it.
    MemoryPool& pool = memory_pool();
    std::lock_guard lock(pool.mu);
    size_t best = pool.blocks.size();
    for (size_t i = 0; i < pool.blocks.size(); ++i) {
      size_t c = pool.blocks[i].second;
      if (c >= bytes && c / 2 <= bytes && (best == pool.blocks.size() || c < pool.blocks[best].second)) best = i;
    }
    if (best < pool.blocks.size()) {
      std::tie(p, capacity) = pool.blocks[best];
      pool.blocks.erase(pool.blocks.begin() + static_cast<long>(best));
      pool.bytes -= capacity;
    }
  }
  if (p == nullptr) {
    p = ::operator new(bytes, kAlign);
    capacity = bytes;
    advise_huge_pages(p, bytes);
  }
  return std::shared_ptr<void>(p, [capacity](void* q) { give_back(q, capacity); });  // on failure: gives p back
}

}  // namespace zepto
