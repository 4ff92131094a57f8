#include "zeptodb/ingest/tick_queue.h"

namespace zepto {

TickQueue::TickQueue(size_t capacity) {
  size_t cap = 2;
  while (cap < capacity) cap <<= 1;
  mask_ = cap - 1;
  cells_.reset(new Cell[cap]);
  for (size_t i = 0; i < cap; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
}

}  // namespace zepto
