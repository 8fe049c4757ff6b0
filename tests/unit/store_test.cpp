// The durable state store: a real SQLite file in a temp dir.

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "promwatch/store.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

namespace promwatch {
namespace {

const TimePoint t0 = TimePoint{} + std::chrono::seconds(1'767'225'600);  // 2026-01-01T00:00:00Z

TimePoint at_ms(std::int64_t ms) { return TimePoint{Duration{ms}}; }
std::int64_t to_unix_ms(TimePoint t) { return t.time_since_epoch().count(); }

Alert make_alert(Labels labels, AlertState state, double value, TimePoint active) {
  Alert a;
  a.labels = std::move(labels);
  a.fingerprint = a.labels.fingerprint();
  a.annotations = Labels{{"summary", "CPU at " + std::to_string(value)}};
  a.state = state;
  a.value = value;
  a.active_at = active;
  if (state == AlertState::Firing) a.fired_at = active + 5min;
  a.last_sent_at = active + 6min;
  a.valid_until = active + 10min;
  return a;
}

void expect_same_alert(const Alert& a, const Alert& b) {
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.annotations, b.annotations);
  EXPECT_EQ(a.state, b.state);
  if (std::isnan(a.value)) {
    EXPECT_TRUE(std::isnan(b.value));
  } else {
    EXPECT_EQ(a.value, b.value);
  }
  EXPECT_EQ(a.active_at, b.active_at);
  EXPECT_EQ(a.fired_at, b.fired_at);
  EXPECT_EQ(a.resolved_at, b.resolved_at);
  EXPECT_EQ(a.last_sent_at, b.last_sent_at);
  EXPECT_EQ(a.valid_until, b.valid_until);
  EXPECT_EQ(a.keep_firing_since, b.keep_firing_since);
  EXPECT_EQ(a.flap, b.flap);
}

Notification make_notification(std::string receiver, std::string group_key, TimePoint created) {
  Notification n;
  n.receiver = std::move(receiver);
  n.group_key = std::move(group_key);
  n.group_labels = Labels{{"alertname", "HighCPU"}};
  n.group_interval = 5min;
  n.repeat_interval = 4h;
  n.common_labels = Labels{{"alertname", "HighCPU"}, {"severity", "warning"}};
  n.common_annotations = Labels{{"summary", "busy \"quoted\" <b>"}};
  n.external_url = "http://promwatch:9097";
  AlertEvent a;
  a.labels = Labels{{"alertname", "HighCPU"}, {"instance", "db1:9100"}, {"severity", "warning"}};
  a.annotations = Labels{{"summary", "CPU 95%"}};
  a.starts_at = created - 5min;
  a.generator_url = "http://promwatch:9097/rules#HighCPU";
  n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(a), false});
  a.labels.set("instance", "db2:9100");
  a.ends_at = created - 1min;
  n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(a), true});
  n.truncated_alerts = 3;
  n.firing = {1, 0xffffffffffffffffULL};
  n.resolved = {0x8000000000000000ULL};
  n.created_at = created;
  return n;
}

void expect_same_notification(const Notification& a, const Notification& b) {
  EXPECT_EQ(a.receiver, b.receiver);
  EXPECT_EQ(a.group_key, b.group_key);
  EXPECT_EQ(a.group_labels, b.group_labels);
  EXPECT_EQ(a.group_interval, b.group_interval);
  EXPECT_EQ(a.repeat_interval, b.repeat_interval);
  EXPECT_EQ(a.status(), b.status());
  EXPECT_EQ(a.common_labels, b.common_labels);
  EXPECT_EQ(a.common_annotations, b.common_annotations);
  EXPECT_EQ(a.external_url, b.external_url);
  ASSERT_EQ(a.alerts.size(), b.alerts.size());
  for (std::size_t i = 0; i < a.alerts.size(); ++i) {
    const NotifiedAlert& x = a.alerts[i];
    const NotifiedAlert& y = b.alerts[i];
    EXPECT_EQ(x.resolved, y.resolved);
    EXPECT_EQ(x.event->labels, y.event->labels);
    EXPECT_EQ(x.event->annotations, y.event->annotations);
    EXPECT_EQ(x.event->starts_at, y.event->starts_at);
    EXPECT_EQ(x.ends_at(), y.ends_at());
    EXPECT_EQ(x.event->generator_url, y.event->generator_url);
  }
  EXPECT_EQ(a.truncated_alerts, b.truncated_alerts);
  EXPECT_EQ(a.firing, b.firing);
  EXPECT_EQ(a.resolved, b.resolved);
  EXPECT_EQ(a.created_at, b.created_at);
}

std::unique_ptr<Store> open_store(const std::filesystem::path& dir, StoreOptions options = {}) {
  std::string error;
  options.sync_full = false;  // tests: fsync per commit only slows the suite (FULL is tested once)
  auto store = Store::open(dir.string(), &error, std::move(options));
  EXPECT_TRUE(store) << error;
  return store;
}

// Raw SQLite access for checks behind the store's back.
struct RawDb {
  explicit RawDb(const std::filesystem::path& file) {
    EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
  }
  ~RawDb() { sqlite3_close(db); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
    std::string out;
    if (s && sqlite3_step(s) == SQLITE_ROW) {
      const auto* p = sqlite3_column_text(s, 0);
      out = p ? reinterpret_cast<const char*>(p) : "";
    }
    sqlite3_finalize(s);
    return out;
  }
  sqlite3* db = nullptr;
};

