// High availability on a real etcd (SPEC §2 [cluster]): two promwatch replicas against one real
// Prometheus and one webhook sink. Exactly one replica delivers; killing the leader with SIGKILL
// twenty times while alerts fire and resolve and the receiver fails every other request loses
// no notification and repeats none but those in flight at a kill; SIGTERM hands over at once; a
// silence added with amtool on the leader holds after failover; with etcd gone both replicas
// notify after fail_open_after, and one again once it is back; a three-member etcd loses a
// member without a failover.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// A webhook sink that remembers what it accepted and when; while flaky it answers 503 to every
// other request (the replica retries).
class Sink {
 public:
  struct Message {
    json body;
    Clock::time_point at;
  };

  Sink()
      : server_([this](const TestRequest& request) {
          TestResponse r;
          std::lock_guard lock(mutex_);
          if (flaky_ && (++requests_ % 2 == 1)) {
            r.status = 503;
            return r;
          }
          json body = json::parse(request.body, nullptr, false);
          if (!body.is_discarded()) accepted_.push_back(Message{std::move(body), Clock::now()});
          return r;
        }) {}

  std::string url() const { return server_.url(); }
  void set_flaky(bool flaky) {
    std::lock_guard lock(mutex_);
    flaky_ = flaky;
  }
  std::vector<Message> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  // Accepted messages listing an alert with label n=`n` in `status`.
  std::size_t count(const std::string& n, const std::string& status) const {
    std::size_t c = 0;
    for (const auto& m : accepted()) {
      for (const auto& a : m.body["alerts"]) {
        if (a["labels"].value("n", "") == n && a["status"] == status) ++c;
      }
    }
    return c;
  }

 private:
  mutable std::mutex mutex_;
  bool flaky_ = false;
  std::uint64_t requests_ = 0;
  std::vector<Message> accepted_;
  TestHttpServer server_;
};

std::string toml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", \"" : "\"") + items[i] + "\"";
  return out + "]";
}

// One replica of cluster `cluster`: evaluates `metric > 0` every second and notifies the sink,
// one group per value of label n.
std::unique_ptr<PromwatchProcess> replica(const std::string& cluster, const std::string& member,
                                          const std::vector<std::string>& etcd, const std::string& prometheus,
                                          const Sink& sink, const std::string& metric, int lease_ttl_s = 2,
                                          int fail_open_s = 30) {
  auto p = std::make_unique<PromwatchProcess>(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + prometheus + R"("
[server]
listen = "{{LISTEN}}"
[notify]
timeout = "2s"
[cluster]
etcd_endpoints = )" + toml_list(etcd) + R"(
name = ")" + cluster + R"("
member = ")" + member + R"("
lease_ttl = ")" + std::to_string(lease_ttl_s) + R"(s"
fail_open_after = ")" + std::to_string(fail_open_s) + R"(s"
timeout = "1s"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["n"]
group_wait = "1s"
group_interval = "1s"
repeat_interval = "1h"
)",
                                              std::map<std::string, std::string>{{"rules.toml", R"([[groups]]
name = "ha"
interval = "1s"

[[groups.rules]]
alert = "Ha"
expr = ')" + metric + R"( > 0'
)"}});
  EXPECT_TRUE(p->wait_healthy(30s)) << p->process().log();
  return p;
}

json cluster_status(PromwatchProcess& p) {
  json body = json::parse(http_get(p.url() + "/api/v1/status/cluster", 2s).body, nullptr, false);
  if (body.is_discarded() || !body.contains("data")) return json::object();
  return body["data"];
}

std::string role(PromwatchProcess& p) { return cluster_status(p).value("role", ""); }

// The index of the one leader while every other replica follows; -1 otherwise.
int sole_leader(const std::vector<PromwatchProcess*>& replicas) {
  int leader = -1;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    std::string r = role(*replicas[i]);
    if (r == "leader") {
      if (leader >= 0) return -1;
      leader = static_cast<int>(i);
    } else if (r != "follower") {
      return -1;
    }
  }
  return leader;
}

double metric_value(PromwatchProcess& p, const std::string& name) {
  std::string text = http_get(p.url() + "/metrics", 2s).body;
  std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

std::string fmt_ms(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

class HighAvailability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exporter_ = new TinyExporter();
    prometheus_ = new PrometheusProcess("", std::vector<std::string>{exporter_->address()});
    ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
    etcd_ = new EtcdCluster(1);
    ASSERT_TRUE(etcd_->wait_healthy()) << etcd_->logs();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    delete prometheus_;
    delete exporter_;
  }

  static TinyExporter* exporter_;
  static PrometheusProcess* prometheus_;
  static EtcdCluster* etcd_;
};

