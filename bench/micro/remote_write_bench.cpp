// Remote write: a recording rule's 10,000-sample result (workload 2's series, renamed by the
// rule) encoded as a WriteRequest and snappy-compressed, as RemoteWriter does per batch.
// Counters: the protobuf and the compressed bytes per 10,000 samples.
#include <benchmark/benchmark.h>

#include "fixtures.hpp"
#include "promwatch/remote_write.hpp"

namespace {

std::vector<promwatch::WriteSample> rule_result(int n) {
  std::vector<promwatch::WriteSample> out;
  out.reserve(static_cast<std::size_t>(n));
  const std::int64_t t = 1764000000000;
  for (auto& s : bench::vector_samples(n)) {
    promwatch::Labels labels = s.labels;
    labels.set("__name__", "bench_rw:w2:x2");
    labels.set("source", "bench");
    out.push_back(promwatch::WriteSample{std::move(labels), t, s.value * 2});
  }
  return out;
}

// One request of all 10,000 (max_samples_per_send = 10000).
void BM_EncodeCompress10k(benchmark::State& state) {
  const auto samples = rule_result(bench::kSeries);
  std::size_t raw = 0, compressed = 0;
  for (auto _ : state) {
    std::string body = promwatch::encode_write_request(samples);
    raw = body.size();
    std::string out = promwatch::snappy_compress(body);
    compressed = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
  state.counters["protobuf_bytes"] = static_cast<double>(raw);
  state.counters["snappy_bytes"] = static_cast<double>(compressed);
}
BENCHMARK(BM_EncodeCompress10k)->Unit(benchmark::kMicrosecond);

// The default batching: ten requests of 1,000.
void BM_EncodeCompress10kIn1kBatches(benchmark::State& state) {
  const auto samples = rule_result(bench::kSeries);
  std::vector<std::vector<promwatch::WriteSample>> batches;
  for (int i = 0; i < bench::kSeries; i += 1000) batches.emplace_back(samples.begin() + i, samples.begin() + i + 1000);
  std::size_t compressed = 0;
  for (auto _ : state) {
    compressed = 0;
    for (const auto& b : batches) compressed += promwatch::snappy_compress(promwatch::encode_write_request(b)).size();
    benchmark::DoNotOptimize(compressed);
  }
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
  state.counters["snappy_bytes"] = static_cast<double>(compressed);
}
BENCHMARK(BM_EncodeCompress10kIn1kBatches)->Unit(benchmark::kMicrosecond);

}  // namespace
