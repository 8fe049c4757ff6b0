// Rule groups: building, reload identity (Prometheus's Group.CopyState matching) and the
// schedule arithmetic (Prometheus's Group.EvalTimestamp and missed-iteration counting).

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "promwatch/rules.hpp"

namespace promwatch {

namespace {

// Separators that cannot occur in TOML strings the user writes in practice; the key is opaque.
constexpr char kFieldSep = '\xff';
constexpr char kPairSep = '\xfe';

std::string key_without_ordinal(std::string_view group_name, const AlertRuleConfig& rule) {
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  labels.reserve(rule.labels.size());
  for (const auto& [k, v] : rule.labels) labels.emplace_back(k, v.text);
  std::sort(labels.begin(), labels.end());
  std::string key;
  key.append(group_name).push_back(kFieldSep);
  key.append(rule.alert).push_back(kFieldSep);
  for (const auto& [k, v] : labels) {
    key.append(k).push_back(kPairSep);
    key.append(v).push_back(kFieldSep);
  }
  return key;
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
  std::vector<bool> hb_taken(old.heartbeats_.size(), false);
  for (HeartbeatRule& hb : heartbeats_) {
    for (std::size_t j = 0; j < old.heartbeats_.size(); ++j) {
      if (hb_taken[j] || old.heartbeats_[j].name() != hb.name()) continue;
      hb.import_state(old.heartbeats_[j].export_state());
      hb.copy_status_from(old.heartbeats_[j]);
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

}  // namespace promwatch
