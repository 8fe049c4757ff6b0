// Go's time.Time and time.Duration as templates print them: Time.String(), Time.Format with
// Go's reference layout ("2006-01-02 15:04:05"), Duration.String(), and time zones loaded
// from the system's zoneinfo (TZif) files for Alertmanager's `tz` function.
//
// We parse TZif ourselves instead of switching the process-wide TZ and calling localtime_r:
// that would race with every other thread; GCC 12's libstdc++ has no std::chrono::locate_zone.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "value.hpp"

namespace promwatch::tmpl {

struct Zone {
  struct Type {
    std::int32_t offset = 0;  // seconds east of UTC
    bool dst = false;
    std::string abbr;
  };
  // The POSIX TZ rule in a TZif footer ("EST5EDT,M3.2.0,M11.1.0"): the zone's rule after the
  // last listed transition.
  struct Rule {
    char kind = 'M';  // 'M' (month.week.day), 'J' (1-365, no Feb 29), 'N' (0-365)
    int mon = 0, week = 0, day = 0;
    int time = 7200;  // seconds after local midnight
  };
  struct Posix {
    Type std_type, dst_type;
    bool has_dst = false;
    Rule start, end;
  };
  std::string name;
  std::vector<Type> types;
  std::vector<std::int64_t> transitions;  // sorted instants (Unix seconds)
  std::vector<std::uint8_t> type_index;   // type in effect from each transition on
  std::optional<Posix> posix;

  const Type& lookup_posix(std::int64_t sec) const;

  const Type& lookup(std::int64_t sec) const {
    static const Type utc{0, false, "UTC"};
    if (types.empty()) return utc;
    if (transitions.empty() || sec < transitions.front()) {
      // Before the first transition: the first standard-time type (Go's lookupFirstZone).
      for (const auto& t : types)
        if (!t.dst) return t;
      return types.front();
    }
    // Past the last transition (2037 in Debian's "fat" files) the footer's rule applies.
    if (posix && sec >= transitions.back()) return lookup_posix(sec);
    auto it = std::upper_bound(transitions.begin(), transitions.end(), sec);
    std::size_t k = static_cast<std::size_t>(it - transitions.begin()) - 1;
    std::size_t ti = type_index[k];
    return ti < types.size() ? types[ti] : types.front();
  }
};

namespace {

// ---- calendar (proleptic Gregorian, as Go) ----

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct Civil {
  std::int64_t year;
  int month, day, hour, minute, second, weekday, yday;
};

std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  std::int64_t era = floor_div(y, 400);
  std::int64_t yoe = y - era * 400;
  std::int64_t mp = (m + 9) % 12;
  std::int64_t doy = (153 * mp + 2) / 5 + d - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Civil to_civil(std::int64_t sec) {
  std::int64_t days = floor_div(sec, 86400);
  std::int64_t rem = sec - days * 86400;
  Civil c{};
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem % 3600 / 60);
  c.second = static_cast<int>(rem % 60);
  c.weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  std::int64_t z = days + 719468;
  std::int64_t era = floor_div(z, 146097);
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = y + (c.month <= 2);
  c.yday = static_cast<int>(days - days_from_civil(c.year, 1, 1)) + 1;
  return c;
}

constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
constexpr const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

void append_int(std::string& out, std::int64_t v, int width, char fill = '0') {
  std::string d = std::to_string(v < 0 ? -v : v);
  if (v < 0) out += '-';
  for (int k = static_cast<int>(d.size()); k < width; ++k) out += fill;
  out += d;
}

// ---- POSIX TZ strings (the TZif footer) ----

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Parses [+-]hh[:mm[:ss]] into seconds.
bool posix_time(std::string_view& s, int* out) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int parts[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k) {
    if (s.empty() || s[0] < '0' || s[0] > '9') return false;
    int v = 0;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
      v = v * 10 + (s[0] - '0');
      if (v > 1000) return false;
      s.remove_prefix(1);
    }
    parts[k] = v;
    if (s.empty() || s[0] != ':' || k == 2) break;
    s.remove_prefix(1);
  }
  *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool posix_name(std::string_view& s, std::string* out) {
  if (!s.empty() && s[0] == '<') {
    std::size_t e = s.find('>');
    if (e == std::string_view::npos) return false;
    *out = std::string(s.substr(1, e - 1));
    s.remove_prefix(e + 1);
    return true;
  }
  std::size_t n = 0;
  while (n < s.size() && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z'))) ++n;
  if (n < 3) return false;
  *out = std::string(s.substr(0, n));
  s.remove_prefix(n);
  return true;
}

bool posix_rule(std::string_view& s, Zone::Rule* r) {
  auto num = [&](int* v) {
    if (s.empty() || s[0] < '0' || s[0] > '9') return false;
    *v = 0;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
      *v = *v * 10 + (s[0] - '0');
      if (*v > 1000) return false;
      s.remove_prefix(1);
    }
    return true;
  };
  if (s.empty()) return false;
  if (s[0] == 'M') {
    r->kind = 'M';
    s.remove_prefix(1);
    if (!num(&r->mon) || s.empty() || s[0] != '.') return false;
    s.remove_prefix(1);
    if (!num(&r->week) || s.empty() || s[0] != '.') return false;
    s.remove_prefix(1);
    if (!num(&r->day)) return false;
    if (r->mon < 1 || r->mon > 12 || r->week < 1 || r->week > 5 || r->day > 6) return false;
  } else if (s[0] == 'J') {
    r->kind = 'J';
    s.remove_prefix(1);
    if (!num(&r->day) || r->day < 1 || r->day > 365) return false;
  } else {
    r->kind = 'N';
    if (!num(&r->day) || r->day > 365) return false;
  }
  r->time = 7200;
  if (!s.empty() && s[0] == '/') {
    s.remove_prefix(1);
    if (!posix_time(s, &r->time)) return false;
  }
  return true;
}

