// Recording rules (Prometheus rules/recording.go), ALERTS/ALERTS_FOR_STATE (rules/alerting.go)
// and stale markers (rules/group.go): what one round of a group writes through remote write.

#include <gtest/gtest.h>

#include <chrono>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "promwatch/rules.hpp"

using namespace promwatch;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kBase = 1'700'000'000;
TimePoint T(std::int64_t seconds) { return TimePoint(std::chrono::seconds(kBase + seconds)); }
std::int64_t ms(std::int64_t seconds) { return (kBase + seconds) * 1000; }

const std::string kFile = "/etc/promwatch/rules/node.toml";

RecordingRuleConfig recording(std::string record, Labels labels = {}, int line = 10) {
  RecordingRuleConfig r;
  r.record = std::move(record);
  r.expr = "sum by (job) (rate(errors_total[5m]))";
  r.labels = std::move(labels);
  r.pos = SourcePos{kFile, line, 1};
  return r;
}

AlertRuleConfig alerting(std::string name, Duration for_duration, int line) {
  AlertRuleConfig r;
  r.alert = std::move(name);
  r.expr = "errors > 1";
  r.for_duration = for_duration;
  r.labels = {{"severity", TemplateText{"page", SourcePos{kFile, line, 5}}}};
  r.pos = SourcePos{kFile, line, 1};
  return r;
}

RuleGroupConfig group(std::vector<AlertRuleConfig> rules, std::vector<RecordingRuleConfig> recording_rules,
                      Labels labels = {}, Duration query_offset = 0ms, int limit = 0) {
  RuleGroupConfig g;
  g.name = "node";
  g.file = kFile;
  g.interval = 60s;
  g.query_offset = query_offset;
  g.limit = limit;
  g.labels = std::move(labels);
  g.rules = std::move(rules);
  g.recording_rules = std::move(recording_rules);
  return g;
}

RuleGroup build(const RuleGroupConfig& config, RuleContext context = {}) {
  std::vector<ConfigError> errors;
  auto g = RuleGroup::build(config, context, &errors);
  EXPECT_TRUE(g.has_value());
  return std::move(*g);
}

QueryOutcome ok(std::vector<Sample> samples) {
  QueryOutcome o;
  o.ok = true;
  o.result.samples = std::move(samples);
  return o;
}

QueryOutcome failed(std::string error) {
  QueryOutcome o;
  o.error = std::move(error);
  return o;
}

Sample series(std::string job, double value, std::string name = "errors") {
  return Sample{Labels{{"__name__", std::move(name)}, {"job", std::move(job)}}, value};
}

// `{a="b", ...} value@ms` per sample, "stale" for a stale marker: the whole output at a glance.
std::vector<std::string> show(const std::vector<WriteSample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples) {
    std::ostringstream line;
    line << std::setprecision(15) << s.labels.to_string() << " ";
    if (is_stale_marker(s.value)) {
      line << "stale";
    } else {
      line << s.value;
    }
    line << "@" << s.timestamp_ms;
    out.push_back(line.str());
  }
  return out;
}

std::string at(std::int64_t seconds) { return "@" + std::to_string(ms(seconds)); }

TEST(RecordingRule, VectorResultGetsRecordNameAndLabelsRuleOverGroupOverSeries) {
  RuleGroup g = build(group({}, {recording("job:errors:rate5m", Labels{{"team", "rule"}})},
                            Labels{{"team", "group"}, {"env", "prod"}}),
                      RuleContext{Labels{{"cluster", "c1"}, {"env", "ext"}}, "", nullptr});
  RecordingRule& rule = g.recording_rules()[0];
  Sample s{Labels{{"__name__", "errors"}, {"job", "api"}, {"team", "series"}}, 2.5};
  EvaluationResult r = rule.evaluate(ok({s}), T(60));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(rule.health(), RuleHealth::Ok);
  EXPECT_EQ(rule.last_evaluation(), T(60));
  // External labels only where the series lacks them, as Prometheus's remote write adds them.
  EXPECT_EQ(show(rule.take_samples()),
            std::vector<std::string>{R"({__name__="job:errors:rate5m", cluster="c1", env="prod", job="api", team="rule"} 2.5)" + at(60)});
  EXPECT_TRUE(rule.take_samples().empty()) << "handed over once";
}

