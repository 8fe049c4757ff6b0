// The system clock steps under a running daemon (issue #8: "system clock jumps forward and
// back"). Stepping the real clock needs CAP_SYS_TIME and would disturb the machine, so the
// daemon runs with tests/support/preload/wall_clock_step.cpp preloaded: it offsets
// CLOCK_REALTIME alone, by an amount the test rewrites while the daemon runs — what
// settimeofday or an NTP step does. The datasource is a loopback server that answers every
// query with one series, so query times can be read back.
//
// Claims: no burst of evaluations after a jump ahead, no hour-long silence after a jump back,
// a pending `for` counts real time across both (it neither fires early nor late), times seen
// through the API are never in the future, and nothing counts as a missed iteration.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "promwatch/time.hpp"
#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;


// One query as the datasource saw it: when it arrived (test's monotonic clock) and the
// evaluation time promwatch asked for (its faked wall clock).
struct SeenQuery {
  Clock::time_point arrived;
  double time = 0;
};

class FakeDatasource {
 public:
  FakeDatasource()
      : server_([this](const TestRequest& r) {
          std::string time = r.form.count("time") ? r.form.at("time") : r.query.count("time") ? r.query.at("time") : "";
          double t = std::strtod(time.c_str(), nullptr);
          {
            std::lock_guard lock(mu_);
            seen_.push_back({Clock::now(), t});
          }
          TestResponse response;
          response.headers.emplace_back("Content-Type", "application/json");
          response.body = R"({"status":"success","data":{"resultType":"vector","result":[)"
                          R"({"metric":{"__name__":"load","instance":"a"},"value":[)" +
                          time + R"(,"5"]}]}})";
          return response;
        }) {}

  std::string url() const { return server_.url(); }
  std::vector<SeenQuery> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t count_since(Clock::time_point from) const {
    std::size_t n = 0;
    for (const auto& q : seen()) n += q.arrived >= from;
    return n;
  }
  double last_time() const {
    auto s = seen();
    return s.empty() ? 0 : s.back().time;
  }

 private:
  mutable std::mutex mu_;
  std::vector<SeenQuery> seen_;
  TestHttpServer server_;  // last: destroyed (joined) before the members its handler uses
};

void set_wall_clock_offset(const std::filesystem::path& file, const std::string& offset) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  std::ofstream(tmp) << offset << "\n";
  std::filesystem::rename(tmp, file);  // whole: the daemon never reads half a line
}

// The one alert of the HighLoad rule from /api/v1/alerts, or null.
json high_load_alert(const PromwatchProcess& promwatch) {
  HttpResult r = http_get(promwatch.url() + "/api/v1/alerts");
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return nullptr;
  for (const auto& a : body["data"]["alerts"]) {
    if (a["labels"].value("alertname", "") == "HighLoad") return a;
  }
  return nullptr;
}

std::string alert_state(const PromwatchProcess& promwatch) {
  json a = high_load_alert(promwatch);
  return a.is_null() ? "" : a.value("state", "");
}

