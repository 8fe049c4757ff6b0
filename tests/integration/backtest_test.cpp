// `promwatch backtest` against a real Prometheus, differentially: Prometheus evaluates an
// alerting rule live (its own rule file, 1 s evaluation) while an exporter's value follows a
// script (high, low, high, low); afterwards `promwatch backtest` of the same rule over the
// same range must report the same pending / firing / resolved times as Prometheus's own ALERTS
// series, within one evaluation interval (the two schedules have different offsets inside the
// second). The HTML page is opened in headless Chromium; its screenshot is kept as an artifact:
//   $PROMWATCH_ARTIFACTS_DIR (default: <build dir>/artifacts)/backtest.png, backtest_phone.png
// Plus the command's contract: read-only (nothing sent, no state dir), exit 1 on bad arguments,
// exit 2 when the datasource fails.

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "promwatch/time.hpp"
#include "support/browser.hpp"
#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kPrometheusRules = R"(groups:
- name: wobble
  rules:
  - alert: ValueHigh
    expr: test_value > 5
    for: 2s
    labels:
      severity: page
)";

constexpr const char* kRules = R"([[groups]]
name = "wobble"
interval = "1s"

[[groups.rules]]
alert = "ValueHigh"
expr = 'test_value > 5'
for = "2s"
labels = { severity = "page" }
)";

struct StateChange {
  TimePoint at{};
  std::string state;  // pending | firing | inactive
};

std::string describe(const std::vector<StateChange>& changes) {
  std::string out;
  for (const auto& c : changes) out += "  " + format_rfc3339(c.at) + " " + c.state + "\n";
  return out;
}

class BacktestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exporter_ = new TinyExporter();
    exporter_->set("test_value", 1);
    prometheus_ = new PrometheusProcess(kPrometheusRules, {exporter_->address()}, 1);
    ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
    ASSERT_TRUE(wait_until(
        [] {
          return http_get(prometheus_->url() + "/api/v1/query?query=test_value").body.find("\"1\"") != std::string::npos;
        },
        20s));
    // The script: high 6 s, low 4 s, high 6 s, low; the rule has for = 2s.
    from_ = now();
    std::this_thread::sleep_for(2s);
    exporter_->set("test_value", 10);
    std::this_thread::sleep_for(6s);
    exporter_->set("test_value", 1);
    std::this_thread::sleep_for(4s);
    exporter_->set("test_value", 10);
    std::this_thread::sleep_for(6s);
    exporter_->set("test_value", 1);
    std::this_thread::sleep_for(4s);
    to_ = now();
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    delete exporter_;
    prometheus_ = nullptr;
    exporter_ = nullptr;
  }

  // Prometheus's own view: ALERTS of the rule at 100 ms resolution (its stale markers end a
  // series at the evaluation that dropped it).
  static std::vector<StateChange> prometheus_changes() {
    std::string url = prometheus_->url() + "/api/v1/query_range?query=ALERTS%7Balertname%3D%22ValueHigh%22%7D&start=" +
                      format_unix_seconds(from_) + "&end=" + format_unix_seconds(to_) + "&step=0.1";
    HttpResult r = http_get(url);
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = nlohmann::json::parse(r.body);
    std::map<TimePoint, std::string> state;  // sample time -> pending | firing
    for (const auto& series : j["data"]["result"]) {
      std::string s = series["metric"]["alertstate"];
      for (const auto& p : series["values"]) {
        auto t = TimePoint(std::chrono::milliseconds(static_cast<long long>(std::llround(p[0].get<double>() * 1000))));
        state[t] = s;
      }
    }
    std::vector<StateChange> changes;
    std::string current = "inactive";
    for (TimePoint t = TimePoint(std::chrono::milliseconds(static_cast<long long>(std::llround(to_unix_seconds(from_) * 1000))));
         t <= to_; t += 100ms) {
      auto it = state.find(t);
      std::string s = it == state.end() ? "inactive" : it->second;
      if (s != current) changes.push_back({t, s});
      current = s;
    }
    return changes;
  }

  // Writes a promwatch config whose datasource is `datasource` and whose receiver is `sink`.
  static fs::path write_config(const TempDir& dir, const std::string& datasource, const std::string& sink) {
    dir.write("rules.toml", kRules);
    return dir.write("promwatch.toml", R"([global]
rule_files = ["rules.toml"]
state_dir = ")" + (dir.path() / "state").string() + R"("

[datasource]
url = ")" + datasource + R"("
retries = 0
timeout = "2s"

[[receivers]]
name = "pager"
type = "webhook"
url = ")" + sink + R"(/hook"

[route]
receiver = "pager"
group_by = ["alertname"]
group_wait = "1s"
group_interval = "2s"
repeat_interval = "1h"
)");
  }

  static int backtest(const fs::path& config, const std::vector<std::string>& extra, std::string* output) {
    std::vector<std::string> argv{promwatch_binary(), "backtest", "--config", config.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, output, 60s);
  }

  static TinyExporter* exporter_;
  static PrometheusProcess* prometheus_;
  static TimePoint from_;
  static TimePoint to_;
};

