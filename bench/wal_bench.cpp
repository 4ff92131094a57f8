// Write-ahead log appends against plain write() of the same bytes to the same
// directory, measured in the same run.
//
//   BM_PlainWrite       baseline: write() 1 MiB pieces to one file, no fsync
//   BM_PlainWriteSync   baseline of `always`: the same with an fdatasync after
//                       each piece
//   BM_Wal<policy>      Wal::append() + commit() of 1 MiB records (4 parts of
//                       256 KiB, as a batch of 4 columns) under fsync policy
//                       always, batch (10 ms) or none
//   BM_*Big             the same with 32 MiB records (a batch of 1 M rows of
//                       four 8-byte columns): plain write(), the Wal under
//                       `batch` as it is (direct I/O from 4 MiB up), and the
//                       Wal with direct I/O off (every record through the page
//                       cache); reported, no target
//
// Each iteration writes 128 MiB into a fresh directory under $TMPDIR (or /tmp),
// removed afterwards (outside the clock, like the Wal's final sync and the
// baselines' fdatasync before they delete their file). Rates are
// payload bytes per second. The summary prints each rate (median of the
// repetitions), its ratio to its baseline and PASS/MISS for `batch` against
// the target of 0.7x plain write.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_report.h"
#include "zeptodb/persist/file_io.h"
#include "zeptodb/persist/wal.h"

namespace {

using zepto::persist::FsyncPolicy;

constexpr size_t kRecordBytes = 1 << 20;
constexpr size_t kRecords = 128;
constexpr size_t kBigParts = 32;  // a big record: 32 copies of the 1 MiB payload
constexpr double kTargetRatio = 0.7;

const std::string& payload() {
  static const std::string p = [] {
    std::string s(kRecordBytes, '\0');
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < s.size(); i += 8) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      std::memcpy(&s[i], &x, 8);
    }
    return s;
  }();
  return p;
}

// The directory all runs write into, removed at exit.
const std::string& bench_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/zepto_wal_bench_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    return tmpl;
  }();
  return dir;
}

// The big record of BM_*Big: kBigParts MiB in one buffer.
const std::string& big_payload() {
  static const std::string p = [] {
    std::string s;
    for (size_t i = 0; i < kBigParts; ++i) s += payload();
    return s;
  }();
  return p;
}

// write() of `piece` bytes at a time, 128 MiB in all.
void plain_write(benchmark::State& state, bool sync_each, const std::string& p = payload()) {
  const std::string path = bench_dir() + "/plain.bin";
  const size_t pieces = kRecords * kRecordBytes / p.size();
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    for (size_t i = 0; i < pieces; ++i) {
      if (::write(fd, p.data(), p.size()) != static_cast<ssize_t>(p.size()) || (sync_each && ::fdatasync(fd) != 0)) {
        state.SkipWithError("write failed");
        break;
      }
    }
    state.PauseTiming();
    ::fdatasync(fd);  // leaves the disk as a Wal's final sync does
    ::close(fd);
    ::unlink(path.c_str());
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRecords * kRecordBytes));
}

void BM_PlainWrite(benchmark::State& state) { plain_write(state, false); }
void BM_PlainWriteBig(benchmark::State& state) { plain_write(state, false, big_payload()); }
void BM_PlainWriteSync(benchmark::State& state) { plain_write(state, true); }

// 128 MiB of records of 4 parts, each record a copy of `p`; direct_bytes as in WalOptions.
void wal_append(benchmark::State& state, FsyncPolicy policy, const std::string& whole = payload(),
                size_t direct_bytes = zepto::persist::WalOptions{}.direct_bytes) {
  const std::string_view p = whole;
  const size_t q = p.size() / 4;
  const std::vector<std::string_view> parts{p.substr(0, q), p.substr(q, q), p.substr(2 * q, q), p.substr(3 * q)};
  const std::string dir = bench_dir() + "/wal";
  const size_t records = kRecords * kRecordBytes / p.size();
  for (auto _ : state) {
    state.PauseTiming();
    zepto::persist::WalOptions o{dir, policy};
    o.direct_bytes = direct_bytes;
    auto wal = std::make_unique<zepto::persist::Wal>(o);
    wal->replay(0, [](uint64_t, std::string_view) {});
    state.ResumeTiming();
    for (size_t i = 0; i < records; ++i) wal->commit(wal->append(parts));
    state.PauseTiming();
    wal.reset();
    zepto::persist::remove_tree(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRecords * kRecordBytes));
}

