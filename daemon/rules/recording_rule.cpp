// Recording rules (Prometheus 2.x rules/recording.go), the ALERTS and ALERTS_FOR_STATE series
// of rules/alerting.go, and the staleness bookkeeping of rules/group.go (seriesInPreviousEval):
// what a round writes through remote write.

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "promwatch/rules.hpp"
#include "rules_internal.hpp"

namespace promwatch {

namespace {

constexpr std::string_view kDuplicateError = "vector contains metrics with the same labelset after applying rule labels";


// Map order is arbitrary: stale markers in a stable order, for the receiver's logs and tests.
void sort_by_labels(std::vector<WriteSample>::iterator begin, std::vector<WriteSample>::iterator end) {
  std::sort(begin, end, [](const WriteSample& a, const WriteSample& b) { return a.labels.items() < b.labels.items(); });
}

}  // namespace

void WrittenSeries::update(std::vector<WriteSample>& samples, std::int64_t timestamp_ms) {
  std::unordered_map<std::uint64_t, Labels> now;
  now.reserve(samples.size());
  for (const WriteSample& s : samples) now.emplace(s.labels.fingerprint(), s.labels);
  const std::size_t written = samples.size();
  for (auto& [fp, labels] : series_) {
    if (!now.count(fp)) samples.push_back(WriteSample{std::move(labels), timestamp_ms, stale_marker()});
  }
  series_ = std::move(now);
  sort_by_labels(samples.begin() + static_cast<std::ptrdiff_t>(written), samples.end());
}

std::vector<WriteSample> WrittenSeries::release(std::int64_t timestamp_ms) {
  std::vector<WriteSample> out;
  out.reserve(series_.size());
  for (auto& [fp, labels] : series_) out.push_back(WriteSample{std::move(labels), timestamp_ms, stale_marker()});
  series_.clear();
  sort_by_labels(out.begin(), out.end());
  return out;
}

RecordingRule RecordingRule::build(const RecordingRuleConfig& rule, const RuleGroupConfig& group,
                                   const RuleContext& context) {
  RecordingRule r;
  r.config_ = rule;
  r.group_labels_ = group.labels;
  r.external_labels_ = context.external_labels;
  r.query_offset_ = group.query_offset;
  r.limit_ = group.limit;
  return r;
}

EvaluationResult RecordingRule::evaluate(const QueryOutcome& outcome, TimePoint slot) {
  const auto started = std::chrono::steady_clock::now();
  last_evaluation_ = slot;
  samples_.clear();
  EvaluationResult result;
  auto finish = [&]() {
    evaluation_time_ = outcome.elapsed + std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
    return std::move(result);
  };
  auto fail = [&](std::string error) {
    health_ = RuleHealth::Err;
    last_error_ = error;
    result.ok = false;
    result.error = std::move(error);
    samples_.clear();
    return finish();
  };
  if (!outcome.ok) return fail(outcome.error);

  const std::int64_t ts = rules_detail::unix_ms(slot - query_offset_);
  const std::vector<Sample>& result_samples = outcome.result.samples;
  std::vector<WriteSample> samples;
  samples.reserve(result_samples.size());
  for (const Sample& s : result_samples) {
    Labels labels = s.labels;
    labels.erase("__name__");
    labels.merge(group_labels_);
    labels.merge(config_.labels);
    labels.set("__name__", config_.record);
    labels.add_missing(external_labels_);
    samples.push_back(WriteSample{std::move(labels), ts, s.value});
  }
  if (samples.size() > 1) {
    std::vector<std::uint64_t> fps;
    fps.reserve(samples.size());
    for (const WriteSample& s : samples) fps.push_back(s.labels.fingerprint());
    std::sort(fps.begin(), fps.end());
    if (std::adjacent_find(fps.begin(), fps.end()) != fps.end()) return fail(std::string(kDuplicateError));
  }
  if (limit_ > 0 && samples.size() > static_cast<std::size_t>(limit_)) {
    return fail("exceeded limit of " + std::to_string(limit_) + " with " + std::to_string(samples.size()) + " series");
  }
  written_.update(samples, ts);
  samples_ = std::move(samples);
  health_ = RuleHealth::Ok;
  last_error_.clear();
  result.ok = true;
  return finish();
}

void RecordingRule::take_state_from(RecordingRule& old) {
  health_ = old.health_;
  last_error_ = old.last_error_;
  last_evaluation_ = old.last_evaluation_;
  evaluation_time_ = old.evaluation_time_;
  written_ = std::exchange(old.written_, {});
}

void RecordingRule::shift_clock(Duration step) {
  if (rules_detail::is_set(last_evaluation_)) last_evaluation_ += step;
}

std::vector<WriteSample> alert_series(const std::vector<Alert>& alerts, std::int64_t timestamp_ms,
                                      const Labels& external_labels) {
  std::vector<WriteSample> out;
  out.reserve(alerts.size() * 2);
  for (const Alert& a : alerts) {
    if (a.state != AlertState::Pending && a.state != AlertState::Firing) continue;
    Labels labels = a.labels;  // includes alertname
    labels.add_missing(external_labels);
    Labels for_state = labels;
    labels.set("alertstate", to_string(a.state));
    labels.set("__name__", "ALERTS");
    out.push_back(WriteSample{std::move(labels), timestamp_ms, 1});
    for_state.set("__name__", "ALERTS_FOR_STATE");
    // float64(ActiveAt.Unix()): whole seconds, rounded down.
    const auto active_s = std::chrono::floor<std::chrono::seconds>(a.active_at.time_since_epoch()).count();
    out.push_back(WriteSample{std::move(for_state), timestamp_ms, static_cast<double>(active_s)});
  }
  return out;
}

}  // namespace promwatch
