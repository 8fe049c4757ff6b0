// Template::render_alert of a typical annotation.
#include <benchmark/benchmark.h>

#include "promwatch/labels.hpp"
#include "promwatch/template.hpp"

static void BM_RenderAlert(benchmark::State& state) {
  promwatch::TemplateError error;
  auto tmpl = promwatch::Template::compile(
      "summary", "{{ $labels.instance }} of {{ $labels.job }} is at {{ $value }}", &error);
  if (!tmpl) {
    state.SkipWithError("compile failed");
    return;
  }
  const promwatch::Labels labels{{"__name__", "bench_w2"}, {"instance", "host-1234:9100"},
                                 {"job", "bench"}, {"region", "r3"}};
  const promwatch::Labels external{{"cluster", "bench"}};
  promwatch::AlertTemplateData data{labels, 42.5, external, "http://127.0.0.1:9097"};
  for (auto _ : state) benchmark::DoNotOptimize(tmpl->render_alert(data));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderAlert);

static void BM_RenderAlertHumanize(benchmark::State& state) {
  promwatch::TemplateError error;
  auto tmpl = promwatch::Template::compile(
      "description", "{{ $labels.instance }}: {{ $value | humanizePercentage }} busy ({{ printf \"%.2f\" $value }})",
      &error);
  if (!tmpl) {
    state.SkipWithError("compile failed");
    return;
  }
  const promwatch::Labels labels{{"__name__", "bench_w2"}, {"instance", "host-1234:9100"}, {"job", "bench"}};
  const promwatch::Labels external;
  promwatch::AlertTemplateData data{labels, 0.9321, external, ""};
  for (auto _ : state) benchmark::DoNotOptimize(tmpl->render_alert(data));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderAlertHumanize);
