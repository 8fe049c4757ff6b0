// The command line of SPEC §1 run as a user runs it: the real binary, real files, a loopback
// datasource. Exit codes: 0 success, 1 invalid input, 2 runtime failure.

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

int run(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv{promwatch_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, output);
}

TEST(Cli, VersionAndHelp) {
  std::string out;
  EXPECT_EQ(run({"--version"}, &out), 0);
  EXPECT_EQ(out.rfind("promwatch ", 0), 0u) << out;
  EXPECT_EQ(run({"--help"}, &out), 0);
  EXPECT_NE(out.find("test-receiver"), std::string::npos);
  EXPECT_EQ(run({"--bogus"}, &out), 1);
  EXPECT_NE(out.find("unknown option --bogus"), std::string::npos);
  EXPECT_EQ(run({"check"}, &out), 1);
  EXPECT_NE(out.find("--config"), std::string::npos);
}

TEST(Cli, CheckAcceptsTheExampleRules) {
  TempDir dir;
  auto config = dir.write("promwatch.toml", R"([global]
rule_files = [")" + (source_dir() / "rules" / "*.toml").string() + R"("]
[datasource]
url = "http://127.0.0.1:9"
)");
  std::string out;
  EXPECT_EQ(run({"check", "--config", config.string()}, &out), 0) << out;
  EXPECT_NE(out.find("valid"), std::string::npos) << out;
}

TEST(Cli, CheckAcceptsTheDemoConfig) {
  std::string out;
  std::vector<std::string> argv{promwatch_binary(), "check", "--config",
                                (source_dir() / "examples" / "demo" / "promwatch.toml").string()};
  TempDir dir;
  ChildProcess child(argv, dir.path() / "out.log",
                     {{"PROMWATCH_DEMO_STATE", dir.path().string()},
                      {"PROMWATCH_DEMO_PORT", "9097"},
                      {"PROMWATCH_DEMO_PROMETHEUS_PORT", "9090"},
                      {"PROMWATCH_DEMO_SINK_PORT", "9098"}});
  EXPECT_EQ(child.wait_exit(30s), 0) << child.log();
}

TEST(Cli, CheckReportsEveryProblemWithItsPosition) {
  TempDir dir;
  dir.write("rules.toml", R"([[groups]]
name = "bad"

[[groups.rules]]
alert = "X"
expr = 'up == 0'
for = "5 minutes"
annotations = { summary = "{{ $labels.instance " }
)");
  auto config = dir.write("promwatch.toml", R"([global]
rule_files = ["rules.toml"]
evaluation_intervall = "1m"
[datasource]
url = "http://127.0.0.1:9"
)");
  std::string out;
  EXPECT_EQ(run({"check", "--config", config.string()}, &out), 1);
  // file:line:col: message, for the unknown key in the main file and the bad duration in the
  // rule file (the loader reports all it can at once).
  EXPECT_NE(out.find(config.string() + ":3:1: "), std::string::npos) << out;
  EXPECT_NE(out.find("evaluation_interval"), std::string::npos) << out;  // the "did you mean" hint
  EXPECT_NE(out.find((dir.path() / "rules.toml").string() + ":7:"), std::string::npos) << out;
}

TEST(Cli, CheckReportsTemplateErrors) {
  TempDir dir;
  dir.write("rules.toml", R"([[groups]]
name = "bad"

[[groups.rules]]
alert = "X"
expr = 'up == 0'
annotations = { summary = "{{ $labels.instance " }
)");
  auto config = dir.write("promwatch.toml", R"([global]
rule_files = ["rules.toml"]
[datasource]
url = "http://127.0.0.1:9"
)");
  std::string out;
  EXPECT_EQ(run({"check", "--config", config.string()}, &out), 1);
  EXPECT_NE(out.find((dir.path() / "rules.toml").string() + ":7:"), std::string::npos) << out;
}

