// Annotations that call `query` (and first, label, value, sortByLabel, args, pathPrefix): the
// same rule loaded into a real Prometheus and into promwatch, both reading one tiny exporter.
// promwatch's /api/v1/alerts and the webhook notification must carry the annotation text
// Prometheus itself renders, errors included; `promwatch eval` renders it too.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"
#include "support/process.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// Both are given the same external URL, with a trailing slash, which both must drop.
constexpr const char* kExternalURL = "http://promwatch.test:9097/alerting/";

const std::vector<std::pair<std::string, std::string>> kAnnotations = {
    {"first_value", R"t({{ query "sum(tq_disk)" | first | value }})t"},
    {"sorted", R"t({{ range query "tq_disk" | sortByLabel "mount" }}{{ .Labels.mount }}={{ .Value | humanize }};{{ end }})t"},
    {"by_label", R"t({{ query (printf "tq_trigger{job=%q}" $labels.job) | first | label "__name__" }})t"},
    {"dependent", R"t({{ with query "tq_disk == 20" }}{{ query (printf "tq_disk{mount=%q}" (. | first | label "mount")) | len }}{{ end }})t"},
    {"scalar", R"t({{ query "scalar(sum(tq_disk))" | first }})t"},
    {"sample", R"t({{ query "tq_disk{mount=\"/boot\"}" | first | value | humanizePercentage }})t"},
    {"args", R"t({{ define "pair" }}{{ .arg0 }}:{{ .arg1 }}{{ end }}{{ template "pair" (args "n" (query "tq_disk" | len)) }})t"},
    {"strvalue", R"t({{ query "label_replace(tq_trigger, \"__value__\", \"v-$1\", \"job\", \"(.*)\")" | first | strvalue }})t"},
    {"empty", R"t({{ query "tq_missing" | first | value }})t"},
    {"parse_error", R"t({{ query "tq_disk(" }})t"},
    {"range_vector", R"t({{ query "tq_disk[1m]" }})t"},
    {"execution_error", R"t({{ query "tq_disk + on() group_left tq_disk" }})t"},
    {"external", R"t({{ $externalURL }}|{{ .ExternalURL }}|{{ pathPrefix }}|{{ externalURL }})t"},
};

std::string yaml_single_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string prometheus_rules() {
  std::string out = "groups:\n- name: tq\n  interval: 1s\n  rules:\n  - alert: QueryTemplates\n"
                    "    expr: 'tq_trigger > 0'\n    annotations:\n";
  for (const auto& [k, v] : kAnnotations) out += "      " + k + ": " + yaml_single_quoted(v) + "\n";
  return out;
}

std::string promwatch_rules() {
  std::string out = "[[groups]]\nname = \"tq\"\ninterval = \"1s\"\n\n[[groups.rules]]\nalert = \"QueryTemplates\"\n"
                    "expr = 'tq_trigger > 0'\n[groups.rules.annotations]\n";
  // A JSON string of ASCII text is a TOML basic string.
  for (const auto& [k, v] : kAnnotations) out += k + " = " + json(v).dump() + "\n";
  return out;
}

// The annotations of the firing `alertname` alert in an /api/v1/alerts answer (null if none).
json annotations_of(const std::string& base_url, const std::string& alertname = "QueryTemplates") {
  HttpResult r = http_get(base_url + "/api/v1/alerts", 2s);
  if (r.status != 200) return nullptr;
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return nullptr;
  for (const auto& alert : body["data"]["alerts"]) {
    if (alert["labels"].value("alertname", "") == alertname && alert["state"] == "firing") return alert["annotations"];
  }
  return nullptr;
}

std::string annotation_of(const std::string& base_url, const std::string& key) {
  json a = annotations_of(base_url);
  return a.is_object() ? a.value(key, "") : "";
}

class TemplateQuery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exporter_ = new TinyExporter();
    exporter_->set("tq_trigger", 1);
    exporter_->set(R"(tq_disk{mount="/"})", 20);
    exporter_->set(R"(tq_disk{mount="/data"})", 5);
    exporter_->set(R"(tq_disk{mount="/boot"})", 0.5);
    prometheus_ = new PrometheusProcess(prometheus_rules(), {exporter_->address()}, 1,
                                        {std::string("--web.external-url=") + kExternalURL, "--web.route-prefix=/"});
    sink_ = new TestHttpServer([](const TestRequest&) { return TestResponse{}; });
  }
  static void TearDownTestSuite() {
    delete sink_;
    delete prometheus_;
    delete exporter_;
  }

  std::string config() const {
    return R"([global]
evaluation_interval = "1s"
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
external_url = ")" + std::string(kExternalURL) + R"("

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
group_wait = "1s"
group_interval = "1s"
repeat_interval = "1h"
)";
  }

  static TinyExporter* exporter_;
  static PrometheusProcess* prometheus_;
  static TestHttpServer* sink_;
};

TinyExporter* TemplateQuery::exporter_ = nullptr;
PrometheusProcess* TemplateQuery::prometheus_ = nullptr;
TestHttpServer* TemplateQuery::sink_ = nullptr;

