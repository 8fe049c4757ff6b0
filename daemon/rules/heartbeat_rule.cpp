// Heartbeat rules (SPEC §3 [[groups.heartbeats]]): instance availability from a query whose
// series are the members. Absence is counted over successful evaluations only, at most one
// group interval each, so failed queries and promwatch's own downtime do not count as absence.

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "promwatch/rules.hpp"
#include "rules_internal.hpp"

namespace promwatch {

using rules_detail::is_set;
using rules_detail::value_bits;

std::optional<HeartbeatRule> HeartbeatRule::build(const HeartbeatRuleConfig& rule,
                                                  const RuleGroupConfig& group,
                                                  const RuleContext& context,
                                                  std::vector<ConfigError>* errors) {
  HeartbeatRule r;
  r.config_ = rule;
  r.group_labels_ = group.labels;
  r.interval_ = group.interval;
  r.context_ = context;
  const std::string tmpl_name = "__heartbeat_" + rule.name;
  const std::string owner = "heartbeat \"" + rule.name + "\"";
  bool ok = true;
  for (const auto& [key, text] : rule.annotations) {
    CompiledText c;
    c.name = key;
    if (!rules_detail::compile_text(tmpl_name, owner, "annotation", key, text, c.literal, c.tmpl,
                                    errors)) {
      ok = false;
      continue;
    }
    if (c.tmpl && c.tmpl->uses_query()) {
      // Heartbeat alerts are built from members, not from samples: not wired to query rounds.
      if (errors) {
        errors->push_back(ConfigError{text.pos, owner + ": annotation \"" + key +
                                                    "\": function \"query\" is not available in heartbeat annotations"});
      }
      ok = false;
      continue;
    }
    r.annotations_.push_back(std::move(c));
  }
  if (!ok) return std::nullopt;
  for (const Labels& expected : rule.expected) r.member_entry(expected, true);
  return r;
}

HeartbeatRule::MemberEntry& HeartbeatRule::member_entry(const Labels& by_labels, bool expected) {
  auto [it, inserted] = members_.try_emplace(by_labels.fingerprint());
  MemberEntry& e = it->second;
  if (inserted) {
    e.member.labels = by_labels;
    e.alert_labels = by_labels;
    e.alert_labels.merge(group_labels_);
    e.alert_labels.merge(config_.labels);
    e.alert_labels.set("alertname", config_.name);
    e.alert_fingerprint = e.alert_labels.fingerprint();
  }
  if (expected) e.member.expected = true;
  return e;
}

Labels HeartbeatRule::expand_annotations(const Labels& labels, double value) {
  std::vector<Label> items;
  items.reserve(annotations_.size());
  for (const CompiledText& t : annotations_) {
    if (!t.tmpl) {
      items.push_back(Label{t.name, t.literal});
      continue;
    }
    AlertTemplateData data{labels, value, context_.external_labels, context_.external_url};
    items.push_back(Label{t.name, t.tmpl->render_alert(data)});
  }
  return Labels(std::move(items));
}

EvaluationResult HeartbeatRule::evaluate(const QueryOutcome& outcome, TimePoint ts) {
  const auto started = std::chrono::steady_clock::now();
  last_evaluation_ = ts;
  EvaluationResult result;
  auto finish = [&]() {
    evaluation_time_ = outcome.elapsed + std::chrono::duration_cast<Duration>(
                                             std::chrono::steady_clock::now() - started);
    return std::move(result);
  };
  if (!outcome.ok) {
    health_ = RuleHealth::Err;
    last_error_ = outcome.error;
    result.error = outcome.error;
    return finish();
  }
  ++eval_counter_;

  for (auto& [fp, e] : members_) e.present = false;
  for (const Sample& s : outcome.result.samples) {
    std::vector<Label> by;
    by.reserve(config_.by.size());
    for (const std::string& name : config_.by) {
      std::string_view v = s.labels.get(name);
      if (!v.empty()) by.push_back(Label{name, std::string(v)});
    }
    MemberEntry& e = member_entry(Labels(std::move(by)), false);
    if (s.value >= 1) e.present = true;  // NaN is not up
  }

  // Absence counted for this evaluation: the time since the previous successful one, capped at
  // one interval (failed rounds and our own downtime do not count).
  Duration step{0};
  if (is_set(last_success_) && ts > last_success_) {
    step = ts - last_success_;
    if (interval_ > Duration::zero()) step = std::min(step, interval_);
  }

  for (auto it = members_.begin(); it != members_.end();) {
    MemberEntry& e = it->second;
    HeartbeatMember& m = e.member;
    if (e.present) {
      m.up = true;
      m.last_seen_up = ts;
      m.missing_since = TimePoint{};
      m.absent = Duration{0};
    } else if (m.up || !is_set(m.missing_since)) {
      m.up = false;
      m.missing_since = ts;
      m.absent = Duration{0};
    } else {
      m.absent += step;
    }

    auto ait = alerts_.find(e.alert_fingerprint);
    if (ait != alerts_.end()) ait->second.seen = eval_counter_;
    const bool active = ait != alerts_.end() && ait->second.alert.state != AlertState::Inactive;
    const bool forget = !m.up && !m.expected && m.absent >= config_.forget_after;

    if (m.up || forget) {
      if (active) {
        Alert& a = ait->second.alert;
        if (a.state == AlertState::Firing) {
          a.state = AlertState::Inactive;
          a.resolved_at = ts;
          result.transitions.push_back(rules_detail::make_transition(a, AlertState::Firing, ts));
        } else {
          result.transitions.push_back(rules_detail::make_drop_transition(a, ts));
          alerts_.erase(ait);
        }
      }
      if (forget) {
        it = members_.erase(it);
        continue;
      }
      ++it;
      continue;
    }

    const double value = is_set(m.last_seen_up) ? to_seconds(ts - m.last_seen_up) : to_seconds(m.absent);
    const bool due = m.absent >= config_.for_duration;
    if (!active) {
      AlertEntry ae;
      ae.alert.fingerprint = e.alert_fingerprint;
      ae.alert.labels = e.alert_labels;
      ae.alert.state = due ? AlertState::Firing : AlertState::Pending;
      ae.alert.value = value;
      ae.alert.active_at = ts;
      if (due) ae.alert.fired_at = ts;
      ae.alert.annotations = expand_annotations(ae.alert.labels, value);
      ae.value_bits = value_bits(value);
      ae.annotations_valid = true;
      ae.seen = eval_counter_;
      result.transitions.push_back(rules_detail::make_transition(ae.alert, AlertState::Inactive, ts));
      alerts_.insert_or_assign(e.alert_fingerprint, std::move(ae));
    } else {
      AlertEntry& ae = ait->second;
      Alert& a = ae.alert;
      a.value = value;
      if (!ae.annotations_valid || ae.value_bits != value_bits(value)) {
        a.annotations = expand_annotations(a.labels, value);
        ae.value_bits = value_bits(value);
        ae.annotations_valid = true;
      }
      if (a.state == AlertState::Pending && due) {
        a.state = AlertState::Firing;
        a.fired_at = ts;
        result.transitions.push_back(rules_detail::make_transition(a, AlertState::Pending, ts));
      }
    }
    ++it;
  }

  // Alerts no member claims (labels changed by a reload) end; resolved ones expire.
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& a = it->second.alert;
    if (it->second.seen != eval_counter_ && a.state != AlertState::Inactive) {
      if (a.state == AlertState::Pending) {
        result.transitions.push_back(rules_detail::make_drop_transition(a, ts));
        it = alerts_.erase(it);
        continue;
      }
      a.state = AlertState::Inactive;
      a.resolved_at = ts;
      result.transitions.push_back(rules_detail::make_transition(a, AlertState::Firing, ts));
    }
    if (a.state == AlertState::Inactive && is_set(a.resolved_at) &&
        ts - a.resolved_at > resolved_retention) {
      it = alerts_.erase(it);
      continue;
    }
    ++it;
  }

