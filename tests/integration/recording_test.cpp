// Recording rules and ALERTS written through remote write, against real Prometheus 2.42:
// Prometheus A scrapes a tiny exporter and evaluates the same recording and alerting rule itself;
// promwatch queries A and remote-writes to Prometheus B (--web.enable-remote-write-receiver).
// What B receives from promwatch must be what A wrote into its own storage: the same series
// with the same values within one interval, gone at once when the exporter drops them (stale
// markers), and ALERTS/ALERTS_FOR_STATE as A has them.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "promwatch/time.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kPrometheusRules = R"(groups:
- name: rec
  interval: 1s
  rules:
  - record: case:test_value:x2
    expr: 'test_value * 2'
    labels: { source: rule }
  - alert: TestValueHigh
    expr: 'test_value{case="alert"} > 0'
    for: 3s
    labels: { severity: page }
)";

constexpr const char* kPromwatchRules = R"([[groups]]
name = "rec"
interval = "1s"

[[groups.rules]]
record = "case:test_value:x2"
expr = 'test_value * 2'
labels = { source = "rule" }

[[groups.rules]]
alert = "TestValueHigh"
expr = 'test_value{case="alert"} > 0'
for = "3s"
labels = { severity = "page" }
)";

std::string query_escape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The `data.result` of an instant query (an empty array when the query fails).
json query(const std::string& base, const std::string& expr) {
  HttpResult r = http_get(base + "/api/v1/query?query=" + query_escape(expr), 2s);
  if (r.status != 200) return json::array();
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j["data"]["result"].is_array()) return json::array();
  return j["data"]["result"];
}

struct Point {
  double t;
  double v;
};

// The raw samples of `selector` over the last `seconds`, of its first series.
std::vector<Point> raw_samples(const std::string& base, const std::string& selector, int seconds) {
  std::vector<Point> out;
  json result = query(base, selector + "[" + std::to_string(seconds) + "s]");
  if (result.empty()) return out;
  for (const auto& p : result[0]["values"]) out.push_back({p[0].get<double>(), std::stod(p[1].get<std::string>())});
  return out;
}

class Recording : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exporter_ = new TinyExporter();
    exporter_->set(R"(test_value{case="rec"})", 5);
    source_ = new PrometheusProcess(kPrometheusRules, {exporter_->address()}, 1);
    receiver_ = new PrometheusProcess("", {}, 1, {"--web.enable-remote-write-receiver"});
    ASSERT_TRUE(source_->wait_ready());
    ASSERT_TRUE(receiver_->wait_ready());
    promwatch_ = new PromwatchProcess(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + source_->url() + R"("
timeout = "2s"
[server]
listen = "{{LISTEN}}"
[remote_write]
url = ")" + receiver_->url() + R"(/api/v1/write"
)",
                                      {{"rules.toml", kPromwatchRules}});
    ASSERT_TRUE(promwatch_->wait_healthy());
  }
  static void TearDownTestSuite() {
    delete promwatch_;
    delete receiver_;
    delete source_;
    delete exporter_;
  }

  static inline TinyExporter* exporter_ = nullptr;
  static inline PrometheusProcess* source_ = nullptr;
  static inline PrometheusProcess* receiver_ = nullptr;
  static inline PromwatchProcess* promwatch_ = nullptr;
};

