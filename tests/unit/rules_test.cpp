// Alert state machine (Prometheus rules/alerting.go semantics, SPEC §3/§4) and group scheduling.

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "promwatch/rules.hpp"

using namespace promwatch;
using namespace std::chrono_literals;

namespace {

// Test times are seconds after a fixed base (the epoch itself means "unset" on alerts).
constexpr std::int64_t kBase = 1'700'000'000;
TimePoint T(std::int64_t seconds) { return TimePoint(std::chrono::seconds(kBase + seconds)); }

TemplateText tt(std::string text, int line = 7, int column = 3) {
  return TemplateText{std::move(text), SourcePos{"/etc/promwatch/rules/node.toml", line, column}};
}

AlertRuleConfig rule_config(std::string name, Duration for_duration = 0ms,
                            Duration keep_firing_for = 0ms, TemplateMap labels = {},
                            TemplateMap annotations = {}) {
  AlertRuleConfig r;
  r.alert = std::move(name);
  r.expr = "up == 0";
  r.for_duration = for_duration;
  r.keep_firing_for = keep_firing_for;
  r.labels = std::move(labels);
  r.annotations = std::move(annotations);
  return r;
}

RuleGroupConfig group_config(std::vector<AlertRuleConfig> rules, Labels labels = {}, int limit = 0,
                             std::string name = "node") {
  RuleGroupConfig g;
  g.name = std::move(name);
  g.file = "/etc/promwatch/rules/node.toml";
  g.interval = 60s;
  g.limit = limit;
  g.labels = std::move(labels);
  g.rules = std::move(rules);
  return g;
}

AlertingRule make_rule(const AlertRuleConfig& rc, const RuleGroupConfig& g = group_config({}),
                       RuleContext ctx = {}) {
  std::vector<ConfigError> errors;
  auto r = AlertingRule::build(rc, g, ctx, &errors);
  EXPECT_TRUE(r.has_value());
  for (const auto& e : errors) ADD_FAILURE() << e.pos.line << ":" << e.pos.column << " " << e.message;
  return std::move(*r);
}

Sample sample(std::string instance, double value = 1, std::string name = "up") {
  return Sample{Labels{{"__name__", name}, {"instance", instance}, {"job", "node"}}, value};
}

QueryOutcome ok(std::vector<Sample> samples) {
  QueryOutcome o;
  o.ok = true;
  o.result.samples = std::move(samples);
  return o;
}

QueryOutcome ok_instances(const std::vector<std::string>& instances) {
  std::vector<Sample> s;
  for (const auto& i : instances) s.push_back(sample(i));
  return ok(std::move(s));
}

QueryOutcome failed(std::string error) {
  QueryOutcome o;
  o.ok = false;
  o.error = std::move(error);
  return o;
}

// "a=firing b=pending" sorted by instance; resolved alerts show as "inactive".
std::string states(const AlertingRule& r) {
  std::map<std::string, std::string> m;
  r.for_each_alert([&](const Alert& a) {
    m[std::string(a.labels.get("instance"))] = std::string(to_string(a.state));
  });
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

// "a:pending>firing" sorted.
std::string transitions(const std::vector<AlertTransition>& ts) {
  std::vector<std::string> v;
  for (const auto& t : ts) {
    v.push_back(std::string(t.labels.get("instance")) + ":" + std::string(to_string(t.from)) + ">" +
                std::string(to_string(t.to)));
  }
  std::sort(v.begin(), v.end());
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

const Alert* find_alert(const AlertingRule& r, std::string_view instance) {
  const Alert* found = nullptr;
  r.for_each_alert([&](const Alert& a) {
    if (a.labels.get("instance") == instance) found = &a;
  });
  return found;
}

// ---------------------------------------------------------------------------------------------
// The state machine, table-driven.

struct Step {
  std::int64_t t;                     // seconds
  std::vector<std::string> present;   // instances in the result
  bool fail = false;                  // the query fails instead
  std::string expect_states;
  std::string expect_transitions;
};

struct Scenario {
  std::string name;
  Duration for_duration;
  Duration keep_firing_for;
  std::vector<Step> steps;
};

class StateMachine : public ::testing::TestWithParam<Scenario> {};

TEST_P(StateMachine, Steps) {
  const Scenario& sc = GetParam();
  AlertingRule rule = make_rule(rule_config("InstanceDown", sc.for_duration, sc.keep_firing_for));
  EXPECT_EQ(rule.health(), RuleHealth::Unknown);
  for (const Step& step : sc.steps) {
    SCOPED_TRACE("t=" + std::to_string(step.t));
    auto res = rule.evaluate(step.fail ? failed("server returned HTTP status 503")
                                       : ok_instances(step.present),
                             T(step.t));
    EXPECT_EQ(res.ok, !step.fail);
    EXPECT_EQ(rule.health(), step.fail ? RuleHealth::Err : RuleHealth::Ok);
    EXPECT_EQ(rule.last_evaluation(), T(step.t));
    EXPECT_EQ(states(rule), step.expect_states);
    EXPECT_EQ(transitions(res.transitions), step.expect_transitions);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, StateMachine,
    ::testing::Values(
        Scenario{"ForZeroFiresAtOnce", 0s, 0s,
                 {{0, {"a"}, false, "a=firing", "a:inactive>firing"},
                  {60, {"a"}, false, "a=firing", ""},
                  {120, {}, false, "a=inactive", "a:firing>inactive"}}},
        Scenario{"PendingThenFiringAtExactlyActiveAtPlusFor", 5min, 0s,
                 {{0, {"a"}, false, "a=pending", "a:inactive>pending"},
                  {240, {"a"}, false, "a=pending", ""},
                  {299, {"a", "b"}, false, "a=pending b=pending", "b:inactive>pending"},
                  {300, {"a", "b"}, false, "a=firing b=pending", "a:pending>firing"}}},
        Scenario{"PendingDroppedWhenMissing", 5min, 0s,
                 {{0, {"a", "b"}, false, "a=pending b=pending",
                   "a:inactive>pending b:inactive>pending"},
                  {60, {"b"}, false, "b=pending", "a:pending>inactive"},
                  {120, {}, false, "", "b:pending>inactive"}}},
        Scenario{"ResolvedKeptFifteenMinutesThenForgotten", 0s, 0s,
                 {{0, {"a"}, false, "a=firing", "a:inactive>firing"},
                  {60, {}, false, "a=inactive", "a:firing>inactive"},
                  {960, {}, false, "a=inactive", ""},  // exactly 15m: kept (Prometheus: > 15m)
                  {961, {}, false, "", ""}}},
        Scenario{"ReappearingAfterResolveIsNewPending", 5min, 0s,
                 {{0, {"a"}, false, "a=pending", "a:inactive>pending"},
                  {300, {"a"}, false, "a=firing", "a:pending>firing"},
                  {360, {}, false, "a=inactive", "a:firing>inactive"},
                  {420, {"a"}, false, "a=pending", "a:inactive>pending"},
                  {719, {"a"}, false, "a=pending", ""},
                  {720, {"a"}, false, "a=firing", "a:pending>firing"}}},
        Scenario{"KeepFiringForHoldsThenReleases", 0s, 2min,
                 {{0, {"a"}, false, "a=firing", "a:inactive>firing"},
                  {60, {}, false, "a=firing", ""},    // held since 60
                  {120, {}, false, "a=firing", ""},   // 60s < 2m
                  {180, {}, false, "a=inactive", "a:firing>inactive"}}},  // 2m: released
        Scenario{"KeepFiringForRestartsWhenPresentAgain", 0s, 2min,
                 {{0, {"a"}, false, "a=firing", "a:inactive>firing"},
                  {60, {}, false, "a=firing", ""},
                  {120, {"a"}, false, "a=firing", ""},
                  {180, {}, false, "a=firing", ""},
                  {240, {}, false, "a=firing", ""},
                  {300, {}, false, "a=inactive", "a:firing>inactive"}}},
        Scenario{"FailedQueryLeavesPendingUntouched", 5min, 0s,
                 {{0, {"a"}, false, "a=pending", "a:inactive>pending"},
                  {60, {}, true, "a=pending", ""},
                  {300, {"a"}, false, "a=firing", "a:pending>firing"}}},
        Scenario{"FailedQueryLeavesFiringUntouched", 0s, 0s,
                 {{0, {"a"}, false, "a=firing", "a:inactive>firing"},
                  {60, {}, true, "a=firing", ""},
                  {120, {}, true, "a=firing", ""},
                  {180, {}, false, "a=inactive", "a:firing>inactive"}}},
        Scenario{"FailedQueryDoesNotAdvanceResolvedRetention", 0s, 0s,
                 {{0, {"a"}, false, "a=firing", "a:inactive>firing"},
                  {60, {}, false, "a=inactive", "a:firing>inactive"},
                  {2000, {}, true, "a=inactive", ""},
                  {2060, {}, false, "", ""}}}),
    [](const ::testing::TestParamInfo<Scenario>& info) { return info.param.name; });

TEST(AlertingRule, TimesOnAlertsAndTransitions) {
  AlertingRule rule = make_rule(rule_config("X", 2min));
  rule.evaluate(ok_instances({"a"}), T(100));
  rule.evaluate(ok_instances({"a"}), T(220));
  const Alert* a = find_alert(rule, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->active_at, T(100));
  EXPECT_EQ(a->fired_at, T(220));
  EXPECT_EQ(a->resolved_at, TimePoint{});
  auto res = rule.evaluate(ok_instances({}), T(280));
  ASSERT_EQ(res.transitions.size(), 1u);
  const AlertTransition& t = res.transitions[0];
  EXPECT_TRUE(t.notifies());
  EXPECT_TRUE(t.resolved());
  EXPECT_EQ(t.at, T(280));
  EXPECT_EQ(t.active_at, T(100));
  EXPECT_EQ(t.fired_at, T(220));
  EXPECT_EQ(t.resolved_at, T(280));
  EXPECT_EQ(t.fingerprint, t.labels.fingerprint());
}

TEST(AlertingRule, ValueAndLastErrorAreKeptOnFailure) {
  AlertingRule rule = make_rule(rule_config("X", 5min));
  rule.evaluate(ok({sample("a", 42)}), T(0));
  auto res = rule.evaluate(failed("bad_data: parse error at char 5"), T(60));
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "bad_data: parse error at char 5");
  EXPECT_EQ(rule.last_error(), "bad_data: parse error at char 5");
  EXPECT_EQ(rule.health(), RuleHealth::Err);
  EXPECT_EQ(find_alert(rule, "a")->value, 42);
  EXPECT_EQ(find_alert(rule, "a")->active_at, T(0));
  rule.evaluate(ok({sample("a", 43)}), T(120));
  EXPECT_EQ(rule.health(), RuleHealth::Ok);
  EXPECT_EQ(rule.last_error(), "");
  EXPECT_EQ(find_alert(rule, "a")->value, 43);
}

TEST(AlertingRule, DuplicateLabelSetsAreAnErrorAndKeepState) {
  AlertingRule rule = make_rule(rule_config("X", 5min));
  rule.evaluate(ok_instances({"a"}), T(0));
  // Differ only by __name__, which is dropped: same final labels.
  auto res = rule.evaluate(ok({sample("a", 1, "up"), sample("a", 2, "down")}), T(60));
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "vector contains metrics with the same labelset after applying alert labels");
  EXPECT_EQ(rule.health(), RuleHealth::Err);
  EXPECT_TRUE(res.transitions.empty());
  EXPECT_EQ(states(rule), "a=pending");
  EXPECT_EQ(find_alert(rule, "a")->value, 1);
}

TEST(AlertingRule, RuleLabelsCanMakeDuplicates) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {{"instance", tt("all")}}));
  auto res = rule.evaluate(ok_instances({"a", "b"}), T(0));
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(rule.count(AlertState::Firing), 0u);
}

