// Durable state against SIGKILL: promwatch is killed at random moments and restarted against
// a real Prometheus; pending `for` timers keep their activeAt, firing alerts are not notified
// again before their repeat interval, heartbeat members are still known, and a notification
// accepted but not yet delivered is delivered after the restart.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string active_at(const std::string& url, const std::string& alertname, const std::string& state) {
  json body = json::parse(http_get(url + "/api/v1/alerts").body, nullptr, false);
  if (body.is_discarded()) return "";
  for (const auto& a : body["data"]["alerts"]) {
    if (a["labels"]["alertname"] == alertname && a["state"] == state) return a["activeAt"];
  }
  return "";
}

// The transitions of `alertname` in the durable history, oldest first ("inactive>pending", ...).
std::vector<std::string> history_steps(const std::string& url, const std::string& alertname) {
  std::vector<std::string> steps;
  json body = json::parse(http_get(url + "/api/v1/alerts/history?alertname=" + alertname).body, nullptr, false);
  if (body.is_discarded()) return steps;
  for (const auto& row : body["data"]["history"]) steps.push_back(row["from"].get<std::string>() + ">" + row["to"].get<std::string>());
  std::reverse(steps.begin(), steps.end());
  return steps;
}

// The API shows a round's result as soon as it is evaluated; the store commits it a moment
// later on its worker thread (an fsync: slower under sanitizers or a busy disk), and a SIGKILL
// in between loses that round, as designed. The history is read on the same worker after every
// batch queued before it, and a round's transitions are written in the same transaction as its
// alerts: once the history shows `step`, the alerts of that round are durable.
bool wait_durable(const std::string& url, const std::string& alertname, const std::string& step) {
  return wait_until([&] {
    auto steps = history_steps(url, alertname);
    return std::find(steps.begin(), steps.end(), step) != steps.end();
  }, 10s);
}

std::size_t notifications(const TestHttpServer& sink, const std::string& alertname, const std::string& status) {
  std::size_t n = 0;
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_discarded() && body["groupLabels"].value("alertname", "") == alertname && body["status"] == status) ++n;
  }
  return n;
}

