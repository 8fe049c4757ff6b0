#pragma once
/// \file
/// The durable state store: one SQLite database, `<state_dir>/promwatch.db`, holding what must
/// survive a restart or a SIGKILL (SPEC §6, §9): rule alerts, heartbeat state (members and
/// alerts), each group's last completed evaluation, the dispatcher's notification log and
/// aggregation groups, the outbox of accepted-but-undelivered notifications, runtime silences
/// (opaque JSON records) and the alert history (one row per state transition).
///
/// Shape: the daemon hands plain values to the store on the event-loop thread, packed into a
/// `StoreBatch`; `Store::commit` queues the batch and returns at once. ONE worker thread owned
/// by the store encodes each batch and commits it as one SQLite transaction (consecutive queued
/// batches are merged into one transaction: group commit). The completion callback is posted
/// back through the caller-supplied `post_to_loop` executor, so the daemon stays
/// single-threaded. Reads (`load`, `history`) run on the same worker, after every batch queued
/// before them.
///
/// Durability: WAL journal. `synchronous=FULL` by default: every commit fsyncs the WAL (on the
/// worker, never on the loop), so a committed batch survives a SIGKILL *and* a power loss or
/// kernel panic — a lost tail would mean lost undelivered notifications or re-notified alerts,
/// and the write rate (evaluations and notifications, merged by group commit) is small enough
/// that the fsync costs nothing that matters. `StoreOptions::sync_full = false` selects
/// `synchronous=NORMAL`: WAL commits are then write()s into the page cache, still safe against
/// a process kill (the kernel keeps the data) but not against power loss; meant for slow
/// flash storage and tests.
///
/// Encoding (documented so the database can be inspected with the `sqlite3` shell): times are
/// INTEGER milliseconds since the Unix epoch, 0 meaning "not set"; fingerprints are INTEGER
/// (the uint64 bit pattern as int64); sample values are REAL with NULL meaning NaN (SQLite
/// cannot store NaN); label sets and annotations are JSON objects `{"name":"value"}`; other
/// structured values (notifications, aggregation-group alerts, members) are JSON documents
/// whose fields are named after the C++ fields. A row that cannot be decoded is skipped at
/// `load` with a warning (in `StoreSnapshot::warnings` and the log), never a crash.
///
/// Schema: versioned with `PRAGMA user_version` and a list of migrations applied in order,
/// each in its own transaction; a database written by a newer promwatch (a version this build
/// does not know) is refused by `open` with a clear error, rather than being misread.
///
/// Errors: `open` reports failures (unwritable directory, not a database, too new) as a null
/// result with `*error` set. After `open` nothing throws: a failed commit (disk full, I/O error,
/// directory made read-only) is rolled back, logged, counted, makes `healthy()` false and calls
/// `StoreOptions::on_health_change`; its operations are kept (bounded) and retried with the next
/// commit or after `retry_interval`, so the database catches up once the disk recovers. The
/// daemon keeps running from memory meanwhile.
///
/// Use by the daemon (all on the event loop unless said otherwise):
///  - Start-up: `open(state_dir, &err, {post_to_loop = post to the io_context, on_health_change})`
///    (failure: exit 2 with `err`), then `load()` before the loop runs. For each configured rule:
///    `restore(saved alerts, last_evaluation[group] (or now when absent), now, options)`, the
///    dropped-pending transitions go to the history; heartbeats `import_state`; the dispatcher
///    `import_state(snapshot.dispatcher, now)`; every outbox message `Delivery::submit`ted;
///    silences handed to the silences component. Stored rules, heartbeats, groups and outbox
///    receivers that are no longer configured: `delete_rule` / `delete_heartbeat` /
///    `delete_group` / `clear_outbox_receiver`.
///  - After each group round, ONE batch: `put_rule_alerts` for each rule whose evaluation had
///    transitions (plus, say every few minutes, for every rule with alerts, to catch value,
///    annotation and last-sent changes: unchanged rows are not rewritten), `add_history` of the
///    transitions, `put_heartbeat` for each heartbeat rule, `put_dispatcher_state` after
///    `Dispatcher::receive`, and `put_group_evaluation(group, slot)` last.
///  - Notifications from `collect_due`: one batch with `put_dispatcher_state` and `put_outbox`
///    of each; `Delivery::submit` them in the batch's completion callback (also when it reports
///    a failure: the daemon keeps going from memory). That gives SPEC §6's "committed before
///    sending" (batches commit in order, so the state change is committed first).
///  - Delivery report "success": `Dispatcher::record_delivered`, then a batch with
///    `remove_outbox(receiver, group_key, n.created_at)` and `put_dispatcher_state`; "failed" and
///    "dropped": `remove_outbox` (a newer message for the key is kept by the created_at check).
///  - Runtime silence created/expired: `put_silence`/`delete_silence`; answer the HTTP request
///    in the completion callback. Periodically (hourly): `prune_history(now - retention)`.
///  - `GET /api/v1/alerts/history`: build a `HistoryFilter`, `query_history`, answer in the
///    callback. Metrics and status: `stats()`.
///  - Shutdown: after delivery's drain, a last batch, then `flush()`; destroy the store while
///    the io_context object still exists (the last callbacks are posted to it).
///
/// Threads: `commit`, `query_history`, `healthy`, `last_error` and `stats` are thread-safe and
/// never wait for I/O. `load`, `flush` and `history` block until the worker has done the work:
/// call them at start-up, at shutdown or off the event loop, and never on the worker itself
/// (i.e. not from a callback when `post_to_loop` is empty).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "promwatch/labels.hpp"
#include "promwatch/matcher.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/rules.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

