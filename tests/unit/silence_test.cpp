// Unit tests for the silence component: inhibition, silences, the Alertmanager v2 API bodies,
// time zones and time intervals, route muting, MuteState.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "promwatch/silence.hpp"

namespace promwatch {
namespace {

using namespace std::chrono_literals;

TimePoint T(const char* rfc3339) {
  auto t = parse_time(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(TimePoint{});
}

Matcher M(const char* text) {
  std::string error;
  auto m = Matcher::parse(text, &error);
  EXPECT_TRUE(m.has_value()) << text << ": " << error;
  return *m;
}

InhibitRuleConfig rule(std::vector<Matcher> source, std::vector<Matcher> target, std::vector<std::string> equal) {
  InhibitRuleConfig r;
  r.source_matchers = std::move(source);
  r.target_matchers = std::move(target);
  r.equal = std::move(equal);
  return r;
}

const TimePoint kNow = T("2026-11-24T10:00:00Z");

// ------------------------------------------------------------------------------------------------
// Inhibition
// ------------------------------------------------------------------------------------------------

TEST(Inhibitor, EqualLabelsMustMatch) {
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"})});
  ih.observe(Labels{{"alertname", "NodeDown"}, {"severity", "critical"}, {"instance", "a"}});
  EXPECT_TRUE(ih.inhibited(Labels{{"alertname", "HighCPU"}, {"severity", "warning"}, {"instance", "a"}}, kNow));
  EXPECT_FALSE(ih.inhibited(Labels{{"alertname", "HighCPU"}, {"severity", "warning"}, {"instance", "b"}}, kNow));
  // The target side must match.
  EXPECT_FALSE(ih.inhibited(Labels{{"alertname", "HighCPU"}, {"severity", "info"}, {"instance", "a"}}, kNow));
  auto by = ih.inhibited_by(Labels{{"severity", "warning"}, {"instance", "a"}}, kNow);
  ASSERT_TRUE(by.has_value());
  EXPECT_EQ(*by, (Labels{{"alertname", "NodeDown"}, {"severity", "critical"}, {"instance", "a"}}.fingerprint()));
}

TEST(Inhibitor, ResolvedSourceMovesWithAClockStep) {
  using namespace std::chrono_literals;
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {})});
  ih.observe(Labels{{"alertname", "NodeDown"}, {"severity", "critical"}}, kNow);  // resolved at kNow
  ih.observe(Labels{{"alertname", "DiskDown"}, {"severity", "critical"}});        // firing
  Labels target{{"alertname", "HighCPU"}, {"severity", "warning"}};
  // The clock steps back an hour, 1 s after the resolve: the resolved source must not inhibit
  // for another hour; the firing one still inhibits.
  ih.shift_clock(-1h);
  ih.gc(kNow - 1h + 1s);
  EXPECT_EQ(ih.size(), 1u);
  EXPECT_EQ(ih.inhibited_by(target, kNow - 1h + 1s),
            (Labels{{"alertname", "DiskDown"}, {"severity", "critical"}}.fingerprint()));
}

TEST(Inhibitor, MissingLabelEqualsEmpty) {
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"zone", "instance"})});
  ih.observe(Labels{{"severity", "critical"}, {"instance", "a"}});  // no zone
  EXPECT_TRUE(ih.inhibited(Labels{{"severity", "warning"}, {"instance", "a"}}, kNow));
  EXPECT_FALSE(ih.inhibited(Labels{{"severity", "warning"}, {"instance", "a"}, {"zone", "z1"}}, kNow));
  ih.observe(Labels{{"severity", "critical"}, {"zone", "z1"}});  // no instance
  EXPECT_TRUE(ih.inhibited(Labels{{"severity", "warning"}, {"zone", "z1"}}, kNow));
  EXPECT_FALSE(ih.inhibited(Labels{{"severity", "warning"}, {"zone", "z1"}, {"instance", "a"}}, kNow));
}

TEST(Inhibitor, NoEqualLabelsMeansAnySource) {
  Inhibitor ih({rule({M("alertname=\"DatacenterDown\"")}, {M("alertname!=\"DatacenterDown\"")}, {})});
  EXPECT_FALSE(ih.inhibited(Labels{{"alertname", "X"}}, kNow));
  ih.observe(Labels{{"alertname", "DatacenterDown"}});
  EXPECT_TRUE(ih.inhibited(Labels{{"alertname", "X"}}, kNow));
  EXPECT_FALSE(ih.inhibited(Labels{{"alertname", "DatacenterDown"}}, kNow));
}

TEST(Inhibitor, NoSelfInhibition) {
  // Source: every NodeDown; target: every warning. One alert matching both sides must not
  // inhibit itself.
  Inhibitor ih({rule({M("alertname=\"NodeDown\"")}, {M("severity=\"warning\"")}, {"instance"})});
  const Labels both{{"alertname", "NodeDown"}, {"severity", "warning"}, {"instance", "a"}};
  ih.observe(both);
  EXPECT_FALSE(ih.inhibited(both, kNow));

  // Another alert matching both sides does not inhibit it either (excludeTwoSidedMatch).
  const Labels both2{{"alertname", "NodeDown"}, {"severity", "warning"}, {"instance", "a"}, {"job", "x"}};
  ih.observe(both2);
  EXPECT_FALSE(ih.inhibited(both, kNow));
  EXPECT_FALSE(ih.inhibited(both2, kNow));

  // A target that is not a source is inhibited by the two-sided alerts.
  const Labels target_only{{"alertname", "HighCPU"}, {"severity", "warning"}, {"instance", "a"}};
  EXPECT_TRUE(ih.inhibited(target_only, kNow));

  // A source-only alert inhibits the two-sided ones.
  ih.observe(Labels{{"alertname", "NodeDown"}, {"severity", "critical"}, {"instance", "a"}});
  EXPECT_TRUE(ih.inhibited(both, kNow));
  EXPECT_TRUE(ih.inhibited(both2, kNow));
}

TEST(Inhibitor, OnlyFiringSourcesInhibit) {
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"})});
  const Labels src{{"severity", "critical"}, {"instance", "a"}};
  const Labels tgt{{"severity", "warning"}, {"instance", "a"}};
  ih.observe(src, kNow - 1min);  // resolved a minute ago
  EXPECT_FALSE(ih.inhibited(tgt, kNow));
  ih.observe(src, kNow + 1min);  // valid until a minute from now
  EXPECT_TRUE(ih.inhibited(tgt, kNow));
  EXPECT_FALSE(ih.inhibited(tgt, kNow + 1min));
  ih.observe(src);  // firing
  EXPECT_TRUE(ih.inhibited(tgt, kNow + 1h));
  ih.forget(src);
  EXPECT_FALSE(ih.inhibited(tgt, kNow));
  EXPECT_EQ(ih.size(), 0u);

  ih.observe(src, kNow - 1s);
  ih.observe(Labels{{"severity", "critical"}, {"instance", "b"}});
  ih.gc(kNow);
  EXPECT_EQ(ih.size(), 1u);
}

TEST(Inhibitor, NoRulesKeepsNothing) {
  Inhibitor ih;
  ih.observe(Labels{{"severity", "critical"}, {"instance", "a"}});
  ih.observe(Labels{{"severity", "warning"}, {"instance", "a"}}, kNow + 1h);
  EXPECT_EQ(ih.size(), 0u);
  EXPECT_EQ(ih.rule_count(), 0u);
  EXPECT_FALSE(ih.inhibited(Labels{{"severity", "warning"}, {"instance", "a"}}, kNow));
}

TEST(Inhibitor, AlertMatchingNoSourceIsNotKept) {
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"}),
                rule({M("alertname=\"DatacenterDown\"")}, {M("severity=\"info\"")}, {})});
  const Labels tgt{{"severity", "warning"}, {"instance", "a"}};
  ih.observe(tgt);                                              // a target only
  ih.observe(Labels{{"severity", "info"}, {"instance", "a"}});  // neither side
  EXPECT_EQ(ih.size(), 0u);
  ih.observe(Labels{{"severity", "critical"}, {"instance", "a"}});  // source of the first rule
  ih.observe(Labels{{"alertname", "DatacenterDown"}});              // source of the second
  EXPECT_EQ(ih.size(), 2u);
  EXPECT_TRUE(ih.inhibited(tgt, kNow));
  EXPECT_TRUE(ih.inhibited(Labels{{"severity", "info"}, {"instance", "a"}}, kNow));
  // Resolving and forgetting a source still work.
  ih.observe(Labels{{"severity", "critical"}, {"instance", "a"}}, kNow - 1s);
  EXPECT_FALSE(ih.inhibited(tgt, kNow));
  ih.gc(kNow);
  EXPECT_EQ(ih.size(), 1u);
  ih.forget(Labels{{"alertname", "DatacenterDown"}});
  EXPECT_EQ(ih.size(), 0u);
}