TEST(RecordingRule, ScalarResultIsOneSeriesWithOnlyTheRuleLabels) {
  RuleGroup g = build(group({}, {recording("answer", Labels{{"kind", "const"}})}));
  RecordingRule& rule = g.recording_rules()[0];
  EXPECT_TRUE(rule.evaluate(ok({Sample{Labels{}, 42}}), T(0)).ok);
  EXPECT_EQ(show(rule.take_samples()), std::vector<std::string>{R"({__name__="answer", kind="const"} 42)" + at(0)});
}

TEST(RecordingRule, TimestampIsTheQueryTime) {
  RuleGroup g = build(group({}, {recording("r")}, {}, 30s));
  RecordingRule& rule = g.recording_rules()[0];
  rule.evaluate(ok({series("a", 1)}), T(60));
  EXPECT_EQ(rule.take_samples().at(0).timestamp_ms, ms(30));
  EXPECT_EQ(rule.last_evaluation(), T(60)) << "lastEvaluation is the slot";
}

TEST(RecordingRule, SameLabelsAfterRenamingIsAnErrorAndWritesNothing) {
  RuleGroup g = build(group({}, {recording("r")}));
  RecordingRule& rule = g.recording_rules()[0];
  ASSERT_TRUE(rule.evaluate(ok({series("a", 1)}), T(0)).ok);
  rule.take_samples();
  // Two series that differ only by their name are one series once renamed.
  EvaluationResult r = rule.evaluate(ok({series("a", 1, "x"), series("a", 2, "y")}), T(60));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "vector contains metrics with the same labelset after applying rule labels");
  EXPECT_EQ(rule.health(), RuleHealth::Err);
  EXPECT_EQ(rule.last_error(), r.error);
  EXPECT_TRUE(rule.take_samples().empty()) << "nothing written, and no stale marker for job=a";
  // The next good round still knows what was written before the error.
  ASSERT_TRUE(rule.evaluate(ok({}), T(120)).ok);
  EXPECT_EQ(show(rule.take_samples()), std::vector<std::string>{R"({__name__="r", job="a"} stale)" + at(120)});
}

TEST(RecordingRule, FailedQueryWritesNothingAndMarksNothingStale) {
  RuleGroup g = build(group({}, {recording("r")}));
  RecordingRule& rule = g.recording_rules()[0];
  rule.evaluate(ok({series("a", 1), series("b", 2)}), T(0));
  rule.take_samples();
  EvaluationResult r = rule.evaluate(failed("server returned HTTP status 503 Service Unavailable"), T(60));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(rule.health(), RuleHealth::Err);
  EXPECT_EQ(rule.last_error(), "server returned HTTP status 503 Service Unavailable");
  EXPECT_TRUE(rule.take_samples().empty());
  EXPECT_EQ(rule.written_series().size(), 2u);
  rule.evaluate(ok({series("a", 3)}), T(120));
  EXPECT_EQ(rule.health(), RuleHealth::Ok);
  EXPECT_TRUE(rule.last_error().empty());
  EXPECT_EQ(show(rule.take_samples()),
            (std::vector<std::string>{R"({__name__="r", job="a"} 3)" + at(120), R"({__name__="r", job="b"} stale)" + at(120)}));
}

TEST(RecordingRule, VanishedSeriesGetTheStaleMarkerOnce) {
  RuleGroup g = build(group({}, {recording("r")}));
  RecordingRule& rule = g.recording_rules()[0];
  rule.evaluate(ok({series("a", 1), series("b", 2)}), T(0));
  EXPECT_EQ(rule.take_samples().size(), 2u);
  rule.evaluate(ok({series("b", 4)}), T(60));
  const std::vector<WriteSample> second = rule.take_samples();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[1].labels, (Labels{{"__name__", "r"}, {"job", "a"}}));
  EXPECT_TRUE(is_stale_marker(second[1].value));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(second[1].value), 0x7ff0000000000002ull);
  rule.evaluate(ok({series("b", 5)}), T(120));
  EXPECT_EQ(show(rule.take_samples()), std::vector<std::string>{R"({__name__="r", job="b"} 5)" + at(120)});
}