/// A runtime silence as the store keeps it: opaque to the store. The silences component
/// serialises itself (Alertmanager v2 JSON) into `json`; `ends_at` allows pruning.
struct StoredSilence {
  std::string id;
  std::string json;
  TimePoint ends_at{};
};

/// One row of the alert history: a state transition.
struct HistoryEntry {
  std::int64_t id = 0;    ///< assigned by the store (increasing with insertion); ignored on write
  TimePoint at{};         ///< when the transition happened (the evaluation time)
  std::string group;      ///< rule group name
  std::string rule;       ///< rule name (the alerting rule's `alert`, or the heartbeat's `name`)
  std::uint64_t fingerprint = 0;
  Labels labels;          ///< the alert's labels (without external labels)
  AlertState from = AlertState::Inactive;
  AlertState to = AlertState::Inactive;
  double value = 0;

  /// The row for `t`, a transition of rule `rule` of group `group`.
  static HistoryEntry from_transition(const std::string& group, const std::string& rule,
                                      const AlertTransition& t);
};

/// Which history rows to return. Every set field must hold (AND). Rows come newest first
/// (by time, then by insertion).
struct HistoryFilter {
  std::optional<std::uint64_t> fingerprint;
  std::optional<std::string> alertname;  ///< the `alertname` label
  std::optional<std::string> group;
  std::vector<Matcher> matchers;         ///< on the alert's labels (Alertmanager semantics)
  std::optional<TimePoint> since;        ///< at >= since
  std::optional<TimePoint> until;        ///< at <= until
  std::size_t limit = 1000;              ///< at most this many rows (0 = 1000)
};

struct HistoryResult {
  bool ok = true;
  std::string error;
  std::vector<HistoryEntry> entries;  ///< newest first
};

/// The saved alerts of one alerting rule.
struct StoredRuleAlerts {
  std::string group;
  std::string rule_key;  ///< `rule_identity_key(...)`
  std::vector<Alert> alerts;
};

/// The saved state of one heartbeat rule.
struct StoredHeartbeat {
  std::string group;
  std::string name;
  HeartbeatState state;
};