TinyExporter* HighAvailability::exporter_ = nullptr;
PrometheusProcess* HighAvailability::prometheus_ = nullptr;
EtcdCluster* HighAvailability::etcd_ = nullptr;

TEST_F(HighAvailability, OneReplicaDeliversAndTwentyLeaderKillsLoseNothing) {
  Sink sink;
  std::vector<std::unique_ptr<PromwatchProcess>> replicas;
  replicas.push_back(replica("ha-kill", "a", etcd_->client_urls(), prometheus_->url(), sink, "ha_kill"));
  replicas.push_back(replica("ha-kill", "b", etcd_->client_urls(), prometheus_->url(), sink, "ha_kill"));
  std::vector<PromwatchProcess*> both{replicas[0].get(), replicas[1].get()};
  ASSERT_TRUE(wait_until([&] { return sole_leader(both) >= 0; }, 30s)) << replicas[0]->process().log();

  // Exactly one replica delivers.
  const int kGroups = 4;
  for (int n = 1; n <= kGroups; ++n) exporter_->set("ha_kill{n=\"" + std::to_string(n) + "\"}", 0);
  exporter_->set("ha_kill{n=\"1\"}", 1);
  ASSERT_TRUE(wait_until([&] { return sink.count("1", "firing") >= 1; }, 20s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(sink.count("1", "firing"), 1u) << "both replicas delivered";

  // Twenty kills of the leader while the alerts change and the receiver fails every other time.
  struct Change {
    std::string n;
    std::string status;
    Clock::time_point at;
  };
  std::vector<Change> changes{{"1", "firing", Clock::now() - 10s}};
  std::vector<bool> firing(kGroups + 1, false);
  firing[1] = true;
  std::vector<Clock::time_point> kills;
  std::vector<Clock::duration> takeovers;
  std::mt19937 random(20261204);
  sink.set_flaky(true);
  for (int i = 0; i < 20; ++i) {
    int leader = sole_leader(both);
    ASSERT_TRUE(wait_until([&] { return (leader = sole_leader(both)) >= 0; }, 30s)) << "round " << i;
    const int n = 1 + i % kGroups;
    firing[n] = !firing[n];
    exporter_->set("ha_kill{n=\"" + std::to_string(n) + "\"}", firing[n] ? 1 : 0);
    changes.push_back({std::to_string(n), firing[n] ? "firing" : "resolved", Clock::now()});
    // Kill at various moments of the evaluation-flush-delivery cycle.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 2500)(random)));
    const int other = 1 - leader;
    replicas[leader]->process().kill_now();
    auto killed_at = Clock::now();
    kills.push_back(killed_at);
    ASSERT_TRUE(wait_until([&] { return role(*replicas[other]) == "leader"; }, 20s, 20ms))
        << "round " << i << ": no takeover\n" << replicas[other]->process().log();
    takeovers.push_back(Clock::now() - killed_at);
    replicas[leader]->restart();
    ASSERT_TRUE(replicas[leader]->wait_healthy(30s)) << replicas[leader]->process().log();
  }
  sink.set_flaky(false);

  // Every change reaches the sink at least once after it happened, and before the same alert
  // changed again (or by the end).
  auto all_seen = [&] {
    auto accepted = sink.accepted();
    for (std::size_t i = 0; i < changes.size(); ++i) {
      const auto& c = changes[i];
      auto until = Clock::time_point::max();
      for (std::size_t j = i + 1; j < changes.size(); ++j) {
        if (changes[j].n == c.n) {
          until = changes[j].at;
          break;
        }
      }
      bool seen = false;
      for (const auto& m : accepted) {
        if (m.at < c.at || m.at > until) continue;
        for (const auto& a : m.body["alerts"]) {
          if (a["labels"].value("n", "") == c.n && a["status"] == c.status) seen = true;
        }
      }
      if (!seen) return false;
    }
    return true;
  };
  const auto started = changes.front().at;
  auto timeline = [&] {
    std::string out;
    auto ms = [&](Clock::time_point t) { return std::to_string((t - started) / 1ms); };
    for (const auto& c : changes) out += ms(c.at) + " change n=" + c.n + " " + c.status + "\n";
    for (auto k : kills) out += ms(k) + " kill\n";
    for (const auto& m : sink.accepted()) {
      out += ms(m.at) + " accepted";
      for (const auto& a : m.body["alerts"]) {
        out += " n=" + a["labels"].value("n", "") + ":" + a["status"].get<std::string>() + "@" +
               a["startsAt"].get<std::string>();
      }
      out += "\n";
    }
    return out;
  };
  EXPECT_TRUE(wait_until(all_seen, 30s)) << "a firing or resolved notification never arrived\n" << timeline();

  // Nothing delivered is repeated (repeat_interval is an hour) unless it was in flight at a kill:
  // accepted within the second before it, so the killed leader may not have recorded it.
  auto accepted = sink.accepted();
  std::size_t in_flight = 0;
  std::size_t repeated = 0;
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const json& a = accepted[i].body;
      const json& b = accepted[j].body;
      if (a["groupKey"] != b["groupKey"] || a["alerts"] != b["alerts"]) continue;
      bool at_kill = std::any_of(kills.begin(), kills.end(), [&](Clock::time_point k) {
        return accepted[j].at <= k && k - accepted[j].at < 1s && accepted[i].at > k;
      });
      (at_kill ? in_flight : repeated)++;
      break;
    }
  }
  std::sort(takeovers.begin(), takeovers.end());
  std::cout << "[ figures  ] 20 SIGKILLs of the leader (lease_ttl 2s, interval 1s): takeover min "
            << fmt_ms(takeovers.front()) << ", median " << fmt_ms(takeovers[takeovers.size() / 2]) << ", max "
            << fmt_ms(takeovers.back()) << "; " << accepted.size() << " notifications accepted, " << in_flight
            << " repeated because in flight at a kill, " << repeated << " repeated otherwise" << std::endl;
  EXPECT_EQ(repeated, 0u) << timeline();
  // A dead leader is replaced within lease_ttl + one interval (plus the test's own polling and
  // a loaded machine's scheduling).
  EXPECT_LT(takeovers.back(), 2s + 1s + 3s);
  for (int n = 1; n <= kGroups; ++n) exporter_->set("ha_kill{n=\"" + std::to_string(n) + "\"}", 0);
}

