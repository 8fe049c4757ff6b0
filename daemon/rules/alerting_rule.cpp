// The alert state machine of Prometheus 2.x rules/alerting.go (AlertingRule.Eval, sendAlerts,
// needsSending) and RestoreForState, with SPEC §3/§4's deviations: a failed query, duplicate
// label sets and a limit overrun all leave the state untouched; on_error/no_data alerts.

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "promwatch/rules.hpp"
#include "rules_internal.hpp"

namespace promwatch {

using rules_detail::is_set;
using rules_detail::value_bits;

namespace {

constexpr std::string_view kDuplicateError =
    "vector contains metrics with the same labelset after applying alert labels";

const Labels& empty_labels() {
  static const Labels empty;
  return empty;
}

}  // namespace

namespace rules_detail {

AlertTransition make_transition(const Alert& alert, AlertState from, TimePoint at) {
  AlertTransition t;
  t.fingerprint = alert.fingerprint;
  t.labels = alert.labels;
  t.annotations = alert.annotations;
  t.from = from;
  t.to = alert.state;
  t.at = at;
  t.value = alert.value;
  t.active_at = alert.active_at;
  t.fired_at = alert.fired_at;
  t.resolved_at = alert.resolved_at;
  return t;
}

AlertTransition make_drop_transition(const Alert& alert, TimePoint at) {
  AlertTransition t = make_transition(alert, alert.state, at);
  t.to = AlertState::Inactive;
  return t;
}

std::optional<OutgoingAlert> send_if_needed(Alert& a, TimePoint ts, Duration resend_delay,
                                            Duration group_interval) {
  // Never fired (a pending alert, or one flap detection keeps after a pending one was dropped):
  // nothing to tell Alertmanagers.
  if (a.state == AlertState::Pending || !is_set(a.fired_at)) return std::nullopt;
  // Prometheus's needsSending; an unset last_sent_at is Go's zero time: long ago.
  const bool needs = a.resolved_at > a.last_sent_at || !is_set(a.last_sent_at) ||
                     a.last_sent_at + resend_delay < ts;
  if (!needs) return std::nullopt;
  a.last_sent_at = ts;
  // Valid for two missed evaluations or sends, as Prometheus.
  a.valid_until = ts + 4 * std::max(group_interval, resend_delay);
  OutgoingAlert o;
  o.fingerprint = a.fingerprint;
  o.labels = a.labels;
  o.annotations = a.annotations;
  o.starts_at = a.fired_at;
  o.resolved = is_set(a.resolved_at);
  o.ends_at = o.resolved ? a.resolved_at : a.valid_until;
  return o;
}

bool compile_text(const std::string& template_name, const std::string& owner, std::string_view what,
                  const std::string& key, const TemplateText& text, std::string& literal_out,
                  std::optional<Template>& tmpl_out, std::vector<ConfigError>* errors,
                  TemplateCache* cache) {
  if (cache) {
    if (auto it = cache->find(text.text); it != cache->end()) {
      // Literal texts are never cached (they keep no template), so this one has actions.
      tmpl_out = it->second.with_name(template_name);
      return true;
    }
  }
  TemplateError err;
  std::optional<Template> t = Template::compile(template_name, text.text, &err);
  if (!t) {
    if (errors) {
      errors->push_back(ConfigError{text.pos, owner + ": " + std::string(what) + " \"" + key +
                                                  "\": template error at " +
                                                  std::to_string(err.line) + ":" +
                                                  std::to_string(err.column) + ": " + err.message});
    }
    return false;
  }
  if (t->is_literal()) {
    literal_out = text.text;
  } else {
    if (cache) cache->emplace(text.text, *t);
    tmpl_out = std::move(*t);
  }
  return true;
}

}  // namespace rules_detail

std::string_view to_string(AlertState state) {
  switch (state) {
    case AlertState::Inactive: return "inactive";
    case AlertState::Pending: return "pending";
    case AlertState::Firing: return "firing";
  }
  return "inactive";
}

std::string_view to_string(RuleHealth health) {
  switch (health) {
    case RuleHealth::Unknown: return "unknown";
    case RuleHealth::Ok: return "ok";
    case RuleHealth::Err: return "err";
  }
  return "unknown";
}

/// One alert as this evaluation's result defines it, before it is merged into the state.
struct AlertingRule::Candidate {
  const Labels* raw = nullptr;  ///< the raw sample labels (including __name__)
  double value = 0;
  Labels labels;                ///< final labels
  std::uint64_t fingerprint = 0;
  bool error_alert = false;
};

std::optional<AlertingRule> AlertingRule::build(const AlertRuleConfig& rule,
                                                const RuleGroupConfig& group,
                                                const RuleContext& context,
                                                std::vector<ConfigError>* errors) {
  AlertingRule r;
  r.config_ = rule;
  r.group_name_ = group.name;
  r.group_labels_ = group.labels;
  r.limit_ = group.limit;
  r.context_ = context;
  const std::string tmpl_name = "__alert_" + rule.alert;
  const std::string owner = "alert \"" + rule.alert + "\"";
  bool ok = true;
  auto compile = [&](const std::string& key, const TemplateText& text, std::string_view what,
                     std::vector<CompiledText>& out) {
    CompiledText c;
    c.name = key;
    if (!rules_detail::compile_text(tmpl_name, owner, what, key, text, c.literal, c.tmpl, errors,
                                    context.templates.get())) {
      ok = false;
      return;
    }
    out.push_back(std::move(c));
  };
  for (const auto& [key, text] : rule.labels) compile(key, text, "label", r.labels_);
  for (const auto& [key, text] : rule.annotations) compile(key, text, "annotation", r.annotations_);
  if (!ok) return std::nullopt;
  auto uses_query = [](const CompiledText& t) { return t.tmpl && t.tmpl->uses_query(); };
  r.annotations_use_query_ = std::any_of(r.annotations_.begin(), r.annotations_.end(), uses_query);
  r.uses_query_ = r.annotations_use_query_ || std::any_of(r.labels_.begin(), r.labels_.end(), uses_query);
  return r;
}

std::string AlertingRule::expand(const CompiledText& text, const Labels& raw, double value) {
  if (!text.tmpl) return text.literal;
  ++template_renders_;
  AlertTemplateData data{raw, value, context_.external_labels, context_.external_url};
  if (text.tmpl->uses_query()) data.queries = answers_;
  return text.tmpl->render_alert(data);
}

std::vector<std::string> AlertingRule::template_queries(const QueryOutcome& outcome,
                                                        const TemplateQueryAnswers& answers,
                                                        bool datasource_down) const {
  std::vector<std::string> wanted;
  if (!uses_query_) return wanted;
  auto probe = [&](const Labels& raw, double value) {
    for (const auto* texts : {&labels_, &annotations_}) {
      for (const CompiledText& t : *texts) {
        if (!t.tmpl || !t.tmpl->uses_query()) continue;
        AlertTemplateData data{raw, value, context_.external_labels, context_.external_url};
        data.queries = &answers;
        data.unanswered = &wanted;
        t.tmpl->render_alert(data);
      }
    }
  };
  // The alerts evaluate() expands: as it builds its candidates.
  if (!outcome.ok) {
    if (config_.on_error == OnError::Alerting && !datasource_down) probe(empty_labels(), 0);
    return wanted;
  }
  for (const Sample& s : outcome.result.samples) probe(s.labels, s.value);
  if (outcome.result.samples.empty() && config_.no_data == NoData::Alerting) probe(empty_labels(), 0);
  return wanted;
}

AlertingRule::Candidate AlertingRule::make_candidate(const Labels& raw, double value,
                                                     std::string_view extra_label) {
  Candidate c;
  c.raw = &raw;
  c.value = value;
  std::vector<Label> items;
  items.reserve(raw.size() + group_labels_.size() + labels_.size() + 2);
  for (const Label& l : raw) {
    if (l.name != "__name__") items.push_back(l);
  }
  c.labels = Labels(std::move(items));
  if (!group_labels_.empty()) c.labels.merge(group_labels_);
  for (const CompiledText& t : labels_) c.labels.set(t.name, expand(t, raw, value));
  if (!extra_label.empty()) c.labels.set(extra_label, "true");
  c.labels.set("alertname", config_.alert);
  c.fingerprint = c.labels.fingerprint();
  return c;
}

Labels AlertingRule::expand_annotations(const Labels& raw, double value) {
  std::vector<Label> items;
  items.reserve(annotations_.size());
  for (const CompiledText& t : annotations_) items.push_back(Label{t.name, expand(t, raw, value)});
  Labels expanded(std::move(items));
  // The alerts of one rule often expand to the same text (literal descriptions, templates that
  // read no per-series label): those share one set, as copies of a Labels share storage. At
  // 100,000 alerts with one summary that is ~170 bytes per alert.
  if (expanded == last_annotations_) return last_annotations_;
  last_annotations_ = expanded;
  return expanded;
}

AlertTransition AlertingRule::transition(const Alert& alert, AlertState from, TimePoint at) {
  return rules_detail::make_transition(alert, from, at);
}

void AlertingRule::mark_flapping(Alert& a) {
  if (!a.flap.flapping()) return;
  a.annotations.set(kFlappingAnnotation, "true");
  a.annotations.set(kFlapCountAnnotation, std::to_string(a.flap.count));
}

bool AlertingRule::flap_holds(const Alert& a, TimePoint ts) const {
  if (a.flap.flapping()) return true;
  return flap_detection() && !a.flap.changes.empty() && ts - a.flap.changes.back() < config_.flap_window;
}

FlapNotice AlertingRule::count_change(Alert& a, TimePoint ts) {
  FlapState& f = a.flap;
  if (f.flapping()) {
    f.changes.assign(1, ts);
    ++f.count;
    mark_flapping(a);
    return FlapNotice::Muted;
  }
  if (!flap_detection()) return FlapNotice::None;
  std::erase_if(f.changes, [&](TimePoint c) { return ts - c >= config_.flap_window; });
  f.changes.push_back(ts);
  if (f.changes.size() < static_cast<std::size_t>(config_.flap_threshold)) return FlapNotice::None;
  f.flapping_since = ts;
  f.count = static_cast<std::uint32_t>(f.changes.size());
  f.changes.assign(1, ts);
  mark_flapping(a);
  return FlapNotice::Started;
}

void AlertingRule::push_change(Entry& e, AlertState from, TimePoint ts, EvaluationResult& result) {
  const FlapNotice notice = count_change(e.alert, ts);
  AlertTransition t = transition(e.alert, from, ts);
  t.flap = notice;
  result.transitions.push_back(std::move(t));
}

// A flapping alert unchanged for flap_window (or whose rule no longer detects flapping) is
// notified in the state it has settled in.
void AlertingRule::end_stable_flapping(TimePoint ts, EvaluationResult& result) {
  if (!flap_detection() && !maybe_flapping_) return;
  for (auto& [fp, e] : active_) {
    Alert& a = e.alert;
    if (!a.flap.flapping()) continue;
    const bool stable = !flap_detection() || a.flap.changes.empty() || ts - a.flap.changes.back() >= config_.flap_window;
    if (!stable) continue;
    a.flap = FlapState{};
    a.annotations.erase(kFlappingAnnotation);
    a.annotations.erase(kFlapCountAnnotation);
    AlertTransition t = transition(a, a.state, ts);
    t.flap = FlapNotice::Ended;
    if (a.state != AlertState::Firing) t.resolved_at = is_set(a.resolved_at) ? a.resolved_at : ts;
    result.transitions.push_back(std::move(t));
  }
  if (!flap_detection()) maybe_flapping_ = false;
}

std::size_t AlertingRule::count_flapping() const {
  std::size_t n = 0;
  for (const auto& [fp, e] : active_) n += e.alert.flap.flapping() ? 1 : 0;
  return n;
}

std::vector<std::uint64_t> AlertingRule::keep_firing_fingerprints(const QueryOutcome& keep_firing) {
  std::vector<std::uint64_t> fps;
  fps.reserve(keep_firing.result.samples.size());
  for (const Sample& s : keep_firing.result.samples) fps.push_back(make_candidate(s.labels, s.value, {}).fingerprint);
  std::sort(fps.begin(), fps.end());
  return fps;
}

void AlertingRule::apply(std::vector<Candidate>& candidates, TimePoint ts, MissingScope scope,
                         const std::string& error_text, EvaluationResult& result,
                         const std::vector<std::uint64_t>* kept_firing) {
  const bool annotations_literal =
      std::all_of(annotations_.begin(), annotations_.end(),
                  [](const CompiledText& t) { return !t.tmpl; });

  // Present alerts: update the active ones, create (or restart) the others.
  for (Candidate& c : candidates) {
    auto it = active_.find(c.fingerprint);
    const std::uint64_t raw_fp = annotations_literal ? 0 : c.raw->fingerprint();
    const std::uint64_t vbits = value_bits(c.value);
    if (it != active_.end() && it->second.alert.state != AlertState::Inactive) {
      Entry& e = it->second;
      Alert& a = e.alert;
      a.value = c.value;
      // A `query` in an annotation can answer differently with the same labels and value:
      // those are expanded at every evaluation, as Prometheus expands all of them.
      if (!e.annotations_valid || e.raw_fingerprint != raw_fp || e.value_bits != vbits || annotations_use_query_) {
        a.annotations = expand_annotations(*c.raw, c.value);
        mark_flapping(a);
        e.raw_fingerprint = raw_fp;
        e.value_bits = vbits;
        e.annotations_valid = true;
      }
      if (c.error_alert) a.annotations.set("error", error_text);
      a.keep_firing_since = TimePoint{};  // present again: keep_firing_for starts over
      e.seen = eval_counter_;
      if (a.state == AlertState::Pending && ts - a.active_at >= config_.for_duration) {
        a.state = AlertState::Firing;
        a.fired_at = ts;
        push_change(e, AlertState::Pending, ts, result);
      }
      continue;
    }
    // New, or a resolved alert that reappears: it starts anew as pending.
    Entry e;
    e.alert.fingerprint = c.fingerprint;
    // Kept for the alert's lifetime: store it without the spare capacity make_candidate
    // reserved (about 130 bytes per alert with five labels).
    e.alert.labels = Labels(std::vector<Label>(c.labels.begin(), c.labels.end()));
    e.alert.annotations = expand_annotations(*c.raw, c.value);
    if (c.error_alert) e.alert.annotations.set("error", error_text);
    if (it != active_.end()) {
      // A resolved alert that reappears: flap detection counts across its incarnations.
      Alert& before = it->second.alert;
      e.alert.flap = std::move(before.flap);
      e.last_resolved_at = is_set(before.resolved_at) ? before.resolved_at : it->second.last_resolved_at;
      mark_flapping(e.alert);
    }
    e.alert.state = AlertState::Pending;
    e.alert.value = c.value;
    e.alert.active_at = ts;
    e.raw_fingerprint = raw_fp;
    e.value_bits = vbits;
    e.annotations_valid = true;
    e.error_alert = c.error_alert;
    e.seen = eval_counter_;
    if (config_.for_duration <= Duration::zero()) {
      e.alert.state = AlertState::Firing;
      e.alert.fired_at = ts;
      push_change(e, AlertState::Inactive, ts, result);
    } else {
      result.transitions.push_back(transition(e.alert, AlertState::Inactive, ts));
    }
    if (it != active_.end()) {
      it->second = std::move(e);
    } else {
      active_.emplace(c.fingerprint, std::move(e));
    }
  }

  if (scope == MissingScope::None) return;
  // Missing alerts: pending ones are dropped, firing ones resolve unless keep_firing_for holds
  // them, resolved ones are forgotten after the retention.
  for (auto it = active_.begin(); it != active_.end();) {
    Entry& e = it->second;
    Alert& a = e.alert;
    if (e.seen == eval_counter_ || (scope == MissingScope::ErrorAlertOnly && !e.error_alert)) {
      ++it;
      continue;
    }
    switch (a.state) {
      case AlertState::Pending: {
        AlertTransition t = transition(a, AlertState::Pending, ts);
        t.to = AlertState::Inactive;
        result.transitions.push_back(std::move(t));
        if (flap_holds(a, ts)) {
          // Flap detection still counts this alert's changes: it stays the resolved alert it
          // was before this pending one (never notified, never sent to Alertmanagers).
          a.state = AlertState::Inactive;
          a.resolved_at = is_set(e.last_resolved_at) ? e.last_resolved_at : ts;
          break;
        }
        it = active_.erase(it);
        continue;
      }
      case AlertState::Inactive:
        if (is_set(a.resolved_at) && ts - a.resolved_at > resolved_retention && !flap_holds(a, ts)) {
          it = active_.erase(it);
          continue;
        }
        break;
      case AlertState::Firing: {
        if (kept_firing && std::binary_search(kept_firing->begin(), kept_firing->end(), e.alert.fingerprint)) {
          a.keep_firing_since = TimePoint{};  // held by keep_firing_expr: keep_firing_for has not begun
          break;
        }
        bool keep = false;
        if (config_.keep_firing_for > Duration::zero()) {
          if (!is_set(a.keep_firing_since)) a.keep_firing_since = ts;
          keep = ts - a.keep_firing_since < config_.keep_firing_for;
        }
        if (!keep) {
          a.state = AlertState::Inactive;
          a.resolved_at = ts;
          push_change(e, AlertState::Firing, ts, result);
        }
        break;
      }
    }
    ++it;
  }
}

EvaluationResult AlertingRule::evaluate(const QueryOutcome& outcome, TimePoint ts,
                                        bool datasource_down, const TemplateQueryAnswers* answers,
                                        const QueryOutcome* keep_firing) {
  const auto started = std::chrono::steady_clock::now();
  ++eval_counter_;
  last_evaluation_ = ts;
  EvaluationResult result;
  answers_ = answers;
  auto finish = [&]() {
    answers_ = nullptr;
    // The two queries of a slot run side by side: the slower one is the query time.
    const Duration queried = keep_firing ? std::max(outcome.elapsed, keep_firing->elapsed) : outcome.elapsed;
    evaluation_time_ = queried + std::chrono::duration_cast<Duration>(
                                             std::chrono::steady_clock::now() - started);
    return std::move(result);
  };
  auto fail = [&](std::string error) {
    health_ = RuleHealth::Err;
    last_error_ = error;
    result.ok = false;
    result.error = std::move(error);
  };

  if (!outcome.ok) {
    fail(outcome.error);
    if (config_.on_error == OnError::Alerting) {
      std::vector<Candidate> candidates;
      if (!datasource_down) {
        candidates.push_back(make_candidate(empty_labels(), 0, "promwatch_error"));
        candidates.back().error_alert = true;
        apply(candidates, ts, MissingScope::None, outcome.error, result);
      } else {
        apply(candidates, ts, MissingScope::ErrorAlertOnly, outcome.error, result);
      }
    }
    return finish();
  }

  std::vector<std::uint64_t> kept_firing;
  if (keep_firing) {
    if (!keep_firing->ok) {
      fail("keep_firing_expr: " + keep_firing->error);
      return finish();
    }
    kept_firing = keep_firing_fingerprints(*keep_firing);
  }

  const std::vector<Sample>& samples = outcome.result.samples;
  std::vector<Candidate> candidates;
  candidates.reserve(std::max<std::size_t>(samples.size(), 1));
  for (const Sample& s : samples) candidates.push_back(make_candidate(s.labels, s.value, {}));
  if (samples.empty() && config_.no_data == NoData::Alerting) {
    candidates.push_back(make_candidate(empty_labels(), 0, "promwatch_no_data"));
  }

  if (candidates.size() > 1) {
    std::vector<std::uint64_t> fps;
    fps.reserve(candidates.size());
    for (const Candidate& c : candidates) fps.push_back(c.fingerprint);
    std::sort(fps.begin(), fps.end());
    if (std::adjacent_find(fps.begin(), fps.end()) != fps.end()) {
      fail(std::string(kDuplicateError));
      return finish();
    }
  }

  if (limit_ > 0) {
    // Count what would be active after this evaluation without changing anything: every
    // present alert plus the missing firing ones keep_firing_for still holds.
    for (const Candidate& c : candidates) {
      auto it = active_.find(c.fingerprint);
      if (it != active_.end()) it->second.seen = eval_counter_;
    }
    std::size_t held = 0;
    if (config_.keep_firing_for > Duration::zero() || !kept_firing.empty()) {
      for (const auto& [fp, e] : active_) {
        if (e.seen == eval_counter_ || e.alert.state != AlertState::Firing) continue;
        if (std::binary_search(kept_firing.begin(), kept_firing.end(), fp)) {
          ++held;
          continue;
        }
        if (config_.keep_firing_for <= Duration::zero()) continue;
        if (!is_set(e.alert.keep_firing_since) ||
            ts - e.alert.keep_firing_since < config_.keep_firing_for) {
          ++held;
        }
      }
    }
    const std::size_t total = candidates.size() + held;
    if (total > static_cast<std::size_t>(limit_)) {
      fail("exceeded limit of " + std::to_string(limit_) + " with " + std::to_string(total) +
           " alerts");
      return finish();
    }
  }

  apply(candidates, ts, MissingScope::All, {}, result, &kept_firing);
  end_stable_flapping(ts, result);
  health_ = RuleHealth::Ok;
  last_error_.clear();
  result.ok = true;
  return finish();
}

std::vector<OutgoingAlert> AlertingRule::alerts_to_send(TimePoint ts, Duration resend_delay,
                                                        Duration group_interval) {
  std::vector<OutgoingAlert> out;
  for (auto& [fp, e] : active_) {
    if (auto o = rules_detail::send_if_needed(e.alert, ts, resend_delay, group_interval)) {
      out.push_back(std::move(*o));
    }
  }
  return out;
}

std::vector<AlertTransition> AlertingRule::resolve_all(TimePoint ts) {
  std::vector<AlertTransition> out;
  for (auto it = active_.begin(); it != active_.end();) {
    Alert& a = it->second.alert;
    if (a.flap.flapping()) {
      // Its receivers last heard "flapping" (as firing): a firing one resolves below; any other
      // is told it has resolved.
      a.flap = FlapState{};
      a.annotations.erase(kFlappingAnnotation);
      a.annotations.erase(kFlapCountAnnotation);
      if (a.state != AlertState::Firing) {
        AlertTransition t = transition(a, a.state, ts);
        t.flap = FlapNotice::Ended;
        t.resolved_at = is_set(a.resolved_at) ? a.resolved_at : ts;
        out.push_back(std::move(t));
      }
    }
    if (a.state == AlertState::Pending) {
      AlertTransition t = transition(a, AlertState::Pending, ts);
      t.to = AlertState::Inactive;
      out.push_back(std::move(t));
      it = active_.erase(it);
      continue;
    }
    if (a.state == AlertState::Firing) {
      a.state = AlertState::Inactive;
      a.resolved_at = ts;
      out.push_back(transition(a, AlertState::Firing, ts));
    }
    ++it;
  }
  return out;
}

std::vector<Alert> AlertingRule::export_alerts() const {
  std::vector<Alert> out;
  out.reserve(active_.size());
  for (const auto& [fp, e] : active_) out.push_back(e.alert);
  return out;
}

void AlertingRule::import_alerts(std::vector<Alert> alerts) {
  active_.clear();
  maybe_flapping_ = false;
  for (Alert& a : alerts) {
    Entry e;
    a.fingerprint = a.labels.fingerprint();
    e.error_alert = a.labels.get("promwatch_error") == "true";
    e.alert = std::move(a);
    e.annotations_valid = false;  // templates may have changed: re-expand at the next evaluation
    maybe_flapping_ = maybe_flapping_ || e.alert.flap.flapping();
    const std::uint64_t fp = e.alert.fingerprint;
    active_.insert_or_assign(fp, std::move(e));
  }
}

void AlertingRule::take_alerts_from(AlertingRule& old) {
  // Annotations were expanded from these texts and this context; with others they are stale.
  const bool same_annotations = config_.annotations.size() == old.config_.annotations.size() &&
                                std::equal(config_.annotations.begin(), config_.annotations.end(),
                                           old.config_.annotations.begin(),
                                           [](const auto& a, const auto& b) {
                                             return a.first == b.first && a.second.text == b.second.text;
                                           }) &&
                                context_.external_labels == old.context_.external_labels &&
                                context_.external_url == old.context_.external_url;
  active_ = std::move(old.active_);
  old.active_.clear();  // a moved-from map is valid but unspecified
  maybe_flapping_ = count_flapping() > 0;
  if (!same_annotations) {
    for (auto& [fp, e] : active_) e.annotations_valid = false;
  }
  copy_status_from(old);
}

std::vector<AlertTransition> AlertingRule::restore(std::vector<Alert> saved, TimePoint down_at,
                                                   TimePoint now, const RestoreOptions& options) {
  std::vector<AlertTransition> dropped;
  std::vector<Alert> kept;
  kept.reserve(saved.size());
  const Duration hold = config_.for_duration;
  const Duration downtime = std::max(now - down_at, Duration::zero());  // clock steps back: 0
  // SPEC §2/§4: within outage_tolerance a pending alert keeps its activeAt, so the downtime
  // counts towards `for` and a restart never resets a timer. Prometheus's grace rule still
  // applies to rules whose `for` is at least for_grace_period: one that would fire less than
  // the grace period after the restart waits for the grace period, so a restart does not turn
  // into a burst of notifications before the datasource had a chance to say otherwise.
  const bool restorable = downtime < options.outage_tolerance;
  for (Alert& a : saved) {
    if (a.state == AlertState::Pending) {
      if (!restorable) {
        AlertTransition t = transition(a, AlertState::Pending, now);
        t.to = AlertState::Inactive;
        dropped.push_back(std::move(t));
        continue;
      }
      // One that was already due when we stopped fires at the next evaluation, as in Prometheus.
      const Duration remaining_at_stop = hold - (down_at - a.active_at);
      const Duration remaining_now = hold - (now - a.active_at);
      if (remaining_at_stop > Duration::zero() && hold >= options.for_grace_period &&
          remaining_now < options.for_grace_period) {
        a.active_at = now + options.for_grace_period - hold;
      }
    }
    kept.push_back(std::move(a));
  }
  import_alerts(std::move(kept));
  return dropped;
}

void AlertingRule::clear() {
  active_.clear();
  maybe_flapping_ = false;
  health_ = RuleHealth::Unknown;
  last_error_.clear();
  last_evaluation_ = TimePoint{};
  evaluation_time_ = Duration{0};
}

void AlertingRule::for_each_alert(const std::function<void(const Alert&)>& fn) const {
  for (const auto& [fp, e] : active_) fn(e.alert);
}

std::size_t AlertingRule::count(AlertState state) const {
  std::size_t n = 0;
  for (const auto& [fp, e] : active_) n += e.alert.state == state ? 1 : 0;
  return n;
}

void AlertingRule::copy_status_from(const AlertingRule& other) {
  health_ = other.health_;
  last_error_ = other.last_error_;
  last_evaluation_ = other.last_evaluation_;
  evaluation_time_ = other.evaluation_time_;
}

ReplayResult replay(const AlertingRule& rule,
                    const std::vector<std::pair<TimePoint, QueryOutcome>>& steps,
                    const TemplateQueryAnswers* answers) {
  AlertingRule r = rule;
  r.clear();
  ReplayResult out;
  for (const auto& [ts, outcome] : steps) r.evaluate(outcome, ts, false, answers);
  r.for_each_alert([&](const Alert& a) {
    if (a.state != AlertState::Inactive) out.alerts.push_back(a);
  });
  std::sort(out.alerts.begin(), out.alerts.end(),
            [](const Alert& a, const Alert& b) { return a.labels.items() < b.labels.items(); });
  out.health = r.health();
  out.last_error = r.last_error();
  return out;
}

}  // namespace promwatch