std::optional<Zone::Posix> parse_posix(std::string_view s) {
  Zone::Posix p;
  int off = 0;
  if (!posix_name(s, &p.std_type.abbr) || !posix_time(s, &off)) return std::nullopt;
  p.std_type.offset = -off;  // POSIX offsets are west of UTC
  if (s.empty()) return p;
  if (!posix_name(s, &p.dst_type.abbr)) return std::nullopt;
  p.dst_type.dst = true;
  p.dst_type.offset = p.std_type.offset + 3600;
  if (!s.empty() && s[0] != ',') {
    if (!posix_time(s, &off)) return std::nullopt;
    p.dst_type.offset = -off;
  }
  if (s.empty()) return std::nullopt;  // no rule: Go falls back to the last transition as well
  s.remove_prefix(1);
  if (!posix_rule(s, &p.start) || s.empty() || s[0] != ',') return std::nullopt;
  s.remove_prefix(1);
  if (!posix_rule(s, &p.end) || !s.empty()) return std::nullopt;
  p.has_dst = true;
  return p;
}

// Seconds from the start of `year` (local time) to the rule's moment.
std::int64_t rule_seconds(std::int64_t year, const Zone::Rule& r) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  std::int64_t yday = 0;
  if (r.kind == 'J') {
    yday = r.day - 1 + ((is_leap(year) && r.day >= 60) ? 1 : 0);
  } else if (r.kind == 'N') {
    yday = r.day;
  } else {
    std::int64_t first = days_from_civil(year, r.mon, 1);
    int wday = static_cast<int>(((first % 7) + 7 + 4) % 7);
    int dim = kDays[r.mon - 1] + ((r.mon == 2 && is_leap(year)) ? 1 : 0);
    int mday = 1 + (r.day - wday + 7) % 7 + (r.week - 1) * 7;
    while (mday > dim) mday -= 7;
    yday = first - days_from_civil(year, 1, 1) + mday - 1;
  }
  return yday * 86400 + r.time;
}