TEST_F(Recording, RecordedSeriesMatchPrometheusAndEndTogether) {
  const std::string series = R"(case:test_value:x2{case="rec"})";
  ASSERT_TRUE(wait_until([&] { return raw_samples(receiver_->url(), series, 10).size() >= 4; }, 20s))
      << promwatch_->process().log();
  exporter_->set(R"(test_value{case="rec"})", 7);
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = raw_samples(receiver_->url(), series, 10);
        return s.size() >= 3 && s.back().v == 14 && s[s.size() - 2].v == 14;
      },
      15s));

  // The same labels: the series' own, the rule's, the record name.
  json a = query(source_->url(), series);
  json b = query(receiver_->url(), series);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0]["metric"], b[0]["metric"]);
  EXPECT_EQ(b[0]["metric"]["source"], "rule");

  // Every value promwatch wrote is one Prometheus recorded within one interval of it.
  const auto ours = raw_samples(receiver_->url(), series, 15);
  const auto theirs = raw_samples(source_->url(), series, 17);
  ASSERT_GE(ours.size(), 5u);
  for (const auto& p : ours) {
    bool matched = false;
    for (const auto& q : theirs) matched = matched || (std::fabs(q.t - p.t) <= 1.0 && q.v == p.v);
    EXPECT_TRUE(matched) << "promwatch wrote " << p.v << " at " << p.t << " and Prometheus has no such value within 1s";
  }
  // At most one sample per interval (a round writes each series once).
  for (std::size_t i = 1; i < ours.size(); ++i) EXPECT_GE(ours[i].t - ours[i - 1].t, 0.95);

  // The exporter drops the series: Prometheus marks its record stale, promwatch's query of it
  // comes back empty and it writes a stale marker, so B stops returning it at once (not 5 min).
  exporter_->remove(R"(test_value{case="rec"})");
  ASSERT_TRUE(wait_until([&] { return query(source_->url(), series).empty(); }, 10s));
  const auto gone_in_a = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return query(receiver_->url(), series).empty(); }, 5s))
      << query(receiver_->url(), series).dump();
  EXPECT_LT(std::chrono::steady_clock::now() - gone_in_a, 3s);
}

TEST_F(Recording, AlertsSeriesAsPrometheusWritesThem) {
  const std::string pending = R"(ALERTS{alertname="TestValueHigh", alertstate="pending"})";
  const std::string firing = R"(ALERTS{alertname="TestValueHigh", alertstate="firing"})";
  const std::string for_state = R"(ALERTS_FOR_STATE{alertname="TestValueHigh"})";
  exporter_->set(R"(test_value{case="alert"})", 1);

  ASSERT_TRUE(wait_until([&] { return !query(receiver_->url(), pending).empty(); }, 10s)) << promwatch_->process().log();
  ASSERT_TRUE(wait_until([&] { return !query(source_->url(), pending).empty(); }, 5s));
  json a = query(source_->url(), pending);
  json b = query(receiver_->url(), pending);
  EXPECT_EQ(a[0]["metric"], b[0]["metric"]);
  EXPECT_EQ(b[0]["value"][1], "1");

  // Firing: the pending series ends at once in both, ALERTS_FOR_STATE keeps activeAt.
  ASSERT_TRUE(wait_until([&] { return !query(receiver_->url(), firing).empty() && query(receiver_->url(), pending).empty(); },
                         10s));
  ASSERT_TRUE(wait_until([&] { return !query(source_->url(), firing).empty(); }, 5s));
  EXPECT_EQ(query(source_->url(), firing)[0]["metric"], query(receiver_->url(), firing)[0]["metric"]);
  json fs_a = query(source_->url(), for_state);
  json fs_b = query(receiver_->url(), for_state);
  ASSERT_EQ(fs_a.size(), 1u);
  ASSERT_EQ(fs_b.size(), 1u);
  EXPECT_EQ(fs_a[0]["metric"], fs_b[0]["metric"]);
  const double active_a = std::stod(fs_a[0]["value"][1].get<std::string>());
  const double active_b = std::stod(fs_b[0]["value"][1].get<std::string>());
  EXPECT_NEAR(active_a, active_b, 2.0) << "activeAt of the same alert, evaluated on slots up to 1 s apart";
  // ... and it is promwatch's own activeAt, in whole seconds.
  HttpResult alerts = http_get(promwatch_->url() + "/api/v1/alerts");
  json pw = json::parse(alerts.body, nullptr, false);
  ASSERT_FALSE(pw.is_discarded());
  ASSERT_EQ(pw["data"]["alerts"].size(), 1u);
  const std::string active_at = pw["data"]["alerts"][0]["activeAt"];
  auto parsed = parse_time(active_at);
  ASSERT_TRUE(parsed) << active_at;
  EXPECT_EQ(active_b, std::floor(to_unix_seconds(*parsed)));

  // Resolved: every ALERTS series of it ends.
  exporter_->remove(R"(test_value{case="alert"})");
  ASSERT_TRUE(wait_until([&] { return query(receiver_->url(), "ALERTS").empty() && query(receiver_->url(), "ALERTS_FOR_STATE").empty(); },
                         10s));
}

