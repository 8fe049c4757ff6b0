#pragma once
/// \file
/// A picture of alert states over time, as HTML with inline SVG: the query's value per series
/// as lines, each alert's pending / firing / flapping periods as a band, notifications as marks,
/// and a time axis. Shared by `promwatch backtest --html` and the status page.
///
/// The fragment is self-contained (no script, nothing fetched, styles from `timeline_css()`)
/// and scales to the page's width: graphics are SVG stretched to the width, every text (labels,
/// legend, axis) is HTML, so it stays readable on a phone. Every text from the data is
/// HTML-escaped. Pure functions; thread-safe.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promwatch/time.hpp"

namespace promwatch {

enum class TimelineState { Pending, Firing, Flapping };

struct TimelineSpan {
  TimePoint start{};
  TimePoint end{};  ///< exclusive; clipped to the picture's range
  TimelineState state = TimelineState::Pending;
};

/// One band: an alert's states over the range.
struct TimelineLane {
  std::string label;  ///< e.g. the alert's labels
  std::vector<TimelineSpan> spans;
};

/// One line of the value chart.
struct TimelineLine {
  std::string label;
  std::vector<std::pair<TimePoint, double>> points;  ///< in time order; NaN and infinities are gaps
};

/// One notification.
struct TimelineMark {
  TimePoint at{};
  std::string title;  ///< the tooltip, e.g. "10:05:00 team-chat firing"
  bool resolved = false;
};

struct Timeline {
  TimePoint from{};
  TimePoint to{};
  /// Points further apart than 1.5 steps are not joined (the series was absent between them);
  /// zero joins every point.
  Duration step{0};
  std::vector<TimelineLine> lines;
  std::vector<TimelineLane> lanes;
  std::vector<TimelineMark> marks;
};

/// At most this many lines and lanes are drawn; the fragment says how many were left out.
inline constexpr std::size_t kTimelineMaxLines = 12;
inline constexpr std::size_t kTimelineMaxLanes = 60;

/// The `<style>` rules the fragment needs (class names start with `tl-`), without the tag.
std::string timeline_css();

/// The fragment: `<div class="tl">…</div>`. Without lines the value chart is left out (the
/// bands, marks and axis stay). An empty range (to <= from) draws nothing but a note.
std::string render_timeline(const Timeline& timeline);

}  // namespace promwatch