TinyExporter* BacktestTest::exporter_ = nullptr;
PrometheusProcess* BacktestTest::prometheus_ = nullptr;
TimePoint BacktestTest::from_{};
TimePoint BacktestTest::to_{};

TEST_F(BacktestTest, ReportsTheStatesPrometheusWentThrough) {
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  TempDir dir;
  fs::path config = write_config(dir, prometheus_->url(), sink.url());
  const fs::path html = dir.path() / "backtest.html";
  std::string output;
  int code = backtest(config,
                      {"--rule", "ValueHigh", "--from", format_rfc3339(from_), "--to", std::to_string(to_unix_seconds(to_)),
                       "--output", "json", "--html", html.string()},
                      &output);
  ASSERT_EQ(code, 0) << output;
  auto j = nlohmann::json::parse(output.substr(output.find('{')));

  std::vector<StateChange> expected = prometheus_changes();
  ASSERT_EQ(j["alerts"].size(), 1u) << output;
  std::vector<StateChange> got;
  for (const auto& t : j["alerts"][0]["transitions"]) {
    got.push_back({*parse_time(t["at"].get<std::string>()), t["state"].get<std::string>()});
  }
  // pending, firing, resolved, twice.
  ASSERT_EQ(expected.size(), 6u) << describe(expected);
  ASSERT_EQ(got.size(), expected.size()) << "promwatch:\n" << describe(got) << "Prometheus:\n" << describe(expected);
  Duration widest{0};
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].state, expected[i].state) << i;
    // One evaluation interval apart at most; Prometheus's time is seen at 100 ms steps, and a
    // scrape that lands within milliseconds of an evaluation can be seen one round later.
    auto apart = got[i].at > expected[i].at ? got[i].at - expected[i].at : expected[i].at - got[i].at;
    EXPECT_LE(apart, 1s + 200ms) << i << "\npromwatch:\n" << describe(got) << "Prometheus:\n" << describe(expected);
    widest = std::max(widest, Duration(apart));
  }
  std::cout << "[ measure  ] backtest vs Prometheus ALERTS: " << got.size() << " state changes, at most "
            << widest.count() << " ms apart\n";
  EXPECT_EQ(j["alerts"][0]["labels"]["severity"], "page");
  EXPECT_EQ(j["alerts"][0]["labels"]["alertname"], "ValueHigh");

  // group_wait 1 s after each firing, the resolution at a later group_interval flush.
  ASSERT_EQ(j["notifications"].size(), 4u) << output;
  const char* statuses[] = {"firing", "resolved", "firing", "resolved"};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(j["notifications"][i]["status"], statuses[i]) << i;
    EXPECT_EQ(j["notifications"][i]["receiver"], "pager");
  }
  EXPECT_EQ(*parse_time(j["notifications"][0]["at"].get<std::string>()), got[1].at + 1s);
  EXPECT_EQ(*parse_time(j["notifications"][2]["at"].get<std::string>()), got[4].at + 1s);
  for (std::size_t i : {1u, 3u}) {
    TimePoint at = *parse_time(j["notifications"][i]["at"].get<std::string>());
    EXPECT_GE(at, got[i == 1 ? 2 : 5].at);
    EXPECT_LE(at, got[i == 1 ? 2 : 5].at + 2s);
  }
  EXPECT_EQ(j["summary"]["notifications"], 4);
  double firing = to_seconds((got[2].at - got[1].at) + (got[5].at - got[4].at));
  EXPECT_DOUBLE_EQ(j["summary"]["firing_seconds"].get<double>(), firing);

  // Read-only: nothing was sent, no state was written.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink.request_count(), 0u);
  EXPECT_FALSE(fs::exists(dir.path() / "state"));

  // The page: self-contained, with the bands, looked at in a real browser.
  const std::string page = read_file(html);
  ASSERT_FALSE(page.empty());
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_NE(page.find("<meta name=\"viewport\""), std::string::npos);

  const std::string chromium = find_chromium();
  ASSERT_FALSE(chromium.empty()) << "chromium not found: install the Debian package `chromium` (scripts/setup does)";
  TempDir profile;
  const fs::path dom_file = profile.path() / "dom.html";
  std::string log;
  code = run_chromium(chromium, profile.path() / "profile-dom", {"--dump-dom"}, "file://" + html.string(), dom_file, &log);
  ASSERT_EQ(code, 0) << log;
  const std::string dom = read_file(dom_file);
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto p = dom.find(needle); p != std::string::npos; p = dom.find(needle, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<rect class=\"tl-pending\""), 2u) << dom;
  EXPECT_EQ(count("<rect class=\"tl-firing\""), 2u);
  EXPECT_EQ(count("<line class=\"tl-mark"), 4u);
  EXPECT_GE(count("<polyline "), 1u);
  EXPECT_NE(dom.find("test_value"), std::string::npos);

  keep_screenshots(chromium, profile.path(), "file://" + html.string(),
                   {{"backtest.png", "1280,900"}, {"backtest_phone.png", "390,1400"}});
}

