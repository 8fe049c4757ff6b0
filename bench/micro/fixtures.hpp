#pragma once
// Shared inputs of the micro-benchmarks: a 10,000-series query response like workload 2 of
// bench/run, and the samples it parses to.
#include <string>
#include <vector>

#include "promwatch/query.hpp"

namespace bench {

inline constexpr int kSeries = 10000;

/// A Prometheus /api/v1/query vector response with `n` series
/// `bench_w2{job="bench",instance="host-i:9100",region="r(i%7)"} 1+i%97`.
std::string vector_body(int n = kSeries);

/// The samples of `vector_body(n)`.
std::vector<promwatch::Sample> vector_samples(int n = kSeries);

}  // namespace bench
