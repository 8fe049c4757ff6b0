// The timeline picture (promwatch/timeline.hpp). Graphics are SVGs with a fixed viewBox
// stretched to the width (preserveAspectRatio="none", strokes that do not scale); every text is
// HTML placed in percent of the width, so that nothing is squeezed on a narrow screen.

#include "promwatch/timeline.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "api.hpp"

namespace promwatch {

namespace {

constexpr double kWidth = 1000;       // viewBox width of every SVG
constexpr double kChartHeight = 100;  // viewBox height of the value chart
// Few colours, distinguishable for the common kinds of colour blindness (Okabe-Ito).
constexpr std::array<const char*, 6> kLineColours{"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

// Also the CSS class, as tl-<name>.
std::string_view state_name(TimelineState s) {
  switch (s) {
    case TimelineState::Pending: return "pending";
    case TimelineState::Firing: return "firing";
    case TimelineState::Flapping: return "flapping";
  }
  return "pending";
}

// Time axis: a step from a list of round ones that gives at most about six ticks.
Duration tick_step(Duration range) {
  using namespace std::chrono;
  constexpr std::array<Duration, 17> kSteps{seconds(1), seconds(5),  seconds(10), seconds(30), minutes(1), minutes(5),
                                            minutes(10), minutes(15), minutes(30), hours(1),   hours(2),   hours(3),
                                            hours(6),   hours(12),   hours(24),   hours(24 * 7), hours(24 * 30)};
  for (Duration s : kSteps) {
    if (range / s <= 6) return s;
  }
  return kSteps.back() * (range / kSteps.back() / 6 + 1);
}

// "10:05", "10:05:30" or "12-04 10:05" (UTC), as short as the range allows.
std::string tick_label(TimePoint t, Duration range, Duration step) {
  std::string iso = format_rfc3339(t);  // 2026-12-04T10:05:30Z or with .mmm
  std::string clock = iso.substr(11, step % std::chrono::minutes(1) == Duration::zero() ? 5 : 8);
  if (range > std::chrono::hours(24)) return iso.substr(5, 5) + " " + clock;
  return clock;
}

}  // namespace

std::string timeline_css() {
  return R"(.tl{--tl-pending:var(--pending,#b26a00);--tl-firing:var(--firing,#c62828);--tl-flapping:#7b1fa2;
--tl-ok:var(--ok,#2e7d32);--tl-line:var(--line,#e2e6ea);--tl-muted:var(--muted,#5f6b76);margin:.5rem 0 1rem;max-width:100%}
.tl svg{display:block;width:100%;overflow:visible}
.tl-chart{position:relative;height:11rem;border-left:1px solid var(--tl-line);border-bottom:1px solid var(--tl-line)}
.tl-chart svg{height:100%}
.tl-chart polyline{fill:none;stroke-width:1.6;vector-effect:non-scaling-stroke;stroke-linejoin:round}
.tl-grid{stroke:var(--tl-line);stroke-width:1;vector-effect:non-scaling-stroke}
.tl-y{position:absolute;left:.2rem;font-size:.72rem;color:var(--tl-muted);line-height:1;background:none}
.tl-y.top{top:.1rem}.tl-y.bottom{bottom:.1rem}
.tl-lane{margin:.35rem 0 0}
.tl-lane-label{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.75rem;word-break:break-all;
color:var(--tl-muted)}
.tl-lane svg{height:.9rem;background:var(--tl-line);border-radius:2px}
.tl-pending{fill:var(--tl-pending)}.tl-firing{fill:var(--tl-firing)}.tl-flapping{fill:var(--tl-flapping)}
.tl-marks svg{height:1.1rem;margin-top:.35rem}
.tl-mark{stroke-width:3;vector-effect:non-scaling-stroke}
.tl-mark.firing{stroke:var(--tl-firing)}.tl-mark.resolved{stroke:var(--tl-ok)}
.tl-axis{position:relative;height:1.2rem;font-size:.72rem;color:var(--tl-muted)}
.tl-axis span{position:absolute;top:.1rem;transform:translateX(-50%);white-space:nowrap}
.tl-axis span.first{transform:none}.tl-axis span.last{transform:translateX(-100%)}
.tl-legend{list-style:none;margin:.4rem 0 0;padding:0;font-size:.78rem;display:flex;flex-wrap:wrap;gap:.2rem 1rem}
.tl-legend li{word-break:break-all}
.tl-swatch{display:inline-block;width:.9rem;height:.25rem;vertical-align:middle;margin-right:.3rem;border-radius:1px}
.tl-key{display:inline-block;width:.7rem;height:.7rem;vertical-align:middle;margin-right:.25rem;border-radius:2px}
.tl-key.tl-pending{background:var(--tl-pending)}.tl-key.tl-firing{background:var(--tl-firing)}
.tl-key.tl-flapping{background:var(--tl-flapping)}.tl-key.tl-resolved{background:var(--tl-ok)}
.tl-note{font-size:.78rem;color:var(--tl-muted);font-style:italic}
)";
}

std::string render_timeline(const Timeline& tl) {
  std::string out = "<div class=\"tl\">";
  if (tl.to <= tl.from) return out + "<p class=\"tl-note\">empty time range</p></div>";
  const double range_ms = static_cast<double>((tl.to - tl.from).count());
  auto x_of = [&](TimePoint t) {
    double x = static_cast<double>((t - tl.from).count()) / range_ms * kWidth;
    return std::clamp(x, 0.0, kWidth);
  };

  // ---- the value chart ----
  const std::size_t lines = std::min(tl.lines.size(), kTimelineMaxLines);
  double lo = INFINITY;
  double hi = -INFINITY;
  for (std::size_t i = 0; i < lines; ++i) {
    for (const auto& [t, v] : tl.lines[i].points) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) {
    lo = 0;
    hi = 1;
  } else if (lo == hi) {
    double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  // A little room above and below, so that a flat line at the maximum is not on the border.
  const double margin = (hi - lo) * 0.05;
  const double y_lo = lo - margin;
  const double y_hi = hi + margin;
  auto y_of = [&](double v) { return kChartHeight - (v - y_lo) / (y_hi - y_lo) * kChartHeight; };

  const Duration range = tl.to - tl.from;
  const Duration ticks = tick_step(range);
  TimePoint first_tick = tl.from + (ticks - Duration((tl.from - TimePoint{}).count() % ticks.count())) % ticks;
  // Without series (a rule's history) the bands stand alone.
  if (lines > 0) {
    out += "<div class=\"tl-chart\"><svg viewBox=\"0 0 1000 100\" preserveAspectRatio=\"none\" role=\"img\" "
           "aria-label=\"query value over time\">";
    for (TimePoint t = first_tick; t <= tl.to; t += ticks) {
      std::string x = number(x_of(t));
      out += "<line class=\"tl-grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"0\" y2=\"100\"/>";
    }
    const Duration gap = tl.step * 3 / 2;
    for (std::size_t i = 0; i < lines; ++i) {
      const auto& points = tl.lines[i].points;
      const char* colour = kLineColours[i % kLineColours.size()];
      std::string poly;
      std::size_t in_poly = 0;
      TimePoint previous{};
      auto close = [&] {
        // A lone point is drawn as a short dash so that it shows at all.
        if (in_poly == 1) poly += " " + number(std::min(kWidth, x_of(previous) + 2)) + poly.substr(poly.rfind(','));
        if (in_poly > 0) {
          out += "<polyline stroke=\"";
          out += colour;
          out += "\" points=\"" + poly + "\"/>";
        }
        poly.clear();
        in_poly = 0;
      };
      for (const auto& [t, v] : points) {
        if (t < tl.from || t > tl.to) continue;
        if (!std::isfinite(v) || (in_poly > 0 && tl.step > Duration::zero() && t - previous > gap)) close();
        if (!std::isfinite(v)) continue;
        if (in_poly > 0) poly += ' ';
        poly += number(x_of(t)) + "," + number(y_of(v));
        ++in_poly;
        previous = t;
      }
      close();
    }
    out += "</svg><span class=\"tl-y top\">" + html_escape(format_go_value(hi)) + "</span><span class=\"tl-y bottom\">" +
           html_escape(format_go_value(lo)) + "</span></div>";
  }

  // ---- one band per alert ----
  const std::size_t lanes = std::min(tl.lanes.size(), kTimelineMaxLanes);
  for (std::size_t i = 0; i < lanes; ++i) {
    const TimelineLane& lane = tl.lanes[i];
    out += "<div class=\"tl-lane\"><div class=\"tl-lane-label\">" + html_escape(lane.label) +
           "</div><svg viewBox=\"0 0 1000 10\" preserveAspectRatio=\"none\">";
    for (const TimelineSpan& span : lane.spans) {
      if (span.end <= tl.from || span.start >= tl.to) continue;
      double x1 = x_of(span.start);
      double x2 = x_of(span.end);
      // At least a sliver, so that a one-step state is visible on a wide range.
      double w = std::max(x2 - x1, 1.0);
      out += "<rect class=\"tl-";
      out += state_name(span.state);
      out += "\" x=\"" + number(x1) + "\" y=\"0\" width=\"" + number(w) + "\" height=\"10\"><title>";
      out += state_name(span.state);
      out += " " + html_escape(format_rfc3339(span.start)) + " – " + html_escape(format_rfc3339(span.end)) +
             "</title></rect>";
    }
    out += "</svg></div>";
  }
  if (tl.lanes.empty()) out += "<p class=\"tl-note\">no alert was pending or firing in this range</p>";

  // ---- notifications ----
  if (!tl.marks.empty()) {
    out += "<div class=\"tl-marks\"><svg viewBox=\"0 0 1000 10\" preserveAspectRatio=\"none\" role=\"img\" "
           "aria-label=\"notifications\">";
    for (const TimelineMark& m : tl.marks) {
      if (m.at < tl.from || m.at > tl.to) continue;
      std::string x = number(x_of(m.at));
      out += "<line class=\"tl-mark ";
      out += m.resolved ? "resolved" : "firing";
      out += "\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"0\" y2=\"10\"><title>" + html_escape(m.title) + "</title></line>";
    }
    out += "</svg></div>";
  }

  // ---- time axis ----
  out += "<div class=\"tl-axis\">";
  for (TimePoint t = first_tick; t <= tl.to; t += ticks) {
    double pct = x_of(t) / kWidth * 100;
    // Labels near the ends are anchored inside, so that a narrow screen does not cut them.
    const char* cls = pct < 10 ? " class=\"first\"" : pct > 90 ? " class=\"last\"" : "";
    out += "<span";
    out += cls;
    out += " style=\"left:" + number(pct) + "%\">" + html_escape(tick_label(t, range, ticks)) + "</span>";
  }
  out += "</div>";

  // ---- legend ----
  out += "<ul class=\"tl-legend\">";
  for (std::size_t i = 0; i < lines; ++i) {
    out += "<li><span class=\"tl-swatch\" style=\"background:";
    out += kLineColours[i % kLineColours.size()];
    out += "\"></span>" + html_escape(tl.lines[i].label) + "</li>";
  }
  out += "<li><span class=\"tl-key tl-pending\"></span>pending</li><li><span class=\"tl-key tl-firing\"></span>firing</li>";
  bool flapping = false;
  for (const auto& lane : tl.lanes) {
    for (const auto& span : lane.spans) flapping = flapping || span.state == TimelineState::Flapping;
  }
  if (flapping) out += "<li><span class=\"tl-key tl-flapping\"></span>flapping</li>";
  if (!tl.marks.empty()) out += "<li><span class=\"tl-key tl-resolved\"></span>resolved notification</li>";
  out += "</ul>";
  if (tl.lines.size() > lines) {
    out += "<p class=\"tl-note\">" + std::to_string(tl.lines.size() - lines) + " more series not drawn</p>";
  }
  if (tl.lanes.size() > lanes) {
    out += "<p class=\"tl-note\">" + std::to_string(tl.lanes.size() - lanes) + " more alerts not drawn</p>";
  }
  out += "</div>";
  return out;
}

}  // namespace promwatch
