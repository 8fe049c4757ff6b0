#include "api.hpp"

#include <algorithm>
#include <map>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "promwatch/notify.hpp"
#include "promwatch/timeline.hpp"

namespace promwatch {

using nlohmann::ordered_json;

ordered_json labels_json(const Labels& labels) {
  ordered_json out = ordered_json::object();
  for (const auto& l : labels) out[l.name] = l.value;
  return out;
}

ordered_json seconds_json(Duration d) {
  if (d.count() % 1000 == 0) return static_cast<std::int64_t>(d.count() / 1000);
  return to_seconds(d);
}

namespace {

ordered_json template_map_json(const TemplateMap& map) {
  ordered_json out = ordered_json::object();
  for (const auto& [name, text] : map) out[name] = text.text;
  return out;
}

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

bool is_active(const Alert& a) { return a.state == AlertState::Pending || a.state == AlertState::Firing; }

// Prometheus's API alert object: labels, annotations, state, activeAt, keepFiringSince, value.
ordered_json alert_json(const Alert& a) {
  ordered_json j;
  j["labels"] = labels_json(a.labels);
  j["annotations"] = labels_json(a.annotations);
  j["state"] = std::string(to_string(a.state));
  j["activeAt"] = format_alert_time(a.active_at);
  if (a.keep_firing_since != TimePoint{}) j["keepFiringSince"] = format_alert_time(a.keep_firing_since);
  j["value"] = format_go_float(a.value, 'e');  // strconv.FormatFloat(v, 'e', -1, 64)
  return j;
}

// Alerts of a rule in a stable order (by labels), so that the API and page do not jitter.
template <typename Rule>
std::vector<Alert> active_alerts(const Rule& rule) {
  std::vector<Alert> out;
  rule.for_each_alert([&out](const Alert& a) {
    if (is_active(a)) out.push_back(a);
  });
  std::sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) { return a.labels.items() < b.labels.items(); });
  return out;
}

template <typename Rule>
std::string_view rule_state(const Rule& rule) {
  if (rule.count(AlertState::Firing) > 0) return "firing";
  if (rule.count(AlertState::Pending) > 0) return "pending";
  return "inactive";
}

bool selected(const std::vector<std::string>& wanted, const std::string& value) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
}

}  // namespace

std::string render_alerts_json(const std::vector<const RuleGroup*>& groups,
                               const std::vector<std::vector<Matcher>>& match) {
  ordered_json alerts = ordered_json::array();
  auto add = [&](const auto& rule) {
    for (const auto& alert : active_alerts(rule)) {
      bool wanted = match.empty() ||
                    std::any_of(match.begin(), match.end(), [&](const auto& m) { return matches_all(m, alert.labels); });
      if (wanted) alerts.push_back(alert_json(alert));
    }
  };
  for (const RuleGroup* group : groups) {
    for (const auto& rule : group->rules()) add(rule);
    for (const auto& heartbeat : group->heartbeats()) add(heartbeat);
  }
  ordered_json out;
  out["status"] = "success";
  out["data"]["alerts"] = std::move(alerts);
  return dump(out);
}

