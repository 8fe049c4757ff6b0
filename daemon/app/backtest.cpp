// The backtest engine (promwatch/backtest.hpp): the daemon's round end on a virtual clock. Each
// slot flushes what the dispatcher has due until then, evaluates the rules, and hands the
// notified transitions to the dispatcher, as Daemon::finish_round / deliver_events /
// run_dispatch do with the wall clock; delivery is assumed to succeed at the flush.

#include "promwatch/backtest.hpp"

#include <algorithm>
#include <map>

#include "alert_event.hpp"
#include "api.hpp"
#include "promwatch/silence.hpp"
#include "promwatch/timeline.hpp"

namespace promwatch {

using nlohmann::ordered_json;

std::string_view to_string(BacktestState state) {
  switch (state) {
    case BacktestState::Pending: return "pending";
    case BacktestState::Firing: return "firing";
    case BacktestState::Inactive: return "inactive";
    case BacktestState::Flapping: return "flapping";
  }
  return "inactive";
}

namespace {

// The states a transition enters, in order: the one place where the state machine's
// transitions are read as the backtest's states. A change of state is that state; the change
// that makes an alert flapping is followed by `flapping` at the same time; the end of flapping
// (no change of state) is the state the alert is notified in again, marked `flap_end`.
std::vector<BacktestTransition> entered(const AlertTransition& t) {
  std::vector<BacktestTransition> out;
  auto state_of = [](AlertState s) {
    switch (s) {
      case AlertState::Pending: return BacktestState::Pending;
      case AlertState::Firing: return BacktestState::Firing;
      case AlertState::Inactive: break;
    }
    return BacktestState::Inactive;
  };
  if (t.flap == FlapNotice::Ended) {
    out.push_back(BacktestTransition{t.at, state_of(t.to), t.to == AlertState::Inactive && t.resolved_at != TimePoint{}, true});
    return out;
  }
  if (t.from != t.to) out.push_back(BacktestTransition{t.at, state_of(t.to), t.resolved(), false});
  if (t.flap == FlapNotice::Started) out.push_back(BacktestTransition{t.at, BacktestState::Flapping, false, false});
  return out;
}

}  // namespace

struct Backtest::Impl {
  Labels external_labels;
  std::vector<AlertingRule> rules;
  std::unique_ptr<MuteState> mute;  // the dispatcher's hooks hold its address: never moved
  std::optional<Dispatcher> dispatcher;
  BacktestReport report;
  std::map<std::uint64_t, std::size_t> alert_index;  // fingerprint -> report.alerts
  std::map<std::uint64_t, TimePoint> firing_since;

  void record(const AlertTransition& t) {
    auto [it, added] = alert_index.emplace(t.fingerprint, report.alerts.size());
    if (added) report.alerts.push_back(BacktestAlert{t.labels, {}});
    for (const BacktestTransition& entry : entered(t)) report.alerts[it->second].transitions.push_back(entry);
    if (t.from == t.to) return;  // the end of flapping: no change of state
    if (t.to == AlertState::Firing) {
      firing_since.emplace(t.fingerprint, t.at);
    } else if (t.from == AlertState::Firing) {
      if (auto f = firing_since.find(t.fingerprint); f != firing_since.end()) {
        report.firing += t.at - f->second;
        firing_since.erase(f);
      }
    }
  }

  // One dispatch timer firing at `now`: what Daemon::run_dispatch does, with every delivery
  // succeeding at once.
  void dispatch(TimePoint now) {
    mute->inhibitor().gc(now);
    for (const Notification& n : dispatcher->collect_due(now)) {
      BacktestNotification out;
      out.at = now;
      out.receiver = n.receiver;
      out.group_key = n.group_key;
      out.group_labels = n.group_labels;
      out.resolved = n.status() == "resolved";
      for (const NotifiedAlert& a : n.alerts) out.alerts.push_back(BacktestNotifiedAlert{a.event->labels, a.resolved});
      report.notifications.push_back(std::move(out));
      dispatcher->record_delivered(n, now);
    }
  }