TEST(AlertingRule, LimitExceededIsAnErrorAndKeepsState) {
  auto g = group_config({}, {}, 2);
  AlertingRule rule = make_rule(rule_config("X", 0s), g);
  rule.evaluate(ok_instances({"a", "b"}), T(0));
  EXPECT_EQ(states(rule), "a=firing b=firing");
  auto res = rule.evaluate(ok_instances({"a", "b", "c"}), T(60));
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "exceeded limit of 2 with 3 alerts");
  EXPECT_EQ(rule.health(), RuleHealth::Err);
  EXPECT_TRUE(res.transitions.empty());
  EXPECT_EQ(states(rule), "a=firing b=firing");  // Prometheus would clear them; we keep them
  // At the limit is fine; the missing one resolves.
  res = rule.evaluate(ok_instances({"a", "c"}), T(120));
  EXPECT_TRUE(res.ok);
  EXPECT_EQ(states(rule), "a=firing b=inactive c=firing");
}

TEST(AlertingRule, LimitCountsAlertsHeldByKeepFiringFor) {
  auto g = group_config({}, {}, 2);
  AlertingRule rule = make_rule(rule_config("X", 0s, 5min), g);
  rule.evaluate(ok_instances({"a", "b"}), T(0));
  auto res = rule.evaluate(ok_instances({"a", "c"}), T(60));  // b held + a + c = 3
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "exceeded limit of 2 with 3 alerts");
  EXPECT_EQ(states(rule), "a=firing b=firing");
  EXPECT_EQ(find_alert(rule, "b")->keep_firing_since, TimePoint{});
}

TEST(AlertingRule, LabelPrecedenceSampleGroupRule) {
  auto g = group_config({}, Labels{{"team", "group"}, {"env", "group"}});
  AlertingRule rule =
      make_rule(rule_config("X", 0s, 0s, {{"env", tt("rule")}, {"severity", tt("rule")}}), g);
  Sample s{Labels{{"__name__", "up"},
                  {"instance", "a"},
                  {"team", "sample"},
                  {"severity", "sample"},
                  {"alertname", "sample"}},
           1};
  auto res = rule.evaluate(ok({s}), T(0));
  ASSERT_TRUE(res.ok);
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].labels, (Labels{{"alertname", "X"},
                                              {"env", "rule"},
                                              {"instance", "a"},
                                              {"severity", "rule"},
                                              {"team", "group"}}));
}

TEST(AlertingRule, EmptyRuleLabelRemovesTheLabel) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {{"job", tt("")}}));
  auto res = rule.evaluate(ok_instances({"a"}), T(0));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].labels, (Labels{{"alertname", "X"}, {"instance", "a"}}));
}

TEST(AlertingRule, ScalarResultIsOneAlertWithRuleLabels) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {{"severity", tt("page")}}));
  auto res = rule.evaluate(ok({Sample{Labels{}, 3}}), T(0));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].labels, (Labels{{"alertname", "X"}, {"severity", "page"}}));
  EXPECT_EQ(res.transitions[0].value, 3);
}

TEST(AlertingRule, NaNIsAnOrdinaryValue) {
  AlertingRule rule = make_rule(rule_config("X", 1min));
  rule.evaluate(ok({sample("a", std::numeric_limits<double>::quiet_NaN())}), T(0));
  auto res = rule.evaluate(ok({sample("a", std::numeric_limits<double>::infinity())}), T(60));
  EXPECT_EQ(transitions(res.transitions), "a:pending>firing");
}

TEST(AlertingRule, LiteralTemplatesNeverRender) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {{"severity", tt("page")}},
                                            {{"summary", tt("Instance down")}}));
  for (int i = 0; i < 5; ++i) rule.evaluate(ok({sample("a", i)}), T(60 * i));
  EXPECT_EQ(rule.template_renders(), 0u);
  EXPECT_EQ(find_alert(rule, "a")->annotations, (Labels{{"summary", "Instance down"}}));
}

TEST(AlertingRule, AnnotationsExpandedOnlyWhenValueOrLabelsChange) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {},
                                            {{"summary", tt("{{ $labels.instance }} is {{ $value }}")}}));
  rule.evaluate(ok({sample("a", 1)}), T(0));
  EXPECT_EQ(rule.template_renders(), 1u);
  EXPECT_EQ(find_alert(rule, "a")->annotations.get("summary"), "a is 1");
  rule.evaluate(ok({sample("a", 1)}), T(60));
  rule.evaluate(ok({sample("a", 1)}), T(120));
  EXPECT_EQ(rule.template_renders(), 1u);  // unchanged: cached
  rule.evaluate(ok({sample("a", 1234.5678)}), T(180));
  EXPECT_EQ(rule.template_renders(), 2u);
  EXPECT_EQ(find_alert(rule, "a")->annotations.get("summary"), "a is 1234.5678");
  rule.evaluate(ok({sample("a", 1234.5678, "other_name")}), T(240));  // raw labels changed
  EXPECT_EQ(rule.template_renders(), 3u);
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  rule.evaluate(ok({sample("a", nan)}), T(300));
  rule.evaluate(ok({sample("a", nan)}), T(360));  // NaN == NaN for the cache
  EXPECT_EQ(rule.template_renders(), 4u);
  EXPECT_EQ(find_alert(rule, "a")->annotations.get("summary"), "a is NaN");
}

TEST(AlertingRule, AlertsWithTheSameExpandedAnnotationsShareThem) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {}, {{"summary", tt("{{ $labels.job }} is at {{ $value }}")}}));
  rule.evaluate(ok({sample("a", 1), sample("b", 1), sample("c", 2)}), T(0));
  const Alert* a = find_alert(rule, "a");
  const Alert* b = find_alert(rule, "b");
  const Alert* c = find_alert(rule, "c");
  EXPECT_EQ(a->annotations.get("summary"), "node is at 1");
  EXPECT_EQ(&a->annotations.items(), &b->annotations.items());  // one set for both
  EXPECT_EQ(c->annotations.get("summary"), "node is at 2");
  EXPECT_NE(&a->annotations.items(), &c->annotations.items());
}

TEST(AlertingRule, TemplatesSeeRawLabelsValueAndExternals) {
  RuleContext ctx{Labels{{"cluster", "prod"}}, "http://promwatch:9097"};
  AlertingRule rule = make_rule(
      rule_config("X", 0s, 0s, {},
                  {{"a", tt("{{ $labels.__name__ }}/{{ .Labels.instance }}")},
                   {"b", tt("{{ $externalLabels.cluster }} {{ $externalURL }} {{ .Value }}")}}),
      group_config({}), ctx);
  rule.evaluate(ok({sample("i1", 1e6)}), T(0));
  const Alert* a = find_alert(rule, "i1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->annotations.get("a"), "up/i1");
  EXPECT_EQ(a->annotations.get("b"), "prod http://promwatch:9097 1e+06");
  EXPECT_FALSE(a->labels.has("cluster"));  // external labels are not stored
}

TEST(AlertingRule, LabelTemplatesDecideIdentity) {
  AlertingRule rule = make_rule(rule_config(
      "X", 5min, 0s,
      {{"severity", tt("{{ if gt $value 5.0 }}critical{{ else }}warning{{ end }}")},
       {"source", tt("{{ $labels.__name__ }}")}}));
  auto res = rule.evaluate(ok({sample("a", 1)}), T(0));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].labels.get("severity"), "warning");
  EXPECT_EQ(res.transitions[0].labels.get("source"), "up");
  const auto first_fp = res.transitions[0].fingerprint;
  res = rule.evaluate(ok({sample("a", 10)}), T(60));
  // The warning alert is gone (dropped while pending), a critical one starts.
  ASSERT_EQ(res.transitions.size(), 2u);
  std::map<std::string, AlertTransition> by_sev;
  for (const auto& t : res.transitions) by_sev[std::string(t.labels.get("severity"))] = t;
  EXPECT_EQ(by_sev["warning"].to, AlertState::Inactive);
  EXPECT_EQ(by_sev["warning"].fingerprint, first_fp);
  EXPECT_EQ(by_sev["critical"].to, AlertState::Pending);
  EXPECT_NE(by_sev["critical"].fingerprint, first_fp);
  // Label templates are expanded every evaluation (2 per eval here).
  EXPECT_EQ(rule.template_renders(), 4u);
}

TEST(AlertingRule, EmptyExpandedLabelIsRemoved) {
  AlertingRule rule = make_rule(
      rule_config("X", 0s, 0s, {{"instance", tt("{{ if false }}x{{ end }}")}}));
  auto res = rule.evaluate(ok_instances({"a"}), T(0));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_FALSE(res.transitions[0].labels.has("instance"));
}

