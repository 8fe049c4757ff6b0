#pragma once
/// \file
/// High availability on etcd (SPEC §2 `[cluster]`): replicas with the same cluster name elect
/// one leader through etcd's election API, over the v3 JSON gateway (plain HTTP through the
/// shared libcurl client: no gRPC). Every replica evaluates every rule; only the one that
/// `may_notify()` delivers notifications, forwards to Alertmanagers and pings the dead man's
/// switch. The notification log and runtime silences are mirrored in etcd so that a new leader
/// neither repeats what the old one delivered nor forgets what it had not.
///
/// Two layers:
/// - the gateway's wire format as pure functions (`parse_*`, `etcd_*_body`): values in, values
///   out, unit-tested without etcd;
/// - `EtcdClient` (asynchronous requests with endpoint fail-over) and `Cluster` (lease,
///   keep-alive, campaign, fail-open, mirroring), which live on the event loop.
///
/// Keys: the election is etcd's `<name>/` prefix (one key per replica, `<name>/<lease hex>`,
/// the oldest is the leader); replicated state lives under `<name>#state/`: `nflog/…` (one
/// entry per receiver and group key) and `silences/<id>`. Cluster names allow neither `/` nor
/// `#`, so no cluster's election prefix covers another's state.
///
/// Thread: everything on the io_context's thread; callbacks run there. Errors are data: etcd
/// faults become the role, the log, `promwatch_cluster_etcd_up` and `status().last_error`.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "promwatch/config.hpp"
#include "promwatch/http_client.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/time.hpp"

namespace prometheus {
class Registry;
}

namespace promwatch {

// ---- the gateway's wire format -------------------------------------------------------------

/// One key of etcd's key space, key and value decoded from base64, int64s from their strings.
struct EtcdKeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

/// A lease as grant and keep-alive report it. `ttl_seconds == 0`: the lease is gone (expired or
/// revoked): keep-alive answers so instead of failing.
struct EtcdLease {
  std::int64_t id = 0;
  std::int64_t ttl_seconds = 0;
};

/// The election's LeaderKey: what campaign returns and resign takes.
struct EtcdLeaderKey {
  std::string name;  ///< the election name
  std::string key;   ///< `<name>/<lease hex>`
  std::int64_t rev = 0;  ///< the key's create revision: writes as leader compare against it
  std::int64_t lease = 0;
};

/// A range read: the keys and the store's revision when it was read.
struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  std::int64_t revision = 0;
};

/// A transaction's outcome: whether its compares held (proto3 JSON leaves `succeeded` out when
/// false) and the store's revision after it.
struct EtcdTxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;
};

/// Each parser reads one gateway answer. It returns nullopt and sets `*error` for a body that is
/// not the expected JSON, and for etcd's error answers (`{"error": "...", "code": N}` from unary
/// calls, `{"error": {"message": ...}}` from streams), with etcd's message.
std::optional<EtcdLease> parse_etcd_lease_grant(std::string_view body, std::string* error);
/// `/v3/lease/keepalive` wraps its message: `{"result": {"ID", "TTL"}}`.
std::optional<EtcdLease> parse_etcd_keepalive(std::string_view body, std::string* error);
std::optional<EtcdLeaderKey> parse_etcd_campaign(std::string_view body, std::string* error);
std::optional<EtcdRange> parse_etcd_range(std::string_view body, std::string* error);
std::optional<EtcdTxnResult> parse_etcd_txn(std::string_view body, std::string* error);
/// Any other answer whose content does not matter (put, delete, revoke, resign): true or error.
bool parse_etcd_ack(std::string_view body, std::string* error);

/// One write of a transaction: a put when `value` is set, else a delete of `key`.
struct EtcdWrite {
  std::string key;
  std::optional<std::string> value;
};
/// The body of `/v3/kv/txn` that applies `writes` only while `leader` is still the key it was
/// created as (compare: `create_revision` of the leader key equals `leader.rev`), so that a
/// deposed leader can never write. Without a leader key the writes are unconditional.
std::string etcd_txn_body(const EtcdLeaderKey* leader, const std::vector<EtcdWrite>& writes);
/// The body of `/v3/kv/range` for every key under `prefix` modified after `after_revision`.
std::string etcd_range_body(std::string_view prefix, std::int64_t after_revision);

/// The notification log entry as it is kept in etcd (JSON: receiver, groupKey, firing and
/// resolved fingerprints as hex strings, timestamp in Unix milliseconds).
std::string encode_log_entry(const NotificationLogEntry& entry);
std::optional<NotificationLogEntry> decode_log_entry(std::string_view json, std::string* error);

// ---- the client ------------------------------------------------------------------------------

template <typename T>
struct EtcdAnswer {
  T value{};          ///< meaningful only when ok()
  std::string error;  ///< transport failure, HTTP status or etcd's message; empty on success
  bool ok() const { return error.empty(); }
};

