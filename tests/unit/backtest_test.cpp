// `promwatch backtest`'s engine: a fixed sequence of query results at the group's slots goes
// through the real rule and the real dispatcher on a virtual clock; the report's transitions,
// notifications (group_wait, group_interval, repeat_interval, static silences), summary and
// its text, JSON and HTML forms are checked against Prometheus / Alertmanager semantics.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "promwatch/app.hpp"
#include "promwatch/backtest.hpp"
#include "promwatch/timeline.hpp"
#include "support/process.hpp"

using namespace promwatch;
using namespace std::chrono_literals;

namespace {

// The range starts at a whole hour; the group's slots fall at its own offset after it.
const TimePoint kFrom = TimePoint(std::chrono::seconds(1'800'000'000 - 1'800'000'000 % 3600));

std::string config_text(const std::string& route, const std::string& extra = "") {
  return R"([global]
rule_files = ["rules.toml"]
external_labels = { cluster = "prod" }

[datasource]
url = "http://127.0.0.1:1"

[[receivers]]
name = "team"
type = "webhook"
url = "http://127.0.0.1:1/hook"

)" + route + extra;
}

constexpr const char* kRoute = R"([route]
receiver = "team"
group_by = ["alertname"]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "1h"
)";

constexpr const char* kRules = R"([[groups]]
name = "node"
interval = "1m"

[[groups.rules]]
alert = "HighLoad"
expr = 'node_load1 > 4'
for = "2m"
labels = { severity = "warning" }
)";

struct Loaded {
  promwatch::test::TempDir dir;
  CompiledConfig compiled;
};

std::unique_ptr<Loaded> load(const std::string& config, const std::string& rules = kRules) {
  auto loaded = std::make_unique<Loaded>();
  loaded->dir.write("rules.toml", rules);
  auto path = loaded->dir.write("promwatch.toml", config);
  CompileResult result = compile_config(path.string());
  for (const auto& e : result.errors) ADD_FAILURE() << e.to_string();
  EXPECT_TRUE(result.compiled.has_value());
  loaded->compiled = std::move(*result.compiled);
  return loaded;
}

QueryOutcome high(double value = 7) {
  QueryOutcome o;
  o.ok = true;
  o.result.samples.push_back(Sample{Labels{{"instance", "web1"}, {"job", "node"}}, value});
  return o;
}

QueryOutcome absent() {
  QueryOutcome o;
  o.ok = true;
  return o;
}

// Runs the backtest over [kFrom, kFrom + minutes) with outcome(i) at the i-th slot.
BacktestReport run(const CompiledConfig& compiled, int minutes, const std::function<QueryOutcome(std::size_t)>& outcome,
                   std::vector<TimePoint>* slots_out = nullptr) {
  const RuleGroup& group = compiled.groups.at(0);
  const TimePoint to = kFrom + std::chrono::minutes(minutes);
  std::vector<TimePoint> slots = backtest_slots(group, kFrom, to);
  Backtest bt(compiled.config, group, {&group.rules().at(0)}, kFrom, to);
  for (std::size_t i = 0; i < slots.size(); ++i) bt.evaluate(slots[i], {outcome(i)});
  if (slots_out) *slots_out = slots;
  return bt.finish();
}

// high at slots [0, 10) and [15, 21), absent otherwise.
QueryOutcome wave(std::size_t i) { return (i < 10 || (i >= 15 && i <= 20)) ? high() : absent(); }

}  // namespace

TEST(BacktestSlots, FollowTheGroupScheduleInsideTheRange) {
  auto loaded = load(config_text(kRoute));
  const RuleGroup& group = loaded->compiled.groups.at(0);
  auto slots = backtest_slots(group, kFrom, kFrom + 10min);
  ASSERT_FALSE(slots.empty());
  EXPECT_GE(slots.front(), kFrom);
  EXPECT_LT(slots.front(), kFrom + 1min);
  EXPECT_EQ(slots.front(), group.slot_at_or_before(kFrom + 1min - 1ms));
  for (std::size_t i = 1; i < slots.size(); ++i) EXPECT_EQ(slots[i] - slots[i - 1], 1min);
  EXPECT_LE(slots.back(), kFrom + 10min);
  EXPECT_GT(slots.back() + 1min, kFrom + 10min);
  // A slot exactly at `from` is included.
  auto from_slot = backtest_slots(group, slots[3], slots[5]);
  ASSERT_EQ(from_slot.size(), 3u);
  EXPECT_EQ(from_slot.front(), slots[3]);
  EXPECT_TRUE(backtest_slots(group, kFrom + 1min, kFrom).empty());
}