double metric_value(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

TEST(ClockSteps, ForwardAndBackNeitherBurstNorStallNorBendFor) {
  TempDir offset_dir;
  std::filesystem::path offset_file = offset_dir.path() / "offset_ms";
  set_wall_clock_offset(offset_file, "0");

  FakeDatasource datasource;
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  std::string asan_options = getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "";
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
timeout = "900ms"
retries = 0
[server]
listen = "{{LISTEN}}"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "0s"
group_interval = "1s"
)",
                             {{"rules.toml", R"([[groups]]
name = "g"
interval = "1s"
[[groups.rules]]
alert = "HighLoad"
expr = 'load > 1'
for = "8s"
)"}},
                             {{"LD_PRELOAD", PROMWATCH_WALL_CLOCK_STEP_LIBRARY},
                              {"PROMWATCH_TEST_WALL_CLOCK_OFFSET_FILE", offset_file.string()},
                              // A sanitized build wants its runtime first in the link order.
                              {"ASAN_OPTIONS", asan_options + (asan_options.empty() ? "" : ":") +
                                                   "verify_asan_link_order=0"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  ASSERT_TRUE(wait_until([&] { return alert_state(promwatch) == "pending"; }, 15s, 50ms)) << promwatch.process().log();
  const Clock::time_point pending_seen = Clock::now();
  const auto pending_wall = std::chrono::system_clock::now();
  const double time_before_jump = datasource.last_time();

  // 2 s into `for`, the wall clock jumps an hour ahead.
  std::this_thread::sleep_for(2s);
  set_wall_clock_offset(offset_file, "3600000");
  const Clock::time_point jumped_ahead = Clock::now();
  ASSERT_TRUE(wait_until([&] { return datasource.last_time() > time_before_jump + 3000; }, 5s, 50ms))
      << "queries did not follow the wall clock ahead\n" << promwatch.process().log();
  std::this_thread::sleep_for(2s);
  // One query a second, as before: no catching up on the hour "missed".
  EXPECT_LE(datasource.count_since(jumped_ahead), 4u);
  EXPECT_EQ(alert_state(promwatch), "pending") << "the jump ahead fired the alert early";

  // 4 s into `for`, the clock goes back an hour (to the real time).
  set_wall_clock_offset(offset_file, "0");
  const Clock::time_point jumped_back = Clock::now();
  // Evaluations go on at once, on the real time again (not an hour of silence).
  ASSERT_TRUE(wait_until([&] { return datasource.count_since(jumped_back) >= 2 && datasource.last_time() < time_before_jump + 60; },
                         5s, 50ms))
      << "evaluation stopped after the clock went back\n" << promwatch.process().log();

  // It fires after 8 s of real time in `for`: neither an hour early nor an hour late.
  ASSERT_TRUE(wait_until([&] { return alert_state(promwatch) == "firing"; }, 12s, 50ms)) << promwatch.process().log();
  const double fired_after = std::chrono::duration<double>(Clock::now() - pending_seen).count();
  EXPECT_GE(fired_after, 6.5);
  EXPECT_LE(fired_after, 10.5);

  // Every time the API shows is on the real timeline: activeAt where it began, not ahead.
  json alert = high_load_alert(promwatch);
  std::optional<TimePoint> active_at = parse_time(alert.value("activeAt", ""));
  ASSERT_TRUE(active_at.has_value()) << alert.dump();
  const auto pending_ms = std::chrono::time_point_cast<std::chrono::milliseconds>(pending_wall);
  EXPECT_LE(*active_at, pending_ms + 1s);
  EXPECT_GE(*active_at, pending_ms - 3s);

  // The firing notification starts when `for` ran out: 8 s after activeAt, steps or not.
  ASSERT_TRUE(sink.wait_for_requests(1, 5s)) << promwatch.process().log();
  json message = json::parse(sink.requests().front().body, nullptr, false);
  ASSERT_FALSE(message.is_discarded());
  EXPECT_EQ(message["status"], "firing");
  std::optional<TimePoint> starts_at = parse_time(message["alerts"][0].value("startsAt", ""));
  ASSERT_TRUE(starts_at.has_value());
  EXPECT_EQ(*starts_at, *active_at + 8s);

  // No burst overall: about one evaluation a second since the start.
  std::vector<SeenQuery> all = datasource.seen();
  double seconds = std::chrono::duration<double>(all.back().arrived - all.front().arrived).count();
  EXPECT_LE(static_cast<double>(all.size()), seconds + 3) << "evaluations: " << all.size() << " in " << seconds << " s";

  std::string metrics = http_get(promwatch.url() + "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "promwatch_clock_steps_total"), 2);
  EXPECT_EQ(metric_value(metrics, R"(promwatch_group_iterations_missed_total{group="g"})"), 0);
  // Every round's lateness was recorded, none of them an hour.
  EXPECT_GE(metric_value(metrics, "promwatch_group_evaluation_start_delay_seconds_count"), 8);
  EXPECT_LT(metric_value(metrics, "promwatch_group_evaluation_start_delay_seconds_sum"), 60);
  std::string log = promwatch.process().log();
  EXPECT_NE(log.find("system clock was stepped forward by"), std::string::npos) << log;
  EXPECT_NE(log.find("system clock was stepped back by"), std::string::npos) << log;
}

}  // namespace
}  // namespace promwatch::test
