// One replica's part in the cluster: a lease kept alive, a campaign that waits for leadership,
// the replicated notification log and silences, and the fail-open rule. Everything is driven by
// one timer (every lease_ttl/3) and the answers of the requests it starts; each kind of request
// has at most one in flight, so a slow or dead etcd costs a bounded number of transfers.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "promwatch/cluster.hpp"

namespace promwatch {

std::string_view to_string(ClusterRole role) {
  switch (role) {
    case ClusterRole::Starting: return "starting";
    case ClusterRole::Follower: return "follower";
    case ClusterRole::Leader: return "leader";
    case ClusterRole::FailOpen: return "fail_open";
  }
  return "starting";
}

namespace {

namespace asio = boost::asio;
using SteadyTime = std::chrono::steady_clock::time_point;

// etcd's limit of operations in one transaction is 128 by default.
constexpr std::size_t kMaxWritesPerTxn = 100;
// A campaign is a long poll. When it ends without a result the server resigns the waiting key and
// the replica campaigns again (at the back of the queue, which changes nothing that matters).
constexpr Duration kCampaignTimeout = std::chrono::seconds(60);
// How long the notification log is kept (Alertmanager's default data retention).
constexpr Duration kLogRetention = std::chrono::hours(120);

std::string log_key(const std::string& prefix, const NotificationLogEntry& e) {
  // Length-prefixed so that no receiver name and group key pair can be mistaken for another.
  return prefix + "nflog/" + std::to_string(e.receiver.size()) + ":" + e.receiver + e.group_key;
}

}  // namespace

struct Cluster::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, HttpClient& http, ClusterConfig cfg, ClusterHooks h, prometheus::Registry& registry)
      : config(std::move(cfg)),
        hooks(std::move(h)),
        etcd(http, config.etcd_endpoints, config.http),
        timer(io),
        stop_timer(io),
        election(config.name),
        state_prefix(config.name + "#state/") {
    leader_gauge = &prometheus::BuildGauge()
                        .Name("promwatch_cluster_leader")
                        .Help("Whether this replica is the cluster's leader and notifies (1) or not (0).")
                        .Register(registry)
                        .Add({});
    fail_open_gauge = &prometheus::BuildGauge()
                           .Name("promwatch_cluster_fail_open")
                           .Help("Whether this replica notifies on its own because etcd has been unreachable for "
                                 "fail_open_after (1) or not (0).")
                           .Register(registry)
                           .Add({});
    changes_counter = &prometheus::BuildCounter()
                           .Name("promwatch_cluster_leader_changes_total")
                           .Help("Changes of the cluster's leader seen by this replica.")
                           .Register(registry)
                           .Add({});
    etcd_up_gauge = &prometheus::BuildGauge()
                         .Name("promwatch_cluster_etcd_up")
                         .Help("Whether etcd answered this replica's last request (1) or not (0).")
                         .Register(registry)
                         .Add({});
  }

  ClusterConfig config;
  ClusterHooks hooks;
  EtcdClient etcd;
  asio::steady_timer timer;
  asio::steady_timer stop_timer;
  const std::string election;
  const std::string state_prefix;
  prometheus::Gauge* leader_gauge = nullptr;
  prometheus::Gauge* fail_open_gauge = nullptr;
  prometheus::Counter* changes_counter = nullptr;
  prometheus::Gauge* etcd_up_gauge = nullptr;

  ClusterRole role = ClusterRole::Starting;
  bool stopped = false;

  // The lease. Answers about an older lease (generation) are ignored.
  std::int64_t lease = 0;
  std::uint64_t lease_generation = 0;
  std::int64_t lease_ttl_reported = 0;
  SteadyTime lease_confirmed{};
  bool granting = false;
  bool keeping_alive = false;
  // The campaign in flight, by the lease generation it was started with (0 = none).
  std::uint64_t campaign_generation = 0;
  // Won but not yet promoted: the shared state is read first.
  std::optional<EtcdLeaderKey> won;
  bool promoting = false;
  std::optional<EtcdLeaderKey> leader_key;  // ours, while leader

  // What the election looks like (from the last read of its keys).
  std::string leader_member;
  std::string leader_etcd_key;
  std::vector<std::string> members;
  bool reading_members = false;
  std::uint64_t leader_changes = 0;

  // Health of the connection to etcd.
  bool etcd_up = false;
  std::string last_error;
  SteadyTime last_contact_steady{};
  TimePoint last_contact{};

  // Replicated state.
  std::int64_t synced_revision = 0;
  bool syncing = false;
  std::map<std::string, std::optional<std::string>> pending_log;       // key -> value (nullopt: delete)
  std::map<std::string, std::optional<std::string>> pending_silences;  // likewise
  bool writing_log = false;
  bool writing_silences = false;

  Duration tick_interval() const { return std::max(Duration(config.lease_ttl / 3), Duration(std::chrono::milliseconds(500))); }

  bool may_notify() const { return role == ClusterRole::Leader || role == ClusterRole::FailOpen; }

  void start() {
    last_contact_steady = std::chrono::steady_clock::now();  // fail-open counts from start-up
    spdlog::info("cluster {}: member {} joining through etcd {}", config.name, config.member, etcd.current_endpoint());
    tick();
  }

  void schedule_tick() {
    if (stopped) return;
    timer.expires_after(tick_interval());
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!ec && self) self->tick();
    });
  }

  void tick() {
    if (stopped) return;
    const SteadyTime t = std::chrono::steady_clock::now();
    if (role == ClusterRole::Leader && t - lease_confirmed > config.lease_ttl) {
      // etcd has not confirmed the lease for a whole TTL: it has let it expire, and another
      // replica may already lead. Step down before notifying twice for long.
      step_down("etcd has not confirmed this replica's lease for " + format_duration(config.lease_ttl));
    }
    if (role != ClusterRole::FailOpen && t - last_contact_steady > config.fail_open_after) {
      set_role(ClusterRole::FailOpen);
      spdlog::error("cluster {}: etcd unreachable for more than {} ({}): this replica notifies on its own, "
                    "duplicates rather than silence",
                    config.name, format_duration(config.fail_open_after), last_error);
    }
    if (lease == 0) {
      grant();
    } else {
      keepalive();
      if (campaign_generation != lease_generation && !won && role != ClusterRole::Leader) campaign();
    }
    sync();
    read_members();
    flush_silences();
    flush_log();
    schedule_tick();
  }

  // ---- health ----

  void contact() {
    last_contact_steady = std::chrono::steady_clock::now();
    last_contact = now();
    if (!etcd_up) {
      if (!last_error.empty()) spdlog::info("cluster {}: etcd {} answers again", config.name, etcd.current_endpoint());
      etcd_up = true;
      etcd_up_gauge->Set(1);
    }
    last_error.clear();
    if (role == ClusterRole::FailOpen) {
      spdlog::warn("cluster {}: etcd is back; replicas elect a leader again and only it notifies", config.name);
      set_role(lease != 0 ? ClusterRole::Follower : ClusterRole::Starting);
    }
  }

  void failed(const std::string& what, const std::string& error) {
    if (etcd_up || last_error.empty()) {
      spdlog::warn("cluster {}: etcd {}: {}: {}", config.name, etcd.current_endpoint(), what, error);
    }
    etcd_up = false;
    etcd_up_gauge->Set(0);
    last_error = what + ": " + error;
  }

  // ---- roles ----

  void set_role(ClusterRole next) {
    if (next == role) return;
    const bool before = may_notify();
    const ClusterRole previous = role;
    role = next;
    leader_gauge->Set(role == ClusterRole::Leader ? 1 : 0);
    fail_open_gauge->Set(role == ClusterRole::FailOpen ? 1 : 0);
    if (role != ClusterRole::Leader) leader_key.reset();
    spdlog::info("cluster {}: member {} is now {} (was {})", config.name, config.member, to_string(role),
                 to_string(previous));
    if (before != may_notify() && hooks.on_notify_change) hooks.on_notify_change(may_notify());
  }

  void step_down(const std::string& why) {
    if (role != ClusterRole::Leader) return;
    spdlog::warn("cluster {}: member {} steps down: {}", config.name, config.member, why);
    pending_log.clear();  // a follower writes no log; the next leader reads its own state
    set_role(lease != 0 ? ClusterRole::Follower : ClusterRole::Starting);
  }

  // ---- lease ----

  void grant() {
    if (granting || stopped) return;
    granting = true;
    etcd.grant(config.lease_ttl, [weak = weak_from_this()](EtcdAnswer<EtcdLease> answer) {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->granting = false;
      if (!answer.ok()) return self->failed("lease grant", answer.error);
      self->contact();
      self->lease = answer.value.id;
      self->lease_ttl_reported = answer.value.ttl_seconds;
      self->lease_confirmed = std::chrono::steady_clock::now();
      ++self->lease_generation;
      if (self->role == ClusterRole::Starting) self->set_role(ClusterRole::Follower);
      self->campaign();
    });
  }

  void keepalive() {
    if (keeping_alive || lease == 0) return;
    keeping_alive = true;
    const std::uint64_t generation = lease_generation;
    etcd.keepalive(lease, [weak = weak_from_this(), generation](EtcdAnswer<EtcdLease> answer) {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->keeping_alive = false;
      if (generation != self->lease_generation) return;
      if (!answer.ok()) return self->failed("lease keep-alive", answer.error);
      self->contact();
      if (answer.value.ttl_seconds <= 0) {
        // etcd answers TTL 0 for a lease it no longer has: it expired while etcd was not
        // reached, and with it this replica's election key.
        spdlog::warn("cluster {}: lease {:x} of member {} has expired; taking a new one", self->config.name,
                     self->lease, self->config.member);
        self->lease = 0;
        self->won.reset();
        self->step_down("its lease expired");
        self->grant();
        return;
      }
      self->lease_ttl_reported = answer.value.ttl_seconds;
      self->lease_confirmed = std::chrono::steady_clock::now();
    });
  }

  // ---- election ----

  void campaign() {
    if (lease == 0 || stopped || campaign_generation == lease_generation) return;
    campaign_generation = lease_generation;
    const std::uint64_t generation = lease_generation;
    etcd.campaign(election, lease, config.member, kCampaignTimeout,
                  [weak = weak_from_this(), generation](EtcdAnswer<EtcdLeaderKey> answer) {
                    auto self = weak.lock();
                    if (!self || self->stopped) return;
                    if (self->campaign_generation == generation) self->campaign_generation = 0;
                    if (generation != self->lease_generation) return;  // an old lease's campaign
                    if (!answer.ok()) {
                      // A long poll that timed out is no etcd fault: campaign again at once.
                      if (answer.error.find("timed out") == std::string::npos) {
                        self->failed("campaign", answer.error);
                      } else {
                        self->campaign();
                      }
                      return;
                    }
                    self->contact();
                    if (answer.value.lease != self->lease) return;
                    self->won = answer.value;
                    // Read what the previous leader left before the first delivery.
                    self->sync();
                  });
  }

  // Becomes leader once the shared state has been read, and only if the key that won is still
  // the oldest of the election (the lease may have expired while the answer travelled).
  void promote_if_won() {
    if (!won || role == ClusterRole::Leader || promoting) return;
    const EtcdLeaderKey key = *won;
    promoting = true;
    etcd.range(election + "/", 0, [weak = weak_from_this(), key](EtcdAnswer<EtcdRange> answer) {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->promoting = false;
      if (!self->won || self->won->key != key.key) return;
      if (!answer.ok()) return self->failed("reading the election", answer.error);
      self->contact();
      self->observe_members(answer.value);
      if (self->leader_etcd_key != key.key) {
        self->won.reset();
        self->campaign();
        return;
      }
      self->won.reset();
      self->leader_key = key;  // before the role: the hook may record log entries at once
      self->set_role(ClusterRole::Leader);
    });
  }

  void read_members() {
    if (reading_members) return;
    reading_members = true;
    etcd.range(election + "/", 0, [weak = weak_from_this()](EtcdAnswer<EtcdRange> answer) {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->reading_members = false;
      if (!answer.ok()) return self->failed("reading the election", answer.error);
      self->contact();
      self->observe_members(answer.value);
      if (self->role == ClusterRole::Leader && self->leader_key && self->leader_etcd_key != self->leader_key->key) {
        self->step_down("another replica holds the leader key");
      }
    });
  }

  void observe_members(EtcdRange range) {
    std::sort(range.kvs.begin(), range.kvs.end(),
              [](const EtcdKeyValue& a, const EtcdKeyValue& b) { return a.create_revision < b.create_revision; });
    members.clear();
    for (const auto& kv : range.kvs) members.push_back(kv.value);
    std::string first_key = range.kvs.empty() ? std::string() : range.kvs.front().key;
    if (first_key != leader_etcd_key) {
      if (!first_key.empty()) {
        spdlog::info("cluster {}: leader is {}", config.name, range.kvs.front().value);
        if (!leader_etcd_key.empty() || leader_changes == 0) {
          ++leader_changes;
          changes_counter->Increment();
        }
      }
      leader_etcd_key = first_key;
    }
    leader_member = range.kvs.empty() ? std::string() : range.kvs.front().value;
  }

  // ---- replicated state ----

  void sync() {
    if (syncing) return;
    syncing = true;
    etcd.range(state_prefix, synced_revision, [weak = weak_from_this()](EtcdAnswer<EtcdRange> answer) {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->syncing = false;
      if (!answer.ok()) return self->failed("reading the replicated state", answer.error);
      self->contact();
      self->apply_sync(std::move(answer.value));
      self->promote_if_won();
    });
  }

  void apply_sync(EtcdRange range) {
    const std::string log_prefix = state_prefix + "nflog/";
    const std::string silence_prefix = state_prefix + "silences/";
    std::vector<NotificationLogEntry> entries;
    std::vector<std::string> silences;
    const TimePoint t = now();
    for (auto& kv : range.kvs) {
      synced_revision = std::max(synced_revision, kv.mod_revision);
      if (kv.key.rfind(log_prefix, 0) == 0) {
        std::string error;
        auto entry = decode_log_entry(kv.value, &error);
        if (!entry) {
          spdlog::warn("cluster {}: skipping {}: {}", config.name, kv.key, error);
        } else if (entry->timestamp + kLogRetention < t) {
          if (role == ClusterRole::Leader) pending_log.emplace(kv.key, std::nullopt);  // past retention
        } else {
          entries.push_back(std::move(*entry));
        }
      } else if (kv.key.rfind(silence_prefix, 0) == 0) {
        silences.push_back(std::move(kv.value));
      }
    }
    synced_revision = std::max(synced_revision, range.revision);
    if (!entries.empty() && hooks.on_log_entries) hooks.on_log_entries(std::move(entries));
    if (!silences.empty() && hooks.on_silences) hooks.on_silences(std::move(silences));
  }

  void record_log_entry(const NotificationLogEntry& entry) {
    if (role != ClusterRole::Leader) return;
    pending_log[log_key(state_prefix, entry)] = encode_log_entry(entry);
    flush_log();
  }

  void flush_log() {
    if (role != ClusterRole::Leader || !leader_key || writing_log || pending_log.empty()) return;
    std::vector<EtcdWrite> writes;
    while (!pending_log.empty() && writes.size() < kMaxWritesPerTxn) {
      auto it = pending_log.begin();
      writes.push_back(EtcdWrite{it->first, std::move(it->second)});
      pending_log.erase(it);
    }
    writing_log = true;
    const EtcdLeaderKey key = *leader_key;
    etcd.txn(&key, writes, [weak = weak_from_this(), writes](EtcdAnswer<EtcdTxnResult> answer) mutable {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->writing_log = false;
      if (!answer.ok()) {
        self->failed("writing the notification log", answer.error);
        if (self->role == ClusterRole::Leader) {
          // Retried at the next tick, unless a newer value for the key is already waiting.
          for (auto& w : writes) self->pending_log.emplace(std::move(w.key), std::move(w.value));
        }
        return;
      }
      self->contact();
      if (!answer.value.succeeded) {
        self->step_down("its leader key is gone from etcd (a write compared against it failed)");
        return;
      }
      self->flush_log();
    });
  }

  void publish_silence(const std::string& id, std::optional<std::string> json) {
    pending_silences[state_prefix + "silences/" + id] = std::move(json);
    flush_silences();
  }

  // Silences are written by whichever replica they were created on (amtool may talk to any),
  // without the leader compare: a silence is never wrong to keep, and ids do not collide.
  void flush_silences() {
    if (writing_silences || pending_silences.empty() || stopped) return;
    std::vector<EtcdWrite> writes;
    while (!pending_silences.empty() && writes.size() < kMaxWritesPerTxn) {
      auto it = pending_silences.begin();
      writes.push_back(EtcdWrite{it->first, std::move(it->second)});
      pending_silences.erase(it);
    }
    writing_silences = true;
    etcd.txn(nullptr, writes, [weak = weak_from_this(), writes](EtcdAnswer<EtcdTxnResult> answer) mutable {
      auto self = weak.lock();
      if (!self || self->stopped) return;
      self->writing_silences = false;
      if (!answer.ok()) {
        self->failed("writing silences", answer.error);
        for (auto& w : writes) self->pending_silences.emplace(std::move(w.key), std::move(w.value));
        return;
      }
      self->contact();
      self->flush_silences();
    });
  }

  // ---- stop ----

  void stop(std::function<void()> done) {
    if (stopped) {
      if (done) done();
      return;
    }
    stopped = true;
    timer.cancel();
    auto finish = std::make_shared<std::function<void()>>(std::move(done));
    auto finish_once = [finish] {
      if (*finish) {
        auto f = std::move(*finish);
        *finish = nullptr;
        f();
      }
    };
    stop_timer.expires_after(std::chrono::seconds(1));
    stop_timer.async_wait([finish_once](const boost::system::error_code&) { finish_once(); });
    const std::int64_t held = lease;
    auto revoke = [this, held, finish_once, weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self || held == 0) return finish_once();
      etcd.revoke(held, [finish_once](EtcdAnswer<bool>) { finish_once(); });
    };
    if (role == ClusterRole::Leader && leader_key) {
      spdlog::info("cluster {}: member {} resigns as leader", config.name, config.member);
      etcd.resign(*leader_key, [revoke](EtcdAnswer<bool>) { revoke(); });
    } else {
      revoke();
    }
    role = ClusterRole::Starting;
    leader_gauge->Set(0);
    leader_key.reset();
  }

  ClusterStatus status() const {
    ClusterStatus s;
    s.name = config.name;
    s.member = config.member;
    s.role = role;
    s.may_notify = may_notify();
    s.leader = leader_member;
    s.members = members;
    s.etcd_up = etcd_up;
    s.endpoint = etcd.current_endpoint();
    if (lease != 0) {
      auto left = std::chrono::duration_cast<Duration>(lease_confirmed + std::chrono::seconds(lease_ttl_reported) -
                                                       std::chrono::steady_clock::now());
      s.lease_ttl_left = std::max(left, Duration::zero());
    }
    s.leader_changes = leader_changes;
    s.last_error = last_error;
    s.last_contact = last_contact;
    return s;
  }
};

Cluster::Cluster(boost::asio::io_context& io, HttpClient& http, ClusterConfig config, ClusterHooks hooks,
                 prometheus::Registry& registry)
    : impl_(std::make_shared<Impl>(io, http, std::move(config), std::move(hooks), registry)) {}

Cluster::~Cluster() {
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->stop_timer.cancel();
}

void Cluster::start() { impl_->start(); }
void Cluster::stop(std::function<void()> done) { impl_->stop(std::move(done)); }
bool Cluster::may_notify() const { return impl_->may_notify(); }
bool Cluster::is_leader() const { return impl_->role == ClusterRole::Leader; }
ClusterStatus Cluster::status() const { return impl_->status(); }
const ClusterConfig& Cluster::config() const { return impl_->config; }
void Cluster::record_log_entry(const NotificationLogEntry& entry) { impl_->record_log_entry(entry); }
void Cluster::publish_silence(const std::string& id, const std::string& json) { impl_->publish_silence(id, json); }
void Cluster::forget_silence(const std::string& id) { impl_->publish_silence(id, std::nullopt); }

}  // namespace promwatch
