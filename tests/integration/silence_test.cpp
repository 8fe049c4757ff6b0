// What mutes notifications, end to end: a runtime silence created with the real `amtool`
// against promwatch's Alertmanager v2 API, an inhibition rule (also one added by a reload), and a
// static [[silences]] window. Muted alerts are still evaluated and listed; only their
// notifications stop.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <fstream>
#include <iterator>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// X: critical and warning on instance a (the warning one is inhibited); Y: to be silenced with
// amtool; Z: silenced by the static window.
std::string vector_for(const std::string& query) {
  std::string series;
  if (query.rfind("x", 0) == 0) {
    series = R"({"metric":{"__name__":"x","instance":"a","severity":"critical"},"value":[1700000000,"1"]},
{"metric":{"__name__":"x","instance":"a","severity":"warning"},"value":[1700000000,"1"]})";
  } else if (query.rfind("y", 0) == 0) {
    series = R"({"metric":{"__name__":"y","instance":"b"},"value":[1700000000,"1"]})";
  } else {
    series = R"({"metric":{"__name__":"z","instance":"c"},"value":[1700000000,"1"]})";
  }
  return R"({"status":"success","data":{"resultType":"vector","result":[)" + series + "]}}";
}

std::set<std::string> notified(const TestHttpServer& sink) {
  std::set<std::string> out;
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded()) continue;
    for (const auto& a : body["alerts"]) {
      out.insert(a["labels"]["alertname"].get<std::string>() + "/" + a["labels"].value("severity", ""));
    }
  }
  return out;
}

TEST(Muting, AmtoolSilenceInhibitionAndStaticWindow) {
  TestHttpServer datasource([](const TestRequest& request) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    auto query = request.form.find("query");
    r.body = vector_for(query == request.form.end() ? "" : query->second);
    return r;
  });
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["alertname", "severity"]
group_wait = "3s"
group_interval = "1s"

[[inhibit_rules]]
source_matchers = ['severity="critical"']
target_matchers = ['severity="warning"']
equal = ["instance"]

[[silences]]
matchers = ['alertname="Z"']
starts_at = "2020-01-01T00:00:00Z"
ends_at = "2099-01-01T00:00:00Z"
comment = "static window"
)",
                             {{"rules.toml", R"([[groups]]
name = "g"
interval = "1s"
[[groups.rules]]
alert = "X"
expr = 'x > 0'
[[groups.rules]]
alert = "Y"
expr = 'y > 0'
[[groups.rules]]
alert = "Z"
expr = 'z > 0'
)"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  // Silence Y with amtool before group_wait ends.
  std::string out;
  ASSERT_EQ(run_command({"/usr/bin/amtool", "--alertmanager.url=" + promwatch.url(), "silence", "add", "alertname=Y",
                         "--duration=1h", "--author=test", "--comment=maintenance"},
                        &out),
            0)
      << out;
  std::string silence_id = out.substr(0, out.find_first_of(" \n"));
  ASSERT_EQ(silence_id.size(), 36u) << out;

  // Within a few group intervals: only X/critical is notified.
  ASSERT_TRUE(wait_until([&] { return notified(sink).count("X/critical") > 0; }, 20s)) << promwatch.process().log();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(notified(sink), (std::set<std::string>{"X/critical"}));

  // Muted alerts are still evaluated and listed.
  json alerts = json::parse(http_get(promwatch.url() + "/api/v1/alerts").body);
  EXPECT_EQ(alerts["data"]["alerts"].size(), 4u);

  // amtool reads the silence back, and sees the alerts with their mute state.
  ASSERT_EQ(run_command({"/usr/bin/amtool", "--alertmanager.url=" + promwatch.url(), "silence", "query", "-o", "json"}, &out), 0)
      << out;
  json silences = json::parse(out);
  bool found = false;
  for (const auto& s : silences) found = found || s["id"] == silence_id;
  EXPECT_TRUE(found) << out;
  ASSERT_EQ(run_command({"/usr/bin/amtool", "--alertmanager.url=" + promwatch.url(), "alert", "query", "-o", "json",
                         "--active", "--silenced", "--inhibited"},
                        &out),
            0)
      << out;
  json am_alerts = json::parse(out);
  std::map<std::string, std::string> states;
  for (const auto& a : am_alerts) {
    states[a["labels"]["alertname"].get<std::string>() + "/" + a["labels"].value("severity", "")] = a["status"]["state"];
  }
  EXPECT_EQ(states["X/critical"], "active");
  EXPECT_EQ(states["X/warning"], "suppressed");
  EXPECT_EQ(states["Y/"], "suppressed");
  EXPECT_EQ(states["Z/"], "suppressed");

  // Expiring the silence lets Y through at the next flush.
  ASSERT_EQ(run_command({"/usr/bin/amtool", "--alertmanager.url=" + promwatch.url(), "silence", "expire", silence_id}, &out), 0)
      << out;
  EXPECT_TRUE(wait_until([&] { return notified(sink).count("Y/") > 0; }, 15s)) << promwatch.process().log();
  // The silence survives a restart (expired, but still listed).
  promwatch.process().stop();
  promwatch.restart();
  ASSERT_TRUE(promwatch.wait_healthy());
  json after = json::parse(http_get(promwatch.url() + "/api/v2/silences").body);
  found = false;
  for (const auto& s : after) found = found || s["id"] == silence_id;
  EXPECT_TRUE(found) << after.dump();
}

