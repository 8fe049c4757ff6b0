#pragma once
/// \file
/// Notifications, part 1: the dispatcher (routing, grouping, deduplication against the
/// notification log, with Alertmanager 0.25 semantics) and the payloads promwatch sends
/// (Alertmanager's webhook JSON and the Alertmanager API v2 alerts body).
///
/// Everything here is pure logic: time is passed in, nothing does I/O, nothing knows about
/// rules or HTTP. Delivery over HTTP lives in `promwatch/delivery.hpp`.
///
/// Thread: a `Dispatcher` is a plain single-threaded object (the app owns it on the event
/// loop); the free functions are thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promwatch/config.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/shared_text.hpp"
#include "promwatch/template.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

/// One alert as evaluation hands it to the dispatcher (Alertmanager's `types.Alert`).
struct AlertEvent {
  Labels labels;  ///< with external labels applied
  Labels annotations;
  TimePoint starts_at;  ///< firing time
  /// Zero (the epoch) while firing. Set to the resolve time once resolved. A time in the
  /// future is also accepted (Alertmanager's "valid until"): the alert counts as resolved once
  /// `now >= ends_at`.
  TimePoint ends_at;
  /// Shared: every alert of a rule has the same one unless a `generator_url` template makes
  /// them differ, and the dispatcher holds an event per alert.
  SharedText generator_url;

  /// Alertmanager's `Alert.ResolvedAt(now)`: ends_at is set and not after `now`.
  bool resolved_at(TimePoint now) const { return ends_at != TimePoint{} && ends_at <= now; }
};

/// One alert of a notification. The event is the one the dispatcher holds: an `AlertEvent` is
/// immutable once received, so notifications share it instead of copying it (a message about
/// 10,000 alerts costs 10,000 pointers, and copying a `Notification` stays cheap). Never
/// modified once shared, so a copy may be read on another thread (the state store's worker).
struct NotifiedAlert {
  std::shared_ptr<const AlertEvent> event;  ///< never null
  bool resolved = false;  ///< its status at the flush: resolved, else firing

  /// "resolved" or "firing".
  std::string_view status() const { return resolved ? "resolved" : "firing"; }
  /// The end time receivers are told: the event's once resolved; zero (Go's zero time) while
  /// firing, also when the event carries a "valid until" time in the future (Alertmanager).
  TimePoint ends_at() const { return resolved ? event->ends_at : TimePoint{}; }
};

/// One message for one receiver about one aggregation group: the value the dispatcher hands to
/// delivery. Self-contained (the alerts are shared, immutable values) and cheap to copy.
struct Notification {
  std::string receiver;   ///< the receiver's name as configured
  std::string group_key;  ///< `{}/{route matchers}:{group labels}`
  Labels group_labels;
  Duration group_interval{0};
  Duration repeat_interval{0};
  /// The alerts to report, firing and resolved, sorted as Alertmanager sorts them; resolved ones
  /// left out when the receiver has `send_resolved = false`; at most `max_alerts`.
  std::vector<NotifiedAlert> alerts;
  Labels common_labels;       ///< the labels every listed alert has, with the same value
  Labels common_annotations;  ///< likewise for annotations
  std::string external_url;
  std::uint64_t truncated_alerts = 0;  ///< alerts left out by `max_alerts`
  /// Fingerprints of every firing / resolved alert of the group at the flush (before the
  /// send_resolved filter and truncation): what the notification log records on success.
  std::vector<std::uint64_t> firing;
  std::vector<std::uint64_t> resolved;
  TimePoint created_at;  ///< the flush time

  /// "firing" when any listed alert fires, else "resolved".
  std::string_view status() const;
};

/// What notification templates (`title`/`text`) see for `n`: Alertmanager's template.Data, with
/// the receiver name passed through Go's regexp.QuoteMeta as Alertmanager does. It copies every
/// listed alert, so build it to render and drop it.
NotificationTemplateData notification_template_data(const Notification& n);

/// The notification log entry for (receiver, group key): what was last delivered.
struct NotificationLogEntry {
  std::string receiver;
  std::string group_key;
  std::vector<std::uint64_t> firing;    ///< sorted fingerprints
  std::vector<std::uint64_t> resolved;  ///< sorted fingerprints
  TimePoint timestamp;                  ///< when it was delivered
};