TEST(Inhibitor, SetRulesKeepsAndReindexesSources) {
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"})});
  ih.observe(Labels{{"severity", "critical"}, {"instance", "a"}});
  // Same sources, another target and equal label: the kept alert is indexed for the new rule.
  ih.set_rules({rule({M("severity=\"critical\"")}, {M("severity=\"info\"")}, {})});
  EXPECT_EQ(ih.size(), 1u);
  EXPECT_FALSE(ih.inhibited(Labels{{"severity", "warning"}, {"instance", "a"}}, kNow));
  EXPECT_TRUE(ih.inhibited(Labels{{"severity", "info"}, {"instance", "b"}}, kNow));
  ih.set_rules({});
  EXPECT_EQ(ih.size(), 0u);
  EXPECT_FALSE(ih.inhibited(Labels{{"severity", "info"}, {"instance", "b"}}, kNow));
}

TEST(Inhibitor, SetRulesDropsOtherAlertsAndReobservedOnesInhibit) {
  const Labels critical{{"severity", "critical"}, {"instance", "a"}};
  const Labels page{{"severity", "page"}, {"instance", "a"}};
  const Labels tgt{{"severity", "warning"}, {"instance", "a"}};
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"})});
  ih.observe(critical);
  ih.observe(page);  // no source matches it yet: not kept
  EXPECT_EQ(ih.size(), 1u);
  EXPECT_TRUE(ih.inhibited(tgt, kNow));

  // A reload: the new rule's sources are the "page" alerts. The critical alert goes; the page
  // alert was never kept, so nothing inhibits until the firing alerts are observed again.
  ih.set_rules({rule({M("severity=\"page\"")}, {M("severity=\"warning\"")}, {"instance"})});
  EXPECT_EQ(ih.size(), 0u);
  EXPECT_FALSE(ih.inhibited(tgt, kNow));
  for (const auto& firing : {critical, page, tgt}) ih.observe(firing);
  EXPECT_EQ(ih.size(), 1u);
  EXPECT_EQ(ih.inhibited_by(tgt, kNow), page.fingerprint());
}

TEST(Inhibitor, ThousandsOfAlertsAreFast) {
  Inhibitor ih({rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"}),
                rule({M("alertname=\"NodeDown\"")}, {M("alertname=~\".+\"")}, {"instance"})});
  for (int i = 0; i < 5000; ++i) {
    ih.observe(Labels{{"alertname", "DiskFull"}, {"severity", i % 2 ? "critical" : "warning"},
                      {"instance", "host" + std::to_string(i / 2)}});
  }
  int inhibited = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5000; ++i) {
    inhibited += ih.inhibited(Labels{{"alertname", "HighCPU"}, {"severity", "warning"},
                                     {"instance", "host" + std::to_string(i)}},
                              kNow);
  }
  EXPECT_EQ(inhibited, 2500);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);  // quadratic would take far longer
}

// ------------------------------------------------------------------------------------------------
// Silences
// ------------------------------------------------------------------------------------------------

SilenceSet::IdGenerator counter_ids() {
  auto n = std::make_shared<int>(0);
  return [n] {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", ++*n);
    return std::string(buf);
  };
}

Silence silence(std::vector<Matcher> matchers, TimePoint starts, TimePoint ends, std::string id = "") {
  Silence s;
  s.id = std::move(id);
  s.matchers = std::move(matchers);
  s.starts_at = starts;
  s.ends_at = ends;
  s.created_by = "me";
  s.comment = "c";
  return s;
}

TEST(Silences, MergeTakesUnknownAndNewerPeerSilencesOnly) {
  SilenceSet set(SilenceLimits{}, counter_ids());
  Silence s = silence({M("instance=\"a\"")}, kNow, kNow + std::chrono::hours(1), "00000000-0000-4000-8000-000000000009");
  s.updated_at = kNow;
  EXPECT_TRUE(set.merge(s, kNow));
  EXPECT_TRUE(set.silenced(Labels{{"instance", "a"}}, kNow + std::chrono::minutes(1)));
  // The same record again, or an older one: nothing changes.
  EXPECT_FALSE(set.merge(s, kNow));
  Silence older = s;
  older.updated_at = kNow - std::chrono::minutes(1);
  older.ends_at = kNow;
  EXPECT_FALSE(set.merge(older, kNow));
  // Expired on the peer later: taken.
  Silence expired = s;
  expired.ends_at = kNow + std::chrono::minutes(2);
  expired.updated_at = kNow + std::chrono::minutes(2);
  EXPECT_TRUE(set.merge(expired, kNow + std::chrono::minutes(2)));
  EXPECT_FALSE(set.silenced(Labels{{"instance", "a"}}, kNow + std::chrono::minutes(3)));
  // Past its retention it would only be garbage-collected again: not taken.
  Silence ancient = silence({M("instance=\"b\"")}, kNow - std::chrono::hours(300), kNow - std::chrono::hours(200),
                            "00000000-0000-4000-8000-000000000010");
  EXPECT_FALSE(set.merge(ancient, kNow));
}

TEST(Silences, MatchingIncludingRegex) {
  Silence s = silence({M("instance=~\"db[0-9]+:9100\""), M("job!=\"blackbox\"")}, kNow, kNow + 1h);
  EXPECT_TRUE(s.matches(Labels{{"instance", "db1:9100"}, {"job", "node"}}));
  EXPECT_TRUE(s.matches(Labels{{"instance", "db12:9100"}}));
  EXPECT_FALSE(s.matches(Labels{{"instance", "xdb1:9100"}}));  // anchored
  EXPECT_FALSE(s.matches(Labels{{"instance", "db1:9100"}, {"job", "blackbox"}}));
}

TEST(Silences, StatesOverTime) {
  Silence s = silence({M("a=\"b\"")}, kNow, kNow + 1h);
  EXPECT_EQ(s.state(kNow - 1ms), SilenceState::Pending);
  EXPECT_EQ(s.state(kNow), SilenceState::Active);
  EXPECT_EQ(s.state(kNow + 1h - 1ms), SilenceState::Active);
  EXPECT_EQ(s.state(kNow + 1h), SilenceState::Expired);
  EXPECT_EQ(to_string(SilenceState::Pending), "pending");
}

TEST(Silences, CreateClampsStartAndSilencesOnlyWhileActive) {
  SilenceSet set({}, counter_ids());
  auto c = set.set(silence({M("instance=\"db1\"")}, kNow - 1h, kNow + 1h), kNow);
  ASSERT_TRUE(c.ok()) << c.error->message;
  EXPECT_EQ(c.id, "00000000-0000-4000-8000-000000000001");
  ASSERT_EQ(c.changed.size(), 1u);
  const Silence* s = set.get(c.id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->starts_at, kNow);
  EXPECT_EQ(s->updated_at, kNow);
  const Labels db1{{"instance", "db1"}};
  EXPECT_EQ(set.silenced_by(db1, kNow), std::vector<std::string>{c.id});
  EXPECT_TRUE(set.silenced_by(db1, kNow + 1h).empty());
  EXPECT_TRUE(set.silenced_by(Labels{{"instance", "db2"}}, kNow).empty());

  auto pending = set.set(silence({M("instance=\"db1\"")}, kNow + 2h, kNow + 3h), kNow);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(set.get(pending.id)->state(kNow), SilenceState::Pending);
  EXPECT_EQ(set.silenced_by(db1, kNow + 2h), std::vector<std::string>{pending.id});
}

TEST(Silences, UpdateInPlaceWhenHistoryIsKept) {
  SilenceSet set({}, counter_ids());
  auto c = set.set(silence({M("a=\"b\"")}, kNow, kNow + 1h), kNow);
  ASSERT_TRUE(c.ok());
  // Active, same matchers, same start, later end: updated in place.
  Silence upd = silence({M("a=\"b\"")}, kNow, kNow + 2h, c.id);
  upd.comment = "longer";
  auto u = set.set(upd, kNow + 10min);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.id, c.id);
  ASSERT_EQ(u.changed.size(), 1u);
  EXPECT_EQ(set.get(c.id)->ends_at, kNow + 2h);
  EXPECT_EQ(set.get(c.id)->comment, "longer");
  EXPECT_EQ(set.get(c.id)->updated_at, kNow + 10min);
  EXPECT_EQ(set.size(), 1u);

  // Pending: may move as long as it does not start in the past.
  auto p = set.set(silence({M("x=\"y\"")}, kNow + 1h, kNow + 2h), kNow);
  auto pu = set.set(silence({M("x=\"y\"")}, kNow + 30min, kNow + 2h, p.id), kNow);
  ASSERT_TRUE(pu.ok());
  EXPECT_EQ(pu.id, p.id);
  EXPECT_EQ(set.get(p.id)->starts_at, kNow + 30min);
}