StoreBatch full_batch() {
  StoreBatch b;
  std::vector<Alert> alerts;
  alerts.push_back(make_alert(Labels{{"alertname", "HighCPU"}, {"instance", "a"}}, AlertState::Pending, 0.93, t0));
  alerts.push_back(make_alert(Labels{{"alertname", "HighCPU"}, {"instance", "b"}}, AlertState::Firing,
                              std::numeric_limits<double>::quiet_NaN(), t0 - 1h));
  alerts.push_back(make_alert(Labels{{"alertname", "HighCPU"}, {"instance", "ü\"\n\\"}}, AlertState::Firing,
                              std::numeric_limits<double>::infinity(), t0 - 2h));
  Alert resolved = make_alert(Labels{{"alertname", "HighCPU"}, {"instance", "c"}}, AlertState::Inactive,
                              -std::numeric_limits<double>::infinity(), t0 - 3h);
  resolved.fired_at = t0 - 2h;
  resolved.resolved_at = t0 - 1min;
  resolved.keep_firing_since = t0 - 2min;
  resolved.flap.flapping_since = t0 - 4min;  // flap detection keeps its state with the alert (#17)
  resolved.flap.count = 5;
  resolved.flap.changes = {t0 - 1min};
  alerts.push_back(resolved);
  b.put_rule_alerts("node", "node/HighCPU/0", alerts);

  HeartbeatState hb;
  HeartbeatMember m1;
  m1.labels = Labels{{"instance", "n1:9100"}, {"job", "node"}};
  m1.expected = true;
  m1.up = true;
  m1.last_seen_up = t0;
  HeartbeatMember m2;
  m2.labels = Labels{{"instance", "n2:9100"}, {"job", "node"}};
  m2.last_seen_up = t0 - 10min;
  m2.missing_since = t0 - 9min;
  m2.absent = 9min;
  hb.members = {m1, m2};
  hb.alerts.push_back(make_alert(Labels{{"alertname", "InstanceDown"}, {"instance", "n2:9100"}, {"job", "node"}},
                                 AlertState::Firing, 540, t0 - 9min));
  hb.last_success = t0;
  b.put_heartbeat("node", "InstanceDown", hb);

  b.put_group_evaluation("node", t0);
  b.put_group_evaluation("other", t0 - 30s);

  DispatcherState ds;
  ds.log.push_back(NotificationLogEntry{"ops", "{}/{}:{alertname=\"HighCPU\"}", {1, 2, 3}, {4}, t0 - 1min});
  AggregationGroupState g;
  g.receiver = "ops";
  g.route_key = "{}/{}";
  g.group_labels = Labels{{"alertname", "HighCPU"}};
  AlertEvent ev;
  ev.labels = Labels{{"alertname", "HighCPU"}, {"instance", "a"}, {"cluster", "prod"}};
  ev.annotations = Labels{{"summary", "x"}};
  ev.starts_at = t0 - 5min;
  ev.generator_url = "http://g";
  g.alerts.push_back(std::make_shared<const AlertEvent>(ev));
  ev.labels.set("instance", "b");
  ev.ends_at = t0;
  g.alerts.push_back(std::make_shared<const AlertEvent>(ev));
  g.next_flush = t0 + 5min;
  g.has_flushed = true;
  ds.groups.push_back(g);
  b.put_dispatcher_state(ds);

  b.put_outbox(make_notification("ops", "{}/{}:{alertname=\"HighCPU\"}", t0));
  b.put_silence(StoredSilence{"6d6f7a2c-1", R"({"id":"6d6f7a2c-1","comment":"disk"})", t0 + 2h});
  return b;
}

