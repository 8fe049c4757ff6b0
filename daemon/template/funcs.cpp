// Template functions with the output of their Go originals: text/template's builtins,
// Prometheus's template/template.go functions and Alertmanager's template.DefaultFuncs, plus
// the methods of Alertmanager's data types and of time.Time / time.Duration.

#include "funcs.hpp"

#include <arpa/inet.h>
#include <locale.h>
#include <re2/re2.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "promwatch/labels.hpp"
#include "promwatch/utf8.hpp"
#include "promwatch/time.hpp"

namespace promwatch::tmpl {

namespace {

[[noreturn]] void fail(std::string msg) { throw FuncError{std::move(msg), true}; }
[[noreturn]] void fail_type(const std::string& expected, const Value& got) {
  throw FuncError{"wrong type for value; expected " + expected + "; got " + type_name(got), false, &got, expected};
}

const std::string& str_arg(const Value& v) {
  if (v.kind != Kind::String) fail_type("string", v);
  return v.s;
}

const GoTime& time_arg(const Value& v) {
  if (v.kind != Kind::Time) fail_type("time.Time", v);
  return v.t;
}

std::string go_quote_str(const std::string& s) { return go_quote(s); }

// Go's strconv.ParseFloat(s, 64), with its error text.
double parse_go_float(const std::string& s) {
  auto bad = [&]() -> double { fail("strconv.ParseFloat: parsing " + go_quote_str(s) + ": invalid syntax"); };
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) bad();
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view body = lower;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  if (body == "inf" || body == "infinity") return lower[0] == '-' ? -INFINITY : INFINITY;
  if (body == "nan") return NAN;
  // Underscores are only allowed with a base prefix in Go; strtod knows none of them.
  std::string clean;
  bool hex = body.size() > 1 && body[0] == '0' && body[1] == 'x';
  for (char c : s) {
    if (c == '_') {
      if (!hex) bad();
      continue;
    }
    clean += c;
  }
  if (body.find_first_not_of("0123456789abcdefx.+-ep_") != std::string_view::npos) bad();
  if (hex && body.find('p') == std::string_view::npos) bad();  // Go: hex mantissas need a 'p' exponent
  if (!hex && body.find('x') != std::string_view::npos) bad();
  char* end = nullptr;
  double d = std::strtod(clean.c_str(), &end);
  if (end == clean.c_str() || *end != '\0') bad();
  if (std::isinf(d)) fail("strconv.ParseFloat: parsing " + go_quote_str(s) + ": value out of range");
  return d;
}

// Prometheus's convertToFloat.
double to_float(const Value& v) {
  switch (v.kind) {
    case Kind::Float: return v.f;
    case Kind::Int: return static_cast<double>(v.i);
    case Kind::String: return parse_go_float(v.s);
    case Kind::Duration: return static_cast<double>(v.i) / 1e9;
    default: fail("can't convert " + type_name(v) + " to float");
  }
}

std::string with_prefix(double v, const std::array<const char*, 8>& big, double step_big,
                        const std::array<const char*, 8>& small, bool small_allowed) {
  if (std::fabs(v) >= 1 || !small_allowed) {
    std::string prefix;
    for (const char* p : big) {
      if (std::fabs(v) < step_big) break;
      prefix = p;
      v /= step_big;
    }
    return go_format_g(v, 4) + prefix;
  }
  std::string prefix;
  for (const char* p : small) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return go_format_g(v, 4) + prefix;
}

constexpr std::array<const char*, 8> kSI = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
constexpr std::array<const char*, 8> kSISmall = {"m", "u", "n", "p", "f", "a", "z", "y"};
constexpr std::array<const char*, 8> kIEC = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};

Value f_humanize(const CallContext&, std::vector<Value>& a) {
  double v = to_float(a[0]);
  if (v == 0 || !std::isfinite(v)) return Value::string(go_format_g(v, 4));
  return Value::string(with_prefix(v, kSI, 1000, kSISmall, true));
}

Value f_humanize1024(const CallContext&, std::vector<Value>& a) {
  double v = to_float(a[0]);
  if (std::fabs(v) <= 1 || !std::isfinite(v)) return Value::string(go_format_g(v, 4));
  return Value::string(with_prefix(v, kIEC, 1024, kSISmall, false));
}

Value f_humanize_duration(const CallContext&, std::vector<Value>& a) {
  double v = to_float(a[0]);
  if (!std::isfinite(v)) return Value::string(go_format_g(v, 4));
  if (v == 0) return Value::string(go_format_g(v, 4) + "s");
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    // Go's int64(v): out-of-range conversions are implementation-defined; clamp like amd64 does.
    std::int64_t d = v >= 9.2233720368547758e18 ? std::numeric_limits<std::int64_t>::min() : static_cast<std::int64_t>(v);
    std::int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 60 / 60) % 24, days = d / 60 / 60 / 24;
    auto s = [](std::int64_t x) { return std::to_string(x); };
    if (days != 0) return Value::string(sign + s(days) + "d " + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s");
    if (hours != 0) return Value::string(sign + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s");
    if (minutes != 0) return Value::string(sign + s(minutes) + "m " + s(seconds) + "s");
    return Value::string(sign + go_format_g(v, 4) + "s");
  }
  std::string prefix;
  for (const char* p : kSISmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return Value::string(go_format_g(v, 4) + prefix + "s");
}

Value f_humanize_percentage(const CallContext&, std::vector<Value>& a) {
  return Value::string(go_format_g(to_float(a[0]) * 100, 4) + "%");
}

// Prometheus's floatToTime: millisecond precision (model.TimeFromUnixNano), UTC.
GoTime float_to_time(double v) {
  double ns = v * 1e9;
  if (ns > 9.2233720368547758e18 || ns < -9.2233720368547758e18)
    fail(format_go_value(v) + " cannot be represented as a nanoseconds timestamp since it overflows int64");
  std::int64_t n = ns >= 9.2233720368547758e18 ? std::numeric_limits<std::int64_t>::max() : static_cast<std::int64_t>(ns);
  std::int64_t ms = n / 1000000;  // truncation toward zero, as Go's integer division
  std::int64_t sec = ms / 1000, rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --sec;
  }
  return GoTime{sec, static_cast<std::int32_t>(rem * 1000000), nullptr};
}

