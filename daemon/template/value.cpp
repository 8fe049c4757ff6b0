// Values and Go's fmt formatting of them (%v, Sprint, Sprintf).
//
// Output must match Go character for character, because users compare their messages with
// what Prometheus and Alertmanager produced. Finite floats go through C's printf where Go and
// C agree (%e, %f, %.Ng are both correctly rounded and trim alike); shortest forms use the
// base library's Go-compatible formatter; NaN and infinities are spelled as Go does.

#include "value.hpp"

#include "funcs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "promwatch/labels.hpp"
#include "promwatch/utf8.hpp"
#include "promwatch/time.hpp"

namespace promwatch::tmpl {

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Kind::Nil: return "<nil>";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float64";
    case Kind::String: return v.type == Type::Html ? "template.HTML" : "string";
    case Kind::List:
      switch (v.type) {
        case Type::StringSlice: return "[]string";
        case Type::Alerts: return "template.Alerts";
        case Type::Pairs: return "template.Pairs";
        case Type::QueryResult: return "template.queryResult";
        default: return "[]interface {}";
      }
    case Kind::Map:
      switch (v.type) {
        case Type::StringMap: return "map[string]string";
        case Type::KV: return "template.KV";
        default: return "map[string]interface {}";
      }
    case Kind::Object: return v.obj ? v.obj->type_name : "struct {}";
    case Kind::Time: return v.type == Type::Pointer ? "*time.Time" : "time.Time";
    case Kind::Duration: return "time.Duration";
  }
  return "?";
}

bool truth(const Value& v) {
  switch (v.kind) {
    case Kind::Nil: return false;
    case Kind::Bool: return v.b;
    case Kind::Int: return v.i != 0;
    case Kind::Float: return v.f != 0;  // NaN is true in Go too (NaN != 0)
    case Kind::String: return !v.s.empty();
    case Kind::List: return v.list && !v.list->empty();
    case Kind::Map: return v.map && !v.map->empty();
    case Kind::Object: return true;  // structs are always true
    case Kind::Time: return true;
    case Kind::Duration: return v.i != 0;
  }
  return false;
}

const Value* map_find(const ValueMap& m, std::string_view key) {
  auto it = std::lower_bound(m.begin(), m.end(), key,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  if (it != m.end() && it->first == key) return &it->second;
  return nullptr;
}

namespace {

// The Go value of a non-finite float under fmt: "+Inf", "-Inf", "NaN".
std::string go_nonfinite(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

std::string c_format(const char* fmt, int prec, double v) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, fmt, prec, v);
  if (n >= 0 && static_cast<std::size_t>(n) < sizeof buf) return std::string(buf, static_cast<std::size_t>(n));
  std::string big(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), fmt, prec, v);
  big.resize(static_cast<std::size_t>(n));
  return big;
}

std::size_t rune_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

std::string go_format_g(double v, int prec) {
  if (!std::isfinite(v)) return go_nonfinite(v);
  if (prec < 0) return format_go_float(v, 'g');
  return c_format("%.*g", prec, v);
}

void print_value(std::string& out, const Value& v) {
  switch (v.kind) {
    case Kind::Nil: out += "<nil>"; return;
    case Kind::Bool: out += v.b ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.i); return;
    case Kind::Float: out += format_go_value(v.f); return;
    case Kind::String: out += v.s; return;
    case Kind::List: {
      out += '[';
      bool first = true;
      for (const auto& e : *v.list) {
        if (!first) out += ' ';
        first = false;
        print_value(out, e);
      }
      out += ']';
      return;
    }
    case Kind::Map: {
      out += "map[";
      bool first = true;
      for (const auto& [k, e] : *v.map) {
        if (!first) out += ' ';
        first = false;
        out += k;
        out += ':';
        print_value(out, e);
      }
      out += ']';
      return;
    }
    case Kind::Object: {
      // A pointer to a struct prints as &{...} (fmt does so at the top level; nested ones it
      // prints as an address, which no output could match, so they print the same way).
      if (v.type == Type::Pointer) out += '&';
      out += '{';
      bool first = true;
      for (const auto& e : v.obj->values) {
        if (!first) out += ' ';
        first = false;
        print_value(out, e);
      }
      out += '}';
      return;
    }
    case Kind::Time: out += go_time_string(v.t); return;
    case Kind::Duration: out += go_duration_string(v.i); return;
  }
}

namespace {
void check_size(const std::string& s) {
  if (s.size() > kMaxStringBytes) throw FuncError{"string exceeds " + std::to_string(kMaxStringBytes) + " bytes", true};
}
}  // namespace

std::string to_print_string(const Value& v) {
  std::string s;
  print_value(s, v);
  return s;
}