void expect_full_snapshot(const StoreSnapshot& s) {
  EXPECT_TRUE(s.warnings.empty());
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].group, "node");
  EXPECT_EQ(s.rules[0].rule_key, "node/HighCPU/0");
  ASSERT_EQ(s.rules[0].alerts.size(), 4u);
  std::map<std::string, Alert> by_instance;
  for (const auto& a : s.rules[0].alerts) by_instance[std::string(a.labels.get("instance"))] = a;
  expect_same_alert(by_instance["a"],
                    make_alert(Labels{{"alertname", "HighCPU"}, {"instance", "a"}}, AlertState::Pending, 0.93, t0));
  EXPECT_TRUE(std::isnan(by_instance["b"].value));
  EXPECT_EQ(by_instance["ü\"\n\\"].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(by_instance["c"].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(by_instance["c"].state, AlertState::Inactive);
  EXPECT_EQ(by_instance["c"].resolved_at, t0 - 1min);
  EXPECT_EQ(by_instance["c"].keep_firing_since, t0 - 2min);
  EXPECT_EQ(by_instance["c"].fired_at, t0 - 2h);
  EXPECT_TRUE(by_instance["c"].flap.flapping());
  EXPECT_EQ(by_instance["c"].flap.flapping_since, t0 - 4min);
  EXPECT_EQ(by_instance["c"].flap.count, 5u);
  EXPECT_EQ(by_instance["c"].flap.changes, std::vector<TimePoint>{t0 - 1min});
  EXPECT_EQ(by_instance["a"].flap, FlapState{});

  ASSERT_EQ(s.heartbeats.size(), 1u);
  const auto& hb = s.heartbeats[0];
  EXPECT_EQ(hb.group, "node");
  EXPECT_EQ(hb.name, "InstanceDown");
  EXPECT_EQ(hb.state.last_success, t0);
  ASSERT_EQ(hb.state.members.size(), 2u);
  std::map<std::string, HeartbeatMember> members;
  for (const auto& m : hb.state.members) members[std::string(m.labels.get("instance"))] = m;
  EXPECT_TRUE(members["n1:9100"].expected);
  EXPECT_TRUE(members["n1:9100"].up);
  EXPECT_EQ(members["n1:9100"].last_seen_up, t0);
  EXPECT_FALSE(members["n2:9100"].expected);
  EXPECT_FALSE(members["n2:9100"].up);
  EXPECT_EQ(members["n2:9100"].missing_since, t0 - 9min);
  EXPECT_EQ(members["n2:9100"].absent, 9min);
  EXPECT_EQ(members["n2:9100"].labels, (Labels{{"instance", "n2:9100"}, {"job", "node"}}));
  ASSERT_EQ(hb.state.alerts.size(), 1u);
  EXPECT_EQ(hb.state.alerts[0].value, 540);
  EXPECT_EQ(hb.state.alerts[0].state, AlertState::Firing);

  ASSERT_EQ(s.last_evaluation.size(), 2u);
  EXPECT_EQ(s.last_evaluation.at("node"), t0);
  EXPECT_EQ(s.last_evaluation.at("other"), t0 - 30s);

  ASSERT_EQ(s.dispatcher.log.size(), 1u);
  EXPECT_EQ(s.dispatcher.log[0].receiver, "ops");
  EXPECT_EQ(s.dispatcher.log[0].group_key, "{}/{}:{alertname=\"HighCPU\"}");
  EXPECT_EQ(s.dispatcher.log[0].firing, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(s.dispatcher.log[0].resolved, (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(s.dispatcher.log[0].timestamp, t0 - 1min);
  ASSERT_EQ(s.dispatcher.groups.size(), 1u);
  const auto& g = s.dispatcher.groups[0];
  EXPECT_EQ(g.receiver, "ops");
  EXPECT_EQ(g.route_key, "{}/{}");
  EXPECT_EQ(g.group_labels, (Labels{{"alertname", "HighCPU"}}));
  EXPECT_EQ(g.next_flush, t0 + 5min);
  EXPECT_TRUE(g.has_flushed);
  ASSERT_EQ(g.alerts.size(), 2u);
  EXPECT_EQ(g.alerts[0]->labels.get("instance"), "a");
  EXPECT_EQ(g.alerts[0]->ends_at, TimePoint{});
  EXPECT_EQ(g.alerts[1]->ends_at, t0);
  EXPECT_EQ(g.alerts[1]->starts_at, t0 - 5min);
  EXPECT_EQ(g.alerts[1]->generator_url, "http://g");
  EXPECT_EQ(g.alerts[1]->annotations, (Labels{{"summary", "x"}}));

  ASSERT_EQ(s.outbox.size(), 1u);
  expect_same_notification(s.outbox[0], make_notification("ops", "{}/{}:{alertname=\"HighCPU\"}", t0));

  ASSERT_EQ(s.silences.size(), 1u);
  EXPECT_EQ(s.silences[0].id, "6d6f7a2c-1");
  EXPECT_EQ(s.silences[0].json, R"({"id":"6d6f7a2c-1","comment":"disk"})");
  EXPECT_EQ(s.silences[0].ends_at, t0 + 2h);
}

TEST(Store, RoundTripsEveryKindOfRecordAndSurvivesReopen) {
  test::TempDir dir;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    auto empty = store->load();
    EXPECT_TRUE(empty.rules.empty());
    EXPECT_TRUE(empty.outbox.empty());
    store->commit(full_batch());
    expect_full_snapshot(store->load());  // load runs after the queued batch
    EXPECT_TRUE(store->healthy());
    EXPECT_EQ(store->stats().outbox_size, 1u);
    EXPECT_EQ(store->stats().commits, 1u);
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  expect_full_snapshot(store->load());
  EXPECT_EQ(store->stats().outbox_size, 1u);
  RawDb raw(dir.path() / "promwatch.db");
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(Store::schema_version()));
}

TEST(Store, DefaultSynchronousFullWorks) {
  test::TempDir dir;
  std::string error;
  auto store = Store::open(dir.path().string(), &error);
  ASSERT_TRUE(store) << error;
  store->commit(full_batch());
  store->flush();
  expect_full_snapshot(store->load());
}

TEST(Store, RuleAlertsAreReplacedAsAWholeAndOnlyChangesWritten) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto a = make_alert(Labels{{"alertname", "A"}, {"i", "1"}}, AlertState::Pending, 1, t0);
  auto b = make_alert(Labels{{"alertname", "A"}, {"i", "2"}}, AlertState::Pending, 2, t0);
  auto c = make_alert(Labels{{"alertname", "A"}, {"i", "3"}}, AlertState::Firing, 3, t0);
  {
    StoreBatch batch;
    batch.put_rule_alerts("g", "k1", {a, b});
    batch.put_rule_alerts("g", "k2", {c});
    store->commit(std::move(batch));
  }
  store->flush();
  RawDb raw(dir.path() / "promwatch.db");
  // Mark the stored rows so we can see which ones the next put rewrites.
  raw.exec("UPDATE alerts SET annotations = '{\"marker\":\"old\"}'");
  b.state = AlertState::Firing;
  b.fired_at = t0 + 1min;
  auto d = make_alert(Labels{{"alertname", "A"}, {"i", "4"}}, AlertState::Pending, 4, t0);
  {
    StoreBatch batch;
    batch.put_rule_alerts("g", "k1", {b, d});  // a removed, b changed, d new
    store->commit(std::move(batch));
  }
  auto s = store->load();
  ASSERT_EQ(s.rules.size(), 2u);
  ASSERT_EQ(s.rules[0].rule_key, "k1");
  ASSERT_EQ(s.rules[0].alerts.size(), 2u);
  std::set<std::string> seen;
  for (const auto& x : s.rules[0].alerts) {
    seen.insert(std::string(x.labels.get("i")));
    if (x.labels.get("i") == "2") expect_same_alert(x, b);
    if (x.labels.get("i") == "4") expect_same_alert(x, d);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"2", "4"}));
  // k2 was not part of the second put: untouched (still carries the marker).
  ASSERT_EQ(s.rules[1].alerts.size(), 1u);
  EXPECT_EQ(s.rules[1].alerts[0].annotations.get("marker"), "old");

  // An unchanged list writes nothing.
  raw.exec("UPDATE alerts SET annotations = '{\"marker\":\"old2\"}' WHERE rule_key = 'k1'");
  {
    StoreBatch batch;
    batch.put_rule_alerts("g", "k1", {d, b});
    store->commit(std::move(batch));
  }
  s = store->load();
  for (const auto& x : s.rules[0].alerts) EXPECT_EQ(x.annotations.get("marker"), "old2");

  // Deleting a rule and a group.
  {
    StoreBatch batch;
    batch.delete_rule("g", "k2");
    batch.put_group_evaluation("g", t0);
    store->commit(std::move(batch));
  }
  s = store->load();
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].rule_key, "k1");
  {
    StoreBatch batch;
    batch.delete_group("g");
    store->commit(std::move(batch));
  }
  s = store->load();
  EXPECT_TRUE(s.rules.empty());
  EXPECT_TRUE(s.last_evaluation.empty());
}

