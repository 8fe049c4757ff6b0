// Alertmanager's time intervals (package timeinterval) and the route time-muting stages.

#include <algorithm>
#include <stdexcept>

#include "promwatch/silence.hpp"

namespace promwatch {

namespace {

bool in_any(const std::vector<IntRange>& ranges, int v) {
  for (const auto& r : ranges) {
    if (v >= r.begin && v <= r.end) return true;
  }
  return false;
}

}  // namespace

bool time_interval_contains(const TimeIntervalSpec& spec, const TimeZone& zone, TimePoint t) {
  const CivilTime c = to_civil(t, zone);
  if (!spec.times.empty()) {
    const int minute = c.hour * 60 + c.minute;
    bool in = false;
    for (const auto& r : spec.times) {
      if (minute >= r.start_minute && minute < r.end_minute) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  if (!spec.days_of_month.empty()) {
    bool in = false;
    const int dim = c.days_in_month;
    for (const auto& r : spec.days_of_month) {
      // Negative days count from the month's end (-1 = the last day).
      int begin = r.begin < 0 ? dim + r.begin + 1 : r.begin;
      int end = r.end < 0 ? dim + r.end + 1 : r.end;
      if (begin > dim) continue;  // the range starts after this month's end
      begin = std::clamp(begin, -dim, dim);
      end = std::clamp(end, -dim, dim);
      if (c.day >= begin && c.day <= end) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  if (!spec.months.empty() && !in_any(spec.months, c.month)) return false;
  if (!spec.weekdays.empty() && !in_any(spec.weekdays, c.weekday)) return false;
  if (!spec.years.empty() && !in_any(spec.years, c.year)) return false;
  return true;
}

std::optional<TimeIntervalSet> TimeIntervalSet::build(const std::vector<TimeIntervalConfig>& intervals,
                                                      std::vector<std::string>* errors,
                                                      const std::string& zoneinfo_dir) {
  TimeIntervalSet set;
  std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> zones;
  bool ok = true;
  for (const auto& ti : intervals) {
    auto& specs = set.intervals_[ti.name];
    for (const auto& spec : ti.intervals) {
      auto it = zones.find(spec.location);
      if (it == zones.end()) {
        std::string error;
        auto zone = TimeZone::load(spec.location, &error, zoneinfo_dir);
        if (!zone) {
          ok = false;
          if (errors) errors->push_back("time interval \"" + ti.name + "\": " + error);
          continue;
        }
        it = zones.emplace(spec.location, std::move(zone)).first;
      }
      specs.push_back(Spec{spec, it->second});
    }
  }
  if (!ok) return std::nullopt;
  return set;
}

TimeIntervalSet::TimeIntervalSet(const std::vector<TimeIntervalConfig>& intervals, const std::string& zoneinfo_dir) {
  std::vector<std::string> errors;
  auto set = build(intervals, &errors, zoneinfo_dir);
  if (!set) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "; ") + e;
    throw std::invalid_argument(msg);
  }
  *this = std::move(*set);
}

bool TimeIntervalSet::has(std::string_view name) const { return intervals_.find(name) != intervals_.end(); }

bool TimeIntervalSet::contains(std::string_view name, TimePoint now) const {
  auto it = intervals_.find(name);
  if (it == intervals_.end()) return false;
  for (const auto& s : it->second) {
    if (time_interval_contains(s.spec, *s.zone, now)) return true;
  }
  return false;
}

bool TimeIntervalSet::muted_by_time(const std::vector<std::string>& mute_names,
                                    const std::vector<std::string>& active_names, TimePoint now) const {
  for (const auto& n : mute_names) {
    if (contains(n, now)) return true;
  }
  if (active_names.empty()) return false;
  for (const auto& n : active_names) {
    if (contains(n, now)) return false;
  }
  return true;
}

}  // namespace promwatch