std::string go_sprint(const std::vector<Value>& args) {
  // Spaces go between operands when neither side is a string (fmt.Sprint).
  std::string out;
  bool prev_string = false;
  for (std::size_t k = 0; k < args.size(); ++k) {
    bool is_string = args[k].kind == Kind::String;
    if (k > 0 && !is_string && !prev_string) out += ' ';
    print_value(out, args[k]);
    check_size(out);
    prev_string = is_string;
  }
  return out;
}

std::string go_sprintln(const std::vector<Value>& args) {
  std::string out;
  for (std::size_t k = 0; k < args.size(); ++k) {
    if (k > 0) out += ' ';
    print_value(out, args[k]);
    check_size(out);
  }
  out += '\n';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sprintf

namespace {

struct Spec {
  bool minus = false, plus = false, sharp = false, space = false, zero = false;
  int width = -1;
  int prec = -1;
};

constexpr int kMaxWidth = 1000000;  // Go's fmt rejects larger widths and precisions as well

// Pads `s` to the width: spaces (or zeros when asked, for strings) on the left, or on the
// right with '-'.
void pad(std::string& out, const std::string& s, const Spec& sp, bool zero_ok = true) {
  std::size_t n = rune_count(s);
  if (sp.width < 0 || n >= static_cast<std::size_t>(sp.width)) {
    out += s;
    return;
  }
  std::size_t fill = static_cast<std::size_t>(sp.width) - n;
  if (sp.minus) {
    out += s;
    out.append(fill, ' ');
  } else {
    out.append(fill, sp.zero && zero_ok ? '0' : ' ');
    out += s;
  }
}

// Pads a number whose text may start with a sign: zeros go after the sign.
void pad_number(std::string& out, const std::string& s, const Spec& sp) {
  if (sp.zero && !sp.minus && sp.width > 0 && s.size() < static_cast<std::size_t>(sp.width)) {
    std::size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) ? 1 : 0;
    std::string r = s.substr(0, sign);
    r.append(static_cast<std::size_t>(sp.width) - s.size(), '0');
    r += s.substr(sign);
    out += r;
    return;
  }
  Spec nz = sp;
  nz.zero = false;
  pad(out, s, nz);
}

void bad_verb(std::string& out, char verb, const Value& v) {
  out += "%!";
  out += verb;
  out += '(';
  if (v.kind == Kind::Nil) {
    out += "<nil>";
  } else {
    out += type_name(v);
    out += '=';
    print_value(out, v);
  }
  out += ')';
}

std::string quote_rune(std::int64_t r) {
  if (r == '\'') return "'\\''";
  if (r == '"') return "'\"'";
  std::string s;
  append_utf8(s, static_cast<std::uint32_t>(r));
  std::string q = go_quote(s);  // "x" -> 'x'
  if (q.size() >= 2) {
    q.front() = '\'';
    q.back() = '\'';
  }
  return q;
}

void format_int(std::string& out, const Spec& sp, char verb, std::int64_t v) {
  std::string digits;
  bool neg = v < 0;
  std::uint64_t u = neg ? (0 - static_cast<std::uint64_t>(v)) : static_cast<std::uint64_t>(v);
  int base = 10;
  std::string prefix;
  bool upper = false;
  switch (verb) {
    case 'd': case 'v': base = 10; break;
    case 'b': base = 2; if (sp.sharp) prefix = "0b"; break;
    case 'o': base = 8; if (sp.sharp) prefix = "0"; break;
    case 'O': base = 8; prefix = "0o"; break;
    case 'x': base = 16; if (sp.sharp) prefix = "0x"; break;
    case 'X': base = 16; upper = true; if (sp.sharp) prefix = "0X"; break;
    case 'c': {
      std::string s;
      append_utf8(s, static_cast<std::uint32_t>(v));
      pad(out, s, sp);
      return;
    }
    case 'q': pad(out, quote_rune(v), sp); return;
    case 'U': {
      char buf[32];
      std::snprintf(buf, sizeof buf, "U+%04llX", static_cast<unsigned long long>(u));
      pad(out, buf, sp);
      return;
    }
    default: bad_verb(out, verb, Value::integer(v)); return;
  }
  const char* dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  if (u == 0) digits = "0";
  while (u > 0) {
    digits += dig[u % static_cast<std::uint64_t>(base)];
    u /= static_cast<std::uint64_t>(base);
  }
  std::reverse(digits.begin(), digits.end());
  if (sp.prec >= 0) {
    if (sp.prec == 0 && v == 0) digits.clear();
    if (digits.size() < static_cast<std::size_t>(sp.prec)) digits.insert(0, static_cast<std::size_t>(sp.prec) - digits.size(), '0');
  }
  std::string s = neg ? "-" : (sp.plus ? "+" : (sp.space ? " " : ""));
  s += prefix + digits;
  Spec p = sp;
  if (sp.prec >= 0) p.zero = false;  // Go: precision turns zero padding off for integers
  pad_number(out, s, p);
}

void format_float(std::string& out, const Spec& sp, char verb, double v) {
  std::string num;
  if (std::string_view("vgGeEfF").find(verb) == std::string_view::npos) {
    bad_verb(out, verb, Value::number(v));
    return;
  }
  if (!std::isfinite(v)) {
    num = go_nonfinite(v);
    if (std::isnan(v)) {
      if (sp.plus) num = "+NaN";
      else if (sp.space) num = " NaN";
    } else if (v > 0 && sp.space && !sp.plus) {
      num = " Inf";
    }
    Spec nz = sp;
    nz.zero = false;
    pad(out, num, nz);
    return;
  }
  switch (verb) {
    case 'v': case 'g': case 'G':
      num = sp.prec < 0 ? format_go_float(v, 'g') : go_format_g(v, sp.prec == 0 ? 1 : sp.prec);
      if (verb == 'G')
        for (auto& c : num) c = static_cast<char>(c == 'e' ? 'E' : c);
      break;
    case 'e': case 'E':
      num = c_format(verb == 'e' ? "%.*e" : "%.*E", sp.prec < 0 ? 6 : sp.prec, v);
      break;
    case 'f': case 'F':
      num = c_format("%.*f", sp.prec < 0 ? 6 : sp.prec, v);
      break;
    default: bad_verb(out, verb, Value::number(v)); return;
  }
  if (num[0] != '-') {
    if (sp.plus) num.insert(num.begin(), '+');
    else if (sp.space) num.insert(num.begin(), ' ');
  }
  pad_number(out, num, sp);
}

void format_string(std::string& out, const Spec& sp, char verb, std::string_view s, const Value& orig) {
  switch (verb) {
    case 'v': case 's': {
      std::string t(s);
      if (sp.prec >= 0) {  // precision counts runes
        std::size_t n = 0, k = 0;
        for (; k < t.size(); ++k) {
          if ((static_cast<unsigned char>(t[k]) & 0xC0) != 0x80) {
            if (n == static_cast<std::size_t>(sp.prec)) break;
            ++n;
          }
        }
        t.resize(k);
      }
      pad(out, t, sp);
      return;
    }
    case 'q': pad(out, go_quote(s), sp); return;
    case 'x': case 'X': {
      const char* dig = verb == 'x' ? "0123456789abcdef" : "0123456789ABCDEF";
      std::string t;
      for (std::size_t k = 0; k < s.size(); ++k) {
        if (sp.space && k > 0) t += ' ';
        if (sp.sharp && (sp.space || k == 0)) t += verb == 'x' ? "0x" : "0X";
        auto c = static_cast<unsigned char>(s[k]);
        t += dig[c >> 4];
        t += dig[c & 15];
      }
      pad(out, t, sp);
      return;
    }
    default: bad_verb(out, verb, orig); return;
  }
}

void format_value(std::string& out, const Spec& sp, char verb, const Value& v);

void format_composite(std::string& out, const Spec& sp, char verb, const Value& v) {
  if (v.kind == Kind::List) {
    out += '[';
    for (std::size_t k = 0; k < v.list->size(); ++k) {
      if (k) out += ' ';
      format_value(out, sp, verb, (*v.list)[k]);
    }
    out += ']';
  } else if (v.kind == Kind::Map) {
    out += "map[";
    bool first = true;
    for (const auto& [key, e] : *v.map) {
      if (!first) out += ' ';
      first = false;
      format_string(out, sp, verb, key, Value::string(key));
      out += ':';
      format_value(out, sp, verb, e);
    }
    out += ']';
  } else {
    if (v.type == Type::Pointer) out += '&';
    out += '{';
    for (std::size_t k = 0; k < v.obj->values.size(); ++k) {
      if (k) out += ' ';
      format_value(out, sp, verb, v.obj->values[k]);
    }
    out += '}';
  }
}

void format_value(std::string& out, const Spec& sp, char verb, const Value& v) {
  if (verb == 'T') {
    pad(out, type_name(v), sp);
    return;
  }
  switch (v.kind) {
    case Kind::Nil:
      if (verb == 'v') pad(out, "<nil>", sp);
      else bad_verb(out, verb, v);
      return;
    case Kind::Bool:
      if (verb == 't' || verb == 'v') pad(out, v.b ? "true" : "false", sp);
      else bad_verb(out, verb, v);
      return;
    case Kind::Int: format_int(out, sp, verb, v.i); return;
    case Kind::Float: format_float(out, sp, verb, v.f); return;
    case Kind::String: format_string(out, sp, verb, v.s, v); return;
    case Kind::Time:
    case Kind::Duration:
      // Stringers: fmt calls String() for the string verbs.
      if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
        format_string(out, sp, verb, to_print_string(v), v);
      } else if (v.kind == Kind::Duration) {
        format_int(out, sp, verb, v.i);
      } else {
        bad_verb(out, verb, v);
      }
      return;
    case Kind::List:
    case Kind::Map:
    case Kind::Object: format_composite(out, sp, verb, v); return;
  }
}

}  // namespace