// ---- TZif ----

std::int64_t be(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | p[k];
  if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

bool parse_tzif(const std::string& data, Zone& z) {
  auto u = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t size = data.size();
  auto parse_block = [&](std::size_t off, int tsize, std::size_t* end, bool keep) -> bool {
    if (off + 44 > size || data.compare(off, 4, "TZif") != 0) return false;
    std::int64_t isut = be(u + off + 20, 4), isstd = be(u + off + 24, 4), leap = be(u + off + 28, 4),
                 timecnt = be(u + off + 32, 4), typecnt = be(u + off + 36, 4), charcnt = be(u + off + 40, 4);
    if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 || typecnt <= 0 || charcnt < 0 || typecnt > 256)
      return false;
    std::size_t p = off + 44;
    std::size_t need = static_cast<std::size_t>(timecnt) * (static_cast<std::size_t>(tsize) + 1) +
                       static_cast<std::size_t>(typecnt) * 6 + static_cast<std::size_t>(charcnt) +
                       static_cast<std::size_t>(leap) * (static_cast<std::size_t>(tsize) + 4) +
                       static_cast<std::size_t>(isstd + isut);
    if (p + need > size) return false;
    *end = p + need;
    if (!keep) return true;
    z.transitions.clear();
    z.type_index.clear();
    z.types.clear();
    for (std::int64_t k = 0; k < timecnt; ++k) z.transitions.push_back(be(u + p + static_cast<std::size_t>(k * tsize), tsize));
    p += static_cast<std::size_t>(timecnt * tsize);
    for (std::int64_t k = 0; k < timecnt; ++k) z.type_index.push_back(u[p + static_cast<std::size_t>(k)]);
    p += static_cast<std::size_t>(timecnt);
    std::size_t chars = p + static_cast<std::size_t>(typecnt) * 6;
    for (std::int64_t k = 0; k < typecnt; ++k) {
      Zone::Type t;
      t.offset = static_cast<std::int32_t>(be(u + p, 4));
      t.dst = u[p + 4] != 0;
      std::size_t ai = u[p + 5];
      if (ai < static_cast<std::size_t>(charcnt)) {
        const char* a = data.data() + chars + ai;
        std::size_t len = 0;
        while (ai + len < static_cast<std::size_t>(charcnt) && a[len] != '\0') ++len;
        t.abbr.assign(a, len);
      }
      z.types.push_back(std::move(t));
      p += 6;
    }
    return std::is_sorted(z.transitions.begin(), z.transitions.end());
  };
  std::size_t end = 0;
  if (!parse_block(0, 4, &end, true)) return false;
  if (size > 4 && data[4] >= '2') {
    std::size_t end2 = 0;
    Zone copy = z;
    if (!parse_block(end, 8, &end2, true)) {
      z = std::move(copy);
    } else if (end2 < size && data[end2] == '\n') {
      std::size_t nl = data.find('\n', end2 + 1);
      if (nl != std::string::npos) z.posix = parse_posix(std::string_view(data).substr(end2 + 1, nl - end2 - 1));
    }
  }
  return true;
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.front() == '\\') return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
              c == '_' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const Zone::Type& Zone::lookup_posix(std::int64_t sec) const {
  const Posix& p = *posix;
  if (!p.has_dst) return p.std_type;
  std::int64_t year = to_civil(sec + p.std_type.offset).year;
  std::int64_t year_start = days_from_civil(year, 1, 1) * 86400;
  // Transition instants in UTC: the start is given in standard time, the end in DST.
  std::int64_t start = year_start + rule_seconds(year, p.start) - p.std_type.offset;
  std::int64_t end = year_start + rule_seconds(year, p.end) - p.dst_type.offset;
  bool dst = start < end ? (sec >= start && sec < end) : !(sec >= end && sec < start);
  return dst ? p.dst_type : p.std_type;
}