TEST(AlertingRule, BuildReportsTemplateErrorsAtTheirPosition) {
  auto rc = rule_config("Bad", 0s, 0s, {{"severity", tt("{{ $labels.x ", 12, 14)}},
                        {{"summary", tt("ok {{ .Value }}", 13, 1)},
                         {"description", tt("line one\n{{ nosuchfunc }}", 14, 16)}});
  std::vector<ConfigError> errors;
  auto rule = AlertingRule::build(rc, group_config({}), {}, &errors);
  EXPECT_FALSE(rule.has_value());
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].pos.line, 12);
  EXPECT_EQ(errors[0].pos.column, 14);
  EXPECT_NE(errors[0].message.find("label \"severity\""), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("1:"), std::string::npos) << errors[0].message;
  EXPECT_EQ(errors[1].pos.line, 14);
  EXPECT_NE(errors[1].message.find("annotation \"description\""), std::string::npos);
  EXPECT_NE(errors[1].message.find("2:"), std::string::npos) << errors[1].message;

  auto group = group_config({rc, rule_config("Good")});
  errors.clear();
  EXPECT_FALSE(RuleGroup::build(group, {}, &errors).has_value());
  EXPECT_EQ(errors.size(), 2u);
}

TEST(AlertingRule, OnErrorAlertingRaisesOneErrorAlert) {
  auto rc = rule_config("X", 1min, 0s, {{"severity", tt("page")}});
  rc.on_error = OnError::Alerting;
  AlertingRule rule = make_rule(rc, group_config({}, Labels{{"team", "infra"}}));
  rule.evaluate(ok_instances({"a"}), T(0));
  auto res = rule.evaluate(failed("timeout"), T(60));
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(rule.health(), RuleHealth::Err);
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].labels, (Labels{{"alertname", "X"},
                                              {"promwatch_error", "true"},
                                              {"severity", "page"},
                                              {"team", "infra"}}));
  EXPECT_EQ(res.transitions[0].annotations.get("error"), "timeout");
  EXPECT_EQ(res.transitions[0].to, AlertState::Pending);
  EXPECT_EQ(find_alert(rule, "a")->state, AlertState::Pending);  // untouched
  res = rule.evaluate(failed("timeout again"), T(120));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].to, AlertState::Firing);  // `for` applies
  EXPECT_EQ(res.transitions[0].annotations.get("error"), "timeout again");
  // While the datasource is down the error alert counts as absent: it resolves.
  res = rule.evaluate(failed("timeout"), T(180), /*datasource_down=*/true);
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_TRUE(res.transitions[0].resolved());
  EXPECT_EQ(find_alert(rule, "a")->state, AlertState::Pending);
  // A successful query resolves it (and handles the others normally).
  rule.evaluate(failed("x"), T(240));
  res = rule.evaluate(ok_instances({"a"}), T(300));
  EXPECT_TRUE(res.ok);
  EXPECT_EQ(transitions(res.transitions), ":pending>inactive a:pending>firing");
}

TEST(AlertingRule, NoDataAlerting) {
  auto rc = rule_config("X", 0s);
  rc.no_data = NoData::Alerting;
  AlertingRule rule = make_rule(rc);
  auto res = rule.evaluate(ok({}), T(0));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].labels,
            (Labels{{"alertname", "X"}, {"promwatch_no_data", "true"}}));
  EXPECT_EQ(res.transitions[0].to, AlertState::Firing);
  res = rule.evaluate(ok_instances({"a"}), T(60));
  EXPECT_EQ(transitions(res.transitions), ":firing>inactive a:inactive>firing");
  // Without no_data = alerting an empty result is simply "nothing is wrong".
  AlertingRule plain = make_rule(rule_config("X", 0s));
  EXPECT_TRUE(plain.evaluate(ok({}), T(0)).transitions.empty());
}

// ---------------------------------------------------------------------------------------------
// Forwarding to Alertmanagers.

TEST(AlertingRule, AlertsToSendFollowsPrometheusNeedsSending) {
  AlertingRule rule = make_rule(rule_config("X", 1min));
  rule.evaluate(ok_instances({"a"}), T(0));
  EXPECT_TRUE(rule.alerts_to_send(T(0), 60s, 30s).empty());  // pending: never
  rule.evaluate(ok_instances({"a"}), T(60));                 // fires
  auto out = rule.alerts_to_send(T(60), 60s, 30s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].starts_at, T(60));
  EXPECT_EQ(out[0].ends_at, T(60 + 4 * 60));  // 4 * max(30s, 60s)
  EXPECT_FALSE(out[0].resolved);
  EXPECT_EQ(find_alert(rule, "a")->last_sent_at, T(60));
  EXPECT_TRUE(rule.alerts_to_send(T(90), 60s, 30s).empty());
  EXPECT_TRUE(rule.alerts_to_send(T(120), 60s, 30s).empty());  // not more than resend_delay
  out = rule.alerts_to_send(T(121), 60s, 30s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ends_at, T(121 + 240));
  // A group interval above the resend delay widens validity.
  out = rule.alerts_to_send(T(200), 60s, 5min);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ends_at, T(200 + 4 * 300));
  // Resolved: sent at once, then re-sent every resend_delay during retention.
  rule.evaluate(ok_instances({}), T(210));
  out = rule.alerts_to_send(T(210), 60s, 30s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].resolved);
  EXPECT_EQ(out[0].starts_at, T(60));
  EXPECT_EQ(out[0].ends_at, T(210));
  EXPECT_TRUE(rule.alerts_to_send(T(240), 60s, 30s).empty());
  out = rule.alerts_to_send(T(271), 60s, 30s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ends_at, T(210));
  // After the retention the alert is gone.
  rule.evaluate(ok_instances({}), T(210 + 901));
  EXPECT_TRUE(rule.alerts_to_send(T(210 + 901), 60s, 30s).empty());
}

TEST(AlertingRule, ResolvedBetweenSendsIsSentImmediately) {
  AlertingRule rule = make_rule(rule_config("X", 0s));
  rule.evaluate(ok_instances({"a"}), T(0));
  ASSERT_EQ(rule.alerts_to_send(T(0), 60s, 60s).size(), 1u);
  rule.evaluate(ok_instances({}), T(10));
  auto out = rule.alerts_to_send(T(10), 60s, 60s);  // resolvedAt > lastSentAt
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].resolved);
}

// ---------------------------------------------------------------------------------------------
// Removal, export/import, restore, reload identity, replay.

TEST(AlertingRule, ResolveAllResolvesFiringAndDropsPending) {
  AlertingRule rule = make_rule(rule_config("X", 1min));
  rule.evaluate(ok_instances({"a"}), T(0));
  rule.evaluate(ok_instances({"a", "b"}), T(60));
  EXPECT_EQ(states(rule), "a=firing b=pending");
  auto ts = rule.resolve_all(T(90));
  EXPECT_EQ(transitions(ts), "a:firing>inactive b:pending>inactive");
  EXPECT_EQ(states(rule), "a=inactive");
  EXPECT_EQ(find_alert(rule, "a")->resolved_at, T(90));
  auto out = rule.alerts_to_send(T(90), 60s, 60s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].resolved);
}

TEST(AlertingRule, ExportImportRoundTripReexpandsAnnotations) {
  AlertingRule rule = make_rule(rule_config("X", 1min, 0s, {}, {{"s", tt("{{ $value }}")}}));
  rule.evaluate(ok({sample("a", 5)}), T(0));
  rule.evaluate(ok({sample("a", 5)}), T(60));
  auto saved = rule.export_alerts();
  ASSERT_EQ(saved.size(), 1u);
  AlertingRule other = make_rule(rule_config("X", 1min, 0s, {}, {{"s", tt("v={{ $value }}")}}));
  other.import_alerts(saved);
  EXPECT_EQ(states(other), "a=firing");
  auto res = other.evaluate(ok({sample("a", 5)}), T(120));
  EXPECT_TRUE(res.transitions.empty());
  EXPECT_EQ(find_alert(other, "a")->annotations.get("s"), "v=5");
  EXPECT_EQ(find_alert(other, "a")->fired_at, T(60));
}

struct RestoreCase {
  std::string name;
  Duration for_duration;
  AlertState state;
  std::int64_t active_at;  // seconds
  std::int64_t down_at;
  std::int64_t now;
  bool kept;
  std::int64_t expect_active_at;
};

class Restore : public ::testing::TestWithParam<RestoreCase> {};

TEST_P(Restore, ForStateArithmetic) {
  const RestoreCase& c = GetParam();
  AlertingRule rule = make_rule(rule_config("X", c.for_duration));
  Alert a;
  a.labels = Labels{{"alertname", "X"}, {"instance", "a"}};
  a.fingerprint = a.labels.fingerprint();
  a.state = c.state;
  a.active_at = T(c.active_at);
  if (c.state == AlertState::Firing) a.fired_at = T(c.active_at) + c.for_duration;
  RestoreOptions opts{1h, 10min};
  auto dropped = rule.restore({a}, T(c.down_at), T(c.now), opts);
  const Alert* r = find_alert(rule, "a");
  if (!c.kept) {
    EXPECT_EQ(r, nullptr);
    ASSERT_EQ(dropped.size(), 1u);
    EXPECT_EQ(dropped[0].from, AlertState::Pending);
    EXPECT_EQ(dropped[0].to, AlertState::Inactive);
    return;
  }
  EXPECT_TRUE(dropped.empty());
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->state, c.state);
  EXPECT_EQ(r->active_at, T(c.expect_active_at));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, Restore,
    ::testing::Values(
        // for 30m, pending 5m at the stop, 10m down (15m remain >= grace): activeAt kept, the
        // downtime counts towards `for` (SPEC: a restart never resets a timer).
        RestoreCase{"KeptAcrossDowntime", 30min, AlertState::Pending, 0, 300, 900, true, 0},
        // for 10m, pending 5m at the stop (5m remain < 10m grace): grace period remains.
        RestoreCase{"GracePeriodRemains", 10min, AlertState::Pending, 0, 300, 600, true, 600},
        // for 30m, pending 31m at the stop (was due to fire): activeAt kept.
        RestoreCase{"DueToFireKeepsActiveAt", 30min, AlertState::Pending, 0, 1860, 2000, true, 0},
        // for 5m < grace: kept as it was (Prometheus would start it anew; SPEC keeps it).
        RestoreCase{"ForBelowGraceKept", 5min, AlertState::Pending, 0, 60, 120, true, 0},
        // downtime not shorter than outage_tolerance.
        RestoreCase{"OutageTooLong", 30min, AlertState::Pending, 0, 60, 60 + 3600, false, 0},
        // Just inside outage_tolerance, past `for` by now but not at the stop: the grace period.
        RestoreCase{"OutageJustShortEnough", 30min, AlertState::Pending, 0, 60, 60 + 3599, true,
                    60 + 3599 + 600 - 1800},
        // Firing stays firing, whatever the downtime.
        RestoreCase{"FiringStaysFiring", 5min, AlertState::Firing, 0, 600, 600 + 86400, true, 0}),
    [](const ::testing::TestParamInfo<RestoreCase>& info) { return info.param.name; });

