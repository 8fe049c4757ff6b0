// AlertingRule::evaluate on 10,000 samples in steady state: every alert already firing, the
// same labels and values as the previous evaluation (the common case at every interval).
#include <benchmark/benchmark.h>

#include <chrono>

#include "fixtures.hpp"
#include "promwatch/rules.hpp"

using namespace std::chrono_literals;

namespace {

promwatch::TemplateText tt(std::string text) { return promwatch::TemplateText{std::move(text), {}}; }

promwatch::AlertingRule make_rule(bool with_templates) {
  promwatch::AlertRuleConfig rc;
  rc.alert = "W2Big";
  rc.expr = "bench_w2 > 0";
  rc.labels = {{"severity", tt("warning")}};
  if (with_templates) rc.annotations = {{"summary", tt("{{ $labels.instance }} of {{ $labels.job }} is at {{ $value }}")}};
  promwatch::RuleGroupConfig g;
  g.name = "w2";
  g.file = "/bench/rules.toml";
  g.interval = 5s;
  std::vector<promwatch::ConfigError> errors;
  auto rule = promwatch::AlertingRule::build(rc, g, {}, &errors);
  if (!rule) std::abort();
  return std::move(*rule);
}

void run(benchmark::State& state, bool with_templates) {
  promwatch::QueryOutcome outcome;
  outcome.ok = true;
  outcome.result.samples = bench::vector_samples(bench::kSeries);
  auto rule = make_rule(with_templates);
  promwatch::TimePoint t(std::chrono::seconds(1'764'000'000));
  auto first = rule.evaluate(outcome, t);  // creates and fires every alert
  if (!first.ok || rule.count(promwatch::AlertState::Firing) != bench::kSeries) std::abort();
  for (auto _ : state) {
    t += 5s;
    auto result = rule.evaluate(outcome, t);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
  state.counters["renders"] = static_cast<double>(rule.template_renders());
}

}  // namespace

static void BM_EvaluateSteady10k(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_EvaluateSteady10k)->Unit(benchmark::kMillisecond);
static void BM_EvaluateSteady10kNoAnnotations(benchmark::State& state) { run(state, false); }
BENCHMARK(BM_EvaluateSteady10kNoAnnotations)->Unit(benchmark::kMillisecond);

// Heap bytes the rule keeps per active alert (workload 3's shape: 5 labels and one expanded
// summary annotation), measured with mallinfo2 around the first evaluation of 100,000 samples.
#include <malloc.h>

static void BM_RuleMemoryPerAlert(benchmark::State& state) {
  constexpr int kAlerts = 100000;
  for (auto _ : state) {
    promwatch::QueryOutcome outcome;
    outcome.ok = true;
    outcome.result.samples.reserve(kAlerts);
    for (int i = 0; i < kAlerts; ++i) {
      outcome.result.samples.push_back(promwatch::Sample{
          promwatch::Labels{{"__name__", "bench_w3"}, {"job", "bench"}, {"rule", std::to_string(i / 10)},
                            {"shard", std::to_string(i % 10)}},
          1});
    }
    auto rule = std::make_unique<promwatch::AlertingRule>(make_rule(true));
    malloc_trim(0);
    const auto before = mallinfo2().uordblks;
    {
      auto result = rule->evaluate(outcome, promwatch::TimePoint(std::chrono::seconds(1'764'000'000)));
      benchmark::DoNotOptimize(result);
    }
    const auto after = mallinfo2().uordblks;
    state.counters["bytes_per_alert"] = static_cast<double>(after - before) / kAlerts;
  }
}
BENCHMARK(BM_RuleMemoryPerAlert)->Iterations(1)->Unit(benchmark::kMillisecond);