std::shared_ptr<const Zone> load_zone(std::string_view name, std::string* error) {
  if (name.empty() || name == "UTC") return nullptr;  // UTC
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Zone>, std::less<>> cache;
  {
    std::lock_guard lock(mu);
    auto it = cache.find(name);
    if (it != cache.end()) return it->second;
  }
  std::string path;
  if (name == "Local") {
    path = "/etc/localtime";
  } else {
    if (!valid_zone_name(name)) {
      if (error) *error = "time: invalid location name";
      return nullptr;
    }
    path = "/usr/share/zoneinfo/" + std::string(name);
  }
  std::ifstream in(path, std::ios::binary);
  std::string data;
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    data = ss.str();
  }
  auto z = std::make_shared<Zone>();
  z->name = std::string(name);
  if (data.size() > (1u << 20) || !parse_tzif(data, *z)) {
    if (name == "Local") return nullptr;
    if (error) *error = "unknown time zone " + std::string(name);
    return nullptr;
  }
  std::lock_guard lock(mu);
  if (cache.size() < 1024) cache.emplace(std::string(name), z);
  return z;
}

std::string go_format_time(const GoTime& t, std::string_view layout) {
  std::int32_t offset = 0;
  std::string abbr = "UTC";
  if (t.zone) {
    const auto& zt = t.zone->lookup(t.sec);
    offset = zt.offset;
    abbr = zt.abbr;
  }
  Civil c = to_civil(t.sec + offset);
  std::string out;
  std::size_t i = 0;
  auto starts = [&](std::string_view s) { return layout.substr(i, s.size()) == s; };
  auto zone_std = [&](bool z_form, int parts, bool colons) {
    // ISO 8601 offsets: -07, -0700, -07:00, -070000, -07:00:00; the Z forms print "Z" at UTC.
    if (z_form && offset == 0) {
      out += 'Z';
      return;
    }
    int off = offset;
    out += off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    append_int(out, off / 3600, 2);
    if (parts >= 2) {
      if (colons) out += ':';
      append_int(out, off / 60 % 60, 2);
    }
    if (parts >= 3) {
      if (colons) out += ':';
      append_int(out, off % 60, 2);
    }
  };
  while (i < layout.size()) {
    char ch = layout[i];
    int hour12 = c.hour % 12 == 0 ? 12 : c.hour % 12;
    switch (ch) {
      case 'J':
        if (starts("January")) { out += kMonths[c.month - 1]; i += 7; continue; }
        if (starts("Jan")) { out.append(kMonths[c.month - 1], 3); i += 3; continue; }
        break;
      case 'M':
        if (starts("Monday")) { out += kDays[c.weekday]; i += 6; continue; }
        if (starts("Mon")) { out.append(kDays[c.weekday], 3); i += 3; continue; }
        if (starts("MST")) {
          if (!abbr.empty()) {
            out += abbr;
          } else {
            int z = offset / 60;
            out += z < 0 ? '-' : '+';
            if (z < 0) z = -z;
            append_int(out, z / 60, 2);
            append_int(out, z % 60, 2);
          }
          i += 3;
          continue;
        }
        break;
      case '0':
        if (starts("002")) { append_int(out, c.yday, 3); i += 3; continue; }
        if (i + 1 < layout.size() && layout[i + 1] >= '1' && layout[i + 1] <= '6') {
          switch (layout[i + 1]) {
            case '1': append_int(out, c.month, 2); break;
            case '2': append_int(out, c.day, 2); break;
            case '3': append_int(out, hour12, 2); break;
            case '4': append_int(out, c.minute, 2); break;
            case '5': append_int(out, c.second, 2); break;
            case '6': append_int(out, ((c.year % 100) + 100) % 100, 2); break;
          }
          i += 2;
          continue;
        }
        break;
      case '1':
        if (starts("15")) { append_int(out, c.hour, 2); i += 2; continue; }
        append_int(out, c.month, 0);
        ++i;
        continue;
      case '2':
        if (starts("2006")) { append_int(out, c.year, 4); i += 4; continue; }
        append_int(out, c.day, 0);
        ++i;
        continue;
      case '_':
        if (starts("_2006")) { out += '_'; append_int(out, c.year, 4); i += 5; continue; }
        if (starts("_2")) { append_int(out, c.day, 2, ' '); i += 2; continue; }
        if (starts("__2")) { append_int(out, c.yday, 3, ' '); i += 3; continue; }
        break;
      case '3': append_int(out, hour12, 0); ++i; continue;
      case '4': append_int(out, c.minute, 0); ++i; continue;
      case '5': append_int(out, c.second, 0); ++i; continue;
      case 'P':
        if (starts("PM")) { out += c.hour >= 12 ? "PM" : "AM"; i += 2; continue; }
        break;
      case 'p':
        if (starts("pm")) { out += c.hour >= 12 ? "pm" : "am"; i += 2; continue; }
        break;
      case '-':
      case 'Z': {
        bool z = ch == 'Z';
        std::string p(1, ch);
        if (starts(p + "070000")) { zone_std(z, 3, false); i += 7; continue; }
        if (starts(p + "07:00:00")) { zone_std(z, 3, true); i += 9; continue; }
        if (starts(p + "0700")) { zone_std(z, 2, false); i += 5; continue; }
        if (starts(p + "07:00")) { zone_std(z, 2, true); i += 6; continue; }
        if (starts(p + "07")) { zone_std(z, 1, false); i += 3; continue; }
        break;
      }
      case '.':
      case ',':
        if (i + 1 < layout.size() && (layout[i + 1] == '0' || layout[i + 1] == '9')) {
          char d = layout[i + 1];
          std::size_t j = i + 1;
          while (j < layout.size() && layout[j] == d) ++j;
          if (!(j < layout.size() && layout[j] >= '0' && layout[j] <= '9')) {
            std::size_t n = std::min<std::size_t>(j - (i + 1), 9);
            std::string digits;
            append_int(digits, t.nsec, 9);
            digits.resize(n);
            if (d == '9') {
              while (!digits.empty() && digits.back() == '0') digits.pop_back();
              if (!digits.empty()) {
                out += ch;
                out += digits;
              }
            } else {
              out += ch;
              out += digits;
            }
            i = j;
            continue;
          }
        }
        break;
      default: break;
    }
    out += ch;
    ++i;
  }
  return out;
}

