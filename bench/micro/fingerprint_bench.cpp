// Labels::fingerprint (Alertmanager's FNV-1a over the sorted label set) of a typical alert.
#include <benchmark/benchmark.h>

#include "fixtures.hpp"
#include "promwatch/labels.hpp"

static void BM_Fingerprint(benchmark::State& state) {
  const promwatch::Labels labels{{"__name__", "bench_w2"},  {"alertname", "W2Big"},
                                 {"instance", "host-1234:9100"}, {"job", "bench"},
                                 {"region", "r3"},         {"severity", "warning"}};
  for (auto _ : state) benchmark::DoNotOptimize(labels.fingerprint());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fingerprint);

static void BM_Fingerprint10kSeries(benchmark::State& state) {
  const auto samples = bench::vector_samples(bench::kSeries);
  for (auto _ : state) {
    std::uint64_t x = 0;
    for (const auto& s : samples) x ^= s.labels.fingerprint();
    benchmark::DoNotOptimize(x);
  }
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
}
BENCHMARK(BM_Fingerprint10kSeries)->Unit(benchmark::kMicrosecond);