TEST(Store, AfterReopenAPutRewritesTheWholeScope) {
  test::TempDir dir;
  auto a = make_alert(Labels{{"alertname", "A"}, {"i", "1"}}, AlertState::Pending, 1, t0);
  auto b = make_alert(Labels{{"alertname", "A"}, {"i", "2"}}, AlertState::Pending, 2, t0);
  {
    auto store = open_store(dir.path());
    StoreBatch batch;
    batch.put_rule_alerts("g", "k", {a, b});
    store->commit(std::move(batch));
  }
  auto store = open_store(dir.path());
  StoreBatch batch;
  batch.put_rule_alerts("g", "k", {b});
  store->commit(std::move(batch));
  auto s = store->load();
  ASSERT_EQ(s.rules.size(), 1u);
  ASSERT_EQ(s.rules[0].alerts.size(), 1u);
  EXPECT_EQ(s.rules[0].alerts[0].labels.get("i"), "2");
}

TEST(Store, HeartbeatMembersAndDispatcherStateFollowSnapshots) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  HeartbeatState hb;
  for (int i = 0; i < 3; ++i) {
    HeartbeatMember m;
    m.labels = Labels{{"instance", "n" + std::to_string(i)}};
    m.up = true;
    m.last_seen_up = t0;
    hb.members.push_back(m);
  }
  DispatcherState ds;
  ds.log.push_back(NotificationLogEntry{"r", "k1", {1}, {}, t0});
  ds.log.push_back(NotificationLogEntry{"r", "k2", {2}, {}, t0});
  {
    StoreBatch batch;
    batch.put_heartbeat("g", "hb", hb);
    batch.put_dispatcher_state(ds);
    store->commit(std::move(batch));
  }
  hb.members.erase(hb.members.begin());
  hb.members[0].up = false;
  hb.members[0].missing_since = t0 + 1min;
  ds.log.erase(ds.log.begin());
  ds.log[0].firing = {2, 3};
  {
    StoreBatch batch;
    batch.put_heartbeat("g", "hb", hb);
    batch.put_dispatcher_state(ds);
    store->commit(std::move(batch));
  }
  auto s = store->load();
  ASSERT_EQ(s.heartbeats.size(), 1u);
  ASSERT_EQ(s.heartbeats[0].state.members.size(), 2u);
  for (const auto& m : s.heartbeats[0].state.members) {
    EXPECT_NE(m.labels.get("instance"), "n0");
    if (m.labels.get("instance") == "n1") {
      EXPECT_FALSE(m.up);
      EXPECT_EQ(m.missing_since, t0 + 1min);
    }
  }
  ASSERT_EQ(s.dispatcher.log.size(), 1u);
  EXPECT_EQ(s.dispatcher.log[0].group_key, "k2");
  EXPECT_EQ(s.dispatcher.log[0].firing, (std::vector<std::uint64_t>{2, 3}));
  {
    StoreBatch batch;
    batch.delete_heartbeat("g", "hb");
    store->commit(std::move(batch));
  }
  s = store->load();
  EXPECT_TRUE(s.heartbeats.empty());
  RawDb raw(dir.path() / "promwatch.db");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM heartbeat_members"), "0");  // cascaded
}

