// Hysteresis (keep_firing_expr) and flap detection (#17) against a real Prometheus: one value
// wobbles around a threshold (95 / 85 around 90, every 3 s, then settles at 70), read by three
// rules of one promwatch, each notifying a webhook sink under its own alert name:
//   Plain      expr > 90                          : every wobble is a message (N of them);
//   Hysteresis expr > 90, keep_firing_expr > 80   : one firing message, one resolved;
//   Flapping   expr > 90, flap_threshold 3 in 8s  : firing, resolved, one flapping notice, and
//                                                   the settled (resolved) state 8 s after the
//                                                   last change.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"
#include "support/process.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kRules = R"([[groups]]
name = "wobble"
interval = "1s"

[[groups.rules]]
alert = "Plain"
expr = 'hf_temp > 90'

[[groups.rules]]
alert = "Hysteresis"
expr = 'hf_temp > 90'
keep_firing_expr = 'hf_temp > 80'

[[groups.rules]]
alert = "Flapping"
expr = 'hf_temp > 90'
flap_window = "8s"
flap_threshold = 3
)";

// One webhook message about one alert name: its status and the alert's annotations.
struct Message {
  std::string status;
  json annotations;
};

class Hysteresis : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exporter_ = new TinyExporter();
    exporter_->set("hf_temp", 70);
    prometheus_ = new PrometheusProcess("groups: []\n", {exporter_->address()}, 1);
    sink_ = new TestHttpServer([](const TestRequest&) { return TestResponse{}; });
  }
  static void TearDownTestSuite() {
    delete sink_;
    delete prometheus_;
    delete exporter_;
  }

  static std::string config() {
    return R"([global]
evaluation_interval = "1s"
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"

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
group_wait = "0s"
group_interval = "1s"
repeat_interval = "1h"
)";
  }

  static std::vector<Message> messages(const std::string& alertname) {
    std::vector<Message> out;
    for (const auto& request : sink_->requests()) {
      json body = json::parse(request.body, nullptr, false);
      if (body.is_discarded() || body["alerts"].empty()) continue;
      if (body["groupLabels"].value("alertname", "") != alertname) continue;
      out.push_back(Message{body["status"], body["alerts"][0]["annotations"]});
    }
    return out;
  }

  static std::string statuses(const std::vector<Message>& ms) {
    std::string out;
    for (const auto& m : ms) {
      out += (out.empty() ? "" : " ") + m.status;
      if (m.annotations.value("flapping", "") == "true") out += "(flapping " + m.annotations.value("flap_count", "?") + ")";
    }
    return out;
  }

  static TinyExporter* exporter_;
  static PrometheusProcess* prometheus_;
  static TestHttpServer* sink_;
};

TinyExporter* Hysteresis::exporter_ = nullptr;
PrometheusProcess* Hysteresis::prometheus_ = nullptr;
TestHttpServer* Hysteresis::sink_ = nullptr;