std::string go_sprintf(std::string_view f, const std::vector<Value>& args) {
  std::string out;
  std::size_t argn = 0;
  std::size_t i = 0;
  while (i < f.size()) {
    check_size(out);
    std::size_t start = i;
    while (i < f.size() && f[i] != '%') ++i;
    out.append(f.substr(start, i - start));
    if (i >= f.size()) break;
    ++i;  // '%'
    Spec sp;
    for (; i < f.size(); ++i) {
      char c = f[i];
      if (c == '-') { sp.minus = true; sp.zero = false; }
      else if (c == '+') sp.plus = true;
      else if (c == '#') sp.sharp = true;
      else if (c == ' ') sp.space = true;
      else if (c == '0') sp.zero = !sp.minus;
      else break;
    }
    // width
    bool bad_width = false, bad_prec = false;
    if (i < f.size() && f[i] == '*') {
      ++i;
      if (argn < args.size() && args[argn].kind == Kind::Int && std::llabs(args[argn].i) <= kMaxWidth) {
        sp.width = static_cast<int>(args[argn].i);
        if (sp.width < 0) {
          sp.minus = true;
          sp.zero = false;
          sp.width = -sp.width;
        }
      } else {
        bad_width = true;
      }
      ++argn;
    } else {
      int w = 0;
      bool any = false;
      while (i < f.size() && f[i] >= '0' && f[i] <= '9') {
        if (w <= kMaxWidth) w = w * 10 + (f[i] - '0');
        any = true;
        ++i;
      }
      if (any) {
        if (w > kMaxWidth) bad_width = true;
        else sp.width = w;
      }
    }
    if (i < f.size() && f[i] == '.') {
      ++i;
      if (i < f.size() && f[i] == '*') {
        ++i;
        if (argn < args.size() && args[argn].kind == Kind::Int && args[argn].i >= 0 && args[argn].i <= kMaxWidth)
          sp.prec = static_cast<int>(args[argn].i);
        else
          bad_prec = true;
        ++argn;
      } else {
        int p = 0;
        while (i < f.size() && f[i] >= '0' && f[i] <= '9') {
          if (p <= kMaxWidth) p = p * 10 + (f[i] - '0');
          ++i;
        }
        if (p > kMaxWidth) bad_prec = true;
        else sp.prec = p;
      }
    }
    if (bad_width) out += "%!(BADWIDTH)";
    if (bad_prec) out += "%!(BADPREC)";
    if (i >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    // The verb is one rune; keep multi-byte runes whole in error output.
    char verb = f[i];
    std::size_t vlen = 1;
    while (i + vlen < f.size() && (static_cast<unsigned char>(f[i + vlen]) & 0xC0) == 0x80) ++vlen;
    std::string verb_text(f.substr(i, vlen));
    i += vlen;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (argn >= args.size()) {
      out += "%!" + verb_text + "(MISSING)";
      continue;
    }
    const Value& arg = args[argn++];
    if (vlen > 1) {
      out += "%!" + verb_text + "(";
      out += arg.kind == Kind::Nil ? "<nil>" : type_name(arg) + "=" + to_print_string(arg);
      out += ")";
      continue;
    }
    if (verb == 'v' && (sp.plus || sp.sharp)) {
      // %+v and %#v: the flags mean "field names" / "Go syntax", not sign or alternate form.
      bool sharp_v = sp.sharp;
      sp.plus = false;
      sp.sharp = false;
      if (sharp_v && arg.kind == Kind::String) {
        pad(out, go_quote(arg.s), sp);
        continue;
      }
    }
    format_value(out, sp, verb, arg);
  }
  if (argn < args.size()) {
    out += "%!(EXTRA ";
    for (std::size_t k = argn; k < args.size(); ++k) {
      if (k > argn) out += ", ";
      if (args[k].kind == Kind::Nil) {
        out += "<nil>";
      } else {
        out += type_name(args[k]);
        out += '=';
        print_value(out, args[k]);
      }
    }
    out += ')';
  }
  check_size(out);
  return out;
}

}  // namespace promwatch::tmpl