Value f_humanize_timestamp(const CallContext&, std::vector<Value>& a) {
  double v = to_float(a[0]);
  if (!std::isfinite(v)) return Value::string(go_format_g(v, 4));
  return Value::string(go_time_string(float_to_time(v)));
}

Value f_to_time(const CallContext&, std::vector<Value>& a) {
  double v = to_float(a[0]);
  if (!std::isfinite(v)) fail("value is NaN or Inf");
  Value t = Value::time(float_to_time(v));
  t.type = Type::Pointer;
  return t;
}

Value f_to_duration(const CallContext&, std::vector<Value>& a) {
  double v = to_float(a[0]);
  if (!std::isfinite(v)) fail("value is NaN or Inf");
  double ns = v * 1e9;
  if (ns > 9.2233720368547758e18 || ns < -9.2233720368547758e18)
    fail(format_go_value(v) + " cannot be represented as a nanoseconds duration since it overflows int64");
  return Value::duration(static_cast<std::int64_t>(ns));
}

Value f_parse_duration(const CallContext&, std::vector<Value>& a) {
  const std::string& s = str_arg(a[0]);
  auto d = parse_duration(s);
  if (!d) fail("not a valid duration string: " + go_quote(s));
  return Value::number(static_cast<double>(d->count()) / 1000.0);
}

Value f_now(const CallContext&, std::vector<Value>&) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return Value::number(static_cast<double>(ms) / 1000.0);
}

// net.SplitHostPort.
bool split_host_port(const std::string& hp, std::string* host, std::string* port) {
  std::size_t i = hp.rfind(':');
  if (i == std::string::npos) return false;
  std::size_t j = 0, k = 0;
  if (!hp.empty() && hp[0] == '[') {
    std::size_t end = hp.find(']');
    if (end == std::string::npos) return false;
    if (end + 1 == hp.size()) return false;
    if (end + 1 != i) return false;
    *host = hp.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    *host = hp.substr(0, i);
    if (host->find(':') != std::string::npos) return false;
  }
  if (hp.find('[', j) != std::string::npos) return false;
  if (hp.find(']', k) != std::string::npos) return false;
  *port = hp.substr(i + 1);
  return true;
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return true;
  if (s.find('%') != std::string::npos) return false;
  return inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Value f_strip_port(const CallContext&, std::vector<Value>& a) {
  const std::string& hp = str_arg(a[0]);
  std::string host, port;
  if (!split_host_port(hp, &host, &port)) return Value::string(hp);
  return Value::string(host);
}

Value f_strip_domain(const CallContext&, std::vector<Value>& a) {
  const std::string& hp = str_arg(a[0]);
  std::string host, port;
  if (!split_host_port(hp, &host, &port)) {
    host = hp;
    port.clear();
  }
  if (is_ip(host)) return Value::string(hp);
  host = host.substr(0, host.find('.'));
  if (!port.empty()) {
    if (host.find(':') != std::string::npos) return Value::string("[" + host + "]:" + port);
    return Value::string(host + ":" + port);
  }
  return Value::string(host);
}

// url.QueryEscape.
std::string query_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Value f_url_query_escape(const CallContext&, std::vector<Value>& a) { return Value::string(query_escape(str_arg(a[0]))); }

// ---- Unicode case mapping through the C.UTF-8 locale (thread-safe *_l functions) ----

locale_t utf8_locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    return l;
  }();
  return loc;
}

// Decodes one UTF-8 rune at s[i]; invalid bytes decode as U+FFFD of width 1 (Go's rule).
std::uint32_t decode_rune(const std::string& s, std::size_t i, std::size_t* width) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *width = 1;
    return c;
  }
  int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
    *width = 1;
    return 0xFFFD;
  }
  std::uint32_t r = c & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((cc & 0xC0) != 0x80) {
      *width = 1;
      return 0xFFFD;
    }
    r = (r << 6) | (cc & 0x3F);
  }
  static const std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (r < min_for_len[len] || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
    *width = 1;
    return 0xFFFD;
  }
  *width = static_cast<std::size_t>(len);
  return r;
}

std::uint32_t to_upper_rune(std::uint32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') ? r - 32 : r;
  locale_t l = utf8_locale();
  return l ? static_cast<std::uint32_t>(towupper_l(static_cast<wint_t>(r), l)) : r;
}
std::uint32_t to_lower_rune(std::uint32_t r) {
  if (r < 0x80) return (r >= 'A' && r <= 'Z') ? r + 32 : r;
  locale_t l = utf8_locale();
  return l ? static_cast<std::uint32_t>(towlower_l(static_cast<wint_t>(r), l)) : r;
}
bool is_letter_or_digit(std::uint32_t r) {
  if (r < 0x80) return std::isalnum(static_cast<int>(r)) != 0;
  locale_t l = utf8_locale();
  return l ? iswalnum_l(static_cast<wint_t>(r), l) != 0 : true;
}

template <typename F>
std::string map_runes(const std::string& s, F f) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t w = 1;
    std::uint32_t r = decode_rune(s, i, &w);
    append_utf8(out, f(r));
    i += w;
  }
  return out;
}

Value f_to_upper(const CallContext&, std::vector<Value>& a) { return Value::string(map_runes(str_arg(a[0]), to_upper_rune)); }
Value f_to_lower(const CallContext&, std::vector<Value>& a) { return Value::string(map_runes(str_arg(a[0]), to_lower_rune)); }

