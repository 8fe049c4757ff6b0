// The same rules loaded into a real Prometheus (YAML) and into promwatch (TOML), both reading
// one tiny exporter whose values the test changes: promwatch's alert timeline (pending,
// firing, resolved, activeAt) must match Prometheus's own within one evaluation interval, and
// the notifications at a webhook sink must be Alertmanager's webhook JSON, field for field.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "promwatch/labels.hpp"
#include "promwatch/time.hpp"
#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kPrometheusRules = R"(groups:
- name: parity
  interval: 1s
  rules:
  - alert: InstantAlert
    expr: 'test_value{case="instant"} > 0'
    labels: { severity: page }
    annotations: { summary: '{{ $labels.case }} is {{ $value }}' }
  - alert: DelayedAlert
    expr: 'test_value{case="delayed"} > 0'
    for: 4s
  - alert: KeepFiringAlert
    expr: 'test_value{case="keep"} > 0'
    keep_firing_for: 4s
  - alert: BrokenQuery
    expr: 'test_value + on() group_left test_value'
)";

constexpr const char* kPromwatchRules = R"([[groups]]
name = "parity"
interval = "1s"

[[groups.rules]]
alert = "InstantAlert"
expr = 'test_value{case="instant"} > 0'
labels = { severity = "page" }
annotations = { summary = '{{ $labels.case }} is {{ $value }}' }

[[groups.rules]]
alert = "DelayedAlert"
expr = 'test_value{case="delayed"} > 0'
for = "4s"

[[groups.rules]]
alert = "KeepFiringAlert"
expr = 'test_value{case="keep"} > 0'
keep_firing_for = "4s"

[[groups.rules]]
alert = "BrokenQuery"
expr = 'test_value + on() group_left test_value'
)";

// One observation of one alert in one system.
struct Observation {
  SteadyTime at;
  std::string state;  // "pending" | "firing" | "" (absent)
  std::string active_at;
};

using Timeline = std::map<std::string, std::vector<Observation>>;  // by alertname

void observe(const std::string& base_url, const std::vector<std::string>& names, Timeline& timeline) {
  HttpResult r = http_get(base_url + "/api/v1/alerts", 2s);
  SteadyTime at = std::chrono::steady_clock::now();
  std::map<std::string, Observation> seen;
  if (r.status == 200) {
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_discarded()) {
      for (const auto& alert : body["data"]["alerts"]) {
        seen[alert["labels"]["alertname"].get<std::string>()] =
            Observation{at, alert["state"].get<std::string>(), alert["activeAt"].get<std::string>()};
      }
    }
  }
  for (const auto& name : names) {
    auto it = seen.find(name);
    timeline[name].push_back(it != seen.end() ? it->second : Observation{at, "", ""});
  }
}

// The first time at or after `after` that the alert was in `state`; nullopt if never.
std::optional<SteadyTime> first_time(const std::vector<Observation>& obs, const std::string& state, SteadyTime after) {
  for (const auto& o : obs) {
    if (o.at >= after && o.state == state) return o.at;
  }
  return std::nullopt;
}

std::optional<TimePoint> first_active_at(const std::vector<Observation>& obs) {
  for (const auto& o : obs) {
    if (!o.active_at.empty()) return parse_time(o.active_at);
  }
  return std::nullopt;
}

double seconds_between(SteadyTime a, SteadyTime b) { return std::chrono::duration<double>(a - b).count(); }

class PrometheusParity : public ::testing::Test {
 protected:
  void SetUp() override {
    exporter_.set(R"(test_value{case="instant"})", 0);
    exporter_.set(R"(test_value{case="delayed"})", 0);
    exporter_.set(R"(test_value{case="keep"})", 0);
    prometheus_ = std::make_unique<PrometheusProcess>(kPrometheusRules, std::vector<std::string>{exporter_.address()});
    ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
    sink_ = std::make_unique<TestHttpServer>([](const TestRequest&) { return TestResponse{}; });
    std::string config = R"([global]
evaluation_interval = "1s"
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
external_url = "http://promwatch.test:9097"
external_labels = { cluster = "test" }

[datasource]
url = ")" + prometheus_->url() + R"("
timeout = "2s"

[server]
listen = "{{LISTEN}}"

[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink_->url() + R"(/hook"

[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "1s"
group_interval = "1s"
repeat_interval = "1h"
)";
    promwatch_ = std::make_unique<PromwatchProcess>(config, std::map<std::string, std::string>{{"rules.toml", kPromwatchRules}});
    ASSERT_TRUE(promwatch_->wait_healthy()) << promwatch_->process().log();
  }

  TinyExporter exporter_;
  std::unique_ptr<PrometheusProcess> prometheus_;
  std::unique_ptr<TestHttpServer> sink_;
  std::unique_ptr<PromwatchProcess> promwatch_;
};

TEST_F(PrometheusParity, AlertTimelinesMatchPrometheus) {
  const std::vector<std::string> names{"InstantAlert", "DelayedAlert", "KeepFiringAlert"};
  Timeline prom;
  Timeline pw;
  auto watch = [&](std::chrono::milliseconds duration) {
    auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      observe(prometheus_->url(), names, prom);
      observe(promwatch_->url(), names, pw);
      std::this_thread::sleep_for(100ms);
    }
  };
  // Both have scraped zeros and evaluated a few rounds before anything changes.
  watch(4s);
  for (const auto& name : names) {
    EXPECT_FALSE(first_time(pw[name], "firing", {}).has_value()) << name << " fired before its series did";
  }

