// Forwarding to a real Alertmanager ([[alertmanagers]]): the alert promwatch evaluates against a
// real Prometheus shows up in Alertmanager's own API with its labels (external labels applied),
// annotations and generatorURL, and disappears from it once resolved.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::optional<json> find_alert(const std::string& am_url, const std::string& name) {
  HttpResult r = http_get(am_url + "/api/v2/alerts");
  if (r.status != 200) return std::nullopt;
  json alerts = json::parse(r.body, nullptr, false);
  if (alerts.is_discarded()) return std::nullopt;
  for (const auto& a : alerts) {
    if (a["labels"].value("alertname", "") == name) return a;
  }
  return std::nullopt;
}

TEST(Alertmanager, ForwardedAlertIsReadBackFromAlertmanager) {
  TinyExporter exporter;
  exporter.set(R"(test_value{case="am"})", 1);
  PrometheusProcess prometheus("", {exporter.address()});
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log();

  TestHttpServer am_sink([](const TestRequest&) { return TestResponse{}; });
  AlertmanagerProcess alertmanager(R"(route:
  receiver: sink
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
receivers:
- name: sink
  webhook_configs:
  - url: )" + am_sink.url() + "/am\n");
  ASSERT_TRUE(alertmanager.wait_ready()) << alertmanager.process().log();

  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
external_url = "http://promwatch.test"
external_labels = { cluster = "test" }

[datasource]
url = ")" + prometheus.url() + R"("

[server]
listen = "{{LISTEN}}"

[[alertmanagers]]
url = ")" + alertmanager.url() + R"("
resend_delay = "1s"
)",
                             {{"rules.toml", R"([[groups]]
name = "forward"
interval = "1s"

[[groups.rules]]
alert = "ForwardedAlert"
expr = 'test_value{case="am"} > 0'
labels = { severity = "warning" }
annotations = { summary = "value is {{ $value }}" }
)"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  std::optional<json> alert;
  ASSERT_TRUE(wait_until([&] { return (alert = find_alert(alertmanager.url(), "ForwardedAlert")).has_value(); }, 30s))
      << promwatch.process().log();
  EXPECT_EQ((*alert)["labels"]["cluster"], "test");
  EXPECT_EQ((*alert)["labels"]["severity"], "warning");
  EXPECT_EQ((*alert)["labels"]["case"], "am");
  EXPECT_EQ((*alert)["annotations"]["summary"], "value is 1");
  EXPECT_EQ((*alert)["status"]["state"], "active");
  EXPECT_EQ((*alert)["generatorURL"].get<std::string>().rfind("http://promwatch.test/", 0), 0u);

  // Alertmanager routes it on to its own receiver.
  EXPECT_TRUE(am_sink.wait_for_requests(1, 30s));

  // Resolved in promwatch -> endsAt sent -> gone from Alertmanager's list of active alerts.
  exporter.set(R"(test_value{case="am"})", 0);
  EXPECT_TRUE(wait_until(
      [&] {
        auto a = find_alert(alertmanager.url(), "ForwardedAlert");
        return !a.has_value() || (*a)["status"]["state"] != "active";
      },
      30s))
      << promwatch.process().log();
}

}  // namespace
}  // namespace promwatch::test
