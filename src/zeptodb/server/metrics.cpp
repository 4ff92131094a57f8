#include "zeptodb/server/metrics.h"

#include <cstdio>
#include <fstream>

#include "zeptodb/database.h"

namespace zepto::server {

void Metrics::query(double seconds) {
  queries_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
}

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
  out += buf;
}

size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

}  // namespace

std::string Metrics::prometheus(Database& db) const {
  std::string out;
  auto v = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  metric(out, "zeptodb_http_requests_total", "counter", "HTTP requests received.", v(requests_));
  metric(out, "zeptodb_http_errors_total", "counter", "HTTP requests answered with an error.", v(errors_));
  metric(out, "zeptodb_http_connections_total", "counter", "TCP connections accepted.", v(connections_));
  metric(out, "zeptodb_http_connections_open", "gauge", "TCP connections open now.",
         static_cast<double>(open_.load(std::memory_order_relaxed)));
  metric(out, "zeptodb_http_received_bytes_total", "counter", "Request body bytes received.", v(bytes_in_));
  metric(out, "zeptodb_http_sent_bytes_total", "counter", "Response body bytes sent.", v(bytes_out_));
  metric(out, "zeptodb_rows_inserted_total", "counter", "Rows stored by INSERT requests.", v(inserted_));
  DatabaseStats s = db.stats();
  metric(out, "zeptodb_rows_ingested_total", "counter", "Rows accepted by the engine (all front ends).",
         static_cast<double>(s.ticks_ingested));
  metric(out, "zeptodb_queries_executed_total", "counter", "SQL statements executed by the engine.",
         static_cast<double>(s.queries_executed));
  metric(out, "zeptodb_column_memory_bytes", "gauge", "Bytes of column storage held.", static_cast<double>(s.memory_bytes));
  metric(out, "zeptodb_process_resident_memory_bytes", "gauge", "Resident memory of the server process.",
         static_cast<double>(resident_bytes()));
  out += "# HELP zeptodb_query_duration_seconds Time from request to result of HTTP queries.\n";
  out += "# TYPE zeptodb_query_duration_seconds histogram\n";
  char buf[160];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    std::snprintf(buf, sizeof buf, "zeptodb_query_duration_seconds_bucket{le=\"%g\"} %llu\n", kBuckets[i],
                  static_cast<unsigned long long>(buckets_[i].load(std::memory_order_relaxed)));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "zeptodb_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                static_cast<unsigned long long>(queries_.load()));
  out += buf;
  std::snprintf(buf, sizeof buf, "zeptodb_query_duration_seconds_sum %.6f\nzeptodb_query_duration_seconds_count %llu\n",
                static_cast<double>(latency_sum_us_.load()) / 1e6, static_cast<unsigned long long>(queries_.load()));
  out += buf;
  return out;
}

}  // namespace zepto::server
