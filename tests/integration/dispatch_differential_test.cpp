// Differential test of routing, grouping and inhibition against a real Alertmanager 0.25: one
// promwatch evaluates the rules, forwards its alert stream to Alertmanager ([[alertmanagers]])
// and routes the same stream through its own dispatcher. Both have equivalent route trees
// (nested routes, continue, group_by) and inhibit rules, and deliver to webhook sinks. Each
// (receiver, group) must end with the same alerts in the same state at both sinks.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// (receiver, groupKey) -> the last message's status and its alerts as "fingerprint:status".
using Outcome = std::map<std::pair<std::string, std::string>, std::pair<std::string, std::set<std::string>>>;

Outcome outcome(const TestHttpServer& sink) {
  Outcome out;
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded()) continue;
    std::set<std::string> alerts;
    for (const auto& a : body["alerts"]) alerts.insert(a["fingerprint"].get<std::string>() + ":" + a["status"].get<std::string>());
    out[{body["receiver"], body["groupKey"]}] = {body["status"], alerts};
  }
  return out;
}

std::string describe(const Outcome& o) {
  std::string s;
  for (const auto& [key, value] : o) {
    s += key.first + " " + key.second + " -> " + value.first + " [";
    for (const auto& a : value.second) s += a + " ";
    s += "]\n";
  }
  return s;
}

TEST(DispatchDifferential, SameNotificationsAsAlertmanager) {
  std::atomic<int> phase{1};
  TestHttpServer datasource([&](const TestRequest&) {
    // Phase 1: four series; phase 2: db on i2 is gone (resolves).
    std::string series =
        R"({"metric":{"instance":"i1","team":"db","severity":"critical"},"value":[1700000000,"1"]},
{"metric":{"instance":"i1","team":"web","severity":"warning"},"value":[1700000000,"1"]},
{"metric":{"instance":"i3","team":"web","severity":"warning"},"value":[1700000000,"1"]})";
    if (phase == 1) series += R"(,{"metric":{"instance":"i2","team":"db","severity":"warning"},"value":[1700000000,"1"]})";
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[)" + series + "]}}";
    return r;
  });
  TestHttpServer am_sink([](const TestRequest&) { return TestResponse{}; });
  TestHttpServer pw_sink([](const TestRequest&) { return TestResponse{}; });

  auto am_receiver = [&](const std::string& name) {
    return "- name: " + name + "\n  webhook_configs:\n  - url: " + am_sink.url() + "/" + name + "\n    send_resolved: true\n";
  };
  AlertmanagerProcess alertmanager(R"(route:
  receiver: default
  group_by: [alertname]
  group_wait: 2s
  group_interval: 2s
  repeat_interval: 1h
  routes:
  - matchers: ['team="db"']
    receiver: team-db
    group_by: [alertname, instance]
    continue: true
  - matchers: ['severity=~"critical|warning"', 'team="web"']
    receiver: team-web
inhibit_rules:
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [instance]
receivers:
)" + am_receiver("default") + am_receiver("team-db") + am_receiver("team-web"));
  ASSERT_TRUE(alertmanager.wait_ready()) << alertmanager.process().log();

  auto pw_receiver = [&](const std::string& name) {
    return "[[receivers]]\nname = \"" + name + "\"\ntype = \"webhook\"\nurl = \"" + pw_sink.url() + "/" + name + "\"\n";
  };
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
external_labels = { cluster = "test" }
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
[[alertmanagers]]
url = ")" + alertmanager.url() + R"("
resend_delay = "1s"
)" + pw_receiver("default") + pw_receiver("team-db") + pw_receiver("team-web") + R"(
[route]
receiver = "default"
group_by = ["alertname"]
group_wait = "2s"
group_interval = "2s"
repeat_interval = "1h"
[[route.routes]]
matchers = ['team="db"']
receiver = "team-db"
group_by = ["alertname", "instance"]
continue = true
[[route.routes]]
matchers = ['severity=~"critical|warning"', 'team="web"']
receiver = "team-web"

[[inhibit_rules]]
source_matchers = ['severity="critical"']
target_matchers = ['severity="warning"']
equal = ["instance"]
)",
                             {{"rules.toml", "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"Load\"\nexpr = 'load > 0'\n"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  // Firing: wait until both have settled on the same outcome.
  auto settled = [&](std::chrono::seconds timeout) {
    return wait_until(
        [&] {
          Outcome a = outcome(am_sink);
          return !a.empty() && a == outcome(pw_sink);
        },
        timeout);
  };
  EXPECT_TRUE(settled(30s)) << "Alertmanager:\n" << describe(outcome(am_sink)) << "promwatch:\n" << describe(outcome(pw_sink));
  Outcome firing = outcome(pw_sink);
  // The route tree did what it says: db alerts go to team-db per instance (`continue` tries the
  // next sibling, which does not match them; the parent's receiver is used only when no child
  // matches); the inhibited web warning on i1 is in no message; web i3 goes to team-web.
  std::set<std::string> receivers;
  for (const auto& [key, value] : firing) receivers.insert(key.first);
  EXPECT_EQ(receivers, (std::set<std::string>{"team-db", "team-web"})) << describe(firing);
  EXPECT_EQ(firing.at({"team-web", "{}/{severity=~\"critical|warning\",team=\"web\"}:{alertname=\"Load\"}"}).second.size(), 1u)
      << "the inhibited warning on i1 was notified: " << describe(firing);
  EXPECT_EQ(firing.count({"team-db", "{}/{team=\"db\"}:{alertname=\"Load\", instance=\"i1\"}"}), 1u) << describe(firing);

  // Resolved: db on i2 goes away; both send the resolution to the same groups.
  phase = 2;
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(wait_until(
      [&] {
        Outcome a = outcome(am_sink);
        return a != firing && a == outcome(pw_sink);
      },
      30s))
      << "Alertmanager:\n" << describe(outcome(am_sink)) << "promwatch:\n" << describe(outcome(pw_sink));
}

}  // namespace
}  // namespace promwatch::test
