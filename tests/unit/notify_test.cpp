// Notifications: dispatcher (routing, grouping, dedup), payloads, delivery and forwarding.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "promwatch/delivery.hpp"
#include "promwatch/notify.hpp"
#include "support/http_test_server.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using nlohmann::ordered_json;

namespace promwatch {
namespace {

const TimePoint t0 = TimePoint{} + std::chrono::seconds(1'767'225'600);  // 2026-01-01T00:00:00Z

Matcher M(std::string_view text) {
  std::string error;
  auto m = Matcher::parse(text, &error);
  EXPECT_TRUE(m.has_value()) << text << ": " << error;
  return *m;
}

RouteConfig make_route(std::string receiver, std::vector<std::string> group_by = {"alertname"},
                       Duration wait = 30s, Duration interval = 5min, Duration repeat = 4h) {
  RouteConfig r;
  r.receiver = std::move(receiver);
  r.group_by = std::move(group_by);
  r.group_wait = wait;
  r.group_interval = interval;
  r.repeat_interval = repeat;
  return r;
}

ReceiverConfig make_receiver_config(std::string name, bool send_resolved = true, int max_alerts = 0) {
  ReceiverConfig rc;
  rc.name = std::move(name);
  rc.send_resolved = send_resolved;
  rc.max_alerts = max_alerts;
  return rc;
}

AlertEvent firing(Labels labels, TimePoint starts_at, Labels annotations = {}) {
  AlertEvent a;
  a.labels = std::move(labels);
  a.annotations = std::move(annotations);
  a.starts_at = starts_at;
  a.generator_url = "http://promwatch:9097/rules#" + std::string(a.labels.get("alertname"));
  return a;
}

AlertEvent resolved(AlertEvent a, TimePoint at) {
  a.ends_at = at;
  return a;
}

Labels cpu(std::string instance) {
  return Labels{{"alertname", "HighCPU"}, {"cluster", "prod"}, {"instance", instance}, {"job", "node"}};
}

std::vector<std::string> instances(const Notification& n) {
  std::vector<std::string> out;
  for (const auto& a : n.alerts) out.emplace_back(a.event->labels.get("instance"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dispatcher

TEST(Dispatcher, GroupWaitThenOneNotificationWithAllAlerts) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "http://promwatch:9097");
  d.receive({firing(cpu("b:9100"), t0), firing(cpu("a:9100"), t0)}, t0);
  EXPECT_EQ(d.group_count(), 1u);
  ASSERT_TRUE(d.next_wakeup().has_value());
  EXPECT_EQ(*d.next_wakeup(), t0 + 30s);
  EXPECT_TRUE(d.collect_due(t0 + 29s).empty());

  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  const Notification& n = ns[0];
  EXPECT_EQ(n.receiver, "team");
  EXPECT_EQ(n.group_key, R"({}:{alertname="HighCPU"})");
  EXPECT_EQ(n.group_labels, (Labels{{"alertname", "HighCPU"}}));
  EXPECT_EQ(n.status(), "firing");
  EXPECT_EQ(instances(n), (std::vector<std::string>{"a:9100", "b:9100"}));  // sorted by instance
  EXPECT_EQ(n.common_labels, (Labels{{"alertname", "HighCPU"}, {"cluster", "prod"}, {"job", "node"}}));
  EXPECT_EQ(n.group_interval, 5min);
  EXPECT_EQ(n.repeat_interval, 4h);
  EXPECT_EQ(n.firing.size(), 2u);
  EXPECT_TRUE(n.resolved.empty());
  EXPECT_EQ(*d.next_wakeup(), t0 + 30s + 5min);
}

TEST(Dispatcher, NewAlertWithinGroupIntervalWaitsForTheInterval) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a:9100"), t0)}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 31s);

  d.receive({firing(cpu("b:9100"), t0 + 1min)}, t0 + 1min);
  EXPECT_TRUE(d.collect_due(t0 + 1min).empty());
  EXPECT_TRUE(d.collect_due(t0 + 5min).empty());
  auto second = d.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(instances(second[0]), (std::vector<std::string>{"a:9100", "b:9100"}));
}

TEST(Dispatcher, OldAlertFlushesAtOnceWhenGroupWaitIsOver) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a:9100"), t0 - 10min)}, t0);
  EXPECT_EQ(d.collect_due(t0).size(), 1u);
}

TEST(Dispatcher, RepeatIntervalResends) {
  Dispatcher d(make_route("team", {"alertname"}, 30s, 5min, 1h), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a:9100"), t0)}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);

  TimePoint t = t0 + 30s;
  std::optional<TimePoint> resent;
  for (int i = 0; i < 20 && !resent; ++i) {
    t = *d.next_wakeup();
    if (!d.collect_due(t).empty()) resent = t;
  }
  ASSERT_TRUE(resent.has_value());
  // Logged at 30s; the first flush strictly more than 1h later (flushes every 5m).
  EXPECT_EQ(*resent, t0 + 30s + 65min);
}

TEST(Dispatcher, FlapNoticesPassDedupOnce) {
  // Flap detection (#17) hands the dispatcher an alert it already notified as firing, now with
  // `flapping="true"`, and later the same alert without it: each is told once, though the
  // firing set is unchanged, and nothing more until repeat_interval.
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a:9100"), t0)}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);

  d.receive({firing(cpu("a:9100"), t0, Labels{{"flapping", "true"}, {"flap_count", "4"}})}, t0 + 1min);
  auto notice = d.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(notice.size(), 1u);
  ASSERT_EQ(notice[0].alerts.size(), 1u);
  EXPECT_EQ(notice[0].alerts[0].event->annotations.get("flapping"), "true");
  d.record_delivered(notice[0], t0 + 5min + 30s);
  EXPECT_TRUE(d.collect_due(t0 + 10min + 30s).empty());

  d.receive({firing(cpu("a:9100"), t0)}, t0 + 11min);  // stable again, still firing
  auto settled = d.collect_due(t0 + 15min + 30s);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_FALSE(settled[0].alerts[0].event->annotations.has("flapping"));
  d.record_delivered(settled[0], t0 + 15min + 30s);
  EXPECT_TRUE(d.collect_due(t0 + 20min + 30s).empty());
}

TEST(Dispatcher, FailedDeliveryIsReevaluatedAtTheNextFlush) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a:9100"), t0)}, t0);
  ASSERT_EQ(d.collect_due(t0 + 30s).size(), 1u);
  // Not recorded as delivered: the next flush notifies again.
  EXPECT_EQ(d.collect_due(t0 + 5min + 30s).size(), 1u);
}

TEST(Dispatcher, ResolvedWithSendResolved) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", true)}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  AlertEvent b = firing(cpu("b:9100"), t0);
  d.receive({a, b}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);