TEST(AlertingRule, RestoredPendingFiresOnSchedule) {
  AlertingRule rule = make_rule(rule_config("X", 30min));
  Alert a;
  a.labels = Labels{{"alertname", "X"}, {"instance", "a"}, {"job", "node"}};
  a.state = AlertState::Pending;
  a.active_at = T(0);
  rule.restore({a}, T(300), T(900), RestoreOptions{1h, 10min});  // activeAt kept at 0
  auto res = rule.evaluate(ok_instances({"a"}), T(960));
  EXPECT_TRUE(res.transitions.empty());
  res = rule.evaluate(ok_instances({"a"}), T(1800));
  EXPECT_EQ(transitions(res.transitions), "a:pending>firing");
}

TEST(RuleIdentity, KeysByGroupNameLabelsAndOrdinal) {
  auto r1 = rule_config("HighCPU", 5min, 0s, {{"severity", tt("warning")}});
  auto r2 = rule_config("HighCPU", 5min, 0s, {{"severity", tt("critical")}});
  auto r3 = rule_config("HighCPU", 1min, 0s, {{"severity", tt("warning")}});  // same identity as r1
  auto keys = rule_identity_keys(group_config({r1, r2, r3}));
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_NE(keys[0], keys[1]);
  EXPECT_NE(keys[0], keys[2]);  // ordinal 0 vs 1
  EXPECT_EQ(keys[0], rule_identity_key("node", r1, 0));
  EXPECT_EQ(keys[2], rule_identity_key("node", r1, 1));
  EXPECT_NE(rule_identity_key("node", r1, 0), rule_identity_key("other", r1, 0));
  // The expression and `for` do not matter; labels as written do.
  auto changed = r1;
  changed.expr = "up == 2";
  changed.annotations = {{"summary", tt("x")}};
  EXPECT_EQ(rule_identity_key("node", r1, 0), rule_identity_key("node", changed, 0));
  changed.labels = {{"severity", tt("{{ $labels.sev }}")}};
  EXPECT_NE(rule_identity_key("node", r1, 0), rule_identity_key("node", changed, 0));
}

TEST(RuleGroup, TakeStateFromCarriesAlertsOverAReload) {
  auto a = rule_config("A", 0s);
  auto b = rule_config("B", 0s);
  auto c = rule_config("C", 0s);
  auto old = RuleGroup::build(group_config({a, b}), {}, nullptr);
  ASSERT_TRUE(old);
  for (auto& r : old->rules()) r.evaluate(ok_instances({"x"}), T(0));
  old->set_last_evaluation(T(0), 5ms);
  auto next = RuleGroup::build(group_config({c, a}), {}, nullptr);  // B removed, C added
  ASSERT_TRUE(next);
  auto untaken = next->take_state_from(*old);
  ASSERT_EQ(untaken, std::vector<std::size_t>{1});
  EXPECT_EQ(states(next->rules()[1]), "x=firing");
  EXPECT_EQ(next->rules()[1].health(), RuleHealth::Ok);
  EXPECT_EQ(states(next->rules()[0]), "");
  EXPECT_EQ(next->last_evaluation(), T(0));
  // The removed rule's firing alerts resolve and are notified.
  auto ts = old->rules()[untaken[0]].resolve_all(T(30));
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_TRUE(ts[0].resolved());
  EXPECT_EQ(ts[0].labels.get("alertname"), "B");
  // The carried alert continues: no new transition at the next evaluation.
  auto res = next->rules()[1].evaluate(ok_instances({"x"}), T(60));
  EXPECT_TRUE(res.transitions.empty());
}

TEST(AlertingRule, TakeAlertsFromMovesAlertsAndKeepsAnnotationsWhileTemplatesAreTheSame) {
  const TemplateMap summary = {{"summary", tt("{{ $labels.instance }} is {{ $value }}")}};
  AlertingRule old = make_rule(rule_config("X", 0s, 0s, {}, summary));
  old.evaluate(ok({sample("a", 1), sample("b", 2)}), T(0));
  ASSERT_EQ(old.template_renders(), 2u);

  AlertingRule same = make_rule(rule_config("X", 0s, 0s, {}, summary));
  same.take_alerts_from(old);
  EXPECT_EQ(old.count(AlertState::Firing), 0u);  // moved out, not copied
  EXPECT_EQ(same.count(AlertState::Firing), 2u);
  EXPECT_EQ(same.health(), RuleHealth::Ok);
  auto res = same.evaluate(ok({sample("a", 1), sample("b", 2)}), T(60));
  EXPECT_TRUE(res.transitions.empty());
  EXPECT_EQ(same.template_renders(), 0u);  // the carried expansions are still right
  EXPECT_EQ(find_alert(same, "b")->annotations.get("summary"), "b is 2");

  // Another annotation text: the carried alerts are expanded again with it.
  AlertingRule changed =
      make_rule(rule_config("X", 0s, 0s, {}, {{"summary", tt("{{ $labels.instance }} at {{ $value }}")}}));
  changed.take_alerts_from(same);
  EXPECT_EQ(find_alert(changed, "a")->annotations.get("summary"), "a is 1");  // until evaluated
  res = changed.evaluate(ok({sample("a", 1), sample("b", 2)}), T(120));
  EXPECT_TRUE(res.transitions.empty());
  EXPECT_EQ(changed.template_renders(), 2u);
  EXPECT_EQ(find_alert(changed, "a")->annotations.get("summary"), "a at 1");

  // Other external labels: the templates may read them, so the expansions are stale too.
  AlertingRule relabelled = make_rule(rule_config("X", 0s, 0s, {}, {{"summary", tt("{{ $labels.instance }} at {{ $value }}")}}),
                                      group_config({}), RuleContext{Labels{{"cluster", "b"}}, ""});
  relabelled.take_alerts_from(changed);
  relabelled.evaluate(ok({sample("a", 1), sample("b", 2)}), T(180));
  EXPECT_EQ(relabelled.template_renders(), 2u);
}

TEST(Replay, FinalStateAfterSteps) {
  AlertingRule rule = make_rule(rule_config("X", 2min));
  std::vector<std::pair<TimePoint, QueryOutcome>> steps = {
      {T(0), ok_instances({"a", "c"})},
      {T(60), ok_instances({"a"})},
      {T(120), ok_instances({"a", "b"})},
  };
  auto out = replay(rule, steps);
  ASSERT_EQ(out.alerts.size(), 2u);
  EXPECT_EQ(out.alerts[0].labels.get("instance"), "a");
  EXPECT_EQ(out.alerts[0].state, AlertState::Firing);
  EXPECT_EQ(out.alerts[0].active_at, T(0));
  EXPECT_EQ(out.alerts[1].labels.get("instance"), "b");
  EXPECT_EQ(out.alerts[1].state, AlertState::Pending);
  EXPECT_EQ(out.health, RuleHealth::Ok);
  EXPECT_EQ(rule.count(AlertState::Firing), 0u);  // the original is untouched
  steps.push_back({T(180), failed("boom")});
  out = replay(rule, steps);
  EXPECT_EQ(out.health, RuleHealth::Err);
  EXPECT_EQ(out.last_error, "boom");
  EXPECT_EQ(out.alerts.size(), 2u);
}

TEST(Strings, HealthAndState) {
  EXPECT_EQ(to_string(RuleHealth::Ok), "ok");
  EXPECT_EQ(to_string(RuleHealth::Err), "err");
  EXPECT_EQ(to_string(RuleHealth::Unknown), "unknown");
  EXPECT_EQ(to_string(AlertState::Inactive), "inactive");
  EXPECT_EQ(to_string(AlertState::Pending), "pending");
  EXPECT_EQ(to_string(AlertState::Firing), "firing");
}

// ---------------------------------------------------------------------------------------------
// Heartbeat rules.

HeartbeatRuleConfig hb_config(Duration for_duration, Duration forget_after = 24h,
                              std::vector<Labels> expected = {}) {
  HeartbeatRuleConfig h;
  h.name = "InstanceDown";
  h.expr = "up{job=\"node\"}";
  h.by = {"job", "instance"};
  h.for_duration = for_duration;
  h.forget_after = forget_after;
  h.expected = std::move(expected);
  h.labels = Labels{{"severity", "critical"}};
  return h;
}

HeartbeatRule make_heartbeat(const HeartbeatRuleConfig& hc, const RuleGroupConfig& g = group_config({})) {
  std::vector<ConfigError> errors;
  auto r = HeartbeatRule::build(hc, g, {}, &errors);
  EXPECT_TRUE(r.has_value());
  return std::move(*r);
}

