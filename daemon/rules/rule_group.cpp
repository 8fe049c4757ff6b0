// Rule groups: building, reload identity (Prometheus's Group.CopyState matching) and the
// schedule arithmetic (Prometheus's Group.EvalTimestamp and missed-iteration counting).

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "promwatch/rules.hpp"
#include "rules_internal.hpp"

namespace promwatch {

namespace {

// Separators that cannot occur in TOML strings the user writes in practice; the key is opaque.
constexpr char kFieldSep = '\xff';
constexpr char kPairSep = '\xfe';

std::string key_of(std::string_view group_name, std::string_view name,
                   std::vector<std::pair<std::string_view, std::string_view>> labels) {
  std::sort(labels.begin(), labels.end());
  std::string key;
  key.append(group_name).push_back(kFieldSep);
  key.append(name).push_back(kFieldSep);
  for (const auto& [k, v] : labels) {
    key.append(k).push_back(kPairSep);
    key.append(v).push_back(kFieldSep);
  }
  return key;
}

std::string key_without_ordinal(std::string_view group_name, const AlertRuleConfig& rule) {
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  labels.reserve(rule.labels.size());
  for (const auto& [k, v] : rule.labels) labels.emplace_back(k, v.text);
  return key_of(group_name, rule.alert, std::move(labels));
}

// Recording rules are matched among themselves: an alerting rule of the same name never takes
// a recording rule's state.
std::vector<std::string> recording_identity_keys(const RuleGroupConfig& group) {
  std::vector<std::string> keys;
  std::map<std::string, std::size_t> seen;
  for (const RecordingRuleConfig& rule : group.recording_rules) {
    std::vector<std::pair<std::string_view, std::string_view>> labels;
    for (const Label& l : rule.labels) labels.emplace_back(l.name, l.value);
    std::string key = "record" + std::string(1, kFieldSep) + key_of(group.name, rule.record, std::move(labels));
    const std::size_t ordinal = seen[key]++;
    key.push_back('#');
    key += std::to_string(ordinal);
    keys.push_back(std::move(key));
  }
  return keys;
}

bool before(const SourcePos& a, const SourcePos& b) { return std::pair(a.line, a.column) < std::pair(b.line, b.column); }

// The alerting and recording rules of [[groups.rules]] merged back into the order they were
// written in (each list is in file order already).
std::vector<RuleRef> file_order(const RuleGroupConfig& config) {
  std::vector<RuleRef> order;
  order.reserve(config.rules.size() + config.recording_rules.size());
  std::size_t a = 0;
  std::size_t r = 0;
  while (a < config.rules.size() || r < config.recording_rules.size()) {
    const bool take_recording = a == config.rules.size() ||
                                (r < config.recording_rules.size() && before(config.recording_rules[r].pos, config.rules[a].pos));
    if (take_recording) {
      order.push_back(RuleRef{RuleKind::Recording, r++});
    } else {
      order.push_back(RuleRef{RuleKind::Alerting, a++});
    }
  }
  return order;
}


template <typename Rule>
std::vector<Alert> sorted_alerts(const Rule& rule) {
  std::vector<Alert> alerts;
  rule.for_each_alert([&](const Alert& a) {
    if (a.state != AlertState::Inactive) alerts.push_back(a);
  });
  std::sort(alerts.begin(), alerts.end(), [](const Alert& x, const Alert& y) { return x.labels.items() < y.labels.items(); });
  return alerts;
}

// Floor modulo for possibly negative millisecond counts.
std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  std::int64_t m = a % b;
  return m < 0 ? m + b : m;
}

}  // namespace

std::string rule_identity_key(std::string_view group_name, const AlertRuleConfig& rule,
                              std::size_t ordinal) {
  std::string key = key_without_ordinal(group_name, rule);
  key.push_back('#');
  key += std::to_string(ordinal);
  return key;
}