  void flush_until(TimePoint until) {
    if (!dispatcher) return;
    std::optional<TimePoint> last;
    while (auto wakeup = dispatcher->next_wakeup()) {
      // A wakeup that does not move on would repeat forever (it cannot with positive group
      // intervals, which the config requires).
      if (*wakeup > until || (last && *wakeup <= *last)) break;
      dispatch(*wakeup);
      last = *wakeup;
    }
  }
};

Backtest::Backtest(const Config& config, const RuleGroup& group, const std::vector<const AlertingRule*>& rules,
                   TimePoint from, TimePoint to)
    : impl_(std::make_unique<Impl>()) {
  impl_->report.from = from;
  impl_->report.to = to;
  impl_->external_labels = config.global.external_labels;
  for (const AlertingRule* rule : rules) {
    impl_->rules.push_back(*rule);
    impl_->rules.back().clear();
    impl_->report.exprs.push_back(rule->query());
  }
  impl_->report.group = group.name();
  impl_->report.rule = rules.empty() ? std::string() : rules.front()->name();
  impl_->report.step = group.interval();
  impl_->mute = std::make_unique<MuteState>(config);
  if (config.route) {
    impl_->dispatcher.emplace(*config.route, config.receivers, config.global.external_url);
    impl_->dispatcher->set_mute_filter(impl_->mute->mute_filter());
    impl_->dispatcher->set_time_mute_check(impl_->mute->time_mute_check());
  } else {
    impl_->report.routed = false;
  }
}

Backtest::~Backtest() = default;

void Backtest::evaluate(TimePoint slot, const std::vector<QueryOutcome>& outcomes,
                        const std::vector<QueryOutcome>* keep_firing) {
  Impl& im = *impl_;
  // The dispatch timer of a flush due at the slot fires before the round's queries return.
  im.flush_until(slot);
  ++im.report.evaluations;
  std::vector<AlertEvent> events;
  for (std::size_t i = 0; i < im.rules.size() && i < outcomes.size(); ++i) {
    // keep_firing_expr counts only while the rule has firing alerts, as the daemon runs it.
    const QueryOutcome* keep =
        keep_firing && i < keep_firing->size() && im.rules[i].wants_keep_firing_query() ? &(*keep_firing)[i] : nullptr;
    EvaluationResult result = im.rules[i].evaluate(outcomes[i], slot, false, nullptr, keep);
    if (!result.ok) {
      if (im.report.failed_evaluations++ == 0) im.report.first_error = format_rfc3339(slot) + ": " + result.error;
    }
    for (const AlertTransition& t : result.transitions) {
      im.record(t);
      if (t.notifies()) events.push_back(transition_event(t, im.external_labels, SharedText()));
    }
  }
  if (events.empty()) return;
  for (const AlertEvent& e : events) im.mute->inhibitor().observe(e.labels, e.ends_at);
  if (!im.dispatcher) return;
  im.dispatcher->receive(std::move(events), slot);
  im.flush_until(slot);
}

BacktestReport Backtest::finish() {
  Impl& im = *impl_;
  const TimePoint to = im.report.to;
  im.flush_until(to);
  for (const auto& [fp, since] : im.firing_since) {
    if (to > since) im.report.firing += to - since;
  }
  im.firing_since.clear();
  BacktestReport out = im.report;
  std::sort(out.alerts.begin(), out.alerts.end(),
            [](const BacktestAlert& a, const BacktestAlert& b) { return a.labels.items() < b.labels.items(); });
  return out;
}

namespace {

std::vector<std::size_t> rules_named(const RuleGroup& group, std::string_view name) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < group.rules().size(); ++i) {
    if (group.rules()[i].name() == name) out.push_back(i);
  }
  return out;
}

}  // namespace