TEST(RecordingRule, GroupLimitCountsSeries) {
  RuleGroup g = build(group({}, {recording("r")}, {}, 0ms, 1));
  RecordingRule& rule = g.recording_rules()[0];
  EvaluationResult r = rule.evaluate(ok({series("a", 1), series("b", 2)}), T(0));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "exceeded limit of 1 with 2 series");
  EXPECT_TRUE(rule.take_samples().empty());
}

TEST(RoundOutput, AlertsAndAlertsForStateAsPrometheusWritesThem) {
  RuleGroup g = build(group({alerting("HighErrors", 2min, 20)}, {recording("job:errors", {}, 10)}));
  ASSERT_EQ(g.rule_order().size(), 2u);
  EXPECT_EQ(g.rule_order()[0].kind, RuleKind::Recording) << "file order: the recording rule is on line 10";
  AlertingRule& alert = g.rules()[0];
  RecordingRule& rec = g.recording_rules()[0];

  rec.evaluate(ok({series("api", 3)}), T(0));
  alert.evaluate(ok({series("api", 3)}), T(0));
  EXPECT_EQ(show(g.take_round_output(T(0), true).samples),
            (std::vector<std::string>{
                R"({__name__="job:errors", job="api"} 3)" + at(0),
                R"({__name__="ALERTS", alertname="HighErrors", alertstate="pending", job="api", severity="page"} 1)" + at(0),
                R"({__name__="ALERTS_FOR_STATE", alertname="HighErrors", job="api", severity="page"} )" +
                    std::to_string(kBase) + at(0)}));

  // Firing two minutes later: the pending series ends with a stale marker, activeAt stays.
  rec.evaluate(ok({series("api", 4)}), T(120));
  alert.evaluate(ok({series("api", 4)}), T(120));
  EXPECT_EQ(show(g.take_round_output(T(120), true).samples),
            (std::vector<std::string>{
                R"({__name__="job:errors", job="api"} 4)" + at(120),
                R"({__name__="ALERTS", alertname="HighErrors", alertstate="firing", job="api", severity="page"} 1)" + at(120),
                R"({__name__="ALERTS_FOR_STATE", alertname="HighErrors", job="api", severity="page"} )" +
                    std::to_string(kBase) + at(120),
                R"({__name__="ALERTS", alertname="HighErrors", alertstate="pending", job="api", severity="page"} stale)" +
                    at(120)}));

  // A failed query leaves the alert as it was: no ALERTS written and nothing marked stale.
  rec.evaluate(failed("timeout"), T(180));
  alert.evaluate(failed("timeout"), T(180));
  EXPECT_TRUE(g.take_round_output(T(180), true).samples.empty());

  // Resolved: both series end.
  rec.evaluate(ok({}), T(240));
  alert.evaluate(ok({}), T(240));
  EXPECT_EQ(show(g.take_round_output(T(240), true).samples),
            (std::vector<std::string>{
                R"({__name__="job:errors", job="api"} stale)" + at(240),
                R"({__name__="ALERTS", alertname="HighErrors", alertstate="firing", job="api", severity="page"} stale)" + at(240),
                R"({__name__="ALERTS_FOR_STATE", alertname="HighErrors", job="api", severity="page"} stale)" + at(240)}));
}

TEST(RoundOutput, NoAlertSeriesWithoutRemoteWriteAndNothingFromRulesNotEvaluatedThisRound) {
  RuleGroup g = build(group({alerting("A", 0ms, 20)}, {recording("r", {}, 10)}));
  g.rules()[0].evaluate(ok({series("api", 3)}), T(0));
  g.recording_rules()[0].evaluate(ok({series("api", 3)}), T(0));
  EXPECT_EQ(g.take_round_output(T(0), false).samples.size(), 1u) << "only the recording rule's sample";
  EXPECT_TRUE(g.take_round_output(T(60), true).samples.empty()) << "no rule was evaluated at 60";
}