void BM_WalAlways(benchmark::State& state) { wal_append(state, FsyncPolicy::kAlways); }
void BM_WalBatch(benchmark::State& state) { wal_append(state, FsyncPolicy::kBatch); }
void BM_WalNone(benchmark::State& state) { wal_append(state, FsyncPolicy::kNone); }
void BM_WalBatchBig(benchmark::State& state) { wal_append(state, FsyncPolicy::kBatch, big_payload()); }
void BM_WalBatchBigBuffered(benchmark::State& state) { wal_append(state, FsyncPolicy::kBatch, big_payload(), 0); }

BENCHMARK(BM_PlainWrite)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_PlainWriteSync)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_WalAlways)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_WalBatch)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_WalNone)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_PlainWriteBig)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_WalBatchBig)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_WalBatchBigBuffered)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  zepto::bench::Collector reporter;
  bool ran = zepto::bench::run(argc, argv, {"--benchmark_repetitions=5"}, reporter);
  zepto::persist::remove_tree(bench_dir());
  if (!ran) return 1;

  const double plain = reporter.median("BM_PlainWrite");
  const double plain_sync = reporter.median("BM_PlainWriteSync");
  const double always = reporter.median("BM_WalAlways");
  const double batch = reporter.median("BM_WalBatch");
  const double none = reporter.median("BM_WalNone");
  if (plain <= 0 || plain_sync <= 0 || always <= 0 || batch <= 0 || none <= 0) {
    std::printf("RESULT wal_batch: no figures (a benchmark failed or was filtered out)\n");
    return 1;
  }
  std::printf("\nWAL appends of 1 MiB records (4 parts), %zu MiB per run, median of runs\n", kRecords);
  std::printf("  baseline  write() 1 MiB pieces                  %8.0f MB/s\n", plain / 1e6);
  std::printf("  baseline  write() + fdatasync each              %8.0f MB/s\n", plain_sync / 1e6);
  std::printf("  wal none    append+commit                       %8.0f MB/s  %.3f x write()\n", none / 1e6,
              none / plain);
  std::printf("  wal batch   append+commit (10 ms group commit)  %8.0f MB/s  %.3f x write()\n", batch / 1e6,
              batch / plain);
  std::printf("  wal always  append+commit (fdatasync each)      %8.0f MB/s  %.3f x write()+fdatasync\n",
              always / 1e6, always / plain_sync);
  const double plain_big = reporter.median("BM_PlainWriteBig");
  const double big = reporter.median("BM_WalBatchBig");
  const double big_buffered = reporter.median("BM_WalBatchBigBuffered");
  if (plain_big > 0 && big > 0 && big_buffered > 0) {
    std::printf("  baseline  write() 32 MiB pieces                 %8.0f MB/s\n", plain_big / 1e6);
    std::printf("  wal batch 32 MiB records, direct I/O            %8.0f MB/s  %.3f x write()\n", big / 1e6,
                big / plain_big);
    std::printf("  wal batch 32 MiB records, page cache            %8.0f MB/s  %.3f x write()\n", big_buffered / 1e6,
                big_buffered / plain_big);
  }
  const double ratio = batch / plain;
  std::printf("  batch target >= %.1f x write(): %s\n", kTargetRatio, ratio >= kTargetRatio ? "PASS" : "MISS");
  // One machine-readable line for bench/run_all.py.
  std::printf("RESULT wal_batch value=%.6g unit=B/s baseline=%.6g ratio=%.4f target=%.2fx %s\n", batch, plain, ratio,
              kTargetRatio, ratio >= kTargetRatio ? "PASS" : "MISS");
  return 0;
}
