// API parity: the same rules loaded into a real Prometheus 2.42 (YAML) and into promwatch (TOML),
// both reading one tiny exporter. `/api/v1/rules` and `/api/v1/alerts` must have Prometheus's
// shape — the same keys in the same order, the same value types, RFC 3339 times, Go-formatted
// `value` strings, health/state/type strings — and, where both compute the same thing, the same
// content (names, queries, durations, labels, annotations, alert states and values). Then the
// filters (`type`, `rule_group[]`, `rule_name[]`, `file[]`, alerts `match[]`) with Prometheus's
// semantics, and the shape of promwatch's own `/api/v1/heartbeats`.
//
// Prometheus 2.42 knows only the `type` filter of the rules API (rule_group[], rule_name[] and
// file[] came in 2.45, which also leaves out groups that the filters emptied) and no `match[]` on
// /api/v1/alerts; those are checked against Prometheus's documented semantics instead.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using ojson = nlohmann::ordered_json;

// Queries are written the way Prometheus prints them back, so that `query` compares as text.
constexpr const char* kPrometheusRules = R"(groups:
- name: api
  interval: 1s
  limit: 10
  rules:
  - alert: Firing
    expr: test_value{case="firing"} > 0
    labels: { severity: page, team: 'a<b> & "c"' }
    annotations: { summary: '{{ $labels.case }} is {{ $value }}', runbook: 'http://wiki/x?a=1&b=2' }
  - alert: Pending
    expr: test_value{case="pending"} > 0
    for: 1h
  - alert: KeepFiring
    expr: test_value{case="keep"} > 0
    keep_firing_for: 1h
  - alert: Broken
    expr: test_value + on () group_left () test_value
  - alert: Quiet
    expr: test_value{case="none"} > 0
    for: 1m30s
- name: other
  interval: 2s
  rules:
  - alert: Fraction
    expr: test_value{case="fraction"} / 3
    labels: { severity: info }
  - alert: Huge
    expr: test_value{case="fraction"} * 1e+21
  - alert: Tiny
    expr: test_value{case="fraction"} / 3e+07
)";

constexpr const char* kPromwatchRules = R"([[groups]]
name = "api"
interval = "1s"
limit = 10

[[groups.rules]]
alert = "Firing"
expr = 'test_value{case="firing"} > 0'
labels = { severity = "page", team = 'a<b> & "c"' }
annotations = { summary = '{{ $labels.case }} is {{ $value }}', runbook = 'http://wiki/x?a=1&b=2' }

[[groups.rules]]
alert = "Pending"
expr = 'test_value{case="pending"} > 0'
for = "1h"

[[groups.rules]]
alert = "KeepFiring"
expr = 'test_value{case="keep"} > 0'
keep_firing_for = "1h"

[[groups.rules]]
alert = "Broken"
expr = 'test_value + on () group_left () test_value'

[[groups.rules]]
alert = "Quiet"
expr = 'test_value{case="none"} > 0'
for = "1m30s"
)";

// A second file: `file[]` has something to tell apart. The heartbeat group is promwatch's own.
constexpr const char* kPromwatchMoreRules = R"([[groups]]
name = "other"
interval = "2s"

[[groups.rules]]
alert = "Fraction"
expr = 'test_value{case="fraction"} / 3'
labels = { severity = "info" }

[[groups.rules]]
alert = "Huge"
expr = 'test_value{case="fraction"} * 1e+21'

[[groups.rules]]
alert = "Tiny"
expr = 'test_value{case="fraction"} / 3e+07'

[[groups]]
name = "liveness"
interval = "1s"

[[groups.heartbeats]]
name = "ExporterGone"
expr = 'up{job="test"}'
by = ["instance"]
for = "1s"
expected = [{ instance = "127.0.0.1:1" }]
annotations = { summary = "{{ $labels.instance }} is gone" }
)";