  d.receive({resolved(b, t0 + 2min)}, t0 + 2min);
  auto second = d.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(second.size(), 1u);
  const auto& n = second[0];
  EXPECT_EQ(n.status(), "firing");
  ASSERT_EQ(n.alerts.size(), 2u);
  EXPECT_EQ(n.alerts[0].status(), "firing");
  EXPECT_EQ(n.alerts[0].ends_at(), TimePoint{});
  EXPECT_EQ(n.alerts[1].status(), "resolved");
  EXPECT_EQ(n.alerts[1].ends_at(), t0 + 2min);
  EXPECT_EQ(n.resolved, (std::vector<std::uint64_t>{cpu("b:9100").fingerprint()}));
  d.record_delivered(n, t0 + 5min + 30s);
  // The resolved alert left the group after the flush; nothing changed since.
  EXPECT_EQ(d.alert_count(), 1u);
  EXPECT_TRUE(d.collect_due(t0 + 10min + 30s).empty());
}

TEST(Dispatcher, ResolvedWithoutSendResolved) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", false)}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  AlertEvent b = firing(cpu("b:9100"), t0);
  d.receive({a, b}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);

  // One resolves: firing set is a subset, resolved ones are not sent -> nothing.
  d.receive({resolved(b, t0 + 2min)}, t0 + 2min);
  EXPECT_TRUE(d.collect_due(t0 + 5min + 30s).empty());
  EXPECT_EQ(d.alert_count(), 1u);

  // A new firing alert: the message lists only firing alerts.
  d.receive({firing(cpu("c:9100"), t0 + 6min)}, t0 + 6min);
  auto third = d.collect_due(t0 + 10min + 30s);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(instances(third[0]), (std::vector<std::string>{"a:9100", "c:9100"}));
  d.record_delivered(third[0], t0 + 10min + 30s);

  // Everything resolves: no message, but the log forgets the firing alerts.
  d.receive({resolved(a, t0 + 11min), resolved(firing(cpu("c:9100"), t0 + 6min), t0 + 11min)}, t0 + 11min);
  EXPECT_TRUE(d.collect_due(t0 + 15min + 30s).empty());
  const auto* entry = d.log_entry("team", R"({}:{alertname="HighCPU"})");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->firing.empty());
  EXPECT_EQ(entry->resolved.size(), 2u);
  EXPECT_EQ(d.group_count(), 0u);
}

TEST(Dispatcher, AllResolvedNotifiesAndClearsTheGroup) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", true)}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  d.receive({a}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);

  d.receive({resolved(a, t0 + 1min)}, t0 + 1min);
  auto second = d.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].status(), "resolved");
  EXPECT_EQ(second[0].alerts.at(0).status(), "resolved");
  EXPECT_TRUE(second[0].firing.empty());
  EXPECT_EQ(d.group_count(), 0u);
  EXPECT_FALSE(d.next_wakeup().has_value());
  d.record_delivered(second[0], t0 + 5min + 30s);

  // Prometheus re-sends resolved alerts for a while: they make no new message.
  d.receive({resolved(a, t0 + 1min)}, t0 + 6min);
  EXPECT_TRUE(d.collect_due(t0 + 7min).empty());
  EXPECT_EQ(d.group_count(), 0u);
}

TEST(Dispatcher, FiredAndResolvedWithinOneIntervalIsNotNotified) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", true)}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  d.receive({a}, t0);
  d.receive({resolved(a, t0 + 10s)}, t0 + 10s);
  EXPECT_TRUE(d.collect_due(t0 + 30s).empty());
  EXPECT_EQ(d.group_count(), 0u);
}

TEST(Dispatcher, FutureEndsAtCountsAsFiringUntilItPasses) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", true)}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  a.ends_at = t0 + 1h;  // Alertmanager's "valid until"
  d.receive({a}, t0);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].alerts[0].status(), "firing");
  EXPECT_EQ(ns[0].alerts[0].ends_at(), TimePoint{});
}

TEST(Dispatcher, StaleResolveDoesNotEndANewerFiring) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  AlertEvent old = firing(cpu("a"), t0 - 1h);
  d.receive({firing(cpu("a"), t0)}, t0);
  d.receive({resolved(old, t0 - 30min)}, t0 + 1s);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].alerts.at(0).status(), "firing");
}

TEST(Dispatcher, RefiringReplacesAResolvedAlert) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  AlertEvent a = firing(cpu("a"), t0);
  d.receive({a}, t0);
  d.receive({resolved(a, t0 + 5s)}, t0 + 5s);
  d.receive({firing(cpu("a"), t0 + 10s)}, t0 + 10s);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].alerts.at(0).status(), "firing");
  EXPECT_EQ(ns[0].alerts.at(0).event->starts_at, t0 + 10s);
}

TEST(Dispatcher, UnknownGroupByLabelsAreLeftOut) {
  Dispatcher d(make_route("team", {"alertname", "cluster", "nonexistent"}), {}, "");
  auto m = d.route(cpu("a"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].group_key, R"({}:{alertname="HighCPU", cluster="prod"})");
  EXPECT_EQ(m[0].route_key, "{}");
}

TEST(Dispatcher, TimeMuteSuppressesTheMessage) {
  RouteConfig root = make_route("team");
  root.mute_time_intervals = {"weekend"};
  Dispatcher d(root, {make_receiver_config("team")}, "");
  bool muted = true;
  d.set_time_mute_check([&](const std::vector<std::string>& mute, const std::vector<std::string>&, TimePoint) {
    EXPECT_EQ(mute, (std::vector<std::string>{"weekend"}));
    return muted;
  });
  d.receive({firing(cpu("a"), t0)}, t0);
  EXPECT_TRUE(d.collect_due(t0 + 30s).empty());
  muted = false;
  EXPECT_EQ(d.collect_due(t0 + 5min + 30s).size(), 1u);
}

TEST(Dispatcher, MaxAlertsTruncates) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", true, 2)}, "");
  d.receive({firing(cpu("a"), t0), firing(cpu("b"), t0), firing(cpu("c"), t0)}, t0);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(instances(ns[0]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ns[0].truncated_alerts, 1u);
  EXPECT_EQ(ns[0].firing.size(), 3u);
}

TEST(Dispatcher, MuteFilterLeavesAlertsOut) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.set_mute_filter([](const Labels& l, TimePoint) { return l.get("instance") == "b"; });
  d.receive({firing(cpu("a"), t0), firing(cpu("b"), t0)}, t0);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(instances(ns[0]), (std::vector<std::string>{"a"}));
}