Value f_title(const CallContext& ctx, std::vector<Value>& a) {
  const std::string& s = str_arg(a[0]);
  if (ctx.mode == Mode::Alert) {
    // Prometheus: strings.Title — upper-case the first letter of each word, keep the rest.
    std::uint32_t prev = ' ';
    return Value::string(map_runes(s, [&](std::uint32_t r) {
      bool sep;
      if (prev < 0x80) sep = !(std::isalnum(static_cast<int>(prev)) || prev == '_');
      else sep = prev == 0x85 || prev == 0xA0 || prev == 0x2028 || prev == 0x2029 || prev == 0x3000;
      prev = r;
      return sep ? to_upper_rune(r) : r;
    }));
  }
  // Alertmanager: cases.Title(language.AmericanEnglish). A word is a run of letters, digits,
  // '_' and '\''; its first letter is upper-cased (even after digits: "3rd" -> "3Rd"), the
  // other letters lower-cased.
  bool need_upper = true;
  return Value::string(map_runes(s, [&](std::uint32_t r) {
    bool alnum = is_letter_or_digit(r);
    bool digit = r < 0x80 ? (r >= '0' && r <= '9') : false;
    if (!(alnum || r == '_' || r == '\'')) {
      need_upper = true;
      return r;
    }
    if (!alnum || digit) return r;
    std::uint32_t out = need_upper ? to_upper_rune(r) : to_lower_rune(r);
    need_upper = false;
    return out;
  }));
}

Value f_trim_space(const CallContext&, std::vector<Value>& a) {
  const std::string& s = str_arg(a[0]);
  const char* ws = " \t\n\v\f\r";
  std::size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return Value::string("");
  std::size_t e = s.find_last_not_of(ws);
  return Value::string(s.substr(b, e - b + 1));
}

// ---- regular expressions (RE2 has Go's syntax) ----

std::string backquote(const std::string& s) {
  if (s.find('`') == std::string::npos && s.find('\n') == std::string::npos) return "`" + s + "`";
  return go_quote(s);
}

// Go's regexp/syntax error text for RE2's error codes: "error parsing regexp: CODE: `EXPR`".
std::string go_regexp_error(const RE2& re) {
  const char* code = "regexp/syntax: internal error";
  switch (re.error_code()) {
    case RE2::ErrorBadEscape: code = "invalid escape sequence"; break;
    case RE2::ErrorBadCharClass: code = "invalid character class"; break;
    case RE2::ErrorBadCharRange: code = "invalid character class range"; break;
    case RE2::ErrorMissingBracket: code = "missing closing ]"; break;
    case RE2::ErrorMissingParen: code = "missing closing )"; break;
    case RE2::ErrorTrailingBackslash: code = "trailing backslash at end of expression"; break;
    case RE2::ErrorRepeatArgument: code = "missing argument to repetition operator"; break;
    case RE2::ErrorRepeatSize: code = "invalid repeat count"; break;
    case RE2::ErrorRepeatOp: code = "invalid nested repetition operator"; break;
    case RE2::ErrorBadPerlOp: code = "invalid or unsupported Perl syntax"; break;
    case RE2::ErrorBadUTF8: code = "invalid UTF-8"; break;
    case RE2::ErrorBadNamedCapture: code = "invalid named capture"; break;
    case RE2::ErrorPatternTooLarge: code = "expression too large"; break;
    default: break;
  }
  if (re.error().find("unexpected )") != std::string::npos) code = "unexpected )";
  return std::string("error parsing regexp: ") + code + ": `" + re.error_arg() + "`";
}

std::unique_ptr<RE2> compile_re(const std::string& pattern, std::string* error) {
  RE2::Options opt;
  opt.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, opt);
  if (!re->ok()) {
    *error = go_regexp_error(*re);
    return nullptr;
  }
  return re;
}

// Go's Regexp.ReplaceAllString with its $1 / ${1} / $name / ${name} / $$ expansion.
std::string replace_all(const RE2& re, const std::string& src, const std::string& repl) {
  int ngroups = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> m(static_cast<std::size_t>(ngroups) + 1);
  const auto& names = re.NamedCapturingGroups();
  std::string out;
  std::size_t last_end = 0, search = 0;
  auto expand = [&]() {
    std::string_view t = repl;
    auto group = [&](int n) {
      if (n >= 0 && n <= ngroups && m[static_cast<std::size_t>(n)].data() != nullptr)
        out.append(m[static_cast<std::size_t>(n)].data(), m[static_cast<std::size_t>(n)].size());
    };
    while (!t.empty()) {
      std::size_t d = t.find('$');
      if (d == std::string_view::npos) break;
      out.append(t.substr(0, d));
      t.remove_prefix(d + 1);
      if (!t.empty() && t[0] == '$') {
        out += '$';
        t.remove_prefix(1);
        continue;
      }
      // extract(): a name of letters, digits and '_', optionally in braces.
      std::string_view s = t;
      bool brace = false;
      if (!s.empty() && s[0] == '{') {
        brace = true;
        s.remove_prefix(1);
      }
      std::size_t i = 0;
      while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (!(std::isalnum(c) || c == '_' || c >= 0x80)) break;
        ++i;
      }
      if (i == 0 || (brace && (i >= s.size() || s[i] != '}'))) {
        out += '$';  // malformed: the '$' is literal
        continue;
      }
      std::string name(s.substr(0, i));
      t = s.substr(i + (brace ? 1 : 0));
      int num = 0;
      for (char c : name) {
        if (c < '0' || c > '9' || num >= 100000000) {
          num = -1;
          break;
        }
        num = num * 10 + (c - '0');
      }
      if (name.size() > 1 && name[0] == '0') num = -1;
      if (num >= 0) {
        group(num);
      } else {
        auto it = names.find(name);
        if (it != names.end()) group(it->second);
      }
    }
    out.append(t);
  };
  while (search <= src.size()) {
    if (!re.Match(src, search, src.size(), RE2::UNANCHORED, m.data(), ngroups + 1)) break;
    std::size_t a0 = static_cast<std::size_t>(m[0].data() - src.data());
    std::size_t a1 = a0 + m[0].size();
    out.append(src, last_end, a0 - last_end);
    if (a1 > last_end || a0 == 0) expand();
    if (out.size() > kMaxStringBytes) fail("string exceeds " + std::to_string(kMaxStringBytes) + " bytes");
    last_end = a1;
    std::size_t width = 1;
    if (search < src.size()) decode_rune(src, search, &width);
    else width = 0;
    if (search + width > a1) search += width;
    else if (search + 1 > a1) search += 1;
    else search = a1;
    if (width == 0 && search == src.size() && a1 == src.size()) {
      // at the end of the input: Go advances past it
      search = src.size() + 1;
    }
  }
  if (last_end < src.size()) out.append(src, last_end, std::string::npos);
  return out;
}