std::optional<BacktestTarget> find_backtest_rule(const std::vector<RuleGroup>& groups, std::string_view r,
                                                 std::string* error) {
  std::vector<BacktestTarget> whole;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (auto rules = rules_named(groups[g], r); !rules.empty()) whole.push_back({g, std::move(rules)});
  }
  if (whole.size() == 1) return whole.front();
  for (std::size_t slash = r.find('/'); slash != std::string_view::npos; slash = r.find('/', slash + 1)) {
    std::string_view group_name = r.substr(0, slash);
    std::string_view alert = r.substr(slash + 1);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].name() != group_name) continue;
      if (auto rules = rules_named(groups[g], alert); !rules.empty()) return BacktestTarget{g, std::move(rules)};
    }
  }
  std::string reason;
  if (whole.size() > 1) {
    reason = "alert \"" + std::string(r) + "\" is in several groups (";
    for (std::size_t i = 0; i < whole.size(); ++i) reason += (i ? ", " : "") + groups[whole[i].group].name();
    reason += "): give --rule GROUP/" + std::string(r);
  } else {
    reason = "no alerting rule \"" + std::string(r) + "\"";
    bool heartbeat = false;
    for (const auto& group : groups) {
      for (const auto& hb : group.heartbeats()) heartbeat = heartbeat || hb.name() == r;
    }
    if (heartbeat) reason += " (it is a heartbeat rule; backtest replays alerting rules)";
  }
  if (error) *error = std::move(reason);
  return std::nullopt;
}

std::vector<TimePoint> backtest_slots(const RuleGroup& group, TimePoint from, TimePoint to) {
  std::vector<TimePoint> slots;
  if (from > to || group.interval() <= Duration::zero()) return slots;
  TimePoint slot = group.slot_at_or_before(from);
  if (slot < from) slot = group.next_evaluation(from);
  for (; slot <= to; slot += group.interval()) slots.push_back(slot);
  return slots;
}

std::vector<QueryChunk> backtest_chunks(const std::vector<TimePoint>& slots, Duration query_offset,
                                        std::size_t max_points) {
  std::vector<QueryChunk> chunks;
  if (max_points == 0) max_points = 1;
  for (std::size_t i = 0; i < slots.size(); i += max_points) {
    std::size_t last = std::min(i + max_points, slots.size()) - 1;
    chunks.push_back(QueryChunk{slots[i] - query_offset, slots[last] - query_offset});
  }
  return chunks;
}

// ---- output ----

namespace {

std::string seconds_text(Duration d) { return seconds_json(d).dump(); }

std::string state_text(const BacktestTransition& t) {
  std::string text(t.resolved ? "inactive (resolved)" : to_string(t.state));
  if (t.flap_end) text += " (stable again after flapping)";
  return text;
}

}  // namespace

std::string render_backtest_text(const BacktestReport& r) {
  std::string out = "backtest of " + r.rule + " (group " + r.group + ") from " + format_rfc3339(r.from) + " to " +
                    format_rfc3339(r.to) + ", step " + format_duration(r.step) + ": " + std::to_string(r.evaluations) +
                    (r.evaluations == 1 ? " evaluation\n" : " evaluations\n");
  for (const auto& expr : r.exprs) out += "  expr: " + expr + "\n";
  if (r.failed_evaluations > 0) {
    out += "  " + std::to_string(r.failed_evaluations) + " evaluations failed (alerts left as they were); first at " +
           r.first_error + "\n";
  }
  out += "\nalerts (" + std::to_string(r.alerts.size()) + "):\n";
  if (r.alerts.empty()) out += "  none was pending or firing\n";
  for (const auto& a : r.alerts) {
    out += "  " + a.labels.to_string() + "\n";
    for (const auto& t : a.transitions) {
      out += "    " + format_rfc3339(t.at) + "  ";
      out += state_text(t);
      out += "\n";
    }
  }
  out += "\nnotifications (" + std::to_string(r.notifications.size()) + "):\n";
  if (!r.routed) out += "  none: the configuration has no [route]\n";
  else if (r.notifications.empty()) out += "  none\n";
  for (const auto& n : r.notifications) {
    out += "  " + format_rfc3339(n.at) + "  " + n.receiver + "  " + (n.resolved ? "resolved" : "firing") + "  group " +
           n.group_labels.to_string() + "\n";
    for (const auto& a : n.alerts) {
      out += std::string("    ") + (a.resolved ? "resolved " : "firing   ") + " " + a.labels.to_string() + "\n";
    }
  }
  out += "\nsummary: " + std::to_string(r.notifications.size()) +
         (r.notifications.size() == 1 ? " notification, " : " notifications, ") + seconds_text(r.firing) +
         " s firing";
  if (r.firing > Duration::zero()) out += " (" + format_duration(r.firing) + ")";
  out += "\n";
  return out;
}