TEST(Cli, DaemonRefusesAnInvalidConfig) {
  TempDir dir;
  auto config = dir.write("promwatch.toml", "[datasource]\nurl = 42\n");
  std::string out;
  EXPECT_EQ(run({"--config", config.string()}, &out), 1);
  EXPECT_NE(out.find(":2:"), std::string::npos) << out;
}

std::string vector_response(const std::string& metric_json, const std::string& value) {
  return R"({"status":"success","data":{"resultType":"vector","result":[{"metric":)" + metric_json +
         R"(,"value":[1700000000,")" + value + R"("]}]}})";
}

TEST(Cli, EvalPrintsWhatWouldFire) {
  TestHttpServer datasource([](const TestRequest& request) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    if (request.path == "/api/v1/query_range") {
      // Present at every step of the range: a `for` rule would be firing.
      double start = std::stod(request.form.at("start"));
      double end = std::stod(request.form.at("end"));
      double step = std::stod(request.form.at("step"));
      std::string values;
      for (double t = start; t <= end + 1e-9; t += step) {
        values += (values.empty() ? "" : ",") + std::string("[") + std::to_string(t) + ",\"0.97\"]";
      }
      r.body = R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"instance":"db1:9100"},"values":[)" +
               values + "]}]}}";
      return r;
    }
    r.body = vector_response(R"({"__name__":"up","instance":"db1:9100"})", "0");
    return r;
  });
  TempDir dir;
  dir.write("rules.toml", R"([[groups]]
name = "node"
interval = "30s"

[[groups.rules]]
alert = "InstanceDown"
expr = 'up == 0'
labels = { severity = "critical" }
annotations = { summary = "{{ $labels.instance }} is down" }

[[groups.rules]]
alert = "HighCPU"
expr = 'cpu > 0.9'
for = "2m"
)");
  auto config = dir.write("promwatch.toml", R"([global]
rule_files = ["rules.toml"]
[datasource]
url = ")" + datasource.url() + R"("
)");
  std::string out;
  EXPECT_EQ(run({"eval", "--config", config.string(), "--time", "2026-01-01T00:10:00Z"}, &out), 0) << out;
  EXPECT_NE(out.find("node/InstanceDown"), std::string::npos) << out;
  EXPECT_NE(out.find("firing {alertname=\"InstanceDown\", instance=\"db1:9100\", severity=\"critical\"}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("summary: db1:9100 is down"), std::string::npos) << out;
  // The `for` rule is judged from the range [t-2m, t] at the 30 s group interval.
  EXPECT_NE(out.find("firing {alertname=\"HighCPU\", instance=\"db1:9100\"}"), std::string::npos) << out;
  bool saw_range = false;
  for (const auto& request : datasource.requests()) {
    if (request.path != "/api/v1/query_range") continue;
    saw_range = true;
    const std::string& step = request.form.at("step");
    EXPECT_TRUE(step == "30s" || step == "30") << step;  // Prometheus takes a duration or seconds
    EXPECT_DOUBLE_EQ(std::stod(request.form.at("end")) - std::stod(request.form.at("start")), 120.0);
  }
  EXPECT_TRUE(saw_range);

  // Only one rule, and a time given as Unix seconds.
  EXPECT_EQ(run({"eval", "--config", config.string(), "--rule", "InstanceDown", "--time", "1767225600"}, &out), 0);
  EXPECT_EQ(out.find("HighCPU"), std::string::npos) << out;
  EXPECT_EQ(run({"eval", "--config", config.string(), "--rule", "Nope"}, &out), 1);
}

TEST(Cli, EvalPrintsWhatARecordingRuleWouldWrite) {
  TestHttpServer datasource([](const TestRequest&) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = vector_response(R"({"job":"api"})", "0.25");
    return r;
  });
  TempDir dir;
  dir.write("rules.toml", R"([[groups]]
name = "rec"
labels = { env = "prod" }

[[groups.rules]]
record = "job:errors:ratio"
expr = 'sum by (job) (rate(errors[5m]))'
labels = { source = "pw" }
)");
  auto config = dir.write("promwatch.toml", R"([global]
rule_files = ["rules.toml"]
[datasource]
url = ")" + datasource.url() + R"("
[remote_write]
url = "http://127.0.0.1:9/api/v1/write"
)");
  std::string out;
  EXPECT_EQ(run({"eval", "--config", config.string(), "--rule", "job:errors:ratio", "--time", "2026-01-01T00:10:00Z"}, &out),
            0)
      << out;
  EXPECT_NE(out.find("rec/job:errors:ratio (recording) at 2026-01-01T00:10:00Z"), std::string::npos) << out;
  EXPECT_NE(out.find("would write 1 samples at 2026-01-01T00:10:00Z\n"
                     "    {__name__=\"job:errors:ratio\", env=\"prod\", job=\"api\", source=\"pw\"} 0.25\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(datasource.requests().size(), 1u) << "nothing written anywhere, one query";
}

TEST(Cli, EvalFailsWhenTheDatasourceDoes) {
  TestHttpServer datasource([](const TestRequest&) { return TestResponse{503, {}, "down for maintenance"}; });
  TempDir dir;
  dir.write("rules.toml", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'up == 0'\n");
  auto config = dir.write("promwatch.toml", "[global]\nrule_files = [\"rules.toml\"]\n[datasource]\nretries = 0\nurl = \"" +
                                                datasource.url() + "\"\n");
  std::string out;
  EXPECT_EQ(run({"eval", "--config", config.string()}, &out), 2);
  EXPECT_NE(out.find("503"), std::string::npos) << out;
}

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    datasource_ = std::make_unique<TestHttpServer>([](const TestRequest&) {
      TestResponse r;
      r.headers.push_back({"Content-Type", "application/json"});
      r.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"a"},"value":[1700000000,"1"]}]}})";
      return r;
    });
    promwatch_ = std::make_unique<PromwatchProcess>(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource_->url() + R"("
[server]
listen = "{{LISTEN}}"
enable_lifecycle = true
)",
                                                    std::map<std::string, std::string>{{"rules.toml", kRules}});
    ASSERT_TRUE(promwatch_->wait_healthy()) << promwatch_->process().log();
  }

  std::vector<std::string> rule_names() {
    std::vector<std::string> names;
    json body = json::parse(http_get(promwatch_->url() + "/api/v1/rules").body, nullptr, false);
    if (body.is_discarded()) return names;
    for (const auto& g : body["data"]["groups"]) {
      for (const auto& r : g["rules"]) names.push_back(r["name"]);
    }
    return names;
  }

  std::string firing_since(const std::string& name) {
    json body = json::parse(http_get(promwatch_->url() + "/api/v1/alerts").body, nullptr, false);
    if (body.is_discarded()) return "";
    for (const auto& a : body["data"]["alerts"]) {
      if (a["labels"]["alertname"] == name && a["state"] == "firing") return a["activeAt"];
    }
    return "";
  }

  static constexpr const char* kRules = "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 0'\n";
  std::unique_ptr<TestHttpServer> datasource_;
  std::unique_ptr<PromwatchProcess> promwatch_;
};