Value f_re_replace_all(const CallContext&, std::vector<Value>& a) {
  const std::string& pattern = str_arg(a[0]);
  const std::string& repl = str_arg(a[1]);
  const std::string& text = str_arg(a[2]);
  std::string err;
  auto re = compile_re(pattern, &err);
  if (!re) fail("regexp: Compile(" + backquote(pattern) + "): " + err);
  return Value::string(replace_all(*re, text, repl));
}

Value f_match(const CallContext&, std::vector<Value>& a) {
  const std::string& pattern = str_arg(a[0]);
  const std::string& text = str_arg(a[1]);
  std::string err;
  auto re = compile_re(pattern, &err);
  if (!re) fail(err);
  return Value::boolean(RE2::PartialMatch(text, *re));
}

Value f_safe_html(const CallContext&, std::vector<Value>& a) { return Value::string(str_arg(a[0]), Type::Html); }

Value f_external_url(const CallContext& ctx, std::vector<Value>&) { return Value::string(std::string(ctx.external_url)); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Prometheus's pathPrefix is externalURL.Path: the path, percent-decoded (url.URL keeps the
// decoded form in Path), without the query and fragment. external_url arrives without a
// trailing '/' (prometheus_external_url), as Prometheus holds it.
Value f_path_prefix(const CallContext& ctx, std::vector<Value>&) {
  std::string_view u = ctx.external_url;
  std::size_t scheme = u.find("://");
  if (scheme == std::string_view::npos) return Value::string("");
  std::size_t slash = u.find_first_of("/?#", scheme + 3);
  if (slash == std::string_view::npos || u[slash] != '/') return Value::string("");
  std::string_view path = u.substr(slash);
  path = path.substr(0, path.find_first_of("?#"));
  std::string decoded;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && hex_digit(path[i + 1]) >= 0 && hex_digit(path[i + 2]) >= 0) {
      decoded += static_cast<char>(hex_digit(path[i + 1]) * 16 + hex_digit(path[i + 2]));
      i += 2;
    } else {
      decoded += path[i];
    }
  }
  return Value::string(decoded);
}

// ---- Prometheus's query results: query, first, label, value, strvalue, sortByLabel ----

// A sample as Prometheus's templates see it: *template.sample{Labels map[string]string; Value float64}.
Value sample_value(const Sample& s) {
  auto o = std::make_shared<Object>();
  o->type_name = "*template.sample";
  o->names = {"Labels", "Value"};
  o->json_names = o->names;
  ValueMap labels;
  labels.reserve(s.labels.size());
  for (const auto& l : s.labels) labels.emplace_back(l.name, Value::string(l.value));
  o->values = {Value::map_of(std::move(labels), Type::StringMap), Value::number(s.value)};
  Value v = Value::object(std::move(o));
  v.type = Type::Pointer;
  return v;
}

bool is_sample(const Value& v) { return v.kind == Kind::Object && v.obj && v.obj->type_name == "*template.sample"; }

Value f_query(const CallContext& ctx, std::vector<Value>& a) {
  const std::string& expr = str_arg(a[0]);
  if (ctx.queries) {
    if (auto it = ctx.queries->find(expr); it != ctx.queries->end()) {
      if (!it->second.ok) fail(it->second.error);
      ValueList out;
      out.reserve(it->second.samples.size());
      for (const Sample& s : it->second.samples) out.push_back(sample_value(s));
      return Value::list_of(std::move(out), Type::QueryResult);
    }
  }
  if (ctx.unanswered) {
    // A probe pass: note the expression, go on with an empty vector to find the others.
    if (std::find(ctx.unanswered->begin(), ctx.unanswered->end(), expr) == ctx.unanswered->end())
      ctx.unanswered->push_back(expr);
    return Value::list_of({}, Type::QueryResult);
  }
  if (ctx.mode == Mode::Notification) fail("queries are not available in notification templates");
  if (!ctx.queries) fail("no datasource to run the query against here");
  fail("the query was not run: too many rounds of queries built from the results of other queries");
}

// The queryResult argument of first/sortByLabel: nil is Go's nil slice.
const ValueList* query_result_arg(const Value& v) {
  static const ValueList empty;
  if (v.kind == Kind::Nil) return &empty;
  if (v.kind != Kind::List || v.type != Type::QueryResult) fail_type("template.queryResult", v);
  return v.list.get();
}

// The *sample argument of label/value/strvalue; nil is a nil pointer, which Go dereferences.
const Object& sample_arg(const Value& v) {
  if (v.kind == Kind::Nil) fail("runtime error: invalid memory address or nil pointer dereference");
  if (!is_sample(v)) fail_type("*template.sample", v);
  return *v.obj;
}

