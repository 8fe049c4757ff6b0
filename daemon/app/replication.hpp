#pragma once
// The daemon's half of high availability: what a replica does with the state it shares with its
// peers through the cluster (promwatch/cluster.hpp), kept out of the daemon's wiring. Plain
// logic over the dispatcher and the silences it is handed; no I/O of its own.
//
// Thread: the event loop's, like everything it touches.

#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "promwatch/cluster.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/silence.hpp"

namespace promwatch {

class Replication {
 public:
  explicit Replication(Cluster& cluster) : cluster_(cluster) {}

  /// Messages restored from the outbox at start-up: with a cluster they are sent only if this
  /// replica notifies, and only what no leader delivered since.
  void hold_undelivered(std::vector<Notification> messages) { held_ = std::move(messages); }

  /// This replica may notify now (leader or fail-open). Publishes what it delivered on its own
  /// while etcd was away (once leader) and lets go of the held messages: each is appended to
  /// `forget` as (receiver, group key, created at) for the outbox, and the resolved alerts of
  /// those no leader delivered since (the group's log entry is older) are returned, for the
  /// dispatcher to report with its next flush. Their groups no longer hold them (a flush drops
  /// the resolved alerts it included), so only the message carried them; sending the message
  /// itself would race that flush, which repeats the same alerts while it is in flight.
  std::vector<AlertEvent> on_may_notify(const Dispatcher* dispatcher,
                                        std::vector<std::tuple<std::string, std::string, TimePoint>>& forget);

  /// The dispatcher's log observer: the leader records the change in etcd; a replica notifying
  /// without being leader (fail-open) remembers it for when it leads.
  void log_changed(const NotificationLogEntry& entry);

  /// Entries of the shared log read from etcd: merged (newer wins); a standby then forgets the
  /// resolved alerts the leader reported. Returns whether the dispatcher's log changed.
  static bool merge_log(Dispatcher& dispatcher, std::vector<NotificationLogEntry> entries, bool standby, TimePoint now);

  /// Silences read from etcd (their `to_json` records): merged into `silences` (unknown or
  /// updated later than the one held); returns those taken, for the state store.
  static std::vector<Silence> merge_silences(SilenceSet& silences, const std::vector<std::string>& records,
                                             TimePoint now);

 private:
  Cluster& cluster_;
  std::vector<Notification> held_;
  std::set<std::pair<std::string, std::string>> unpublished_;  // (receiver, group key)
};

}  // namespace promwatch
