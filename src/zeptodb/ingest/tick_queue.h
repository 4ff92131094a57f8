// Bounded lock-free multi-producer queue of single ticks (D. Vyukov's
// sequence-numbered ring). Producers never block each other on a lock; the
// one consumer (the drain thread, or drain() under the database's consumer
// lock) pops in batches.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace zepto {

struct Tick {
  int64_t symbol;
  int64_t price;
  int64_t volume;
  int64_t timestamp;
};

class TickQueue {
 public:
  // `capacity` is rounded up to a power of two (at least 2).
  explicit TickQueue(size_t capacity);

  // Adds a tick; false if the queue is full (the tick is not taken).
  bool try_push(const Tick& t) {
    uint64_t pos = enq_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      uint64_t seq = c.seq.load(std::memory_order_acquire);
      int64_t diff = static_cast<int64_t>(seq) - static_cast<int64_t>(pos);
      if (diff == 0) {
        if (enq_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.tick = t;
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = enq_.load(std::memory_order_relaxed);
      }
    }
  }

  // Pops up to `max` ticks into `out` (consumer side only). Stops at the first
  // slot a producer has claimed but not yet filled.
  size_t pop_batch(Tick* out, size_t max) {
    uint64_t pos = deq_.load(std::memory_order_relaxed);
    size_t n = 0;
    while (n < max) {
      Cell& c = cells_[pos & mask_];
      if (c.seq.load(std::memory_order_acquire) != pos + 1) break;
      out[n++] = c.tick;
      c.seq.store(pos + mask_ + 1, std::memory_order_release);
      ++pos;
    }
    deq_.store(pos, std::memory_order_release);
    return n;
  }

  // Ticks ever accepted / ever popped.
  uint64_t pushed() const { return enq_.load(std::memory_order_acquire); }
  uint64_t popped() const { return deq_.load(std::memory_order_acquire); }
  size_t capacity() const { return mask_ + 1; }

 private:
  struct Cell {
    std::atomic<uint64_t> seq;
    Tick tick;
  };

  size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<uint64_t> enq_{0};
  alignas(64) std::atomic<uint64_t> deq_{0};
};

}  // namespace zepto