class Restart : public ::testing::Test {
 protected:
  void SetUp() override {
    exporter_.set("test_value", 0);
    prometheus_ = std::make_unique<PrometheusProcess>("", std::vector<std::string>{exporter_.address()});
    ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
    sink_ = std::make_unique<TestHttpServer>([this](const TestRequest&) {
      TestResponse r;
      if (sink_failing_) r.status = 503;
      return r;
    });
    promwatch_ = std::make_unique<PromwatchProcess>(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
outage_tolerance = "1h"
for_grace_period = "1s"
[datasource]
url = ")" + prometheus_->url() + R"("
[server]
listen = "{{LISTEN}}"
[notify]
timeout = "2s"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink_->url() + R"("
[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "1s"
group_interval = "1s"
repeat_interval = "1h"
)",
                                                    std::map<std::string, std::string>{{"rules.toml", R"([[groups]]
name = "g"
interval = "1s"

[[groups.rules]]
alert = "Slow"
expr = 'test_value > 0'
for = "8s"

[[groups.heartbeats]]
name = "TargetGone"
expr = 'up{job="test"}'
by = ["instance"]
for = "2s"
)"}});
    ASSERT_TRUE(promwatch_->wait_healthy()) << promwatch_->process().log();
  }

  void kill_and_restart() {
    promwatch_->process().kill_now();
    promwatch_->restart();
    ASSERT_TRUE(promwatch_->wait_healthy()) << promwatch_->process().log();
  }

  TinyExporter exporter_;
  std::unique_ptr<PrometheusProcess> prometheus_;
  std::atomic<bool> sink_failing_{false};
  std::unique_ptr<TestHttpServer> sink_;
  std::unique_ptr<PromwatchProcess> promwatch_;
};

TEST_F(Restart, PendingTimersFiringAlertsAndOutboxSurviveSigkill) {
  // Pending, then killed: after the restart the `for` timer keeps its activeAt.
  exporter_.set("test_value", 1);
  std::string pending_since;
  ASSERT_TRUE(wait_until([&] { return !(pending_since = active_at(promwatch_->url(), "Slow", "pending")).empty(); }, 20s))
      << promwatch_->process().log();
  ASSERT_TRUE(wait_durable(promwatch_->url(), "Slow", "inactive>pending")) << promwatch_->process().log();
  kill_and_restart();
  std::string after;
  ASSERT_TRUE(wait_until([&] { return !(after = active_at(promwatch_->url(), "Slow", "pending")).empty() ||
                                      !(after = active_at(promwatch_->url(), "Slow", "firing")).empty(); },
                         10s));
  EXPECT_EQ(after, pending_since) << "the for timer was reset by the restart";

  // Fires and is notified exactly once; a kill -9 and restart do not notify it again.
  ASSERT_TRUE(wait_until([&] { return notifications(*sink_, "Slow", "firing") >= 1; }, 20s)) << promwatch_->process().log();
  std::string firing_since = active_at(promwatch_->url(), "Slow", "firing");
  std::this_thread::sleep_for(2s);  // the delivery is recorded within a second
  // ... and committed: this history query is answered after that batch (see wait_durable).
  ASSERT_TRUE(wait_durable(promwatch_->url(), "Slow", "pending>firing")) << promwatch_->process().log();
  kill_and_restart();
  ASSERT_TRUE(wait_until([&] { return !active_at(promwatch_->url(), "Slow", "firing").empty(); }, 10s));
  EXPECT_EQ(active_at(promwatch_->url(), "Slow", "firing"), firing_since);
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(notifications(*sink_, "Slow", "firing"), 1u) << "re-notified before its repeat interval";

  // Heartbeat members are remembered across the restart.
  json hb = json::parse(http_get(promwatch_->url() + "/api/v1/heartbeats").body);
  ASSERT_EQ(hb["data"]["heartbeats"][0]["members"].size(), 1u);
  EXPECT_EQ(hb["data"]["heartbeats"][0]["members"][0]["labels"]["instance"], exporter_.address());

  // Resolved while the receiver fails: accepted into the outbox, killed, delivered after restart.
  sink_failing_ = true;
  exporter_.set("test_value", 0);
  std::size_t attempts_before = sink_->request_count();
  ASSERT_TRUE(wait_until([&] { return sink_->request_count() > attempts_before; }, 20s)) << promwatch_->process().log();
  promwatch_->process().kill_now();
  sink_failing_ = false;
  promwatch_->restart();
  ASSERT_TRUE(promwatch_->wait_healthy());
  EXPECT_TRUE(wait_until([&] { return notifications(*sink_, "Slow", "resolved") >= 1; }, 30s)) << promwatch_->process().log();

  // The history kept every transition across the kills, newest first.
  EXPECT_EQ(history_steps(promwatch_->url(), "Slow"),
            (std::vector<std::string>{"inactive>pending", "pending>firing", "firing>inactive"}))
      << http_get(promwatch_->url() + "/api/v1/alerts/history?alertname=Slow").body;
}

TEST_F(Restart, RandomKillsLoseNoTransition) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> pause_ms(300, 1500);
  // Flip the value a few times while killing promwatch at random moments.
  for (int round = 0; round < 6; ++round) {
    exporter_.set("test_value", round % 2 == 0 ? 1 : 0);
    for (int k = 0; k < 2; ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
      kill_and_restart();
    }
    std::this_thread::sleep_for(6s);
  }
  // The last state: value 0 after an odd round; keep it firing long enough to be notified.
  exporter_.set("test_value", 1);
  ASSERT_TRUE(wait_until([&] { return notifications(*sink_, "Slow", "firing") >= 1; }, 30s)) << promwatch_->process().log();
  exporter_.set("test_value", 0);
  EXPECT_TRUE(wait_until([&] { return notifications(*sink_, "Slow", "resolved") >= 1; }, 30s)) << promwatch_->process().log();
  // The database survived every kill.
  std::string out;
  EXPECT_EQ(run_command({"/usr/bin/env", "python3", "-c",
                         "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('PRAGMA integrity_check').fetchone()[0])",
                         (promwatch_->dir().path() / "state" / "promwatch.db").string()},
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace promwatch::test