RouteConfig tree() {
  RouteConfig root = make_route("default", {"alertname"});
  RouteConfig critical = make_route("pager", {});
  critical.group_by_all = true;
  critical.matchers = {M(R"(severity="critical")")};
  RouteConfig db = make_route("db-pager", {});
  db.matchers = {M(R"(team="db")")};
  critical.routes.push_back(db);
  RouteConfig infra = make_route("infra", {"alertname", "team"});
  infra.matchers = {M(R"(team=~"infra|net")")};
  infra.continue_matching = true;
  RouteConfig infra2 = make_route("infra2", {"alertname"});
  infra2.matchers = {M(R"(team="infra")"), M(R"(env!="dev")")};
  root.routes = {critical, infra, infra2};
  return root;
}

TEST(Dispatcher, RoutesLikeComparesTreeReceiversAndExternalUrl) {
  const std::vector<ReceiverConfig> receivers = {make_receiver_config("default"), make_receiver_config("pager")};
  Dispatcher running(tree(), receivers, "http://promwatch");
  EXPECT_TRUE(Dispatcher(tree(), receivers, "http://promwatch").routes_like(running));
  EXPECT_FALSE(Dispatcher(tree(), receivers, "http://other").routes_like(running));
  EXPECT_FALSE(Dispatcher(tree(), {make_receiver_config("default", false), make_receiver_config("pager")},
                          "http://promwatch")
                   .routes_like(running));
  RouteConfig waits_longer = tree();
  waits_longer.routes[0].group_wait += 1s;
  EXPECT_FALSE(Dispatcher(waits_longer, receivers, "http://promwatch").routes_like(running));
  RouteConfig other_matcher = tree();
  other_matcher.routes[0].matchers = {M(R"(severity=~"critical")")};
  EXPECT_FALSE(Dispatcher(other_matcher, receivers, "http://promwatch").routes_like(running));
  RouteConfig fewer = tree();
  fewer.routes.pop_back();
  EXPECT_FALSE(Dispatcher(fewer, receivers, "http://promwatch").routes_like(running));
}

TEST(Dispatcher, RouteTreeNestedContinueAndGroupKeys) {
  Dispatcher d(tree(), {}, "");
  auto m = d.route(Labels{{"alertname", "A"}, {"severity", "critical"}, {"team", "db"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].receiver, "db-pager");
  EXPECT_EQ(m[0].route_key, R"({}/{severity="critical"}/{team="db"})");
  EXPECT_EQ(m[0].group_key, R"({}/{severity="critical"}/{team="db"}:{})");  // group_by = []

  m = d.route(Labels{{"alertname", "A"}, {"severity", "critical"}, {"team", "ops"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].receiver, "pager");  // no child matched: the node itself
  EXPECT_EQ(m[0].group_key,
            R"({}/{severity="critical"}:{alertname="A", severity="critical", team="ops"})");  // "..."

  // critical matched without continue: infra is not tried even though it would match.
  m = d.route(Labels{{"alertname", "A"}, {"severity", "critical"}, {"team", "infra"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].receiver, "pager");

  m = d.route(Labels{{"alertname", "A"}, {"team", "infra"}});
  ASSERT_EQ(m.size(), 2u);  // continue lets the next sibling match too
  EXPECT_EQ(m[0].receiver, "infra");
  EXPECT_EQ(m[0].group_key, R"({}/{team=~"infra|net"}:{alertname="A", team="infra"})");
  EXPECT_EQ(m[1].receiver, "infra2");
  // Matchers sorted by name in the key.
  EXPECT_EQ(m[1].group_key, R"({}/{env!="dev",team="infra"}:{alertname="A"})");

  m = d.route(Labels{{"alertname", "A"}, {"team", "net"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].receiver, "infra");

  m = d.route(Labels{{"alertname", "Quote\"d"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].receiver, "default");
  EXPECT_EQ(m[0].group_key, R"({}:{alertname="Quote\"d"})");
}

TEST(Dispatcher, OneAlertInTwoRoutesMakesTwoNotifications) {
  Dispatcher d(tree(), {}, "");
  d.receive({firing(Labels{{"alertname", "A"}, {"team", "infra"}}, t0)}, t0);
  EXPECT_EQ(d.group_count(), 2u);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 2u);
}

TEST(Dispatcher, ReconcileReceivesMissingAndResolvesStaleAlerts) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  AlertEvent stale = firing(cpu("a:9100"), t0);
  AlertEvent kept = firing(cpu("b:9100"), t0);
  d.receive({stale, kept}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);
  // After a restore the rules have b and c firing; a resolved before the crash.
  AlertEvent missing = firing(cpu("c:9100"), t0 + 1min);
  EXPECT_EQ(d.reconcile({kept, missing}, t0 + 2min), 2u);
  EXPECT_EQ(d.reconcile({kept, missing}, t0 + 2min), 0u);  // in line now
  auto next = d.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(next.size(), 1u);
  ASSERT_EQ(next[0].alerts.size(), 3u);
  EXPECT_EQ(next[0].alerts[0].status(), "resolved");
  EXPECT_EQ(instances(next[0]), (std::vector<std::string>{"a:9100", "b:9100", "c:9100"}));
  EXPECT_EQ(next[0].alerts[0].ends_at(), t0 + 2min);
}

// ---- high availability: the shared notification log ----

TEST(Dispatcher, LogObserverSeesDeliveriesAndSendResolvedFalseClears) {
  Dispatcher d(make_route("team"), {make_receiver_config("team", false)}, "");
  std::vector<NotificationLogEntry> seen;
  d.set_log_observer([&](const NotificationLogEntry& e) { seen.push_back(e); });
  AlertEvent a = firing(cpu("a:9100"), t0);
  d.receive({a}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 31s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].firing, (std::vector<std::uint64_t>{cpu("a:9100").fingerprint()}));
  EXPECT_EQ(seen[0].timestamp, t0 + 31s);
  // Everything resolved and send_resolved = false: no message, but the log is cleared and the
  // observer is told, so a peer taking over does not think the alert still fires there.
  d.receive({resolved(a, t0 + 1min)}, t0 + 1min);
  EXPECT_TRUE(d.collect_due(t0 + 5min + 30s).empty());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[1].firing.empty());
}