Value f_first(const CallContext&, std::vector<Value>& a) {
  const ValueList* v = query_result_arg(a[0]);
  if (v->empty()) fail("first() called on vector with no elements");
  return (*v)[0];
}

std::string sample_label(const Object& s, std::string_view name) {
  const Value* labels = s.field("Labels");
  if (const Value* l = labels ? map_find(*labels->map, name) : nullptr) return l->s;
  return "";
}

Value f_label(const CallContext&, std::vector<Value>& a) {
  const std::string& name = str_arg(a[0]);
  return Value::string(sample_label(sample_arg(a[1]), name));
}

Value f_value(const CallContext&, std::vector<Value>& a) { return *sample_arg(a[0]).field("Value"); }

Value f_strvalue(const CallContext&, std::vector<Value>& a) {
  return Value::string(sample_label(sample_arg(a[0]), "__value__"));
}

Value f_sort_by_label(const CallContext&, std::vector<Value>& a) {
  const std::string& name = str_arg(a[0]);
  ValueList sorted = *query_result_arg(a[1]);
  // sort.Stable on Labels[name]; a nil element (never produced by query) sorts as Go would
  // panic on, so every element here is a sample.
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Value& x, const Value& y) {
    return sample_label(*x.obj, name) < sample_label(*y.obj, name);
  });
  return Value::list_of(std::move(sorted), Type::QueryResult);
}

// args: map[string]interface{} of arg0, arg1, ... (kept sorted by key, as Go prints maps).
Value f_args(const CallContext&, std::vector<Value>& a) {
  ValueMap m;
  m.reserve(a.size());
  for (std::size_t k = 0; k < a.size(); ++k) m.emplace_back("arg" + std::to_string(k), a[k]);
  std::sort(m.begin(), m.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  return Value::map_of(std::move(m));
}

Value f_graph_link(const CallContext&, std::vector<Value>& a) {
  return Value::string("/graph?g0.expr=" + query_escape(str_arg(a[0])) + "&g0.tab=0");
}
Value f_table_link(const CallContext&, std::vector<Value>& a) {
  return Value::string("/graph?g0.expr=" + query_escape(str_arg(a[0])) + "&g0.tab=1");
}

// ---- Alertmanager ----

std::vector<std::string> string_list(const Value& v, const char* expected) {
  if (v.kind != Kind::List) fail_type(expected, v);
  std::vector<std::string> out;
  for (const auto& e : *v.list) {
    if (e.kind != Kind::String) fail_type(expected, v);
    out.push_back(e.s);
  }
  return out;
}

Value f_join(const CallContext&, std::vector<Value>& a) {
  const std::string& sep = str_arg(a[0]);
  auto items = string_list(a[1], "[]string");
  std::string out;
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (k) out += sep;
    out += items[k];
    if (out.size() > kMaxStringBytes) fail("string exceeds " + std::to_string(kMaxStringBytes) + " bytes");
  }
  return Value::string(out);
}

Value f_string_slice(const CallContext&, std::vector<Value>& a) {
  ValueList out;
  for (const auto& v : a) out.push_back(Value::string(str_arg(v)));
  return Value::list_of(std::move(out), Type::StringSlice);
}

Value f_date(const CallContext&, std::vector<Value>& a) { return Value::string(go_format_time(time_arg(a[1]), str_arg(a[0]))); }

Value f_tz(const CallContext&, std::vector<Value>& a) {
  const std::string& name = str_arg(a[0]);
  GoTime t = time_arg(a[1]);
  std::string err;
  auto zone = load_zone(name, &err);
  if (!zone && !(name.empty() || name == "UTC")) fail(err.empty() ? "unknown time zone " + name : err);
  t.zone = zone;
  return Value::time(std::move(t));
}

Value f_since(const CallContext&, std::vector<Value>& a) {
  const GoTime& t = time_arg(a[0]);
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Go saturates durations at the int64 range.
  long double d = static_cast<long double>(now_ns) - (static_cast<long double>(t.sec) * 1e9L + t.nsec);
  if (d > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return Value::duration(std::numeric_limits<std::int64_t>::max());
  if (d < static_cast<long double>(std::numeric_limits<std::int64_t>::min())) return Value::duration(std::numeric_limits<std::int64_t>::min());
  return Value::duration(static_cast<std::int64_t>(d));
}

// encoding/json, with its HTML-safe escaping and sorted map keys.
void json_string(std::string& out, const std::string& s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<': case '>': case '&':
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::size_t w = 1;
    std::uint32_t r = decode_rune(s, i, &w);
    if (r == 0xFFFD && w == 1) out += "\\ufffd";
    else if (r == 0x2028) out += "\\u2028";
    else if (r == 0x2029) out += "\\u2029";
    else out.append(s, i, w);
    i += w;
  }
  out += '"';
}

void json_float(std::string& out, double f) {
  if (!std::isfinite(f)) fail("json: unsupported value: " + format_go_value(f));
  // Go: 'f' format unless the exponent is < -6 or >= 21; then 'e' with a short exponent.
  double abs = std::fabs(f);
  if (abs != 0 && (abs < 1e-6 || abs >= 1e21)) {
    std::string s = format_go_float(f, 'e');
    auto n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
    out += s;
  } else {
    out += format_go_float(f, 'f');
  }
}