// Inhibit rules added by a reload apply to alerts that were already firing: the inhibitor keeps
// only alerts some rule can use as a source, so without rules it kept none, and the reload
// must tell it the firing alerts again. Removing the rule lifts the inhibition.
TEST(Muting, InhibitRuleAddedByReloadAppliesToFiringAlerts) {
  TestHttpServer datasource([](const TestRequest& request) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    auto query = request.form.find("query");
    r.body = vector_for(query == request.form.end() ? "" : query->second);
    return r;
  });
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
enable_lifecycle = true
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["alertname", "severity"]
group_wait = "1s"
group_interval = "1s"
)",
                             {{"rules.toml", R"([[groups]]
name = "g"
interval = "1s"
[[groups.rules]]
alert = "X"
expr = 'x > 0'
)"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  auto states = [&] {
    std::map<std::string, std::string> out;
    json alerts = json::parse(http_get(promwatch.url() + "/api/v2/alerts").body, nullptr, false);
    if (!alerts.is_array()) return out;
    for (const auto& a : alerts) {
      out[a["labels"]["alertname"].get<std::string>() + "/" + a["labels"].value("severity", "")] =
          a["status"]["state"];
    }
    return out;
  };
  const std::map<std::string, std::string> both_active{{"X/critical", "active"}, {"X/warning", "active"}};
  ASSERT_TRUE(wait_until([&] { return states() == both_active; }, 20s)) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return notified(sink).count("X/warning") > 0; }, 20s)) << promwatch.process().log();

  std::string config;
  {
    std::ifstream in(promwatch.config_path());
    config.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto reload = [&](const std::string& text) {
    promwatch.dir().write("promwatch.toml", text);
    HttpResult r = http_request("POST", promwatch.url() + "/-/reload", "", {});
    EXPECT_EQ(r.status, 200) << r.body << promwatch.process().log();
  };
  reload(config + R"(
[[inhibit_rules]]
source_matchers = ['severity="critical"']
target_matchers = ['severity="warning"']
equal = ["instance"]
)");
  // At once: no evaluation or notification is needed for the critical alert to count.
  EXPECT_EQ(states(), (std::map<std::string, std::string>{{"X/critical", "active"}, {"X/warning", "suppressed"}}))
      << promwatch.process().log();

  reload(config);
  EXPECT_EQ(states(), both_active) << promwatch.process().log();
}

}  // namespace
}  // namespace promwatch::test