TEST_F(Lifecycle, SighupReloadsAndKeepsAlertState) {
  ASSERT_TRUE(wait_until([&] { return !firing_since("A").empty(); }, 20s)) << promwatch_->process().log();
  std::string active_at = firing_since("A");
  promwatch_->dir().write("rules.toml", std::string(kRules) + "[[groups.rules]]\nalert = \"B\"\nexpr = 'y > 0'\n");
  promwatch_->process().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return rule_names().size() == 2; }, 10s)) << promwatch_->process().log();
  // The alert carried over: same activeAt, still firing.
  EXPECT_EQ(firing_since("A"), active_at);
  EXPECT_NE(http_get(promwatch_->url() + "/metrics").body.find("promwatch_config_last_reload_successful 1"),
            std::string::npos);
}

TEST_F(Lifecycle, BrokenReloadKeepsTheRunningConfig) {
  ASSERT_TRUE(wait_until([&] { return rule_names().size() == 1; }, 10s));
  promwatch_->dir().write("rules.toml", "[[groups]]\nname = 42\n");
  promwatch_->process().signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return http_get(promwatch_->url() + "/metrics").body.find("promwatch_config_last_reload_successful 0") !=
               std::string::npos;
      },
      10s))
      << promwatch_->process().log();
  EXPECT_EQ(rule_names().size(), 1u);
  EXPECT_TRUE(promwatch_->process().running());
  // POST /-/reload answers the validation errors.
  HttpResult r = http_request("POST", promwatch_->url() + "/-/reload", "", {});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("rules.toml:2:"), std::string::npos) << r.body;
}