TEST(Silences, UpdateWithChangedMatchersExpiresAndCreates) {
  SilenceSet set({}, counter_ids());
  auto c = set.set(silence({M("a=\"b\"")}, kNow, kNow + 1h), kNow);
  auto u = set.set(silence({M("a=\"c\"")}, kNow, kNow + 1h, c.id), kNow + 5min);
  ASSERT_TRUE(u.ok()) << u.error->message;
  EXPECT_NE(u.id, c.id);
  ASSERT_EQ(u.changed.size(), 2u);  // the expired old one and the new one
  EXPECT_EQ(u.changed[0].id, c.id);
  EXPECT_EQ(u.changed[1].id, u.id);
  EXPECT_EQ(set.get(c.id)->ends_at, kNow + 5min);
  EXPECT_EQ(set.get(c.id)->state(kNow + 5min), SilenceState::Expired);
  EXPECT_EQ(set.get(u.id)->starts_at, kNow + 5min);  // clamped to now
  EXPECT_EQ(set.get(u.id)->state(kNow + 5min), SilenceState::Active);

  // Changing the start of an active silence also replaces it.
  auto u2 = set.set(silence({M("a=\"c\"")}, kNow + 7min, kNow + 2h, u.id), kNow + 6min);
  ASSERT_TRUE(u2.ok());
  EXPECT_NE(u2.id, u.id);
  EXPECT_EQ(set.get(u.id)->ends_at, kNow + 6min);

  // Updating an expired silence creates a new one and leaves the old one alone.
  auto u3 = set.set(silence({M("a=\"b\"")}, kNow, kNow + 3h, c.id), kNow + 10min);
  ASSERT_TRUE(u3.ok());
  EXPECT_NE(u3.id, c.id);
  EXPECT_EQ(u3.changed.size(), 1u);
  EXPECT_EQ(set.get(c.id)->ends_at, kNow + 5min);
}

TEST(Silences, InvalidUpdateChangesNothing) {
  SilenceSet set({}, counter_ids());
  auto c = set.set(silence({M("a=\"b\"")}, kNow, kNow + 1h), kNow);
  auto u = set.set(silence({M("a=\"\"")}, kNow, kNow + 1h, c.id), kNow);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error->message, "silence invalid: at least one matcher must not match the empty string");
  EXPECT_EQ(set.get(c.id)->state(kNow + 1min), SilenceState::Active);
}

TEST(Silences, UnknownIdIsNotFound) {
  SilenceSet set({}, counter_ids());
  auto u = set.set(silence({M("a=\"b\"")}, kNow, kNow + 1h, "11111111-2222-4333-8444-555555555555"), kNow);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error->kind, SilenceError::Kind::NotFound);
  EXPECT_EQ(u.error->message, "silence not found");
  EXPECT_EQ(set.expire("nope", kNow).error->kind, SilenceError::Kind::NotFound);
}

TEST(Silences, Expire) {
  SilenceSet set({}, counter_ids());
  auto active = set.set(silence({M("a=\"b\"")}, kNow, kNow + 1h), kNow);
  auto pending = set.set(silence({M("a=\"b\"")}, kNow + 1h, kNow + 2h), kNow);
  auto e = set.expire(active.id, kNow + 1min);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e.changed.size(), 1u);
  EXPECT_EQ(set.get(active.id)->ends_at, kNow + 1min);
  EXPECT_EQ(set.get(active.id)->starts_at, kNow);
  EXPECT_EQ(set.get(active.id)->state(kNow + 1min), SilenceState::Expired);
  auto ep = set.expire(pending.id, kNow + 1min);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(set.get(pending.id)->starts_at, kNow + 1min);
  EXPECT_EQ(set.get(pending.id)->ends_at, kNow + 1min);
  // Expiring an expired silence succeeds and changes nothing.
  auto again = set.expire(active.id, kNow + 2min);
  EXPECT_TRUE(again.ok());
  EXPECT_TRUE(again.changed.empty());
  EXPECT_EQ(set.get(active.id)->ends_at, kNow + 1min);
}

TEST(Silences, Validation) {
  EXPECT_EQ(validate_silence(silence({}, kNow, kNow + 1h)), "at least one matcher required");
  EXPECT_EQ(validate_silence(silence({M("a=~\".*\""), M("b=\"\"")}, kNow, kNow + 1h)),
            "at least one matcher must not match the empty string");
  // != and !~ never count as matching the empty string (Alertmanager).
  Silence ne = silence({M("a!=\"x\"")}, kNow, kNow + 1h);
  ne.updated_at = kNow;
  EXPECT_EQ(validate_silence(ne), "");
  std::string error;
  auto bad_name = Matcher::make(MatchType::Equal, "1abc", "x", &error);
  ASSERT_TRUE(bad_name.has_value());
  EXPECT_EQ(validate_silence(silence({M("a=\"b\""), *bad_name}, kNow, kNow + 1h)),
            "invalid label matcher 1: invalid label name \"1abc\"");
  auto bad_value = Matcher::make(MatchType::Equal, "a", "\xff", &error);
  EXPECT_EQ(validate_silence(silence({*bad_value}, kNow, kNow + 1h)),
            "invalid label matcher 0: invalid label value \"\\xff\"");
  EXPECT_EQ(validate_silence(silence({M("a=\"b\"")}, kNow, kNow - 1s)), "end time must not be before start time");
}

TEST(Silences, LimitAndGarbageCollection) {
  SilenceLimits limits;
  limits.max_silences = 2;
  limits.retention = 24h;
  SilenceSet set(limits, counter_ids());
  auto a = set.set(silence({M("a=\"1\"")}, kNow, kNow + 1h), kNow);
  auto b = set.set(silence({M("a=\"2\"")}, kNow, kNow + 2h), kNow);
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = set.set(silence({M("a=\"3\"")}, kNow, kNow + 1h), kNow);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error->kind, SilenceError::Kind::Full);
  EXPECT_EQ(c.error->message, "exceeded maximum number of silences: 2 (limit: 2)");
  // Static silences do not count.
  StaticSilenceConfig st;
  st.matchers = {M("x=\"y\"")};
  st.starts_at = kNow;
  st.ends_at = kNow + 1h;
  set.set_static({st});
  EXPECT_EQ(set.runtime_count(), 2u);
  EXPECT_EQ(set.size(), 3u);

  EXPECT_TRUE(set.gc(kNow + 1h + 23h).empty());
  EXPECT_EQ(set.gc(kNow + 1h + 24h), std::vector<std::string>{a.id});
  EXPECT_EQ(set.get(a.id), nullptr);
  EXPECT_NE(set.get(b.id), nullptr);
  EXPECT_EQ(set.size(), 2u);  // the static one is never collected
  EXPECT_TRUE(set.set(silence({M("a=\"3\"")}, kNow + 25h, kNow + 26h), kNow + 25h).ok());
}

TEST(Silences, StaticSilences) {
  StaticSilenceConfig st;
  st.matchers = {M("instance=\"db1:9100\"")};
  st.starts_at = T("2026-12-01T00:00:00Z");
  st.ends_at = T("2026-12-01T04:00:00Z");
  st.comment = "disk replacement";
  SilenceSet set;
  set.set_static({st});
  auto all = set.list();
  ASSERT_EQ(all.size(), 1u);
  const std::string id = all[0]->id;
  EXPECT_TRUE(is_uuid(id));
  EXPECT_EQ(id[14], '4');
  EXPECT_TRUE(set.is_static(id));
  // Stable across sets (restarts) and reloads.
  SilenceSet other;
  other.set_static({st});
  EXPECT_EQ(other.list()[0]->id, id);
  set.set_static({st});
  EXPECT_EQ(set.list()[0]->id, id);
  EXPECT_EQ(set.silenced_by(Labels{{"instance", "db1:9100"}}, T("2026-12-01T01:00:00Z")), std::vector<std::string>{id});
  EXPECT_FALSE(set.silenced(Labels{{"instance", "db1:9100"}}, T("2026-12-01T04:00:00Z")));
  // Read-only.
  EXPECT_EQ(set.expire(id, kNow).error->kind, SilenceError::Kind::ReadOnly);
  EXPECT_EQ(set.set(silence({M("instance=\"db1:9100\"")}, kNow, kNow + 1h, id), kNow).error->kind,
            SilenceError::Kind::ReadOnly);
  // A different comment is a different silence.
  st.comment = "other";
  set.set_static({st});
  EXPECT_NE(set.list()[0]->id, id);
  set.set_static({});
  EXPECT_EQ(set.size(), 0u);
}