TEST(Dispatcher, MergedPeerLogSuppressesWhatThePeerDelivered) {
  // Two replicas receive the same alerts; only the leader flushes and delivers.
  Dispatcher leader(make_route("team"), {make_receiver_config("team")}, "");
  Dispatcher standby(make_route("team"), {make_receiver_config("team")}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  leader.receive({a}, t0);
  standby.receive({a}, t0);
  auto sent = leader.collect_due(t0 + 30s);
  ASSERT_EQ(sent.size(), 1u);
  leader.record_delivered(sent[0], t0 + 30s);
  for (auto& e : leader.log_entries()) EXPECT_TRUE(standby.merge_log_entry(e));
  // An older entry does not replace a newer one.
  NotificationLogEntry stale = leader.log_entries().front();
  stale.timestamp = t0;
  EXPECT_FALSE(standby.merge_log_entry(stale));
  // The standby takes over a minute later: nothing new, nothing within repeat_interval.
  EXPECT_TRUE(standby.collect_due(t0 + 90s).empty());
  // A second alert the old leader never reported is sent by the new one at once.
  AlertEvent b = firing(cpu("b:9100"), t0 + 100s);
  standby.receive({b}, t0 + 100s);
  EXPECT_TRUE(standby.collect_due(t0 + 5min).empty());  // the group waits for its interval
  auto next = standby.collect_due(t0 + 90s + 5min);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(instances(next[0]), (std::vector<std::string>{"a:9100", "b:9100"}));
}

TEST(Dispatcher, StandbyDropsOnlyResolvedAlertsTheLeaderReported) {
  Dispatcher standby(make_route("team"), {make_receiver_config("team")}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  AlertEvent b = firing(cpu("b:9100"), t0);
  standby.receive({a, b}, t0);
  standby.receive({resolved(a, t0 + 1min), resolved(b, t0 + 1min)}, t0 + 1min);
  // No log entry yet: the leader may not have reported the resolution; both stay.
  EXPECT_EQ(standby.drop_notified_resolved(t0 + 2min), 0u);
  NotificationLogEntry before;
  before.receiver = "team";
  before.group_key = standby.route(cpu("a:9100")).front().group_key;
  before.firing = {cpu("a:9100").fingerprint(), cpu("b:9100").fingerprint()};
  before.timestamp = t0 + 30s;  // delivered before they resolved
  standby.merge_log_entry(before);
  EXPECT_EQ(standby.drop_notified_resolved(t0 + 2min), 0u);
  // Delivered after they resolved, but a message made before: still lists them as firing.
  NotificationLogEntry late = before;
  late.timestamp = t0 + 3min;
  standby.merge_log_entry(late);
  EXPECT_EQ(standby.drop_notified_resolved(t0 + 4min), 0u);
  NotificationLogEntry after = before;
  after.firing.clear();
  after.resolved = before.firing;
  after.timestamp = t0 + 5min;
  standby.merge_log_entry(after);
  EXPECT_EQ(standby.drop_notified_resolved(t0 + 6min), 2u);
  EXPECT_EQ(standby.group_count(), 0u);
}

TEST(Dispatcher, TakeoverFlushesWhatTheOldLeaderDidNotDeliver) {
  // The standby never flushed; its groups are due at once when it becomes leader, and the
  // resolved alert it still holds is reported because the log never saw it delivered.
  Dispatcher standby(make_route("team"), {make_receiver_config("team")}, "");
  AlertEvent a = firing(cpu("a:9100"), t0);
  standby.receive({a}, t0);
  NotificationLogEntry firing_logged;
  firing_logged.receiver = "team";
  firing_logged.group_key = standby.route(cpu("a:9100")).front().group_key;
  firing_logged.firing = {cpu("a:9100").fingerprint()};
  firing_logged.timestamp = t0 + 30s;
  standby.merge_log_entry(firing_logged);
  standby.receive({resolved(a, t0 + 2min)}, t0 + 2min);
  EXPECT_EQ(standby.drop_notified_resolved(t0 + 3min), 0u);
  auto due = standby.collect_due(t0 + 3min);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].status(), "resolved");
}

TEST(Dispatcher, RouteMatchersKeyEscapes) {
  EXPECT_EQ(route_matchers_key({}), "{}");
  EXPECT_EQ(route_matchers_key({M(R"(b="2")"), M(R"(a=~"x.*")"), M(R"(a="x\"y")")}),
            R"({a="x\"y",a=~"x.*",b="2"})");
}

TEST(Dispatcher, ExportImportRoundTrip) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a"), t0)}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);
  d.receive({firing(cpu("b"), t0 + 1min)}, t0 + 1min);
  DispatcherState s = d.export_state();
  ASSERT_EQ(s.log.size(), 1u);
  ASSERT_EQ(s.groups.size(), 1u);

  Dispatcher e(make_route("team"), {make_receiver_config("team")}, "");
  e.import_state(s, t0 + 2min);
  EXPECT_EQ(e.next_wakeup(), d.next_wakeup());
  auto a = d.collect_due(t0 + 5min + 30s);
  auto b = e.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(webhook_payload(a[0]), webhook_payload(b[0]));
}

TEST(Dispatcher, ImportIntoAChangedTreeReroutesAlerts) {
  Dispatcher d(make_route("team"), {make_receiver_config("team")}, "");
  d.receive({firing(cpu("a"), t0)}, t0);
  DispatcherState s = d.export_state();

  RouteConfig root = make_route("team");
  RouteConfig node = make_route("nodes", {"instance"});
  node.matchers = {M(R"(job="node")")};
  root.routes.push_back(node);
  Dispatcher e(root, {make_receiver_config("nodes")}, "");
  e.import_state(s, t0 + 1s);
  auto ns = e.collect_due(t0 + 1s + 30s);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].receiver, "nodes");
  EXPECT_EQ(ns[0].group_key, R"({}/{job="node"}:{instance="a"})");
}

// ---------------------------------------------------------------------------------------------
// Payloads

TEST(Payload, WebhookMatchesAlertmanager) {
  Dispatcher d(make_route("team.hook", {"alertname"}), {make_receiver_config("team.hook", true, 0)},
               "http://promwatch:9097");
  AlertEvent a = firing(cpu("a:9100"), t0 + 123ms, Labels{{"summary", "CPU high on a"}, {"runbook", "r1"}});
  AlertEvent b = firing(cpu("b:9100"), t0, Labels{{"summary", "CPU high on b"}, {"runbook", "r1"}});
  d.receive({a, b}, t0);
  auto first = d.collect_due(t0 + 30s);
  ASSERT_EQ(first.size(), 1u);
  d.record_delivered(first[0], t0 + 30s);
  d.receive({resolved(b, t0 + 1min)}, t0 + 1min);
  auto ns = d.collect_due(t0 + 5min + 30s);
  ASSERT_EQ(ns.size(), 1u);

  ordered_json got = ordered_json::parse(webhook_payload(ns[0]));
  ordered_json want = ordered_json::parse(R"({
    "receiver": "team\\.hook",
    "status": "firing",
    "alerts": [
      {
        "status": "firing",
        "labels": {"alertname": "HighCPU", "cluster": "prod", "instance": "a:9100", "job": "node"},
        "annotations": {"runbook": "r1", "summary": "CPU high on a"},
        "startsAt": "2026-01-01T00:00:00.123Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://promwatch:9097/rules#HighCPU",
        "fingerprint": "2bb4b1f76175aff2"
      },
      {
        "status": "resolved",
        "labels": {"alertname": "HighCPU", "cluster": "prod", "instance": "b:9100", "job": "node"},
        "annotations": {"runbook": "r1", "summary": "CPU high on b"},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2026-01-01T00:01:00Z",
        "generatorURL": "http://promwatch:9097/rules#HighCPU",
        "fingerprint": "cd548247b35f27ed"
      }
    ],
    "groupLabels": {"alertname": "HighCPU"},
    "commonLabels": {"alertname": "HighCPU", "cluster": "prod", "job": "node"},
    "commonAnnotations": {"runbook": "r1"},
    "externalURL": "http://promwatch:9097",
    "version": "4",
    "groupKey": "{}:{alertname=\"HighCPU\"}",
    "truncatedAlerts": 0
  })");
  // Field by field, in Alertmanager's order.
  ASSERT_EQ(got.size(), want.size());
  auto g = got.begin();
  for (auto w = want.begin(); w != want.end(); ++w, ++g) {
    EXPECT_EQ(g.key(), w.key());
    EXPECT_EQ(g.value(), w.value()) << w.key();
  }
  for (std::size_t i = 0; i < want["alerts"].size(); ++i) {
    auto ga = got["alerts"][i].begin();
    for (auto wa = want["alerts"][i].begin(); wa != want["alerts"][i].end(); ++wa, ++ga) {
      EXPECT_EQ(ga.key(), wa.key());
    }
  }
}

