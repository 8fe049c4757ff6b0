// promwatch watching itself: when the real Prometheus it queries is stopped, a
// PromwatchDatasourceDown alert goes through normal routing to the webhook sink and the dead
// man's switch stops pinging; when Prometheus is back, the alert resolves and pings resume.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

bool sink_saw(const TestHttpServer& sink, const std::string& status) {
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || body["groupLabels"].value("alertname", "") != "PromwatchDatasourceDown") continue;
    if (body["status"] == status) return true;
  }
  return false;
}

TEST(DatasourceDown, AlertsThroughRoutingAndStopsTheDeadMansSwitch) {
  TinyExporter exporter;
  exporter.set("some_metric", 1);
  PrometheusProcess prometheus("", {exporter.address()});
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log();
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  TestHttpServer deadman([](const TestRequest&) { return TestResponse{200, {}, "OK"}; });

  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + prometheus.url() + R"("
timeout = "500ms"
retries = 0
down_after = 2
[server]
listen = "{{LISTEN}}"
[deadman]
url = ")" + deadman.url() + R"(/ping/uuid"
interval = "1s"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "1s"
group_interval = "1s"
)",
                             {{"rules.toml", R"([[groups]]
name = "g"
interval = "1s"
[[groups.rules]]
alert = "Never"
expr = 'some_metric > 100'
[[groups.rules]]
alert = "AlsoNever"
expr = 'some_metric < 0'
)"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  // Healthy: the dead man's switch is pinged about every second.
  ASSERT_TRUE(deadman.wait_for_requests(3, 15s)) << promwatch.process().log();
  EXPECT_EQ(deadman.requests().front().method, "GET");
  EXPECT_EQ(deadman.requests().front().path, "/ping/uuid");

  prometheus.stop();
  ASSERT_TRUE(wait_until([&] { return sink_saw(sink, "firing"); }, 20s)) << promwatch.process().log();
  EXPECT_NE(http_get(promwatch.url() + "/metrics").body.find("promwatch_datasource_up 0"), std::string::npos);
  // Pings stop: at most one more in the following few seconds (one may have been due).
  std::this_thread::sleep_for(1500ms);
  std::size_t pings = deadman.request_count();
  std::this_thread::sleep_for(3s);
  EXPECT_LE(deadman.request_count(), pings + 1) << "the dead man's switch kept pinging while every query failed";

  prometheus.restart();
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log();
  ASSERT_TRUE(wait_until([&] { return sink_saw(sink, "resolved"); }, 30s)) << promwatch.process().log();
  EXPECT_NE(http_get(promwatch.url() + "/metrics").body.find("promwatch_datasource_up 1"), std::string::npos);
  pings = deadman.request_count();
  EXPECT_TRUE(deadman.wait_for_requests(pings + 2, 10s)) << "pings did not resume";

  // The alert named the datasource without leaking anything but scheme and host.
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || body["groupLabels"].value("alertname", "") != "PromwatchDatasourceDown") continue;
    EXPECT_EQ(body["alerts"][0]["labels"]["datasource"].get<std::string>().rfind("http://127.0.0.1:", 0), 0u);
    EXPECT_NE(body["alerts"][0]["annotations"]["description"].get<std::string>().find("Last error"), std::string::npos);
  }
}

}  // namespace
}  // namespace promwatch::test
