// Single-tick ingest through the queue, against a plain store of the same
// ticks measured in the same run.
//
//   BM_VectorPush    baseline: push the same 32-byte ticks into a reserved
//                    std::vector (the cost of generating and writing them once)
//   BM_QueueIngest   one producer calls Database::ingest with the drain thread
//                    running; the clock stops when drain() returns, so every
//                    tick is stored and visible to readers
//
// The ticks cycle over 100 symbols in a shuffled order with increasing
// timestamps. After the run a summary prints each rate (median of the
// repetitions), the ratio to the baseline and PASS/MISS against the target of
// 20 M ticks/s. Google Benchmark flags work as usual; the defaults are 5
// interleaved repetitions.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_report.h"
#include "zeptodb/database.h"

namespace {

constexpr size_t kTicks = 10'000'000;
constexpr int64_t kSymbols = 100;
constexpr double kTargetTicksPerSec = 20e6;

// The symbol of tick i: a fixed shuffled cycle over kSymbols ids.
const std::vector<int64_t>& symbol_cycle() {
  static const std::vector<int64_t> cycle = [] {
    std::vector<int64_t> c(4096);
    std::mt19937_64 rng(42);
    for (auto& s : c) s = static_cast<int64_t>(rng() % kSymbols);
    return c;
  }();
  return cycle;
}

zepto::Tick make_tick(size_t i, const int64_t* cycle) {
  return zepto::Tick{cycle[i & 4095], 15000 + static_cast<int64_t>(i & 63),
                     100 + static_cast<int64_t>(i & 7), 1'700'000'000'000'000'000 + static_cast<int64_t>(i)};
}

void BM_VectorPush(benchmark::State& state) {
  const int64_t* cycle = symbol_cycle().data();
  for (auto _ : state) {
    std::vector<zepto::Tick> out;
    out.reserve(kTicks);
    for (size_t i = 0; i < kTicks; ++i) out.push_back(make_tick(i, cycle));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kTicks));
}

void BM_QueueIngest(benchmark::State& state) {
  const int64_t* cycle = symbol_cycle().data();
  for (auto _ : state) {
    state.PauseTiming();
    auto db = std::make_unique<zepto::Database>();
    db->start();
    state.ResumeTiming();
    size_t rejected = 0;
    for (size_t i = 0; i < kTicks; ++i) {
      zepto::Tick t = make_tick(i, cycle);
      rejected += !db->ingest(t.symbol, t.price, t.volume, t.timestamp);
    }
    db->drain();
    state.PauseTiming();
    auto stats = db->stats();
    db.reset();
    state.ResumeTiming();
    if (rejected != 0 || stats.ticks_stored != kTicks) {
      std::string msg = std::to_string(rejected) + " ticks rejected, " +
                        std::to_string(stats.ticks_stored) + " stored";
      state.SkipWithError(msg.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kTicks));
}

BENCHMARK(BM_VectorPush)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_QueueIngest)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  zepto::bench::Collector reporter;
  if (!zepto::bench::run(argc, argv, {"--benchmark_repetitions=5"}, reporter)) return 1;

  double base = reporter.median("BM_VectorPush");
  double queue = reporter.median("BM_QueueIngest");
  if (base <= 0 || queue <= 0) {
    std::printf("RESULT ingest_queue: no figures (a benchmark failed or was filtered out)\n");
    return 1;
  }
  std::printf("\nsingle-tick ingest, 1 producer + drain thread, %zu ticks over %lld symbols (median of runs)\n",
              kTicks, static_cast<long long>(kSymbols));
  std::printf("  baseline  std::vector push of the same ticks  %8.1f M ticks/s\n", base / 1e6);
  std::printf("  zeptodb   Database::ingest until drain()      %8.1f M ticks/s\n", queue / 1e6);
  std::printf("  ratio to baseline %.3f; target >= %.0f M ticks/s: %s\n", queue / base,
              kTargetTicksPerSec / 1e6, queue >= kTargetTicksPerSec ? "PASS" : "MISS");
  // One machine-readable line for bench/run_all.py.
  std::printf("RESULT ingest_queue value=%.6g unit=ticks/s baseline=%.6g ratio=%.4f target=%.6g %s\n",
              queue, base, queue / base, kTargetTicksPerSec, queue >= kTargetTicksPerSec ? "PASS" : "MISS");
  return 0;
}