TEST(BacktestChunks, StayUnderThePointLimitAndCoverEverySlotOnce) {
  std::vector<TimePoint> slots;
  for (int i = 0; i < 25; ++i) slots.push_back(kFrom + std::chrono::minutes(i));
  auto chunks = backtest_chunks(slots, 30s, 10);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].start, kFrom - 30s);
  EXPECT_EQ(chunks[0].end, kFrom + 9min - 30s);
  EXPECT_EQ(chunks[1].start, kFrom + 10min - 30s);
  EXPECT_EQ(chunks[2].start, kFrom + 20min - 30s);
  EXPECT_EQ(chunks[2].end, kFrom + 24min - 30s);
  // Prometheus's limit: (end - start) / step must not exceed 11,000.
  std::vector<TimePoint> many;
  for (int i = 0; i < 30'000; ++i) many.push_back(kFrom + std::chrono::seconds(i));
  auto big = backtest_chunks(many, 0s);
  ASSERT_EQ(big.size(), 3u);
  for (const auto& c : big) EXPECT_LE((c.end - c.start) / 1s, 11'000);
  EXPECT_EQ(big.back().end, many.back());
}

TEST(BacktestRule, FindsNamesWithSlashesAndGroupQualifiedNames) {
  auto loaded = load(config_text(kRoute), R"([[groups]]
name = "a"
[[groups.rules]]
alert = "Disk/Full"
expr = "1"
[[groups.rules]]
alert = "Twice"
expr = "1"
[[groups.rules]]
alert = "Twice"
expr = "2"

[[groups]]
name = "b/c"
[[groups.rules]]
alert = "Twice"
expr = "3"
[[groups.rules]]
alert = "Other"
expr = "4"

[[groups.heartbeats]]
name = "Gone"
expr = "up"
by = ["instance"]
)");
  const auto& groups = loaded->compiled.groups;
  std::string error;
  auto t = find_backtest_rule(groups, "Disk/Full", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->group, 0u);
  EXPECT_EQ(t->rules, std::vector<std::size_t>{0});
  // In two groups: ambiguous alone, found with its group (whose name has a slash too).
  EXPECT_FALSE(find_backtest_rule(groups, "Twice", &error));
  EXPECT_NE(error.find("several groups (a, b/c)"), std::string::npos) << error;
  t = find_backtest_rule(groups, "b/c/Twice", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->group, 1u);
  // Both rules of that name in group a.
  t = find_backtest_rule(groups, "a/Twice", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->rules, (std::vector<std::size_t>{1, 2}));
  EXPECT_FALSE(find_backtest_rule(groups, "a/Other", &error));
  EXPECT_NE(error.find("no alerting rule \"a/Other\""), std::string::npos) << error;
  EXPECT_FALSE(find_backtest_rule(groups, "Gone", &error));
  EXPECT_NE(error.find("heartbeat rule"), std::string::npos) << error;
}

TEST(Backtest, StatesAndNotificationsOnTheVirtualClock) {
  auto loaded = load(config_text(kRoute));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 20, wave, &s);
  ASSERT_GE(s.size(), 20u);
  EXPECT_EQ(r.rule, "HighLoad");
  EXPECT_EQ(r.group, "node");
  EXPECT_EQ(r.step, 1min);
  EXPECT_EQ(r.evaluations, s.size());
  EXPECT_EQ(r.failed_evaluations, 0u);

  ASSERT_EQ(r.alerts.size(), 1u);
  const BacktestAlert& a = r.alerts[0];
  EXPECT_EQ(a.labels.to_string(), R"({alertname="HighLoad", instance="web1", job="node", severity="warning"})");
  ASSERT_EQ(a.transitions.size(), 5u);
  // for = 2m: pending at the first high slot, firing two slots later; resolved at the first
  // absent slot; again pending and firing.
  EXPECT_EQ(a.transitions[0].at, s[0]);
  EXPECT_EQ(a.transitions[0].state, BacktestState::Pending);
  EXPECT_EQ(a.transitions[1].at, s[2]);
  EXPECT_EQ(a.transitions[1].state, BacktestState::Firing);
  EXPECT_EQ(a.transitions[2].at, s[10]);
  EXPECT_EQ(a.transitions[2].state, BacktestState::Inactive);
  EXPECT_TRUE(a.transitions[2].resolved);
  EXPECT_EQ(a.transitions[3].at, s[15]);
  EXPECT_EQ(a.transitions[3].state, BacktestState::Pending);
  EXPECT_EQ(a.transitions[4].at, s[17]);
  EXPECT_EQ(a.transitions[4].state, BacktestState::Firing);

  // group_wait 30s after firing; the flush at +5m changes nothing (no repeat within 1h); the
  // resolution goes out at the next group_interval flush; the new firing starts a new group.
  ASSERT_EQ(r.notifications.size(), 3u);
  EXPECT_EQ(r.notifications[0].at, s[2] + 30s);
  EXPECT_FALSE(r.notifications[0].resolved);
  EXPECT_EQ(r.notifications[0].receiver, "team");
  EXPECT_EQ(r.notifications[0].group_labels.to_string(), R"({alertname="HighLoad"})");
  ASSERT_EQ(r.notifications[0].alerts.size(), 1u);
  // Receivers get the external labels.
  EXPECT_EQ(r.notifications[0].alerts[0].labels.get("cluster"), "prod");
  EXPECT_EQ(r.notifications[1].at, s[2] + 30s + 10min);
  EXPECT_TRUE(r.notifications[1].resolved);
  ASSERT_EQ(r.notifications[1].alerts.size(), 1u);
  EXPECT_TRUE(r.notifications[1].alerts[0].resolved);
  EXPECT_EQ(r.notifications[2].at, s[17] + 30s);
  EXPECT_FALSE(r.notifications[2].resolved);

  // Firing from slot 2 to 10, then from slot 17 to the end of the range.
  EXPECT_EQ(r.firing, (s[10] - s[2]) + (kFrom + 20min - s[17]));
}