  last_success_ = ts;
  health_ = RuleHealth::Ok;
  last_error_.clear();
  result.ok = true;
  return finish();
}

std::vector<OutgoingAlert> HeartbeatRule::alerts_to_send(TimePoint ts, Duration resend_delay,
                                                         Duration group_interval) {
  std::vector<OutgoingAlert> out;
  for (auto& [fp, e] : alerts_) {
    if (auto o = rules_detail::send_if_needed(e.alert, ts, resend_delay, group_interval)) {
      out.push_back(std::move(*o));
    }
  }
  return out;
}

std::vector<AlertTransition> HeartbeatRule::resolve_all(TimePoint ts) {
  std::vector<AlertTransition> out;
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& a = it->second.alert;
    if (a.state == AlertState::Pending) {
      out.push_back(rules_detail::make_drop_transition(a, ts));
      it = alerts_.erase(it);
      continue;
    }
    if (a.state == AlertState::Firing) {
      a.state = AlertState::Inactive;
      a.resolved_at = ts;
      out.push_back(rules_detail::make_transition(a, AlertState::Firing, ts));
    }
    ++it;
  }
  return out;
}

HeartbeatState HeartbeatRule::export_state() const {
  HeartbeatState s;
  s.members.reserve(members_.size());
  for (const auto& [fp, e] : members_) s.members.push_back(e.member);
  s.alerts.reserve(alerts_.size());
  for (const auto& [fp, e] : alerts_) s.alerts.push_back(e.alert);
  s.last_success = last_success_;
  return s;
}

void HeartbeatRule::import_state(HeartbeatState state) {
  members_.clear();
  alerts_.clear();
  for (HeartbeatMember& m : state.members) {
    MemberEntry& e = member_entry(m.labels, false);
    e.member = std::move(m);
    e.member.expected = false;
  }
  for (const Labels& expected : config_.expected) member_entry(expected, true);
  for (Alert& a : state.alerts) {
    AlertEntry e;
    a.fingerprint = a.labels.fingerprint();
    e.alert = std::move(a);
    e.annotations_valid = false;
    const std::uint64_t fp = e.alert.fingerprint;
    alerts_.insert_or_assign(fp, std::move(e));
  }
  last_success_ = state.last_success;
}

void HeartbeatRule::for_each_alert(const std::function<void(const Alert&)>& fn) const {
  for (const auto& [fp, e] : alerts_) fn(e.alert);
}

void HeartbeatRule::for_each_member(const std::function<void(const HeartbeatMember&)>& fn) const {
  for (const auto& [fp, e] : members_) fn(e.member);
}

std::size_t HeartbeatRule::count(AlertState state) const {
  std::size_t n = 0;
  for (const auto& [fp, e] : alerts_) n += e.alert.state == state ? 1 : 0;
  return n;
}

void HeartbeatRule::copy_status_from(const HeartbeatRule& other) {
  health_ = other.health_;
  last_error_ = other.last_error_;
  last_evaluation_ = other.last_evaluation_;
  evaluation_time_ = other.evaluation_time_;
}

}  // namespace promwatch