  SteadyTime raised = std::chrono::steady_clock::now();
  exporter_.set(R"(test_value{case="instant"})", 1);
  exporter_.set(R"(test_value{case="delayed"})", 1);
  exporter_.set(R"(test_value{case="keep"})", 1);
  watch(9s);
  SteadyTime lowered = std::chrono::steady_clock::now();
  exporter_.set(R"(test_value{case="instant"})", 0);
  exporter_.set(R"(test_value{case="delayed"})", 0);
  exporter_.set(R"(test_value{case="keep"})", 0);
  watch(10s);

  // One evaluation interval (1 s) plus the polling period.
  constexpr double kTolerance = 1.5;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    auto prom_firing = first_time(prom[name], "firing", raised);
    auto pw_firing = first_time(pw[name], "firing", raised);
    ASSERT_TRUE(prom_firing.has_value()) << "Prometheus never fired";
    ASSERT_TRUE(pw_firing.has_value()) << "promwatch never fired\n" << promwatch_->process().log();
    EXPECT_NEAR(seconds_between(*pw_firing, raised), seconds_between(*prom_firing, raised), kTolerance);

    auto prom_active = first_active_at(prom[name]);
    auto pw_active = first_active_at(pw[name]);
    ASSERT_TRUE(prom_active && pw_active);
    EXPECT_LE(std::abs(to_unix_seconds(*pw_active) - to_unix_seconds(*prom_active)), kTolerance);

    // Gone from both APIs (resolved) at about the same time.
    auto prom_gone = first_time(prom[name], "", lowered);
    auto pw_gone = first_time(pw[name], "", lowered);
    ASSERT_TRUE(prom_gone && pw_gone);
    EXPECT_NEAR(seconds_between(*pw_gone, lowered), seconds_between(*prom_gone, lowered), kTolerance);
  }

  // `for = 4s`: pending first, firing about 4 s later, in both.
  auto pw_pending = first_time(pw["DelayedAlert"], "pending", raised);
  ASSERT_TRUE(pw_pending.has_value());
  double pending_for = seconds_between(*first_time(pw["DelayedAlert"], "firing", raised), *pw_pending);
  EXPECT_GE(pending_for, 3.0);
  EXPECT_LE(pending_for, 5.5);
  // keep_firing_for = 4s holds the alert after its series went to 0, in both.
  EXPECT_GE(seconds_between(*first_time(pw["KeepFiringAlert"], "", lowered), lowered), 3.0);
  EXPECT_GE(seconds_between(*first_time(prom["KeepFiringAlert"], "", lowered), lowered), 3.0);

  // A query Prometheus cannot execute: health err in both, the reason in lastError.
  auto rule_health = [](const std::string& url) {
    json body = json::parse(http_get(url + "/api/v1/rules").body);
    for (const auto& rule : body["data"]["groups"][0]["rules"]) {
      if (rule["name"] == "BrokenQuery") return std::make_pair(rule["health"].get<std::string>(), rule.value("lastError", ""));
    }
    return std::make_pair(std::string("missing"), std::string());
  };
  auto [prom_health, prom_error] = rule_health(prometheus_->url());
  auto [pw_health, pw_error] = rule_health(promwatch_->url());
  EXPECT_EQ(prom_health, "err");
  EXPECT_EQ(pw_health, "err");
  EXPECT_NE(pw_error.find("duplicate series"), std::string::npos) << pw_error;

  // The webhook sink got Alertmanager's webhook JSON for InstantAlert, firing then resolved.
  std::vector<json> instant;
  for (const auto& request : sink_->requests()) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.path, "/hook");
    EXPECT_EQ(request.headers.at("content-type"), "application/json");
    json body = json::parse(request.body);
    if (body["groupLabels"].value("alertname", "") == "InstantAlert") instant.push_back(body);
  }
  ASSERT_GE(instant.size(), 2u) << promwatch_->process().log();
  const json& firing = instant.front();
  EXPECT_EQ(firing["version"], "4");
  EXPECT_EQ(firing["status"], "firing");
  EXPECT_EQ(firing["receiver"], "sink");
  EXPECT_EQ(firing["groupKey"], "{}:{alertname=\"InstantAlert\"}");
  EXPECT_EQ(firing["truncatedAlerts"], 0);
  EXPECT_EQ(firing["externalURL"], "http://promwatch.test:9097");
  EXPECT_EQ(firing["groupLabels"], json({{"alertname", "InstantAlert"}}));
  EXPECT_EQ(firing["commonAnnotations"], json({{"summary", "instant is 1"}}));
  ASSERT_EQ(firing["alerts"].size(), 1u);
  const json& alert = firing["alerts"][0];
  EXPECT_EQ(alert["status"], "firing");
  EXPECT_EQ(alert["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_TRUE(parse_time(alert["startsAt"].get<std::string>()).has_value());
  EXPECT_EQ(alert["generatorURL"].get<std::string>().rfind("http://promwatch.test:9097/", 0), 0u);
  json labels = alert["labels"];
  EXPECT_EQ(labels["alertname"], "InstantAlert");
  EXPECT_EQ(labels["case"], "instant");
  EXPECT_EQ(labels["severity"], "page");
  EXPECT_EQ(labels["cluster"], "test");  // external label
  EXPECT_EQ(labels["job"], "test");
  EXPECT_FALSE(labels.contains("__name__"));
  EXPECT_EQ(firing["commonLabels"], labels);
  std::vector<Label> pairs;
  for (const auto& [k, v] : labels.items()) pairs.push_back({k, v.get<std::string>()});
  EXPECT_EQ(alert["fingerprint"], fingerprint_hex(Labels(pairs).fingerprint()));

  const json& resolved = instant.back();
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["alerts"][0]["status"], "resolved");
  EXPECT_NE(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(resolved["alerts"][0]["fingerprint"], alert["fingerprint"]);
}

}  // namespace
}  // namespace promwatch::test
