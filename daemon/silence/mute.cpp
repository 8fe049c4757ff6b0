// MuteState: inhibitor + silences + time intervals, as the dispatcher and the API use them.

#include "promwatch/silence.hpp"

namespace promwatch {

MuteState::MuteState(const Config& config, SilenceLimits limits, SilenceSet::IdGenerator ids)
    : inhibitor_(config.inhibit_rules), silences_(limits, std::move(ids)), intervals_(config.time_intervals) {
  silences_.set_static(config.silences);
}

void MuteState::reload(const Config& config) {
  TimeIntervalSet intervals(config.time_intervals);  // may throw: nothing changed yet
  intervals_ = std::move(intervals);
  inhibitor_.set_rules(config.inhibit_rules);
  silences_.set_static(config.silences);
}

bool MuteState::muted(const Labels& labels, TimePoint now) const {
  return inhibitor_.inhibited(labels, now) || silences_.silenced(labels, now);
}

MuteStatus MuteState::status(const Labels& labels, TimePoint now) const {
  MuteStatus s;
  s.silenced_by = silences_.silenced_by(labels, now);
  if (auto fp = inhibitor_.inhibited_by(labels, now)) s.inhibited_by.push_back(fingerprint_hex(*fp));
  return s;
}

std::function<bool(const Labels&, TimePoint)> MuteState::mute_filter() const {
  return [this](const Labels& labels, TimePoint now) { return muted(labels, now); };
}

std::function<bool(const std::vector<std::string>&, const std::vector<std::string>&, TimePoint)>
MuteState::time_mute_check() const {
  return [this](const std::vector<std::string>& mute, const std::vector<std::string>& active, TimePoint now) {
    return muted_by_time(mute, active, now);
  };
}

}  // namespace promwatch
