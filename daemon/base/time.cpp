#include "promwatch/time.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <system_error>

#include <time.h>

namespace promwatch {

using namespace std::chrono;

TimePoint now() { return floor<milliseconds>(system_clock::now()); }

Duration boot_clock() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return duration_cast<milliseconds>(seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec));
}

Duration WallClockWatch::observe(TimePoint wall, Duration boot) {
  Duration step{0};
  if (anchored_) {
    Duration drift = (wall - last_wall_) - (boot - last_boot_);
    if (drift >= tolerance_ || drift <= -tolerance_) step = drift;
  }
  anchored_ = true;
  last_wall_ = wall;
  last_boot_ = boot;
  return step;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads an unsigned decimal at s[i...]; false when there is none or it overflows.
bool read_uint(std::string_view s, std::size_t& i, std::uint64_t& out) {
  std::size_t start = i;
  std::uint64_t v = 0;
  while (i < s.size() && is_digit(s[i])) {
    std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
    ++i;
  }
  out = v;
  return i > start;
}

struct DurationUnit {
  std::string_view name;
  std::int64_t millis;
};

// In the order Prometheus requires them; "ms" before "m" only matters when matching names.
constexpr DurationUnit kDurationUnits[] = {
    {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000}, {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},            {"m", 60LL * 1000},            {"s", 1000},
    {"ms", 1},
};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  if (text.empty()) return std::nullopt;
  std::size_t i = 0;
  int next_unit = 0;  // units must appear in decreasing order, each at most once
  std::int64_t total = 0;
  while (i < text.size()) {
    std::uint64_t n = 0;
    if (!read_uint(text, i, n)) return std::nullopt;
    std::size_t unit_start = i;
    while (i < text.size() && !is_digit(text[i])) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int found = -1;
    for (int u = next_unit; u < static_cast<int>(std::size(kDurationUnits)); ++u) {
      if (kDurationUnits[u].name == unit) {
        found = u;
        break;
      }
    }
    if (found < 0) return std::nullopt;
    std::int64_t mult = kDurationUnits[found].millis;
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / mult)) return std::nullopt;
    std::int64_t part = static_cast<std::int64_t>(n) * mult;
    if (total > std::numeric_limits<std::int64_t>::max() - part) return std::nullopt;
    total += part;
    next_unit = found + 1;
  }
  return Duration{total};
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  for (const auto& unit : kDurationUnits) {
    // Years and weeks only when exact: "90d" reads better than "12w6d".
    bool exact_only = unit.name == "y" || unit.name == "w";
    if (exact_only && ms % unit.millis != 0) continue;
    std::int64_t v = ms / unit.millis;
    if (v > 0) {
      out += std::to_string(v);
      out += unit.name;
      ms -= v * unit.millis;
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  if (!read_uint(text, i, n)) return std::nullopt;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  struct SizeUnit {
    std::string_view name;
    std::uint64_t mult;
  };
  static constexpr SizeUnit kUnits[] = {
      {"", 1},          {"B", 1},           {"KB", 1000},       {"MB", 1000000},
      {"GB", 1000000000}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
  };
  for (const auto& u : kUnits) {
    if (u.name == unit) {
      if (n > std::numeric_limits<std::uint64_t>::max() / u.mult) return std::nullopt;
      return n * u.mult;
    }
  }
  return std::nullopt;
}

std::string format_rfc3339(TimePoint t) {
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> hms{t - day};
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  int ms = static_cast<int>(hms.subseconds().count());
  if (ms != 0) {
    // RFC3339Nano trims trailing zeros of the fraction.
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", ms);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += 'Z';
  return out;
}

namespace {

bool read_fixed(std::string_view s, std::size_t& i, std::size_t width, int& out) {
  if (i + width > s.size()) return false;
  int v = 0;
  for (std::size_t k = 0; k < width; ++k) {
    if (!is_digit(s[i + k])) return false;
    v = v * 10 + (s[i + k] - '0');
  }
  i += width;
  out = v;
  return true;
}

std::optional<TimePoint> parse_rfc3339(std::string_view s) {
  std::size_t i = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!read_fixed(s, i, 4, y) || i >= s.size() || s[i++] != '-') return std::nullopt;
  if (!read_fixed(s, i, 2, mo) || i >= s.size() || s[i++] != '-') return std::nullopt;
  if (!read_fixed(s, i, 2, d) || i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
    return std::nullopt;
  ++i;
  if (!read_fixed(s, i, 2, h) || i >= s.size() || s[i++] != ':') return std::nullopt;
  if (!read_fixed(s, i, 2, mi) || i >= s.size() || s[i++] != ':') return std::nullopt;
  if (!read_fixed(s, i, 2, sec)) return std::nullopt;
  std::int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    int scale = 100;
    while (i < s.size() && is_digit(s[i])) {
      millis += (s[i] - '0') * scale;  // digits past milliseconds are truncated
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  if (i >= s.size()) return std::nullopt;
  int offset_minutes = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh, om;
    if (!read_fixed(s, i, 2, oh) || i >= s.size() || s[i++] != ':' || !read_fixed(s, i, 2, om))
      return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  sys_days days_since_epoch{ymd};
  TimePoint t = time_point_cast<milliseconds>(days_since_epoch) + hours{h} + minutes{mi} + seconds{sec} +
                milliseconds{millis};
  return t - minutes{offset_minutes};
}

}  // namespace

std::optional<TimePoint> parse_time(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (auto t = parse_rfc3339(text)) return t;
  // Unix seconds, optionally with a fraction.
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  if (std::fabs(v) > 1e15) return std::nullopt;
  return TimePoint{milliseconds{static_cast<std::int64_t>(std::llround(v * 1000.0))}};
}

std::string format_unix_seconds(TimePoint t) {
  std::int64_t ms = t.time_since_epoch().count();
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(secs), static_cast<long long>(frac));
  return buf;
}

double to_unix_seconds(TimePoint t) { return static_cast<double>(t.time_since_epoch().count()) / 1000.0; }
double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

namespace {

// The shortest decimal digits that read back as |v|, and the position of the decimal point
// relative to them (Go's decimalSlice: value = 0.d1d2d3... * 10^point).
struct ShortestDigits {
  std::string digits;
  int point = 0;
};

ShortestDigits shortest_digits(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
  // s looks like "d.ddde+XX" or "de-XX".
  auto e = s.find('e');
  ShortestDigits out;
  for (char c : s.substr(0, e)) {
    if (c != '.') out.digits += c;
  }
  int exp = 0;
  std::from_chars(s.data() + e + 1 + (s[e + 1] == '+' ? 1 : 0), s.data() + s.size(), exp);
  while (out.digits.size() > 1 && out.digits.back() == '0') out.digits.pop_back();
  out.point = exp + 1;
  if (out.digits == "0") out.point = 1;
  return out;
}

std::string format_e(const ShortestDigits& d) {
  std::string out(1, d.digits[0]);
  if (d.digits.size() > 1) {
    out += '.';
    out.append(d.digits, 1, std::string::npos);
  }
  int exp = d.digits == "0" ? 0 : d.point - 1;
  out += 'e';
  out += exp < 0 ? '-' : '+';
  int a = exp < 0 ? -exp : exp;
  if (a < 10) out += '0';
  out += std::to_string(a);
  return out;
}

std::string format_f(const ShortestDigits& d) {
  std::string out;
  if (d.point <= 0) {
    out = "0";
    if (d.digits != "0") {
      out += '.';
      out.append(static_cast<std::size_t>(-d.point), '0');
      out += d.digits;
    }
    return out;
  }
  auto point = static_cast<std::size_t>(d.point);
  if (d.digits.size() <= point) {
    out = d.digits;
    out.append(point - d.digits.size(), '0');
  } else {
    out = d.digits.substr(0, point);
    out += '.';
    out += d.digits.substr(point);
  }
  return out;
}

}  // namespace

std::string format_go_float(double v, char fmt) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  ShortestDigits d = shortest_digits(v);
  std::string sign = std::signbit(v) ? "-" : "";
  switch (fmt) {
    case 'e':
      return sign + format_e(d);
    case 'f':
      return sign + format_f(d);
    default: {
      // strconv's 'g' with shortest precision decides with eprec = 6.
      int exp = d.point - 1;
      if (d.digits == "0") exp = 0;
      if (exp < -4 || exp >= 6) return sign + format_e(d);
      return sign + format_f(d);
    }
  }
}

std::string format_go_value(double v) { return format_go_float(v, 'g'); }

}  // namespace promwatch