TEST(Silences, JsonRecordRoundTrip) {
  Silence s = silence({M("a=\"b\""), M("c!=\"d\""), M("e=~\"f.*\""), M("g!~\"h|i\"")}, T("2026-11-24T10:00:00.123Z"),
                      T("2026-11-24T11:00:00Z"), "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
  s.updated_at = T("2026-11-24T09:59:00.5Z");
  s.comment = "with \"quotes\" and ünïcode";
  const std::string json = to_json(s);
  std::string error;
  auto back = silence_from_json(json, &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->starts_at, s.starts_at);
  EXPECT_EQ(back->ends_at, s.ends_at);
  EXPECT_EQ(back->updated_at, s.updated_at);
  EXPECT_EQ(back->comment, s.comment);
  EXPECT_EQ(back->created_by, s.created_by);
  ASSERT_EQ(back->matchers.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(back->matchers[i].to_string(), s.matchers[i].to_string());
  EXPECT_EQ(to_json(*back), json);

  EXPECT_FALSE(silence_from_json("{", &error));
  EXPECT_FALSE(silence_from_json("{\"id\":\"x\"}", &error));
  EXPECT_FALSE(silence_from_json(R"({"id":"x","startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:00:00Z",
    "updatedAt":"2026-01-01T00:00:00Z","createdBy":"","comment":"","matchers":[{"name":"a","value":"(","isRegex":true}]})",
                                 &error));

  SilenceSet set;
  EXPECT_TRUE(set.restore(*back));
  EXPECT_FALSE(set.restore(*back));  // duplicate id
  EXPECT_EQ(set.get(s.id)->updated_at, s.updated_at);
}

TEST(Silences, UuidHelpers) {
  const std::string id = new_uuid_v4();
  EXPECT_TRUE(is_uuid(id));
  EXPECT_EQ(id[14], '4');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
  EXPECT_NE(new_uuid_v4(), id);
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeeg"));
  EXPECT_TRUE(is_uuid("AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"));
}

// ------------------------------------------------------------------------------------------------
// Alertmanager v2 API
// ------------------------------------------------------------------------------------------------

TEST(SilenceApi, FormatApiTime) {
  EXPECT_EQ(format_api_time(T("2026-12-01T00:00:00Z")), "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(format_api_time(T("2026-12-01T08:09:10.5+08:00")), "2026-12-01T00:09:10.500Z");
  EXPECT_EQ(format_api_time(TimePoint{}), "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(format_api_time(TimePoint{} + 1ms), "1970-01-01T00:00:00.001Z");
}

ApiResponse parse_fail(std::string_view body) {
  ApiResponse r;
  auto s = parse_postable_silence(body, &r);
  EXPECT_FALSE(s.has_value()) << body;
  return r;
}

TEST(SilenceApi, ParseErrorsLikeAlertmanager) {
  auto r = parse_fail("");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"code":602,"message":"silence in body is required"})");

  r = parse_fail("{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("code":400)"), std::string::npos);
  EXPECT_NE(r.body.find("parsing silence body from \\\"\\\" failed, because"), std::string::npos);

  r = parse_fail("[]");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":400,"message":"parsing silence body from \"\" failed, because json: cannot unmarshal array into )"
            R"(Go value of type struct { ID string \"json:\\\"id,omitempty\\\"\" }"})");
  // `null` is the zero value: the required fields are missing.
  EXPECT_EQ(parse_fail("null").body, R"({"code":602,"message":"comment in body is required"})");

  const std::string matchers = R"("matchers":[{"name":"a","value":"b","isRegex":false}])";
  const std::string times = R"("startsAt":"2026-11-24T10:00:00Z","endsAt":"2026-11-24T11:00:00Z")";

  r = parse_fail("{" + matchers + "," + times + R"(,"createdBy":"me"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"code":602,"message":"comment in body is required"})");

  r = parse_fail("{" + matchers + "," + times + R"(,"comment":"x","createdBy":null})");
  EXPECT_EQ(r.body, R"({"code":602,"message":"createdBy in body is required"})");

  r = parse_fail(R"({"matchers":[],)" + times + R"(,"comment":"x","createdBy":"me"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"code":612,"message":"matchers in body should have at least 1 items"})");

  r = parse_fail(R"({"matchers":[{"name":"a","value":"b"}],)" + times + R"(,"comment":"x","createdBy":"me"})");
  EXPECT_EQ(r.body, R"({"code":602,"message":"matchers.0.isRegex in body is required"})");

  r = parse_fail("{" + matchers + R"(,"endsAt":"2026-11-24T11:00:00Z","comment":"x","createdBy":"me"})");
  EXPECT_EQ(r.body, R"({"code":602,"message":"startsAt in body is required"})");

  r = parse_fail(R"({"matchers":[{"name":"a","value":"b","isRegex":"no"}],)" + times +
                 R"(,"comment":"x","createdBy":"me"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":400,"message":"parsing silence body from \"\" failed, because json: cannot unmarshal string into )"
            R"(Go struct field Matcher.matchers.isRegex of type bool"})");
  r = parse_fail("{" + matchers + "," + times + R"(,"comment":5,"createdBy":"me"})");
  EXPECT_EQ(r.body,
            R"({"code":400,"message":"parsing silence body from \"\" failed, because json: cannot unmarshal number into )"
            R"(Go struct field Silence.comment of type string"})");

  r = parse_fail("{" + matchers + R"(,"startsAt":"yesterday","endsAt":"2026-11-24T11:00:00Z","comment":"x","createdBy":"me"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":400,"message":"parsing silence body from \"\" failed, because parsing time \"yesterday\" as )"
            R"(\"2006-01-02 15:04:05\": cannot parse \"yesterday\" as \"2006\""})");

  r = parse_fail(R"({"matchers":[{"name":"a","value":"(","isRegex":true}],)" + times +
                 R"(,"comment":"x","createdBy":"me"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind("\"silence invalid: invalid label matcher 0: invalid regular expression \\\"(\\\"", 0), 0u)
      << r.body;
  EXPECT_EQ(r.body.back(), '\n');
}

TEST(SilenceApi, ParseAcceptsAmtoolBody) {
  // What amtool 0.25 sends for `amtool silence add alertname=Foo instance=~"db.*" -c x`.
  const std::string body =
      R"({"comment":"x","createdBy":"root","endsAt":"2026-11-24T11:00:00.123456789Z",)"
      R"("matchers":[{"isEqual":true,"isRegex":false,"name":"alertname","value":"Foo"},)"
      R"({"isEqual":true,"isRegex":true,"name":"instance","value":"db.*"},)"
      R"({"isEqual":false,"isRegex":false,"name":"job","value":"x"},)"
      R"({"isRegex":true,"isEqual":false,"name":"env","value":"dev|test"},)"
      R"({"isRegex":false,"name":"team","value":"db"}],)"
      R"("startsAt":"2026-11-24T10:00:00+08:00"})";
  ApiResponse err;
  auto s = parse_postable_silence(body, &err);
  ASSERT_TRUE(s.has_value()) << err.body;
  EXPECT_TRUE(s->id.empty());
  EXPECT_EQ(s->created_by, "root");
  EXPECT_EQ(s->starts_at, T("2026-11-24T02:00:00Z"));
  EXPECT_EQ(s->ends_at, T("2026-11-24T11:00:00.123Z"));
  ASSERT_EQ(s->matchers.size(), 5u);
  EXPECT_EQ(s->matchers[0].type(), MatchType::Equal);
  EXPECT_EQ(s->matchers[1].type(), MatchType::Regex);
  EXPECT_EQ(s->matchers[2].type(), MatchType::NotEqual);
  EXPECT_EQ(s->matchers[3].type(), MatchType::NotRegex);
  EXPECT_EQ(s->matchers[4].type(), MatchType::Equal);  // isEqual defaults to true

  // A date-time without an offset is UTC (strfmt).
  auto local = parse_postable_silence(
      R"({"comment":"x","createdBy":"me","startsAt":"2026-11-24T10:00:00","endsAt":"2026-11-24T11:00:00.5",)"
      R"("matchers":[{"name":"a","value":"b","isRegex":false}]})",
      &err);
  ASSERT_TRUE(local.has_value()) << err.body;
  EXPECT_EQ(local->starts_at, T("2026-11-24T10:00:00Z"));
  EXPECT_EQ(local->ends_at, T("2026-11-24T11:00:00.5Z"));

  // Go's encoding/json matches keys case-insensitively.
  auto ci = parse_postable_silence(
      R"({"Comment":"x","CREATEDBY":"me","startsat":"2026-11-24T10:00:00Z","endsAt":"2026-11-24T11:00:00Z",)"
      R"("matchers":[{"Name":"a","VALUE":"b","isregex":false}]})",
      &err);
  ASSERT_TRUE(ci.has_value()) << err.body;
  EXPECT_EQ(ci->matchers[0].name(), "a");
}