TEST(Backtest, RepeatIntervalResendsAStillFiringAlert) {
  auto loaded = load(config_text(R"([route]
receiver = "team"
group_by = ["alertname"]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "10m"
)"));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 30, [](std::size_t) { return high(); }, &s);
  // Flushes every 5m after the first; Alertmanager resends when the last one is older than
  // repeat_interval (strictly): at +15m and +30m... of which +15m fits in 30 minutes.
  ASSERT_EQ(r.notifications.size(), 2u);
  EXPECT_EQ(r.notifications[0].at, s[2] + 30s);
  EXPECT_EQ(r.notifications[1].at, s[2] + 30s + 15min);
  EXPECT_FALSE(r.notifications[1].resolved);
}

TEST(Backtest, StaticSilenceMutesTheNotificationNotTheState) {
  auto loaded = load(config_text(kRoute, R"(
[[silences]]
matchers = ['alertname="HighLoad"']
starts_at = ")" + format_rfc3339(kFrom) + R"("
ends_at = ")" + format_rfc3339(kFrom + 12min) + R"("
comment = "maintenance"
)"));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 20, wave, &s);
  ASSERT_EQ(r.alerts.size(), 1u);
  EXPECT_EQ(r.alerts[0].transitions.size(), 5u);  // evaluation is not muted
  // The first firing falls in the silence; its resolution, after the silence, is not sent
  // either, as nothing was sent for it (Alertmanager's log has no entry): only the second
  // firing goes out.
  ASSERT_EQ(r.notifications.size(), 1u) << render_backtest_text(r);
  EXPECT_EQ(r.notifications[0].at, s[17] + 30s);
}

TEST(Backtest, FailedEvaluationsLeaveStateAndAreCounted) {
  auto loaded = load(config_text(kRoute));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 10, [](std::size_t i) {
    if (i == 1 || i == 2) {
      QueryOutcome o;
      o.error = "server returned HTTP status 503 Service Unavailable";
      return o;
    }
    return high();
  }, &s);
  EXPECT_EQ(r.failed_evaluations, 2u);
  EXPECT_NE(r.first_error.find(format_rfc3339(s[1]) + ": server returned HTTP status 503"), std::string::npos)
      << r.first_error;
  ASSERT_EQ(r.alerts.size(), 1u);
  ASSERT_EQ(r.alerts[0].transitions.size(), 2u);
  // Pending kept over the failures, so `for` counts from the first slot.
  EXPECT_EQ(r.alerts[0].transitions[1].at, s[3]);
  EXPECT_EQ(r.alerts[0].transitions[1].state, BacktestState::Firing);
}

TEST(Backtest, WithoutARouteNothingIsNotified) {
  auto loaded = load(config_text(""));
  BacktestReport r = run(loaded->compiled, 10, [](std::size_t) { return high(); });
  EXPECT_FALSE(r.routed);
  EXPECT_TRUE(r.notifications.empty());
  EXPECT_EQ(r.alerts.size(), 1u);
  EXPECT_NE(render_backtest_text(r).find("the configuration has no [route]"), std::string::npos);
}

TEST(BacktestOutput, JsonHasTheSpecShape) {
  auto loaded = load(config_text(kRoute));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 20, wave, &s);
  auto j = nlohmann::ordered_json::parse(render_backtest_json(r));
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"rule", "group", "from", "to", "step", "alerts", "notifications", "summary"}));
  EXPECT_EQ(j["rule"], "HighLoad");
  EXPECT_EQ(j["group"], "node");
  EXPECT_EQ(j["from"], format_rfc3339(kFrom));
  EXPECT_EQ(j["to"], format_rfc3339(kFrom + 20min));
  EXPECT_EQ(j["step"], 60);
  ASSERT_EQ(j["alerts"].size(), 1u);
  EXPECT_EQ(j["alerts"][0]["labels"]["instance"], "web1");
  EXPECT_FALSE(j["alerts"][0]["labels"].contains("cluster"));
  const auto& tr = j["alerts"][0]["transitions"];
  ASSERT_EQ(tr.size(), 5u);
  EXPECT_EQ(tr[0]["at"], format_rfc3339(s[0]));
  EXPECT_EQ(tr[0]["state"], "pending");
  EXPECT_EQ(tr[1]["state"], "firing");
  EXPECT_EQ(tr[2]["state"], "inactive");
  EXPECT_EQ(tr[2]["at"], format_rfc3339(s[10]));
  ASSERT_EQ(j["notifications"].size(), 3u);
  const auto& n = j["notifications"][1];
  keys.clear();
  for (const auto& [k, v] : n.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"at", "receiver", "status", "alerts"}));
  EXPECT_EQ(n["at"], format_rfc3339(s[2] + 30s + 10min));
  EXPECT_EQ(n["receiver"], "team");
  EXPECT_EQ(n["status"], "resolved");
  EXPECT_EQ(n["alerts"][0]["labels"]["cluster"], "prod");
  EXPECT_EQ(j["summary"]["notifications"], 3);
  // The group's slots are at a millisecond offset: the firing time has a fraction.
  EXPECT_DOUBLE_EQ(j["summary"]["firing_seconds"].get<double>(), to_seconds(r.firing));
}

