// Counters of the server, rendered as Prometheus text for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace zepto {
class Database;
}

namespace zepto::server {

class Metrics {
 public:
  void request() { requests_.fetch_add(1, std::memory_order_relaxed); }
  void error() { errors_.fetch_add(1, std::memory_order_relaxed); }
  void connection_opened() { connections_.fetch_add(1, std::memory_order_relaxed); open_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  void rows_inserted(uint64_t n) { inserted_.fetch_add(n, std::memory_order_relaxed); }
  void bytes(uint64_t in, uint64_t out) {
    bytes_in_.fetch_add(in, std::memory_order_relaxed);
    bytes_out_.fetch_add(out, std::memory_order_relaxed);
  }
  // A finished query and how long it took.
  void query(double seconds);

  std::string prometheus(Database& db) const;

  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

 private:
  std::atomic<uint64_t> requests_{0}, errors_{0}, connections_{0}, inserted_{0}, bytes_in_{0}, bytes_out_{0};
  std::atomic<int64_t> open_{0};
  std::atomic<uint64_t> queries_{0};
  std::atomic<uint64_t> latency_sum_us_{0};
  std::array<std::atomic<uint64_t>, kBuckets.size()> buckets_{};
};

}  // namespace zepto::server
