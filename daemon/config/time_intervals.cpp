// [[time_intervals]] (Alertmanager's recurring windows) and [[silences]] (one-off windows).

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>

#include "sections.hpp"

namespace promwatch::config_detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<int> parse_int(std::string_view s) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 6 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const int v = std::stoi(std::string(digits));
  return negative ? -v : v;
}

std::optional<int> parse_name_or_number(std::string_view s, const std::vector<std::string>& names, int first,
                                        int min, int max) {
  const std::string l = lower(s);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == l) return first + static_cast<int>(i);
  }
  auto v = parse_int(s);
  if (v && *v >= min && *v <= max) return v;
  return std::nullopt;
}

const std::vector<std::string> kWeekdays = {"sunday", "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};
const std::vector<std::string> kMonths = {"january", "february", "march",     "april",   "may",      "june",
                                          "july",    "august",   "september", "october", "november", "december"};

// "HH:MM", 00:00 to 24:00, as minutes since midnight.
std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto h = parse_int(s.substr(0, 2));
  auto m = parse_int(s.substr(3, 2));
  if (!h || !m || s[0] == '-' || s[3] == '-' || s[0] == '+' || s[3] == '+') return std::nullopt;
  if (*h > 24 || *m > 59 || (*h == 24 && *m != 0)) return std::nullopt;
  return *h * 60 + *m;
}

// A list of single values or "begin:end" ranges, strings or (for numeric fields) integers.
// `value` parses one end; `check` validates the finished range and returns an error or "".
void read_ranges(TableReader& r, std::string_view key, std::string_view expected,
                 const std::function<std::optional<int>(std::string_view)>& value,
                 const std::function<std::string(const IntRange&)>& check, std::vector<IntRange>& out) {
  const toml::node* n = r.get(key);
  if (!n) return;
  const auto* arr = n->as_array();
  if (!arr) {
    r.ctx().error(r.ctx().pos(*n), std::string(key) + ": expected an array of " + std::string(expected) + ", got " +
                                       std::string(type_name(*n)));
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    const std::string what = std::string(key) + "[" + std::to_string(i) + "]";
    std::string text;
    if (auto s = el.as_string()) {
      text = s->get();
    } else if (auto iv = el.as_integer()) {
      text = std::to_string(iv->get());
    } else {
      r.ctx().error(r.ctx().pos(el), what + ": expected a string, got " + std::string(type_name(el)));
      continue;
    }
    std::optional<int> begin, end;
    // A leading '-' is a negative day of month, not a range separator; ranges use ':'.
    if (auto colon = text.find(':'); colon != std::string::npos) {
      begin = value(std::string_view(text).substr(0, colon));
      end = value(std::string_view(text).substr(colon + 1));
    } else {
      begin = end = value(text);
    }
    if (!begin || !end) {
      r.ctx().error(r.ctx().pos(el), what + ": invalid value \"" + text + "\" (expected " + std::string(expected) + ")");
      continue;
    }
    IntRange range{*begin, *end};
    if (std::string problem = check(range); !problem.empty()) {
      r.ctx().error(r.ctx().pos(el), what + ": \"" + text + "\": " + problem);
      continue;
    }
    out.push_back(range);
  }
}

std::string ordered(const IntRange& r) {
  return r.begin <= r.end ? "" : "the start of a range must not be after its end";
}

bool is_valid_location(std::string_view name) {
  if (name == "UTC" || name == "Local") return true;
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos) return false;
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path("/usr/share/zoneinfo") / std::string(name), ec);
}

TimeIntervalSpec read_spec(Context& ctx, const toml::table& t) {
  TableReader r(ctx, t, "intervals", {"times", "weekdays", "days_of_month", "months", "years", "location"});
  TimeIntervalSpec spec;
  for (const toml::table* tt : r.tables("times")) {
    TableReader tr(ctx, *tt, "times", {"start_time", "end_time"});
    // Both are checked (and reported) before combining: no short-circuit.
    const bool has_start = tr.require("start_time");
    const bool has_end = tr.require("end_time");
    const bool ok = has_start && has_end;
    std::optional<int> start, end;
    for (std::string_view key : {"start_time", "end_time"}) {
      auto s = tr.string(key);
      if (!s) continue;
      auto m = parse_clock(*s);
      if (!m || (key == "start_time" && *m == 1440)) {
        ctx.error(tr.value_pos(key), std::string(key) + ": expected a time like \"09:30\" (00:00 to 24:00), got \"" +
                                         *s + "\"");
        continue;
      }
      (key == "start_time" ? start : end) = m;
    }
    if (ok && start && end) {
      if (*start >= *end) {
        ctx.error(tr.value_pos("end_time"), "end_time: must be after start_time");
      } else {
        spec.times.push_back({*start, *end});
      }
    }
  }
  read_ranges(
      r, "weekdays", "weekday names like \"monday\" or ranges like \"monday:friday\"",
      [](std::string_view s) -> std::optional<int> {
        const std::string l = lower(s);
        for (std::size_t i = 0; i < kWeekdays.size(); ++i) {
          if (kWeekdays[i] == l) return static_cast<int>(i);
        }
        return std::nullopt;
      },
      ordered, spec.weekdays);
  read_ranges(
      r, "days_of_month", "days 1 to 31 or -31 to -1, or ranges like \"1:5\"",
      [](std::string_view s) -> std::optional<int> {
        auto v = parse_int(s);
        if (!v || *v == 0 || *v < -31 || *v > 31) return std::nullopt;
        return v;
      },
      [](const IntRange& range) -> std::string {
        // As Alertmanager: compare with negative days counted from a 31-day month's end.
        const int b = range.begin < 0 ? range.begin + 32 : range.begin;
        const int e = range.end < 0 ? range.end + 32 : range.end;
        return b <= e ? "" : "the start day must not be after the end day";
      },
      spec.days_of_month);
  read_ranges(
      r, "months", "month names like \"january\", numbers 1 to 12, or ranges like \"january:march\"",
      [](std::string_view s) { return parse_name_or_number(s, kMonths, 1, 1, 12); }, ordered, spec.months);
  read_ranges(
      r, "years", "years like \"2026\" or ranges like \"2026:2027\"",
      [](std::string_view s) -> std::optional<int> {
        auto v = parse_int(s);
        if (!v || *v < 1 || *v > 9999) return std::nullopt;
        return v;
      },
      ordered, spec.years);
  if (auto v = r.string("location")) {
    if (!is_valid_location(*v)) {
      ctx.error(r.value_pos("location"), "location: unknown time zone \"" + *v +
                                             "\" (expected an IANA name like \"Asia/Shanghai\", \"UTC\" or \"Local\")");
    } else {
      spec.location = *v;
    }
  }
  return spec;
}

