// The dispatcher: Alertmanager 0.25's routing tree, aggregation groups and DedupStage, with the
// clock passed in so that every decision is a function of values.

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "promwatch/notify.hpp"

namespace promwatch {
namespace {

struct RouteNode {
  std::vector<Matcher> matchers;
  std::string receiver;
  std::vector<std::string> group_by;
  bool group_by_all = false;
  Duration group_wait{0};
  Duration group_interval{0};
  Duration repeat_interval{0};
  bool continue_matching = false;
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
  std::string key;
  std::vector<std::size_t> children;
};

struct ReceiverOpts {
  bool send_resolved = true;
  int max_alerts = 0;
  bool operator==(const ReceiverOpts&) const = default;
};

bool same_matchers(const std::vector<Matcher>& a, const std::vector<Matcher>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Matcher& x, const Matcher& y) {
    return x.type() == y.type() && x.name() == y.name() && x.value() == y.value();
  });
}

bool same_node(const RouteNode& a, const RouteNode& b) {
  return same_matchers(a.matchers, b.matchers) && a.receiver == b.receiver && a.group_by == b.group_by &&
         a.group_by_all == b.group_by_all && a.group_wait == b.group_wait && a.group_interval == b.group_interval &&
         a.repeat_interval == b.repeat_interval && a.continue_matching == b.continue_matching &&
         a.mute_time_intervals == b.mute_time_intervals && a.active_time_intervals == b.active_time_intervals &&
         a.key == b.key && a.children == b.children;
}

// The alerts are shared: one immutable event per received alert, whatever number of groups it
// routes to and notifications it appears in (copying them cost ~770 B per alert).
using SharedAlert = std::shared_ptr<const AlertEvent>;

struct Group {
  std::size_t route = 0;
  std::string key;
  Labels labels;
  std::map<std::uint64_t, SharedAlert> alerts;  // by fingerprint of the labels
  TimePoint next_flush;
  bool has_flushed = false;
  /// An alert started or stopped flapping (its `flapping` annotation changed) since the last
  /// flush: the receivers are told at the next flush even when its firing/resolved sets are
  /// what they already know (Alertmanager's dedup would swallow the notice).
  bool flap_notice = false;
};

using GroupId = std::pair<std::size_t, std::string>;  // (route node, group key)
using LogId = std::pair<std::string, std::string>;    // (receiver, group key)

int match_type_rank(MatchType t) {
  switch (t) {
    case MatchType::Equal: return 0;
    case MatchType::NotEqual: return 1;
    case MatchType::Regex: return 2;
    case MatchType::NotRegex: return 3;
  }
  return 0;
}

std::string_view match_type_text(MatchType t) {
  switch (t) {
    case MatchType::Equal: return "=";
    case MatchType::NotEqual: return "!=";
    case MatchType::Regex: return "=~";
    case MatchType::NotRegex: return "!~";
  }
  return "=";
}

// Alertmanager's LabelSet.Before: shorter sets first, then by the merged sorted names.
bool labels_before(const Labels& a, const Labels& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  std::vector<std::string_view> names;
  names.reserve(a.size() + b.size());
  for (const auto& l : a) names.push_back(l.name);
  for (const auto& l : b) names.push_back(l.name);
  std::sort(names.begin(), names.end());
  for (auto name : names) {
    if (!a.has(name)) return true;
    if (!b.has(name)) return false;
    auto va = a.get(name);
    auto vb = b.get(name);
    if (va != vb) return va < vb;
  }
  return false;
}

// Alertmanager's AlertSlice.Less: by job, then instance (present before absent), then labels.
bool alert_less(const AlertEvent& x, const AlertEvent& y) {
  for (std::string_view key : {std::string_view("job"), std::string_view("instance")}) {
    bool xh = x.labels.has(key);
    bool yh = y.labels.has(key);
    if (!xh && !yh) continue;
    if (!xh) return false;
    if (!yh) return true;
    auto xv = x.labels.get(key);
    auto yv = y.labels.get(key);
    if (xv != yv) return xv < yv;
  }
  return labels_before(x.labels, y.labels);
}