TEST(Store, WritesRunOffTheCallingThreadAndCallbacksComeBackThroughPost) {
  test::TempDir dir;
  std::mutex mu;
  std::deque<std::function<void()>> loop;  // a stand-in for the io_context
  std::set<std::thread::id> post_threads;
  StoreOptions options;
  options.post_to_loop = [&](std::function<void()> fn) {
    std::lock_guard lock(mu);
    post_threads.insert(std::this_thread::get_id());
    loop.push_back(std::move(fn));
  };
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  const auto main_thread = std::this_thread::get_id();
  std::vector<std::thread::id> done_threads;
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) {
    StoreBatch batch;
    batch.put_group_evaluation("g", t0 + std::chrono::seconds(i));
    store->commit(std::move(batch), [&, i](const StoreResult& r) {
      EXPECT_TRUE(r.ok) << r.error;
      done_threads.push_back(std::this_thread::get_id());
      order.push_back(i);
    });
  }
  store->flush();
  // Nothing ran inline: every callback waits in the loop's queue.
  EXPECT_TRUE(done_threads.empty());
  std::deque<std::function<void()>> pending;
  {
    std::lock_guard lock(mu);
    pending.swap(loop);
    ASSERT_EQ(post_threads.size(), 1u);
    EXPECT_NE(*post_threads.begin(), main_thread);  // posted by the worker
  }
  for (auto& fn : pending) fn();
  ASSERT_EQ(done_threads.size(), 20u);
  for (auto id : done_threads) EXPECT_EQ(id, main_thread);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);  // in submission order

  // History queries come back the same way.
  bool got = false;
  store->query_history(HistoryFilter{}, [&](HistoryResult r) {
    EXPECT_TRUE(r.ok);
    got = true;
  });
  store->flush();
  {
    std::lock_guard lock(mu);
    pending.swap(loop);
  }
  EXPECT_FALSE(got);
  for (auto& fn : pending) fn();
  EXPECT_TRUE(got);
  EXPECT_EQ(store->load().last_evaluation.at("g"), t0 + 19s);
}

TEST(Store, OutboxKeepsOneMessagePerKeyAndRemovesOnlyWhatWasDelivered) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  {
    StoreBatch b;
    b.put_outbox(make_notification("ops", "k", t0));
    b.put_outbox(make_notification("ops", "k", t0 + 5min));  // replaces
    b.put_outbox(make_notification("pager", "k", t0 + 1min));
    store->commit(std::move(b));
  }
  auto s = store->load();
  ASSERT_EQ(s.outbox.size(), 2u);
  EXPECT_EQ(s.outbox[0].receiver, "pager");  // oldest first
  EXPECT_EQ(s.outbox[1].receiver, "ops");
  EXPECT_EQ(s.outbox[1].created_at, t0 + 5min);
  EXPECT_EQ(store->stats().outbox_size, 2u);
  {
    StoreBatch b;
    b.remove_outbox("ops", "k", t0);  // the older message was delivered: the newer stays
    store->commit(std::move(b));
  }
  EXPECT_EQ(store->load().outbox.size(), 2u);
  {
    StoreBatch b;
    b.remove_outbox("ops", "k", t0 + 5min);
    b.clear_outbox_receiver("pager");
    store->commit(std::move(b));
  }
  EXPECT_TRUE(store->load().outbox.empty());
  EXPECT_EQ(store->stats().outbox_size, 0u);
}

// Rows are written as JSON text by hand: every byte a label may hold must come back, except
// invalid UTF-8, which becomes U+FFFD (one per bad byte) rather than failing the write.
TEST(Store, RowsWithControlCharactersAndInvalidUtf8RoundTrip) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  const std::string nasty = std::string("a\x01\x1f\x7f\b\f\n\r\t\"\\/<>&") + "\u2028 ü " + "\xff";
  const std::string repaired = std::string(nasty, 0, nasty.size() - 1) + "\xEF\xBF\xBD";
  Notification n = make_notification("ops" + nasty, "{}/{}:{x=\"" + nasty + "\"}", t0);
  AlertEvent e = *n.alerts[0].event;
  e.labels.set("instance", nasty);
  e.annotations.set("description", nasty);
  e.generator_url = "http://g/" + nasty;
  n.alerts[0].event = std::make_shared<const AlertEvent>(e);
  Alert a = make_alert(Labels{{"alertname", "X"}, {"instance", nasty}}, AlertState::Firing, 1, t0);
  a.annotations = Labels{{"summary", nasty}};
  {
    StoreBatch b;
    b.put_outbox(n);
    b.put_rule_alerts("g", "g/X/0", {a});
    store->commit(std::move(b));
  }
  auto s = store->load();
  ASSERT_EQ(s.outbox.size(), 1u);
  const Notification& back = s.outbox[0];
  EXPECT_EQ(back.receiver, n.receiver);  // key columns: the bytes as they were
  EXPECT_EQ(back.group_key, n.group_key);
  EXPECT_EQ(back.alerts[0].event->labels.get("instance"), repaired);
  EXPECT_EQ(back.alerts[0].event->annotations.get("description"), repaired);
  EXPECT_EQ(back.alerts[0].event->generator_url, "http://g/" + repaired);
  EXPECT_EQ(back.firing, n.firing);
  EXPECT_EQ(back.alerts[1].event->labels, n.alerts[1].event->labels);
  ASSERT_EQ(s.rules.size(), 1u);
  ASSERT_EQ(s.rules[0].alerts.size(), 1u);
  EXPECT_EQ(s.rules[0].alerts[0].labels.get("instance"), repaired);
  EXPECT_EQ(s.rules[0].alerts[0].annotations.get("summary"), repaired);
}