// A TOML offset date-time, or an RFC 3339 string.
std::optional<TimePoint> read_time(TableReader& r, std::string_view key) {
  const toml::node* n = r.get(key);
  if (!n) return std::nullopt;
  if (const auto* dt = n->as_date_time()) {
    const toml::date_time& v = dt->get();
    if (!v.offset) {
      r.ctx().error(r.ctx().pos(*n), std::string(key) + ": a date-time needs a time zone offset (like \"Z\" or \"+08:00\")");
      return std::nullopt;
    }
    using namespace std::chrono;
    const sys_days day = year_month_day{year{v.date.year}, month{v.date.month}, std::chrono::day{v.date.day}};
    TimePoint t = time_point_cast<milliseconds>(day) + hours{v.time.hour} + minutes{v.time.minute} +
                  seconds{v.time.second} + milliseconds{v.time.nanosecond / 1000000} -
                  minutes{v.offset->minutes};
    return t;
  }
  if (!n->is_string()) {
    r.ctx().error(r.ctx().pos(*n), std::string(key) + ": expected a date-time like 2026-12-01T00:00:00Z, got " +
                                       std::string(type_name(*n)));
    return std::nullopt;
  }
  auto s = r.string(key);
  if (!s) return std::nullopt;
  auto t = parse_time(*s);
  if (!t || s->find('T') == std::string::npos) {
    r.ctx().error(r.value_pos(key),
                  std::string(key) + ": invalid time \"" + *s + "\" (expected RFC 3339 like \"2026-12-01T00:00:00Z\")");
    return std::nullopt;
  }
  return t;
}

}  // namespace

void read_time_intervals(TableReader& root, Config& config) {
  for (const toml::table* t : root.tables("time_intervals")) {
    TableReader r(root.ctx(), *t, "[[time_intervals]]", {"name", "intervals"});
    TimeIntervalConfig ti;
    ti.pos = r.pos();
    if (r.require("name")) {
      if (auto v = r.string("name")) {
        auto dup = std::find_if(config.time_intervals.begin(), config.time_intervals.end(),
                                [&](const TimeIntervalConfig& o) { return o.name == *v; });
        if (v->empty()) {
          r.ctx().error(r.value_pos("name"), "name: must not be empty");
        } else if (dup != config.time_intervals.end()) {
          r.ctx().error(r.value_pos("name"), "duplicate time interval name \"" + *v + "\" (first defined at " +
                                                 dup->pos.to_string() + ")");
        }
        ti.name = *v;
      }
    }
    if (r.require("intervals")) {
      for (const toml::table* spec : r.tables("intervals")) ti.intervals.push_back(read_spec(r.ctx(), *spec));
    }
    config.time_intervals.push_back(std::move(ti));
  }
}

void read_silences(TableReader& root, Config& config) {
  for (const toml::table* t : root.tables("silences")) {
    TableReader r(root.ctx(), *t, "[[silences]]", {"matchers", "starts_at", "ends_at", "comment"});
    StaticSilenceConfig s;
    s.pos = r.pos();
    if (r.require("matchers")) {
      if (auto v = r.matchers("matchers")) {
        if (v->empty()) r.ctx().error(r.value_pos("matchers"), "matchers: a silence needs at least one matcher");
        s.matchers = std::move(*v);
      }
    }
    const bool has_starts = r.require("starts_at");
    const bool has_ends = r.require("ends_at");
    const bool have_times = has_starts && has_ends;
    auto starts = read_time(r, "starts_at");
    auto ends = read_time(r, "ends_at");
    if (have_times && starts && ends) {
      if (*ends <= *starts) r.ctx().error(r.value_pos("ends_at"), "ends_at: must be after starts_at");
      s.starts_at = *starts;
      s.ends_at = *ends;
    }
    if (auto v = r.string("comment")) s.comment = *v;
    config.silences.push_back(std::move(s));
  }
}

}  // namespace promwatch::config_detail