TEST_F(Recording, RulesApiListsRecordingRulesAsPrometheus) {
  ASSERT_TRUE(wait_until(
      [&] {
        HttpResult r = http_get(promwatch_->url() + "/api/v1/rules");
        json j = json::parse(r.body, nullptr, false);
        return !j.is_discarded() && j["data"]["groups"].size() == 1 && j["data"]["groups"][0]["rules"][0]["health"] == "ok";
      },
      10s));
  json ours = json::parse(http_get(promwatch_->url() + "/api/v1/rules").body);
  json theirs = json::parse(http_get(source_->url() + "/api/v1/rules").body);
  const json& r = ours["data"]["groups"][0]["rules"][0];
  const json& p = theirs["data"]["groups"][0]["rules"][0];
  EXPECT_EQ(r["type"], "recording");
  EXPECT_EQ(ours["data"]["groups"][0]["rules"][1]["type"], "alerting") << "file order";
  std::vector<std::string> our_keys, their_keys;
  for (const auto& [k, v] : r.items()) our_keys.push_back(k);
  for (const auto& [k, v] : p.items()) their_keys.push_back(k);
  std::sort(our_keys.begin(), our_keys.end());
  std::sort(their_keys.begin(), their_keys.end());
  EXPECT_EQ(our_keys, their_keys);
  for (const char* key : {"name", "query", "labels", "health", "type"}) EXPECT_EQ(r[key], p[key]) << key;
  // `type=record` keeps only recording rules, as in Prometheus.
  json only = json::parse(http_get(promwatch_->url() + "/api/v1/rules?type=record").body);
  ASSERT_EQ(only["data"]["groups"][0]["rules"].size(), 1u);
  // The status page lists it among the rules.
  const std::string page = http_get(promwatch_->url() + "/").body;
  EXPECT_NE(page.find("case:test_value:x2</span> <span class=\"badge inactive\">recording"), std::string::npos) << page;
}

// The same rule written into VictoriaMetrics (its /api/v1/write): the same series and values as
// Prometheus recorded, and gone once the exporter drops them. (VictoriaMetrics also ends a series
// that stops getting samples after a few intervals by itself, so this is no proof of the stale
// marker; Prometheus B's five-minute lookback above is.)
TEST_F(Recording, VictoriaMetricsReceivesTheSameSeries) {
  VictoriaMetricsProcess vm;
  ASSERT_TRUE(vm.wait_ready());
  PromwatchProcess writer(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + source_->url() + R"("
timeout = "2s"
[server]
listen = "{{LISTEN}}"
[remote_write]
url = ")" + vm.url() + R"(/api/v1/write"
)",
                          {{"rules.toml", kPromwatchRules}});
  ASSERT_TRUE(writer.wait_healthy());
  const std::string series = R"(case:test_value:x2{case="vm"})";
  exporter_->set(R"(test_value{case="vm"})", 21);
  ASSERT_TRUE(wait_until([&] { return !query(source_->url(), series).empty(); }, 10s));
  ASSERT_TRUE(wait_until(
      [&] {
        vm.flush();
        return raw_samples(vm.url(), series, 10).size() >= 3;
      },
      20s))
      << writer.process().log();
  json a = query(source_->url(), series);
  json b = query(vm.url(), series);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0]["metric"], b[0]["metric"]);
  EXPECT_EQ(b[0]["value"][1], "42");
  const auto theirs = raw_samples(source_->url(), series, 12);
  for (const auto& p : raw_samples(vm.url(), series, 10)) {
    bool matched = false;
    for (const auto& q : theirs) matched = matched || (std::fabs(q.t - p.t) <= 1.0 && q.v == p.v);
    EXPECT_TRUE(matched) << "promwatch wrote " << p.v << " at " << p.t;
  }
  exporter_->remove(R"(test_value{case="vm"})");
  ASSERT_TRUE(wait_until([&] { return query(source_->url(), series).empty(); }, 10s));
  EXPECT_TRUE(wait_until(
      [&] {
        vm.flush();
        return query(vm.url(), series).empty();
      },
      5s))
      << query(vm.url(), series).dump();
}