TEST(Store, OutboxIsBoundedAndOverflowIsCounted) {
  test::TempDir dir;
  StoreOptions options;
  options.outbox_capacity = 3;
  auto store = open_store(dir.path(), options);
  StoreBatch b;
  for (int i = 0; i < 5; ++i) b.put_outbox(make_notification("ops", "k" + std::to_string(i), t0 + std::chrono::seconds(i)));
  store->commit(std::move(b));
  auto s = store->load();
  ASSERT_EQ(s.outbox.size(), 3u);
  EXPECT_EQ(s.outbox[0].group_key, "k2");
  EXPECT_EQ(s.outbox[2].group_key, "k4");
  auto st = store->stats();
  EXPECT_EQ(st.outbox_overflow, 2u);
  EXPECT_EQ(st.outbox_size, 3u);
}

TEST(Store, SilencesPutDeletePrune) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  {
    StoreBatch b;
    b.put_silence({"a", "{\"id\":\"a\"}", t0});
    b.put_silence({"b", "{\"id\":\"b\"}", t0 + 1h});
    b.put_silence({"c", "{\"id\":\"c\"}", t0 + 2h});
    b.put_silence({"c", "{\"id\":\"c\",\"v\":2}", t0 + 3h});
    store->commit(std::move(b));
  }
  {
    StoreBatch b;
    b.delete_silence("b");
    b.prune_silences(t0 + 1s);
    store->commit(std::move(b));
  }
  auto s = store->load();
  ASSERT_EQ(s.silences.size(), 1u);
  EXPECT_EQ(s.silences[0].id, "c");
  EXPECT_EQ(s.silences[0].json, "{\"id\":\"c\",\"v\":2}");
  EXPECT_EQ(s.silences[0].ends_at, t0 + 3h);
}

HistoryEntry hist(TimePoint at, std::string alertname, std::string instance, AlertState from, AlertState to,
                  double value = 1) {
  HistoryEntry e;
  e.at = at;
  e.group = "g";
  e.rule = alertname;
  e.labels = Labels{{"alertname", alertname}, {"instance", instance}};
  e.fingerprint = e.labels.fingerprint();
  e.from = from;
  e.to = to;
  e.value = value;
  return e;
}

TEST(Store, HistoryFiltersOrderAndRetention) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  using S = AlertState;
  {
    StoreBatch b;
    b.add_history(hist(t0, "A", "x", S::Inactive, S::Pending));
    b.add_history(hist(t0 + 1min, "A", "x", S::Pending, S::Firing, std::numeric_limits<double>::quiet_NaN()));
    b.add_history(hist(t0 + 1min, "B", "y", S::Inactive, S::Firing));
    b.add_history(hist(t0 + 2min, "A", "y", S::Inactive, S::Pending));
    b.add_history(hist(t0 + 3min, "A", "x", S::Firing, S::Inactive));
    store->commit(std::move(b));
  }
  auto all = store->history({});
  ASSERT_TRUE(all.ok) << all.error;
  ASSERT_EQ(all.entries.size(), 5u);
  for (std::size_t i = 1; i < all.entries.size(); ++i) {
    EXPECT_GE(all.entries[i - 1].at, all.entries[i].at);  // newest first
  }
  EXPECT_EQ(all.entries[0].at, t0 + 3min);
  EXPECT_EQ(all.entries[0].from, S::Firing);
  EXPECT_EQ(all.entries[0].to, S::Inactive);
  EXPECT_EQ(all.entries[0].group, "g");
  EXPECT_EQ(all.entries[0].rule, "A");
  // Same time: later insertion first.
  EXPECT_EQ(all.entries[2].labels.get("alertname"), "B");
  EXPECT_TRUE(std::isnan(all.entries[3].value));

  HistoryFilter f;
  f.fingerprint = Labels{{"alertname", "A"}, {"instance", "x"}}.fingerprint();
  EXPECT_EQ(store->history(f).entries.size(), 3u);

  f = {};
  f.alertname = "B";
  auto r = store->history(f);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].labels.get("instance"), "y");

  f = {};
  std::string err;
  f.matchers.push_back(*Matcher::parse("instance=\"y\"", &err));
  EXPECT_EQ(store->history(f).entries.size(), 2u);
  f.matchers.push_back(*Matcher::parse("alertname=~\"A|C\"", &err));
  EXPECT_EQ(store->history(f).entries.size(), 1u);

  f = {};
  f.since = t0 + 1min;
  f.until = t0 + 2min;
  EXPECT_EQ(store->history(f).entries.size(), 3u);
  f.limit = 2;
  r = store->history(f);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].at, t0 + 2min);

  f = {};
  f.matchers.push_back(*Matcher::parse("alertname=\"A\"", &err));
  f.limit = 1;
  EXPECT_EQ(store->history(f).entries.size(), 1u);

  {
    StoreBatch b;
    b.prune_history(t0 + 1min);  // keeps at >= t0+1min
    store->commit(std::move(b));
  }
  all = store->history({});
  ASSERT_EQ(all.entries.size(), 4u);
  EXPECT_EQ(all.entries.back().at, t0 + 1min);

  auto e = HistoryEntry::from_transition(
      "grp", "Rule", AlertTransition{7, Labels{{"alertname", "Rule"}}, {}, S::Pending, S::Firing, t0, 2.5, {}, {}, {}});
  EXPECT_EQ(e.group, "grp");
  EXPECT_EQ(e.rule, "Rule");
  EXPECT_EQ(e.fingerprint, 7u);
  EXPECT_EQ(e.to, S::Firing);
  EXPECT_EQ(e.at, t0);
  EXPECT_EQ(e.value, 2.5);
}