std::vector<std::string> rule_identity_keys(const RuleGroupConfig& group) {
  std::vector<std::string> keys;
  keys.reserve(group.rules.size());
  std::map<std::string, std::size_t> seen;
  for (const AlertRuleConfig& rule : group.rules) {
    std::string base = key_without_ordinal(group.name, rule);
    const std::size_t ordinal = seen[base]++;
    base.push_back('#');
    base += std::to_string(ordinal);
    keys.push_back(std::move(base));
  }
  return keys;
}

std::optional<RuleGroup> RuleGroup::build(const RuleGroupConfig& config, const RuleContext& context,
                                          std::vector<ConfigError>* errors) {
  RuleGroup g;
  g.name_ = config.name;
  g.file_ = config.file;
  g.interval_ = config.interval;
  g.query_offset_ = config.query_offset;
  g.limit_ = config.limit;
  g.labels_ = config.labels;
  if (g.interval_ > Duration::zero()) {
    const Labels id{{"file", config.file}, {"name", config.name}};
    g.offset_ = Duration(static_cast<Duration::rep>(
        id.fingerprint() % static_cast<std::uint64_t>(g.interval_.count())));
  }
  bool ok = true;
  g.rules_.reserve(config.rules.size());
  for (const AlertRuleConfig& rc : config.rules) {
    std::optional<AlertingRule> rule = AlertingRule::build(rc, config, context, errors);
    if (!rule) {
      ok = false;
      continue;
    }
    g.rules_.push_back(std::move(*rule));
  }
  g.heartbeats_.reserve(config.heartbeats.size());
  for (const HeartbeatRuleConfig& hc : config.heartbeats) {
    std::optional<HeartbeatRule> hb = HeartbeatRule::build(hc, config, context, errors);
    if (!hb) {
      ok = false;
      continue;
    }
    g.heartbeats_.push_back(std::move(*hb));
  }
  if (!ok) return std::nullopt;
  g.rule_keys_ = rule_identity_keys(config);
  g.recording_rules_.reserve(config.recording_rules.size());
  for (const RecordingRuleConfig& rc : config.recording_rules) {
    g.recording_rules_.push_back(RecordingRule::build(rc, config, context));
  }
  g.recording_keys_ = recording_identity_keys(config);
  g.order_ = file_order(config);
  g.external_labels_ = context.external_labels;
  return g;
}

TimePoint RuleGroup::slot_at_or_before(TimePoint t) const {
  if (interval_ <= Duration::zero()) return t;
  const std::int64_t iv = interval_.count();
  const std::int64_t start = t.time_since_epoch().count() - offset_.count();
  const std::int64_t base = start - floor_mod(start, iv);
  return TimePoint(Duration(base + offset_.count()));
}

TimePoint RuleGroup::next_evaluation(TimePoint after) const {
  if (interval_ <= Duration::zero()) return after;
  return slot_at_or_before(after) + interval_;
}

SlotAdvance RuleGroup::advance(TimePoint previous, TimePoint now) const {
  if (interval_ <= Duration::zero()) return {now, 0};
  const std::int64_t elapsed = (now - previous).count();
  const std::int64_t steps = elapsed > 0 ? elapsed / interval_.count() : 0;
  if (steps < 1) return {previous + interval_, 0};
  return {previous + steps * interval_, steps - 1};
}

