// parse_query_response on a 10,000-series vector body (workload 2's answer).
#include <benchmark/benchmark.h>

#include "fixtures.hpp"
#include "promwatch/query.hpp"

static void BM_ParseQueryResponse10k(benchmark::State& state) {
  const std::string body = bench::vector_body(bench::kSeries);
  for (auto _ : state) {
    auto outcome = promwatch::parse_query_response(body, 200);
    if (!outcome.ok) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(outcome);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
}
BENCHMARK(BM_ParseQueryResponse10k)->Unit(benchmark::kMillisecond);