std::string render_rules_json(const std::vector<const RuleGroup*>& groups, const RulesFilter& filter) {
  ordered_json out_groups = ordered_json::array();
  bool want_alerting = filter.type.empty() || filter.type == "alert";
  bool want_recording = filter.type.empty() || filter.type == "record";
  for (const RuleGroup* group : groups) {
    if (!selected(filter.rule_groups, group->name()) || !selected(filter.files, group->file())) continue;
    ordered_json rules = ordered_json::array();
    // Alerting and recording rules in file order, as Prometheus lists a group's rules.
    for (const RuleRef& ref : group->rule_order()) {
      if (ref.kind == RuleKind::Recording) {
        const RecordingRule& rule = group->recording_rules()[ref.index];
        if (!want_recording || !selected(filter.rule_names, rule.name())) continue;
        ordered_json r;
        r["name"] = rule.name();
        r["query"] = rule.query();
        r["labels"] = labels_json(rule.labels());
        r["health"] = std::string(to_string(rule.health()));
        if (!rule.last_error().empty()) r["lastError"] = rule.last_error();
        r["evaluationTime"] = seconds_json(rule.evaluation_time());
        r["lastEvaluation"] = format_alert_time(rule.last_evaluation());
        r["type"] = "recording";
        rules.push_back(std::move(r));
        continue;
      }
      const AlertingRule& rule = group->rules()[ref.index];
      if (!want_alerting || !selected(filter.rule_names, rule.name())) continue;
      ordered_json r;
      r["state"] = std::string(rule_state(rule));
      r["name"] = rule.name();
      r["query"] = rule.query();
      r["duration"] = seconds_json(rule.config().for_duration);
      r["keepFiringFor"] = seconds_json(rule.config().keep_firing_for);
      // promwatch's own keys (#17), only when set: Prometheus's consumers ignore unknown keys.
      if (!rule.config().keep_firing_expr.empty()) r["keepFiringExpr"] = rule.config().keep_firing_expr;
      if (rule.config().flap_threshold > 0) {
        r["flapWindow"] = seconds_json(rule.config().flap_window);
        r["flapThreshold"] = rule.config().flap_threshold;
      }
      r["labels"] = template_map_json(rule.config().labels);
      r["annotations"] = template_map_json(rule.config().annotations);
      ordered_json alerts = ordered_json::array();
      for (const auto& alert : active_alerts(rule)) alerts.push_back(alert_json(alert));
      r["alerts"] = std::move(alerts);
      r["health"] = std::string(to_string(rule.health()));
      if (!rule.last_error().empty()) r["lastError"] = rule.last_error();
      r["evaluationTime"] = seconds_json(rule.evaluation_time());
      r["lastEvaluation"] = format_alert_time(rule.last_evaluation());
      r["type"] = "alerting";
      rules.push_back(std::move(r));
    }
    // Heartbeat rules are alerting rules to Prometheus's API consumers (Grafana, scripts).
    for (const auto& hb : group->heartbeats()) {
      if (!want_alerting || !selected(filter.rule_names, hb.name())) continue;
      ordered_json r;
      r["state"] = std::string(rule_state(hb));
      r["name"] = hb.name();
      r["query"] = hb.query();
      r["duration"] = seconds_json(hb.config().for_duration);
      r["keepFiringFor"] = 0;
      r["labels"] = labels_json(hb.config().labels);
      r["annotations"] = template_map_json(hb.config().annotations);
      ordered_json alerts = ordered_json::array();
      for (const auto& alert : active_alerts(hb)) alerts.push_back(alert_json(alert));
      r["alerts"] = std::move(alerts);
      r["health"] = std::string(to_string(hb.health()));
      if (!hb.last_error().empty()) r["lastError"] = hb.last_error();
      r["evaluationTime"] = seconds_json(hb.evaluation_time());
      r["lastEvaluation"] = format_alert_time(hb.last_evaluation());
      r["type"] = "alerting";
      rules.push_back(std::move(r));
    }
    // Prometheus (2.45+) leaves out every group that has no rule left after the filters.
    if (rules.empty()) continue;
    ordered_json g;
    g["name"] = group->name();
    g["file"] = group->file();
    g["rules"] = std::move(rules);
    g["interval"] = seconds_json(group->interval());
    g["limit"] = group->limit();
    g["evaluationTime"] = seconds_json(group->evaluation_time());
    g["lastEvaluation"] = format_alert_time(group->last_evaluation());
    out_groups.push_back(std::move(g));
  }
  ordered_json out;
  out["status"] = "success";
  out["data"]["groups"] = std::move(out_groups);
  return dump(out);
}

namespace {

// A member is "firing" when its rule has a firing alert for it, "missing" while absent but not
// yet for long enough, else "up".
std::string member_state(const HeartbeatRule& hb, const HeartbeatMember& m) {
  if (m.up) return "up";
  bool firing = false;
  hb.for_each_alert([&](const Alert& a) {
    if (a.state != AlertState::Firing) return;
    bool same = true;
    for (const auto& l : m.labels) same = same && a.labels.get(l.name) == l.value;
    firing = firing || same;
  });
  return firing ? "firing" : "missing";
}

template <typename Fn>
void for_each_member_sorted(const HeartbeatRule& hb, Fn fn) {
  std::vector<HeartbeatMember> members;
  hb.for_each_member([&](const HeartbeatMember& m) { members.push_back(m); });
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.labels.items() < b.labels.items(); });
  for (const auto& m : members) fn(m);
}

}  // namespace