TEST_F(TemplateQuery, AnnotationsMatchPrometheus) {
  ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
  PromwatchProcess promwatch(config(), {{"rules.toml", promwatch_rules()}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  json prom, pw;
  ASSERT_TRUE(wait_until(
      [&] {
        prom = annotations_of(prometheus_->url());
        pw = annotations_of(promwatch.url());
        return !prom.is_null() && !pw.is_null();
      },
      30s, 200ms))
      << "prometheus: " << prom << "\npromwatch: " << pw << "\n" << promwatch.process().log();

  // Character for character, annotation by annotation.
  ASSERT_EQ(prom.size(), kAnnotations.size()) << prom.dump(2);
  for (const auto& [key, text] : kAnnotations) {
    EXPECT_EQ(pw.value(key, "<missing>"), prom.value(key, "<missing>")) << key << ": " << text << "\n" << prom.dump(2);
  }
  // What they are, so a change in both would not pass unseen.
  EXPECT_EQ(prom["first_value"], "25.5");
  EXPECT_EQ(prom["sorted"], "/=20;/boot=500m;/data=5;");
  EXPECT_EQ(prom["dependent"], "1");
  EXPECT_EQ(prom["external"], "http://promwatch.test:9097/alerting|http://promwatch.test:9097/alerting|/alerting|"
                              "http://promwatch.test:9097/alerting");
  EXPECT_NE(prom["parse_error"].get<std::string>().find("error calling query: 1:9: parse error"), std::string::npos);

  // The notification of that round carries the same texts.
  json notified;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& request : sink_->requests()) {
          json body = json::parse(request.body, nullptr, false);
          if (!body.is_discarded() && body["status"] == "firing") {
            notified = body;
            return true;
          }
        }
        return false;
      },
      10s));
  ASSERT_EQ(notified["alerts"].size(), 1u);
  for (const auto& [key, text] : kAnnotations) {
    EXPECT_EQ(notified["alerts"][0]["annotations"].value(key, "<missing>"), prom.value(key, "<missing>")) << key;
  }
  // Alertmanager drops the trailing slash of its external URL as Prometheus does.
  EXPECT_EQ(notified["externalURL"], "http://promwatch.test:9097/alerting");
  EXPECT_EQ(notified["alerts"][0]["generatorURL"].get<std::string>().rfind("http://promwatch.test:9097/alerting/#", 0), 0u)
      << notified["alerts"][0]["generatorURL"];

  // `promwatch eval` runs the templates' queries too.
  std::string out;
  EXPECT_EQ(run_command({promwatch_binary(), "eval", "--config", promwatch.config_path().string()}, &out), 0) << out;
  EXPECT_NE(out.find("first_value: 25.5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("sorted: /=20;/boot=500m;/data=5;\n"), std::string::npos) << out;
  EXPECT_NE(out.find("dependent: 1\n"), std::string::npos) << out;
}

TEST_F(TemplateQuery, AnnotationsFollowTheirQueriesAtEveryEvaluation) {
  // A changed series with the same alert labels and value: the annotation follows it.
  PromwatchProcess promwatch(config(), {{"rules.toml", promwatch_rules()}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return annotation_of(promwatch.url(), "first_value") == "25.5"; }, 30s));
  exporter_->set(R"(tq_disk{mount="/"})", 30);
  EXPECT_TRUE(wait_until([&] { return annotation_of(promwatch.url(), "first_value") == "35.5"; }, 15s))
      << annotations_of(promwatch.url());
  exporter_->set(R"(tq_disk{mount="/"})", 20);
}

// A template query that never answers in time must not hold the round past the group's
// deadline: the annotation shows the failed query, and the rounds go on.
TEST(TemplateQueryDeadline, ASlowTemplateQueryEndsWithTheRound) {
  TestHttpServer datasource([](const TestRequest& r) {
    TestResponse out;
    out.headers = {{"Content-Type", "application/json"}};
    out.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x"},"value":[1,"1"]}]}})";
    auto q = r.form.find("query");
    if (q != r.form.end() && q->second == "slow_series") out.delay = 2500ms;  // longer than the interval
    return out;
  });
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
timeout = "10s"
retries = 0
[server]
listen = "{{LISTEN}}"
)",
                             {{"rules.toml", R"([[groups]]
name = "slow"
interval = "2s"
[[groups.rules]]
alert = "SlowTemplate"
expr = "x"
annotations = { q = '{{ query "slow_series" | len }}', fast = '{{ $value }}' }
)"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        json a = annotations_of(promwatch.url(), "SlowTemplate");
        if (!a.is_object()) return false;
        text = a.value("q", "");
        return a.value("fast", "") == "1";
      },
      15s))
      << promwatch.process().log();
  EXPECT_EQ(text.rfind("<error expanding template: error executing template __alert_SlowTemplate: template: "
                       "__alert_SlowTemplate:1:115: executing \"__alert_SlowTemplate\" at <query \"slow_series\">: error "
                       "calling query: ",
                       0),
            0u)
      << text;
  // The group keeps its schedule: evaluations every interval, none skipped.
  auto last_evaluation = [&] {
    json body = json::parse(http_get(promwatch.url() + "/api/v1/rules").body, nullptr, false);
    return body.is_discarded() ? std::string() : body["data"]["groups"][0].value("lastEvaluation", "");
  };
  std::string first = last_evaluation();
  EXPECT_TRUE(wait_until([&] { return last_evaluation() != first; }, 5s)) << promwatch.process().log();
  HttpResult metrics = http_get(promwatch.url() + "/metrics");
  EXPECT_NE(metrics.body.find("promwatch_group_iterations_missed_total{group=\"slow\"} 0"), std::string::npos)
      << metrics.body.substr(0, 4000);
}

}  // namespace
}  // namespace promwatch::test