std::string post_body(const std::string& matchers, TimePoint starts, TimePoint ends, const std::string& id = "") {
  std::string b = "{";
  if (!id.empty()) b += R"("id":")" + id + "\",";
  b += R"("matchers":)" + matchers + R"(,"startsAt":")" + format_api_time(starts) + R"(","endsAt":")" +
       format_api_time(ends) + R"(","createdBy":"me","comment":"maintenance"})";
  return b;
}

TEST(SilenceApi, PostGetDelete) {
  SilenceSet set({}, counter_ids());
  const std::string ms = R"([{"name":"instance","value":"db1","isRegex":false}])";

  auto r = api_post_silences(set, post_body(ms, kNow + 1h, kNow + 1h), kNow);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "\"Failed to create silence: start time must be before end time\"\n");
  r = api_post_silences(set, post_body(ms, kNow - 2h, kNow - 1h), kNow);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "\"Failed to create silence: end time can't be in the past\"\n");
  r = api_post_silences(set, post_body(R"([{"name":"instance","value":".*","isRegex":true}])", kNow, kNow + 1h), kNow);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "\"silence invalid: at least one matcher must not match the empty string\"\n");
  r = api_post_silences(set, post_body(R"([{"name":"in-stance","value":"x","isRegex":false}])", kNow, kNow + 1h), kNow);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "\"silence invalid: invalid label matcher 0: invalid label name \\\"in-stance\\\"\"\n");
  r = api_post_silences(set, post_body(ms, kNow, kNow + 1h, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"), kNow);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "\"silence not found\"\n");
  EXPECT_EQ(set.size(), 0u);

  r = api_post_silences(set, post_body(ms, kNow, kNow + 1h), kNow);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"silenceID\":\"00000000-0000-4000-8000-000000000001\"}\n");
  ASSERT_EQ(r.changed.size(), 1u);
  const std::string id = r.changed[0].id;

  auto g = api_get_silence(set, id, kNow + 1min);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body,
            R"({"id":"00000000-0000-4000-8000-000000000001","status":{"state":"active"},)"
            R"("updatedAt":"2026-11-24T10:00:00.000Z","comment":"maintenance","createdBy":"me",)"
            R"("endsAt":"2026-11-24T11:00:00.000Z",)"
            R"("matchers":[{"isEqual":true,"isRegex":false,"name":"instance","value":"db1"}],)"
            R"("startsAt":"2026-11-24T10:00:00.000Z"})"
            "\n");
  EXPECT_EQ(api_get_silence(set, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", kNow).status, 404);
  auto bad = api_get_silence(set, "xyz", kNow);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.body, R"({"code":601,"message":"silenceID in path must be of type uuid: \"xyz\""})");

  // Update via POST with the id (amtool silence update): extends in place.
  r = api_post_silences(set, post_body(ms, kNow, kNow + 2h, id), kNow + 1min);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"silenceID":")" + id + "\"}\n");

  auto d = api_delete_silence(set, id, kNow + 2min);
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body, "");
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].ends_at, kNow + 2min);
  auto nf = api_delete_silence(set, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", kNow);
  EXPECT_EQ(nf.status, 500);
  EXPECT_EQ(nf.body, "\"silence not found\"\n");
  EXPECT_EQ(api_delete_silence(set, "nope", kNow).status, 422);
  auto g2 = api_get_silence(set, id, kNow + 3min);
  EXPECT_NE(g2.body.find(R"("status":{"state":"expired"})"), std::string::npos);
}

TEST(SilenceApi, ListSortedAndFiltered) {
  SilenceSet set({}, counter_ids());
  auto a1 = set.set(silence({M("a=\"1\"")}, kNow, kNow + 2h), kNow).id;             // active, ends later
  auto a2 = set.set(silence({M("a=\"2\""), M("b=~\"x.*\"")}, kNow, kNow + 1h), kNow).id;  // active, ends first
  auto p1 = set.set(silence({M("a=\"3\"")}, kNow + 3h, kNow + 4h), kNow).id;          // pending, later
  auto p2 = set.set(silence({M("a=\"4\"")}, kNow + 1h, kNow + 4h), kNow).id;          // pending, sooner
  auto e1 = set.set(silence({M("a=\"5\"")}, kNow, kNow + 1h), kNow).id;
  auto e2 = set.set(silence({M("a=\"6\"")}, kNow, kNow + 1h), kNow).id;
  set.expire(e1, kNow + 1min);
  set.expire(e2, kNow + 2min);  // expired most recently: listed first among expired

  auto r = api_get_silences(set, {}, kNow + 5min);
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  ASSERT_EQ(j.size(), 6u);
  std::vector<std::string> order;
  for (const auto& s : j) order.push_back(s["id"]);
  EXPECT_EQ(order, (std::vector<std::string>{a2, a1, p2, p1, e2, e1}));
  EXPECT_EQ(j[0]["status"]["state"], "active");
  EXPECT_EQ(j[2]["status"]["state"], "pending");
  EXPECT_EQ(j[4]["status"]["state"], "expired");

  // Filters compare matchers exactly (name, type, value).
  r = api_get_silences(set, {"b=~x.*"}, kNow);
  j = nlohmann::json::parse(r.body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["id"], a2);
  EXPECT_EQ(nlohmann::json::parse(api_get_silences(set, {"b=\"x.*\""}, kNow).body).size(), 0u);
  EXPECT_EQ(nlohmann::json::parse(api_get_silences(set, {"nothing=\"here\""}, kNow).body).size(), 0u);
  auto bad = api_get_silences(set, {"{{"}, kNow);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "\"bad matcher format: {{\"\n");
  EXPECT_EQ(api_get_silences(SilenceSet{}, {}, kNow).body, "[]\n");
}

TEST(SilenceApi, AlertsRenderingMatchesAlertmanagerShape) {
  ApiAlert a;
  a.labels = Labels{{"alertname", "HighCPU"}, {"instance", "db1"}};
  a.annotations = Labels{{"summary", "busy <100%> & more"}};
  a.starts_at = T("2026-11-24T09:00:00Z");
  a.ends_at = T("2026-11-24T10:04:00Z");
  a.updated_at = T("2026-11-24T10:00:00Z");
  a.generator_url = "http://h:9097/rules#x";
  a.receivers = {"ops"};
  a.silenced_by = {"00000000-0000-4000-8000-000000000001"};
  ApiAlert b;
  b.labels = Labels{{"alertname", "Other"}};
  b.ends_at = a.ends_at;
  const std::string out = render_gettable_alerts({a, b});
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.size(), 2u);
  // Sorted by fingerprint.
  EXPECT_LT(j[0]["fingerprint"].get<std::string>(), j[1]["fingerprint"].get<std::string>());
  const std::string fp = fingerprint_hex(a.labels.fingerprint());
  const std::string expected =
      R"({"annotations":{"summary":"busy \u003c100%\u003e \u0026 more"},"endsAt":"2026-11-24T10:04:00.000Z","fingerprint":")" + fp +
      R"(","receivers":[{"name":"ops"}],"startsAt":"2026-11-24T09:00:00.000Z",)"
      R"("status":{"inhibitedBy":[],"silencedBy":["00000000-0000-4000-8000-000000000001"],"state":"suppressed"},)"
      R"("updatedAt":"2026-11-24T10:00:00.000Z","generatorURL":"http://h:9097/rules#x",)"
      R"("labels":{"alertname":"HighCPU","instance":"db1"}})";
  EXPECT_NE(out.find(expected), std::string::npos) << out;
  // No generatorURL when empty; empty arrays, never null.
  for (const auto& x : j) {
    if (x["labels"]["alertname"] == "Other") {
      EXPECT_FALSE(x.contains("generatorURL"));
      EXPECT_EQ(x["status"]["state"], "active");
      EXPECT_TRUE(x["receivers"].is_array());
      EXPECT_TRUE(x["status"]["inhibitedBy"].is_array());
    }
  }
  EXPECT_EQ(render_gettable_alerts({}), "[]");
  // The fingerprint Alertmanager 0.25 printed for this label set.
  ApiAlert x;
  x.labels = Labels{{"alertname", "X"}, {"a", "b"}};
  EXPECT_NE(render_gettable_alerts({x}).find(R"("fingerprint":"c4fa8262820e0e19")"), std::string::npos);
}