TEST(RoundOutput, ActiveAtIsWholeSecondsAndExternalLabelsAreAdded) {
  RuleGroup g = build(group({alerting("A", 0ms, 20)}, {}), RuleContext{Labels{{"cluster", "c1"}}, "", nullptr});
  const TimePoint slot = T(0) + 750ms;
  g.rules()[0].evaluate(ok({series("api", 3)}), slot);
  const auto out = g.take_round_output(slot, true).samples;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].labels.get("cluster"), "c1");
  EXPECT_EQ(out[0].labels.get("alertstate"), "firing") << "for = 0 fires at once";
  EXPECT_EQ(out[1].value, static_cast<double>(kBase));
  EXPECT_EQ(out[1].timestamp_ms, ms(0) + 750);
}

TEST(RoundOutput, HeartbeatAlertsAreWrittenToo) {
  RuleGroupConfig config = group({}, {});
  HeartbeatRuleConfig hb;
  hb.name = "InstanceDown";
  hb.expr = "up";
  hb.by = {"instance"};
  hb.for_duration = 0ms;
  hb.expected = {Labels{{"instance", "a:1"}}};
  config.heartbeats.push_back(hb);
  RuleGroup g = build(config);
  g.heartbeats()[0].evaluate(ok({}), T(0));
  const auto out = show(g.take_round_output(T(0), true).samples);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], R"({__name__="ALERTS", alertname="InstanceDown", alertstate="firing", instance="a:1"} 1)" + at(0));
}

TEST(RoundOutput, ReloadCarriesWrittenSeriesOverAndRemovedRulesEnd) {
  RuleGroup old = build(group({alerting("A", 0ms, 20)}, {recording("kept", {}, 10), recording("removed", {}, 30)}));
  old.recording_rules()[0].evaluate(ok({series("api", 1)}), T(0));
  old.recording_rules()[1].evaluate(ok({series("api", 1)}), T(0));
  old.rules()[0].evaluate(ok({series("api", 1)}), T(0));
  EXPECT_EQ(old.take_round_output(T(0), true).samples.size(), 4u);

  // The alerting rule goes, "kept" stays (now after a new alerting rule), "removed" goes.
  RuleGroup next = build(group({alerting("B", 0ms, 5)}, {recording("kept", {}, 10)}));
  next.take_state_from(old);
  EXPECT_EQ(next.recording_rules()[0].last_evaluation(), T(0));
  EXPECT_EQ(next.recording_rules()[0].health(), RuleHealth::Ok);
  EXPECT_EQ(show(old.release_series(T(30))),
            (std::vector<std::string>{
                R"({__name__="ALERTS", alertname="A", alertstate="firing", job="api", severity="page"} stale)" + at(30),
                R"({__name__="ALERTS_FOR_STATE", alertname="A", job="api", severity="page"} stale)" + at(30),
                R"({__name__="removed", job="api"} stale)" + at(30)}))
      << "rule by rule in file order";
  EXPECT_TRUE(old.release_series(T(40)).empty()) << "released once";

  next.recording_rules()[0].evaluate(ok({}), T(60));
  next.rules()[0].evaluate(ok({}), T(60));
  EXPECT_EQ(show(next.take_round_output(T(60), true).samples),
            std::vector<std::string>{R"({__name__="kept", job="api"} stale)" + at(60)})
      << "the kept rule remembers what it wrote before the reload";
}

TEST(AlertSeries, OnlyPendingAndFiringAlerts) {
  Alert resolved;
  resolved.labels = Labels{{"alertname", "A"}, {"x", "1"}};
  resolved.state = AlertState::Inactive;
  resolved.resolved_at = T(0);
  Alert pending;
  pending.labels = Labels{{"alertname", "A"}, {"x", "2"}};
  pending.state = AlertState::Pending;
  pending.active_at = T(-30) + 999ms;
  const auto out = show(alert_series({resolved, pending}, ms(0), {}));
  EXPECT_EQ(out, (std::vector<std::string>{R"({__name__="ALERTS", alertname="A", alertstate="pending", x="2"} 1)" + at(0),
                                           R"({__name__="ALERTS_FOR_STATE", alertname="A", x="2"} )" +
                                               std::to_string(kBase - 30) + at(0)}));
}

}  // namespace