TEST(Store, MigratesFromVersionZero) {
  test::TempDir dir;
  {
    RawDb raw(dir.path() / "promwatch.db");
    raw.exec("CREATE TABLE unrelated (x INTEGER)");  // a version-0 database with something in it
    EXPECT_EQ(raw.scalar("PRAGMA user_version"), "0");
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  store->commit(full_batch());
  expect_full_snapshot(store->load());
  RawDb raw(dir.path() / "promwatch.db");
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(Store::schema_version()));
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'history'"), "1");
}

TEST(Store, MigratesFromAnIntermediateVersionKeepingData) {
  test::TempDir dir;
  {
    auto store = open_store(dir.path());
    store->commit(full_batch());
  }
  ASSERT_GE(Store::schema_version(), 2);
  {
    // Make it look like a version-1 database (before the history table existed).
    RawDb raw(dir.path() / "promwatch.db");
    raw.exec("DROP TABLE history");
    raw.exec("ALTER TABLE alerts DROP COLUMN flap");
    raw.exec("ALTER TABLE heartbeat_alerts DROP COLUMN flap");
    raw.exec("PRAGMA user_version = 1");
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  {
    // Rows from before flap detection load without flap state.
    StoreSnapshot s = store->load();
    EXPECT_TRUE(s.warnings.empty());
    ASSERT_EQ(s.rules.size(), 1u);
    for (const auto& a : s.rules[0].alerts) EXPECT_EQ(a.flap, FlapState{}) << a.labels.to_string();
  }
  store->commit(full_batch());
  expect_full_snapshot(store->load());
  StoreBatch b;
  b.add_history(hist(t0, "A", "x", AlertState::Inactive, AlertState::Pending));
  store->commit(std::move(b));
  EXPECT_EQ(store->history({}).entries.size(), 1u);
}

TEST(Store, RefusesANewerSchema) {
  test::TempDir dir;
  {
    RawDb raw(dir.path() / "promwatch.db");
    raw.exec("PRAGMA user_version = " + std::to_string(Store::schema_version() + 5));
  }
  std::string error;
  auto store = Store::open(dir.path().string(), &error);
  EXPECT_FALSE(store);
  EXPECT_NE(error.find("newer than this promwatch"), std::string::npos) << error;
  EXPECT_NE(error.find("promwatch.db"), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(Store::schema_version() + 5)), std::string::npos) << error;
}

TEST(Store, UnusableStateDirGivesAClearError) {
  test::TempDir dir;
  auto file = dir.write("plain-file", "x");
  std::string error;
  // Works as root too: no permission bit can make a regular file a directory.
  auto store = Store::open((file / "state").string(), &error);
  EXPECT_FALSE(store);
  EXPECT_NE(error.find("state_dir"), std::string::npos) << error;
  EXPECT_NE(error.find("Not a directory"), std::string::npos) << error;

  error.clear();
  store = Store::open(file.string(), &error);
  EXPECT_FALSE(store);
  EXPECT_NE(error.find("not a directory"), std::string::npos) << error;

  // A file that is not a database.
  auto dir2 = dir.path() / "garbage";
  std::filesystem::create_directories(dir2);
  {
    std::ofstream out(dir2 / "promwatch.db");
    out << std::string(8192, 'g');
  }
  error.clear();
  store = Store::open(dir2.string(), &error);
  EXPECT_FALSE(store);
  EXPECT_NE(error.find("promwatch.db"), std::string::npos) << error;
  EXPECT_NE(error.find("not a database"), std::string::npos) << error;
}

TEST(Store, CreatesTheStateDirWithMode0700) {
  test::TempDir dir;
  auto state = dir.path() / "a" / "b";
  auto store = open_store(state);
  ASSERT_TRUE(store);
  auto perms = std::filesystem::status(state).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  EXPECT_EQ(store->path(), (state / "promwatch.db").string());
}

TEST(Store, AFailedCommitIsReportedAndRetriedWhenTheDiskRecovers) {
  test::TempDir dir;
  std::mutex mu;
  std::vector<std::pair<bool, std::string>> health;
  StoreOptions options;
  options.busy_timeout = 50ms;
  options.retry_interval = 100ms;
  options.on_health_change = [&](bool healthy, const std::string& error) {
    std::lock_guard lock(mu);
    health.emplace_back(healthy, error);
  };
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  RawDb blocker(dir.path() / "promwatch.db");
  blocker.exec("BEGIN IMMEDIATE");  // holds the write lock: every commit fails with SQLITE_BUSY

  StoreResult result;
  {
    StoreBatch b;
    b.put_silence({"s1", "{}", t0});
    b.add_history(hist(t0, "A", "x", AlertState::Inactive, AlertState::Pending));
    store->commit(std::move(b), [&](const StoreResult& r) { result = r; });
  }
  store->flush();
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("locked"), std::string::npos) << result.error;
  EXPECT_FALSE(store->healthy());
  EXPECT_FALSE(store->last_error().empty());
  auto st = store->stats();
  EXPECT_GE(st.failed_commits, 2u);  // the commit and flush's retry
  EXPECT_EQ(st.pending_retry_ops, 2u);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(health.size(), 1u);
    EXPECT_FALSE(health[0].first);
  }

  blocker.exec("COMMIT");
  // The worker retries on its own after retry_interval.
  EXPECT_TRUE(test::wait_until([&] { return store->healthy(); }, 5s, 20ms));
  auto s = store->load();
  ASSERT_EQ(s.silences.size(), 1u);
  EXPECT_EQ(store->history({}).entries.size(), 1u);  // applied exactly once
  EXPECT_EQ(store->stats().pending_retry_ops, 0u);
  std::lock_guard lock(mu);
  ASSERT_EQ(health.size(), 2u);
  EXPECT_TRUE(health[1].first);
}