std::string member_states(const HeartbeatRule& r) {
  std::map<std::string, std::string> m;
  r.for_each_member([&](const HeartbeatMember& mem) {
    m[std::string(mem.labels.get("instance"))] = mem.up ? "up" : "down";
  });
  r.for_each_alert([&](const Alert& a) {
    auto& v = m[std::string(a.labels.get("instance"))];
    v += "/" + std::string(to_string(a.state));
  });
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

struct HbStep {
  std::int64_t t;
  std::map<std::string, double> present;  // instance -> value
  bool fail = false;
  std::string expect_states;
  std::string expect_transitions;
};

struct HbScenario {
  std::string name;
  Duration for_duration;
  Duration forget_after;
  std::vector<std::string> expected;
  std::vector<HbStep> steps;
};

class Heartbeat : public ::testing::TestWithParam<HbScenario> {};

TEST_P(Heartbeat, Steps) {
  const HbScenario& sc = GetParam();
  std::vector<Labels> expected;
  for (const auto& i : sc.expected) expected.push_back(Labels{{"job", "node"}, {"instance", i}});
  HeartbeatRule rule = make_heartbeat(hb_config(sc.for_duration, sc.forget_after, expected));
  for (const HbStep& step : sc.steps) {
    SCOPED_TRACE("t=" + std::to_string(step.t));
    QueryOutcome o;
    if (step.fail) {
      o = failed("timeout");
    } else {
      std::vector<Sample> samples;
      for (const auto& [i, v] : step.present) samples.push_back(sample(i, v));
      o = ok(std::move(samples));
    }
    auto res = rule.evaluate(o, T(step.t));
    EXPECT_EQ(res.ok, !step.fail);
    EXPECT_EQ(rule.health(), step.fail ? RuleHealth::Err : RuleHealth::Ok);
    EXPECT_EQ(member_states(rule), step.expect_states);
    EXPECT_EQ(transitions(res.transitions), step.expect_transitions);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, Heartbeat,
    ::testing::Values(
        HbScenario{"MissingForFiresThenRecovers", 2min, 24h, {},
                   {{0, {{"a", 1}, {"b", 1}}, false, "a=up b=up", ""},
                    {60, {{"a", 1}}, false, "a=up b=down/pending", "b:inactive>pending"},
                    {120, {{"a", 1}}, false, "a=up b=down/pending", ""},
                    {180, {{"a", 1}}, false, "a=up b=down/firing", "b:pending>firing"},
                    {240, {{"a", 1}, {"b", 1}}, false, "a=up b=up/inactive", "b:firing>inactive"}}},
        HbScenario{"ValueBelowOneIsDown", 1min, 24h, {},
                   {{0, {{"a", 0}}, false, "a=down/pending", "a:inactive>pending"},
                    {60, {{"a", 0.5}}, false, "a=down/firing", "a:pending>firing"},
                    {120, {{"a", 1}}, false, "a=up/inactive", "a:firing>inactive"}}},
        HbScenario{"ForZeroFiresAtOnce", 0s, 24h, {},
                   {{0, {{"a", 1}}, false, "a=up", ""},
                    {60, {}, false, "a=down/firing", "a:inactive>firing"}}},
        HbScenario{"FailedQueriesDoNotCountAsAbsence", 2min, 24h, {},
                   {{0, {{"a", 1}}, false, "a=up", ""},
                    {60, {}, false, "a=down/pending", "a:inactive>pending"},
                    {120, {}, true, "a=down/pending", ""},
                    {180, {}, true, "a=down/pending", ""},
                    {240, {}, false, "a=down/pending", ""},  // counted 60s, not 180s
                    {300, {}, false, "a=down/firing", "a:pending>firing"}}},
        HbScenario{"OwnDowntimeDoesNotCount", 2min, 24h, {},
                   {{0, {{"a", 1}}, false, "a=up", ""},
                    {60, {}, false, "a=down/pending", "a:inactive>pending"},
                    {3600, {}, false, "a=down/pending", ""},
                    {3660, {}, false, "a=down/firing", "a:pending>firing"}}},
        HbScenario{"ExpectedMembersAlertEvenIfNeverSeen", 1min, 24h, {"c"},
                   {{0, {{"a", 1}}, false, "a=up c=down/pending", "c:inactive>pending"},
                    {60, {{"a", 1}}, false, "a=up c=down/firing", "c:pending>firing"},
                    {120, {{"a", 1}, {"c", 1}}, false, "a=up c=up/inactive", "c:firing>inactive"}}},
        HbScenario{"SeenMemberForgottenAfterForgetAfter", 1min, 3min, {"c"},
                   {{0, {{"a", 1}, {"c", 1}}, false, "a=up c=up", ""},
                    {60, {}, false, "a=down/pending c=down/pending",
                     "a:inactive>pending c:inactive>pending"},
                    {120, {}, false, "a=down/firing c=down/firing", "a:pending>firing c:pending>firing"},
                    {180, {}, false, "a=down/firing c=down/firing", ""},
                    {240, {}, false, "a=/inactive c=down/firing", "a:firing>inactive"},  // forgotten
                    {1200, {}, false, "c=down/firing", ""}}}),  // resolved alert expired
    [](const ::testing::TestParamInfo<HbScenario>& info) { return info.param.name; });

TEST(HeartbeatRule, AlertLabelsValueAndAnnotations) {
  auto hc = hb_config(0s);
  hc.labels = Labels{{"severity", "critical"}, {"team", "rule"}};
  hc.annotations = {{"summary", tt("{{ $labels.instance }} silent for {{ $value }}s")}};
  auto g = group_config({}, Labels{{"team", "group"}, {"env", "prod"}});
  HeartbeatRule rule = make_heartbeat(hc, g);
  Sample s{Labels{{"__name__", "up"}, {"instance", "a"}, {"job", "node"}, {"pod", "x"}}, 1};
  rule.evaluate(ok({s}), T(0));
  auto res = rule.evaluate(ok({}), T(90));
  ASSERT_EQ(res.transitions.size(), 1u);
  const auto& t = res.transitions[0];
  EXPECT_EQ(t.labels, (Labels{{"alertname", "InstanceDown"},
                              {"env", "prod"},
                              {"instance", "a"},
                              {"job", "node"},
                              {"severity", "critical"},
                              {"team", "rule"}}));
  EXPECT_EQ(t.value, 90);
  EXPECT_EQ(t.annotations.get("summary"), "a silent for 90s");
  EXPECT_EQ(t.to, AlertState::Firing);
  auto out = rule.alerts_to_send(T(90), 60s, 60s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].starts_at, T(90));
}

TEST(HeartbeatRule, StateSurvivesExportImportAndReload) {
  HeartbeatRule rule = make_heartbeat(hb_config(2min));
  rule.evaluate(ok({sample("a")}), T(0));
  rule.evaluate(ok({}), T(60));
  rule.evaluate(ok({}), T(120));
  HeartbeatState saved = rule.export_state();
  EXPECT_EQ(saved.members.size(), 1u);
  EXPECT_EQ(saved.alerts.size(), 1u);
  EXPECT_EQ(saved.last_success, T(120));
  HeartbeatRule restarted = make_heartbeat(hb_config(2min));
  restarted.import_state(saved);
  // Two hours of downtime: only one interval counts; 60 + 60 = 120s -> fires now.
  auto res = restarted.evaluate(ok({}), T(120 + 7200));
  EXPECT_EQ(transitions(res.transitions), "a:pending>firing");

  auto g = group_config({});
  g.heartbeats = {hb_config(2min)};
  auto old_group = RuleGroup::build(g, {}, nullptr);
  ASSERT_TRUE(old_group);
  ASSERT_EQ(old_group->heartbeats().size(), 1u);
  old_group->heartbeats()[0].import_state(restarted.export_state());
  auto g2 = g;
  g2.heartbeats[0].labels = Labels{{"severity", "page"}};  // identity of its alerts changes
  auto new_group = RuleGroup::build(g2, {}, nullptr);
  std::vector<std::size_t> untaken_hb;
  new_group->take_state_from(*old_group, &untaken_hb);
  EXPECT_TRUE(untaken_hb.empty());
  res = new_group->heartbeats()[0].evaluate(ok({}), T(120 + 7260));
  // The old-labelled alert resolves; the member's new alert starts (absence already counted).
  EXPECT_EQ(transitions(res.transitions), "a:firing>inactive a:inactive>firing");
}

// ---------------------------------------------------------------------------------------------
// Scheduling.

TEST(RuleGroup, OffsetIsStableAndWithinInterval) {
  auto g1 = RuleGroup::build(group_config({}), {}, nullptr);
  auto g2 = RuleGroup::build(group_config({}), {}, nullptr);
  ASSERT_TRUE(g1 && g2);
  EXPECT_EQ(g1->offset(), g2->offset());
  EXPECT_GE(g1->offset(), 0ms);
  EXPECT_LT(g1->offset(), 60s);
  std::set<Duration::rep> offsets;
  for (int i = 0; i < 20; ++i) {
    auto g = RuleGroup::build(group_config({}, {}, 0, "g" + std::to_string(i)), {}, nullptr);
    EXPECT_LT(g->offset(), 60s);
    offsets.insert(g->offset().count());
  }
  EXPECT_GT(offsets.size(), 15u);  // spread, not all groups at once
}

TEST(RuleGroup, NextEvaluationIsAligned) {
  auto g = RuleGroup::build(group_config({}), {}, nullptr);
  ASSERT_TRUE(g);
  const Duration iv = g->interval();
  for (std::int64_t t : {0LL, 1LL, 59'999LL, 60'000LL, 1'700'000'000'123LL, 1'700'000'059'999LL}) {
    SCOPED_TRACE(t);
    const TimePoint after{Duration(t)};
    const TimePoint next = g->next_evaluation(after);
    EXPECT_GT(next, after);
    EXPECT_LE(next - after, iv);
    EXPECT_EQ(((next.time_since_epoch() - g->offset()).count()) % iv.count(), 0);
    EXPECT_EQ(g->slot_at_or_before(next), next);
    EXPECT_EQ(g->next_evaluation(next), next + iv);  // a slot itself: the one after
    EXPECT_LE(g->slot_at_or_before(after), after);
    EXPECT_EQ(g->slot_at_or_before(after) + iv, next);
  }
}

struct AdvanceCase {
  std::int64_t now_after_previous_ms;
  std::int64_t expect_slot_after_previous_ms;
  std::int64_t expect_missed;
};

TEST(RuleGroup, AdvanceSkipsAndCountsMissedSlots) {
  auto g = RuleGroup::build(group_config({}), {}, nullptr);
  ASSERT_TRUE(g);
  const TimePoint prev = g->next_evaluation(T(0));
  const std::vector<AdvanceCase> cases = {
      {60'000, 60'000, 0},      // on time
      {60'250, 60'000, 0},      // a little late
      {59'990, 60'000, 0},      // timer fired early: still the next slot
      {119'999, 60'000, 0},     // not a whole slot missed
      {120'000, 120'000, 1},    // one slot missed
      {215'000, 180'000, 2},    // overrun: skip to the latest slot
      {600'001, 600'000, 9},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.now_after_previous_ms);
    const SlotAdvance a = g->advance(prev, prev + Duration(c.now_after_previous_ms));
    EXPECT_EQ(a.slot, prev + Duration(c.expect_slot_after_previous_ms));
    EXPECT_EQ(a.missed, c.expect_missed);
  }
}

