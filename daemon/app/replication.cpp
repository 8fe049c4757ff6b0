#include "replication.hpp"

#include <spdlog/spdlog.h>

namespace promwatch {

std::vector<AlertEvent> Replication::on_may_notify(
    const Dispatcher* dispatcher, std::vector<std::tuple<std::string, std::string, TimePoint>>& forget) {
  if (cluster_.is_leader() && !unpublished_.empty()) {
    // What this replica delivered on its own while etcd was away, so that the next leader knows.
    if (dispatcher) {
      for (const auto& entry : dispatcher->log_entries()) {
        if (unpublished_.count({entry.receiver, entry.group_key})) cluster_.record_log_entry(entry);
      }
    }
    unpublished_.clear();
  }
  std::vector<AlertEvent> resolved;
  if (held_.empty()) return resolved;
  std::size_t undelivered = 0;
  for (const auto& n : held_) {
    forget.emplace_back(n.receiver, n.group_key, n.created_at);
    const NotificationLogEntry* entry = dispatcher ? dispatcher->log_entry(n.receiver, n.group_key) : nullptr;
    if (entry && entry->timestamp >= n.created_at) continue;  // a leader delivered to the group since
    ++undelivered;
    for (const auto& a : n.alerts) {
      if (a.resolved) resolved.push_back(*a.event);
    }
  }
  spdlog::info("{} of {} notifications undelivered before the restart are reported again with the next flush; "
               "a peer delivered the rest",
               undelivered, held_.size());
  held_.clear();
  return resolved;
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
