// What the C++ benchmark programs share: Google Benchmark started with
// defaults that suit a noisy machine (interleaved repetitions; flags given on
// the command line win), and a reporter that keeps every repetition's items/s
// so that main() can print medians and ratios against a baseline.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace zepto::bench {

// Collects items/s of every repetition, per benchmark function.
class Collector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, std::vector<double>> rates;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates[r.run_name.function_name].push_back(it->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // Median items/s of `name`, 0 if it did not run.
  double median(const std::string& name) const {
    auto it = rates.find(name);
    if (it == rates.end() || it->second.empty()) return 0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

// Runs the registered benchmarks with `defaults` before the command-line
// flags. False if a flag is not understood.
inline bool run(int argc, char** argv, std::vector<std::string> defaults, Collector& reporter) {
  defaults.insert(defaults.end(), {"--benchmark_enable_random_interleaving=true",
                                   "--benchmark_report_aggregates_only=false"});
  std::vector<char*> args{argv[0]};
  for (auto& d : defaults) args.push_back(d.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return false;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return true;
}

}  // namespace zepto::bench