TEST(Store, CorruptRowsAreSkippedWithAReason) {
  test::TempDir dir;
  {
    auto store = open_store(dir.path());
    store->commit(full_batch());
  }
  {
    RawDb raw(dir.path() / "promwatch.db");
    raw.exec("UPDATE alerts SET labels = 'not json' WHERE labels LIKE '%\"a\"%'");
    raw.exec("UPDATE alerts SET state = 'exploded' WHERE labels LIKE '%\"c\"%'");
    raw.exec("UPDATE outbox SET notification = '{\"receiver\":1}'");
    raw.exec("UPDATE aggregation_groups SET alerts = '[{}]'");
  }
  auto store = open_store(dir.path());
  auto s = store->load();
  EXPECT_EQ(s.warnings.size(), 4u);
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].alerts.size(), 2u);
  EXPECT_TRUE(s.outbox.empty());
  EXPECT_TRUE(s.dispatcher.groups.empty());
  EXPECT_EQ(s.silences.size(), 1u);
  std::string all;
  for (const auto& w : s.warnings) all += w + "\n";
  EXPECT_NE(all.find("exploded"), std::string::npos) << all;
  EXPECT_NE(all.find("outbox"), std::string::npos) << all;
  // The damaged scope is rewritten whole by the next put.
  StoreBatch b;
  b.put_rule_alerts("node", "node/HighCPU/0", std::vector<Alert>{});
  store->commit(std::move(b));
  EXPECT_TRUE(store->load().rules.empty());
}

// A child process writes batch after batch (each: the group's evaluation time = i, a history
// row with value i, the rule's single alert with value i, an outbox message created at i) and
// reports each acknowledged commit through a pipe; the parent SIGKILLs it at a random moment.
// The database must open, pass integrity_check, and hold exactly batches 1..n with n at least
// the last acknowledged one.
TEST(StoreCrash, SigkillMidWriteLeavesAConsistentPrefix) {
  test::TempDir dir;
  std::mt19937 rng(20261124);
  std::int64_t total = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      std::string error;
      StoreOptions options;
      options.sync_full = round % 2 == 0;  // both durability modes
      auto store = Store::open(dir.path().string(), &error, options);
      if (!store) _exit(3);
      auto snap = store->load();
      std::int64_t i = 0;
      if (auto it = snap.last_evaluation.find("g"); it != snap.last_evaluation.end()) i = to_unix_ms(it->second);
      int fd = fds[1];
      for (;;) {
        ++i;
        StoreBatch b;
        b.put_group_evaluation("g", at_ms(i));
        HistoryEntry e;
        e.at = at_ms(i);
        e.group = "g";
        e.rule = "R";
        e.labels = Labels{{"alertname", "R"}};
        e.fingerprint = e.labels.fingerprint();
        e.to = AlertState::Pending;
        e.value = static_cast<double>(i);
        b.add_history(std::move(e));
        b.put_rule_alerts("g", "R", {make_alert(Labels{{"alertname", "R"}, {"i", std::to_string(i % 5)}},
                                                AlertState::Pending, static_cast<double>(i), at_ms(i))});
        b.put_outbox(make_notification("ops", "k" + std::to_string(i % 50), at_ms(i)));
        store->commit(std::move(b), [fd, i](const StoreResult& r) {
          if (r.ok) {
            ssize_t w = write(fd, &i, sizeof i);
            (void)w;
          }
        });
        if (i % 32 == 0) store->flush();  // keep the queue short
      }
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(80, 500)(rng)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    std::int64_t acked = total, v = 0;
    while (read(fds[0], &v, sizeof v) == static_cast<ssize_t>(sizeof v)) acked = std::max(acked, v);
    close(fds[0]);

    {
      RawDb raw(dir.path() / "promwatch.db");
      EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok") << "round " << round;
    }
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    auto s = store->load();
    EXPECT_TRUE(s.warnings.empty());
    ASSERT_TRUE(s.last_evaluation.contains("g")) << "round " << round;
    std::int64_t n = to_unix_ms(s.last_evaluation.at("g"));
    EXPECT_GE(n, acked) << "an acknowledged commit was lost, round " << round;
    EXPECT_GE(n, total) << "round " << round;
    // Exactly rows 1..n, each once.
    HistoryFilter f;
    f.limit = static_cast<std::size_t>(n) + 10;
    auto h = store->history(f);
    ASSERT_EQ(h.entries.size(), static_cast<std::size_t>(n)) << "round " << round;
    for (std::size_t k = 0; k < h.entries.size(); ++k) {
      ASSERT_EQ(h.entries[k].value, static_cast<double>(n - static_cast<std::int64_t>(k)));
    }
    ASSERT_EQ(s.rules.size(), 1u);
    ASSERT_EQ(s.rules[0].alerts.size(), 1u);
    EXPECT_EQ(s.rules[0].alerts[0].value, static_cast<double>(n));
    ASSERT_FALSE(s.outbox.empty());
    EXPECT_EQ(s.outbox.back().created_at, at_ms(n));
    EXPECT_EQ(s.outbox.size(), static_cast<std::size_t>(std::min<std::int64_t>(n, 50)));
    total = n;
    std::printf("round %d: %lld batches committed, %lld acknowledged before the kill\n", round,
                static_cast<long long>(n), static_cast<long long>(acked));
  }
  EXPECT_GT(total, 6);
}

}  // namespace
}  // namespace promwatch
