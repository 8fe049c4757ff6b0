// The durable state store: SQLite (WAL) written by one worker thread. See store.hpp.

#include "promwatch/store.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <variant>

#include "codec.hpp"

namespace promwatch {

using namespace store_detail;

// ---------------------------------------------------------------------------------------------
// Schema. Each entry migrates from version (index) to version (index + 1); never edit an entry
// that has shipped, append a new one.

namespace {

const char* const kMigrations[] = {
    // 0 -> 1: live state.
    R"sql(
CREATE TABLE group_evaluations (
  group_name      TEXT NOT NULL PRIMARY KEY,
  last_evaluation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE alerts (
  group_name        TEXT NOT NULL,
  rule_key          TEXT NOT NULL,
  fingerprint       INTEGER NOT NULL,
  state             TEXT NOT NULL,
  labels            TEXT NOT NULL,
  annotations       TEXT NOT NULL,
  value             REAL,
  active_at         INTEGER NOT NULL,
  fired_at          INTEGER NOT NULL,
  resolved_at       INTEGER NOT NULL,
  last_sent_at      INTEGER NOT NULL,
  valid_until       INTEGER NOT NULL,
  keep_firing_since INTEGER NOT NULL,
  PRIMARY KEY (group_name, rule_key, fingerprint)
) WITHOUT ROWID;

CREATE TABLE heartbeats (
  group_name   TEXT NOT NULL,
  heartbeat    TEXT NOT NULL,
  last_success INTEGER NOT NULL,
  PRIMARY KEY (group_name, heartbeat)
) WITHOUT ROWID;

CREATE TABLE heartbeat_members (
  group_name    TEXT NOT NULL,
  heartbeat     TEXT NOT NULL,
  member        INTEGER NOT NULL,
  labels        TEXT NOT NULL,
  expected      INTEGER NOT NULL,
  up            INTEGER NOT NULL,
  last_seen_up  INTEGER NOT NULL,
  missing_since INTEGER NOT NULL,
  absent_ms     INTEGER NOT NULL,
  PRIMARY KEY (group_name, heartbeat, member),
  FOREIGN KEY (group_name, heartbeat) REFERENCES heartbeats (group_name, heartbeat) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE heartbeat_alerts (
  group_name        TEXT NOT NULL,
  heartbeat         TEXT NOT NULL,
  fingerprint       INTEGER NOT NULL,
  state             TEXT NOT NULL,
  labels            TEXT NOT NULL,
  annotations       TEXT NOT NULL,
  value             REAL,
  active_at         INTEGER NOT NULL,
  fired_at          INTEGER NOT NULL,
  resolved_at       INTEGER NOT NULL,
  last_sent_at      INTEGER NOT NULL,
  valid_until       INTEGER NOT NULL,
  keep_firing_since INTEGER NOT NULL,
  PRIMARY KEY (group_name, heartbeat, fingerprint),
  FOREIGN KEY (group_name, heartbeat) REFERENCES heartbeats (group_name, heartbeat) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE notification_log (
  receiver     TEXT NOT NULL,
  group_key    TEXT NOT NULL,
  firing       TEXT NOT NULL,
  resolved     TEXT NOT NULL,
  delivered_at INTEGER NOT NULL,
  PRIMARY KEY (receiver, group_key)
) WITHOUT ROWID;

CREATE TABLE aggregation_groups (
  receiver     TEXT NOT NULL,
  route_key    TEXT NOT NULL,
  group_labels TEXT NOT NULL,
  next_flush   INTEGER NOT NULL,
  has_flushed  INTEGER NOT NULL,
  alerts       TEXT NOT NULL,
  PRIMARY KEY (receiver, route_key, group_labels)
) WITHOUT ROWID;

CREATE TABLE outbox (
  receiver     TEXT NOT NULL,
  group_key    TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  notification TEXT NOT NULL,
  PRIMARY KEY (receiver, group_key)
) WITHOUT ROWID;
CREATE INDEX outbox_created_at ON outbox (created_at);

CREATE TABLE silences (
  id      TEXT NOT NULL PRIMARY KEY,
  ends_at INTEGER NOT NULL,
  silence TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 1 -> 2: alert history.
    R"sql(
CREATE TABLE history (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  group_name  TEXT NOT NULL,
  rule        TEXT NOT NULL,
  alertname   TEXT NOT NULL,
  fingerprint INTEGER NOT NULL,
  labels      TEXT NOT NULL,
  from_state  TEXT NOT NULL,
  to_state    TEXT NOT NULL,
  value       REAL
);
CREATE INDEX history_at ON history (at);
CREATE INDEX history_fingerprint ON history (fingerprint, at);
CREATE INDEX history_alertname ON history (alertname, at);
)sql",
    // 2 -> 3: flap detection state with each alert (#17); '' = none.
    R"sql(
ALTER TABLE alerts ADD COLUMN flap TEXT NOT NULL DEFAULT '';
ALTER TABLE heartbeat_alerts ADD COLUMN flap TEXT NOT NULL DEFAULT '';
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// ---------------------------------------------------------------------------------------------
// SQLite handles.

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

class SqlError : public std::runtime_error {
 public:
  SqlError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Errors that come from the environment (disk, locks, memory, a damaged file): the whole
// transaction is abandoned and retried later. Any other error is the operation's own (a
// constraint, a value too big): that operation is skipped, the rest commits.
bool environmental(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_READONLY: case SQLITE_CANTOPEN:
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_NOMEM: case SQLITE_CORRUPT:
    case SQLITE_NOTADB: case SQLITE_PROTOCOL: case SQLITE_PERM: case SQLITE_INTERRUPT:
    case SQLITE_ABORT: case SQLITE_NOLFS: case SQLITE_AUTH:
      return true;
    default:
      return false;
  }
}

// One connection with a cache of prepared statements. Used by one thread at a time.
class Conn {
 public:
  explicit Conn(DbPtr db) : db_(std::move(db)) {}
  sqlite3* db() const { return db_.get(); }

  [[noreturn]] void fail(int rc, std::string_view context) const {
    std::string msg(context);
    msg += ": ";
    std::string text = sqlite3_errmsg(db_.get());
    msg += text;
    int ext = sqlite3_extended_errcode(db_.get());
    if (ext == 0) ext = rc;
    std::string code = sqlite3_errstr(ext);
    if (code != text) msg += " (" + code + ")";
    throw SqlError(ext, msg);
  }

  void exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      int ext = sqlite3_extended_errcode(db_.get());
      if (ext == 0) ext = rc;
      std::string code = sqlite3_errstr(ext);
      if (code != msg) msg += " (" + code + ")";
      throw SqlError(ext, msg);
    }
  }

  sqlite3_stmt* prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second.get();
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) fail(rc, "prepare");
    cache_.emplace(sql, StmtPtr(s));
    return s;
  }

  void clear_cache() { cache_.clear(); }

 private:
  DbPtr db_;
  std::unordered_map<std::string, StmtPtr> cache_;
};

// A prepared statement in use: bind, step, read columns; reset when destroyed.
class Q {
 public:
  Q(Conn& c, const std::string& sql) : c_(c), s_(c.prepare(sql)) {}
  ~Q() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Q(const Q&) = delete;
  Q& operator=(const Q&) = delete;