/// Everything in the store, as plain values (`Store::load`).
struct StoreSnapshot {
  std::vector<StoredRuleAlerts> rules;          ///< sorted by (group, rule_key)
  std::vector<StoredHeartbeat> heartbeats;      ///< sorted by (group, name)
  /// The last completed evaluation of each group: the `down_at` of `AlertingRule::restore`.
  std::map<std::string, TimePoint> last_evaluation;
  DispatcherState dispatcher;
  std::vector<Notification> outbox;             ///< undelivered messages, oldest first
  std::vector<StoredSilence> silences;
  std::vector<std::string> warnings;            ///< rows skipped as undecodable, with the reason
};

/// The result of one commit, passed to its completion callback.
struct StoreResult {
  bool ok = true;
  std::string error;  ///< when !ok: SQLite's message
};

/// Counters and gauges for metrics and the status page. Thread-safe snapshot.
struct StoreStats {
  bool healthy = true;
  std::string last_error;
  std::uint64_t commits = 0;           ///< transactions committed
  std::uint64_t batches = 0;           ///< batches committed (several per transaction possible)
  std::uint64_t failed_commits = 0;    ///< transactions rolled back
  std::uint64_t outbox_overflow = 0;   ///< outbox messages evicted because the outbox was full
  std::uint64_t retry_dropped = 0;     ///< failed operations given up (retry buffer full)
  std::uint64_t skipped_ops = 0;       ///< operations that failed on their own and were skipped
  std::size_t outbox_size = 0;         ///< messages in the outbox after the last commit
  std::size_t queued_batches = 0;      ///< batches waiting for the worker
  std::size_t pending_retry_ops = 0;   ///< operations of failed commits waiting for a retry
};

/// The writes of one transaction, built on the caller's thread from plain values (moved in).
/// Operations apply in the order they were added. Move-only.
class StoreBatch {
 public:
  StoreBatch();
  ~StoreBatch();
  StoreBatch(StoreBatch&&) noexcept;
  StoreBatch& operator=(StoreBatch&&) noexcept;
  StoreBatch(const StoreBatch&) = delete;
  StoreBatch& operator=(const StoreBatch&) = delete;

  /// Replaces the saved alerts of rule `rule_key` of `group` with `alerts` (the full list, as
  /// `AlertingRule::export_alerts` gives it; empty removes them). Only rows that differ from
  /// what the store last wrote are written.
  void put_rule_alerts(std::string group, std::string rule_key, std::vector<Alert> alerts);
  /// The same for every alert `rule` holds, read in place. Either way each alert is encoded into
  /// its row here, on the caller's thread: a queued write holds rows, about a third of the
  /// alerts' memory (at 100,000 alerts, copies queued behind a busy disk were the peak).
  void put_rule_alerts(std::string group, std::string rule_key, const AlertingRule& rule);
  /// Forgets a rule (removed by a reload, or found in `load` but no longer configured).
  void delete_rule(std::string group, std::string rule_key);
  /// Replaces the saved state of heartbeat `name` of `group` (members and alerts).
  void put_heartbeat(std::string group, std::string name, HeartbeatState state);
  void delete_heartbeat(std::string group, std::string name);
  /// Records the group's last completed evaluation (slot time).
  void put_group_evaluation(std::string group, TimePoint last_evaluation);
  /// Forgets a whole group: its rules, heartbeats and evaluation time.
  void delete_group(std::string group);
  /// Replaces the dispatcher state (notification log and aggregation groups) with `state`, as
  /// `Dispatcher::export_state` gives it. Only changed entries are written.
  void put_dispatcher_state(DispatcherState state);
  /// Puts `n` in the outbox under (n.receiver, n.group_key), replacing an older message for the
  /// same key. When the outbox is full (`StoreOptions::outbox_capacity`) the oldest message of
  /// another key is evicted and counted (`StoreStats::outbox_overflow`, logged).
  void put_outbox(Notification n);
  /// Removes the outbox message for (receiver, group_key) if it was created at or before
  /// `created_at` (the delivered/failed/dropped message's `created_at`), so that a newer
  /// message that replaced it stays.
  void remove_outbox(std::string receiver, std::string group_key, TimePoint created_at);
  /// Removes every outbox message of `receiver` (receiver removed by a reload).
  void clear_outbox_receiver(std::string receiver);
  void put_silence(StoredSilence silence);
  void delete_silence(std::string id);
  /// Deletes silences that ended before `t`.
  void prune_silences(TimePoint ended_before);
  /// Appends history rows (`HistoryEntry::id` is ignored).
  void add_history(std::vector<HistoryEntry> entries);
  void add_history(HistoryEntry entry);
  /// Deletes history rows with `at < older_than` (retention).
  void prune_history(TimePoint older_than);