std::string render_cluster_json(const std::optional<ClusterStatus>& status) {
  ordered_json data;
  data["enabled"] = status.has_value();
  if (status) {
    const ClusterStatus& c = *status;
    data["name"] = c.name;
    data["member"] = c.member;
    data["role"] = std::string(to_string(c.role));
    data["notifies"] = c.may_notify;
    data["leader"] = c.leader;
    data["members"] = c.members;
    data["etcdUp"] = c.etcd_up;
    data["etcdEndpoint"] = c.endpoint;
    data["leaseTTLSeconds"] = c.lease_ttl_left ? ordered_json(to_seconds(*c.lease_ttl_left)) : ordered_json(nullptr);
    data["leaderChanges"] = c.leader_changes;
    data["lastEtcdContact"] = c.last_contact == TimePoint{} ? ordered_json(nullptr) : ordered_json(format_rfc3339(c.last_contact));
    data["lastError"] = c.last_error;
  }
  ordered_json out;
  out["status"] = "success";
  out["data"] = std::move(data);
  return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string render_heartbeats_json(const std::vector<const RuleGroup*>& groups) {
  ordered_json out_rules = ordered_json::array();
  for (const RuleGroup* group : groups) {
    for (const auto& hb : group->heartbeats()) {
      ordered_json members = ordered_json::array();
      for_each_member_sorted(hb, [&](const HeartbeatMember& m) {
        ordered_json j;
        j["labels"] = labels_json(m.labels);
        j["state"] = member_state(hb, m);
        j["expected"] = m.expected;
        j["lastSeen"] = format_alert_time(m.last_seen_up);
        if (m.missing_since != TimePoint{}) j["missingSince"] = format_alert_time(m.missing_since);
        members.push_back(std::move(j));
      });
      ordered_json r;
      r["group"] = group->name();
      r["name"] = hb.name();
      r["query"] = hb.query();
      r["by"] = hb.config().by;
      r["health"] = std::string(to_string(hb.health()));
      if (!hb.last_error().empty()) r["lastError"] = hb.last_error();
      r["members"] = std::move(members);
      out_rules.push_back(std::move(r));
    }
  }
  ordered_json out;
  out["status"] = "success";
  out["data"]["heartbeats"] = std::move(out_rules);
  return dump(out);
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// ---- status page ----

// One table cell; `label` names the column on narrow screens, where rows become cards.
std::string td(std::string_view label, const std::string& html, std::string_view cls = {}) {
  std::string out = "<td data-label=\"";
  out += label;
  out += '"';
  if (!cls.empty()) {
    out += " class=\"";
    out += cls;
    out += '"';
  }
  out += '>';
  out += html;
  out += "</td>";
  return out;
}

std::string labels_html(const Labels& labels, std::string_view skip = {}) {
  std::string out;
  for (const auto& l : labels) {
    if (l.name == skip) continue;
    out += "<span class=\"label\"><b>" + html_escape(l.name) + "</b>=" + html_escape(l.value) + "</span> ";
  }
  return out;
}

std::string annotations_html(const Labels& annotations) {
  std::string out;
  // summary and description first, as people read them; the rest in name order.
  auto add = [&out](const Label& a) {
    out += "<div class=\"ann\"><span class=\"k\">" + html_escape(a.name) + "</span> " + html_escape(a.value) + "</div>";
  };
  for (std::string_view first : {"summary", "description"}) {
    for (const auto& a : annotations) {
      if (a.name == first) add(a);
    }
  }
  for (const auto& a : annotations) {
    if (a.name != "summary" && a.name != "description") add(a);
  }
  return out;
}

std::string ago(TimePoint now, TimePoint t) {
  auto d = std::chrono::duration_cast<std::chrono::seconds>(now - t);
  if (d.count() < 0) d = std::chrono::seconds(0);
  return format_duration(d) + " ago";
}

// A relative time with the absolute one (UTC) as tooltip and machine-readable value.
std::string time_html(TimePoint now, TimePoint t, std::string_view never = "never") {
  if (t == TimePoint{}) return std::string(never);
  std::string abs = html_escape(format_rfc3339(t));
  return "<time datetime=\"" + abs + "\" title=\"" + abs + "\">" + html_escape(ago(now, t)) + "</time>";
}

std::string badge(std::string_view cls, std::string_view text, std::string_view title = {}) {
  std::string out = "<span class=\"badge ";
  out += html_escape(cls);
  out += '"';
  if (!title.empty()) out += " title=\"" + html_escape(title) + "\"";
  out += '>' + html_escape(text) + "</span>";
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string duration_text(Duration d) {
  if (d.count() == 0) return "0s";
  return format_duration(d);
}

// One pending or firing alert of one rule, for the alerts table.
struct PageAlert {
  std::string rule;
  std::string group;
  Alert alert;
  MuteStatus mute;
};

constexpr std::string_view kPageStyle = R"(<style>
:root{--fg:#1d2329;--bg:#fff;--muted:#5f6b76;--line:#e2e6ea;--chip:#eef1f6;--firing:#c62828;--pending:#b26a00;
--ok:#2e7d32;--card:#f7f8fa;--link:#1558b0}
@media (prefers-color-scheme:dark){:root{--fg:#e4e7eb;--bg:#15181c;--muted:#9aa5b1;--line:#2c3238;--chip:#242a31;
--firing:#ef5350;--pending:#ffb74d;--ok:#66bb6a;--card:#1d2126;--link:#8ab4f8}}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:0 1rem 2rem;color:var(--fg);
background:var(--bg);line-height:1.4;font-size:15px}
a{color:var(--link)}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.4rem 1.2rem;padding:.8rem 0;border-bottom:1px solid var(--line)}
header h1{font-size:1.35rem;margin:0}
header nav a{margin-right:.8rem}
.meta{color:var(--muted);font-size:.85rem;margin:.5rem 0 0}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.5rem .9rem;min-width:7.5rem}
.card .n{font-size:1.5rem;font-weight:700;display:block}
.card .t{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
.card.firing .n{color:var(--firing)}.card.pending .n{color:var(--pending)}.card.good .n{color:var(--ok)}
.card.bad .n{color:var(--firing)}
h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.4rem .5rem;text-align:left;vertical-align:top}
th{font-size:.78rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;font-weight:600}
tr.muted td{opacity:.6}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:.78rem;font-weight:600;white-space:nowrap;
border:1px solid currentColor}
.badge.firing,.badge.err,.badge.missing,.badge.down{color:var(--firing)}
.badge.pending,.badge.unknown,.badge.inhibited,.badge.silenced,.badge.expected{color:var(--pending)}
.badge.ok,.badge.up,.badge.active{color:var(--ok)}
.badge.inactive,.badge.expired,.badge.config{color:var(--muted)}
.label{display:inline-block;background:var(--chip);border-radius:4px;padding:0 .35rem;margin:1px 2px 1px 0;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.82rem;word-break:break-all}
.label b{font-weight:600}
.ann{white-space:pre-wrap;word-break:break-word}.ann .k{color:var(--muted);font-size:.8rem}
.name{font-weight:600;overflow-wrap:break-word}
.err-text{color:var(--firing);white-space:pre-wrap;word-break:break-word}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.82rem;white-space:pre-wrap;
overflow-wrap:break-word}
.empty{color:var(--muted);font-style:italic}
.banner{border:1px solid var(--firing);color:var(--firing);border-radius:8px;padding:.5rem .9rem;margin:1rem 0 0;
font-weight:600}
.num{font-variant-numeric:tabular-nums}
@media (max-width:700px){
body{padding:0 .6rem 1.5rem;font-size:14px}
table,tbody,tr,td{display:block;width:100%}
thead{display:none}
tr{border:1px solid var(--line);border-radius:8px;margin:0 0 .6rem;padding:.3rem .2rem;background:var(--card)}
td{border:none;padding:.15rem .45rem}
td:empty{display:none}
.card{flex:1 1 5.5rem;min-width:0;padding:.4rem .6rem}.card .n{font-size:1.25rem}
td[data-label]::before{content:attr(data-label);display:inline-block;min-width:6.5rem;color:var(--muted);
font-size:.75rem;text-transform:uppercase;letter-spacing:.03em}
}
</style>)";