void to_json(std::string& out, const Value& v, int depth) {
  if (depth > 100) fail("json: exceeded max depth");
  switch (v.kind) {
    case Kind::Nil: out += "null"; return;
    case Kind::Bool: out += v.b ? "true" : "false"; return;
    case Kind::Int:
    case Kind::Duration: out += std::to_string(v.i); return;
    case Kind::Float: json_float(out, v.f); return;
    case Kind::String: json_string(out, v.s); return;
    case Kind::Time: json_string(out, go_time_rfc3339nano(v.t)); return;
    case Kind::List: {
      out += '[';
      for (std::size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ',';
        to_json(out, (*v.list)[k], depth + 1);
      }
      out += ']';
      return;
    }
    case Kind::Map: {
      out += '{';
      bool first = true;
      for (const auto& [key, e] : *v.map) {
        if (!first) out += ',';
        first = false;
        json_string(out, key);
        out += ':';
        to_json(out, e, depth + 1);
      }
      out += '}';
      return;
    }
    case Kind::Object: {
      out += '{';
      for (std::size_t k = 0; k < v.obj->values.size(); ++k) {
        if (k) out += ',';
        const std::string& key = k < v.obj->json_names.size() ? v.obj->json_names[k] : v.obj->names[k];
        json_string(out, key);
        out += ':';
        to_json(out, v.obj->values[k], depth + 1);
      }
      out += '}';
      return;
    }
  }
}

Value f_to_json(const CallContext&, std::vector<Value>& a) {
  std::string out;
  to_json(out, a[0], 0);
  return Value::string(out);
}

// ---- text/template builtins ----

Value f_not(const CallContext&, std::vector<Value>& a) { return Value::boolean(!truth(a[0])); }

Value f_len(const CallContext&, std::vector<Value>& a) {
  const Value& v = a[0];
  switch (v.kind) {
    case Kind::String: return Value::integer(static_cast<std::int64_t>(v.s.size()));
    case Kind::List: return Value::integer(static_cast<std::int64_t>(v.list->size()));
    case Kind::Map: return Value::integer(static_cast<std::int64_t>(v.map->size()));
    case Kind::Nil: fail("len of nil pointer");
    default: fail("len of type " + type_name(v));
  }
}

Value f_index(const CallContext&, std::vector<Value>& a) {
  Value item = a[0];
  if (item.kind == Kind::Nil) fail("index of untyped nil");
  for (std::size_t k = 1; k < a.size(); ++k) {
    const Value& ix = a[k];
    switch (item.kind) {
      case Kind::List:
      case Kind::String: {
        if (ix.kind != Kind::Int) fail("cannot index slice/array with type " + type_name(ix));
        std::int64_t n = item.kind == Kind::List ? static_cast<std::int64_t>(item.list->size()) : static_cast<std::int64_t>(item.s.size());
        if (ix.i < 0) fail("index out of range: " + std::to_string(ix.i));
        if (ix.i >= n) fail("index out of range: " + std::to_string(ix.i));
        if (item.kind == Kind::List) item = Value((*item.list)[static_cast<std::size_t>(ix.i)]);
        else item = Value::integer(static_cast<unsigned char>(item.s[static_cast<std::size_t>(ix.i)]));
        break;
      }
      case Kind::Map: {
        if (ix.kind != Kind::String) fail("value has type " + type_name(ix) + "; should be string");
        if (const Value* v = map_find(*item.map, ix.s)) {
          item = Value(*v);
        } else {
          bool strings = item.type == Type::StringMap || item.type == Type::KV;
          item = strings ? Value::string("") : Value{};
        }
        break;
      }
      case Kind::Nil: fail("index of untyped nil");
      default: fail("can't index item of type " + type_name(item));
    }
  }
  return item;
}

Value f_print(const CallContext&, std::vector<Value>& a) { return Value::string(go_sprint(a)); }
Value f_println(const CallContext&, std::vector<Value>& a) { return Value::string(go_sprintln(a)); }
Value f_printf(const CallContext&, std::vector<Value>& a) {
  const std::string& fmt = str_arg(a[0]);
  std::vector<Value> rest(a.begin() + 1, a.end());
  return Value::string(go_sprintf(fmt, rest));
}

// html/js/urlquery: a single string argument is used as is, anything else goes through Sprint.
std::string eval_args_text(const std::vector<Value>& a) {
  if (a.size() == 1 && a[0].kind == Kind::String) return a[0].s;
  return go_sprint(a);
}

Value f_html(const CallContext&, std::vector<Value>& a) {
  std::string s = eval_args_text(a), out;
  for (char c : s) {
    switch (c) {
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\0': out += "\xEF\xBF\xBD"; break;
      default: out += c;
    }
  }
  return Value::string(out);
}