// The expected bodies below are what Alertmanager 0.25 (Debian's prometheus-alertmanager) sent
// to a webhook for the same alerts, routes and receiver, byte for byte.
TEST(Payload, WebhookBytesMatchAlertmanager025) {
  RouteConfig root = make_route("team.hook", {"alertname"}, 1s, 2s, 1h);
  RouteConfig critical = make_route("team.hook", {}, 1s, 2s, 1h);
  critical.matchers = {M(R"(severity="critical")"), M(R"(team=~"db|infra")")};
  critical.group_by_all = true;
  root.routes.push_back(critical);
  Dispatcher d(root, {make_receiver_config("team.hook", true, 1)}, "http://promwatch:9097");

  AlertEvent a;
  a.labels = Labels{{"alertname", "HighCPU"}, {"instance", "a:9100"}, {"job", "node"},
                    {"cluster", "prod"}, {"severity", "critical"}, {"team", "db"}};
  a.annotations = Labels{{"summary", "x <b> & y"}};
  a.starts_at = t0 + 123ms;
  a.generator_url = "http://g/?a=1&b=2";
  d.receive({a}, t0 + 10min);
  auto ns = d.collect_due(t0 + 10min);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(webhook_payload(ns[0]),
            R"({"receiver":"team\\.hook","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighCPU","cluster":"prod","instance":"a:9100","job":"node","severity":"critical","team":"db"},"annotations":{"summary":"x \u003cb\u003e \u0026 y"},"startsAt":"2026-01-01T00:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://g/?a=1\u0026b=2","fingerprint":"fc8da18567230f21"}],"groupLabels":{"alertname":"HighCPU","cluster":"prod","instance":"a:9100","job":"node","severity":"critical","team":"db"},"commonLabels":{"alertname":"HighCPU","cluster":"prod","instance":"a:9100","job":"node","severity":"critical","team":"db"},"commonAnnotations":{"summary":"x \u003cb\u003e \u0026 y"},"externalURL":"http://promwatch:9097","version":"4","groupKey":"{}/{severity=\"critical\",team=~\"db|infra\"}:{alertname=\"HighCPU\", cluster=\"prod\", instance=\"a:9100\", job=\"node\", severity=\"critical\", team=\"db\"}","truncatedAlerts":0})"
            "\n");

  // Truncation keeps the first alerts in Alertmanager's order; status and common labels are
  // computed from what is sent.
  auto disk = [](std::string instance) {
    return Labels{{"alertname", "Disk"}, {"instance", instance}, {"job", "node"}};
  };
  Labels d1 = disk("d1");
  d1.set("extra", "1");
  AlertEvent r = firing(disk("d0"), t0, Labels{{"summary", "s"}});
  r.ends_at = t0 + 5min;
  std::vector<AlertEvent> batch = {firing(disk("d2"), t0, Labels{{"summary", "s"}}),
                                   firing(d1, t0, Labels{{"summary", "s"}}), r};
  for (auto& e : batch) e.generator_url.clear();
  d.receive(batch, t0 + 10min);
  ns = d.collect_due(t0 + 10min);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(webhook_payload(ns[0]),
            R"({"receiver":"team\\.hook","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"Disk","instance":"d0","job":"node"},"annotations":{"summary":"s"},"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:05:00Z","generatorURL":"","fingerprint":"720550b07885bd2f"}],"groupLabels":{"alertname":"Disk"},"commonLabels":{"alertname":"Disk","instance":"d0","job":"node"},"commonAnnotations":{"summary":"s"},"externalURL":"http://promwatch:9097","version":"4","groupKey":"{}:{alertname=\"Disk\"}","truncatedAlerts":2})"
            "\n");
}

TEST(Payload, WebhookTruncatedAndEmptyMaps) {
  Dispatcher d(make_route("r", {}), {make_receiver_config("r", true, 1)}, "");
  d.receive({firing(Labels{{"alertname", "X"}, {"a", "1"}}, t0), firing(Labels{{"alertname", "Y"}}, t0)}, t0);
  auto ns = d.collect_due(t0 + 30s);
  ASSERT_EQ(ns.size(), 1u);
  json got = json::parse(webhook_payload(ns[0]));
  EXPECT_EQ(got["truncatedAlerts"], 1);
  EXPECT_EQ(got["alerts"].size(), 1u);
  EXPECT_EQ(got["groupKey"], "{}:{}");
  EXPECT_TRUE(got["groupLabels"].is_object());
  EXPECT_TRUE(got["groupLabels"].empty());
  EXPECT_TRUE(got["commonAnnotations"].is_object());
  EXPECT_TRUE(got["alerts"][0]["annotations"].is_object());
  EXPECT_EQ(got["externalURL"], "");
}

TEST(Payload, AlertmanagerV2Body) {
  AlertEvent a = firing(cpu("a:9100"), t0, Labels{{"summary", "s"}});
  a.ends_at = t0 + 4min;
  json got = json::parse(alertmanager_v2_payload({a}));
  json want = json::parse(R"([{
    "labels": {"alertname": "HighCPU", "cluster": "prod", "instance": "a:9100", "job": "node"},
    "annotations": {"summary": "s"},
    "startsAt": "2026-01-01T00:00:00Z",
    "endsAt": "2026-01-01T00:04:00Z",
    "generatorURL": "http://promwatch:9097/rules#HighCPU"
  }])");
  EXPECT_EQ(got, want);
  EXPECT_EQ(alertmanager_v2_payload({}), "[]");
}