TEST(RuleGroup, QueryTimeSubtractsQueryOffset) {
  auto cfg = group_config({rule_config("A")});
  cfg.query_offset = 30s;
  auto g = RuleGroup::build(cfg, {}, nullptr);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->query_time(T(1000)), T(970));
  EXPECT_EQ(g->query_offset(), 30s);
  EXPECT_EQ(g->rules().size(), 1u);
  EXPECT_EQ(g->rule_keys().size(), 1u);
  EXPECT_EQ(g->rules()[0].group_name(), "node");
  g->set_last_evaluation(T(1000), 12ms);
  EXPECT_EQ(g->last_evaluation(), T(1000));
  EXPECT_EQ(g->evaluation_time(), 12ms);
}

}  // namespace

// A step of the wall clock (WallClockWatch) shifts every alert time with it: a pending `for`
// counts the time that really passed, on either side of the step.
TEST(ClockStep, ForCountsRealTimeAcrossForwardAndBackwardSteps) {
  AlertingRule rule = make_rule(rule_config("HighLoad", 10s));
  ASSERT_TRUE(rule.evaluate(ok_instances({"a"}), T(0)).ok);
  ASSERT_EQ(rule.count(AlertState::Pending), 1u);

  // 4 s later the clock jumps an hour ahead. Unshifted, activeAt would be an hour old and the
  // alert would fire at once.
  rule.shift_clock(1h);
  rule.evaluate(ok_instances({"a"}), T(4) + 1h);
  EXPECT_EQ(rule.count(AlertState::Pending), 1u);
  EXPECT_EQ(rule.last_evaluation(), T(4) + 1h);

  // 2 s later it goes back two hours: activeAt must not lie in the future of the evaluation.
  rule.shift_clock(-2h);
  rule.evaluate(ok_instances({"a"}), T(6) - 1h);
  std::vector<Alert> alerts = rule.export_alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].active_at, T(0) - 1h);
  EXPECT_EQ(alerts[0].state, AlertState::Pending);

  // 10 s of real time after it became pending, it fires.
  EvaluationResult fired = rule.evaluate(ok_instances({"a"}), T(10) - 1h);
  ASSERT_EQ(fired.transitions.size(), 1u);
  EXPECT_EQ(fired.transitions[0].to, AlertState::Firing);

  // Resolving after another backward step: endsAt (resolved_at) never precedes startsAt.
  rule.shift_clock(-30min);
  EvaluationResult resolved = rule.evaluate(ok({}), T(12) - 90min);
  ASSERT_EQ(resolved.transitions.size(), 1u);
  alerts = rule.export_alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_LE(alerts[0].fired_at, alerts[0].resolved_at);
  EXPECT_EQ(alerts[0].fired_at, T(10) - 90min);
}

TEST(ClockStep, HeartbeatMembersMoveWithTheClock) {
  HeartbeatRule rule = make_heartbeat(hb_config(30s));
  QueryOutcome up_a = ok({Sample{Labels{{"__name__", "up"}, {"instance", "a"}, {"job", "node"}}, 1}});
  rule.evaluate(up_a, T(0));
  rule.shift_clock(-1h);
  HeartbeatState state = rule.export_state();
  ASSERT_EQ(state.members.size(), 1u);
  EXPECT_EQ(state.members[0].last_seen_up, T(0) - 1h);
  EXPECT_EQ(state.last_success, T(0) - 1h);
}

// Rules built with one template cache (one config load) share the parse of an annotation text
// they have in common; each still renders, and names itself in runtime errors, as if compiled
// alone.
TEST(AlertingRule, SharedTemplateTextsKeepTheirRuleNames) {
  RuleContext ctx{Labels{}, "", std::make_shared<TemplateCache>()};
  const TemplateMap ann{{"summary", tt("{{ $labels.instance }} {{ humanize $labels.job }}")}};
  AlertingRule a = make_rule(rule_config("A", 0s, 0s, {}, ann), group_config({}), ctx);
  AlertingRule b = make_rule(rule_config("B", 0s, 0s, {}, ann), group_config({}), ctx);
  EXPECT_EQ(ctx.templates->size(), 1u);
  a.evaluate(ok({sample("i1")}), T(0));
  b.evaluate(ok({sample("i1")}), T(0));
  const std::string sa(find_alert(a, "i1")->annotations.get("summary"));
  const std::string sb(find_alert(b, "i1")->annotations.get("summary"));
  EXPECT_NE(sa.find("executing \"__alert_A\""), std::string::npos) << sa;
  EXPECT_NE(sb.find("executing \"__alert_B\""), std::string::npos) << sb;
  AlertingRule alone = make_rule(rule_config("B", 0s, 0s, {}, ann));
  alone.evaluate(ok({sample("i1")}), T(0));
  EXPECT_EQ(sb, find_alert(alone, "i1")->annotations.get("summary"));
}

// ---- templates that call `query` ----

TEST(TemplateQueries, RulesWithoutQueryNeedNoPass) {
  AlertingRule rule = make_rule(rule_config("X", 0s, 0s, {}, {{"summary", tt("{{ $labels.instance }} {{ $value }}")}}));
  EXPECT_FALSE(rule.uses_template_queries());
  EXPECT_TRUE(rule.template_queries(ok({sample("a")}), {}).empty());
}

TEST(TemplateQueries, CollectedPerSampleThenEvaluatedWithAnswers) {
  AlertingRule rule = make_rule(rule_config(
      "X", 0s, 0s, {},
      {{"summary", tt(R"({{ query (printf "node_load1{instance=%q}" $labels.instance) | first | value }})")},
       {"static", tt("{{ $labels.instance }}")}}));
  ASSERT_TRUE(rule.uses_template_queries());
  QueryOutcome outcome = ok({sample("a"), sample("b"), sample("a2")});
  TemplateQueryAnswers answers;
  EXPECT_EQ(rule.template_queries(outcome, answers),
            (std::vector<std::string>{R"(node_load1{instance="a"})", R"(node_load1{instance="b"})",
                                      R"(node_load1{instance="a2"})"}));
  auto answer = [](double v) {
    return TemplateQueryAnswer{true, {Sample{Labels{{"__name__", "node_load1"}}, v}}, {}};
  };
  answers[R"(node_load1{instance="a"})"] = answer(1.5);
  answers[R"(node_load1{instance="b"})"] = answer(2.5);
  EXPECT_EQ(rule.template_queries(outcome, answers), (std::vector<std::string>{R"(node_load1{instance="a2"})"}));
  answers[R"(node_load1{instance="a2"})"] = TemplateQueryAnswer{false, {}, "1:1: parse error: boom"};
  EXPECT_TRUE(rule.template_queries(outcome, answers).empty());

  rule.evaluate(outcome, T(0), false, &answers);
  EXPECT_EQ(find_alert(rule, "a")->annotations.get("summary"), "1.5");
  EXPECT_EQ(find_alert(rule, "b")->annotations.get("summary"), "2.5");
  EXPECT_EQ(find_alert(rule, "a2")->annotations.get("summary"),
            "<error expanding template: error executing template __alert_X: template: __alert_X:1:115: executing "
            "\"__alert_X\" at <query (printf \"node_load1{instance=%q}\" $labels.instance)>: error calling query: 1:1: "
            "parse error: boom>");
  // Same labels and value, another answer: re-expanded (Prometheus expands at every evaluation).
  answers[R"(node_load1{instance="a"})"] = answer(9);
  rule.evaluate(outcome, T(60), false, &answers);
  EXPECT_EQ(find_alert(rule, "a")->annotations.get("summary"), "9");
}

TEST(TemplateQueries, NoDataAndErrorAlertsAreProbedToo) {
  AlertRuleConfig rc = rule_config("X", 0s, 0s, {}, {{"q", tt(R"t({{ query "vector(1)" | len }})t")}});
  rc.no_data = NoData::Alerting;
  rc.on_error = OnError::Alerting;
  AlertingRule rule = make_rule(rc);
  EXPECT_EQ(rule.template_queries(ok({}), {}), (std::vector<std::string>{"vector(1)"}));
  EXPECT_EQ(rule.template_queries(failed("down"), {}), (std::vector<std::string>{"vector(1)"}));
  EXPECT_TRUE(rule.template_queries(failed("down"), {}, /*datasource_down=*/true).empty());
  AlertingRule plain = make_rule(rule_config("Y", 0s, 0s, {}, {{"q", tt(R"t({{ query "vector(1)" | len }})t")}}));
  EXPECT_TRUE(plain.template_queries(ok({}), {}).empty());
  EXPECT_TRUE(plain.template_queries(failed("down"), {}).empty());
}

TEST(TemplateQueries, AnswersCarryPrometheusErrorTexts) {
  auto answer = [](std::string error) { return template_query_answer(failed(std::move(error))).error; };
  // Prometheus 2.42's HTTP API and its own template `query` for the same failures.
  EXPECT_EQ(answer("bad_data: invalid parameter \"query\": 1:11: parse error: unclosed left parenthesis"),
            "1:11: parse error: unclosed left parenthesis");
  EXPECT_EQ(answer("execution: found duplicate series for the match group"), "found duplicate series for the match group");
  EXPECT_EQ(answer("unsupported result type matrix"), "rule result is not a vector or scalar");
  EXPECT_EQ(answer("unsupported result type string"), "rule result is not a vector or scalar");
  EXPECT_EQ(answer("connection refused (after 3 attempts)"), "connection refused (after 3 attempts)");
  TemplateQueryAnswer a = template_query_answer(ok({sample("a", 2)}));
  EXPECT_TRUE(a.ok);
  ASSERT_EQ(a.samples.size(), 1u);
  EXPECT_EQ(a.samples[0].value, 2);
}