Value f_js(const CallContext&, std::vector<Value>& a) {
  std::string s = eval_args_text(a), out;
  static const char* hex = "0123456789ABCDEF";
  for (std::size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      // Non-ASCII: kept when printable (unicode.IsPrint), else \uXXXX.
      std::size_t w = 1;
      std::uint32_t r = decode_rune(s, i, &w);
      locale_t l = utf8_locale();
      if (l && !iswprint_l(static_cast<wint_t>(r), l)) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\u%04X", r);
        out += buf;
      } else {
        out.append(s, i, w);
      }
      i += w - 1;
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '"': out += "\\\""; break;
      case '<': out += "\\u003C"; break;
      case '>': out += "\\u003E"; break;
      case '&': out += "\\u0026"; break;
      case '=': out += "\\u003D"; break;
      default:
        if (c < ' ') {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return Value::string(out);
}

Value f_urlquery(const CallContext&, std::vector<Value>& a) { return Value::string(query_escape(eval_args_text(a))); }

// Comparison: Go's basic kinds; different kinds are an error ("incompatible types for comparison").
enum class BasicKind { Invalid, Bool, Int, Float, String, Other };
BasicKind basic_kind(const Value& v) {
  switch (v.kind) {
    case Kind::Nil: return BasicKind::Invalid;
    case Kind::Bool: return BasicKind::Bool;
    case Kind::Int:
    case Kind::Duration: return BasicKind::Int;
    case Kind::Float: return BasicKind::Float;
    case Kind::String: return BasicKind::String;
    default: return BasicKind::Other;
  }
}

bool equal_values(const Value& x, const Value& y) {
  BasicKind kx = basic_kind(x), ky = basic_kind(y);
  if (kx != ky) {
    if (kx != BasicKind::Invalid && ky != BasicKind::Invalid) fail("incompatible types for comparison");
    return false;
  }
  switch (kx) {
    case BasicKind::Invalid: return true;
    case BasicKind::Bool: return x.b == y.b;
    case BasicKind::Int: return x.i == y.i;
    case BasicKind::Float: return x.f == y.f;
    case BasicKind::String: return x.s == y.s;
    case BasicKind::Other:
      if (x.kind == Kind::Time && y.kind == Kind::Time) return x.t.sec == y.t.sec && x.t.nsec == y.t.nsec && x.t.zone == y.t.zone;
      fail("non-comparable type " + to_print_string(x) + ": " + type_name(x));
  }
  return false;
}

Value f_eq(const CallContext&, std::vector<Value>& a) {
  if (a.size() < 2) fail("missing argument for comparison");
  for (std::size_t k = 1; k < a.size(); ++k)
    if (equal_values(a[0], a[k])) return Value::boolean(true);
  return Value::boolean(false);
}
Value f_ne(const CallContext&, std::vector<Value>& a) { return Value::boolean(!equal_values(a[0], a[1])); }

bool less_values(const Value& x, const Value& y) {
  BasicKind kx = basic_kind(x), ky = basic_kind(y);
  if (kx == BasicKind::Invalid || kx == BasicKind::Other || ky == BasicKind::Invalid || ky == BasicKind::Other)
    fail("invalid type for comparison");
  if (kx != ky) fail("incompatible types for comparison");
  switch (kx) {
    case BasicKind::Int: return x.i < y.i;
    case BasicKind::Float: return x.f < y.f;
    case BasicKind::String: return x.s < y.s;
    default: fail("invalid type for comparison");
  }
}
Value f_lt(const CallContext&, std::vector<Value>& a) { return Value::boolean(less_values(a[0], a[1])); }
Value f_le(const CallContext&, std::vector<Value>& a) {
  return Value::boolean(less_values(a[0], a[1]) || equal_values(a[0], a[1]));
}
Value f_gt(const CallContext&, std::vector<Value>& a) {
  bool le = less_values(a[0], a[1]) || equal_values(a[0], a[1]);
  return Value::boolean(!le);
}
Value f_ge(const CallContext&, std::vector<Value>& a) { return Value::boolean(!less_values(a[0], a[1])); }

Value f_slice(const CallContext&, std::vector<Value>& a) {
  const Value& item = a[0];
  if (item.kind != Kind::String && item.kind != Kind::List) fail("can't slice item of type " + type_name(item));
  std::int64_t n = item.kind == Kind::String ? static_cast<std::int64_t>(item.s.size()) : static_cast<std::int64_t>(item.list->size());
  std::int64_t idx[2] = {0, n};
  if (a.size() > 3) fail("too many slice indexes: " + std::to_string(a.size() - 1));
  for (std::size_t k = 1; k < a.size(); ++k) {
    if (a[k].kind != Kind::Int) fail("cannot index slice/array with type " + type_name(a[k]));
    if (a[k].i < 0 || a[k].i > n) fail("index out of range: " + std::to_string(a[k].i));
    idx[k - 1] = a[k].i;
  }
  if (idx[0] > idx[1]) fail("invalid slice index: " + std::to_string(idx[0]) + " > " + std::to_string(idx[1]));
  if (item.kind == Kind::String)
    return Value::string(item.s.substr(static_cast<std::size_t>(idx[0]), static_cast<std::size_t>(idx[1] - idx[0])), item.type);
  ValueList out(item.list->begin() + idx[0], item.list->begin() + idx[1]);
  return Value::list_of(std::move(out), item.type);
}

constexpr FuncInfo kFuncs[] = {
    // text/template builtins
    {"and", nullptr, 1, -1},
    {"or", nullptr, 1, -1},
    {"not", f_not, 1, 1},
    {"len", f_len, 1, 1},
    {"index", f_index, 1, -1},
    {"slice", f_slice, 1, -1},
    {"print", f_print, 0, -1},
    {"printf", f_printf, 1, -1},
    {"println", f_println, 0, -1},
    {"html", f_html, 0, -1},
    {"js", f_js, 0, -1},
    {"urlquery", f_urlquery, 0, -1},
    {"eq", f_eq, 1, -1},
    {"ne", f_ne, 2, 2},
    {"lt", f_lt, 2, 2},
    {"le", f_le, 2, 2},
    {"gt", f_gt, 2, 2},
    {"ge", f_ge, 2, 2},
    // Prometheus
    {"humanize", f_humanize, 1, 1},
    {"humanize1024", f_humanize1024, 1, 1},
    {"humanizeDuration", f_humanize_duration, 1, 1},
    {"humanizePercentage", f_humanize_percentage, 1, 1},
    {"humanizeTimestamp", f_humanize_timestamp, 1, 1},
    {"toTime", f_to_time, 1, 1},
    {"toDuration", f_to_duration, 1, 1},
    {"now", f_now, 0, 0},
    {"parseDuration", f_parse_duration, 1, 1},
    {"stripPort", f_strip_port, 1, 1},
    {"stripDomain", f_strip_domain, 1, 1},
    {"urlQueryEscape", f_url_query_escape, 1, 1},
    {"match", f_match, 2, 2},
    {"title", f_title, 1, 1},
    {"toUpper", f_to_upper, 1, 1},
    {"toLower", f_to_lower, 1, 1},
    {"reReplaceAll", f_re_replace_all, 3, 3},
    {"safeHtml", f_safe_html, 1, 1},
    {"externalURL", f_external_url, 0, 0},
    {"pathPrefix", f_path_prefix, 0, 0},
    {"graphLink", f_graph_link, 1, 1},
    {"tableLink", f_table_link, 1, 1},
    {"query", f_query, 1, 1},
    {"first", f_first, 1, 1},
    {"label", f_label, 2, 2},
    {"value", f_value, 1, 1},
    {"strvalue", f_strvalue, 1, 1},
    {"sortByLabel", f_sort_by_label, 2, 2},
    {"args", f_args, 0, -1},
    {"tmpl", nullptr, 2, 2},
    // Alertmanager
    {"trimSpace", f_trim_space, 1, 1},
    {"join", f_join, 2, 2},
    {"stringSlice", f_string_slice, 0, -1},
    {"date", f_date, 2, 2},
    {"tz", f_tz, 2, 2},
    {"since", f_since, 1, 1},
    {"toJson", f_to_json, 1, 1},
};

// ---- methods ----

Value kv_sorted_pairs(const Value& kv) {
  ValueList pairs;
  for (const auto& [k, v] : *kv.map) {
    auto o = std::make_shared<Object>();
    o->type_name = "template.Pair";
    o->names = {"Name", "Value"};
    o->json_names = {"Name", "Value"};
    o->values = {Value::string(k), v};
    pairs.push_back(Value::object(std::move(o)));
  }
  return Value::list_of(std::move(pairs), Type::Pairs);
}

}  // namespace