TEST_F(HighAvailability, SigtermOfTheLeaderHandsOverWithinASecond) {
  Sink sink;
  // A long lease: a takeover by expiry would take six seconds; resigning is what makes it fast.
  auto a = replica("ha-term", "a", etcd_->client_urls(), prometheus_->url(), sink, "ha_term", 6);
  auto b = replica("ha-term", "b", etcd_->client_urls(), prometheus_->url(), sink, "ha_term", 6);
  std::vector<PromwatchProcess*> both{a.get(), b.get()};
  int leader = -1;
  ASSERT_TRUE(wait_until([&] { return (leader = sole_leader(both)) >= 0; }, 30s));
  PromwatchProcess& old_leader = *both[leader];
  PromwatchProcess& next = *both[1 - leader];
  EXPECT_EQ(cluster_status(next).value("leader", ""), leader == 0 ? "a" : "b");
  auto sent = Clock::now();
  old_leader.process().signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return role(next) == "leader"; }, 10s, 10ms)) << next.process().log();
  auto handover = Clock::now() - sent;
  std::cout << "[ figures  ] SIGTERM of the leader: the follower leads after " << fmt_ms(handover) << std::endl;
  EXPECT_LT(handover, 2s);
  EXPECT_EQ(old_leader.process().wait_exit(10s), 0);
  EXPECT_NE(old_leader.process().log().find("resigns as leader"), std::string::npos);
  json status = cluster_status(next);
  EXPECT_EQ(status["leader"], leader == 0 ? "b" : "a");
  EXPECT_EQ(status["etcdUp"], true);
  EXPECT_GE(status["leaderChanges"].get<int>(), 2);
  EXPECT_EQ(metric_value(next, "promwatch_cluster_leader"), 1);
}

TEST_F(HighAvailability, SilenceAddedWithAmtoolOnTheLeaderHoldsAfterFailover) {
  Sink sink;
  exporter_->set("ha_silence{n=\"9\"}", 0);
  auto a = replica("ha-silence", "a", etcd_->client_urls(), prometheus_->url(), sink, "ha_silence");
  auto b = replica("ha-silence", "b", etcd_->client_urls(), prometheus_->url(), sink, "ha_silence");
  std::vector<PromwatchProcess*> both{a.get(), b.get()};
  int leader = -1;
  ASSERT_TRUE(wait_until([&] { return (leader = sole_leader(both)) >= 0; }, 30s));
  PromwatchProcess& follower = *both[1 - leader];
  std::string out;
  ASSERT_EQ(run_command({"/usr/bin/amtool", "--alertmanager.url=" + both[leader]->url(), "silence", "add", "n=9",
                         "--duration=1h", "--comment=disk swap", "--author=ops"},
                        &out),
            0)
      << out;
  // Replicated to the follower through etcd.
  ASSERT_TRUE(wait_until([&] { return http_get(follower.url() + "/api/v2/silences").body.find("disk swap") != std::string::npos; },
                         15s))
      << follower.process().log();
  both[leader]->process().kill_now();
  ASSERT_TRUE(wait_until([&] { return role(follower) == "leader"; }, 20s)) << follower.process().log();
  exporter_->set("ha_silence{n=\"9\"}", 1);
  // The new leader sees the alert fire, muted by the silence, and sends nothing.
  ASSERT_TRUE(wait_until([&] {
    json alerts = json::parse(http_get(follower.url() + "/api/v2/alerts").body, nullptr, false);
    if (alerts.is_discarded()) return false;
    for (const auto& al : alerts) {
      if (al["labels"].value("n", "") == "9" && !al["status"]["silencedBy"].empty()) return true;
    }
    return false;
  }, 20s)) << follower.process().log();
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(sink.count("9", "firing"), 0u);
  exporter_->set("ha_silence{n=\"9\"}", 0);
}

