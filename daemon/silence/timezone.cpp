// Time zones from TZif files (RFC 8536) and POSIX TZ strings, without the C library's global
// TZ state: GCC 12's libstdc++ has no std::chrono::locate_zone, and localtime_r under a TZ
// switch is neither thread-safe nor cheap.

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "promwatch/silence.hpp"

namespace promwatch {

namespace {

constexpr std::int64_t kDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Ymd {
  std::int64_t y;
  unsigned m;
  unsigned d;
};
Ymd civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(std::int64_t y, unsigned m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

// A POSIX TZ rule: std offset, optional dst offset and the two yearly transitions.
struct TimeZone::PosixRule {
  enum class DateKind { Julian1, Julian0, MonthWeekDay };
  struct Date {
    DateKind kind = DateKind::MonthWeekDay;
    int n = 0;  // Jn / n
    int month = 0, week = 0, wday = 0;
    int time = 7200;  // seconds after local midnight, may be negative or > 24h
  };
  int std_utoff = 0;  // seconds east
  bool has_dst = false;
  int dst_utoff = 0;
  Date start, end;

  // Unix seconds of local midnight starting `date`'s day in year `y`, in UTC terms (no offset).
  static std::int64_t day_start(const Date& date, std::int64_t y) {
    const std::int64_t jan1 = days_from_civil(y, 1, 1);
    std::int64_t day = 0;
    switch (date.kind) {
      case DateKind::Julian1:
        day = date.n - 1;
        if (is_leap(y) && date.n >= 60) ++day;
        break;
      case DateKind::Julian0:
        day = date.n;
        break;
      case DateKind::MonthWeekDay: {
        const std::int64_t first = days_from_civil(y, static_cast<unsigned>(date.month), 1);
        const int first_wday = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
        int mday = 1 + (date.wday - first_wday + 7) % 7 + (date.week - 1) * 7;
        const int dim = days_in_month(y, static_cast<unsigned>(date.month));
        while (mday > dim) mday -= 7;
        return (first + mday - 1) * kDay;
      }
    }
    return (jan1 + day) * kDay;
  }

  int offset(std::int64_t t) const {
    if (!has_dst) return std_utoff;
    const std::int64_t y = civil_from_days(floor_div(t + std_utoff, kDay)).y;
    const std::int64_t s = day_start(start, y) + start.time - std_utoff;
    const std::int64_t e = day_start(end, y) + end.time - dst_utoff;
    bool dst;
    if (s < e) {
      dst = t >= s && t < e;
    } else {
      dst = !(t >= e && t < s);
    }
    return dst ? dst_utoff : std_utoff;
  }
};

namespace {

class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  std::optional<TimeZone::PosixRule> parse(std::string* error) {
    TimeZone::PosixRule r;
    if (!name()) return fail(error, "bad standard time name");
    auto off = hms(true, 24);
    if (!off) return fail(error, "bad standard time offset");
    r.std_utoff = -*off;
    if (at_end()) return r;
    if (!name()) return fail(error, "bad daylight saving time name");
    r.has_dst = true;
    r.dst_utoff = r.std_utoff + 3600;
    if (!at_end() && peek() != ',') {
      auto d = hms(true, 24);
      if (!d) return fail(error, "bad daylight saving time offset");
      r.dst_utoff = -*d;
    }
    if (at_end()) {
      // No rule: the US rules, as glibc assumes.
      r.start.month = 3, r.start.week = 2, r.start.wday = 0;
      r.end.month = 11, r.end.week = 1, r.end.wday = 0;
      return r;
    }
    if (!eat(',') || !date(r.start) || !eat(',') || !date(r.end) || !at_end())
      return fail(error, "bad daylight saving time rule");
    return r;
  }

 private:
  std::optional<TimeZone::PosixRule> fail(std::string* error, const char* what) {
    if (error) *error = std::string("invalid TZ string \"") + std::string(s_) + "\": " + what;
    return std::nullopt;
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  bool name() {
    if (eat('<')) {
      const std::size_t start = i_;
      while (!at_end() && s_[i_] != '>') {
        const char c = s_[i_];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-')) return false;
        ++i_;
      }
      if (i_ - start < 1 || !eat('>')) return false;
      return true;
    }
    const std::size_t start = i_;
    while (!at_end() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ - start >= 3;
  }
  std::optional<int> number(int max) {
    const std::size_t start = i_;
    int v = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(s_[i_])) && i_ - start < 3) {
      v = v * 10 + (s_[i_] - '0');
      ++i_;
    }
    if (i_ == start || v > max) return std::nullopt;
    return v;
  }
  // [+-]hh[:mm[:ss]] as seconds.
  std::optional<int> hms(bool signed_ok, int max_hours) {
    int sign = 1;
    if (signed_ok && (peek() == '+' || peek() == '-')) sign = s_[i_++] == '-' ? -1 : 1;
    auto h = number(max_hours);
    if (!h) return std::nullopt;
    int v = *h * 3600;
    if (eat(':')) {
      auto m = number(59);
      if (!m) return std::nullopt;
      v += *m * 60;
      if (eat(':')) {
        auto sec = number(59);
        if (!sec) return std::nullopt;
        v += *sec;
      }
    }
    return sign * v;
  }
  bool date(TimeZone::PosixRule::Date& d) {
    using K = TimeZone::PosixRule::DateKind;
    if (eat('J')) {
      auto n = number(365);
      if (!n || *n < 1) return false;
      d.kind = K::Julian1;
      d.n = *n;
    } else if (eat('M')) {
      auto m = number(12);
      if (!m || *m < 1 || !eat('.')) return false;
      auto w = number(5);
      if (!w || *w < 1 || !eat('.')) return false;
      auto wd = number(6);
      if (!wd) return false;
      d.kind = K::MonthWeekDay;
      d.month = *m, d.week = *w, d.wday = *wd;
    } else {
      auto n = number(365);
      if (!n) return false;
      d.kind = K::Julian0;
      d.n = *n;
    }
    d.time = 7200;
    if (eat('/')) {
      auto t = hms(true, 167);  // RFC 8536 extension: -167..167 hours
      if (!t) return false;
      d.time = *t;
    }
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool have(std::size_t n) const { return d_.size() - pos_ >= n; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(d_[pos_++]);
    return v;
  }
  std::int64_t i32() { return static_cast<std::int32_t>(u32()); }
  std::int64_t i64() {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = (v << 8) | static_cast<unsigned char>(d_[pos_++]);
    return static_cast<std::int64_t>(v);
  }
  std::uint8_t u8() { return static_cast<unsigned char>(d_[pos_++]); }
  void skip(std::size_t n) { pos_ += n; }
  std::size_t pos() const { return pos_; }
  std::string_view rest() const { return d_.substr(pos_); }

 private:
  std::string_view d_;
  std::size_t pos_ = 0;
};

struct Header {
  char version = 0;
  std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

bool read_header(Reader& r, Header& h) {
  if (!r.have(44)) return false;
  std::string_view magic = r.rest().substr(0, 4);
  if (magic != "TZif") return false;
  r.skip(4);
  h.version = static_cast<char>(r.u8());
  r.skip(15);
  h.isutcnt = r.u32();
  h.isstdcnt = r.u32();
  h.leapcnt = r.u32();
  h.timecnt = r.u32();
  h.typecnt = r.u32();
  h.charcnt = r.u32();
  // Sanity bounds: far above any real file, low enough to rule out overflow below.
  if (h.timecnt > 1'000'000 || h.typecnt > 256 || h.typecnt == 0 || h.charcnt > 1'000'000 ||
      h.leapcnt > 100'000 || h.isutcnt > 256 || h.isstdcnt > 256)
    return false;
  if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) return false;
  return true;
}

std::size_t data_size(const Header& h, std::size_t time_size) {
  return h.timecnt * time_size + h.timecnt + h.typecnt * 6 + h.charcnt + h.leapcnt * (time_size + 4) + h.isstdcnt +
         h.isutcnt;
}

}  // namespace

TimeZone::TimeZone(std::string name, std::vector<std::int64_t> transitions, std::vector<std::uint8_t> transition_types,
                   std::vector<Type> types, std::shared_ptr<const PosixRule> rule)
    : name_(std::move(name)),
      transitions_(std::move(transitions)),
      transition_types_(std::move(transition_types)),
      types_(std::move(types)),
      rule_(std::move(rule)) {
  if (types_.empty()) types_.push_back({});
}

TimeZone::~TimeZone() = default;

int TimeZone::utc_offset(std::int64_t t) const {
  if (transitions_.empty() || t < transitions_.front()) {
    if (transitions_.empty() && rule_) return rule_->offset(t);
    return types_[0].utoff;
  }
  if (t >= transitions_.back() && rule_) return rule_->offset(t);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  const std::size_t i = static_cast<std::size_t>(it - transitions_.begin()) - 1;
  return types_[transition_types_[i]].utoff;
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const auto zone = std::make_shared<const TimeZone>("UTC", std::vector<std::int64_t>{},
                                                            std::vector<std::uint8_t>{}, std::vector<Type>{Type{}},
                                                            nullptr);
  return zone;
}

std::shared_ptr<const TimeZone> TimeZone::from_posix(std::string_view tz, std::string* error) {
  PosixParser p(tz);
  auto rule = p.parse(error);
  if (!rule) return nullptr;
  return std::make_shared<const TimeZone>(std::string(tz), std::vector<std::int64_t>{}, std::vector<std::uint8_t>{},
                                          std::vector<Type>{Type{rule->std_utoff, false}},
                                          std::make_shared<const PosixRule>(*rule));
}

std::shared_ptr<const TimeZone> TimeZone::from_tzif(std::string_view data, std::string name, std::string* error) {
  auto fail = [&](const std::string& why) -> std::shared_ptr<const TimeZone> {
    if (error) *error = "time zone \"" + name + "\": " + why;
    return nullptr;
  };
  Reader r(data);
  Header h;
  if (!read_header(r, h)) return fail("not a valid TZif file");
  std::size_t time_size = 4;
  if (h.version >= '2') {
    const std::size_t v1 = data_size(h, 4);
    if (!r.have(v1)) return fail("truncated TZif file");
    r.skip(v1);
    if (!read_header(r, h)) return fail("not a valid TZif version 2+ file");
    time_size = 8;
  }
  if (!r.have(data_size(h, time_size))) return fail("truncated TZif file");
  std::vector<std::int64_t> transitions(h.timecnt);
  for (auto& t : transitions) t = time_size == 8 ? r.i64() : r.i32();
  if (!std::is_sorted(transitions.begin(), transitions.end())) return fail("transitions out of order");
  std::vector<std::uint8_t> idx(h.timecnt);
  for (auto& i : idx) {
    i = r.u8();
    if (i >= h.typecnt) return fail("bad transition type");
  }
  std::vector<Type> types(h.typecnt);
  for (auto& t : types) {
    const std::int64_t off = r.i32();
    const std::uint8_t isdst = r.u8();
    const std::uint8_t desig = r.u8();
    if (off < -89999 || off > 93599 || isdst > 1 || desig >= std::max<std::uint32_t>(h.charcnt, 1))
      return fail("bad local time type");
    t.utoff = static_cast<int>(off);
    t.isdst = isdst == 1;
  }
  r.skip(h.charcnt + h.leapcnt * (time_size + 4) + h.isstdcnt + h.isutcnt);
  std::shared_ptr<const PosixRule> rule;
  if (time_size == 8) {
    std::string_view rest = r.rest();
    if (rest.size() >= 2 && rest.front() == '\n') {
      const auto nl = rest.find('\n', 1);
      if (nl == std::string_view::npos) return fail("unterminated TZ string footer");
      const std::string_view footer = rest.substr(1, nl - 1);
      if (!footer.empty()) {
        std::string perr;
        PosixParser p(footer);
        auto pr = p.parse(&perr);
        if (!pr) return fail(perr);
        rule = std::make_shared<const PosixRule>(*pr);
      }
    }
  }
  return std::make_shared<const TimeZone>(std::move(name), std::move(transitions), std::move(idx), std::move(types),
                                          std::move(rule));
}

std::shared_ptr<const TimeZone> TimeZone::load(std::string_view name, std::string* error,
                                               const std::string& zoneinfo_dir) {
  if (name.empty() || name == "UTC") return utc();
  std::string path;
  std::string display(name);
  if (name == "Local") {
    const char* tz = std::getenv("TZ");
    if (tz && *tz) {
      std::string_view v(tz);
      if (v.front() == ':') v.remove_prefix(1);
      if (!v.empty() && v.front() == '/') {
        path = std::string(v);
      } else if (v == "UTC") {
        return utc();
      } else if (!v.empty() && v.find("..") == std::string_view::npos) {
        path = zoneinfo_dir + "/" + std::string(v);
      }
    } else if (tz) {
      return utc();  // TZ="" means UTC, as in Go and glibc
    }
    if (path.empty()) path = "/etc/localtime";
  } else {
    if (name.front() == '/' || name.find("..") != std::string_view::npos || name.find('\\') != std::string_view::npos) {
      if (error) *error = "invalid time zone name \"" + display + "\"";
      return nullptr;
    }
    path = zoneinfo_dir + "/" + display;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (name == "Local") {
      // TZ may hold a POSIX rule rather than a zone name ("CET-1CEST,M3.5.0,M10.5.0/3").
      const char* tz = std::getenv("TZ");
      if (tz && *tz) {
        if (auto z = from_posix(*tz == ':' ? tz + 1 : tz, nullptr)) return z;
      }
      return utc();
    }
    if (error) *error = "unknown time zone \"" + display + "\" (" + path + " cannot be read)";
    return nullptr;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string data = buf.str();
  if (data.size() > (4u << 20)) {
    if (error) *error = "time zone \"" + display + "\": file too large";
    return nullptr;
  }
  auto zone = from_tzif(data, display, error);
  if (!zone && name == "Local") return utc();
  return zone;
}

CivilTime to_civil(TimePoint t, const TimeZone& zone) {
  const std::int64_t ms = t.time_since_epoch().count();
  const std::int64_t secs = floor_div(ms, 1000);
  const int off = zone.utc_offset(secs);
  const std::int64_t local = secs + off;
  const std::int64_t days = floor_div(local, kDay);
  const std::int64_t sod = local - days * kDay;
  const Ymd ymd = civil_from_days(days);
  CivilTime c;
  c.year = static_cast<int>(ymd.y);
  c.month = static_cast<int>(ymd.m);
  c.day = static_cast<int>(ymd.d);
  c.hour = static_cast<int>(sod / 3600);
  c.minute = static_cast<int>(sod % 3600 / 60);
  c.second = static_cast<int>(sod % 60);
  c.weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);
  c.days_in_month = days_in_month(ymd.y, ymd.m);
  c.utc_offset = off;
  return c;
}

}  // namespace promwatch