const std::regex kRfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?Z$)");
// strconv.FormatFloat(v, 'e', -1, 64): one digit, optional fraction, two- or three-digit exponent.
const std::regex kGoFloatE(R"(^-?\d(\.\d*[1-9])?e[+-]\d{2,3}$|^NaN$|^[+-]Inf$)");

ojson get_json(const std::string& url, int* status = nullptr) {
  HttpResult r = http_get(url, 5s);
  if (status) *status = r.status;
  return ojson::parse(r.body, nullptr, false);
}

// Alerts in a canonical order: Prometheus lists them in map order.
ojson sorted_alerts(ojson alerts) {
  if (!alerts.is_array()) return alerts;
  std::vector<ojson> v(alerts.begin(), alerts.end());
  std::sort(v.begin(), v.end(), [](const ojson& a, const ojson& b) { return a["labels"].dump() < b["labels"].dump(); });
  return ojson(v);
}

// What a response looks like without its data: keys (in order) and the kind of every value.
// Strings that have a format are checked here: times, alert values, enumerations.
ojson shape(const ojson& j, const std::string& key = "") {
  if (j.is_object()) {
    ojson out = ojson::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = shape(it.value(), it.key());
    return out;
  }
  if (j.is_array()) {
    ojson out = ojson::array();
    for (const auto& e : key == "alerts" ? sorted_alerts(j) : j) out.push_back(shape(e));
    return out;
  }
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (key == "activeAt" || key == "keepFiringSince" || key == "lastEvaluation") {
      return std::regex_match(s, kRfc3339) ? "rfc3339" : "BAD TIME " + s;
    }
    if (key == "value") return std::regex_match(s, kGoFloatE) ? "go-float-e" : "BAD VALUE " + s;
    if (key == "health" || key == "state" || key == "type" || key == "status") return key + ":" + s;
    if (key == "lastError") return s.empty() ? "EMPTY lastError" : "string";
    return "string";
  }
  if (j.is_number()) return "number";
  if (j.is_boolean()) return "bool";
  return "null";
}

const ojson* find_named(const ojson& array, const std::string& name, const char* field = "name") {
  for (const auto& e : array) {
    if (e.value(field, "") == name) return &e;
  }
  return nullptr;
}

std::vector<std::string> names_of(const ojson& array) {
  std::vector<std::string> out;
  for (const auto& e : array) out.push_back(e.value("name", ""));
  return out;
}

// Go writes a whole float64 without a fraction (`300`); so must we.
void expect_go_number(const ojson& v, const std::string& what) {
  ASSERT_TRUE(v.is_number()) << what;
  double d = v.get<double>();
  if (d == static_cast<double>(static_cast<long long>(d))) {
    EXPECT_TRUE(v.is_number_integer()) << what << " = " << v.dump();
  }
}

class ApiParity : public ::testing::Test {
 protected:
  void SetUp() override {
    exporter_.set(R"(test_value{case="firing"})", 1.5);
    exporter_.set(R"(test_value{case="pending"})", 1);
    exporter_.set(R"(test_value{case="keep"})", 1);
    exporter_.set(R"(test_value{case="fraction"})", 1);
    prometheus_ = std::make_unique<PrometheusProcess>(kPrometheusRules, std::vector<std::string>{exporter_.address()});
    ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
    std::string config = R"([global]
evaluation_interval = "1s"
rule_files = ["rules.toml", "more.toml"]
state_dir = "{{DIR}}/state"
external_labels = { cluster = "test" }

[datasource]
url = ")" + prometheus_->url() + R"("
timeout = "2s"

[server]
listen = "{{LISTEN}}"
)";
    promwatch_ = std::make_unique<PromwatchProcess>(
        config, std::map<std::string, std::string>{{"rules.toml", kPromwatchRules}, {"more.toml", kPromwatchMoreRules}});
    ASSERT_TRUE(promwatch_->wait_healthy()) << promwatch_->process().log();
  }

  // The alert of rule `name` in `url`'s /api/v1/alerts, or null.
  static ojson alert_named(const std::string& url, const std::string& name) {
    ojson body = get_json(url + "/api/v1/alerts");
    if (body.is_discarded()) return nullptr;
    for (const auto& a : body["data"]["alerts"]) {
      if (a["labels"].value("alertname", "") == name) return a;
    }
    return nullptr;
  }
  static std::string health_of(const std::string& url, const std::string& rule) {
    ojson body = get_json(url + "/api/v1/rules");
    if (body.is_discarded()) return "";
    for (const auto& g : body["data"]["groups"]) {
      if (const ojson* r = find_named(g["rules"], rule)) return (*r)["health"];
    }
    return "";
  }
  bool both(const std::function<bool(const std::string&)>& condition) {
    return condition(prometheus_->url()) && condition(promwatch_->url());
  }

  TinyExporter exporter_;
  std::unique_ptr<PrometheusProcess> prometheus_;
  std::unique_ptr<PromwatchProcess> promwatch_;
};