TEST(BacktestOutput, TextIsATimelineThenNotificationsThenASummary) {
  auto loaded = load(config_text(kRoute));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 20, wave, &s);
  std::string text = render_backtest_text(r);
  auto at = [&](const std::string& needle) {
    auto p = text.find(needle);
    EXPECT_NE(p, std::string::npos) << needle << "\n" << text;
    return p;
  };
  auto pending = at(format_rfc3339(s[0]) + "  pending");
  auto firing = at(format_rfc3339(s[2]) + "  firing");
  auto resolved = at(format_rfc3339(s[10]) + "  inactive (resolved)");
  auto notifications = at("notifications (3):");
  auto first = at(format_rfc3339(s[2] + 30s) + "  team  firing  group {alertname=\"HighLoad\"}");
  auto summary = at("summary: 3 notifications, " + nlohmann::json(to_seconds(r.firing)).dump() + " s firing (" +
                    format_duration(r.firing) + ")");
  EXPECT_LT(pending, firing);
  EXPECT_LT(firing, resolved);
  EXPECT_LT(resolved, notifications);
  EXPECT_LT(notifications, first);
  EXPECT_LT(first, summary);
  at("expr: node_load1 > 4");
}

TEST(BacktestOutput, HtmlIsSelfContainedWithBandsMarksAndEscapedText) {
  auto loaded = load(config_text(kRoute));
  std::vector<TimePoint> s;
  BacktestReport r = run(loaded->compiled, 20, wave, &s);
  BacktestSeries series;
  series.labels = Labels{{"instance", "<b>web1</b>"}};
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (wave(i).result.samples.empty()) continue;
    series.points.emplace_back(s[i], 7.0);
  }
  std::string html = render_backtest_html(r, {series});
  EXPECT_NE(html.find("<meta name=\"viewport\""), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>web1</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;web1&lt;/b&gt;"), std::string::npos);
  // Two pending and two firing bands, three notification marks, two polylines (the gap).
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto p = html.find(needle); p != std::string::npos; p = html.find(needle, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<rect class=\"tl-pending\""), 2u);
  EXPECT_EQ(count("<rect class=\"tl-firing\""), 2u);
  EXPECT_EQ(count("<line class=\"tl-mark "), 3u);
  EXPECT_EQ(count("<line class=\"tl-mark resolved\""), 1u);
  EXPECT_EQ(count("<polyline "), 2u);
  EXPECT_NE(html.find("team resolved"), std::string::npos);
}