// Each rule's recent history as a timeline: a band per alert, from its stored transitions, and
// for alerts active all through the window (no transition in it) from their current state.
std::string history_section(const std::vector<const RuleGroup*>& groups, const StatusPageInfo& info) {
  const TimePoint from = info.now - info.history_window;
  // (group, rule) -> fingerprint -> transitions
  std::map<std::pair<std::string, std::string>, std::map<std::uint64_t, std::vector<const HistoryEntry*>>> by_rule;
  for (const auto& e : *info.history) by_rule[{e.group, e.rule}][e.fingerprint].push_back(&e);
  auto timeline_state = [](AlertState s) -> std::optional<TimelineState> {
    if (s == AlertState::Pending) return TimelineState::Pending;
    if (s == AlertState::Firing) return TimelineState::Firing;
    return std::nullopt;
  };
  std::string out;
  auto add_rule = [&](const auto& rule, const RuleGroup& group) {
    Timeline tl;
    tl.from = from;
    tl.to = info.now;
    std::map<std::uint64_t, std::vector<const HistoryEntry*>> empty;
    auto it = by_rule.find({group.name(), rule.name()});
    auto& alerts = it == by_rule.end() ? empty : it->second;
    for (auto& [fp, entries] : alerts) {
      std::sort(entries.begin(), entries.end(), [](const HistoryEntry* a, const HistoryEntry* b) {
        return a->at != b->at ? a->at < b->at : a->id < b->id;
      });
      TimelineLane lane{entries.back()->labels.to_string(), {}};
      if (auto before = timeline_state(entries.front()->from)) lane.spans.push_back({from, entries.front()->at, *before});
      for (std::size_t i = 0; i < entries.size(); ++i) {
        TimePoint end = i + 1 < entries.size() ? entries[i + 1]->at : info.now;
        if (auto s = timeline_state(entries[i]->to)) lane.spans.push_back({entries[i]->at, end, *s});
      }
      tl.lanes.push_back(std::move(lane));
    }
    rule.for_each_alert([&](const Alert& a) {
      if (a.state == AlertState::Inactive || alerts.count(a.fingerprint)) return;
      TimelineLane lane{a.labels.to_string(), {}};
      if (a.state == AlertState::Pending) {
        lane.spans.push_back({std::max(from, a.active_at), info.now, TimelineState::Pending});
      } else {
        if (a.active_at < a.fired_at && a.fired_at > from) {
          lane.spans.push_back({std::max(from, a.active_at), a.fired_at, TimelineState::Pending});
        }
        lane.spans.push_back({std::max(from, a.fired_at), info.now, TimelineState::Firing});
      }
      tl.lanes.push_back(std::move(lane));
    });
    if (tl.lanes.empty()) return;
    std::sort(tl.lanes.begin(), tl.lanes.end(),
              [](const TimelineLane& a, const TimelineLane& b) { return a.label < b.label; });
    out += "<h3 class=\"hist\"><a href=\"#rule-" + html_escape(group.name() + "/" + rule.name()) + "\">" +
           html_escape(group.name()) + " / " + html_escape(rule.name()) + "</a></h3>\n" + render_timeline(tl) + "\n";
  };
  for (const RuleGroup* group : groups) {
    for (const auto& rule : group->rules()) add_rule(rule, *group);
    for (const auto& rule : group->heartbeats()) add_rule(rule, *group);
  }
  std::string hours = std::to_string(std::chrono::duration_cast<std::chrono::hours>(info.history_window).count());
  std::string section = "<section id=\"history\"><h2>History</h2>\n<p class=\"meta\">the last " + hours +
                        " hours of state changes, per rule</p>\n";
  if (out.empty()) return section + "<p class=\"empty\">No alert was pending or firing in that time.</p>\n</section>\n";
  return section + "<style>" + timeline_css() + "h3.hist{font-size:.95rem;margin:1rem 0 .2rem}</style>\n" + out +
         "</section>\n";
}

}  // namespace