  Q& i64(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  Q& real(int i, double v) {
    // SQLite stores NaN as NULL; NULL reads back as NaN.
    return check(std::isnan(v) ? sqlite3_bind_null(s_, i) : sqlite3_bind_double(s_, i, v));
  }
  Q& text(int i, std::string_view v) {
    return check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Q& time(int i, TimePoint t) { return i64(i, to_ms(t)); }

  /// true: a row is ready; false: done.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    c_.fail(rc, "step");
  }
  void run() {
    while (step()) {
    }
  }

  std::int64_t col_i64(int i) const { return sqlite3_column_int64(s_, i); }
  TimePoint col_time(int i) const { return from_ms(col_i64(i)); }
  double col_real(int i) const {
    if (sqlite3_column_type(s_, i) == SQLITE_NULL) return std::numeric_limits<double>::quiet_NaN();
    return sqlite3_column_double(s_, i);
  }
  std::string col_text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }

 private:
  Q& check(int rc) {
    if (rc != SQLITE_OK) c_.fail(rc, "bind");
    return *this;
  }
  Conn& c_;
  sqlite3_stmt* s_;
};

int user_version(Conn& c) {
  Q q(c, "PRAGMA user_version");
  return q.step() ? static_cast<int>(q.col_i64(0)) : 0;
}

std::string fp_hex(std::uint64_t fp) { return fingerprint_hex(fp); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Batches.

namespace {
struct OpPutRule { std::string group, key; std::vector<AlertRow> alerts; };
struct OpDeleteRule { std::string group, key; };
struct OpPutHeartbeat { std::string group, name; HeartbeatState state; };
struct OpDeleteHeartbeat { std::string group, name; };
struct OpPutGroupEval { std::string group; TimePoint at; };
struct OpDeleteGroup { std::string group; };
struct OpPutDispatcher { DispatcherState state; };
struct OpPutOutbox { Notification n; };
struct OpRemoveOutbox { std::string receiver, group_key; TimePoint created_at; };
struct OpClearOutboxReceiver { std::string receiver; };
struct OpPutSilence { StoredSilence silence; };
struct OpDeleteSilence { std::string id; };
struct OpPruneSilences { TimePoint before; };
struct OpAddHistory { std::vector<HistoryEntry> entries; };
struct OpPruneHistory { TimePoint before; };
using Op = std::variant<OpPutRule, OpDeleteRule, OpPutHeartbeat, OpDeleteHeartbeat, OpPutGroupEval,
                        OpDeleteGroup, OpPutDispatcher, OpPutOutbox, OpRemoveOutbox,
                        OpClearOutboxReceiver, OpPutSilence, OpDeleteSilence, OpPruneSilences,
                        OpAddHistory, OpPruneHistory>;
}  // namespace

struct StoreBatch::Ops {
  std::vector<Op> list;
};

StoreBatch::StoreBatch() : ops_(std::make_unique<Ops>()) {}
StoreBatch::~StoreBatch() = default;
StoreBatch::StoreBatch(StoreBatch&&) noexcept = default;
StoreBatch& StoreBatch::operator=(StoreBatch&&) noexcept = default;

// A moved-from batch has no Ops: give it a fresh one on the next use.
#define PW_OPS (ops_ ? *ops_ : *(ops_ = std::make_unique<Ops>()))

void StoreBatch::put_rule_alerts(std::string group, std::string rule_key, std::vector<Alert> alerts) {
  std::vector<AlertRow> rows;
  rows.reserve(alerts.size());
  for (const Alert& a : alerts) rows.push_back(encode_alert(a));
  PW_OPS.list.emplace_back(OpPutRule{std::move(group), std::move(rule_key), std::move(rows)});
}
void StoreBatch::put_rule_alerts(std::string group, std::string rule_key, const AlertingRule& rule) {
  std::vector<AlertRow> rows;
  rows.reserve(rule.size());
  rule.for_each_alert([&](const Alert& a) { rows.push_back(encode_alert(a)); });
  PW_OPS.list.emplace_back(OpPutRule{std::move(group), std::move(rule_key), std::move(rows)});
}
void StoreBatch::delete_rule(std::string group, std::string rule_key) {
  PW_OPS.list.emplace_back(OpDeleteRule{std::move(group), std::move(rule_key)});
}
void StoreBatch::put_heartbeat(std::string group, std::string name, HeartbeatState state) {
  PW_OPS.list.emplace_back(OpPutHeartbeat{std::move(group), std::move(name), std::move(state)});
}
void StoreBatch::delete_heartbeat(std::string group, std::string name) {
  PW_OPS.list.emplace_back(OpDeleteHeartbeat{std::move(group), std::move(name)});
}
void StoreBatch::put_group_evaluation(std::string group, TimePoint last_evaluation) {
  PW_OPS.list.emplace_back(OpPutGroupEval{std::move(group), last_evaluation});
}
void StoreBatch::delete_group(std::string group) { PW_OPS.list.emplace_back(OpDeleteGroup{std::move(group)}); }
void StoreBatch::put_dispatcher_state(DispatcherState state) {
  PW_OPS.list.emplace_back(OpPutDispatcher{std::move(state)});
}
void StoreBatch::put_outbox(Notification n) { PW_OPS.list.emplace_back(OpPutOutbox{std::move(n)}); }
void StoreBatch::remove_outbox(std::string receiver, std::string group_key, TimePoint created_at) {
  PW_OPS.list.emplace_back(OpRemoveOutbox{std::move(receiver), std::move(group_key), created_at});
}
void StoreBatch::clear_outbox_receiver(std::string receiver) {
  PW_OPS.list.emplace_back(OpClearOutboxReceiver{std::move(receiver)});
}
void StoreBatch::put_silence(StoredSilence silence) { PW_OPS.list.emplace_back(OpPutSilence{std::move(silence)}); }
void StoreBatch::delete_silence(std::string id) { PW_OPS.list.emplace_back(OpDeleteSilence{std::move(id)}); }
void StoreBatch::prune_silences(TimePoint ended_before) { PW_OPS.list.emplace_back(OpPruneSilences{ended_before}); }
void StoreBatch::add_history(std::vector<HistoryEntry> entries) {
  if (!entries.empty()) PW_OPS.list.emplace_back(OpAddHistory{std::move(entries)});
}
void StoreBatch::add_history(HistoryEntry entry) {
  std::vector<HistoryEntry> v;
  v.push_back(std::move(entry));
  add_history(std::move(v));
}
void StoreBatch::prune_history(TimePoint older_than) { PW_OPS.list.emplace_back(OpPruneHistory{older_than}); }
bool StoreBatch::empty() const { return !ops_ || ops_->list.empty(); }
std::size_t StoreBatch::size() const { return ops_ ? ops_->list.size() : 0; }

#undef PW_OPS

HistoryEntry HistoryEntry::from_transition(const std::string& group, const std::string& rule,
                                           const AlertTransition& t) {
  HistoryEntry e;
  e.at = t.at;
  e.group = group;
  e.rule = rule;
  e.fingerprint = t.fingerprint;
  e.labels = t.labels;
  e.from = t.from;
  e.to = t.to;
  e.value = t.value;
  return e;
}

// ---------------------------------------------------------------------------------------------
// The implementation.

struct Store::Impl {
  struct Job {
    bool write = true;
    StoreBatch batch;
    std::function<void(const StoreResult&)> done;
    std::function<void()> task;  // !write: runs on the worker
  };

  Impl(Conn c, std::string p, StoreOptions o) : conn(std::move(c)), path(std::move(p)), options(std::move(o)) {}

  Conn conn;
  std::string path;
  StoreOptions options;
  std::thread worker;

  // Shared with callers, under `mutex`.
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::deque<Job> queue;
  bool stopping = false;
  StoreStats stats;  // healthy/last_error mirrored here
  std::atomic<bool> healthy{true};

  // Worker-only state.
  std::vector<Op> retry;  // operations of failed transactions, oldest first
  std::size_t outbox_count = 0;
  std::uint64_t txn_overflow = 0;
  std::uint64_t txn_skipped = 0;
  // Digest of each row last written, per scope (table, group, owner): rows that did not change
  // are not written again. A missing scope means "unknown": the next put rewrites it whole.
  std::unordered_map<std::string, std::unordered_map<std::uint64_t, std::uint64_t>> scopes;
  bool dispatcher_known = false;
  std::map<std::pair<std::string, std::string>, std::uint64_t> log_rows;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> group_rows;
  std::chrono::steady_clock::time_point last_failure_log{};

  void post(std::function<void()> fn) {
    if (options.post_to_loop) {
      options.post_to_loop(std::move(fn));
    } else {
      fn();
    }
  }

  void enqueue(Job job) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(job));
      stats.queued_batches = queue.size();
    }
    cv.notify_one();
  }