TEST(Timeline, ScalesSpansToTheRangeAndSplitsLinesAtGaps) {
  Timeline tl;
  tl.from = kFrom;
  tl.to = kFrom + 100s;
  tl.step = 10s;
  tl.lines.push_back(TimelineLine{"a", {{kFrom, 1}, {kFrom + 10s, 2}, {kFrom + 50s, 3}, {kFrom + 60s, NAN}, {kFrom + 70s, 4}}});
  tl.lanes.push_back(TimelineLane{"x", {{kFrom + 20s, kFrom + 30s, TimelineState::Pending},
                                        {kFrom + 30s, kFrom + 200s, TimelineState::Firing}}});
  tl.marks.push_back(TimelineMark{kFrom + 50s, "team firing", false});
  std::string html = render_timeline(tl);
  EXPECT_NE(html.find("<rect class=\"tl-pending\" x=\"200\" y=\"0\" width=\"100\""), std::string::npos) << html;
  // Clipped at the range's end.
  EXPECT_NE(html.find("<rect class=\"tl-firing\" x=\"300\" y=\"0\" width=\"700\""), std::string::npos) << html;
  EXPECT_NE(html.find("x1=\"500\" x2=\"500\""), std::string::npos);
  // [0, 10s] joined, 50s alone (gap before, NaN after), 70s alone: three polylines.
  std::size_t n = 0;
  for (auto p = html.find("<polyline "); p != std::string::npos; p = html.find("<polyline ", p + 1)) ++n;
  EXPECT_EQ(n, 3u);
  EXPECT_NE(html.find("<title>team firing</title>"), std::string::npos);
  EXPECT_NE(render_timeline(Timeline{}).find("empty time range"), std::string::npos);
}

// ---- with hysteresis and flap detection (the state machine's, driven by the backtest) ----

