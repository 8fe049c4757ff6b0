// Shifting rule state when the wall clock steps (see WallClockWatch in time.hpp). Every time
// point a rule keeps is on the wall clock's timeline; moving them all by the step keeps the
// durations between them and `now` what they really were.

#include "promwatch/rules.hpp"

namespace promwatch {

namespace {

void shift(TimePoint& t, Duration step) {
  if (t != TimePoint{}) t += step;  // the epoch means "unset"
}

}  // namespace

void shift_times(Alert& alert, Duration step) {
  shift(alert.active_at, step);
  shift(alert.fired_at, step);
  shift(alert.resolved_at, step);
  shift(alert.last_sent_at, step);
  shift(alert.valid_until, step);
  shift(alert.keep_firing_since, step);
  shift(alert.flap.flapping_since, step);
  for (TimePoint& t : alert.flap.changes) shift(t, step);
}

void AlertingRule::shift_clock(Duration step) {
  for (auto& [fingerprint, entry] : active_) {
    shift_times(entry.alert, step);
    shift(entry.last_resolved_at, step);
  }
  shift(last_evaluation_, step);
}

void HeartbeatRule::shift_clock(Duration step) {
  for (auto& [key, entry] : members_) {
    shift(entry.member.last_seen_up, step);
    shift(entry.member.missing_since, step);
  }
  for (auto& [fingerprint, entry] : alerts_) shift_times(entry.alert, step);
  shift(last_success_, step);
  shift(last_evaluation_, step);
}

void RuleGroup::shift_clock(Duration step) {
  for (AlertingRule& rule : rules_) rule.shift_clock(step);
  for (HeartbeatRule& rule : heartbeats_) rule.shift_clock(step);
  shift(last_evaluation_, step);
}

}  // namespace promwatch