// Every character class Go's encoder treats specially. The expected body is what Alertmanager
// 0.25 (Debian's, built with Go 1.19: no short \b \f escapes yet) sent to a webhook for this
// alert, byte for byte: control characters as \u00XX except \n \r \t, DEL as is, <>& escaped,
// U+2028/U+2029 escaped, a valid U+FFFD and other UTF-8 as is.
TEST(Payload, WebhookEscapingMatchesAlertmanager025) {
  const std::string v = "a\b b\f c\x01 d\x1f e\x7f f<>& g\u2028h\u2029 i\ufffd j\"\\ k\n\r\t l\u00e9\U0001F600";
  Dispatcher d(make_route("hook", {"alertname"}, 0s), {make_receiver_config("hook")}, "http://vm:19451");
  AlertEvent a;
  a.labels = Labels{{"alertname", "Esc"}, {"v", v}};
  a.annotations = Labels{{"s", v}};
  a.starts_at = t0;
  a.generator_url = "http://g/?a=1&b=<2>";
  d.receive({a}, t0 + 1min);
  auto ns = d.collect_due(t0 + 1min);
  ASSERT_EQ(ns.size(), 1u);
  const std::string ev =
      R"(a\u0008 b\u000c c\u0001 d\u001f e)"
      "\x7f"
      R"( f\u003c\u003e\u0026 g\u2028h\u2029 i)"
      "\xef\xbf\xbd"
      R"( j\"\\ k\n\r\t l)"
      "\xc3\xa9\xf0\x9f\x98\x80";
  EXPECT_EQ(webhook_payload(ns[0]),
            R"({"receiver":"hook","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Esc","v":")" +
                ev + R"("},"annotations":{"s":")" + ev +
                R"("},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://g/?a=1\u0026b=\u003c2\u003e","fingerprint":"3bcc8c7e9455a327"}],"groupLabels":{"alertname":"Esc"},"commonLabels":{"alertname":"Esc","v":")" +
                ev + R"("},"commonAnnotations":{"s":")" + ev +
                R"("},"externalURL":"http://vm:19451","version":"4","groupKey":"{}:{alertname=\"Esc\"}","truncatedAlerts":0})"
                "\n");
}

// Invalid UTF-8 cannot reach a webhook through Alertmanager (its JSON decoder replaces it on
// input), so this follows Go's encoder (encoding/json, encodeState.string): every byte that does
// not start a well-formed sequence becomes \ufffd, and the text goes on after it.
TEST(Payload, InvalidUtf8IsReplacedAsGoDoes) {
  const std::pair<std::string, std::string> cases[] = {
      {"x\xff\xfey", R"(x\ufffd\ufffdy)"},                    // bytes that never start a character
      {"\x80z", R"(\ufffdz)"},                                 // a stray continuation byte
      {"a\xe2\x82", R"(a\ufffd\ufffd)"},                      // truncated at the end: one per byte
      {"\xe2\x82z", R"(\ufffd\ufffdz)"},                      // truncated before an ASCII byte
      {"\xc0\xaf", R"(\ufffd\ufffd)"},                        // overlong '/'
      {"\xe0\x80\xaf", R"(\ufffd\ufffd\ufffd)"},              // overlong, three bytes
      {"\xed\xa0\x80", R"(\ufffd\ufffd\ufffd)"},              // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", R"(\ufffd\ufffd\ufffd\ufffd)"},    // above U+10FFFF
      {"\xf4\x8f\xbf\xbf<", "\xf4\x8f\xbf\xbf\\u003c"},        // U+10FFFF itself is valid
      {"\xe2\x80\xa8\xe2\x80", R"(\u2028\ufffd\ufffd)"},      // U+2028, then a truncated one
      {std::string("n\0l", 3), R"(n\u0000l)"},
  };
  for (const auto& [raw, escaped] : cases) {
    Notification n;
    n.receiver = "r";
    n.external_url = raw;
    const std::string body = webhook_payload(n);
    const std::string want = R"("externalURL":")" + escaped + R"(",)";
    EXPECT_NE(body.find(want), std::string::npos) << body << "\nwant " << want;
  }
}

// The Alertmanager API body keeps the bytes it had when nlohmann-json wrote it (short escapes,
// nothing else escaped); invalid UTF-8 is replaced as in the webhook.
TEST(Payload, AlertmanagerV2Escaping) {
  AlertEvent a;
  a.labels = Labels{{"alertname", "A"}, {"v", "a\b\f\n\r\t\x01\x7f<>&\u2028\"\\\xff\u00e9"}};
  a.generator_url = "u";
  EXPECT_EQ(alertmanager_v2_payload({a}),
            R"([{"labels":{"alertname":"A","v":"a\b\f\n\r\t\u0001)"
            "\x7f<>&\xe2\x80\xa8"
            R"(\"\\\ufffd)"
            "\xc3\xa9"
            R"("},"annotations":{},"generatorURL":"u"}])");
  a.starts_at = t0;
  a.ends_at = t0 + 1500ms;
  a.annotations = Labels{{"s", "x"}};
  EXPECT_EQ(alertmanager_v2_payload({a, a}).substr(0, 2), "[{");
  EXPECT_NE(alertmanager_v2_payload({a}).find(
                R"("annotations":{"s":"x"},"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:00:01.5Z","generatorURL":"u"})"),
            std::string::npos);
}

TEST(Payload, QuoteMeta) {
  EXPECT_EQ(go_quote_meta("a.b+c*d?(e)|[f]{g}^h$\\"), "a\\.b\\+c\\*d\\?\\(e\\)\\|\\[f\\]\\{g\\}\\^h\\$\\\\");
  EXPECT_EQ(go_quote_meta("ops-team_1"), "ops-team_1");
}

// ---------------------------------------------------------------------------------------------
// Delivery

Notification sample_notification(std::string receiver, std::string group_key = "{}:{alertname=\"A\"}",
                                  int alerts = 1, Duration group_interval = 5min) {
  Notification n;
  n.receiver = receiver;
  n.group_key = std::move(group_key);
  n.group_interval = group_interval;
  n.repeat_interval = 4h;
  for (int i = 0; i < alerts; ++i) {
    AlertEvent a;
    a.labels = Labels{{"alertname", "A"}, {"i", std::to_string(i)}};
    a.starts_at = t0;
    n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(a)), false});
  }
  n.created_at = t0;
  return n;
}

struct DeliveryFixture : ::testing::Test {
  boost::asio::io_context io;
  HttpClient http{io};
  std::vector<DeliveryReport> reports;
  NotifyConfig notify;

  std::shared_ptr<const Receiver> webhook(const std::string& name, const std::string& url) {
    ReceiverConfig rc = make_receiver_config(name);
    rc.url = url;
    rc.http.headers = {{"X-Team", "ops"}};
    rc.http.basic_auth = BasicAuth{"user", "pass"};
    std::string error;
    auto r = make_receiver(rc, notify, &error);
    EXPECT_TRUE(r) << error;
    return r;
  }

