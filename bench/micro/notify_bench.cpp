// The notification path of workload 2: 10,000 firing alerts in one aggregation group. What the
// dispatcher keeps per alert, what one notification about them costs, and the time to write
// their webhook message (heap bytes via mallinfo2, as state_bench).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "promwatch/notify.hpp"

using namespace std::chrono_literals;

namespace {

const promwatch::TimePoint t0(std::chrono::seconds(1'764'000'000));

// The events evaluation hands over for workload 2's samples: final labels with alertname and
// severity, the expanded summary, a generator URL.
std::vector<promwatch::AlertEvent> events(int n) {
  std::vector<promwatch::AlertEvent> out;
  out.reserve(static_cast<std::size_t>(n));
  for (const auto& s : bench::vector_samples(n)) {
    promwatch::AlertEvent e;
    const std::string instance(s.labels.get("instance"));
    e.labels = promwatch::Labels{{"alertname", "W2Big"},
                                 {"instance", instance},
                                 {"job", std::string(s.labels.get("job"))},
                                 {"region", std::string(s.labels.get("region"))},
                                 {"severity", "warning"}};
    e.annotations = promwatch::Labels{
        {"summary", instance + " of bench is at " + std::to_string(s.value)}};
    e.starts_at = t0;
    e.generator_url = "http://127.0.0.1:19480/#rule-w2%2FW2Big";
    out.push_back(std::move(e));
  }
  return out;
}

promwatch::Dispatcher dispatcher() {
  promwatch::RouteConfig route;
  route.receiver = "sink";
  route.group_by = {"alertname"};
  route.group_wait = 1s;
  route.group_interval = 1min;
  route.repeat_interval = 1h;
  promwatch::ReceiverConfig sink;
  sink.name = "sink";
  return promwatch::Dispatcher(route, {sink}, "http://127.0.0.1:19480");
}

std::size_t heap_in_use() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

// Heap bytes per alert: held by the dispatcher after `receive` (the events themselves, moved
// in, and its index of them), and added by the notification that `collect_due` returns (the
// alerts are shared with it, not copied).
void BM_DispatcherMemoryPerAlert(benchmark::State& state) {
  for (auto _ : state) {
    auto d = dispatcher();
    const auto before = heap_in_use();
    auto evs = events(bench::kSeries);
    d.receive(std::move(evs), t0);
    evs = {};
    const auto received = heap_in_use();
    auto due = d.collect_due(t0 + 1s);
    if (due.size() != 1 || due[0].alerts.size() != static_cast<std::size_t>(bench::kSeries)) std::abort();
    const auto collected = heap_in_use();
    state.counters["held_bytes_per_alert"] = static_cast<double>(received - before) / bench::kSeries;
    state.counters["notification_bytes_per_alert"] = static_cast<double>(collected - received) / bench::kSeries;
  }
}
BENCHMARK(BM_DispatcherMemoryPerAlert)->Iterations(1)->Unit(benchmark::kMillisecond);

// Workload 3's shape: 100,000 alerts of 10,000 rules (10 each), routed with group_by alertname
// into 10,000 groups. Labels alertname, job, rule, severity, shard; the expanded summary; the
// rule's generator URL, shared by the rule's events as the daemon makes them.
std::vector<promwatch::AlertEvent> w3_events() {
  std::vector<promwatch::AlertEvent> out;
  out.reserve(100000);
  promwatch::SharedText url;
  for (int i = 0; i < 100000; ++i) {
    const int rule = i / 10;
    if (i % 10 == 0) {
      url = "http://127.0.0.1:18480/#rule-w3_g" + std::to_string(rule / 100) + "%2FW3Rule" + std::to_string(rule);
    }
    promwatch::AlertEvent e;
    e.labels = promwatch::Labels{{"alertname", "W3Rule" + std::to_string(rule)},
                                 {"job", "bench"},
                                 {"rule", std::to_string(rule)},
                                 {"severity", "warning"},
                                 {"shard", std::to_string(i % 10)}};
    e.annotations = promwatch::Labels{{"summary", " of bench is at 1"}};
    e.starts_at = t0;
    e.generator_url = url;
    out.push_back(std::move(e));
  }
  return out;
}

// What one alert held by the dispatcher costs in workload 3, and of what: heap bytes (mallinfo2,
// malloc's chunk overhead included) of each part of the events, measured by building the events
// with only that part, the shared event blocks themselves, and the rest (the groups' maps of
// alerts and the groups). `beside_rule`: what the dispatcher adds when the rule that made the
// events still holds their labels and annotations, as in the daemon.
void BM_DispatcherMemoryPerAlertW3(benchmark::State& state) {
  constexpr double kAlerts = 100000;
  for (auto _ : state) {
    // The parts, each alone: the vector's own storage is allocated before the measurement.
    auto part = [&](auto keep) {
      std::vector<promwatch::AlertEvent> evs;
      evs.reserve(100000);
      const auto before = heap_in_use();
      {
        auto all = w3_events();
        for (auto& e : all) {
          promwatch::AlertEvent kept;
          keep(kept, e);
          evs.push_back(std::move(kept));
        }
      }
      return static_cast<double>(heap_in_use() - before) / kAlerts;
    };
    const double labels = part([](auto& k, auto& e) { k.labels = std::move(e.labels); });
    const double annotations = part([](auto& k, auto& e) { k.annotations = std::move(e.annotations); });
    const double url = part([](auto& k, auto& e) { k.generator_url = std::move(e.generator_url); });
    double block = 0;
    {
      std::vector<std::shared_ptr<const promwatch::AlertEvent>> blocks;
      blocks.reserve(100000);
      const auto before = heap_in_use();
      for (int i = 0; i < 100000; ++i) blocks.push_back(std::make_shared<const promwatch::AlertEvent>());
      block = static_cast<double>(heap_in_use() - before) / kAlerts;
    }

    auto d = dispatcher();
    const auto before = heap_in_use();
    auto evs = w3_events();
    d.receive(std::move(evs), t0);
    evs = {};
    const auto received = heap_in_use();
    if (d.group_count() != 10000 || d.alert_count() != 100000) std::abort();
    const double held = static_cast<double>(received - before) / kAlerts;
    // As in the daemon: the rule keeps the alert's labels and annotations, and the event is
    // made from copies of them (no external labels). What the dispatcher adds beside the rule:
    double beside_rule = 0;
    {
      auto rule_side = w3_events();
      auto d2 = dispatcher();
      const auto at = heap_in_use();
      std::vector<promwatch::AlertEvent> copies(rule_side.begin(), rule_side.end());
      d2.receive(std::move(copies), t0);
      copies = {};
      beside_rule = static_cast<double>(heap_in_use() - at) / kAlerts;
    }
    state.counters["held_bytes_per_alert"] = held;
    state.counters["beside_rule"] = beside_rule;
    state.counters["labels"] = labels;
    state.counters["annotations"] = annotations;
    state.counters["generator_url"] = url;
    state.counters["event_block"] = block;
    state.counters["maps_and_groups"] = held - labels - annotations - url - block;
  }
}
BENCHMARK(BM_DispatcherMemoryPerAlertW3)->Iterations(1)->Unit(benchmark::kMillisecond);

// Writing the webhook message for the 10,000 alerts.
void BM_WebhookPayload10k(benchmark::State& state) {
  auto d = dispatcher();
  d.receive(events(bench::kSeries), t0);
  auto due = d.collect_due(t0 + 1s);
  if (due.size() != 1) std::abort();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string body = promwatch::webhook_payload(due[0]);
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["body_bytes_per_alert"] = static_cast<double>(bytes) / bench::kSeries;
}
BENCHMARK(BM_WebhookPayload10k)->Unit(benchmark::kMillisecond);

// The Alertmanager API body for the same 10,000 alerts.
void BM_AlertmanagerPayload10k(benchmark::State& state) {
  const auto evs = events(bench::kSeries);
  for (auto _ : state) {
    std::string body = promwatch::alertmanager_v2_payload(evs);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations() * bench::kSeries);
}
BENCHMARK(BM_AlertmanagerPayload10k)->Unit(benchmark::kMillisecond);

}  // namespace