TEST_F(ApiParity, RulesAndAlertsHavePrometheusShape) {
  // Firing fires at once, Pending stays pending, Broken fails, KeepFiring fires...
  ASSERT_TRUE(wait_until(
      [&] {
        return both([](const std::string& url) {
          ojson firing = alert_named(url, "Firing");
          ojson pending = alert_named(url, "Pending");
          ojson keep = alert_named(url, "KeepFiring");
          ojson tiny = alert_named(url, "Tiny");
          return !firing.is_null() && firing["state"] == "firing" && !pending.is_null() &&
                 pending["state"] == "pending" && !keep.is_null() && keep["state"] == "firing" && !tiny.is_null() &&
                 health_of(url, "Broken") == "err";
        });
      },
      30s))
      << promwatch_->process().log();
  // ...and is held by keep_firing_for once its series drops: keepFiringSince appears in both.
  exporter_.set(R"(test_value{case="keep"})", 0);
  ASSERT_TRUE(wait_until(
      [&] { return both([](const std::string& url) { return alert_named(url, "KeepFiring").contains("keepFiringSince"); }); },
      20s))
      << promwatch_->process().log();

  ojson prom_rules = get_json(prometheus_->url() + "/api/v1/rules");
  ojson pw_rules = get_json(promwatch_->url() + "/api/v1/rules");
  ASSERT_FALSE(prom_rules.is_discarded());
  ASSERT_FALSE(pw_rules.is_discarded());
  if (std::getenv("PROMWATCH_TEST_VERBOSE")) {
    std::cout << "Prometheus /api/v1/rules:\n" << prom_rules.dump(1) << "\npromwatch /api/v1/rules:\n" << pw_rules.dump(1) << "\n";
  }
  std::vector<std::string> top_keys;
  for (auto it = pw_rules.begin(); it != pw_rules.end(); ++it) top_keys.push_back(it.key());
  EXPECT_EQ(top_keys, (std::vector<std::string>{"status", "data"}));
  EXPECT_EQ(pw_rules["status"], "success");
  ASSERT_TRUE(pw_rules["data"]["groups"].is_array());

  for (const auto& prom_group : prom_rules["data"]["groups"]) {
    const std::string group_name = prom_group["name"];
    SCOPED_TRACE("group " + group_name);
    const ojson* pw_group = find_named(pw_rules["data"]["groups"], group_name);
    ASSERT_NE(pw_group, nullptr) << pw_rules.dump(1);
    // The whole group, keys in order and every value's kind, alerts included.
    EXPECT_EQ(shape(*pw_group).dump(1), shape(prom_group).dump(1));
    EXPECT_EQ(names_of((*pw_group)["rules"]), names_of(prom_group["rules"]));
    for (const char* key : {"interval", "limit"}) {
      EXPECT_EQ((*pw_group)[key], prom_group[key]) << key;
      expect_go_number((*pw_group)[key], key);
    }
    // Prometheus's `file` is its own path: compare the shape only (a non-empty string).
    EXPECT_FALSE((*pw_group)["file"].get<std::string>().empty());

    for (const auto& prom_rule : prom_group["rules"]) {
      const std::string rule_name = prom_rule["name"];
      SCOPED_TRACE("rule " + rule_name);
      const ojson* pw_rule = find_named((*pw_group)["rules"], rule_name);
      ASSERT_NE(pw_rule, nullptr);
      for (const char* key : {"state", "query", "duration", "keepFiringFor", "labels", "annotations", "health", "type"}) {
        EXPECT_EQ((*pw_rule)[key], prom_rule[key]) << key;
      }
      for (const char* key : {"duration", "keepFiringFor", "evaluationTime"}) expect_go_number((*pw_rule)[key], key);
      EXPECT_EQ(pw_rule->contains("lastError"), prom_rule.contains("lastError"));
      ojson prom_alerts = sorted_alerts(prom_rule["alerts"]);
      ojson pw_alerts = sorted_alerts((*pw_rule)["alerts"]);
      ASSERT_EQ(pw_alerts.size(), prom_alerts.size());
      for (std::size_t i = 0; i < pw_alerts.size(); ++i) {
        for (const char* key : {"labels", "annotations", "state", "value"}) {
          EXPECT_EQ(pw_alerts[i][key], prom_alerts[i][key]) << key;
        }
      }
    }
  }
  // External labels stay out of the API, as in Prometheus.
  const ojson* api_group = find_named(pw_rules["data"]["groups"], "api");
  ASSERT_NE(api_group, nullptr);
  EXPECT_FALSE((*find_named((*api_group)["rules"], "Firing"))["alerts"][0]["labels"].contains("cluster"));

  // promwatch's heartbeat rule is an alerting rule to API consumers: the same keys and kinds.
  const ojson* liveness = find_named(pw_rules["data"]["groups"], "liveness");
  ASSERT_NE(liveness, nullptr);
  const ojson& hb_rule = (*liveness)["rules"][0];
  EXPECT_EQ(hb_rule["name"], "ExporterGone");
  EXPECT_EQ(hb_rule["type"], "alerting");
  ojson hb_shape = shape(hb_rule);
  ojson quiet_shape = shape(*find_named((*api_group)["rules"], "Quiet"));
  std::vector<std::string> hb_keys, quiet_keys;
  for (auto it = hb_shape.begin(); it != hb_shape.end(); ++it) hb_keys.push_back(it.key());
  for (auto it = quiet_shape.begin(); it != quiet_shape.end(); ++it) quiet_keys.push_back(it.key());
  EXPECT_EQ(hb_keys, quiet_keys);

  // /api/v1/alerts: the same alerts, shape and content (promwatch's heartbeat alert aside).
  ojson prom_alerts = get_json(prometheus_->url() + "/api/v1/alerts");
  ojson pw_alerts = get_json(promwatch_->url() + "/api/v1/alerts");
  ASSERT_FALSE(pw_alerts.is_discarded());
  ojson pw_comparable = ojson::array();
  for (const auto& a : pw_alerts["data"]["alerts"]) {
    if (a["labels"]["alertname"] != "ExporterGone") pw_comparable.push_back(a);
  }
  prom_alerts["data"]["alerts"] = sorted_alerts(prom_alerts["data"]["alerts"]);
  pw_alerts["data"]["alerts"] = sorted_alerts(pw_comparable);
  EXPECT_EQ(shape(pw_alerts).dump(1), shape(prom_alerts).dump(1));
  ASSERT_EQ(pw_alerts["data"]["alerts"].size(), prom_alerts["data"]["alerts"].size());
  for (std::size_t i = 0; i < prom_alerts["data"]["alerts"].size(); ++i) {
    const ojson& p = prom_alerts["data"]["alerts"][i];
    const ojson& w = pw_alerts["data"]["alerts"][i];
    for (const char* key : {"labels", "annotations", "state", "value"}) EXPECT_EQ(w[key], p[key]) << key << " of " << p.dump();
  }
  // Go's 'e' formatting at the edges (1/3, 1e21/3, 1/3e7), byte for byte as Prometheus.
  EXPECT_EQ(alert_named(promwatch_->url(), "Fraction")["value"], "3.333333333333333e-01");
  EXPECT_EQ(alert_named(promwatch_->url(), "Firing")["annotations"]["summary"], "firing is 1.5");

  // The `type` filter, compared with Prometheus: a bad value is the same 400 error.
  // Byte for byte, keys in Prometheus's order (errors are compared as text).
  int prom_status = 0, pw_status = 0;
  ojson prom_bad = get_json(prometheus_->url() + "/api/v1/rules?type=Bogus", &prom_status);
  ojson pw_bad = get_json(promwatch_->url() + "/api/v1/rules?type=Bogus", &pw_status);
  EXPECT_EQ(pw_status, prom_status);
  EXPECT_EQ(pw_status, 400);
  EXPECT_EQ(pw_bad.dump(), prom_bad.dump());
  for (const char* q : {"type=alert", "type=ALERT", "type="}) {
    ojson p = get_json(prometheus_->url() + "/api/v1/rules?" + q);
    ojson w = get_json(promwatch_->url() + "/api/v1/rules?" + q);
    for (const auto& g : p["data"]["groups"]) {
      const ojson* wg = find_named(w["data"]["groups"], g["name"]);
      ASSERT_NE(wg, nullptr) << q;
      EXPECT_EQ(names_of((*wg)["rules"]), names_of(g["rules"])) << q;
    }
  }
}