const FuncInfo* find_function(std::string_view name) {
  for (const auto& f : kFuncs)
    if (f.name == name) return &f;
  return nullptr;
}

bool has_method(const Value& r, std::string_view name) {
  switch (r.kind) {
    case Kind::Map:
      return r.type == Type::KV && (name == "SortedPairs" || name == "Names" || name == "Values" || name == "Remove");
    case Kind::List:
      if (r.type == Type::Alerts) return name == "Firing" || name == "Resolved";
      if (r.type == Type::Pairs) return name == "Names" || name == "Values";
      return false;
    case Kind::Time:
      return name == "Format" || name == "Unix" || name == "UnixMilli" || name == "UTC" || name == "Local" ||
             name == "IsZero" || name == "String" || name == "Year";
    case Kind::Duration:
      return name == "Seconds" || name == "Minutes" || name == "Hours" || name == "Milliseconds" ||
             name == "Nanoseconds" || name == "String";
    default: return false;
  }
}

Value call_method(const CallContext&, const Value& r, std::string_view name, std::vector<Value>& args) {
  auto want = [&](std::size_t n) {
    if (args.size() != n)
      throw FuncError{"wrong number of args for " + std::string(name) + ": want " + std::to_string(n) + " got " +
                          std::to_string(args.size()),
                      false};
  };
  if (r.kind == Kind::Map) {  // template.KV
    if (name == "Remove") {
      // Alertmanager's Remove takes a []string; plain strings are accepted as well.
      std::vector<std::string> keys;
      for (const auto& a : args) {
        if (a.kind == Kind::String) keys.push_back(a.s);
        else for (auto& s : string_list(a, "[]string")) keys.push_back(std::move(s));
      }
      ValueMap out;
      for (const auto& e : *r.map)
        if (std::find(keys.begin(), keys.end(), e.first) == keys.end()) out.push_back(e);
      return Value::map_of(std::move(out), Type::KV);
    }
    want(0);
    if (name == "SortedPairs") return kv_sorted_pairs(r);
    ValueList out;
    for (const auto& [k, v] : *r.map) out.push_back(name == "Names" ? Value::string(k) : v);
    return Value::list_of(std::move(out), Type::StringSlice);
  }
  if (r.kind == Kind::Time && name == "Format") {
    want(1);
    return Value::string(go_format_time(r.t, str_arg(args[0])));
  }
  want(0);
  if (r.kind == Kind::List && r.type == Type::Alerts) {
    ValueList out;
    std::string status = name == "Firing" ? "firing" : "resolved";
    for (const auto& a : *r.list) {
      const Value* s = a.kind == Kind::Object ? a.obj->field("Status") : nullptr;
      if (s && s->s == status) out.push_back(a);
    }
    return Value::list_of(std::move(out), Type::Alerts);
  }
  if (r.kind == Kind::List) {  // template.Pairs
    ValueList out;
    for (const auto& p : *r.list) out.push_back(p.obj->values[name == "Names" ? 0 : 1]);
    return Value::list_of(std::move(out), Type::StringSlice);
  }
  if (r.kind == Kind::Time) {
    if (name == "Unix") return Value::integer(r.t.sec);
    if (name == "UnixMilli") return Value::integer(r.t.sec * 1000 + r.t.nsec / 1000000);
    if (name == "UTC") {
      GoTime t = r.t;
      t.zone = nullptr;
      return Value::time(t);
    }
    if (name == "Local") {
      GoTime t = r.t;
      std::string err;
      t.zone = load_zone("Local", &err);
      return Value::time(t);
    }
    if (name == "IsZero") return Value::boolean(r.t.sec == kGoZeroTimeSec && r.t.nsec == 0);
    if (name == "Year") return Value::integer(std::stoll(go_format_time(r.t, "2006")));
    return Value::string(go_time_string(r.t));
  }
  // time.Duration
  double ns = static_cast<double>(r.i);
  if (name == "Seconds") return Value::number(ns / 1e9);
  if (name == "Minutes") return Value::number(ns / 6e10);
  if (name == "Hours") return Value::number(ns / 3.6e12);
  if (name == "Milliseconds") return Value::integer(r.i / 1000000);
  if (name == "Nanoseconds") return Value::integer(r.i);
  return Value::string(go_duration_string(r.i));
}

}  // namespace promwatch::tmpl