  std::unique_ptr<Delivery> delivery(DeliveryOptions o) {
    return std::make_unique<Delivery>(io, http, o, [this](const DeliveryReport& r) { reports.push_back(r); });
  }

  // Runs the loop until `done` holds or `timeout` passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.restart();
      io.run_for(10ms);
    }
    return true;
  }

  std::vector<std::string> results() const {
    std::vector<std::string> out;
    for (const auto& r : reports) out.push_back(r.result);
    return out;
  }
};

DeliveryOptions fast_options() {
  DeliveryOptions o;
  o.initial_backoff = 50ms;
  return o;
}

TEST_F(DeliveryFixture, WebhookSuccess) {
  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{200, {}, "ok"}; });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("hook", server.url() + "/alerts")});
  Notification n = sample_notification("hook");
  ASSERT_TRUE(dl->submit(n));
  EXPECT_EQ(dl->queue_length(), 1u);
  ASSERT_TRUE(run_until([&] { return !reports.empty(); }));
  EXPECT_EQ(results(), (std::vector<std::string>{"success"}));
  EXPECT_EQ(reports[0].receiver, "hook");
  EXPECT_EQ(reports[0].group_key, n.group_key);
  EXPECT_EQ(reports[0].attempts, 1);
  ASSERT_TRUE(reports[0].notification);
  EXPECT_EQ(dl->queue_length(), 0u);

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/alerts");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].headers["x-team"], "ops");
  EXPECT_EQ(reqs[0].headers["authorization"], "Basic dXNlcjpwYXNz");
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(webhook_payload(n)));
}

TEST_F(DeliveryFixture, WebhookAuthorizationAndBadScheme) {
  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{204, {}, ""}; });
  ReceiverConfig rc = make_receiver_config("hook");
  rc.url = server.url();
  rc.http.authorization = Authorization{"Bearer", "tok"};
  std::string error;
  auto good = make_receiver(rc, notify, &error);
  ASSERT_TRUE(good) << error;
  rc.name = "ftp";
  rc.url = "ftp://127.0.0.1/x";
  auto bad = make_receiver(rc, notify, &error);
  auto dl = delivery(fast_options());
  dl->set_receivers({good, bad});
  dl->submit(sample_notification("hook"));
  dl->submit(sample_notification("ftp"));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 2; }));
  for (const auto& r : reports) {
    if (r.receiver == "hook") {
      EXPECT_EQ(r.result, "success");
    } else {
      EXPECT_EQ(r.result, "failed");
    }
  }
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer tok");
}

TEST(Delivery, JudgeHttpStatus) {
  auto judge = [](int status, std::string error = "") {
    HttpResponse r;
    r.status = status;
    r.error = std::move(error);
    return judge_http_status(r).verdict;
  };
  EXPECT_EQ(judge(200), DeliveryVerdict::Delivered);
  EXPECT_EQ(judge(204), DeliveryVerdict::Delivered);
  EXPECT_EQ(judge(0, "connection refused"), DeliveryVerdict::Retry);
  for (int s : {408, 425, 429, 500, 502, 503, 504}) EXPECT_EQ(judge(s), DeliveryVerdict::Retry) << s;
  for (int s : {301, 302, 400, 401, 403, 404, 413, 422}) EXPECT_EQ(judge(s), DeliveryVerdict::Failed) << s;
}

TEST_F(DeliveryFixture, RetriesServerErrorsWithBackoff) {
  std::atomic<int> count{0};
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> times;
  test::TestHttpServer server([&](const test::TestRequest&) {
    {
      std::lock_guard lock(mu);
      times.push_back(std::chrono::steady_clock::now());
    }
    return ++count <= 2 ? test::TestResponse{500, {}, "oops"} : test::TestResponse{200, {}, ""};
  });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 3; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"retry", "retry", "success"}));
  EXPECT_EQ(reports[0].reason, "HTTP 500");
  EXPECT_EQ(reports[2].attempts, 3);
  EXPECT_EQ(server.request_count(), 3u);
  // Backoff 50ms then 100ms, each jittered to 50-100 %.
  std::lock_guard lock(mu);
  ASSERT_EQ(times.size(), 3u);
  EXPECT_GE(times[1] - times[0], 20ms);
  EXPECT_GE(times[2] - times[1], 45ms);
}

TEST_F(DeliveryFixture, TransportErrorsAreRetriedUpToMaxAttempts) {
  DeliveryOptions o = fast_options();
  o.max_attempts = 2;
  auto dl = delivery(o);
  dl->set_receivers({webhook("hook", "http://127.0.0.1:1/")});
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 2; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"retry", "failed"}));
  EXPECT_EQ(dl->queue_length(), 0u);
}

TEST_F(DeliveryFixture, RetryAfterIsHonoured) {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> times;
  test::TestHttpServer server([&](const test::TestRequest&) {
    std::lock_guard lock(mu);
    times.push_back(std::chrono::steady_clock::now());
    if (times.size() == 1) return test::TestResponse{429, {{"Retry-After", "1"}}, "slow down"};
    return test::TestResponse{200, {}, ""};
  });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 2; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"retry", "success"}));
  std::lock_guard lock(mu);
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(times[1] - times[0], 950ms);
}

TEST_F(DeliveryFixture, RetryAfterIsCappedAtGroupInterval) {
  std::atomic<int> count{0};
  test::TestHttpServer server([&](const test::TestRequest&) {
    return ++count == 1 ? test::TestResponse{503, {{"Retry-After", "3600"}}, ""} : test::TestResponse{200, {}, ""};
  });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook", "{}:{}", 1, 200ms));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 2; }, 3s));
  EXPECT_EQ(results(), (std::vector<std::string>{"retry", "success"}));
}

TEST_F(DeliveryFixture, ClientErrorIsPermanent) {
  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{400, {}, "bad"}; });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return !reports.empty(); }));
  run_until([] { return false; }, 300ms);
  EXPECT_EQ(results(), (std::vector<std::string>{"failed"}));
  EXPECT_EQ(reports[0].reason, "HTTP 400");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(DeliveryFixture, NewerMessageReplacesThePendingOne) {
  std::atomic<int> count{0};
  test::TestHttpServer server([&](const test::TestRequest&) {
    return ++count == 1 ? test::TestResponse{503, {}, ""} : test::TestResponse{200, {}, ""};
  });
  DeliveryOptions o;
  o.initial_backoff = 400ms;
  auto dl = delivery(o);
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook", "{}:{}", 1));
  ASSERT_TRUE(run_until([&] { return !reports.empty(); }));
  EXPECT_EQ(results(), (std::vector<std::string>{"retry"}));
  Notification newer = sample_notification("hook", "{}:{}", 2);
  dl->submit(newer);
  EXPECT_EQ(dl->queue_length(), 1u);  // replaced, not added
  ASSERT_TRUE(run_until([&] { return reports.size() >= 3; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"retry", "dropped", "success"}));
  EXPECT_EQ(reports[1].reason, "superseded");
  EXPECT_EQ(reports[2].notification->alerts.size(), 2u);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(json::parse(reqs[1].body), json::parse(webhook_payload(newer)));
}