// A reload that leaves the routing alone keeps the dispatcher as it is (no second message for
// an alert already notified) and leaves the stored alerts as they are: after the reload and a
// SIGKILL, the restarted daemon still has the alert with its first activeAt and does not
// notify it again.
TEST(Reload, KeepsNotifiedAlertsAndTheirStoredStateThroughAKill) {
  TestHttpServer datasource([](const TestRequest& r) {
    const std::string query = r.form.count("query") ? r.form.at("query") : r.query.count("query") ? r.query.at("query") : "";
    TestResponse out;
    out.headers.push_back({"Content-Type", "application/json"});
    const std::string sample = query.find('x') != std::string::npos
                                   ? R"({"metric":{"instance":"a"},"value":[1700000000,"1"]})"
                                   : "";
    out.body = R"({"status":"success","data":{"resultType":"vector","result":[)" + sample + "]}}";
    return out;
  });
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  const std::string rules_a = "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 0'\n";
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
group_by = ["alertname"]
group_wait = "1s"
group_interval = "1s"
repeat_interval = "1h"
)",
                             {{"rules.toml", rules_a}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  auto active_at = [&](const std::string& name) -> std::string {
    json body = json::parse(http_get(promwatch.url() + "/api/v1/alerts").body, nullptr, false);
    if (body.is_discarded()) return "";
    for (const auto& a : body["data"]["alerts"]) {
      if (a["labels"]["alertname"] == name && a["state"] == "firing") return a["activeAt"];
    }
    return "";
  };
  ASSERT_TRUE(sink.wait_for_requests(1, 20s)) << promwatch.process().log();
  const std::string first = active_at("A");
  ASSERT_FALSE(first.empty());

  promwatch.dir().write("rules.toml", rules_a + "[[groups.rules]]\nalert = \"B\"\nexpr = 'y > 0'\n");
  HttpResult reloaded = http_request("POST", promwatch.url() + "/-/reload", "", {});
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  // A few evaluations and group intervals later: the alert is the same one, notified once.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(active_at("A"), first);
  EXPECT_EQ(sink.requests().size(), 1u);

  promwatch.process().kill_now();
  promwatch.restart();
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return !active_at("A").empty(); }, 10s)) << promwatch.process().log();
  EXPECT_EQ(active_at("A"), first);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(sink.requests().size(), 1u) << promwatch.process().log();
}

TEST_F(Lifecycle, SigtermStopsGracefullyWithExitZero) {
  EXPECT_EQ(http_get(promwatch_->url() + "/healthz").status, 200);
  ASSERT_TRUE(wait_until([&] { return http_get(promwatch_->url() + "/readyz").status == 200; }, 10s));
  promwatch_->process().signal(SIGTERM);
  EXPECT_EQ(promwatch_->process().wait_exit(10s), 0) << promwatch_->process().log();
}

}  // namespace
}  // namespace promwatch::test