namespace {

BacktestReport run_with_keep(const CompiledConfig& compiled, int minutes,
                             const std::function<QueryOutcome(std::size_t)>& outcome,
                             const std::function<QueryOutcome(std::size_t)>& keep, std::vector<TimePoint>* slots_out) {
  const RuleGroup& group = compiled.groups.at(0);
  const TimePoint to = kFrom + std::chrono::minutes(minutes);
  std::vector<TimePoint> slots = backtest_slots(group, kFrom, to);
  Backtest bt(compiled.config, group, {&group.rules().at(0)}, kFrom, to);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    std::vector<QueryOutcome> keep_firing{keep(i)};
    bt.evaluate(slots[i], {outcome(i)}, &keep_firing);
  }
  *slots_out = slots;
  return bt.finish();
}

}  // namespace

TEST(Backtest, KeepFiringExprHoldsTheAlertUntilItLeavesThatResultToo) {
  auto loaded = load(config_text(kRoute), R"([[groups]]
name = "node"
interval = "1m"

[[groups.rules]]
alert = "HighLoad"
expr = 'node_load1 > 4'
keep_firing_expr = 'node_load1 > 2'
)");
  std::vector<TimePoint> s;
  // expr true at [0, 5); keep_firing_expr true at [0, 8).
  BacktestReport r = run_with_keep(
      loaded->compiled, 12, [](std::size_t i) { return i < 5 ? high() : absent(); },
      [](std::size_t i) { return i < 8 ? high(3) : absent(); }, &s);
  ASSERT_EQ(r.alerts.size(), 1u);
  const auto& t = r.alerts[0].transitions;
  ASSERT_EQ(t.size(), 2u) << render_backtest_text(r);
  EXPECT_EQ(t[0].state, BacktestState::Firing);
  EXPECT_EQ(t[0].at, s[0]);
  EXPECT_EQ(t[1].state, BacktestState::Inactive);
  EXPECT_EQ(t[1].at, s[8]);  // not s[5]: held by keep_firing_expr
  EXPECT_EQ(r.firing, s[8] - s[0]);
}

TEST(Backtest, FlappingIsReportedAndMutesTheNotificationsInBetween) {
  auto loaded = load(config_text(R"([route]
receiver = "team"
group_by = ["alertname"]
group_wait = "0s"
group_interval = "1m"
repeat_interval = "1h"
)"), R"([[groups]]
name = "node"
interval = "1m"

[[groups.rules]]
alert = "HighLoad"
expr = 'node_load1 > 4'
flap_window = "10m"
flap_threshold = 4
)");
  std::vector<TimePoint> s;
  // On and off every minute for 10 minutes, then on for good.
  BacktestReport r = run(loaded->compiled, 30, [](std::size_t i) { return i >= 10 || i % 2 == 0 ? high() : absent(); }, &s);
  ASSERT_EQ(r.alerts.size(), 1u);
  const auto& t = r.alerts[0].transitions;
  std::size_t flapping = 0;
  std::size_t ended = 0;
  for (const auto& x : t) {
    flapping += x.state == BacktestState::Flapping ? 1 : 0;
    ended += x.flap_end ? 1 : 0;
  }
  EXPECT_EQ(flapping, 1u) << render_backtest_text(r);
  EXPECT_EQ(ended, 1u) << render_backtest_text(r);
  // Without flap detection every change would be a message (11 changes); here: the first
  // firing, its resolution, the next firing, the flapping notice, and the end of flapping.
  EXPECT_EQ(r.notifications.size(), 5u) << render_backtest_text(r);
  EXPECT_FALSE(r.notifications.back().resolved) << render_backtest_text(r);
  auto j = nlohmann::json::parse(render_backtest_json(r));
  bool listed = false;
  for (const auto& x : j["alerts"][0]["transitions"]) listed = listed || x["state"] == "flapping";
  EXPECT_TRUE(listed);
  std::string html = render_backtest_html(r, {});
  EXPECT_NE(html.find("<rect class=\"tl-flapping\""), std::string::npos);
}