TEST_F(HighAvailability, EtcdDownMakesBothNotifyAndBackMakesOneAgain) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.wait_healthy()) << etcd.logs();
  Sink sink;
  exporter_->set("ha_etcd{n=\"1\"}", 0);
  exporter_->set("ha_etcd{n=\"2\"}", 0);
  auto a = replica("ha-etcd", "a", etcd.client_urls(), prometheus_->url(), sink, "ha_etcd", 2, 4);
  auto b = replica("ha-etcd", "b", etcd.client_urls(), prometheus_->url(), sink, "ha_etcd", 2, 4);
  std::vector<PromwatchProcess*> both{a.get(), b.get()};
  ASSERT_TRUE(wait_until([&] { return sole_leader(both) >= 0; }, 30s));

  etcd.kill(0);
  ASSERT_TRUE(wait_until([&] { return role(*a) == "fail_open" && role(*b) == "fail_open"; }, 20s))
      << a->process().log();
  EXPECT_EQ(metric_value(*a, "promwatch_cluster_etcd_up"), 0);
  EXPECT_EQ(metric_value(*b, "promwatch_cluster_fail_open"), 1);
  EXPECT_NE(http_get(a->url() + "/").body.find("etcd is unreachable"), std::string::npos);
  exporter_->set("ha_etcd{n=\"1\"}", 1);
  // Duplicates rather than silence: each replica delivers on its own.
  EXPECT_TRUE(wait_until([&] { return sink.count("1", "firing") >= 2; }, 20s)) << sink.count("1", "firing");

  etcd.start(0);
  ASSERT_TRUE(etcd.wait_healthy()) << etcd.logs();
  ASSERT_TRUE(wait_until([&] { return sole_leader(both) >= 0; }, 30s)) << a->process().log();
  EXPECT_EQ(metric_value(*a, "promwatch_cluster_etcd_up"), 1);
  exporter_->set("ha_etcd{n=\"2\"}", 1);
  ASSERT_TRUE(wait_until([&] { return sink.count("2", "firing") >= 1; }, 20s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(sink.count("2", "firing"), 1u) << "both replicas delivered after etcd came back";
  exporter_->set("ha_etcd{n=\"1\"}", 0);
  exporter_->set("ha_etcd{n=\"2\"}", 0);
}

TEST_F(HighAvailability, ThreeMemberEtcdLosesAMemberWithoutFailingOpen) {
  EtcdCluster etcd(3);
  ASSERT_TRUE(etcd.wait_healthy()) << etcd.logs();
  Sink sink;
  exporter_->set("ha_three{n=\"1\"}", 0);
  auto a = replica("ha-three", "a", etcd.client_urls(), prometheus_->url(), sink, "ha_three", 3, 10);
  auto b = replica("ha-three", "b", etcd.client_urls(), prometheus_->url(), sink, "ha_three", 3, 10);
  std::vector<PromwatchProcess*> both{a.get(), b.get()};
  ASSERT_TRUE(wait_until([&] { return sole_leader(both) >= 0; }, 30s)) << a->process().log();
  // Both replicas talk to the first member; it dies, they move to the others.
  etcd.kill(0);
  std::this_thread::sleep_for(4s);
  ASSERT_TRUE(wait_until([&] {
    return sole_leader(both) >= 0 && cluster_status(*a)["etcdUp"] == true && cluster_status(*b)["etcdUp"] == true;
  }, 20s)) << a->process().log();
  EXPECT_EQ(a->process().log().find("notifies on its own"), std::string::npos);
  EXPECT_EQ(b->process().log().find("notifies on its own"), std::string::npos);
  exporter_->set("ha_three{n=\"1\"}", 1);
  ASSERT_TRUE(wait_until([&] { return sink.count("1", "firing") >= 1; }, 20s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(sink.count("1", "firing"), 1u);
  exporter_->set("ha_three{n=\"1\"}", 0);
}

}  // namespace
}  // namespace promwatch::test