// The filters of Prometheus 2.45+ (rule_group[], rule_name[], file[]: sets of accepted values,
// groups emptied by any filter left out) and `match[]` on alerts (series-selector semantics:
// any selector may match; one that matches everything is refused).
TEST_F(ApiParity, FiltersFollowPrometheusSemantics) {
  ASSERT_TRUE(wait_until(
      [&] {
        return !alert_named(promwatch_->url(), "Firing").is_null() && !alert_named(promwatch_->url(), "Fraction").is_null();
      },
      20s))
      << promwatch_->process().log();
  const std::string base = promwatch_->url() + "/api/v1/rules";
  auto groups = [&](const std::string& query) {
    ojson body = get_json(base + query);
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& g : body["data"]["groups"]) out[g["name"]] = names_of(g["rules"]);
    return out;
  };
  using Groups = std::map<std::string, std::vector<std::string>>;
  const Groups all = groups("");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.at("api"), (std::vector<std::string>{"Firing", "Pending", "KeepFiring", "Broken", "Quiet"}));

  EXPECT_EQ(groups("?type=alert"), all);
  EXPECT_EQ(groups("?type=record"), Groups{});  // promwatch has alerting rules only
  EXPECT_EQ(groups("?rule_group[]=other"), (Groups{{"other", {"Fraction", "Huge", "Tiny"}}}));
  EXPECT_EQ(groups("?rule_group[]=other&rule_group[]=api").size(), 2u);
  EXPECT_EQ(groups("?rule_group[]=nope"), Groups{});
  EXPECT_EQ(groups("?rule_name[]=Firing&rule_name[]=Tiny"), (Groups{{"api", {"Firing"}}, {"other", {"Tiny"}}}));
  EXPECT_EQ(groups("?rule_name[]=ExporterGone"), (Groups{{"liveness", {"ExporterGone"}}}));
  EXPECT_EQ(groups("?rule_group[]=api&rule_name[]=Tiny"), Groups{});
  EXPECT_EQ(groups("?rule_name[]=Firing&type=record"), Groups{});

  // file[] takes the path the API reports.
  ojson body = get_json(base);
  std::string more_file;
  for (const auto& g : body["data"]["groups"]) {
    if (g["name"] == "other") more_file = g["file"];
  }
  ASSERT_NE(more_file.find("more.toml"), std::string::npos);
  EXPECT_EQ(groups("?file[]=" + more_file), (Groups{{"liveness", {"ExporterGone"}}, {"other", {"Fraction", "Huge", "Tiny"}}}));
  EXPECT_EQ(groups("?file[]=" + more_file + "&rule_group[]=api"), Groups{});
  EXPECT_EQ(groups("?file[]=/nope.toml"), Groups{});

  // match[] on /api/v1/alerts (URL-encoded selectors).
  auto alert_names = [&](const std::string& query, int* status = nullptr) {
    ojson b = get_json(promwatch_->url() + "/api/v1/alerts" + query, status);
    std::set<std::string> out;
    if (!b.is_discarded() && b["status"] == "success") {
      for (const auto& a : b["data"]["alerts"]) out.insert(a["labels"]["alertname"].get<std::string>());
    }
    return out;
  };
  EXPECT_EQ(alert_names("?match[]=%7Balertname%3D%22Firing%22%7D"), (std::set<std::string>{"Firing"}));
  // Two selectors: either may match.
  EXPECT_EQ(alert_names("?match[]=%7Bseverity%3D%22page%22%7D&match[]=%7Bseverity%3D%22info%22%7D"),
            (std::set<std::string>{"Firing", "Fraction"}));
  // Several matchers in one selector: all must match.
  EXPECT_EQ(alert_names("?match[]=%7Bcase%3D~%22f.%2A%22%2Calertname%21%3D%22Fraction%22%7D"),
            (std::set<std::string>{"Firing", "Huge", "Tiny"}));
  EXPECT_EQ(alert_names("?match[]=%7Bcluster%3D%22test%22%7D"), std::set<std::string>{});  // no external labels
  int status = 0;
  alert_names("?match[]=%7Bseverity%3D%22%22%7D", &status);  // matches the empty label set
  EXPECT_EQ(status, 400);
  ojson err = get_json(promwatch_->url() + "/api/v1/alerts?match[]=%7Balertname%3D%7D", &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(err["status"], "error");
  EXPECT_EQ(err["errorType"], "bad_data");
  EXPECT_TRUE(err["error"].is_string());

  // /api/v1/heartbeats keeps its own shape (the daemon's extension).
  ojson hb;
  ASSERT_TRUE(wait_until(
      [&] {
        hb = get_json(promwatch_->url() + "/api/v1/heartbeats");
        return !hb.is_discarded() && hb["data"]["heartbeats"].size() == 1 && hb["data"]["heartbeats"][0]["members"].size() == 2;
      },
      10s))
      << hb.dump();
  const ojson& rule = hb["data"]["heartbeats"][0];
  std::vector<std::string> keys;
  for (auto it = rule.begin(); it != rule.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"group", "name", "query", "by", "health", "members"}));
  EXPECT_EQ(rule["by"], ojson::array({"instance"}));
  for (const auto& m : rule["members"]) {
    SCOPED_TRACE(m.dump());
    std::vector<std::string> mkeys;
    for (auto it = m.begin(); it != m.end(); ++it) mkeys.push_back(it.key());
    ASSERT_GE(mkeys.size(), 4u);
    EXPECT_EQ(std::vector<std::string>(mkeys.begin(), mkeys.begin() + 4),
              (std::vector<std::string>{"labels", "state", "expected", "lastSeen"}));
    EXPECT_TRUE(m["expected"].is_boolean());
    EXPECT_TRUE(std::regex_match(m["lastSeen"].get<std::string>(), kRfc3339));
    if (m["expected"] == true) {
      EXPECT_EQ(m["labels"]["instance"], "127.0.0.1:1");
      EXPECT_NE(m["state"], "up");
      EXPECT_TRUE(m.contains("missingSince"));
    } else {
      EXPECT_EQ(m["state"], "up");
    }
  }
}

}  // namespace
}  // namespace promwatch::test