std::vector<std::size_t> RuleGroup::take_state_from(RuleGroup& old,
                                                    std::vector<std::size_t>* untaken_heartbeats) {
  std::map<std::string, std::size_t> old_index;
  for (std::size_t j = 0; j < old.rule_keys_.size() && j < old.rules_.size(); ++j) {
    old_index.emplace(old.rule_keys_[j], j);
  }
  std::vector<bool> taken(old.rules_.size(), false);
  for (std::size_t i = 0; i < rules_.size() && i < rule_keys_.size(); ++i) {
    auto it = old_index.find(rule_keys_[i]);
    if (it == old_index.end() || taken[it->second]) continue;
    rules_[i].take_alerts_from(old.rules_[it->second]);
    taken[it->second] = true;
  }
  std::map<std::string, std::size_t> old_recording;
  for (std::size_t j = 0; j < old.recording_keys_.size() && j < old.recording_rules_.size(); ++j) {
    old_recording.emplace(old.recording_keys_[j], j);
  }
  for (std::size_t i = 0; i < recording_rules_.size() && i < recording_keys_.size(); ++i) {
    auto it = old_recording.find(recording_keys_[i]);
    if (it == old_recording.end()) continue;
    recording_rules_[i].take_state_from(old.recording_rules_[it->second]);
    old_recording.erase(it);
  }
  std::vector<bool> hb_taken(old.heartbeats_.size(), false);
  for (HeartbeatRule& hb : heartbeats_) {
    for (std::size_t j = 0; j < old.heartbeats_.size(); ++j) {
      if (hb_taken[j] || old.heartbeats_[j].name() != hb.name()) continue;
      hb.import_state(old.heartbeats_[j].export_state());
      hb.copy_status_from(old.heartbeats_[j]);
      hb.written_series() = std::exchange(old.heartbeats_[j].written_series(), {});
      hb_taken[j] = true;
      break;
    }
  }
  if (untaken_heartbeats) {
    for (std::size_t j = 0; j < hb_taken.size(); ++j) {
      if (!hb_taken[j]) untaken_heartbeats->push_back(j);
    }
  }
  if (old.name_ == name_) {
    last_evaluation_ = old.last_evaluation_;
    evaluation_time_ = old.evaluation_time_;
  }
  std::vector<std::size_t> untaken;
  for (std::size_t j = 0; j < taken.size(); ++j) {
    if (!taken[j]) untaken.push_back(j);
  }
  return untaken;
}

RoundOutput RuleGroup::take_round_output(TimePoint slot, bool alert_series) {
  RoundOutput out;
  // Prometheus stamps every sample of a round, stale markers too, with the query time.
  const std::int64_t ts = rules_detail::unix_ms(query_time(slot));
  auto append = [&out](std::vector<WriteSample> samples) {
    if (out.samples.empty()) {
      out.samples = std::move(samples);
    } else {
      out.samples.insert(out.samples.end(), std::make_move_iterator(samples.begin()),
                         std::make_move_iterator(samples.end()));
    }
  };
  auto alerts_of = [&](auto& rule) {
    std::vector<WriteSample> samples = promwatch::alert_series(sorted_alerts(rule), ts, external_labels_);
    rule.written_series().update(samples, ts);
    append(std::move(samples));
  };
  for (const RuleRef& ref : order_) {
    if (ref.kind == RuleKind::Recording) {
      RecordingRule& rule = recording_rules_[ref.index];
      if (rule.last_evaluation() == slot) append(rule.take_samples());
      continue;
    }
    AlertingRule& rule = rules_[ref.index];
    if (alert_series && rule.last_evaluation() == slot && rule.alerts_updated()) alerts_of(rule);
  }
  if (alert_series) {
    for (HeartbeatRule& hb : heartbeats_) {
      if (hb.last_evaluation() == slot && hb.health() == RuleHealth::Ok) alerts_of(hb);
    }
  }
  return out;
}

std::vector<WriteSample> RuleGroup::release_series(TimePoint at) {
  std::vector<WriteSample> out;
  const std::int64_t ts = rules_detail::unix_ms(at);
  auto release = [&](WrittenSeries& written) {
    std::vector<WriteSample> samples = written.release(ts);
    out.insert(out.end(), std::make_move_iterator(samples.begin()), std::make_move_iterator(samples.end()));
  };
  for (const RuleRef& ref : order_) {
    release(ref.kind == RuleKind::Recording ? recording_rules_[ref.index].written_series()
                                            : rules_[ref.index].written_series());
  }
  for (HeartbeatRule& hb : heartbeats_) release(hb.written_series());
  return out;
}

}  // namespace promwatch
