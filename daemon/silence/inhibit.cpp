// Alertmanager's inhibitor (inhibit/inhibit.go), indexed by the rules' `equal` label values.

#include <unordered_map>

#include "promwatch/silence.hpp"

namespace promwatch {

struct Inhibitor::Rule {
  std::vector<Matcher> source;
  std::vector<Matcher> target;
  std::vector<std::string> equal;
  // Source alerts by their `equal` values. "one_sided" sources do not match the target
  // matchers; "two_sided" ones do, and are skipped for targets that also match the source side.
  struct Bucket {
    std::map<std::uint64_t, TimePoint> one_sided;
    std::map<std::uint64_t, TimePoint> two_sided;
  };
  std::unordered_map<std::string, Bucket> buckets;

  // Length-prefixed values, so no value can forge another key. Missing = empty, as in AM.
  std::string key(const Labels& labels) const {
    std::string k;
    for (const auto& name : equal) {
      const std::string_view v = labels.get(name);
      k += std::to_string(v.size());
      k += ':';
      k += v;
    }
    return k;
  }
};

namespace {

bool firing(TimePoint ends_at, TimePoint now) { return ends_at == TimePoint{} || ends_at > now; }

std::optional<std::uint64_t> first_firing(const std::map<std::uint64_t, TimePoint>& m, TimePoint now) {
  for (const auto& [fp, ends] : m) {
    if (firing(ends, now)) return fp;
  }
  return std::nullopt;
}

}  // namespace

Inhibitor::Inhibitor(const std::vector<InhibitRuleConfig>& rules) { set_rules(rules); }
Inhibitor::Inhibitor() = default;
Inhibitor::Inhibitor(Inhibitor&&) noexcept = default;
Inhibitor& Inhibitor::operator=(Inhibitor&&) noexcept = default;
Inhibitor::~Inhibitor() = default;

void Inhibitor::set_rules(const std::vector<InhibitRuleConfig>& rules) {
  rules_.clear();
  for (const auto& rc : rules) {
    auto r = std::make_unique<Rule>();
    r->source = rc.source_matchers;
    r->target = rc.target_matchers;
    r->equal = rc.equal;
    rules_.push_back(std::move(r));
  }
  // Only alerts some rule can use as a source are kept: the others go.
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    if (is_source(it->second.labels)) {
      index(it->first, it->second);
      ++it;
    } else {
      it = alerts_.erase(it);
    }
  }
}

bool Inhibitor::is_source(const Labels& labels) const {
  for (const auto& r : rules_) {
    if (matches_all(r->source, labels)) return true;
  }
  return false;
}

void Inhibitor::index(std::uint64_t fp, const Held& alert) {
  for (auto& r : rules_) {
    if (!matches_all(r->source, alert.labels)) continue;
    auto& bucket = r->buckets[r->key(alert.labels)];
    (matches_all(r->target, alert.labels) ? bucket.two_sided : bucket.one_sided)[fp] = alert.ends_at;
  }
}

void Inhibitor::unindex(std::uint64_t fp, const Held& alert) {
  for (auto& r : rules_) {
    if (!matches_all(r->source, alert.labels)) continue;
    auto it = r->buckets.find(r->key(alert.labels));
    if (it == r->buckets.end()) continue;
    it->second.one_sided.erase(fp);
    it->second.two_sided.erase(fp);
    if (it->second.one_sided.empty() && it->second.two_sided.empty()) r->buckets.erase(it);
  }
}

void Inhibitor::observe(const Labels& labels, TimePoint ends_at) {
  // Not a source: not kept, and not known either (set_rules forgets the alerts no rule's
  // sources match), so there is nothing to update. Most alerts stop here, before hashing.
  if (!is_source(labels)) return;
  const std::uint64_t fp = labels.fingerprint();
  auto it = alerts_.find(fp);
  if (it != alerts_.end()) {
    if (it->second.labels == labels) {
      // Same alert: only its end changes; the index positions stay.
      it->second.ends_at = ends_at;
      for (auto& r : rules_) {
        if (!matches_all(r->source, labels)) continue;
        auto b = r->buckets.find(r->key(labels));
        if (b == r->buckets.end()) continue;
        if (auto o = b->second.one_sided.find(fp); o != b->second.one_sided.end()) o->second = ends_at;
        if (auto t = b->second.two_sided.find(fp); t != b->second.two_sided.end()) t->second = ends_at;
      }
      return;
    }
    unindex(fp, it->second);
    alerts_.erase(it);
  }
  Held h{labels, ends_at};
  index(fp, h);
  alerts_.emplace(fp, std::move(h));
}

void Inhibitor::forget(const Labels& labels) {
  const std::uint64_t fp = labels.fingerprint();
  auto it = alerts_.find(fp);
  if (it == alerts_.end()) return;
  unindex(fp, it->second);
  alerts_.erase(it);
}

void Inhibitor::clear() {
  alerts_.clear();
  for (auto& r : rules_) r->buckets.clear();
}

void Inhibitor::shift_clock(Duration step) {
  for (auto& [fp, held] : alerts_) {
    if (held.ends_at != TimePoint{}) held.ends_at += step;  // the epoch: firing, no end
  }
}

void Inhibitor::gc(TimePoint now) {
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    if (!firing(it->second.ends_at, now)) {
      unindex(it->first, it->second);
      it = alerts_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t Inhibitor::size() const { return alerts_.size(); }
std::size_t Inhibitor::rule_count() const { return rules_.size(); }

std::optional<std::uint64_t> Inhibitor::inhibited_by(const Labels& target, TimePoint now) const {
  for (const auto& r : rules_) {
    if (!matches_all(r->target, target)) continue;
    auto b = r->buckets.find(r->key(target));
    if (b == r->buckets.end()) continue;
    if (auto fp = first_firing(b->second.one_sided, now)) return fp;
    // When the target also matches the source side, sources matching both sides do not count:
    // no alert inhibits itself, nor one that could equally inhibit it.
    if (matches_all(r->source, target)) continue;
    if (auto fp = first_firing(b->second.two_sided, now)) return fp;
  }
  return std::nullopt;
}

}  // namespace promwatch