std::string go_time_string(const GoTime& t) { return go_format_time(t, "2006-01-02 15:04:05.999999999 -0700 MST"); }

std::string go_time_rfc3339nano(const GoTime& t) { return go_format_time(t, "2006-01-02T15:04:05.999999999Z07:00"); }

std::string go_duration_string(std::int64_t d) {
  if (d == 0) return "0s";
  bool neg = d < 0;
  std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(d) : static_cast<std::uint64_t>(d);
  // The fraction of u / 10^prec without trailing zeros, and without the point when zero.
  auto frac = [](std::uint64_t& v, int prec) {
    std::string digits;
    bool print = false;
    for (int k = 0; k < prec; ++k) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    return print ? "." + digits : std::string();
  };
  std::string out;
  if (u < 1000000000ULL) {
    std::string unit;
    int prec;
    if (u < 1000) {
      prec = 0;
      unit = "ns";
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xC2\xB5s";  // µs, as Go prints it
    } else {
      prec = 6;
      unit = "ms";
    }
    std::string f = frac(u, prec);
    out = std::to_string(u) + f + unit;
  } else {
    std::string f = frac(u, 9);
    out = std::to_string(u % 60) + f + "s";
    u /= 60;
    if (u > 0) {
      out = std::to_string(u % 60) + "m" + out;
      u /= 60;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

}  // namespace promwatch::tmpl