TEST_F(DeliveryFixture, NewerMessageWaitsForTheOneInFlight) {
  test::TestHttpServer server([](const test::TestRequest&) {
    test::TestResponse r{200, {}, ""};
    r.delay = 200ms;
    return r;
  });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook", "{}:{}", 1));
  ASSERT_TRUE(run_until([&] { return server.request_count() >= 1; }));
  dl->submit(sample_notification("hook", "{}:{}", 2));
  dl->submit(sample_notification("hook", "{}:{}", 3));  // replaces the second
  EXPECT_EQ(dl->queue_length(), 2u);
  ASSERT_TRUE(run_until([&] { return reports.size() >= 3; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"dropped", "success", "success"}));
  EXPECT_EQ(reports[1].notification->alerts.size(), 1u);
  EXPECT_EQ(reports[2].notification->alerts.size(), 3u);
}

TEST_F(DeliveryFixture, HangingReceiverDoesNotDelayAnother) {
  test::TestHttpServer slow([](const test::TestRequest&) {
    test::TestResponse r{200, {}, ""};
    r.delay = 3s;
    return r;
  });
  test::TestHttpServer fast([](const test::TestRequest&) { return test::TestResponse{200, {}, ""}; });
  auto dl = delivery(fast_options());
  dl->set_receivers({webhook("slow", slow.url()), webhook("fast", fast.url())});
  auto start = std::chrono::steady_clock::now();
  dl->submit(sample_notification("slow"));
  dl->submit(sample_notification("fast"));
  ASSERT_TRUE(run_until([&] { return !reports.empty(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  EXPECT_EQ(reports[0].receiver, "fast");
  EXPECT_EQ(reports[0].result, "success");
  EXPECT_EQ(dl->queue_length("slow"), 1u);
  EXPECT_EQ(dl->queue_length("fast"), 0u);
}

TEST_F(DeliveryFixture, RateLimitPerDestination) {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> times;
  test::TestHttpServer server([&](const test::TestRequest&) {
    std::lock_guard lock(mu);
    times.push_back(std::chrono::steady_clock::now());
    return test::TestResponse{200, {}, ""};
  });
  ReceiverConfig rc = make_receiver_config("hook");
  rc.url = server.url();
  rc.rate_limit = RateLimit{2, 500ms};
  std::string error;
  auto dl = delivery(fast_options());
  dl->set_receivers({make_receiver(rc, notify, &error)});
  for (int i = 0; i < 3; ++i) dl->submit(sample_notification("hook", "g" + std::to_string(i)));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 3; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"success", "success", "success"}));
  std::lock_guard lock(mu);
  ASSERT_EQ(times.size(), 3u);
  EXPECT_LT(times[1] - times[0], 400ms);
  EXPECT_GE(times[2] - times[0], 450ms);
}

TEST_F(DeliveryFixture, UnknownAndRemovedReceiversAreDropped) {
  test::TestHttpServer server([](const test::TestRequest&) {
    test::TestResponse r{500, {}, ""};
    return r;
  });
  DeliveryOptions o;
  o.initial_backoff = 10s;
  auto dl = delivery(o);
  dl->set_receivers({webhook("hook", server.url())});
  EXPECT_FALSE(dl->submit(sample_notification("nobody")));
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 2; }));
  dl->set_receivers({});
  ASSERT_TRUE(run_until([&] { return reports.size() >= 3; }));
  EXPECT_EQ(results(), (std::vector<std::string>{"dropped", "retry", "dropped"}));
  EXPECT_EQ(reports[2].reason, "receiver removed");
  EXPECT_EQ(dl->queue_length(), 0u);
}

TEST_F(DeliveryFixture, ShutdownDrainsInFlightWithinGrace) {
  test::TestHttpServer server([](const test::TestRequest&) {
    test::TestResponse r{200, {}, ""};
    r.delay = 200ms;
    return r;
  });
  DeliveryOptions o = fast_options();
  o.shutdown_grace = 2s;
  auto dl = delivery(o);
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return server.request_count() >= 1; }));
  bool done = false;
  dl->shutdown([&] { done = true; });
  EXPECT_FALSE(dl->submit(sample_notification("hook", "other")));
  ASSERT_TRUE(run_until([&] { return done; }));
  ASSERT_TRUE(run_until([&] { return reports.size() >= 2; }));
  auto r = results();
  std::sort(r.begin(), r.end());
  EXPECT_EQ(r, (std::vector<std::string>{"dropped", "success"}));  // the late submit is dropped
  EXPECT_TRUE(dl->undelivered().empty());
}

TEST_F(DeliveryFixture, ShutdownGivesUpAfterGrace) {
  test::TestHttpServer server([](const test::TestRequest&) {
    test::TestResponse r{200, {}, ""};
    r.delay = 3s;
    return r;
  });
  DeliveryOptions o = fast_options();
  o.shutdown_grace = 300ms;
  auto dl = delivery(o);
  dl->set_receivers({webhook("hook", server.url())});
  dl->submit(sample_notification("hook"));
  ASSERT_TRUE(run_until([&] { return server.request_count() >= 1; }));
  bool done = false;
  auto start = std::chrono::steady_clock::now();
  dl->shutdown([&] { done = true; });
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  EXPECT_EQ(dl->undelivered().size(), 1u);
}

TEST_F(DeliveryFixture, ForwarderPostsV2Body) {
  std::atomic<int> count{0};
  test::TestHttpServer am([&](const test::TestRequest&) {
    return ++count == 1 ? test::TestResponse{503, {}, ""} : test::TestResponse{200, {}, ""};
  });
  AlertmanagerConfig cfg;
  cfg.url = am.url() + "/";
  std::vector<ForwardReport> freports;
  ForwarderOptions fo;
  fo.initial_backoff = 20ms;
  AlertmanagerForwarder fwd(io, http, {cfg}, fo, [&](const ForwardReport& r) { freports.push_back(r); });
  AlertEvent a = firing(cpu("a:9100"), t0);
  fwd.send({a});
  EXPECT_EQ(fwd.queue_length(), 1u);
  ASSERT_TRUE(run_until([&] { return freports.size() >= 2; }));
  EXPECT_EQ(freports[0].result, "retry");
  EXPECT_EQ(freports[1].result, "success");
  EXPECT_EQ(freports[1].alerts, 1u);
  auto reqs = am.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].path, "/api/v2/alerts");
  EXPECT_EQ(json::parse(reqs[1].body), json::parse(alertmanager_v2_payload({a})));
  EXPECT_EQ(fwd.queue_length(), 0u);
}

}  // namespace
}  // namespace promwatch