std::string render_status_page(const std::vector<const RuleGroup*>& groups, const StatusPageInfo& info) {
  // Gather first, render after: the summary cards need the counts.
  std::vector<PageAlert> alerts;
  std::string rules_rows;
  std::string member_rows;
  std::size_t rules_total = 0;
  std::size_t rules_err = 0;
  bool muting_known = false;
  auto collect_alerts = [&](const auto& rule, const RuleGroup& group) {
    for (auto& alert : active_alerts(rule)) {
      PageAlert a{rule.name(), group.name(), std::move(alert), {}};
      if (info.mute_status) {
        if (auto mute = info.mute_status(a.alert)) {
          a.mute = std::move(*mute);
          muting_known = true;
        }
      }
      alerts.push_back(std::move(a));
    }
  };
  std::size_t flapping = 0;
  auto add_rule_row = [&](const auto& rule, const RuleGroup& group, std::string_view kind,
                          const std::string& query_extra = {}) {
    ++rules_total;
    std::string health(to_string(rule.health()));
    if (rule.health() == RuleHealth::Err) ++rules_err;
    std::string state_html;
    if constexpr (!std::is_same_v<std::decay_t<decltype(rule)>, RecordingRule>) {
      std::string state(rule_state(rule));
      state_html = badge(state, state);
      std::size_t firing = rule.count(AlertState::Firing);
      std::size_t pending = rule.count(AlertState::Pending);
      if (firing > 0 && pending > 0) {
        state_html += " <span class=\"num\">" + std::to_string(firing) + " firing, " + std::to_string(pending) +
                      " pending</span>";
      } else if (firing + pending > 0) {
        state_html += " <span class=\"num\">" + std::to_string(firing + pending) + "</span>";
      }
    }
    std::string evaluated = time_html(info.now, rule.last_evaluation());
    if (rule.last_evaluation() != TimePoint{}) {
      evaluated += " <span class=\"meta num\">(took " + html_escape(duration_text(rule.evaluation_time())) + ")</span>";
    }
    rules_rows += "<tr id=\"rule-" + html_escape(group.name() + "/" + rule.name()) + "\" class=\"" + health + "\">" +
                  td("group", html_escape(group.name())) +
                  td("rule", "<span class=\"name\">" + html_escape(rule.name()) + "</span> " + badge("inactive", kind)) +
                  td("state", state_html) + td("health", badge(health, health)) +
                  td("last error", rule.last_error().empty() ? std::string()
                                                             : "<span class=\"err-text\">" +
                                                                   html_escape(rule.last_error()) + "</span>") +
                  td("evaluated", evaluated) +
                  td("query", "<code>" + html_escape(rule.query()) + "</code>" + query_extra) + "</tr>\n";
  };
  for (const RuleGroup* group : groups) {
    for (const RuleRef& ref : group->rule_order()) {
      if (ref.kind == RuleKind::Recording) {
        add_rule_row(group->recording_rules()[ref.index], *group, "recording");
        continue;
      }
      const AlertingRule& rule = group->rules()[ref.index];
      collect_alerts(rule, *group);
      std::string extra;
      const AlertRuleConfig& c = rule.config();
      if (!c.keep_firing_expr.empty()) {
        extra += "<br><span class=\"meta\">keeps firing while</span> <code>" + html_escape(c.keep_firing_expr) + "</code>";
      }
      if (c.flap_threshold > 0) {
        extra += "<br><span class=\"meta\">flapping at " + std::to_string(c.flap_threshold) + " changes in " +
                 html_escape(format_duration(c.flap_window)) + "</span>";
      }
      const std::size_t rule_flapping = rule.count_flapping();
      if (rule_flapping > 0) extra += " " + badge("pending", std::to_string(rule_flapping) + " flapping");
      flapping += rule_flapping;
      add_rule_row(rule, *group, "alerting", extra);
    }
    for (const auto& hb : group->heartbeats()) {
      collect_alerts(hb, *group);
      add_rule_row(hb, *group, "heartbeat");
      for_each_member_sorted(hb, [&](const HeartbeatMember& m) {
        std::string state = member_state(hb, m);
        member_rows += "<tr class=\"" + state + "\">" + td("state", badge(state, state)) +
                       td("rule", "<span class=\"name\">" + html_escape(hb.name()) + "</span>") +
                       td("member", labels_html(m.labels)) + td("last seen up", time_html(info.now, m.last_seen_up)) +
                       td("missing since", time_html(info.now, m.missing_since, "")) +
                       td("expected", m.expected ? badge("expected", "expected") : std::string()) + "</tr>\n";
      });
    }
  }
  // Firing before pending; then by name and labels.
  std::stable_sort(alerts.begin(), alerts.end(), [](const PageAlert& a, const PageAlert& b) {
    bool af = a.alert.state == AlertState::Firing;
    bool bf = b.alert.state == AlertState::Firing;
    if (af != bf) return af;
    if (a.rule != b.rule) return a.rule < b.rule;
    return a.alert.labels.items() < b.alert.labels.items();
  });
  std::size_t firing = 0;
  std::size_t pending = 0;
  std::size_t muted = 0;
  std::string alert_rows;
  for (const auto& a : alerts) {
    bool is_firing = a.alert.state == AlertState::Firing;
    (is_firing ? firing : pending)++;
    std::string state(to_string(a.alert.state));
    std::string state_html = badge(state, state);
    if (!a.mute.silenced_by.empty()) {
      state_html += " " + badge("silenced", "silenced", "silenced by " + join(a.mute.silenced_by, ", "));
    }
    if (!a.mute.inhibited_by.empty()) {
      state_html += " " + badge("inhibited", "inhibited", "inhibited by " + join(a.mute.inhibited_by, ", "));
    }
    if (a.alert.flap.flapping()) {
      state_html += " " + badge("pending", "flapping",
                                std::to_string(a.alert.flap.count) + " state changes; notified again once stable");
    }
    if (a.mute.muted()) ++muted;
    std::string since = time_html(info.now, a.alert.active_at);
    if (is_firing && a.alert.fired_at != TimePoint{}) since += " <span class=\"meta\">(firing " + time_html(info.now, a.alert.fired_at) + ")</span>";
    alert_rows += "<tr class=\"" + state + (a.mute.muted() ? " muted" : "") + "\">" + td("state", state_html) +
                  td("alert", "<span class=\"name\">" + html_escape(a.rule) + "</span>") +
                  td("labels", labels_html(a.alert.labels, "alertname")) +
                  td("value", html_escape(format_go_value(a.alert.value)), "num") + td("active since", since) +
                  td("annotations", annotations_html(a.alert.annotations)) + "</tr>\n";
  }

  std::string silence_rows;
  std::size_t silences_active = 0;
  if (info.silences) {
    for (const auto& s : *info.silences) {
      if (s.state == "active") ++silences_active;
      std::string state_html = badge(s.state, s.state);
      if (s.from_config) state_html += " " + badge("config", "config");
      silence_rows += "<tr class=\"" + html_escape(s.state) + "\">" + td("state", state_html) +
                      td("matchers", "<code>" + html_escape(s.matchers) + "</code>") +
                      td("starts", html_escape(format_rfc3339(s.starts_at))) +
                      td("ends", html_escape(format_rfc3339(s.ends_at))) + td("created by", html_escape(s.created_by)) +
                      td("comment", "<span class=\"ann\">" + html_escape(s.comment) + "</span>") +
                      td("id", "<code>" + html_escape(s.id) + "</code>") + "</tr>\n";
    }
  }

  auto card = [](std::string_view cls, const std::string& n, std::string_view title) {
    return "<div class=\"card " + std::string(cls) + "\"><span class=\"n\">" + n + "</span><span class=\"t\">" +
           std::string(title) + "</span></div>";
  };

  std::string page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  if (info.refresh_seconds > 0) {
    page += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(info.refresh_seconds) + "\">\n";
  }
  page += "<link rel=\"icon\" href=\"data:,\">\n<title>";
  page += firing > 0 ? "(" + std::to_string(firing) + " firing) promwatch" : std::string("promwatch");
  page += "</title>\n";
  page += kPageStyle;
  page += "\n</head><body>\n<header><h1>promwatch</h1><nav><a href=\"#alerts\">alerts</a><a href=\"#rules\">rules</a>";
  if (!member_rows.empty()) page += "<a href=\"#heartbeats\">heartbeats</a>";
  if (info.history) page += "<a href=\"#history\">history</a>";
  page += "<a href=\"#silences\">silences</a><a href=\"metrics\">metrics</a><a href=\"api/v1/alerts\">API</a></nav>"
          "</header>\n";
  page += "<p class=\"meta\">version " + html_escape(info.version) + " · datasource <code>" +
          html_escape(info.datasource) + "</code> · started " + time_html(info.now, info.started_at) +
          " · page generated " + html_escape(format_rfc3339(info.now));
  if (info.refresh_seconds > 0) page += ", refreshes every " + std::to_string(info.refresh_seconds) + "s";
  page += "</p>\n<div class=\"cards\">";
  page += card(firing > 0 ? "firing" : "good", std::to_string(firing), "firing");
  page += card(pending > 0 ? "pending" : "", std::to_string(pending), "pending");
  if (muting_known) page += card("", std::to_string(muted), "muted");
  if (flapping > 0) page += card("pending", std::to_string(flapping), "flapping");
  page += card(rules_err > 0 ? "bad" : "good", std::to_string(rules_err) + "/" + std::to_string(rules_total),
               "rules failing");
  page += card(info.datasource_up ? "good" : "bad", info.datasource_up ? "up" : "down", "datasource");
  page += card(info.ready ? "good" : "pending", info.ready ? "ready" : "starting", "status");
  if (info.cluster) {
    const ClusterStatus& c = *info.cluster;
    std::string_view cls = c.role == ClusterRole::Leader ? "good" : c.role == ClusterRole::Follower ? "" : "bad";
    page += card(cls, std::string(to_string(c.role)), "cluster role");
  }
  if (info.remote_write) {
    page += card(info.remote_write->healthy ? "good" : "bad", info.remote_write->healthy ? "healthy" : "unhealthy",
                 "remote write");
  }
  page += "</div>\n";
  if (info.cluster) {
    const ClusterStatus& c = *info.cluster;
    if (c.role == ClusterRole::FailOpen) {
      page += "<p class=\"banner\">etcd is unreachable (" + html_escape(c.last_error) +
              "): this replica notifies on its own; its peers may send the same notifications.</p>\n";
    } else if (!c.etcd_up && c.role != ClusterRole::Starting) {
      page += "<p class=\"banner\">etcd does not answer (" + html_escape(c.last_error) +
              "); after fail_open_after every replica notifies.</p>\n";
    }
    page += "<p class=\"meta\">cluster <code>" + html_escape(c.name) + "</code> · member <code>" +
            html_escape(c.member) + "</code> · leader <code>" + html_escape(c.leader.empty() ? "unknown" : c.leader) +
            "</code> · " + std::to_string(c.members.size()) + " members · " +
            (c.may_notify ? "this replica notifies" : "standby: the leader notifies") + "</p>\n";
  }

  if (info.remote_write) {
    const RemoteWriteStatus& w = *info.remote_write;
    page += "<p class=\"meta\">remote write to <code>" + html_escape(w.endpoint) + "</code> · " +
            (w.healthy ? "healthy" : "unhealthy") + " · " + std::to_string(w.queue_length) + " samples queued · " +
            std::to_string(w.sent) + " sent, " + std::to_string(w.dropped) + " dropped, " +
            std::to_string(w.rejected) + " rejected · last written " +
            time_html(info.now, w.last_success);
    if (!w.last_error.empty()) page += " · last error: " + html_escape(w.last_error);
    page += "</p>\n";
  }

  page += "<section id=\"alerts\"><h2>Alerts</h2>\n";
  if (alert_rows.empty()) {
    page += "<p class=\"empty\">No pending or firing alerts.</p>\n";
  } else {
    page += "<table><thead><tr><th>state</th><th>alert</th><th>labels</th><th>value</th><th>active since</th>"
            "<th>annotations</th></tr></thead><tbody>\n" + alert_rows + "</tbody></table>\n";
  }
  page += "</section>\n<section id=\"rules\"><h2>Rules</h2>\n";
  if (rules_rows.empty()) {
    page += "<p class=\"empty\">No rules loaded.</p>\n";
  } else {
    page += "<table><thead><tr><th>group</th><th>rule</th><th>state</th><th>health</th><th>last error</th>"
            "<th>evaluated</th><th>query</th></tr></thead><tbody>\n" + rules_rows + "</tbody></table>\n";
  }
  page += "</section>\n";
  if (!member_rows.empty()) {
    page += "<section id=\"heartbeats\"><h2>Heartbeat members</h2>\n<table><thead><tr><th>state</th><th>rule</th>"
            "<th>member</th><th>last seen up</th><th>missing since</th><th>expected</th></tr></thead><tbody>\n" +
            member_rows + "</tbody></table>\n</section>\n";
  }
  if (info.history) page += history_section(groups, info);
  page += "<section id=\"silences\"><h2>Silences</h2>\n";
  if (!info.silences) {
    page += "<p class=\"empty\">Silences are not reported by this daemon.</p>\n";
  } else if (silence_rows.empty()) {
    page += "<p class=\"empty\">No active or pending silences.</p>\n";
  } else {
    page += "<p class=\"meta\">" + std::to_string(silences_active) + " active</p>\n"
            "<table><thead><tr><th>state</th><th>matchers</th><th>starts</th><th>ends</th><th>created by</th>"
            "<th>comment</th><th>id</th></tr></thead><tbody>\n" + silence_rows + "</tbody></table>\n";
  }
  page += "</section>\n</body></html>\n";
  return page;
}

}  // namespace promwatch