TEST(TemplateQueries, ResolvedInBoundedRoundsEachExpressionOnce) {
  // A chain: each answer names the next expression; one round per link.
  AlertingRule rule = make_rule(rule_config(
      "X", 0s, 0s, {},
      {{"chain", tt(R"({{ $a := query "q0" | first | label "next" }}{{ $b := query $a | first | label "next" }})"
                    R"({{ $c := query $b | first | label "next" }}{{ $d := query $c | first | label "next" }})"
                    R"({{ query $d | first | label "next" }})")}}));
  std::vector<std::string> ran;
  std::vector<std::function<void()>> pending;  // callbacks come later, as from an event loop
  auto run = [&](const std::string& expr, std::function<void(QueryOutcome)> done) {
    ran.push_back(expr);
    pending.push_back([expr, done] {
      done(ok({Sample{Labels{{"next", "q" + std::to_string(std::stoi(expr.substr(1)) + 1)}}, 1}}));
    });
  };
  QueryOutcome outcome = ok({sample("a"), sample("b")});  // two alerts, same expressions
  std::optional<TemplateQueryAnswers> result;
  resolve_template_queries([&](const TemplateQueryAnswers& a) { return rule.template_queries(outcome, a); }, run,
                           [&](TemplateQueryAnswers a) { result = std::move(a); });
  for (int guard = 0; guard < 100 && !pending.empty(); ++guard) {
    auto batch = std::move(pending);
    pending.clear();
    for (auto& f : batch) f();
  }
  ASSERT_TRUE(result);
  EXPECT_EQ(ran, (std::vector<std::string>{"q0", "q1", "q2", "q3"}));  // kMaxTemplateQueryRounds
  rule.evaluate(outcome, T(0), false, &*result);
  EXPECT_NE(find_alert(rule, "a")->annotations.get("chain").find("the query was not run"), std::string::npos);

  // Nothing to ask: done at once, nothing run.
  ran.clear();
  bool done = false;
  resolve_template_queries([](const TemplateQueryAnswers&) { return std::vector<std::string>{}; }, run,
                           [&](TemplateQueryAnswers a) { done = a.empty(); });
  EXPECT_TRUE(done);
  EXPECT_TRUE(ran.empty());
}

TEST(TemplateQueries, HeartbeatAnnotationsRejectQuery) {
  HeartbeatRuleConfig hb;
  hb.name = "Down";
  hb.expr = "up";
  hb.by = {"instance"};
  hb.annotations = {{"q", tt(R"({{ query "up" }})")}};
  std::vector<ConfigError> errors;
  EXPECT_FALSE(HeartbeatRule::build(hb, group_config({}), {}, &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "heartbeat \"Down\": annotation \"q\": function \"query\" is not available in heartbeat annotations");
}

// ---------------------------------------------------------------------------------------------
// Hysteresis (keep_firing_expr) and flap detection (#17), table-driven on a virtual clock.

namespace {

struct HysteresisStep {
  std::int64_t t;
  std::vector<std::string> present;                // instances in expr's result
  std::optional<std::vector<std::string>> keep;    // keep_firing_expr's result; nullopt: not queried
  bool keep_fails = false;                         // keep_firing_expr fails instead
  std::string expect_states;
  std::string expect_transitions;  // as transitions(), a flap mark appended: !flapping !muted !stable
};

struct HysteresisScenario {
  std::string name;
  Duration for_duration;
  Duration keep_firing_for;
  bool keep_firing_expr;
  Duration flap_window;
  int flap_threshold;
  std::vector<HysteresisStep> steps;
};

std::string flap_transitions(const std::vector<AlertTransition>& ts) {
  std::vector<std::string> v;
  for (const auto& t : ts) {
    std::string s = std::string(t.labels.get("instance")) + ":" + std::string(to_string(t.from)) + ">" +
                    std::string(to_string(t.to));
    switch (t.flap) {
      case FlapNotice::None: break;
      case FlapNotice::Started: s += "!flapping"; break;
      case FlapNotice::Muted: s += "!muted"; break;
      case FlapNotice::Ended: s += "!stable"; break;
    }
    v.push_back(std::move(s));
  }
  std::sort(v.begin(), v.end());
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

AlertRuleConfig hysteresis_config(const HysteresisScenario& sc) {
  AlertRuleConfig rc = rule_config("Hot", sc.for_duration, sc.keep_firing_for);
  rc.expr = "temp > 90";
  if (sc.keep_firing_expr) rc.keep_firing_expr = "temp > 80";
  rc.flap_window = sc.flap_window;
  rc.flap_threshold = sc.flap_threshold;
  return rc;
}

// keep_firing_expr's samples: another metric name than expr's, as `temp > 80` vs `temp > 90`
// would not differ in it, to show that only the alert's labels are compared.
QueryOutcome keep_result(const std::vector<std::string>& instances) {
  std::vector<Sample> s;
  for (const auto& i : instances) s.push_back(sample(i, 85, "temp_celsius"));
  return ok(std::move(s));
}

class Hysteresis : public ::testing::TestWithParam<HysteresisScenario> {};

TEST_P(Hysteresis, Steps) {
  const HysteresisScenario& sc = GetParam();
  AlertingRule rule = make_rule(hysteresis_config(sc));
  for (const HysteresisStep& step : sc.steps) {
    SCOPED_TRACE("t=" + std::to_string(step.t));
    // The daemon runs keep_firing_expr only when the rule asks for it: while something fires.
    const bool queried = step.keep.has_value() || step.keep_fails;
    EXPECT_EQ(rule.wants_keep_firing_query(), queried);
    QueryOutcome keep = step.keep_fails ? failed("server returned HTTP status 503") : keep_result(step.keep.value_or(std::vector<std::string>{}));
    auto res = rule.evaluate(ok_instances(step.present), T(step.t), false, nullptr, queried ? &keep : nullptr);
    EXPECT_EQ(res.ok, !step.keep_fails);
    EXPECT_EQ(rule.health(), step.keep_fails ? RuleHealth::Err : RuleHealth::Ok);
    if (step.keep_fails) {
      EXPECT_EQ(rule.last_error(), "keep_firing_expr: server returned HTTP status 503");
    }
    EXPECT_EQ(states(rule), step.expect_states);
    EXPECT_EQ(flap_transitions(res.transitions), step.expect_transitions);
  }
}

using Instances = std::vector<std::string>;

INSTANTIATE_TEST_SUITE_P(
    Rules, Hysteresis,
    ::testing::Values(
        HysteresisScenario{"KeepFiringExprHoldsAFiringAlert", 0s, 0s, true, 0s, 0,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, Instances{"a"}, false, "a=firing", ""},
                            {120, {}, Instances{"a"}, false, "a=firing", ""},
                            {180, {"a"}, Instances{"a"}, false, "a=firing", ""},
                            {240, {}, Instances{}, false, "a=inactive", "a:firing>inactive"},
                            {300, {}, std::nullopt, false, "a=inactive", ""}}},
        HysteresisScenario{"WithoutKeepFiringExprTheSameValuesResolve", 0s, 0s, false, 0s, 0,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"}}},
        HysteresisScenario{"OnlyAlertsInTheKeepResultAreHeld", 0s, 0s, true, 0s, 0,
                           {{0, {"a", "b"}, std::nullopt, false, "a=firing b=firing",
                             "a:inactive>firing b:inactive>firing"},
                            {60, {}, Instances{"a", "c"}, false, "a=firing b=inactive", "b:firing>inactive"},
                            {120, {}, Instances{"a"}, false, "a=firing b=inactive", ""},
                            {180, {}, Instances{}, false, "a=inactive b=inactive", "a:firing>inactive"}}},
        HysteresisScenario{"PendingAlertsAreNotHeld", 2min, 0s, true, 0s, 0,
                           {{0, {"a"}, std::nullopt, false, "a=pending", "a:inactive>pending"},
                            {60, {}, std::nullopt, false, "", "a:pending>inactive"},
                            {120, {"a"}, std::nullopt, false, "a=pending", "a:inactive>pending"},
                            {240, {"a"}, std::nullopt, false, "a=firing", "a:pending>firing"},
                            {300, {}, Instances{"a"}, false, "a=firing", ""},
                            {360, {}, Instances{}, false, "a=inactive", "a:firing>inactive"}}},
        HysteresisScenario{"KeepFiringForCountsOnlyOnceInNeither", 0s, 2min, true, 0s, 0,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, Instances{"a"}, false, "a=firing", ""},
                            {120, {}, Instances{}, false, "a=firing", ""},   // keep_firing_for from 120
                            {180, {}, Instances{"a"}, false, "a=firing", ""},  // held again: starts over
                            {240, {}, Instances{}, false, "a=firing", ""},   // from 240
                            {300, {}, Instances{}, false, "a=firing", ""},
                            {360, {}, Instances{}, false, "a=inactive", "a:firing>inactive"}}},
        HysteresisScenario{"KeepFiringExprFailureLeavesStateAsItIs", 0s, 0s, true, 0s, 0,
                           {{0, {"a", "b"}, std::nullopt, false, "a=firing b=firing",
                             "a:inactive>firing b:inactive>firing"},
                            {60, {"c"}, std::nullopt, true, "a=firing b=firing", ""},
                            {120, {"a", "c"}, Instances{}, false, "a=firing b=inactive c=firing",
                             "b:firing>inactive c:inactive>firing"}}},
        // Flap detection: 4 changes (starts firing, resolves) within 10m.
        HysteresisScenario{"FlappingIsNotifiedOnceThenTheStableState", 0s, 0s, false, 10min, 4,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"},
                            {120, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {180, {}, std::nullopt, false, "a=inactive", "a:firing>inactive!flapping"},
                            {240, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing!muted"},
                            {300, {}, std::nullopt, false, "a=inactive", "a:firing>inactive!muted"},
                            {840, {}, std::nullopt, false, "a=inactive", ""},
                            {900, {}, std::nullopt, false, "a=inactive", "a:inactive>inactive!stable"},
                            // Counting starts afresh; the alert is kept only as long as any resolved one.
                            {960, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {1020, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"},
                            {1920, {}, std::nullopt, false, "a=inactive", ""},
                            {1921, {}, std::nullopt, false, "", ""}}},
        HysteresisScenario{"FlappingThatSettlesFiringIsNotifiedFiring", 0s, 0s, false, 5min, 3,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"},
                            {120, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing!flapping"},
                            {180, {}, std::nullopt, false, "a=inactive", "a:firing>inactive!muted"},
                            {240, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing!muted"},
                            {480, {"a"}, std::nullopt, false, "a=firing", ""},
                            {540, {"a"}, std::nullopt, false, "a=firing", "a:firing>firing!stable"}}},
        HysteresisScenario{"ChangesOlderThanTheWindowDoNotCount", 0s, 0s, false, 10min, 3,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"},
                            {600, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},  // 0 is out
                            {660, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"},   // 60 is out
                            {700, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing!flapping"}}},
        HysteresisScenario{"PendingIncarnationsKeepTheCount", 1min, 0s, false, 10min, 3,
                           {{0, {"a"}, std::nullopt, false, "a=pending", "a:inactive>pending"},
                            {60, {"a"}, std::nullopt, false, "a=firing", "a:pending>firing"},
                            {120, {}, std::nullopt, false, "a=inactive", "a:firing>inactive"},
                            {180, {"a"}, std::nullopt, false, "a=pending", "a:inactive>pending"},
                            // Dropped, it is the resolved alert again (without flap detection: gone).
                            {240, {}, std::nullopt, false, "a=inactive", "a:pending>inactive"},
                            {300, {"a"}, std::nullopt, false, "a=pending", "a:inactive>pending"},
                            {360, {"a"}, std::nullopt, false, "a=firing", "a:pending>firing!flapping"}}},
        HysteresisScenario{"HysteresisAndFlapDetectionTogether", 0s, 0s, true, 10min, 3,
                           {{0, {"a"}, std::nullopt, false, "a=firing", "a:inactive>firing"},
                            {60, {}, Instances{"a"}, false, "a=firing", ""},
                            {120, {"a"}, Instances{"a"}, false, "a=firing", ""},
                            {180, {}, Instances{"a"}, false, "a=firing", ""},
                            {240, {}, Instances{}, false, "a=inactive", "a:firing>inactive"}}}),
    [](const ::testing::TestParamInfo<HysteresisScenario>& info) { return info.param.name; });

AlertRuleConfig flapping_config(Duration window = 10min, int threshold = 3) {
  AlertRuleConfig rc = rule_config("Hot");
  rc.flap_window = window;
  rc.flap_threshold = threshold;
  return rc;
}

// Drives `rule` through changes at 0, 60, 120, ... while `present` alternates, from t=`from`.
std::vector<AlertTransition> alternate(AlertingRule& rule, std::int64_t from, int changes, bool start_present) {
  std::vector<AlertTransition> all;
  bool present = start_present;
  for (int i = 0; i < changes; ++i, present = !present) {
    auto res = rule.evaluate(present ? ok_instances({"a"}) : ok_instances({}), T(from + 60 * i));
    all.insert(all.end(), res.transitions.begin(), res.transitions.end());
  }
  return all;
}

}  // namespace

TEST(FlapDetection, ExactlyOneFlappingNoticeThenTheSettledState) {
  AlertingRule rule = make_rule(flapping_config(10min, 3));
  std::vector<AlertTransition> all = alternate(rule, 0, 8, true);  // 8 changes in 7 minutes, resolved last
  for (std::int64_t t = 480; t <= 1200; t += 60) {
    auto res = rule.evaluate(ok_instances({}), T(t));
    all.insert(all.end(), res.transitions.begin(), res.transitions.end());
  }
  std::vector<const AlertTransition*> notified;
  for (const auto& t : all) {
    if (t.notifies()) notified.push_back(&t);
  }
  // firing, resolved, the flapping notice (firing, with its annotations), the settled state.
  ASSERT_EQ(notified.size(), 4u);
  EXPECT_FALSE(notified[0]->notified_resolved());
  EXPECT_TRUE(notified[1]->notified_resolved());
  const AlertTransition& notice = *notified[2];
  EXPECT_EQ(notice.flap, FlapNotice::Started);
  EXPECT_EQ(notice.at, T(120));
  EXPECT_FALSE(notice.notified_resolved());
  EXPECT_EQ(notice.annotations.get("flapping"), "true");
  EXPECT_EQ(notice.annotations.get("flap_count"), "3");
  const AlertTransition& settled = *notified[3];
  EXPECT_EQ(settled.flap, FlapNotice::Ended);
  EXPECT_EQ(settled.at, T(420 + 600));  // the last change (t=420) plus the window
  EXPECT_TRUE(settled.notified_resolved());
  EXPECT_EQ(settled.resolved_at, T(420));
  EXPECT_FALSE(settled.annotations.has("flapping"));
  EXPECT_EQ(rule.count_flapping(), 0u);
}

TEST(FlapDetection, FlappingAlertCarriesTheAnnotationsAndALiveCount) {
  AlertingRule rule = make_rule(flapping_config(10min, 3));
  alternate(rule, 0, 5, true);  // firing at 0, 120, 240: flapping from 120
  const Alert* a = find_alert(rule, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->state, AlertState::Firing);
  EXPECT_TRUE(a->flap.flapping());
  EXPECT_EQ(a->flap.flapping_since, T(120));
  EXPECT_EQ(a->flap.count, 5u);
  EXPECT_EQ(a->annotations.get("flapping"), "true");
  EXPECT_EQ(a->annotations.get("flap_count"), "5");
  EXPECT_EQ(rule.count_flapping(), 1u);
  // Re-expanded annotations (a new value) keep the marks.
  rule.evaluate(ok({sample("a", 7)}), T(300));
  EXPECT_EQ(find_alert(rule, "a")->annotations.get("flapping"), "true");
}

TEST(FlapDetection, CountsAndFlappingSurviveARestart) {
  AlertingRule before = make_rule(flapping_config(10min, 4));
  alternate(before, 0, 3, true);  // 3 changes counted: one short of flapping
  std::vector<Alert> saved = before.export_alerts();
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].flap.changes.size(), 3u);

  AlertingRule after = make_rule(flapping_config(10min, 4));
  after.restore(saved, T(120), T(150), RestoreOptions{});
  auto res = after.evaluate(ok_instances({}), T(180));  // the 4th change
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].flap, FlapNotice::Started);

  // Flapping itself survives too, and ends a window after the last change.
  AlertingRule again = make_rule(flapping_config(10min, 4));
  again.restore(after.export_alerts(), T(180), T(200), RestoreOptions{});
  EXPECT_EQ(again.count_flapping(), 1u);
  EXPECT_TRUE(again.evaluate(ok_instances({}), T(720)).transitions.empty());
  res = again.evaluate(ok_instances({}), T(780));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].flap, FlapNotice::Ended);
  EXPECT_TRUE(res.transitions[0].notified_resolved());
}