std::string render_backtest_json(const BacktestReport& r) {
  ordered_json j;
  j["rule"] = r.rule;
  j["group"] = r.group;
  j["from"] = format_rfc3339(r.from);
  j["to"] = format_rfc3339(r.to);
  j["step"] = seconds_json(r.step);
  ordered_json alerts = ordered_json::array();
  for (const auto& a : r.alerts) {
    ordered_json transitions = ordered_json::array();
    for (const auto& t : a.transitions) {
      ordered_json tj;
      tj["at"] = format_rfc3339(t.at);
      tj["state"] = to_string(t.state);
      transitions.push_back(std::move(tj));
    }
    ordered_json aj;
    aj["labels"] = labels_json(a.labels);
    aj["transitions"] = std::move(transitions);
    alerts.push_back(std::move(aj));
  }
  j["alerts"] = std::move(alerts);
  ordered_json notifications = ordered_json::array();
  for (const auto& n : r.notifications) {
    ordered_json nj;
    nj["at"] = format_rfc3339(n.at);
    nj["receiver"] = n.receiver;
    nj["status"] = n.resolved ? "resolved" : "firing";
    ordered_json listed = ordered_json::array();
    for (const auto& a : n.alerts) {
      ordered_json one;
      one["labels"] = labels_json(a.labels);
      listed.push_back(std::move(one));
    }
    nj["alerts"] = std::move(listed);
    notifications.push_back(std::move(nj));
  }
  j["notifications"] = std::move(notifications);
  j["summary"]["notifications"] = r.notifications.size();
  j["summary"]["firing_seconds"] = seconds_json(r.firing);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render_backtest_html(const BacktestReport& r, const std::vector<BacktestSeries>& series) {
  Timeline tl;
  tl.from = r.from;
  tl.to = r.to;
  tl.step = r.step;
  for (const auto& s : series) tl.lines.push_back(TimelineLine{s.labels.to_string(), s.points});
  for (const auto& a : r.alerts) {
    TimelineLane lane{a.labels.to_string(), {}};
    for (std::size_t i = 0; i < a.transitions.size(); ++i) {
      const BacktestTransition& t = a.transitions[i];
      TimePoint end = i + 1 < a.transitions.size() ? a.transitions[i + 1].at : r.to;
      if (t.state == BacktestState::Flapping) {
        // One band for the whole flapping period: the changes within it are not notified.
        std::size_t j = i + 1;
        while (j < a.transitions.size() && !a.transitions[j].flap_end) ++j;
        lane.spans.push_back({t.at, j < a.transitions.size() ? a.transitions[j].at : r.to, TimelineState::Flapping});
        i = j - 1;
        continue;
      }
      switch (t.state) {
        case BacktestState::Pending: lane.spans.push_back({t.at, end, TimelineState::Pending}); break;
        case BacktestState::Firing: lane.spans.push_back({t.at, end, TimelineState::Firing}); break;
        case BacktestState::Flapping: lane.spans.push_back({t.at, end, TimelineState::Flapping}); break;
        case BacktestState::Inactive: break;
      }
    }
    tl.lanes.push_back(std::move(lane));
  }
  for (const auto& n : r.notifications) {
    std::string title = format_rfc3339(n.at) + " " + n.receiver + " " + (n.resolved ? "resolved" : "firing") + ", " +
                        std::to_string(n.alerts.size()) + (n.alerts.size() == 1 ? " alert" : " alerts");
    tl.marks.push_back(TimelineMark{n.at, std::move(title), n.resolved});
  }

  std::string title = "backtest: " + r.rule;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
                    html_escape(title) + "</title><style>";
  out += R"(body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:.5rem 1rem 2rem;
max-width:72rem;color:#1d2329;background:#fff;line-height:1.4;font-size:15px}
h1{font-size:1.25rem;margin:.6rem 0 .2rem;word-break:break-word}h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
.meta{color:#5f6b76;font-size:.85rem;margin:.2rem 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.82rem;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #e2e6ea;padding:.3rem .4rem;text-align:left;vertical-align:top}
td.l{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
@media (max-width:40rem){thead{display:none}table,tbody,tr,td{display:block;width:auto}
tr{border-bottom:1px solid #e2e6ea;padding:.3rem 0}td{border:0;padding:.1rem .2rem}}
.pending{color:#b26a00}.firing{color:#c62828}.flapping{color:#7b1fa2}.resolved{color:#2e7d32}.inactive{color:#5f6b76}
)";
  out += timeline_css();
  out += "</style></head><body><h1>" + html_escape(title) + "</h1>";
  out += "<p class=\"meta\">group " + html_escape(r.group) + " · " + html_escape(format_rfc3339(r.from)) + " – " +
         html_escape(format_rfc3339(r.to)) + " · step " + html_escape(format_duration(r.step)) + " · " +
         std::to_string(r.evaluations) + " evaluations</p>";
  for (const auto& expr : r.exprs) out += "<p class=\"meta\"><code>" + html_escape(expr) + "</code></p>";
  out += "<p class=\"meta\"><b>" + std::to_string(r.notifications.size()) + "</b> notifications · <b>" +
         html_escape(seconds_text(r.firing)) + " s</b> firing";
  if (r.failed_evaluations > 0) {
    out += " · " + std::to_string(r.failed_evaluations) + " evaluations failed (first at " + html_escape(r.first_error) +
           ")";
  }
  if (!r.routed) out += " · no [route] configured";
  out += "</p>";
  out += render_timeline(tl);

  out += "<h2>States</h2><table><thead><tr><th>time</th><th>state</th><th>alert</th></tr></thead><tbody>";
  for (const auto& a : r.alerts) {
    for (const auto& t : a.transitions) {
      std::string cls(t.resolved ? "resolved" : to_string(t.state));
      out += "<tr><td>" + html_escape(format_rfc3339(t.at)) + "</td><td class=\"" + cls + "\">" +
             html_escape(state_text(t)) + "</td><td class=\"l\">" + html_escape(a.labels.to_string()) + "</td></tr>";
    }
  }
  out += "</tbody></table>";
  out += "<h2>Notifications</h2><table><thead><tr><th>time</th><th>receiver</th><th>status</th><th>alerts</th></tr>"
         "</thead><tbody>";
  for (const auto& n : r.notifications) {
    std::string status = n.resolved ? "resolved" : "firing";
    out += "<tr><td>" + html_escape(format_rfc3339(n.at)) + "</td><td>" + html_escape(n.receiver) + "</td><td class=\"" +
           status + "\">" + status + "</td><td class=\"l\">";
    for (const auto& a : n.alerts) {
      out += "<div>" + std::string(a.resolved ? "resolved " : "firing ") + html_escape(a.labels.to_string()) + "</div>";
    }
    out += "</td></tr>";
  }
  out += "</tbody></table></body></html>\n";
  return out;
}

}  // namespace promwatch