TEST_F(BacktestTest, TextOutputListsTimelineNotificationsAndSummary) {
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  TempDir dir;
  fs::path config = write_config(dir, prometheus_->url(), sink.url());
  std::string output;
  int code = backtest(config, {"--rule", "wobble/ValueHigh", "--from", format_rfc3339(from_), "--to", format_rfc3339(to_)},
                      &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("backtest of ValueHigh (group wobble)"), std::string::npos) << output;
  EXPECT_NE(output.find("  pending\n"), std::string::npos) << output;
  EXPECT_NE(output.find("  inactive (resolved)\n"), std::string::npos) << output;
  EXPECT_NE(output.find("notifications (4):"), std::string::npos) << output;
  EXPECT_NE(output.find("summary: 4 notifications, "), std::string::npos) << output;
  EXPECT_EQ(sink.request_count(), 0u);
}

TEST_F(BacktestTest, BadArgumentsExitOneAndDatasourceFailuresExitTwo) {
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  TempDir dir;
  fs::path config = write_config(dir, prometheus_->url(), sink.url());
  std::string output;
  EXPECT_EQ(backtest(config, {"--rule", "NoSuchAlert", "--from", "0", "--to", "60"}, &output), 1);
  EXPECT_NE(output.find("no alerting rule \"NoSuchAlert\""), std::string::npos) << output;
  EXPECT_EQ(backtest(config, {"--rule", "ValueHigh", "--from", "yesterday", "--to", "60"}, &output), 1);
  EXPECT_NE(output.find("--from must be RFC 3339 or Unix seconds"), std::string::npos) << output;
  EXPECT_EQ(backtest(config, {"--rule", "ValueHigh", "--from", "120", "--to", "60"}, &output), 1);
  EXPECT_EQ(backtest(config, {"--rule", "ValueHigh", "--from", "0", "--to", "60", "--output", "yaml"}, &output), 1);
  EXPECT_EQ(backtest(config, {"--from", "0", "--to", "60"}, &output), 1);

  // A datasource that refuses connections, and one that answers with an error.
  TempDir down;
  fs::path down_config = write_config(down, "http://127.0.0.1:" + std::to_string(free_port()), sink.url());
  EXPECT_EQ(backtest(down_config, {"--rule", "ValueHigh", "--from", format_rfc3339(from_), "--to", format_rfc3339(to_)},
                     &output),
            2);
  EXPECT_NE(output.find("query_range of test_value > 5"), std::string::npos) << output;
  EXPECT_NE(output.find("connection refused"), std::string::npos) << output;
  TestHttpServer broken([](const TestRequest&) {
    TestResponse r;
    r.status = 422;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"})";
    return r;
  });
  TempDir bad;
  fs::path bad_config = write_config(bad, broken.url(), sink.url());
  EXPECT_EQ(backtest(bad_config, {"--rule", "ValueHigh", "--from", format_rfc3339(from_), "--to", format_rfc3339(to_)},
                     &output),
            2);
  EXPECT_NE(output.find("exceeded maximum resolution"), std::string::npos) << output;
  EXPECT_EQ(sink.request_count(), 0u);
}

}  // namespace
}  // namespace promwatch::test
