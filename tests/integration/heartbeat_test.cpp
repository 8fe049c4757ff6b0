// Heartbeat rules against a real Prometheus scraping three exporters: the one that stops
// answering fires exactly one alert naming it, an expected member that never existed fires,
// and the stopped one resolves (and is notified) once it answers again.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::map<std::string, std::string> member_states(const std::string& url) {
  std::map<std::string, std::string> out;
  json body = json::parse(http_get(url + "/api/v1/heartbeats").body, nullptr, false);
  if (body.is_discarded() || body["data"]["heartbeats"].empty()) return out;
  for (const auto& m : body["data"]["heartbeats"][0]["members"]) out[m["labels"]["instance"]] = m["state"];
  return out;
}

std::vector<std::string> firing_instances(const std::string& url) {
  std::vector<std::string> out;
  json body = json::parse(http_get(url + "/api/v1/alerts").body, nullptr, false);
  if (body.is_discarded()) return out;
  for (const auto& a : body["data"]["alerts"]) {
    if (a["state"] == "firing" && a["labels"]["alertname"] == "TargetStoppedReporting") {
      out.push_back(a["labels"]["instance"]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Heartbeats, NamesTheInstanceThatStoppedReporting) {
  TinyExporter a, b, c;
  for (auto* e : {&a, &b, &c}) e->set("some_metric", 1);
  PrometheusProcess prometheus("", {a.address(), b.address(), c.address()});
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log();
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });

  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + prometheus.url() + R"("
[server]
listen = "{{LISTEN}}"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["alertname", "instance"]
group_wait = "1s"
group_interval = "1s"
)",
                             {{"rules.toml", R"([[groups]]
name = "availability"
interval = "1s"

[[groups.heartbeats]]
name = "TargetStoppedReporting"
expr = 'up{job="test"}'
by = ["instance"]
for = "3s"
expected = ["127.0.0.1:1"]
labels = { severity = "critical" }
annotations = { summary = "{{ $labels.instance }} stopped reporting" }
)"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  // All three scraped targets are up; the expected one that never existed is missing and fires.
  ASSERT_TRUE(wait_until(
      [&] {
        auto states = member_states(promwatch.url());
        return states[a.address()] == "up" && states[b.address()] == "up" && states[c.address()] == "up";
      },
      30s))
      << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return firing_instances(promwatch.url()) == std::vector<std::string>{"127.0.0.1:1"}; }, 15s))
      << http_get(promwatch.url() + "/api/v1/heartbeats").body;

  // b stops answering scrapes: after `for`, exactly one more alert, naming b.
  b.set_failing(true);
  std::vector<std::string> expected{"127.0.0.1:1", b.address()};
  std::sort(expected.begin(), expected.end());
  ASSERT_TRUE(wait_until([&] { return firing_instances(promwatch.url()) == expected; }, 20s))
      << http_get(promwatch.url() + "/api/v1/heartbeats").body;
  EXPECT_EQ(member_states(promwatch.url())[b.address()], "firing");
  EXPECT_EQ(member_states(promwatch.url())[a.address()], "up");

  // Killed and restarted while b is down: b is still a known member, its alert still firing
  // with the same activeAt.
  auto active_at_of_b = [&] {
    json body = json::parse(http_get(promwatch.url() + "/api/v1/alerts").body, nullptr, false);
    if (body.is_discarded()) return std::string();
    for (const auto& a : body["data"]["alerts"]) {
      if (a["labels"]["instance"] == b.address() && a["state"] == "firing") return a["activeAt"].get<std::string>();
    }
    return std::string();
  };
  std::string b_since = active_at_of_b();
  ASSERT_FALSE(b_since.empty());
  std::this_thread::sleep_for(1500ms);  // one round written after the alert fired
  promwatch.process().kill_now();
  promwatch.restart();
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  EXPECT_EQ(member_states(promwatch.url())[b.address()], "firing");
  EXPECT_EQ(active_at_of_b(), b_since);

  // b answers again: resolved, and the resolution is notified.
  b.set_failing(false);
  ASSERT_TRUE(wait_until([&] { return firing_instances(promwatch.url()) == std::vector<std::string>{"127.0.0.1:1"}; }, 20s));
  bool resolved_notified = wait_until(
      [&] {
        for (const auto& r : sink.requests()) {
          json body = json::parse(r.body, nullptr, false);
          if (!body.is_discarded() && body["status"] == "resolved" && body["groupLabels"]["instance"] == b.address()) {
            return true;
          }
        }
        return false;
      },
      15s);
  EXPECT_TRUE(resolved_notified) << promwatch.process().log();
}

}  // namespace
}  // namespace promwatch::test
