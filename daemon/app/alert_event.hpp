#pragma once
// How a notified state change of a rule becomes the dispatcher's input: one place for the
// daemon's rounds and for `promwatch backtest`, so that both route the same labels.

#include "promwatch/labels.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/rules.hpp"
#include "promwatch/shared_text.hpp"

namespace promwatch {

/// The event for transition `t` (one that `notifies()`): its labels with the external labels
/// each lacks, starting at the firing time (the pending time when not fired), ending at the
/// resolve time when it is notified as resolved (a resolution, or the end of flapping of an
/// alert that is not firing).
inline AlertEvent transition_event(const AlertTransition& t, const Labels& external_labels, SharedText generator_url) {
  AlertEvent e;
  e.labels = t.labels;
  e.labels.add_missing(external_labels);
  e.annotations = t.annotations;
  e.starts_at = t.fired_at != TimePoint{} ? t.fired_at : t.active_at;
  e.ends_at = t.notified_resolved() ? t.resolved_at : TimePoint{};
  e.generator_url = std::move(generator_url);
  return e;
}

}  // namespace promwatch
