#pragma once
// Renders what the daemon's HTTP interface serves from the rule groups: Prometheus-format
// JSON for /api/v1/alerts and /api/v1/rules, the heartbeat members, and the HTML status page.
// Pure functions of the values passed in; called on the event-loop thread.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "promwatch/cluster.hpp"
#include "promwatch/matcher.hpp"
#include "promwatch/remote_write.hpp"
#include "promwatch/rules.hpp"
#include "promwatch/silence.hpp"
#include "promwatch/store.hpp"

namespace promwatch {

/// The filters of `GET /api/v1/rules`, with Prometheus's semantics (2.45+; Debian's 2.42
/// knows only `type`): each list is a set of allowed values (empty = no restriction), a group
/// must pass `rule_group[]` and `file[]`, a rule `rule_name[]` and `type`, and a group left with
/// no rules is left out of the answer.
struct RulesFilter {
  std::string type;  ///< "alert", "record" or empty for both
  std::vector<std::string> rule_groups;  ///< rule_group[]
  std::vector<std::string> rule_names;   ///< rule_name[]
  std::vector<std::string> files;        ///< file[]
};

/// `{"status":"success","data":{"alerts":[...]}}` with pending and firing alerts whose labels
/// match any selector of `match` (every alert when empty). Alert objects as Prometheus writes
/// them: labels, annotations, state, activeAt, keepFiringSince (only while held), value.
std::string render_alerts_json(const std::vector<const RuleGroup*>& groups,
                               const std::vector<std::vector<Matcher>>& match);

/// `{"status":"success","data":{"groups":[...]}}` as Prometheus's rules API: groups
/// (name file rules interval limit evaluationTime lastEvaluation) and alerting rules (state name
/// query duration keepFiringFor labels annotations alerts health lastError? evaluationTime
/// lastEvaluation type), recording rules (name query labels health lastError? evaluationTime
/// lastEvaluation type), in file order. Heartbeat rules appear as alerting rules, after them. Whole seconds are written
/// as JSON integers (`300`, not `300.0`), as Go writes a float64.
std::string render_rules_json(const std::vector<const RuleGroup*>& groups, const RulesFilter& filter);

/// `{"status":"success","data":{"heartbeats":[{group,name,query,by,health,members:[...]}]}}`:
/// every heartbeat rule with its members (labels, state up|missing|firing, expected, lastSeen).
std::string render_heartbeats_json(const std::vector<const RuleGroup*>& groups);

// Why an alert's notifications are muted right now is promwatch::MuteStatus of the silence
// component (SPEC §6: silences and inhibitions mute notifications, not evaluation; muted alerts
// still show, marked as such).

/// One silence as the status page lists it.
struct SilenceView {
  std::string id;
  std::string matchers;    ///< as Alertmanager writes them: `{alertname="X", severity=~"warn|crit"}`
  std::string state;       ///< "active" | "pending" | "expired"
  TimePoint starts_at{};
  TimePoint ends_at{};
  std::string created_by;
  std::string comment;
  bool from_config = false;  ///< a `[[silences]]` window of the config, not a runtime silence
};

struct StatusPageInfo {
  std::string version;
  std::string datasource;  ///< redacted URL
  bool datasource_up = true;
  bool ready = false;
  TimePoint started_at{};
  TimePoint now{};
  /// Seconds between the page's own reloads (`<meta http-equiv="refresh">`); 0 turns it off.
  int refresh_seconds = 15;
  /// The muting of each pending or firing alert (its labels are without external labels).
  /// Unset, or nullopt for an alert: muting unknown, nothing marked.
  std::function<std::optional<MuteStatus>(const Alert&)> mute_status;
  /// Silences to list (active and pending first). nullopt: the daemon keeps no silences yet
  /// and the section says so.
  std::optional<std::vector<SilenceView>> silences;
  /// The replica's part in its cluster; nullopt without `[cluster]` (nothing shown).
  std::optional<ClusterStatus> cluster;
  /// The remote-write sender; nullopt without `[remote_write]` (nothing shown).
  std::optional<RemoteWriteStatus> remote_write;
  /// Transitions of the last `history_window` from the history store (any order), drawn per
  /// rule as a timeline (promwatch/timeline.hpp). nullopt: no store, no section.
  std::optional<std::vector<HistoryEntry>> history;
  Duration history_window = std::chrono::hours(6);
};

/// `GET /api/v1/status/cluster`: `{"status":"success","data":{"enabled":false}}` without a
/// cluster, else the role, leader, members, etcd health and the lease time left.
std::string render_cluster_json(const std::optional<ClusterStatus>& status);

/// The status page: a summary, firing and pending alerts (labels, value, since, annotations,
/// muted marker), every rule with its health and last error, heartbeat members and silences.
/// Every value is HTML-escaped; the page is self-contained (inline CSS, no script, nothing
/// fetched), readable on a phone, and refreshes itself.
std::string render_status_page(const std::vector<const RuleGroup*>& groups, const StatusPageInfo& info);

/// `{"name": "value", ...}` in the labels' order.
nlohmann::ordered_json labels_json(const Labels& labels);
/// A duration in seconds as Go's encoding/json writes a float64: whole numbers without a
/// fraction (`300`, not nlohmann's `300.0`).
nlohmann::ordered_json seconds_json(Duration d);

/// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

}  // namespace promwatch