/// One aggregation group as a plain value (for the durable store).
struct AggregationGroupState {
  std::string receiver;
  std::string route_key;  ///< `{}/{...}`: identifies the route across restarts and reloads
  Labels group_labels;
  /// The alerts, shared with the dispatcher (never null, never modified: to change one, replace
  /// it). Exporting 100,000 alerts copies 100,000 pointers, not the alerts (~60 MB per export).
  std::vector<std::shared_ptr<const AlertEvent>> alerts;
  TimePoint next_flush;
  bool has_flushed = false;
};

/// Everything the dispatcher keeps, as plain values.
struct DispatcherState {
  std::vector<NotificationLogEntry> log;
  std::vector<AggregationGroupState> groups;
};

/// Where one label set is routed.
struct RouteMatch {
  std::string route_key;
  std::string receiver;
  std::string group_key;
  Labels group_labels;
};

/// Routes, groups and deduplicates alerts (Alertmanager 0.25's dispatcher, aggregation groups
/// and DedupStage), with the clock passed in.
///
/// Usage: `receive()` the alert stream, call `collect_due(now)` at `next_wakeup()` (or later),
/// hand the notifications to delivery, and call `record_delivered()` when delivery succeeded,
/// which updates the notification log. A message that fails is re-evaluated at the group's
/// next flush against the unchanged log.
///
/// Reload: build a new Dispatcher from the new config; when `routes_like(old)`, keep the old one
/// (its groups and timers stand as they are), otherwise `import_state(old.export_state())`.
///
/// Thread: not thread-safe; use from one thread. Errors: none thrown after construction.
class Dispatcher {
 public:
  /// Decides whether an alert is muted (silences, inhibitions) at a flush. Muted alerts are
  /// left out of the notification and of the deduplication sets, as in Alertmanager.
  using MuteFilter = std::function<bool(const Labels& labels, TimePoint now)>;
  /// Decides whether a whole notification is muted by the route's time intervals
  /// (`mute_time_intervals` / `active_time_intervals`, names as configured) at `now`.
  using TimeMuteCheck = std::function<bool(const std::vector<std::string>& mute_time_intervals,
                                           const std::vector<std::string>& active_time_intervals,
                                           TimePoint now)>;

  /// `root` is the resolved routing tree; `receivers` supply send_resolved and max_alerts (a
  /// route naming an unknown receiver gets send_resolved = true, max_alerts = 0);
  /// `external_url` goes into every notification. Copies what it needs.
  Dispatcher(const RouteConfig& root, const std::vector<ReceiverConfig>& receivers,
             std::string external_url);
  ~Dispatcher();
  Dispatcher(Dispatcher&&) noexcept;
  Dispatcher& operator=(Dispatcher&&) noexcept;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Inserts or replaces (by label set) each alert in every group its labels route to. The
  /// events are taken by value and kept, shared with every group and notification that includes
  /// them: pass the vector with std::move and no alert is copied. This is an upsert, not a
  /// snapshot: an alert absent from a later call keeps its last state, so
  /// evaluation must send a resolved event (ends_at set) when an alert resolves. A resolved
  /// event that ended before the held alert started (a late resend of an earlier instance) is
  /// ignored. A new group flushes after group_wait, or at once when the alert started more than
  /// group_wait ago and the group has not flushed yet (Alertmanager).
  void receive(std::vector<AlertEvent> alerts, TimePoint now);

  /// Flushes every group whose time has come and returns the notifications that are needed.
  /// Resolved alerts are removed from a group after a flush that included them; empty groups
  /// are removed. When nothing fires any more and the receiver has send_resolved = false, no
  /// message is produced but the log is updated at once (Alertmanager does the same).
  std::vector<Notification> collect_due(TimePoint now);

  /// When `collect_due` should next be called; nullopt when there are no groups.
  std::optional<TimePoint> next_wakeup() const;

  /// Records a successful delivery of `n` in the notification log, at time `at`.
  void record_delivered(const Notification& n, TimePoint at);

  /// The log entry for (receiver, group key), or null.
  const NotificationLogEntry* log_entry(std::string_view receiver, std::string_view group_key) const;

  /// Where `labels` is routed (depth-first, Alertmanager's Route.Match).
  std::vector<RouteMatch> route(const Labels& labels) const;

