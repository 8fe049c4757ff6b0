#include "replication.hpp"

#include <spdlog/spdlog.h>

namespace promwatch {

std::vector<Notification> Replication::on_may_notify(
    const Dispatcher* dispatcher, std::vector<std::tuple<std::string, std::string, TimePoint>>& delivered_by_peer) {
  if (cluster_.is_leader() && !unpublished_.empty()) {
    // What this replica delivered on its own while etcd was away, so that the next leader knows.
    if (dispatcher) {
      for (const auto& entry : dispatcher->log_entries()) {
        if (unpublished_.count({entry.receiver, entry.group_key})) cluster_.record_log_entry(entry);
      }
    }
    unpublished_.clear();
  }
  std::vector<Notification> send;
  if (held_.empty()) return send;
  const std::size_t held = held_.size();
  for (auto& n : held_) {
    const NotificationLogEntry* entry = dispatcher ? dispatcher->log_entry(n.receiver, n.group_key) : nullptr;
    if (entry && entry->timestamp >= n.created_at) {
      delivered_by_peer.emplace_back(n.receiver, n.group_key, n.created_at);
    } else {
      send.push_back(std::move(n));
    }
  }
  held_.clear();
  spdlog::info("{} of {} undelivered notifications from before the restart sent; the rest were delivered by a peer",
               send.size(), held);
  return send;
}

void Replication::log_changed(const NotificationLogEntry& entry) {
  if (cluster_.is_leader()) {
    cluster_.record_log_entry(entry);
  } else {
    unpublished_.insert({entry.receiver, entry.group_key});
  }
}

bool Replication::merge_log(Dispatcher& dispatcher, std::vector<NotificationLogEntry> entries, bool standby,
                            TimePoint now) {
  bool taken = false;
  for (auto& e : entries) taken = dispatcher.merge_log_entry(std::move(e)) || taken;
  if (standby) dispatcher.drop_notified_resolved(now);
  return taken;
}

std::vector<Silence> Replication::merge_silences(SilenceSet& silences, const std::vector<std::string>& records,
                                                 TimePoint now) {
  std::vector<Silence> taken;
  for (const auto& json : records) {
    std::string error;
    auto silence = silence_from_json(json, &error);
    if (!silence) {
      spdlog::warn("cluster: replicated silence skipped: {}", error);
      continue;
    }
    Silence copy = *silence;
    if (silences.merge(std::move(*silence), now)) {
      spdlog::info("silence {} replicated from a peer", copy.id);
      taken.push_back(std::move(copy));
    }
  }
  return taken;
}

}  // namespace promwatch