TEST(FlapDetection, ARuleWithoutFlapDetectionEndsFlappingItTookOver) {
  AlertingRule old = make_rule(flapping_config(10min, 3));
  alternate(old, 0, 4, true);
  ASSERT_EQ(old.count_flapping(), 1u);
  AlertingRule plain = make_rule(rule_config("Hot"));
  plain.take_alerts_from(old);
  auto res = plain.evaluate(ok_instances({}), T(240));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].flap, FlapNotice::Ended);
  EXPECT_EQ(plain.count_flapping(), 0u);
}

TEST(FlapDetection, ResolveAllTellsReceiversOfAFlappingAlertThatIsNotFiring) {
  AlertingRule rule = make_rule(flapping_config(10min, 3));
  alternate(rule, 0, 4, true);  // flapping, resolved at 180
  auto out = rule.resolve_all(T(240));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flap, FlapNotice::Ended);
  EXPECT_TRUE(out[0].notifies());
  EXPECT_TRUE(out[0].notified_resolved());
}

TEST(FlapDetection, AlertsNeverFiredAreNotSentToAlertmanagers) {
  // A pending incarnation dropped while flap detection keeps the alert: the resolution was
  // sent once already, nothing new to send.
  AlertRuleConfig rc = flapping_config(10min, 5);
  rc.for_duration = 1min;
  AlertingRule rule = make_rule(rc);
  rule.evaluate(ok_instances({"a"}), T(0));
  rule.evaluate(ok_instances({"a"}), T(60));
  rule.evaluate(ok_instances({}), T(120));
  EXPECT_EQ(rule.alerts_to_send(T(120), 1min, 1min).size(), 1u);  // the resolution
  rule.evaluate(ok_instances({"a"}), T(180));
  rule.evaluate(ok_instances({}), T(240));
  ASSERT_NE(find_alert(rule, "a"), nullptr);
  EXPECT_EQ(find_alert(rule, "a")->resolved_at, T(120));
  EXPECT_EQ(find_alert(rule, "a")->state, AlertState::Inactive);
  EXPECT_TRUE(rule.alerts_to_send(T(240), 1min, 1min).empty());
}

TEST(FlapDetection, LimitCountsAlertsHeldByKeepFiringExpr) {
  AlertRuleConfig rc = rule_config("Hot");
  rc.keep_firing_expr = "temp > 80";
  AlertingRule rule = make_rule(rc, group_config({}, {}, 2));
  rule.evaluate(ok_instances({"a", "b"}), T(0));
  QueryOutcome keep = keep_result({"a", "b"});
  auto res = rule.evaluate(ok_instances({"c"}), T(60), false, nullptr, &keep);
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(rule.last_error(), "exceeded limit of 2 with 3 alerts");
  EXPECT_EQ(states(rule), "a=firing b=firing");
}

TEST(FlapDetection, AWallClockStepMovesTheCountedChanges) {
  AlertingRule rule = make_rule(flapping_config(10min, 3));
  alternate(rule, 0, 2, true);  // changes at 0 and 60
  rule.shift_clock(1h);
  // 60 s after the last change on the new timeline: the third change within the window.
  auto res = rule.evaluate(ok_instances({"a"}), T(3600 + 120));
  ASSERT_EQ(res.transitions.size(), 1u);
  EXPECT_EQ(res.transitions[0].flap, FlapNotice::Started);
}