TEST(SilenceApi, AlertsQueryFilters) {
  ApiAlert active;
  active.labels = Labels{{"alertname", "A"}, {"team", "db"}};
  active.receivers = {"ops-dingtalk"};
  ApiAlert silenced;
  silenced.labels = Labels{{"alertname", "B"}};
  silenced.receivers = {"pager"};
  silenced.silenced_by = {"x"};
  ApiAlert inhibited;
  inhibited.labels = Labels{{"alertname", "C"}, {"team", "web"}};
  inhibited.inhibited_by = {"0123456789abcdef"};
  ApiAlert resolved;
  resolved.labels = Labels{{"alertname", "D"}};
  resolved.ends_at = kNow - 1min;
  const std::vector<ApiAlert> all{active, silenced, inhibited, resolved};

  auto names = [&](std::multimap<std::string, std::string> params) {
    auto r = api_get_alerts(all, params, kNow);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    for (const auto& a : nlohmann::json::parse(r.body)) out.push_back(a["labels"]["alertname"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(names({}), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(names({{"silenced", "false"}}), (std::vector<std::string>{"A", "C"}));
  EXPECT_EQ(names({{"inhibited", "false"}, {"silenced", "false"}}), (std::vector<std::string>{"A"}));
  EXPECT_EQ(names({{"active", "false"}}), (std::vector<std::string>{"B", "C"}));
  EXPECT_EQ(names({{"filter", "team=\"db\""}}), (std::vector<std::string>{"A"}));
  EXPECT_EQ(names({{"filter", "team=~\"db|web\""}, {"filter", "alertname!=\"A\""}}), (std::vector<std::string>{"C"}));
  // An empty-valued = matcher is satisfied by absence (Alertmanager's matchFilterLabels).
  EXPECT_EQ(names({{"filter", "team=\"\""}}), (std::vector<std::string>{"B"}));
  EXPECT_EQ(names({{"receiver", "ops-.*"}}), (std::vector<std::string>{"A"}));
  EXPECT_EQ(names({{"receiver", "ops"}}), (std::vector<std::string>{}));  // anchored

  // Alertmanager 0.25 takes an unparsable boolean as the default.
  EXPECT_EQ(names({{"active", "maybe"}}), (std::vector<std::string>{"A", "B", "C"}));
  auto bad = api_get_alerts(all, {{"filter", "=="}}, kNow);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "\"bad matcher format: ==\"\n");
  auto bad_re = api_get_alerts(all, {{"receiver", "("}}, kNow);
  EXPECT_EQ(bad_re.status, 400);
  EXPECT_NE(bad_re.body.find("failed to parse receiver param"), std::string::npos);
}

// ------------------------------------------------------------------------------------------------
// Time zones and time intervals
// ------------------------------------------------------------------------------------------------

std::shared_ptr<const TimeZone> zone(const char* name) {
  std::string error;
  auto z = TimeZone::load(name, &error);
  EXPECT_NE(z, nullptr) << error;
  return z ? z : TimeZone::utc();
}

std::int64_t unix(const char* t) { return T(t).time_since_epoch().count() / 1000; }

TEST(TimeZone, OffsetsIncludingDst) {
  auto sh = zone("Asia/Shanghai");
  EXPECT_EQ(sh->utc_offset(unix("2026-01-15T00:00:00Z")), 8 * 3600);
  EXPECT_EQ(sh->utc_offset(unix("2026-07-15T00:00:00Z")), 8 * 3600);
  auto berlin = zone("Europe/Berlin");
  EXPECT_EQ(berlin->utc_offset(unix("2026-03-29T00:59:59Z")), 3600);
  EXPECT_EQ(berlin->utc_offset(unix("2026-03-29T01:00:00Z")), 7200);
  EXPECT_EQ(berlin->utc_offset(unix("2026-10-25T00:59:59Z")), 7200);
  EXPECT_EQ(berlin->utc_offset(unix("2026-10-25T01:00:00Z")), 3600);
  auto ny = zone("America/New_York");
  EXPECT_EQ(ny->utc_offset(unix("2026-03-08T06:59:59Z")), -5 * 3600);
  EXPECT_EQ(ny->utc_offset(unix("2026-03-08T07:00:00Z")), -4 * 3600);
  EXPECT_EQ(ny->utc_offset(unix("2026-11-01T05:59:59Z")), -4 * 3600);
  EXPECT_EQ(ny->utc_offset(unix("2026-11-01T06:00:00Z")), -5 * 3600);
  // Beyond any table (the footer's POSIX rule).
  EXPECT_EQ(berlin->utc_offset(unix("2100-07-01T00:00:00Z")), 7200);
  EXPECT_EQ(berlin->utc_offset(unix("2100-01-01T00:00:00Z")), 3600);
  EXPECT_EQ(ny->utc_offset(unix("2099-03-08T06:59:59Z")), -5 * 3600);  // 2nd Sunday of March 2099 is the 8th
  EXPECT_EQ(ny->utc_offset(unix("2099-03-08T07:00:00Z")), -4 * 3600);
  // History: Berlin had no DST in 1970, Shanghai had DST in 1988.
  EXPECT_EQ(berlin->utc_offset(unix("1970-07-01T00:00:00Z")), 3600);
  EXPECT_EQ(sh->utc_offset(unix("1988-07-01T00:00:00Z")), 9 * 3600);
  EXPECT_EQ(zone("UTC")->utc_offset(0), 0);
  EXPECT_NE(zone("Local"), nullptr);

  std::string error;
  EXPECT_EQ(TimeZone::load("Mars/Olympus_Mons", &error), nullptr);
  EXPECT_NE(error.find("unknown time zone"), std::string::npos);
  EXPECT_EQ(TimeZone::load("../../etc/passwd", &error), nullptr);
  EXPECT_EQ(TimeZone::from_tzif("not a tzif file at all, really not, no no no no no no no no", "x", &error), nullptr);
}

TEST(TimeZone, PosixRules) {
  std::string error;
  auto sydney = TimeZone::from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", &error);
  ASSERT_NE(sydney, nullptr) << error;
  EXPECT_EQ(sydney->utc_offset(unix("2030-01-15T00:00:00Z")), 11 * 3600);
  EXPECT_EQ(sydney->utc_offset(unix("2030-07-15T00:00:00Z")), 10 * 3600);
  auto india = TimeZone::from_posix("<+0530>-5:30", &error);
  ASSERT_NE(india, nullptr) << error;
  EXPECT_EQ(india->utc_offset(0), 19800);
  auto julian = TimeZone::from_posix("XST3XDT,J60/0,J300/0", &error);  // Mar 1 .. Oct 27 in any year
  ASSERT_NE(julian, nullptr) << error;
  EXPECT_EQ(julian->utc_offset(unix("2028-03-01T02:59:59Z")), -3 * 3600);
  EXPECT_EQ(julian->utc_offset(unix("2028-03-01T03:00:00Z")), -2 * 3600);
  auto all_year = TimeZone::from_posix("EST5EDT,0/0,J365/25", &error);
  ASSERT_NE(all_year, nullptr) << error;
  EXPECT_EQ(all_year->utc_offset(unix("2030-12-31T23:00:00Z")), -4 * 3600);
  EXPECT_EQ(all_year->utc_offset(unix("2030-06-01T00:00:00Z")), -4 * 3600);
  EXPECT_EQ(TimeZone::from_posix("1abc", &error), nullptr);
  EXPECT_EQ(TimeZone::from_posix("CET-1CEST,M13.5.0", &error), nullptr);
}

TEST(TimeZone, Version1TzifFile) {
  // A hand-made version 1 file: one transition at t=0 from type 0 (UTC) to type 1 (+01:00).
  std::string d = "TZif";
  d += '\0';
  d += std::string(15, '\0');
  auto be32 = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) d += static_cast<char>((v >> s) & 0xff);
  };
  be32(0), be32(0), be32(0), be32(1), be32(2), be32(4);
  be32(0);                             // transition time
  d += '\x01';                         // its type
  be32(0), d += '\0', d += '\0';       // type 0: +0, std, "UTC"
  be32(3600), d += '\0', d += '\0';    // type 1: +1h
  d += std::string("UTC", 4);
  std::string error;
  auto z = TimeZone::from_tzif(d, "test", &error);
  ASSERT_NE(z, nullptr) << error;
  EXPECT_EQ(z->utc_offset(-1), 0);
  EXPECT_EQ(z->utc_offset(0), 3600);
  EXPECT_EQ(z->utc_offset(1'000'000'000), 3600);
  // Truncated: rejected, no crash.
  EXPECT_EQ(TimeZone::from_tzif(std::string_view(d).substr(0, d.size() - 3), "test", &error), nullptr);
}

TimeIntervalSpec window(int start_h, int end_h, const char* location) {
  TimeIntervalSpec s;
  s.times = {{start_h * 60, end_h * 60}};
  s.location = location;
  return s;
}

bool in(const TimeIntervalSpec& spec, const char* t) {
  std::string error;
  auto z = TimeZone::load(spec.location, &error);
  EXPECT_NE(z, nullptr) << error;
  return time_interval_contains(spec, *z, T(t));
}

TEST(TimeIntervals, ShanghaiNoDst) {
  TimeIntervalSpec s = window(2, 4, "Asia/Shanghai");
  s.weekdays = {{6, 6}, {0, 0}};  // saturday, sunday
  // Saturday 2026-11-28 02:00-04:00 CST = 2026-11-27 18:00-20:00 UTC.
  EXPECT_FALSE(in(s, "2026-11-27T17:59:59Z"));
  EXPECT_TRUE(in(s, "2026-11-27T18:00:00Z"));
  EXPECT_TRUE(in(s, "2026-11-27T19:59:59Z"));
  EXPECT_FALSE(in(s, "2026-11-27T20:00:00Z"));
  // Friday 02:00 local is not a weekend.
  EXPECT_FALSE(in(s, "2026-11-26T18:30:00Z"));
  // In UTC the same instant is Friday, 18:00: the location decides.
  TimeIntervalSpec utc = s;
  utc.location = "UTC";
  EXPECT_FALSE(in(utc, "2026-11-27T18:30:00Z"));
}

TEST(TimeIntervals, NewYorkSpringForwardAndFallBack) {
  const TimeIntervalSpec s = window(2, 4, "America/New_York");
  // 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC; 02:00-03:00 local never happens, so the
  // window is one real hour: 03:00-04:00 EDT = 07:00-08:00 UTC.
  EXPECT_FALSE(in(s, "2026-03-08T06:59:59Z"));  // 01:59:59 EST
  EXPECT_TRUE(in(s, "2026-03-08T07:00:00Z"));   // 03:00 EDT
  EXPECT_TRUE(in(s, "2026-03-08T07:59:59Z"));
  EXPECT_FALSE(in(s, "2026-03-08T08:00:00Z"));  // 04:00 EDT
  // 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00 UTC; 02:00-04:00 EST = 07:00-09:00 UTC.
  EXPECT_FALSE(in(s, "2026-11-01T06:59:59Z"));  // 01:59:59 EST (second time round)
  EXPECT_TRUE(in(s, "2026-11-01T07:00:00Z"));
  EXPECT_TRUE(in(s, "2026-11-01T08:59:59Z"));
  EXPECT_FALSE(in(s, "2026-11-01T09:00:00Z"));
  // 01:00-02:00 happens twice that day: two real hours.
  const TimeIntervalSpec twice = window(1, 2, "America/New_York");
  EXPECT_FALSE(in(twice, "2026-11-01T04:59:59Z"));
  EXPECT_TRUE(in(twice, "2026-11-01T05:00:00Z"));  // 01:00 EDT
  EXPECT_TRUE(in(twice, "2026-11-01T06:30:00Z"));  // 01:30 EST
  EXPECT_FALSE(in(twice, "2026-11-01T07:00:00Z"));
}

TEST(TimeIntervals, BerlinSpringForwardAndFallBack) {
  const TimeIntervalSpec s = window(2, 4, "Europe/Berlin");
  // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
  EXPECT_FALSE(in(s, "2026-03-29T00:59:59Z"));  // 01:59:59 CET
  EXPECT_TRUE(in(s, "2026-03-29T01:00:00Z"));   // 03:00 CEST
  EXPECT_FALSE(in(s, "2026-03-29T02:00:00Z"));  // 04:00 CEST
  // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC: 02:00-03:00 twice, three real hours.
  EXPECT_FALSE(in(s, "2026-10-24T23:59:59Z"));  // 01:59:59 CEST
  EXPECT_TRUE(in(s, "2026-10-25T00:00:00Z"));   // 02:00 CEST
  EXPECT_TRUE(in(s, "2026-10-25T01:30:00Z"));   // 02:30 CET
  EXPECT_TRUE(in(s, "2026-10-25T02:59:59Z"));   // 03:59:59 CET
  EXPECT_FALSE(in(s, "2026-10-25T03:00:00Z"));
}

TEST(TimeIntervals, WeekdayRanges) {
  TimeIntervalSpec s;
  s.weekdays = {{1, 5}};  // monday:friday
  EXPECT_TRUE(in(s, "2026-11-23T00:00:00Z"));   // monday
  EXPECT_TRUE(in(s, "2026-11-27T23:59:59Z"));   // friday
  EXPECT_FALSE(in(s, "2026-11-28T00:00:00Z"));  // saturday
  EXPECT_FALSE(in(s, "2026-11-29T12:00:00Z"));  // sunday
  s.location = "Asia/Shanghai";
  EXPECT_FALSE(in(s, "2026-11-27T16:00:00Z"));  // saturday 00:00 in Shanghai
  EXPECT_TRUE(in(s, "2026-11-22T16:00:00Z"));   // monday 00:00 in Shanghai
}

TEST(TimeIntervals, DaysOfMonthIncludingNegative) {
  TimeIntervalSpec last;
  last.days_of_month = {{-1, -1}};
  EXPECT_TRUE(in(last, "2028-02-29T12:00:00Z"));  // leap year
  EXPECT_FALSE(in(last, "2028-02-28T12:00:00Z"));
  EXPECT_TRUE(in(last, "2026-02-28T12:00:00Z"));
  EXPECT_TRUE(in(last, "2026-04-30T12:00:00Z"));
  EXPECT_TRUE(in(last, "2026-12-31T23:59:59Z"));
  TimeIntervalSpec last3;
  last3.days_of_month = {{-3, -1}};
  EXPECT_TRUE(in(last3, "2026-11-28T00:00:00Z"));
  EXPECT_FALSE(in(last3, "2026-11-27T23:59:59Z"));
  TimeIntervalSpec first_to_last;
  first_to_last.days_of_month = {{1, -1}};
  EXPECT_TRUE(in(first_to_last, "2026-02-01T00:00:00Z"));
  EXPECT_TRUE(in(first_to_last, "2026-02-28T00:00:00Z"));
  TimeIntervalSpec late;
  late.days_of_month = {{30, 31}};  // no such days in February
  EXPECT_FALSE(in(late, "2026-02-28T00:00:00Z"));
  EXPECT_TRUE(in(late, "2026-03-31T00:00:00Z"));
  TimeIntervalSpec to_end;
  to_end.days_of_month = {{25, 31}};  // clamped to the month's end
  EXPECT_TRUE(in(to_end, "2026-02-28T00:00:00Z"));
  // The last day in the zone, not in UTC: 2026-12-01 01:00 Shanghai is 2026-11-30 17:00 UTC.
  TimeIntervalSpec sh_last;
  sh_last.days_of_month = {{-1, -1}};
  sh_last.location = "Asia/Shanghai";
  EXPECT_FALSE(in(sh_last, "2026-11-30T17:00:00Z"));
  EXPECT_TRUE(in(sh_last, "2026-11-30T15:59:59Z"));
}

TEST(TimeIntervals, MonthsAndYears) {
  TimeIntervalSpec s;
  s.months = {{1, 3}, {12, 12}};
  s.years = {{2026, 2027}};
  EXPECT_TRUE(in(s, "2026-12-24T00:00:00Z"));
  EXPECT_TRUE(in(s, "2027-02-01T00:00:00Z"));
  EXPECT_FALSE(in(s, "2027-04-01T00:00:00Z"));
  EXPECT_FALSE(in(s, "2028-01-01T00:00:00Z"));
  EXPECT_FALSE(in(s, "2025-12-31T23:59:59Z"));
  // New Year in Berlin comes an hour before UTC's.
  s.location = "Europe/Berlin";
  EXPECT_TRUE(in(s, "2025-12-31T23:30:00Z"));
  // Every list must match.
  TimeIntervalSpec all = window(9, 17, "UTC");
  all.weekdays = {{1, 5}};
  all.months = {{11, 11}};
  EXPECT_TRUE(in(all, "2026-11-24T09:00:00Z"));
  EXPECT_FALSE(in(all, "2026-11-24T17:00:00Z"));
  EXPECT_FALSE(in(all, "2026-11-28T10:00:00Z"));
  EXPECT_FALSE(in(all, "2026-10-27T10:00:00Z"));
  // An empty spec always matches.
  EXPECT_TRUE(in(TimeIntervalSpec{}, "2026-11-24T09:00:00Z"));
}

std::vector<TimeIntervalConfig> interval_configs() {
  TimeIntervalConfig weekend;
  weekend.name = "weekend";
  TimeIntervalSpec w;
  w.weekdays = {{6, 6}, {0, 0}};
  weekend.intervals = {w};
  TimeIntervalConfig office;
  office.name = "office-hours";
  TimeIntervalSpec o = window(9, 18, "Asia/Shanghai");
  o.weekdays = {{1, 5}};
  TimeIntervalSpec o2 = window(10, 12, "Asia/Shanghai");  // saturday mornings too
  o2.weekdays = {{6, 6}};
  office.intervals = {o, o2};
  return {weekend, office};
}

TEST(TimeIntervals, SetAndRouteMuting) {
  TimeIntervalSet set(interval_configs());
  EXPECT_TRUE(set.has("weekend"));
  EXPECT_FALSE(set.has("nope"));
  const TimePoint tue_10_sh = T("2026-11-24T02:00:00Z");  // Tuesday 10:00 in Shanghai
  const TimePoint tue_22_sh = T("2026-11-24T14:00:00Z");
  const TimePoint sat_11_sh = T("2026-11-28T03:00:00Z");
  EXPECT_TRUE(set.contains("office-hours", tue_10_sh));
  EXPECT_FALSE(set.contains("office-hours", tue_22_sh));
  EXPECT_TRUE(set.contains("office-hours", sat_11_sh));  // second spec
  EXPECT_TRUE(set.contains("weekend", sat_11_sh));
  EXPECT_FALSE(set.contains("nope", sat_11_sh));

  // No intervals: never muted.
  EXPECT_FALSE(set.muted_by_time({}, {}, tue_10_sh));
  // Mute intervals.
  EXPECT_TRUE(set.muted_by_time({"weekend"}, {}, sat_11_sh));
  EXPECT_FALSE(set.muted_by_time({"weekend"}, {}, tue_10_sh));
  // Active intervals: muted outside all of them.
  EXPECT_FALSE(set.muted_by_time({}, {"office-hours"}, tue_10_sh));
  EXPECT_TRUE(set.muted_by_time({}, {"office-hours"}, tue_22_sh));
  EXPECT_FALSE(set.muted_by_time({}, {"weekend", "office-hours"}, T("2026-11-29T14:00:00Z")));
  // Both: mute wins inside the active window.
  EXPECT_TRUE(set.muted_by_time({"weekend"}, {"office-hours"}, sat_11_sh));
  // An unknown active interval is never inside: muted.
  EXPECT_TRUE(set.muted_by_time({}, {"nope"}, tue_10_sh));

  TimeIntervalConfig bad;
  bad.name = "bad";
  TimeIntervalSpec b;
  b.location = "No/Such_Zone";
  bad.intervals = {b};
  std::vector<std::string> errors;
  EXPECT_FALSE(TimeIntervalSet::build({bad}, &errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("time interval \"bad\""), std::string::npos);
  EXPECT_THROW(TimeIntervalSet({bad}), std::invalid_argument);
}

// ------------------------------------------------------------------------------------------------
// MuteState
// ------------------------------------------------------------------------------------------------

TEST(MuteState, CombinesInhibitionSilencesAndTime) {
  Config config;
  config.inhibit_rules = {rule({M("severity=\"critical\"")}, {M("severity=\"warning\"")}, {"instance"})};
  config.time_intervals = interval_configs();
  StaticSilenceConfig st;
  st.matchers = {M("instance=\"db1\"")};
  st.starts_at = kNow - 1h;
  st.ends_at = kNow + 1h;
  config.silences = {st};
  MuteState mute(config, {}, counter_ids());

  const Labels warning_a{{"severity", "warning"}, {"instance", "a"}};
  const Labels critical_a{{"severity", "critical"}, {"instance", "a"}};
  auto filter = mute.mute_filter();
  EXPECT_FALSE(filter(warning_a, kNow));
  mute.inhibitor().observe(critical_a);
  EXPECT_TRUE(filter(warning_a, kNow));
  auto status = mute.status(warning_a, kNow);
  ASSERT_EQ(status.inhibited_by.size(), 1u);
  EXPECT_EQ(status.inhibited_by[0], fingerprint_hex(critical_a.fingerprint()));
  EXPECT_TRUE(status.silenced_by.empty());
  EXPECT_TRUE(status.muted());

  const Labels db1{{"instance", "db1"}};
  EXPECT_TRUE(mute.muted(db1, kNow));
  EXPECT_EQ(mute.status(db1, kNow).silenced_by.size(), 1u);
  EXPECT_FALSE(mute.muted(db1, kNow + 1h));

  auto c = mute.silences().set(silence({M("instance=\"db2\"")}, kNow, kNow + 1h), kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(mute.muted(Labels{{"instance", "db2"}}, kNow));

  auto time_check = mute.time_mute_check();
  EXPECT_TRUE(time_check({"weekend"}, {}, T("2026-11-28T03:00:00Z")));
  EXPECT_FALSE(time_check({"weekend"}, {}, T("2026-11-24T03:00:00Z")));

  // Reload: rules and static silences change, runtime silences stay, and so do the alerts that
  // are sources of the new rules.
  Config next;
  next.inhibit_rules = {rule({M("severity=\"critical\"")}, {M("severity=\"info\"")}, {"instance"})};
  mute.reload(next);
  EXPECT_FALSE(mute.muted(warning_a, kNow));
  EXPECT_TRUE(mute.muted(Labels{{"severity", "info"}, {"instance", "a"}}, kNow));
  EXPECT_FALSE(mute.muted(db1, kNow));
  EXPECT_TRUE(mute.muted(Labels{{"instance", "db2"}}, kNow));
  EXPECT_FALSE(mute.time_intervals().has("weekend"));

  // A reload with a bad zone throws and changes nothing.
  Config broken = config;
  broken.time_intervals[0].intervals[0].location = "No/Such_Zone";
  EXPECT_THROW(mute.reload(broken), std::invalid_argument);
  EXPECT_TRUE(mute.muted(Labels{{"severity", "info"}, {"instance", "a"}}, kNow));
}

}  // namespace
}  // namespace promwatch

namespace promwatch {
namespace {

// The config loader and this component agree on the meaning of [[time_intervals]] (weekday
// numbering, negative days, months by name) and [[silences]].
TEST(MuteState, FromLoadedConfig) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/silence_test_config.toml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    const char* text = R"(
[datasource]
url = "http://127.0.0.1:9090"

[route]
receiver = "null"
[[route.routes]]
matchers = ['severity="info"']
mute_time_intervals = ["weekend-maintenance"]

[[receivers]]
name = "null"
type = "webhook"
url = "http://127.0.0.1:1/"

[[inhibit_rules]]
source_matchers = ['severity="critical"']
target_matchers = ['severity="warning"']
equal = ["instance"]

[[time_intervals]]
name = "weekend-maintenance"
intervals = [{ weekdays = ["saturday", "sunday"], times = [{ start_time = "02:00", end_time = "04:00" }], location = "Asia/Shanghai" }]

[[time_intervals]]
name = "month-end"
intervals = [{ days_of_month = ["-2:-1"], months = ["january:march", "december"], years = ["2026:2027"] }]

[[silences]]
matchers = ['instance="db1:9100"']
starts_at = "2026-12-01T00:00:00Z"
ends_at = "2026-12-01T04:00:00Z"
comment = "disk replacement"
)";
    std::fputs(text, f);
    std::fclose(f);
  }
  LoadResult loaded = load_config(path, [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(loaded.config.has_value()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
  MuteState mute(*loaded.config);
  ASSERT_EQ(loaded.config->route->routes.size(), 1u);
  EXPECT_EQ(loaded.config->route->routes[0].mute_time_intervals, std::vector<std::string>{"weekend-maintenance"});
  // Saturday 2026-11-28 03:00 in Shanghai.
  EXPECT_TRUE(mute.muted_by_time({"weekend-maintenance"}, {}, T("2026-11-27T19:00:00Z")));
  EXPECT_FALSE(mute.muted_by_time({"weekend-maintenance"}, {}, T("2026-11-27T21:00:00Z")));
  EXPECT_FALSE(mute.muted_by_time({"weekend-maintenance"}, {}, T("2026-11-26T19:00:00Z")));  // Friday
  EXPECT_TRUE(mute.time_intervals().contains("month-end", T("2026-12-30T12:00:00Z")));
  EXPECT_FALSE(mute.time_intervals().contains("month-end", T("2026-12-29T12:00:00Z")));
  EXPECT_FALSE(mute.time_intervals().contains("month-end", T("2026-11-30T12:00:00Z")));
  EXPECT_TRUE(mute.time_intervals().contains("month-end", T("2027-02-27T12:00:00Z")));
  EXPECT_FALSE(mute.time_intervals().contains("month-end", T("2028-01-31T12:00:00Z")));

  EXPECT_TRUE(mute.muted(Labels{{"instance", "db1:9100"}}, T("2026-12-01T01:00:00Z")));
  mute.inhibitor().observe(Labels{{"severity", "critical"}, {"instance", "x"}});
  EXPECT_TRUE(mute.muted(Labels{{"severity", "warning"}, {"instance", "x"}}, kNow));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace promwatch