  void set_mute_filter(MuteFilter filter);
  void set_time_mute_check(TimeMuteCheck check);
  /// Log entries older than this are dropped at `collect_due` (Alertmanager's data.retention).
  void set_log_retention(Duration retention);

  /// Brings the held alerts in line with `firing`, every alert that fires now (after a restore,
  /// whose rules and dispatcher were written at different moments): an alert of `firing` not
  /// held as firing is received; an alert held as firing but absent from `firing` resolves at
  /// `now` (and is notified as resolved). Returns how many alerts changed.
  std::size_t reconcile(std::vector<AlertEvent> firing, TimePoint now);

  // ---- high availability: the log shared between replicas (promwatch/cluster.hpp) ----

  /// Called with the new entry whenever this dispatcher changes its notification log: a
  /// delivery recorded, or a group whose receiver has send_resolved = false forgetting its
  /// alerts. The leader mirrors these to its peers. Not called for `merge_log_entry`.
  using LogObserver = std::function<void(const NotificationLogEntry& entry)>;
  void set_log_observer(LogObserver observer);
  /// Every log entry, copied.
  std::vector<NotificationLogEntry> log_entries() const;
  /// Takes a peer's entry when this dispatcher has none for its (receiver, group key) or an
  /// older one, as Alertmanager's notification log merges gossip. Returns whether it was taken.
  bool merge_log_entry(NotificationLogEntry entry);
  /// For a standby replica, which receives every alert but flushes nothing: drops each resolved
  /// alert that the leader reported (its group's log entry is from after the alert resolved and
  /// does not list it as firing), and resolved alerts older than the log retention, so a standby
  /// holds no more than a leader would. Returns how many were dropped; empty groups go.
  std::size_t drop_notified_resolved(TimePoint now);

  /// True when `other` was built from an equivalent routing tree, receiver options and
  /// external URL: every alert would route, group and notify the same way in both, so a reload
  /// that changed none of them can keep the running dispatcher instead of re-routing every alert.
  bool routes_like(const Dispatcher& other) const;

  std::size_t group_count() const;
  /// Alerts held over all groups (an alert in two groups counts twice).
  std::size_t alert_count() const;

  /// The log and every group as plain values; the alerts are shared, not copied.
  DispatcherState export_state() const;
  /// Replaces the log and the groups. Every saved alert is routed through the current tree; a
  /// group that lands where it was (same route key and receiver) keeps its next flush time,
  /// other groups start as new ones would at `now`. The alerts are shared, not copied.
  void import_state(DispatcherState state, TimePoint now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Alertmanager's route key of a matcher list: `{a="b",c=~"d"}`, matchers sorted by name, then
/// value, then type, values escaped as OpenMetrics does (`\\`, `\"`, `\n`).
std::string route_matchers_key(const std::vector<Matcher>& matchers);

/// Go's regexp.QuoteMeta (Alertmanager applies it to the receiver name in template data).
std::string go_quote_meta(std::string_view text);

/// Go's zero time when `t` is the epoch, else RFC 3339 with nanoseconds trimmed:
/// `0001-01-01T00:00:00Z` or `2026-01-02T03:04:05.123Z`.
std::string format_alert_time(TimePoint t);

/// Alertmanager 0.25's webhook message (version "4") for `n`, field for field and in the same
/// field order: receiver, status, alerts[], groupLabels, commonLabels, commonAnnotations,
/// externalURL, version, groupKey, truncatedAlerts. Byte for byte as Go 1.19's json.Encoder
/// writes it (Debian's Alertmanager 0.25 is built with it), checked against Alertmanager 0.25:
/// `<`, `>`, `&` escaped as `\u003c`…, control characters other than `\n \r \t` as `\u00XX`,
/// U+2028/U+2029 as `\u2028`/`\u2029`, every byte of invalid UTF-8 as `\ufffd`, and a trailing
/// newline. Written straight into one string (no JSON tree): about the size of the result.
std::string webhook_payload(const Notification& n);

/// The Alertmanager API v2 body for POST /api/v2/alerts:
/// `[{labels, annotations, startsAt, endsAt, generatorURL}]` (zero times left out). Compact
/// JSON with the short escapes (`\b \f \n \r \t`), other control characters as `\u00XX`, every
/// other character as is, and every byte of invalid UTF-8 as `\ufffd` (as Go does).
std::string alertmanager_v2_payload(const std::vector<AlertEvent>& alerts);

}  // namespace promwatch