// Removes from `common` every label that `other` lacks or has with another value, in place: it
// runs once per alert of a notification, so it allocates only when something is removed.
void keep_common(Labels& common, const Labels& other) {
  std::vector<std::string> differing;
  for (const auto& l : common) {
    if (other.get(l.name) != l.value) differing.push_back(l.name);
  }
  for (const auto& name : differing) common.erase(name);
}

bool is_subset(const std::vector<std::uint64_t>& subset, const std::vector<std::uint64_t>& sorted_set) {
  for (auto fp : subset) {
    if (!std::binary_search(sorted_set.begin(), sorted_set.end(), fp)) return false;
  }
  return true;
}

}  // namespace

std::string route_matchers_key(const std::vector<Matcher>& matchers) {
  std::vector<const Matcher*> sorted;
  for (const auto& m : matchers) sorted.push_back(&m);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Matcher* a, const Matcher* b) {
    if (a->name() != b->name()) return a->name() < b->name();
    if (a->value() != b->value()) return a->value() < b->value();
    return match_type_rank(a->type()) < match_type_rank(b->type());
  });
  std::string out = "{";
  bool first = true;
  for (const auto* m : sorted) {
    if (!first) out += ',';
    first = false;
    out += m->name();
    out += match_type_text(m->type());
    out += '"';
    for (char c : m->value()) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string go_quote_meta(std::string_view text) {
  static constexpr std::string_view special = "\\.+*?()|[]{}^$";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (special.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

struct Dispatcher::Impl {
  std::vector<RouteNode> nodes;  // 0 = root
  std::unordered_map<std::string, ReceiverOpts> receivers;
  std::string external_url;
  std::map<GroupId, Group> groups;
  std::map<LogId, NotificationLogEntry> log;
  MuteFilter mute_filter;
  TimeMuteCheck time_mute;
  LogObserver log_observer;
  Duration log_retention = std::chrono::hours(120);

  std::size_t add_node(const RouteConfig& rc, const std::string& parent_key, bool is_root) {
    RouteNode node;
    node.matchers = rc.matchers;
    node.receiver = rc.receiver;
    node.group_by = rc.group_by;
    node.group_by_all = rc.group_by_all;
    node.group_wait = rc.group_wait;
    node.group_interval = rc.group_interval;
    node.repeat_interval = rc.repeat_interval;
    node.continue_matching = rc.continue_matching;
    node.mute_time_intervals = rc.mute_time_intervals;
    node.active_time_intervals = rc.active_time_intervals;
    node.key = is_root ? route_matchers_key(rc.matchers)
                       : parent_key + "/" + route_matchers_key(rc.matchers);
    std::size_t idx = nodes.size();
    nodes.push_back(std::move(node));
    for (const auto& child : rc.routes) {
      std::size_t c = add_node(child, nodes[idx].key, false);
      nodes[idx].children.push_back(c);
    }
    return idx;
  }

  // Alertmanager's Route.Match: true when node `idx` matched; appends the matching routes.
  bool match(std::size_t idx, const Labels& labels, std::vector<std::size_t>& out) const {
    const RouteNode& node = nodes[idx];
    if (!matches_all(node.matchers, labels)) return false;
    std::size_t before = out.size();
    for (std::size_t child : node.children) {
      bool matched = match(child, labels, out);
      if (matched && !nodes[child].continue_matching) break;
    }
    if (out.size() == before) out.push_back(idx);
    return true;
  }

  Labels group_labels(const RouteNode& node, const Labels& labels) const {
    if (node.group_by_all) return labels;
    std::vector<Label> out;
    for (const auto& l : labels) {
      if (std::find(node.group_by.begin(), node.group_by.end(), l.name) != node.group_by.end()) {
        out.push_back(l);
      }
    }
    return Labels(std::move(out));
  }

  ReceiverOpts receiver_opts(const std::string& name) const {
    auto it = receivers.find(name);
    return it == receivers.end() ? ReceiverOpts{} : it->second;
  }

  void insert(std::size_t route, const SharedAlert& shared, std::uint64_t fp, TimePoint now) {
    const AlertEvent& alert = *shared;
    const RouteNode& node = nodes[route];
    Labels gl = group_labels(node, alert.labels);
    std::string key = node.key + ":" + gl.to_string();
    GroupId id{route, key};
    auto it = groups.find(id);
    if (it == groups.end()) {
      Group g;
      g.route = route;
      g.key = key;
      g.labels = std::move(gl);
      g.next_flush = now + node.group_wait;
      it = groups.emplace(id, std::move(g)).first;
    }
    Group& g = it->second;
    auto existing = g.alerts.find(fp);
    // A late resolve of an earlier instance must not end the alert that fired since.
    if (existing != g.alerts.end() && alert.ends_at != TimePoint{} &&
        alert.ends_at < existing->second->starts_at) {
      return;
    }
    // "flapping": the annotation flap detection sets (rules.hpp kFlappingAnnotation).
    const std::string_view flapping = existing != g.alerts.end() ? existing->second->annotations.get("flapping") : "";
    if (alert.annotations.get("flapping") != flapping) g.flap_notice = true;
    g.alerts[fp] = shared;
    // Alertmanager: flush at once when the wait is already over for this alert.
    if (!g.has_flushed && alert.starts_at + node.group_wait < now) g.next_flush = now;
  }

  void receive(std::vector<AlertEvent>& alerts, TimePoint now) {
    if (nodes.empty()) return;
    std::vector<std::size_t> routes;
    for (auto& a : alerts) {
      routes.clear();
      match(0, a.labels, routes);
      if (routes.empty()) continue;
      auto shared = std::make_shared<const AlertEvent>(std::move(a));
      const std::uint64_t fp = shared->labels.fingerprint();
      for (std::size_t r : routes) insert(r, shared, fp, now);
    }
  }

  void log_now(const std::string& receiver, const std::string& group_key,
               std::vector<std::uint64_t> firing, std::vector<std::uint64_t> resolved,
               TimePoint at) {
    std::sort(firing.begin(), firing.end());
    std::sort(resolved.begin(), resolved.end());
    NotificationLogEntry& e = log[LogId{receiver, group_key}];
    e.receiver = receiver;
    e.group_key = group_key;
    e.firing = std::move(firing);
    e.resolved = std::move(resolved);
    e.timestamp = at;
    if (log_observer) log_observer(e);
  }

  // Alertmanager's DedupStage.needsUpdate.
  bool needs_update(const NotificationLogEntry* entry, const std::vector<std::uint64_t>& firing,
                    const std::vector<std::uint64_t>& resolved, bool send_resolved,
                    Duration repeat, TimePoint now) const {
    if (entry == nullptr) return !firing.empty();
    if (!is_subset(firing, entry->firing)) return true;
    // Every alert resolved: notify (irrespective of send_resolved) so the log is cleared, but
    // only if the receiver was told about firing alerts.
    if (firing.empty()) return !entry->firing.empty();
    if (send_resolved && !is_subset(resolved, entry->resolved)) return true;
    return entry->timestamp < now - repeat;
  }

  // Flushes one group; returns the notification if one is needed.
  std::optional<Notification> flush(Group& g, TimePoint now) {
    const RouteNode& node = nodes[g.route];
    g.next_flush = now + node.group_interval;
    g.has_flushed = true;
    if (g.alerts.empty()) return std::nullopt;

    // Alerts do not resolve as time moves forward: one not resolved now reports no end time
    // (NotifiedAlert::ends_at).
    std::vector<NotifiedAlert> alerts;
    alerts.reserve(g.alerts.size());
    for (const auto& [fp, a] : g.alerts) alerts.push_back(NotifiedAlert{a, a->resolved_at(now)});
    std::stable_sort(alerts.begin(), alerts.end(),
                     [](const NotifiedAlert& x, const NotifiedAlert& y) { return alert_less(*x.event, *y.event); });

    std::optional<Notification> out = decide(g, node, std::move(alerts), now);
    g.flap_notice = false;

    // Remove the resolved alerts this flush included.
    for (auto it = g.alerts.begin(); it != g.alerts.end();) {
      if (it->second->resolved_at(now)) {
        it = g.alerts.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  std::optional<Notification> decide(const Group& g, const RouteNode& node,
                                     std::vector<NotifiedAlert> alerts, TimePoint now) {
    // Silences and inhibitions (Alertmanager's MuteStages come first).
    if (mute_filter) {
      std::erase_if(alerts, [&](const NotifiedAlert& a) { return mute_filter(a.event->labels, now); });
    }
    if (alerts.empty()) return std::nullopt;
    if (time_mute && (!node.mute_time_intervals.empty() || !node.active_time_intervals.empty()) &&
        time_mute(node.mute_time_intervals, node.active_time_intervals, now)) {
      return std::nullopt;
    }

    std::vector<std::uint64_t> firing;
    std::vector<std::uint64_t> resolved;
    for (const auto& a : alerts) {
      (a.resolved ? resolved : firing).push_back(a.event->labels.fingerprint());
    }
    const ReceiverOpts opts = receiver_opts(node.receiver);
    auto lit = log.find(LogId{node.receiver, g.key});
    const NotificationLogEntry* entry = lit == log.end() ? nullptr : &lit->second;
    if (!g.flap_notice && !needs_update(entry, firing, resolved, opts.send_resolved, node.repeat_interval, now)) {
      return std::nullopt;
    }

    if (!opts.send_resolved) {
      if (firing.empty()) {
        // Nothing to send, but the log must forget the firing alerts (Alertmanager's RetryStage
        // reports success without sending).
        log_now(node.receiver, g.key, firing, resolved, now);
        return std::nullopt;
      }
      std::erase_if(alerts, [](const NotifiedAlert& a) { return a.resolved; });
    }

    Notification n;
    n.receiver = node.receiver;
    n.group_key = g.key;
    n.group_labels = g.labels;
    n.group_interval = node.group_interval;
    n.repeat_interval = node.repeat_interval;
    n.created_at = now;
    n.firing = std::move(firing);
    n.resolved = std::move(resolved);
    if (opts.max_alerts > 0 && alerts.size() > static_cast<std::size_t>(opts.max_alerts)) {
      n.truncated_alerts = alerts.size() - static_cast<std::size_t>(opts.max_alerts);
      alerts.resize(static_cast<std::size_t>(opts.max_alerts));
    }

    n.external_url = external_url;
    // Computed from what is sent (after truncation), as Alertmanager does.
    if (!alerts.empty()) {
      n.common_labels = alerts.front().event->labels;
      n.common_annotations = alerts.front().event->annotations;
      for (std::size_t i = 1; i < alerts.size(); ++i) {
        if (n.common_labels.empty() && n.common_annotations.empty()) break;
        keep_common(n.common_labels, alerts[i].event->labels);
        keep_common(n.common_annotations, alerts[i].event->annotations);
      }
    }
    n.alerts = std::move(alerts);
    return n;
  }

  std::vector<Notification> collect_due(TimePoint now) {
    std::vector<Notification> out;
    for (auto it = groups.begin(); it != groups.end();) {
      Group& g = it->second;
      if (g.next_flush <= now) {
        if (auto n = flush(g, now)) out.push_back(std::move(*n));
        if (g.alerts.empty()) {
          it = groups.erase(it);
          continue;
        }
      }
      ++it;
    }
    std::erase_if(log, [&](const auto& kv) { return kv.second.timestamp + log_retention < now; });
    return out;
  }
};

Dispatcher::Dispatcher(const RouteConfig& root, const std::vector<ReceiverConfig>& receivers,
                       std::string external_url)
    : impl_(std::make_unique<Impl>()) {
  impl_->add_node(root, "", true);
  for (const auto& r : receivers) {
    impl_->receivers[r.name] = ReceiverOpts{r.send_resolved, r.max_alerts};
  }
  impl_->external_url = std::move(external_url);
}

Dispatcher::~Dispatcher() = default;
Dispatcher::Dispatcher(Dispatcher&&) noexcept = default;
Dispatcher& Dispatcher::operator=(Dispatcher&&) noexcept = default;

void Dispatcher::receive(std::vector<AlertEvent> alerts, TimePoint now) { impl_->receive(alerts, now); }

std::vector<Notification> Dispatcher::collect_due(TimePoint now) { return impl_->collect_due(now); }

std::optional<TimePoint> Dispatcher::next_wakeup() const {
  std::optional<TimePoint> next;
  for (const auto& [id, g] : impl_->groups) {
    if (!next || g.next_flush < *next) next = g.next_flush;
  }
  return next;
}

void Dispatcher::record_delivered(const Notification& n, TimePoint at) {
  impl_->log_now(n.receiver, n.group_key, n.firing, n.resolved, at);
}

const NotificationLogEntry* Dispatcher::log_entry(std::string_view receiver,
                                                  std::string_view group_key) const {
  auto it = impl_->log.find(LogId{std::string(receiver), std::string(group_key)});
  return it == impl_->log.end() ? nullptr : &it->second;
}

std::vector<RouteMatch> Dispatcher::route(const Labels& labels) const {
  std::vector<std::size_t> routes;
  impl_->match(0, labels, routes);
  std::vector<RouteMatch> out;
  for (std::size_t r : routes) {
    const RouteNode& node = impl_->nodes[r];
    RouteMatch m;
    m.route_key = node.key;
    m.receiver = node.receiver;
    m.group_labels = impl_->group_labels(node, labels);
    m.group_key = node.key + ":" + m.group_labels.to_string();
    out.push_back(std::move(m));
  }
  return out;
}

void Dispatcher::set_mute_filter(MuteFilter filter) { impl_->mute_filter = std::move(filter); }
void Dispatcher::set_time_mute_check(TimeMuteCheck check) { impl_->time_mute = std::move(check); }
void Dispatcher::set_log_retention(Duration retention) { impl_->log_retention = retention; }

std::size_t Dispatcher::reconcile(std::vector<AlertEvent> firing, TimePoint now) {
  std::unordered_map<std::uint64_t, bool> held;  // fingerprint -> held as firing in some group
  for (const auto& [id, g] : impl_->groups) {
    for (const auto& [fp, a] : g.alerts) held[fp] = held[fp] || !a->resolved_at(now);
  }
  std::vector<AlertEvent> updates;
  std::unordered_map<std::uint64_t, bool> firing_now;
  for (auto& e : firing) {
    const std::uint64_t fp = e.labels.fingerprint();
    firing_now[fp] = true;
    auto it = held.find(fp);
    if (it == held.end() || !it->second) updates.push_back(std::move(e));
  }
  for (const auto& [id, g] : impl_->groups) {
    for (const auto& [fp, a] : g.alerts) {
      if (a->resolved_at(now) || firing_now.count(fp)) continue;
      AlertEvent resolved = *a;
      resolved.ends_at = now;
      updates.push_back(std::move(resolved));
      firing_now[fp] = false;  // once, however many groups hold it
    }
  }
  const std::size_t changed = updates.size();
  impl_->receive(updates, now);
  return changed;
}

void Dispatcher::set_log_observer(LogObserver observer) { impl_->log_observer = std::move(observer); }

std::vector<NotificationLogEntry> Dispatcher::log_entries() const {
  std::vector<NotificationLogEntry> out;
  out.reserve(impl_->log.size());
  for (const auto& [id, e] : impl_->log) out.push_back(e);
  return out;
}

bool Dispatcher::merge_log_entry(NotificationLogEntry entry) {
  std::sort(entry.firing.begin(), entry.firing.end());
  std::sort(entry.resolved.begin(), entry.resolved.end());
  auto [it, inserted] = impl_->log.try_emplace(LogId{entry.receiver, entry.group_key});
  if (!inserted && it->second.timestamp >= entry.timestamp) return false;
  it->second = std::move(entry);
  return true;
}

std::size_t Dispatcher::drop_notified_resolved(TimePoint now) {
  std::size_t dropped = 0;
  for (auto git = impl_->groups.begin(); git != impl_->groups.end();) {
    Group& g = git->second;
    auto lit = impl_->log.find(LogId{impl_->nodes[g.route].receiver, g.key});
    const NotificationLogEntry* entry = lit == impl_->log.end() ? nullptr : &lit->second;
    for (auto it = g.alerts.begin(); it != g.alerts.end();) {
      const AlertEvent& a = *it->second;
      // Reported: the leader delivered to the group after the alert resolved, and that message
      // no longer listed it as firing. (A delivery after the resolution can carry a message made
      // before it, still listing the alert as firing: then the resolution is still owed.)
      bool reported = a.resolved_at(now) &&
                      ((entry && entry->timestamp >= a.ends_at &&
                        !std::binary_search(entry->firing.begin(), entry->firing.end(), it->first)) ||
                       a.ends_at + impl_->log_retention < now);
      if (reported) {
        it = g.alerts.erase(it);
        ++dropped;
      } else {
        ++it;
      }
    }
    if (g.alerts.empty()) {
      git = impl_->groups.erase(git);
    } else {
      ++git;
    }
  }
  return dropped;
}

std::size_t Dispatcher::group_count() const { return impl_->groups.size(); }

std::size_t Dispatcher::alert_count() const {
  std::size_t n = 0;
  for (const auto& [id, g] : impl_->groups) n += g.alerts.size();
  return n;
}

bool Dispatcher::routes_like(const Dispatcher& other) const {
  const Impl& a = *impl_;
  const Impl& b = *other.impl_;
  return a.external_url == b.external_url && a.receivers == b.receivers &&
         std::equal(a.nodes.begin(), a.nodes.end(), b.nodes.begin(), b.nodes.end(), same_node);
}

DispatcherState Dispatcher::export_state() const {
  DispatcherState s;
  for (const auto& [id, e] : impl_->log) s.log.push_back(e);
  for (const auto& [id, g] : impl_->groups) {
    AggregationGroupState gs;
    gs.receiver = impl_->nodes[g.route].receiver;
    gs.route_key = impl_->nodes[g.route].key;
    gs.group_labels = g.labels;
    gs.alerts.reserve(g.alerts.size());
    for (const auto& [fp, a] : g.alerts) gs.alerts.push_back(a);
    gs.next_flush = g.next_flush;
    gs.has_flushed = g.has_flushed;
    s.groups.push_back(std::move(gs));
  }
  return s;
}

void Dispatcher::import_state(DispatcherState state, TimePoint now) {
  impl_->log.clear();
  impl_->groups.clear();
  for (auto& e : state.log) {
    std::sort(e.firing.begin(), e.firing.end());
    std::sort(e.resolved.begin(), e.resolved.end());
    LogId id{e.receiver, e.group_key};
    impl_->log[std::move(id)] = std::move(e);
  }
  // Alerts are routed through the current tree; a group that is still where it was (same route
  // key and receiver) keeps its timing, others start afresh.
  std::vector<std::size_t> routes;
  for (const auto& gs : state.groups) {
    for (const SharedAlert& shared : gs.alerts) {
      routes.clear();
      if (!impl_->nodes.empty()) impl_->match(0, shared->labels, routes);
      if (routes.empty()) continue;
      const std::uint64_t fp = shared->labels.fingerprint();
      for (std::size_t r : routes) {
        const RouteNode& node = impl_->nodes[r];
        bool same = node.key == gs.route_key && node.receiver == gs.receiver;
        if (!same) {
          impl_->insert(r, shared, fp, now);
          continue;
        }
        Labels gl = impl_->group_labels(node, shared->labels);
        std::string key = node.key + ":" + gl.to_string();
        auto& g = impl_->groups[GroupId{r, key}];
        if (g.key.empty()) {
          g.route = r;
          g.key = std::move(key);
          g.labels = std::move(gl);
        }
        g.next_flush = gs.next_flush;
        g.has_flushed = gs.has_flushed;
        g.alerts[fp] = shared;
      }
    }
  }
}

}  // namespace promwatch