// A recording rule removed by a reload: every series it wrote is marked stale at once, as
// Prometheus marks a removed rule's series, so B stops returning it (its lookback is 5 min).
TEST_F(Recording, ReloadRemovingARuleEndsItsSeries) {
  exporter_->set(R"(test_value{case="reload"})", 3);
  const std::string rules = R"([[groups]]
name = "reload"
interval = "1s"

[[groups.rules]]
record = "reload:test_value"
expr = 'test_value{case="reload"}'

[[groups.rules]]
record = "kept:test_value"
expr = 'test_value{case="reload"}'
)";
  PromwatchProcess writer(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + source_->url() + R"("
timeout = "2s"
[server]
listen = "{{LISTEN}}"
[remote_write]
url = ")" + receiver_->url() + R"(/api/v1/write"
)",
                          {{"rules.toml", rules}});
  ASSERT_TRUE(writer.wait_healthy());
  ASSERT_TRUE(wait_until([&] { return !query(receiver_->url(), "reload:test_value").empty(); }, 10s))
      << writer.process().log();
  writer.dir().write("rules.toml", rules.substr(0, rules.find("[[groups.rules]]")) +
                                       rules.substr(rules.find("[[groups.rules]]\nrecord = \"kept")));
  writer.process().signal(SIGHUP);
  const auto reloaded = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return query(receiver_->url(), "reload:test_value").empty(); }, 5s))
      << writer.process().log();
  EXPECT_LT(std::chrono::steady_clock::now() - reloaded, 3s);
  // The kept rule goes on writing, with no gap made by the reload.
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(query(receiver_->url(), "kept:test_value").empty());
  exporter_->remove(R"(test_value{case="reload"})");
}

// Remote write never holds evaluation up: with the endpoint refusing connections, every group
// slot is still evaluated on time (lastEvaluation moves one interval per second).
TEST_F(Recording, DownRemoteWriteEndpointDoesNotDelayEvaluation) {
  PromwatchProcess down(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + source_->url() + R"("
timeout = "2s"
[server]
listen = "{{LISTEN}}"
[remote_write]
url = "http://127.0.0.1:)" + std::to_string(free_port()) + R"(/api/v1/write"
)",
                        {{"rules.toml", kPromwatchRules}});
  ASSERT_TRUE(down.wait_healthy());
  auto last_evaluation = [&]() -> std::optional<TimePoint> {
    json j = json::parse(http_get(down.url() + "/api/v1/rules").body, nullptr, false);
    if (j.is_discarded() || j["data"]["groups"].empty()) return std::nullopt;
    return parse_time(j["data"]["groups"][0]["rules"][0]["lastEvaluation"].get<std::string>());
  };
  ASSERT_TRUE(wait_until([&] { return last_evaluation() && *last_evaluation() != TimePoint{}; }, 10s));
  const TimePoint first = *last_evaluation();
  const auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(5s);
  const TimePoint later = *last_evaluation();
  const auto waited = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
  // Slots are whole intervals: at most one behind what the wall clock allows.
  EXPECT_GE(later - first, waited - 1500ms) << down.process().log();
}

}  // namespace
}  // namespace promwatch::test
