// Column file flush and load against the raw sequential write speed of the
// same directory, measured in the same run.
//
//   BM_RawWrite     baseline: write() the columns' bytes in 1 MiB pieces to one
//                   file, then fsync it
//   BM_Flush/<p>    write_column_file() of each column with policy <p>
//                   (none, auto, lz4, zstd), fsync included
//   BM_Load         read_column_file() of each column written with kAuto
//                   (checksums verified, LZ4 blocks decompressed)
//
// The columns: 10 M rows of int64 timestamps (ns, increasing with jitter),
// int64 prices (a random walk), double prices and int64 volumes. Rates are
// bytes of raw column data per second. The files go to a temporary directory
// under $TMPDIR (or /tmp), removed at the end. The summary prints each
// rate (median of the repetitions), its ratio to the raw write speed and
// PASS/MISS for the flush target of 0.5x.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_report.h"
#include "zeptodb/persist/column_file.h"
#include "zeptodb/persist/file_io.h"

namespace {

using zepto::ColumnType;
using zepto::persist::CompressionPolicy;

constexpr size_t kRows = 10'000'000;
constexpr double kTargetRatio = 0.5;

struct Column {
  std::string name;
  ColumnType type;
  std::vector<int64_t> bits;  // 8-byte values (int64 or double bits)
};

const std::vector<Column>& columns() {
  static const std::vector<Column> cols = [] {
    std::mt19937_64 rng(7);
    std::vector<Column> c{{"timestamp", ColumnType::TIMESTAMP, {}},
                          {"price", ColumnType::INT64, {}},
                          {"price_f", ColumnType::DOUBLE, {}},
                          {"volume", ColumnType::INT64, {}}};
    for (auto& col : c) col.bits.resize(kRows);
    int64_t ts = 1'700'000'000'000'000'000;
    int64_t price = 1'500'000;
    for (size_t i = 0; i < kRows; ++i) {
      ts += static_cast<int64_t>(rng() % 2'000'000);
      price += static_cast<int64_t>(rng() % 21) - 10;
      double pf = static_cast<double>(price) / 100.0;
      c[0].bits[i] = ts;
      c[1].bits[i] = price;
      std::memcpy(&c[2].bits[i], &pf, 8);
      c[3].bits[i] = 100 * static_cast<int64_t>(1 + rng() % 50);
    }
    return c;
  }();
  return cols;
}

size_t total_bytes() { return columns().size() * kRows * 8; }

const std::string& dir() {
  static const std::string d = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/zepto_colbench_XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) std::abort();
    return std::string(buf.data());
  }();
  return d;
}

void BM_RawWrite(benchmark::State& state) {
  std::string path = dir() + "/raw.bin";
  for (auto _ : state) {
    zepto::persist::File f = zepto::persist::File::create(path);
    for (const auto& col : columns()) {
      const char* p = reinterpret_cast<const char*>(col.bits.data());
      for (size_t off = 0; off < kRows * 8; off += size_t{1} << 20)
        f.write(p + off, std::min(size_t{1} << 20, kRows * 8 - off));
    }
    f.sync();
    f.close();
    state.PauseTiming();
    zepto::persist::remove_file(path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total_bytes()));
}

void BM_Flush(benchmark::State& state, CompressionPolicy policy) {
  for (auto _ : state) {
    for (const auto& col : columns())
      zepto::persist::write_column_file(dir() + "/" + col.name + ".zcol", col.type, col.bits.data(), nullptr, kRows,
                                        policy);
    state.PauseTiming();
    for (const auto& col : columns()) zepto::persist::remove_file(dir() + "/" + col.name + ".zcol");
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total_bytes()));
}

void BM_Load(benchmark::State& state) {
  auto tracker = std::make_shared<zepto::MemoryTracker>();
  for (const auto& col : columns())
    zepto::persist::write_column_file(dir() + "/load_" + col.name + ".zcol", col.type, col.bits.data(), nullptr,
                                      kRows, CompressionPolicy::kAuto, false);
  for (auto _ : state) {
    for (const auto& col : columns()) {
      auto data = zepto::persist::read_column_file(dir() + "/load_" + col.name + ".zcol", tracker, 0, col.type);
      benchmark::DoNotOptimize(data.values->data());
    }
  }
  for (const auto& col : columns()) zepto::persist::remove_file(dir() + "/load_" + col.name + ".zcol");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total_bytes()));
}

BENCHMARK(BM_RawWrite)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_Flush, none, CompressionPolicy::kNone)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_Flush, auto, CompressionPolicy::kAuto)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_Flush, lz4, CompressionPolicy::kLz4)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_Flush, zstd, CompressionPolicy::kZstd)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  columns();  // generate the data before any timing
  zepto::bench::Collector reporter;
  bool ok = zepto::bench::run(argc, argv, {"--benchmark_repetitions=5"}, reporter);
  struct RemoveDir {
    ~RemoveDir() { zepto::persist::remove_tree(dir()); }
  } remove_dir;
  if (!ok) return 1;

  double raw = reporter.median("BM_RawWrite");
  if (raw <= 0) {
    std::printf("RESULT column_file: no figures (the baseline failed or was filtered out)\n");
    return 1;
  }
  std::printf("\ncolumn files, %zu rows x 4 int64/double columns = %.0f MB of raw column data (median of runs)\n",
              kRows, total_bytes() / 1e6);
  std::printf("  baseline  raw sequential write + fsync       %8.0f MB/s\n", raw / 1e6);
  for (const char* name : {"none", "auto", "lz4", "zstd"}) {
    double r = reporter.median(std::string("BM_Flush/") + name);
    if (r > 0)
      std::printf("  flush     write_column_file policy=%-5s   %8.0f MB/s  ratio %.3f\n", name, r / 1e6, r / raw);
  }
  for (const auto& col : columns()) {
    std::string path = dir() + "/info_" + col.name + ".zcol";
    zepto::persist::write_column_file(path, col.type, col.bits.data(), nullptr, kRows, CompressionPolicy::kAuto, false);
    auto info = zepto::persist::read_column_header(path);
    std::printf("  auto codec of %-9s  %-9s  file %5.1f%% of raw\n", col.name.c_str(), info.codec_summary().c_str(),
                100.0 * static_cast<double>(info.file_bytes) / static_cast<double>(kRows * 8));
    zepto::persist::remove_file(path);
  }
  double load = reporter.median("BM_Load");
  if (load > 0) std::printf("  load      read_column_file (auto files)      %8.0f MB/s  ratio %.3f\n", load / 1e6, load / raw);
  double flush = reporter.median("BM_Flush/auto");
  if (flush <= 0) return 0;
  std::printf("  flush (auto) ratio to raw write %.3f; target >= %.1f: %s\n", flush / raw, kTargetRatio,
              flush / raw >= kTargetRatio ? "PASS" : "MISS");
  std::printf("RESULT column_file_flush value=%.6g unit=bytes/s baseline=%.6g ratio=%.4f target=%.2f %s\n", flush,
              raw, flush / raw, kTargetRatio, flush / raw >= kTargetRatio ? "PASS" : "MISS");
  return 0;
}