/// Asynchronous calls of the v3 JSON gateway. Requests go to one endpoint at a time; a transport
/// failure or a 5xx moves the next request to the next endpoint, so any reachable member serves.
/// Callbacks run on the loop, exactly once, unless the client (or its HttpClient) is destroyed.
class EtcdClient {
 public:
  template <typename T>
  using Done = std::function<void(EtcdAnswer<T>)>;

  EtcdClient(HttpClient& http, std::vector<std::string> endpoints, HttpEndpointConfig options);

  void grant(Duration ttl, Done<EtcdLease> done);
  void keepalive(std::int64_t lease, Done<EtcdLease> done);
  void revoke(std::int64_t lease, Done<bool> done);
  /// Blocks (server side) until this lease's key is the oldest of the election, or `timeout`.
  void campaign(std::string_view name, std::int64_t lease, std::string_view value, Duration timeout,
                Done<EtcdLeaderKey> done);
  void resign(const EtcdLeaderKey& leader, Done<bool> done);
  void range(std::string_view prefix, std::int64_t after_revision, Done<EtcdRange> done);
  void txn(const EtcdLeaderKey* leader, const std::vector<EtcdWrite>& writes, Done<EtcdTxnResult> done);

  /// The endpoint the next request goes to (redacted), for logs and the status API.
  std::string current_endpoint() const;

 private:
  void post(std::string path, std::string body, Duration timeout, std::function<void(EtcdAnswer<std::string>)> done);

  HttpClient& http_;
  std::vector<std::string> endpoints_;
  HttpEndpointConfig options_;
  std::size_t current_ = 0;
  std::shared_ptr<bool> alive_;
};

// ---- the cluster -------------------------------------------------------------------------------

enum class ClusterRole {
  Starting,  ///< no lease yet: etcd not reached since start
  Follower,  ///< campaigning; another replica (or none yet) leads
  Leader,    ///< this replica notifies
  FailOpen,  ///< etcd unreachable for fail_open_after: this replica notifies on its own
};
/// "starting", "follower", "leader", "fail_open".
std::string_view to_string(ClusterRole role);

/// What `/api/v1/status/cluster` and the status page show.
struct ClusterStatus {
  std::string name;
  std::string member;
  ClusterRole role = ClusterRole::Starting;
  bool may_notify = false;
  std::string leader;                ///< the leader's member name; empty when unknown
  std::vector<std::string> members;  ///< campaigning replicas, oldest (the leader) first
  bool etcd_up = false;
  std::string endpoint;              ///< the etcd endpoint in use (redacted)
  std::optional<Duration> lease_ttl_left;  ///< nullopt without a lease
  std::uint64_t leader_changes = 0;
  std::string last_error;            ///< the last etcd failure, empty once etcd answers again
  TimePoint last_contact{};          ///< the last successful etcd answer (epoch: never)
};

/// Callbacks into the daemon, all on the loop.
struct ClusterHooks {
  /// `may_notify()` changed: this replica became leader, was deposed, or fail-open began/ended.
  std::function<void(bool may_notify)> on_notify_change;
  /// Notification log entries that changed in etcd since the last read (the first read has all
  /// of them). Always delivered before `on_notify_change(true)` of a new leader.
  std::function<void(std::vector<NotificationLogEntry>)> on_log_entries;
  /// Runtime silences that changed in etcd (their `to_json` records), likewise.
  std::function<void(std::vector<std::string>)> on_silences;
};

/// One replica's membership: lease, keep-alive about every lease_ttl/3, campaign, and the
/// mirrored notification log and silences.
///
/// Roles: a replica starts as Starting, becomes Follower once it holds a lease and campaigns,
/// Leader when its campaign returns (and the leader key is verified to be its own). A leader
/// steps down when a keep-alive reports its lease gone, when a guarded write fails its compare,
/// or when it has not reached etcd for a whole lease_ttl (etcd will have let the lease expire).
/// Without any etcd answer for fail_open_after, every replica turns FailOpen and notifies;
/// the first answer after that ends it and the replicas elect again.
class Cluster {
 public:
  /// Registers promwatch_cluster_leader, promwatch_cluster_leader_changes_total and
  /// promwatch_cluster_etcd_up in `registry`. Does nothing until `start()`.
  Cluster(boost::asio::io_context& io, HttpClient& http, ClusterConfig config, ClusterHooks hooks,
          prometheus::Registry& registry);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void start();
  /// Resigns when leader and revokes the lease, so that another replica takes over at once;
  /// `done` runs when etcd answered or after at most a second. Nothing is sent afterwards.
  void stop(std::function<void()> done);

  /// Leader or FailOpen.
  bool may_notify() const;
  bool is_leader() const;
  ClusterStatus status() const;
  const ClusterConfig& config() const;

  /// The leader records a delivery (or a log change) in etcd, guarded by its leader key;
  /// ignored unless leader. Writes are batched, at most one transaction in flight.
  void record_log_entry(const NotificationLogEntry& entry);
  /// Publishes a runtime silence created or changed on this replica (any role). Kept and
  /// retried while etcd is unreachable.
  void publish_silence(const std::string& id, const std::string& json);
  /// Deletes a silence that was garbage-collected (expired past its retention).
  void forget_silence(const std::string& id);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace promwatch