  bool empty() const;
  std::size_t size() const;  ///< number of operations

  struct Ops;  ///< implementation detail

 private:
  friend class Store;
  std::unique_ptr<Ops> ops_;
};

struct StoreOptions {
  /// Runs a callback on the daemon's event-loop thread (e.g. `boost::asio::post(io, f)`).
  /// Completion and health callbacks go through it. When empty they run on the worker thread
  /// (tests, tools).
  std::function<void(std::function<void()>)> post_to_loop;
  /// Called (through `post_to_loop`) when the store becomes unhealthy (a commit failed; the
  /// error text) and when it is healthy again (a later commit succeeded; empty text).
  std::function<void(bool healthy, const std::string& error)> on_health_change;
  /// Most messages kept in the outbox (SPEC: bounded; overflow counted and logged).
  std::size_t outbox_capacity = 10000;
  /// `synchronous=FULL` (true, default: survives power loss) or `NORMAL` (survives a process
  /// kill only). See the file comment.
  bool sync_full = true;
  /// SQLite busy timeout (another process holding the database, e.g. a `sqlite3` shell).
  Duration busy_timeout = std::chrono::seconds(5);
  /// How often operations of failed commits are retried when no new batch arrives.
  Duration retry_interval = std::chrono::seconds(10);
  /// Most operations of failed commits kept for retry; beyond it the oldest are dropped and
  /// counted (`StoreStats::retry_dropped`).
  std::size_t max_retry_ops = 100000;
  /// Most batches merged into one transaction.
  std::size_t max_batches_per_commit = 64;
};

/// The store. Owns the database connection and the worker thread. Not copyable or movable;
/// hold it in the `unique_ptr` `open` returns. Destroying it commits everything queued,
/// stops the worker and closes the database (callbacks of the last commits are still posted).
class Store {
 public:
  /// The schema version this build writes (`PRAGMA user_version`).
  static int schema_version();

  /// Opens (creating when needed) `<state_dir>/promwatch.db`, creating `state_dir` (itself
  /// mode 0700) and its parents when missing; sets WAL, synchronous, busy_timeout, foreign keys; applies
  /// pending migrations; starts the worker. On failure returns null with `*error` set to a
  /// message naming the path and the cause (e.g. "state_dir /x/y: cannot create directory: Not
  /// a directory", "…/promwatch.db: database schema version 7 is newer than this promwatch supports (2); …").
  static std::unique_ptr<Store> open(const std::string& state_dir, std::string* error,
                                     StoreOptions options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Reads everything (blocking; after every batch queued before). For start-up.
  StoreSnapshot load();

  /// Queues `batch`; returns at once. The batch is committed on the worker, in submission
  /// order, as one transaction (possibly merged with other queued batches); then `done` (if
  /// any) is posted with the result. On failure the batch's operations are retried later
  /// (see the file comment); `done` still reports the failure now. An empty batch just
  /// reports success after every earlier batch.
  void commit(StoreBatch batch, std::function<void(const StoreResult&)> done = {});

  /// Blocks until every batch queued before has been committed (or has failed). For shutdown
  /// and tests. Also retries operations of failed commits once.
  void flush();

  /// Queries the history on the worker and posts the result through `post_to_loop`.
  void query_history(HistoryFilter filter, std::function<void(HistoryResult)> done);
  /// The same, blocking (not on the event loop).
  HistoryResult history(const HistoryFilter& filter);

  /// False since the last commit failed, until one succeeds again.
  bool healthy() const;
  std::string last_error() const;
  StoreStats stats() const;

  /// The database file path.
  const std::string& path() const;

  struct Impl;  ///< implementation detail

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace promwatch