  // Runs `fn` on the worker and waits for it.
  template <class F>
  auto run_on_worker(F fn) -> decltype(fn()) {
    using R = decltype(fn());
    std::packaged_task<R()> task(std::move(fn));
    auto fut = task.get_future();
    auto shared = std::make_shared<std::packaged_task<R()>>(std::move(task));
    Job job;
    job.write = false;
    job.task = [shared] { (*shared)(); };
    enqueue(std::move(job));
    return fut.get();
  }

  void invalidate_caches() {
    scopes.clear();
    dispatcher_known = false;
    log_rows.clear();
    group_rows.clear();
  }

  void recount_outbox() {
    try {
      Q q(conn, "SELECT COUNT(*) FROM outbox");
      outbox_count = q.step() ? static_cast<std::size_t>(q.col_i64(0)) : 0;
    } catch (const std::exception&) {
      // Keep the estimate; the next successful transaction corrects the gauge anyway.
    }
  }

  // --- the worker ------------------------------------------------------------------------------

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      if (queue.empty()) {
        if (stopping) break;
        if (!retry.empty()) {
          bool woke = cv.wait_for(lock, options.retry_interval, [&] { return stopping || !queue.empty(); });
          if (woke) continue;
          lock.unlock();
          std::vector<Job> none;
          transaction(none);
          lock.lock();
          continue;
        }
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        continue;
      }
      if (!queue.front().write) {
        Job job = std::move(queue.front());
        queue.pop_front();
        stats.queued_batches = queue.size();
        lock.unlock();
        try {
          job.task();
        } catch (const std::exception& e) {
          spdlog::error("store: {}", e.what());
        }
        lock.lock();
        continue;
      }
      std::vector<Job> writes;
      std::size_t max = std::max<std::size_t>(1, options.max_batches_per_commit);
      while (!queue.empty() && queue.front().write && writes.size() < max) {
        writes.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      stats.queued_batches = queue.size();
      lock.unlock();
      transaction(writes);
      lock.lock();
    }
    lock.unlock();
    if (!retry.empty()) {
      std::vector<Job> none;
      transaction(none);
    }
  }

  // Commits the retry operations and `writes` in one transaction; reports the outcome.
  void transaction(std::vector<Job>& writes) {
    StoreResult result;
    std::size_t batch_count = writes.size();
    txn_overflow = 0;
    txn_skipped = 0;
    try {
      conn.exec("BEGIN IMMEDIATE");
      for (auto& op : retry) apply_guarded(op);
      for (auto& w : writes) {
        if (!w.batch.ops_) continue;
        for (auto& op : w.batch.ops_->list) apply_guarded(op);
      }
      conn.exec("COMMIT");
    } catch (const std::exception& e) {
      result.ok = false;
      result.error = e.what();
      if (!sqlite3_get_autocommit(conn.db())) {
        try {
          conn.exec("ROLLBACK");
        } catch (const std::exception&) {
        }
      }
      invalidate_caches();
      recount_outbox();
    }

    std::uint64_t dropped = 0;
    if (result.ok) {
      retry.clear();
    } else {
      for (auto& w : writes) {
        if (!w.batch.ops_) continue;
        for (auto& op : w.batch.ops_->list) retry.push_back(std::move(op));
      }
      if (retry.size() > options.max_retry_ops) {
        dropped = retry.size() - options.max_retry_ops;
        retry.erase(retry.begin(), retry.begin() + static_cast<std::ptrdiff_t>(dropped));
      }
    }

    bool became_unhealthy = false, became_healthy = false;
    {
      std::lock_guard lock(mutex);
      if (result.ok) {
        ++stats.commits;
        stats.batches += batch_count;
        stats.outbox_overflow += txn_overflow;
        stats.skipped_ops += txn_skipped;
        if (!stats.healthy) became_healthy = true;
        stats.healthy = true;
      } else {
        ++stats.failed_commits;
        stats.retry_dropped += dropped;
        if (stats.healthy) became_unhealthy = true;
        stats.healthy = false;
        stats.last_error = result.error;
      }
      stats.outbox_size = outbox_count;
      stats.pending_retry_ops = retry.size();
      healthy.store(stats.healthy);
    }

    if (txn_overflow > 0 && result.ok) {
      spdlog::warn("store: outbox full ({} messages): evicted the {} oldest undelivered notification(s)",
                   options.outbox_capacity, txn_overflow);
    }
    if (became_unhealthy) {
      spdlog::error("store: cannot write {}: {}; running from memory, retrying every {}", path, result.error,
                    format_duration(options.retry_interval));
      last_failure_log = std::chrono::steady_clock::now();
    } else if (!result.ok) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_failure_log > std::chrono::minutes(1)) {
        spdlog::error("store: still cannot write {}: {} ({} operations waiting)", path, result.error,
                      retry.size());
        last_failure_log = now;
      }
    } else if (became_healthy) {
      spdlog::info("store: writing to {} again", path);
    }
    if (dropped > 0) {
      spdlog::error("store: gave up {} operations of failed commits (retry buffer full)", dropped);
    }
    if ((became_unhealthy || became_healthy) && options.on_health_change) {
      auto cb = options.on_health_change;
      bool h = result.ok;
      std::string err = result.ok ? std::string() : result.error;
      post([cb, h, err] { cb(h, err); });
    }
    for (auto& w : writes) {
      if (w.done) {
        auto done = std::move(w.done);
        post([done = std::move(done), result] { done(result); });
      }
    }
  }

  // Applies one operation inside a savepoint: an error of the operation itself skips it (logged,
  // counted), an environmental error aborts the transaction.
  void apply_guarded(Op& op) {
    conn.exec("SAVEPOINT op");
    try {
      std::visit([&](auto& o) { apply(o); }, op);
    } catch (const SqlError& e) {
      if (environmental(e.code()) || sqlite3_get_autocommit(conn.db())) throw;
      skip(e.what());
      return;
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      skip(e.what());
      return;
    }
    conn.exec("RELEASE op");
  }

  void skip(const std::string& why) {
    conn.exec("ROLLBACK TO op");
    conn.exec("RELEASE op");
    invalidate_caches();
    recount_outbox();
    ++txn_skipped;
    spdlog::error("store: skipped one write operation: {}", why);
  }

  // --- operations --------------------------------------------------------------------------

  // Writes `items` as the whole content of one scope, touching only rows whose digest changed.
  template <class T, class KeyFn, class DigestFn, class WriteFn, class DeleteOneFn, class DeleteAllFn>
  void sync_scope(const std::string& scope, const std::vector<T>& items, KeyFn key, DigestFn dig,
                  WriteFn write, DeleteOneFn delete_one, DeleteAllFn delete_all) {
    std::unordered_map<std::uint64_t, std::uint64_t> now;
    now.reserve(items.size());
    auto it = scopes.find(scope);
    if (it == scopes.end()) {
      delete_all();
      for (const auto& item : items) {
        write(item);
        now[key(item)] = dig(item);
      }
    } else {
      const auto& before = it->second;
      for (const auto& item : items) {
        std::uint64_t k = key(item), d = dig(item);
        auto b = before.find(k);
        if (b == before.end() || b->second != d) write(item);
        now[k] = d;
      }
      for (const auto& [k, d] : before) {
        if (!now.contains(k)) delete_one(k);
      }
    }
    scopes[scope] = std::move(now);
  }

  static std::string scope_of(const char* table, const std::string& group, const std::string& owner) {
    std::string s(table);
    s += '\0';
    s += group;
    s += '\0';
    s += owner;
    return s;
  }

  // `table` is "alerts" (owner column rule_key) or "heartbeat_alerts" (owner column heartbeat).
  void sync_alerts(const char* table, const char* owner_col, const std::string& group,
                   const std::string& owner, const std::vector<AlertRow>& alerts) {
    const std::string t(table), oc(owner_col);
    const std::string insert =
        "INSERT OR REPLACE INTO " + t + " (group_name, " + oc +
        ", fingerprint, state, labels, annotations, value, active_at, fired_at, resolved_at, "
        "last_sent_at, valid_until, keep_firing_since, flap) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14)";
    const std::string del_one =
        "DELETE FROM " + t + " WHERE group_name = ?1 AND " + oc + " = ?2 AND fingerprint = ?3";
    const std::string del_all = "DELETE FROM " + t + " WHERE group_name = ?1 AND " + oc + " = ?2";
    sync_scope(
        scope_of(table, group, owner), alerts, [](const AlertRow& a) { return a.fingerprint; },
        [](const AlertRow& a) { return a.digest; },
        [&](const AlertRow& a) {
          Q q(conn, insert);
          q.text(1, group).text(2, owner).i64(3, fp_to_sql(a.fingerprint)).text(4, state_name(a.state));
          q.text(5, a.labels).text(6, a.annotations).real(7, a.value);
          q.time(8, a.active_at).time(9, a.fired_at).time(10, a.resolved_at);
          q.time(11, a.last_sent_at).time(12, a.valid_until).time(13, a.keep_firing_since);
          q.text(14, a.flap);
          q.run();
        },
        [&](std::uint64_t fp) {
          Q q(conn, del_one);
          q.text(1, group).text(2, owner).i64(3, fp_to_sql(fp)).run();
        },
        [&] {
          Q q(conn, del_all);
          q.text(1, group).text(2, owner).run();
        });
  }

  void apply(OpPutRule& op) { sync_alerts("alerts", "rule_key", op.group, op.key, op.alerts); }

  void apply(OpDeleteRule& op) {
    Q q(conn, "DELETE FROM alerts WHERE group_name = ?1 AND rule_key = ?2");
    q.text(1, op.group).text(2, op.key).run();
    scopes.erase(scope_of("alerts", op.group, op.key));
  }

  void apply(OpPutHeartbeat& op) {
    {
      // An upsert, not INSERT OR REPLACE: replacing would cascade-delete the members.
      Q q(conn,
          "INSERT INTO heartbeats (group_name, heartbeat, last_success) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (group_name, heartbeat) DO UPDATE SET last_success = excluded.last_success");
      q.text(1, op.group).text(2, op.name).time(3, op.state.last_success).run();
    }
    const std::string& group = op.group;
    const std::string& name = op.name;
    sync_scope(
        scope_of("heartbeat_members", group, name), op.state.members,
        [](const HeartbeatMember& m) { return m.labels.fingerprint(); },
        [](const HeartbeatMember& m) { return digest(m); },
        [&](const HeartbeatMember& m) {
          Q q(conn,
              "INSERT OR REPLACE INTO heartbeat_members (group_name, heartbeat, member, labels, expected, "
              "up, last_seen_up, missing_since, absent_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
          q.text(1, group).text(2, name).i64(3, fp_to_sql(m.labels.fingerprint())).text(4, encode_labels(m.labels));
          q.i64(5, m.expected ? 1 : 0).i64(6, m.up ? 1 : 0).time(7, m.last_seen_up).time(8, m.missing_since);
          q.i64(9, m.absent.count()).run();
        },
        [&](std::uint64_t k) {
          Q q(conn, "DELETE FROM heartbeat_members WHERE group_name = ?1 AND heartbeat = ?2 AND member = ?3");
          q.text(1, group).text(2, name).i64(3, fp_to_sql(k)).run();
        },
        [&] {
          Q q(conn, "DELETE FROM heartbeat_members WHERE group_name = ?1 AND heartbeat = ?2");
          q.text(1, group).text(2, name).run();
        });
    std::vector<AlertRow> rows;
    rows.reserve(op.state.alerts.size());
    for (const Alert& a : op.state.alerts) rows.push_back(encode_alert(a));
    sync_alerts("heartbeat_alerts", "heartbeat", group, name, rows);
  }

  void apply(OpDeleteHeartbeat& op) {
    Q q(conn, "DELETE FROM heartbeats WHERE group_name = ?1 AND heartbeat = ?2");  // cascades
    q.text(1, op.group).text(2, op.name).run();
    scopes.erase(scope_of("heartbeat_members", op.group, op.name));
    scopes.erase(scope_of("heartbeat_alerts", op.group, op.name));
  }

  void apply(OpPutGroupEval& op) {
    Q q(conn, "INSERT OR REPLACE INTO group_evaluations (group_name, last_evaluation) VALUES (?1, ?2)");
    q.text(1, op.group).time(2, op.at).run();
  }

  void apply(OpDeleteGroup& op) {
    for (const char* sql : {"DELETE FROM alerts WHERE group_name = ?1",
                            "DELETE FROM heartbeats WHERE group_name = ?1",
                            "DELETE FROM group_evaluations WHERE group_name = ?1"}) {
      Q q(conn, sql);
      q.text(1, op.group).run();
    }
    scopes.clear();  // rare (reloads): simpler than finding the group's scopes
  }

  void apply(OpPutDispatcher& op) {
    std::map<std::pair<std::string, std::string>, std::uint64_t> new_log;
    std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> new_groups;
    if (!dispatcher_known) {
      conn.exec("DELETE FROM notification_log");
      conn.exec("DELETE FROM aggregation_groups");
    }
    for (const auto& e : op.state.log) {
      auto key = std::make_pair(e.receiver, e.group_key);
      std::uint64_t d = digest(e);
      auto b = log_rows.find(key);
      if (!dispatcher_known || b == log_rows.end() || b->second != d) {
        Q q(conn,
            "INSERT OR REPLACE INTO notification_log (receiver, group_key, firing, resolved, delivered_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
        q.text(1, e.receiver).text(2, e.group_key).text(3, encode_fingerprints(e.firing));
        q.text(4, encode_fingerprints(e.resolved)).time(5, e.timestamp).run();
      }
      new_log[std::move(key)] = d;
    }
    for (const auto& g : op.state.groups) {
      auto key = std::make_tuple(g.receiver, g.route_key, encode_labels(g.group_labels));
      std::uint64_t d = digest(g);
      auto b = group_rows.find(key);
      if (!dispatcher_known || b == group_rows.end() || b->second != d) {
        Q q(conn,
            "INSERT OR REPLACE INTO aggregation_groups (receiver, route_key, group_labels, next_flush, "
            "has_flushed, alerts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        q.text(1, g.receiver).text(2, g.route_key).text(3, std::get<2>(key)).time(4, g.next_flush);
        q.i64(5, g.has_flushed ? 1 : 0).text(6, encode_alert_events(g.alerts)).run();
      }
      new_groups[std::move(key)] = d;
    }
    if (dispatcher_known) {
      for (const auto& [key, d] : log_rows) {
        if (new_log.contains(key)) continue;
        Q q(conn, "DELETE FROM notification_log WHERE receiver = ?1 AND group_key = ?2");
        q.text(1, key.first).text(2, key.second).run();
      }
      for (const auto& [key, d] : group_rows) {
        if (new_groups.contains(key)) continue;
        Q q(conn, "DELETE FROM aggregation_groups WHERE receiver = ?1 AND route_key = ?2 AND group_labels = ?3");
        q.text(1, std::get<0>(key)).text(2, std::get<1>(key)).text(3, std::get<2>(key)).run();
      }
    }
    log_rows = std::move(new_log);
    group_rows = std::move(new_groups);
    dispatcher_known = true;
  }

  void apply(OpPutOutbox& op) {
    const Notification& n = op.n;
    bool exists;
    {
      Q q(conn, "SELECT 1 FROM outbox WHERE receiver = ?1 AND group_key = ?2");
      q.text(1, n.receiver).text(2, n.group_key);
      exists = q.step();
    }
    {
      Q q(conn, "INSERT OR REPLACE INTO outbox (receiver, group_key, created_at, notification) VALUES (?1, ?2, ?3, ?4)");
      q.text(1, n.receiver).text(2, n.group_key).time(3, n.created_at).text(4, encode_notification(n)).run();
    }
    if (!exists) ++outbox_count;
    std::size_t cap = std::max<std::size_t>(1, options.outbox_capacity);
    if (outbox_count > cap) {
      std::size_t excess = outbox_count - cap;
      std::vector<std::pair<std::string, std::string>> victims;
      {
        Q q(conn,
            "SELECT receiver, group_key FROM outbox WHERE NOT (receiver = ?1 AND group_key = ?2) "
            "ORDER BY created_at LIMIT ?3");
        q.text(1, n.receiver).text(2, n.group_key).i64(3, static_cast<std::int64_t>(excess));
        while (q.step()) victims.emplace_back(q.col_text(0), q.col_text(1));
      }
      for (const auto& [r, k] : victims) {
        Q q(conn, "DELETE FROM outbox WHERE receiver = ?1 AND group_key = ?2");
        q.text(1, r).text(2, k).run();
        spdlog::warn("store: outbox full: dropped the undelivered notification for receiver {} group {}", r, k);
      }
      outbox_count -= victims.size();
      txn_overflow += victims.size();
    }
  }

  void apply(OpRemoveOutbox& op) {
    Q q(conn, "DELETE FROM outbox WHERE receiver = ?1 AND group_key = ?2 AND created_at <= ?3");
    q.text(1, op.receiver).text(2, op.group_key).time(3, op.created_at).run();
    outbox_count -= std::min<std::size_t>(outbox_count, static_cast<std::size_t>(sqlite3_changes(conn.db())));
  }

  void apply(OpClearOutboxReceiver& op) {
    Q q(conn, "DELETE FROM outbox WHERE receiver = ?1");
    q.text(1, op.receiver).run();
    outbox_count -= std::min<std::size_t>(outbox_count, static_cast<std::size_t>(sqlite3_changes(conn.db())));
  }

  void apply(OpPutSilence& op) {
    Q q(conn, "INSERT OR REPLACE INTO silences (id, ends_at, silence) VALUES (?1, ?2, ?3)");
    q.text(1, op.silence.id).time(2, op.silence.ends_at).text(3, op.silence.json).run();
  }

  void apply(OpDeleteSilence& op) {
    Q q(conn, "DELETE FROM silences WHERE id = ?1");
    q.text(1, op.id).run();
  }

  void apply(OpPruneSilences& op) {
    Q q(conn, "DELETE FROM silences WHERE ends_at < ?1");
    q.time(1, op.before).run();
  }

  void apply(OpAddHistory& op) {
    for (const auto& e : op.entries) {
      Q q(conn,
          "INSERT INTO history (at, group_name, rule, alertname, fingerprint, labels, from_state, to_state, value) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
      q.time(1, e.at).text(2, e.group).text(3, e.rule).text(4, e.labels.get("alertname"));
      q.i64(5, fp_to_sql(e.fingerprint)).text(6, encode_labels(e.labels));
      q.text(7, state_name(e.from)).text(8, state_name(e.to)).real(9, e.value).run();
    }
  }

  void apply(OpPruneHistory& op) {
    Q q(conn, "DELETE FROM history WHERE at < ?1");
    q.time(1, op.before).run();
  }

  // --- reads -------------------------------------------------------------------------------

  static Alert read_alert(const Q& q, int c) {
    // Columns from c: fingerprint, state, labels, annotations, value, active_at, fired_at,
    // resolved_at, last_sent_at, valid_until, keep_firing_since, flap.
    Alert a;
    a.fingerprint = fp_from_sql(q.col_i64(c));
    a.state = parse_state(q.col_text(c + 1));
    a.labels = decode_labels(q.col_text(c + 2));
    a.annotations = decode_labels(q.col_text(c + 3));
    a.value = q.col_real(c + 4);
    a.active_at = q.col_time(c + 5);
    a.fired_at = q.col_time(c + 6);
    a.resolved_at = q.col_time(c + 7);
    a.last_sent_at = q.col_time(c + 8);
    a.valid_until = q.col_time(c + 9);
    a.keep_firing_since = q.col_time(c + 10);
    a.flap = decode_flap(q.col_text(c + 11));
    return a;
  }

  StoreSnapshot load() {
    StoreSnapshot s;
    auto warn = [&](std::string msg) {
      spdlog::warn("store: skipped a row at load: {}", msg);
      s.warnings.push_back(std::move(msg));
    };
    const char* alert_cols =
        "fingerprint, state, labels, annotations, value, active_at, fired_at, resolved_at, last_sent_at, "
        "valid_until, keep_firing_since, flap";
    {
      Q q(conn, "SELECT group_name, last_evaluation FROM group_evaluations");
      while (q.step()) s.last_evaluation[q.col_text(0)] = q.col_time(1);
    }
    {
      Q q(conn, std::string("SELECT group_name, rule_key, ") + alert_cols +
                    " FROM alerts ORDER BY group_name, rule_key, fingerprint");
      while (q.step()) {
        std::string g = q.col_text(0), k = q.col_text(1);
        if (s.rules.empty() || s.rules.back().group != g || s.rules.back().rule_key != k) {
          s.rules.push_back(StoredRuleAlerts{g, k, {}});
        }
        try {
          s.rules.back().alerts.push_back(read_alert(q, 2));
        } catch (const std::exception& e) {
          warn("alerts (group " + g + ", rule " + k + ", fingerprint " + fp_hex(fp_from_sql(q.col_i64(2))) +
               "): " + e.what());
        }
      }
    }
    {
      Q q(conn, "SELECT group_name, heartbeat, last_success FROM heartbeats ORDER BY group_name, heartbeat");
      while (q.step()) {
        StoredHeartbeat h;
        h.group = q.col_text(0);
        h.name = q.col_text(1);
        h.state.last_success = q.col_time(2);
        s.heartbeats.push_back(std::move(h));
      }
    }
    auto find_hb = [&](const std::string& g, const std::string& n) -> StoredHeartbeat* {
      auto it = std::lower_bound(s.heartbeats.begin(), s.heartbeats.end(), std::make_pair(g, n),
                                 [](const StoredHeartbeat& h, const std::pair<std::string, std::string>& k) {
                                   return std::tie(h.group, h.name) < std::tie(k.first, k.second);
                                 });
      return it != s.heartbeats.end() && it->group == g && it->name == n ? &*it : nullptr;
    };
    {
      Q q(conn,
          "SELECT group_name, heartbeat, member, labels, expected, up, last_seen_up, missing_since, absent_ms "
          "FROM heartbeat_members ORDER BY group_name, heartbeat, member");
      while (q.step()) {
        std::string g = q.col_text(0), n = q.col_text(1);
        StoredHeartbeat* h = find_hb(g, n);
        if (!h) continue;  // cannot happen with foreign keys on
        try {
          HeartbeatMember m;
          m.labels = decode_labels(q.col_text(3));
          m.expected = q.col_i64(4) != 0;
          m.up = q.col_i64(5) != 0;
          m.last_seen_up = q.col_time(6);
          m.missing_since = q.col_time(7);
          m.absent = Duration{q.col_i64(8)};
          h->state.members.push_back(std::move(m));
        } catch (const std::exception& e) {
          warn("heartbeat_members (group " + g + ", heartbeat " + n + "): " + e.what());
        }
      }
    }
    {
      Q q(conn, std::string("SELECT group_name, heartbeat, ") + alert_cols +
                    " FROM heartbeat_alerts ORDER BY group_name, heartbeat, fingerprint");
      while (q.step()) {
        std::string g = q.col_text(0), n = q.col_text(1);
        StoredHeartbeat* h = find_hb(g, n);
        if (!h) continue;
        try {
          h->state.alerts.push_back(read_alert(q, 2));
        } catch (const std::exception& e) {
          warn("heartbeat_alerts (group " + g + ", heartbeat " + n + "): " + e.what());
        }
      }
    }
    {
      Q q(conn,
          "SELECT receiver, group_key, firing, resolved, delivered_at FROM notification_log "
          "ORDER BY receiver, group_key");
      while (q.step()) {
        NotificationLogEntry e;
        e.receiver = q.col_text(0);
        e.group_key = q.col_text(1);
        try {
          e.firing = decode_fingerprints(q.col_text(2));
          e.resolved = decode_fingerprints(q.col_text(3));
        } catch (const std::exception& ex) {
          warn("notification_log (receiver " + e.receiver + ", group " + e.group_key + "): " + ex.what());
          continue;
        }
        e.timestamp = q.col_time(4);
        s.dispatcher.log.push_back(std::move(e));
      }
    }
    {
      Q q(conn,
          "SELECT receiver, route_key, group_labels, next_flush, has_flushed, alerts FROM aggregation_groups "
          "ORDER BY receiver, route_key, group_labels");
      while (q.step()) {
        AggregationGroupState g;
        g.receiver = q.col_text(0);
        g.route_key = q.col_text(1);
        try {
          g.group_labels = decode_labels(q.col_text(2));
          g.alerts = decode_alert_events(q.col_text(5));
        } catch (const std::exception& ex) {
          warn("aggregation_groups (receiver " + g.receiver + ", route " + g.route_key + "): " + ex.what());
          continue;
        }
        g.next_flush = q.col_time(3);
        g.has_flushed = q.col_i64(4) != 0;
        s.dispatcher.groups.push_back(std::move(g));
      }
    }
    {
      Q q(conn, "SELECT receiver, group_key, notification FROM outbox ORDER BY created_at, receiver, group_key");
      while (q.step()) {
        try {
          Notification n = decode_notification(q.col_text(2));
          // The key columns are authoritative.
          n.receiver = q.col_text(0);
          n.group_key = q.col_text(1);
          s.outbox.push_back(std::move(n));
        } catch (const std::exception& e) {
          warn("outbox (receiver " + q.col_text(0) + ", group " + q.col_text(1) + "): " + e.what());
        }
      }
    }
    {
      Q q(conn, "SELECT id, silence, ends_at FROM silences ORDER BY id");
      while (q.step()) s.silences.push_back(StoredSilence{q.col_text(0), q.col_text(1), q.col_time(2)});
    }
    return s;
  }

  HistoryResult history(const HistoryFilter& f) {
    HistoryResult r;
    std::string sql =
        "SELECT id, at, group_name, rule, fingerprint, labels, from_state, to_state, value FROM history WHERE 1";
    if (f.fingerprint) sql += " AND fingerprint = ?1";
    if (f.alertname) sql += " AND alertname = ?2";
    if (f.group) sql += " AND group_name = ?3";
    if (f.since) sql += " AND at >= ?4";
    if (f.until) sql += " AND at <= ?5";
    sql += " ORDER BY at DESC, id DESC";
    std::size_t limit = f.limit == 0 ? 1000 : f.limit;
    if (f.matchers.empty()) sql += " LIMIT ?6";
    try {
      Q q(conn, sql);
      if (f.fingerprint) q.i64(1, fp_to_sql(*f.fingerprint));
      if (f.alertname) q.text(2, *f.alertname);
      if (f.group) q.text(3, *f.group);
      if (f.since) q.time(4, *f.since);
      if (f.until) q.time(5, *f.until);
      if (f.matchers.empty()) q.i64(6, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
      while (r.entries.size() < limit && q.step()) {
        HistoryEntry e;
        try {
          e.id = q.col_i64(0);
          e.at = q.col_time(1);
          e.group = q.col_text(2);
          e.rule = q.col_text(3);
          e.fingerprint = fp_from_sql(q.col_i64(4));
          e.labels = decode_labels(q.col_text(5));
          e.from = parse_state(q.col_text(6));
          e.to = parse_state(q.col_text(7));
          e.value = q.col_real(8);
        } catch (const std::exception& ex) {
          spdlog::warn("store: skipped history row {}: {}", q.col_i64(0), ex.what());
          continue;
        }
        if (!f.matchers.empty() && !matches_all(f.matchers, e.labels)) continue;
        r.entries.push_back(std::move(e));
      }
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
      r.entries.clear();
    }
    return r;
  }
};

// ---------------------------------------------------------------------------------------------
// Opening.

namespace {

bool open_error(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
  return false;
}

// Creates `dir` (0700) and its parents when missing; checks it is a writable directory.
bool prepare_dir(const std::string& dir, std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(dir.empty() ? "." : dir);
  if (!fs::exists(p, ec)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return open_error(error, "state_dir " + p.string() + ": " + ec.message());
    }
    fs::create_directories(p, ec);
    if (ec) return open_error(error, "state_dir " + p.string() + ": cannot create directory: " + ec.message());
    fs::permissions(p, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return open_error(error, "state_dir " + p.string() + ": cannot set mode 0700: " + ec.message());
  }
  if (!fs::is_directory(p, ec)) return open_error(error, "state_dir " + p.string() + ": not a directory");
  if (::access(p.c_str(), W_OK | X_OK) != 0) {
    return open_error(error, "state_dir " + p.string() + ": not writable: " + std::strerror(errno));
  }
  return true;
}

}  // namespace

int Store::schema_version() { return kSchemaVersion; }

std::unique_ptr<Store> Store::open(const std::string& state_dir, std::string* error, StoreOptions options) {
  if (!prepare_dir(state_dir, error)) return nullptr;
  std::string path = (std::filesystem::path(state_dir.empty() ? "." : state_dir) / "promwatch.db").string();
  auto fail = [&](const std::string& what) -> std::unique_ptr<Store> {
    if (error) *error = path + ": " + what;
    return nullptr;
  };

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return fail(std::string("cannot open: ") + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(std::clamp<std::int64_t>(options.busy_timeout.count(), 0, INT32_MAX)));
  Conn conn(std::move(db));
  try {
    {
      Q q(conn, "PRAGMA journal_mode = WAL");
      std::string mode = q.step() ? q.col_text(0) : "";
      if (mode != "wal") return fail("cannot switch to WAL journal mode (got \"" + mode + "\")");
    }
    conn.exec(options.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    conn.exec("PRAGMA foreign_keys = ON");
    conn.exec("PRAGMA journal_size_limit = 67108864");  // truncate the WAL back to 64 MiB after checkpoints

    int version = user_version(conn);
    if (version > kSchemaVersion) {
      return fail("database schema version " + std::to_string(version) + " is newer than this promwatch supports (" +
                  std::to_string(kSchemaVersion) +
                  "); it was written by a newer promwatch: upgrade promwatch or point global.state_dir elsewhere");
    }
    if (version < 0) return fail("invalid schema version " + std::to_string(version));
    for (int v = version; v < kSchemaVersion; ++v) {
      try {
        conn.exec("BEGIN IMMEDIATE");
        conn.exec(kMigrations[v]);
        conn.exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
        conn.exec("COMMIT");
      } catch (const std::exception& e) {
        if (!sqlite3_get_autocommit(conn.db())) {
          try {
            conn.exec("ROLLBACK");
          } catch (const std::exception&) {
          }
        }
        return fail("schema migration " + std::to_string(v) + " -> " + std::to_string(v + 1) + " failed: " + e.what());
      }
      if (version > 0) spdlog::info("store: {}: migrated schema to version {}", path, v + 1);
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }

  auto impl = std::make_unique<Impl>(std::move(conn), path, std::move(options));
  impl->recount_outbox();
  impl->stats.outbox_size = impl->outbox_count;
  Impl* p = impl.get();
  impl->worker = std::thread([p] { p->run(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
  // Finalize statements before the connection closes (close_v2 would defer it anyway).
  impl_->conn.clear_cache();
}

StoreSnapshot Store::load() {
  return impl_->run_on_worker([this] { return impl_->load(); });
}

void Store::commit(StoreBatch batch, std::function<void(const StoreResult&)> done) {
  Impl::Job job;
  job.write = true;
  job.batch = std::move(batch);
  job.done = std::move(done);
  impl_->enqueue(std::move(job));
}

void Store::flush() {
  impl_->run_on_worker([this] {
    if (!impl_->retry.empty()) {
      std::vector<Impl::Job> none;
      impl_->transaction(none);
    }
    return 0;
  });
}

void Store::query_history(HistoryFilter filter, std::function<void(HistoryResult)> done) {
  Impl::Job job;
  job.write = false;
  Impl* p = impl_.get();
  job.task = [p, filter = std::move(filter), done = std::move(done)]() mutable {
    HistoryResult r = p->history(filter);
    if (done) p->post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  impl_->enqueue(std::move(job));
}

HistoryResult Store::history(const HistoryFilter& filter) {
  return impl_->run_on_worker([this, &filter] { return impl_->history(filter); });
}

bool Store::healthy() const { return impl_->healthy.load(); }

std::string Store::last_error() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats.last_error;
}

StoreStats Store::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

const std::string& Store::path() const { return impl_->path; }

}  // namespace promwatch