TEST_F(Hysteresis, WobblingValueWithAndWithoutHysteresisAndFlapDetection) {
  ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
  PromwatchProcess promwatch(config(), {{"rules.toml", kRules}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  // Prometheus has scraped the value, and every rule has evaluated, before the wobble starts.
  ASSERT_TRUE(wait_until(
      [&] {
        json body = json::parse(http_get(prometheus_->url() + "/api/v1/query?query=hf_temp", 2s).body, nullptr, false);
        return !body.is_discarded() && !body["data"]["result"].empty();
      },
      20s, 200ms));
  ASSERT_TRUE(wait_until(
      [&] {
        HttpResult r = http_get(promwatch.url() + "/api/v1/rules", 2s);
        json body = json::parse(r.body, nullptr, false);
        if (r.status != 200 || body.is_discarded() || body["data"]["groups"].empty()) return false;
        for (const auto& rule : body["data"]["groups"][0]["rules"]) {
          if (rule["health"] != "ok") return false;
        }
        return true;
      },
      20s, 200ms))
      << promwatch.process().log();

  // While it wobbles: the flapping alert shows as such wherever alerts are shown.
  bool api_v1 = false, api_v2 = false, metric = false, page = false;
  auto watch = [&] {
    if (!api_v1) {
      json body = json::parse(http_get(promwatch.url() + "/api/v1/alerts", 1s).body, nullptr, false);
      for (const auto& a : body.is_discarded() ? json::array() : body["data"]["alerts"]) {
        api_v1 = api_v1 || (a["labels"].value("alertname", "") == "Flapping" &&
                            a["annotations"].value("flapping", "") == "true");
      }
    }
    if (!api_v2) {
      json body = json::parse(http_get(promwatch.url() + "/api/v2/alerts", 1s).body, nullptr, false);
      for (const auto& a : body.is_discarded() ? json::array() : body) {
        api_v2 = api_v2 || (a["labels"].value("alertname", "") == "Flapping" &&
                            a["annotations"].value("flapping", "") == "true");
      }
    }
    if (!metric) metric = http_get(promwatch.url() + "/metrics", 1s).body.find("\npromwatch_alerts_flapping 1\n") != std::string::npos;
    if (!page) page = http_get(promwatch.url() + "/", 1s).body.find("flapping</span>") != std::string::npos;
  };
  auto hold = [&](double value, std::chrono::milliseconds how_long) {
    exporter_->set("hf_temp", value);
    const auto until = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < until) {
      watch();
      std::this_thread::sleep_for(200ms);
    }
  };
  for (int cycle = 0; cycle < 3; ++cycle) {
    hold(95, 3s);
    hold(85, 3s);
  }
  exporter_->set("hf_temp", 70);

  // Flapping settles 8 s after its last change (about 3 s ago), then reports resolved.
  ASSERT_TRUE(wait_until(
      [&] {
        auto ms = messages("Flapping");
        return !ms.empty() && ms.back().status == "resolved" &&
               statuses(ms).find("flapping") != std::string::npos;
      },
      15s, 200ms))
      << statuses(messages("Flapping")) << "\n" << promwatch.process().log();
  std::this_thread::sleep_for(1500ms);  // nothing else may follow

  const std::vector<Message> plain = messages("Plain");
  const std::vector<Message> hysteresis = messages("Hysteresis");
  const std::vector<Message> flapping = messages("Flapping");
  // Without hysteresis each of the three cycles fires and resolves.
  EXPECT_EQ(statuses(plain), "firing resolved firing resolved firing resolved") << promwatch.process().log();
  // With keep_firing_expr (above 80): one firing, one resolved once below 80.
  EXPECT_EQ(statuses(hysteresis), "firing resolved");
  // With flap detection the third change is the one flapping notice; the next three changes
  // send nothing; the settled state is told once.
  EXPECT_EQ(statuses(flapping), "firing resolved firing(flapping 3) resolved");
  ASSERT_EQ(flapping.size(), 4u);
  EXPECT_FALSE(flapping[3].annotations.contains("flapping"));

  EXPECT_TRUE(api_v1) << "/api/v1/alerts never showed the flapping annotation";
  EXPECT_TRUE(api_v2) << "/api/v2/alerts never showed the flapping annotation";
  EXPECT_TRUE(metric) << "promwatch_alerts_flapping never was 1";
  EXPECT_TRUE(page) << "the status page never showed a flapping badge";
  EXPECT_NE(http_get(promwatch.url() + "/metrics", 1s).body.find("\npromwatch_alerts_flapping 0\n"), std::string::npos);

  // /api/v1/rules: Prometheus's keys, plus keepFiringExpr where there is one.
  json rules = json::parse(http_get(promwatch.url() + "/api/v1/rules", 2s).body);
  const json& list = rules["data"]["groups"][0]["rules"];
  ASSERT_EQ(list.size(), 3u);
  EXPECT_FALSE(list[0].contains("keepFiringExpr"));
  EXPECT_EQ(list[1]["keepFiringExpr"], "hf_temp > 80");
  EXPECT_EQ(list[1]["keepFiringFor"], 0);
  EXPECT_EQ(list[2]["flapWindow"], 8);
  EXPECT_EQ(list[2]["flapThreshold"], 3);
  EXPECT_NE(http_get(promwatch.url() + "/", 1s).body.find("keeps firing while</span> <code>hf_temp &gt; 80</code>"),
            std::string::npos);
}

}  // namespace
}  // namespace promwatch::test
