// The PromQL lexer (facts from Prometheus's promql/parser/lex.go of 2.x and 3.x; the code is
// ours). Where 2.x and 3.x differ, the lexer takes what either accepts: numbers inside `[...]`
// (3.x reads them as seconds), `_` between digits (3.x).

#include "lexer.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <utility>

#include "promwatch/labels.hpp"
#include "promwatch/utf8.hpp"

namespace promwatch::promql::detail {
namespace {

constexpr std::int32_t kEof = -1;
constexpr std::int32_t kRuneError = 0xFFFD;

bool is_space(std::int32_t r) { return r == ' ' || r == '\t' || r == '\n' || r == '\r'; }
bool is_alpha(std::int32_t r) { return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); }
bool is_digit(std::int32_t r) { return r >= '0' && r <= '9'; }
bool is_alnum(std::int32_t r) { return is_alpha(r) || is_digit(r); }
bool is_hex(std::int32_t r) { return is_digit(r) || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F'); }

// Decodes one UTF-8 character at s[i]; invalid bytes decode as U+FFFD of length 1 (Go's
// utf8.DecodeRuneInString). `*invalid` tells a real U+FFFD from a decoding error.
std::int32_t decode(std::string_view s, std::size_t i, std::size_t* len, bool* invalid) {
  *invalid = false;
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  int n = 0;
  std::int32_t cp = 0;
  std::int32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    *len = 1;
    *invalid = true;
    return kRuneError;
  }
  if (i + n > s.size()) {
    *len = 1;
    *invalid = true;
    return kRuneError;
  }
  for (int k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *len = 1;
      *invalid = true;
      return kRuneError;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
    *len = 1;
    *invalid = true;
    return kRuneError;
  }
  *len = static_cast<std::size_t>(n);
  return cp;
}

std::string hex4(std::uint32_t v, int width) {
  static const char* digits = "0123456789ABCDEF";
  std::string s;
  for (int i = width - 1; i >= 0; --i) s += digits[(v >> (4 * i)) & 0xF];
  return s;
}

// Go's %q of a rune: 'x', '\n', '\x01', '\''.
std::string quote_rune(std::int32_t r) {
  if (r == kEof) r = kRuneError;
  switch (r) {
    case '\'': return "'\\''";
    case '\\': return "'\\\\'";
    case '\n': return "'\\n'";
    case '\t': return "'\\t'";
    case '\r': return "'\\r'";
    case '\a': return "'\\a'";
    case '\b': return "'\\b'";
    case '\f': return "'\\f'";
    case '\v': return "'\\v'";
    default: break;
  }
  if (r < 0x20 || r == 0x7F) return "'\\x" + hex4(static_cast<std::uint32_t>(r), 2) + "'";
  std::string s = "'";
  append_utf8(s, static_cast<std::uint32_t>(r));
  return s + "'";
}

// Go's %#U: U+0071 'q'.
std::string unicode_name(std::int32_t r) {
  if (r == kEof) r = kRuneError;
  std::string s = "U+" + hex4(static_cast<std::uint32_t>(r), r > 0xFFFF ? 6 : 4);
  if (r >= 0x20 && r != 0x7F) {
    s += " '";
    append_utf8(s, static_cast<std::uint32_t>(r));
    s += "'";
  }
  return s;
}

struct Keyword {
  std::string_view word;
  Tok tok;
};
constexpr Keyword kKeywords[] = {
    {"and", Tok::Land},         {"or", Tok::Lor},
    {"unless", Tok::Lunless},   {"atan2", Tok::Atan2},
    {"sum", Tok::Sum},          {"avg", Tok::Avg},
    {"count", Tok::Count},      {"min", Tok::Min},
    {"max", Tok::Max},          {"group", Tok::Group},
    {"stddev", Tok::Stddev},    {"stdvar", Tok::Stdvar},
    {"topk", Tok::Topk},        {"bottomk", Tok::Bottomk},
    {"count_values", Tok::CountValues}, {"quantile", Tok::Quantile},
    {"limitk", Tok::Limitk},    {"limit_ratio", Tok::LimitRatio},
    {"offset", Tok::Offset},    {"by", Tok::By},
    {"without", Tok::Without},  {"on", Tok::On},
    {"ignoring", Tok::Ignoring}, {"group_left", Tok::GroupLeft},
    {"group_right", Tok::GroupRight}, {"bool", Tok::Bool},
    {"start", Tok::Start},      {"end", Tok::EndKw},
    {"inf", Tok::Number},       {"nan", Tok::Number},
};

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> run() {
    while (!done_) {
      if (brace_) {
        inside_braces();
      } else {
        statements();
      }
    }
    return std::move(out_);
  }

 private:
  std::int32_t next() {
    if (pos_ >= in_.size()) {
      width_ = 0;
      return kEof;
    }
    bool invalid = false;
    const std::int32_t r = decode(in_, pos_, &width_, &invalid);
    last_invalid_ = invalid;
    pos_ += width_;
    return r;
  }
  std::int32_t peek() {
    const std::size_t p = pos_;
    const std::size_t w = width_;
    const std::int32_t r = next();
    pos_ = p;
    width_ = w;
    return r;
  }
  void backup() { pos_ -= width_; }
  bool accept(std::string_view set) {
    const std::int32_t r = peek();
    if (r != kEof && r < 0x80 && set.find(static_cast<char>(r)) != std::string_view::npos) {
      next();
      return true;
    }
    return false;
  }
  void ignore() { start_ = pos_; }
  void emit(Tok kind) {
    out_.push_back(Token{kind, start_, in_.substr(start_, pos_ - start_), {}});
    start_ = pos_;
  }
  void error(std::string message) {
    out_.push_back(Token{Tok::Error, start_, {}, std::move(message)});
    done_ = true;
  }
  bool at_comment() const { return pos_ < in_.size() && in_[pos_] == '#'; }
  void comment() {
    while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
    ignore();
  }
  void skip_spaces() {
    while (is_space(peek())) next();
    ignore();
  }

  void statements() {
    if (at_comment()) return comment();
    const std::int32_t r = next();
    switch (r) {
      case kEof:
        if (paren_ != 0) return error("unclosed left parenthesis");
        if (bracket_) return error("unclosed left bracket");
        emit(Tok::End);
        done_ = true;
        return;
      case ',': return emit(Tok::Comma);
      case '*': return emit(Tok::Mul);
      case '/': return emit(Tok::Div);
      case '%': return emit(Tok::Mod);
      case '+': return emit(Tok::Add);
      case '-': return emit(Tok::Sub);
      case '^': return emit(Tok::Pow);
      case '@': return emit(Tok::At);
      case '=': {
        const std::int32_t t = peek();
        if (t == '=') {
          next();
          return emit(Tok::EqlC);
        }
        if (t == '~') return error("unexpected character after '=': " + quote_rune(t));
        return emit(Tok::Eql);
      }
      case '!': {
        const std::int32_t t = next();
        if (t == '=') return emit(Tok::Neq);
        return error("unexpected character after '!': " + quote_rune(t));
      }
      case '<':
        if (peek() == '=') {
          next();
          return emit(Tok::Lte);
        }
        return emit(Tok::Lss);
      case '>':
        if (peek() == '=') {
          next();
          return emit(Tok::Gte);
        }
        return emit(Tok::Gtr);
      case '"':
      case '\'':
        return quoted_string(r);
      case '`':
        return raw_string();
      case '(':
        ++paren_;
        return emit(Tok::LeftParen);
      case ')':
        if (--paren_ < 0) {
          start_ = pos_;  // Prometheus reports it just after the parenthesis
          return error("unexpected right parenthesis ')'");
        }
        return emit(Tok::RightParen);
      case '{':
        brace_ = true;
        return emit(Tok::LeftBrace);
      case '[':
        if (bracket_) return error("unexpected left bracket '['");
        got_colon_ = false;
        emit(Tok::LeftBracket);
        skip_spaces();
        bracket_ = true;
        return duration_in_brackets();
      case ']':
        if (!bracket_) return error("unexpected right bracket ']'");
        bracket_ = false;
        return emit(Tok::RightBracket);
      default:
        break;
    }
    if (is_space(r)) return skip_spaces();
    if (is_digit(r) || (r == '.' && is_digit(peek()))) {
      backup();
      return number_or_duration();
    }
    if (is_alpha(r) || r == ':') {
      if (!bracket_) {
        backup();
        return keyword_or_identifier();
      }
      if (got_colon_) return error("unexpected colon " + quote_rune(r));
      got_colon_ = true;
      return emit(Tok::Colon);
    }
    error("unexpected character: " + quote_rune(r));
  }

  void inside_braces() {
    if (at_comment()) return comment();
    const std::int32_t r = next();
    switch (r) {
      case kEof: return error("unexpected end of input inside braces");
      case ',': return emit(Tok::Comma);
      case '"':
      case '\'':
        return quoted_string(r);
      case '`': return raw_string();
      case '=':
        if (next() == '~') return emit(Tok::EqlRegex);
        backup();
        return emit(Tok::Eql);
      case '!': {
        const std::int32_t nr = next();
        if (nr == '~') return emit(Tok::NeqRegex);
        if (nr == '=') return emit(Tok::Neq);
        return error("unexpected character after '!' inside braces: " + quote_rune(nr));
      }
      case '{': return error("unexpected left brace '{'");
      case '}':
        brace_ = false;
        return emit(Tok::RightBrace);
      default:
        break;
    }
    if (is_space(r)) return skip_spaces();
    if (is_alpha(r)) {
      while (is_alnum(peek())) next();
      return emit(Tok::Identifier);
    }
    error("unexpected character inside braces: " + quote_rune(r));
  }

  // Digits with single `_` between them (3.x); true when at least one digit was read.
  bool digit_run(bool hex) {
    bool any = false;
    for (;;) {
      const std::int32_t r = peek();
      if (hex ? is_hex(r) : is_digit(r)) {
        next();
        any = true;
        continue;
      }
      if (r == '_' && any && pos_ + 1 < in_.size()) {
        const auto after = static_cast<unsigned char>(in_[pos_ + 1]);
        if (hex ? is_hex(after) : is_digit(after)) {
          next();
          continue;
        }
      }
      return any;
    }
  }

  // Reads a number; true when one ends here (what follows is not a letter or digit).
  bool scan_number() {
    const std::size_t begin = pos_;
    bool hex = false;
    if (accept("0") && accept("xX")) {
      hex = true;
      if (peek() == '_') next();
    }
    digit_run(hex);
    if (!hex) {
      if (accept(".")) digit_run(false);
      if (accept("eE")) {
        accept("+-");
        digit_run(false);
      }
    }
    if (pos_ == begin) return false;
    return !is_alnum(peek());
  }

  // After the number part of a duration: units, optionally more number+unit pairs.
  bool remaining_duration() {
    if (!accept("smhdwy")) return false;
    accept("s");
    while (accept("0123456789")) {
      while (accept("0123456789")) {
      }
      if (!accept("smhdw")) return false;
      accept("s");
    }
    if (is_alnum(peek())) {
      next();
      return false;
    }
    return true;
  }

  void number_or_duration() {
    if (scan_number()) return emit(Tok::Number);
    if (remaining_duration()) return emit(Tok::Duration);
    error("bad number or duration syntax: " + go_quote(in_.substr(start_, pos_ - start_)));
  }

  void duration_in_brackets() {
    if (scan_number()) return emit(Tok::Number);  // seconds, as 3.x reads them
    if (pos_ == start_) return error("missing unit character in duration");
    if (remaining_duration()) return emit(Tok::Duration);
    error("bad duration syntax: " + go_quote(in_.substr(start_, pos_ - start_)));
  }

  void keyword_or_identifier() {
    bool colon = false;
    for (;;) {
      const std::int32_t r = peek();
      if (is_alnum(r)) {
        next();
      } else if (r == ':') {
        colon = true;
        next();
      } else {
        break;
      }
    }
    const std::string_view word = in_.substr(start_, pos_ - start_);
    std::string lower(word);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    for (const Keyword& k : kKeywords) {
      if (k.word == lower) return emit(k.tok);
    }
    emit(colon ? Tok::MetricIdentifier : Tok::Identifier);
  }

  // Returns false (after reporting) on a bad escape.
  bool escape(std::int32_t quote) {
    std::int32_t ch = next();
    int n = 0;
    std::uint32_t base = 0;
    std::uint32_t max = 0;
    switch (ch) {
      case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
        return true;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        n = 3, base = 8, max = 255;
        break;
      case 'x':
        ch = next();
        n = 2, base = 16, max = 255;
        break;
      case 'u':
        ch = next();
        n = 4, base = 16, max = 0x10FFFF;
        break;
      case 'U':
        ch = next();
        n = 8, base = 16, max = 0x10FFFF;
        break;
      case kEof:
        error("escape sequence not terminated");
        return false;
      default:
        if (ch == quote) return true;
        error("unknown escape sequence " + unicode_name(ch));
        return false;
    }
    std::uint64_t x = 0;
    while (n > 0) {
      std::uint32_t d = 16;
      if (is_digit(ch)) d = static_cast<std::uint32_t>(ch - '0');
      else if (ch >= 'a' && ch <= 'f') d = static_cast<std::uint32_t>(ch - 'a' + 10);
      else if (ch >= 'A' && ch <= 'F') d = static_cast<std::uint32_t>(ch - 'A' + 10);
      if (d >= base) {
        if (ch == kEof) {
          error("escape sequence not terminated");
        } else {
          error("illegal character " + unicode_name(ch) + " in escape sequence");
        }
        return false;
      }
      x = x * base + d;
      if (--n > 0) ch = next();
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) {
      error("escape sequence is an invalid Unicode code point");
      return false;
    }
    return true;
  }

  void quoted_string(std::int32_t quote) {
    for (;;) {
      const std::int32_t r = next();
      if (r == '\\') {
        if (!escape(quote)) return;
        continue;
      }
      if (r == kRuneError && last_invalid_) return error("invalid UTF-8 rune");
      if (r == kEof || r == '\n') return error("unterminated quoted string");
      if (r == quote) return emit(Tok::String);
    }
  }

  void raw_string() {
    for (;;) {
      const std::int32_t r = next();
      if (r == kRuneError && last_invalid_) return error("invalid UTF-8 rune");
      if (r == kEof) return error("unterminated raw string");
      if (r == '`') return emit(Tok::String);
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::size_t start_ = 0;
  std::size_t width_ = 0;
  bool last_invalid_ = false;
  bool brace_ = false;
  bool bracket_ = false;
  bool got_colon_ = false;
  int paren_ = 0;
  bool done_ = false;
  std::vector<Token> out_;
};

// Go's "%.10q..." for long token texts.
std::string quote_value(std::string_view text) {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size() && chars < 10) {
    std::size_t len = 1;
    bool invalid = false;
    decode(text, i, &len, &invalid);
    i += len;
    ++chars;
  }
  if (i < text.size()) return go_quote(text.substr(0, i)) + "...";
  return go_quote(text);
}

}  // namespace

bool is_aggregator(Tok t) { return t >= Tok::Sum && t <= Tok::LimitRatio; }
bool is_keyword(Tok t) { return t >= Tok::Offset && t <= Tok::EndKw; }
bool is_operator(Tok t) { return t >= Tok::Add && t <= Tok::Atan2; }

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End: return "end of input";
    case Tok::Error: return t.message;
    case Tok::Identifier: return "identifier " + go_quote(t.text);
    case Tok::MetricIdentifier: return "metric identifier " + go_quote(t.text);
    case Tok::String: return "string " + quote_value(t.text);
    case Tok::Number: return "number " + quote_value(t.text);
    case Tok::Duration: return "duration " + quote_value(t.text);
    default: break;
  }
  if (is_operator(t.kind)) return "<op:" + std::string(t.text) + ">";
  if (is_aggregator(t.kind)) return "<aggr:" + std::string(t.text) + ">";
  if (is_keyword(t.kind)) return "<" + std::string(t.text) + ">";
  return go_quote(t.text);
}

std::vector<Token> lex(std::string_view input) { return Lexer(input).run(); }

NumberStatus number_value(std::string_view text, double* value) {
  std::string s;
  for (char c : text) {
    if (c != '_') s += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (s == "inf") {
    *value = std::numeric_limits<double>::infinity();
    return NumberStatus::Ok;
  }
  if (s == "nan") {
    *value = std::numeric_limits<double>::quiet_NaN();
    return NumberStatus::Ok;
  }
  if (s.size() >= 2 && s[0] == '0' && s[1] == 'x') {
    // strconv.ParseInt(s, 0, 64); ParseFloat refuses hex without a `p` exponent.
    if (s.size() == 2) return NumberStatus::Invalid;
    std::uint64_t v = 0;
    for (std::size_t i = 2; i < s.size(); ++i) {
      const char c = s[i];
      const std::uint64_t d = is_digit(c) ? static_cast<std::uint64_t>(c - '0') : static_cast<std::uint64_t>(c - 'a' + 10);
      if (v > (static_cast<std::uint64_t>(INT64_MAX) - d) / 16) return NumberStatus::Invalid;
      v = v * 16 + d;
    }
    *value = static_cast<double>(v);
    return NumberStatus::Ok;
  }
  bool octal = s.size() > 1 && s[0] == '0';
  for (char c : s) octal = octal && c >= '0' && c <= '7';
  if (octal) {
    double v = 0;
    for (char c : s) v = v * 8 + (c - '0');
    *value = v;
    return NumberStatus::Ok;
  }
  if (s.empty()) return NumberStatus::Invalid;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return NumberStatus::Invalid;
  if (errno == ERANGE && std::isinf(v)) return NumberStatus::OutOfRange;
  *value = v;
  return NumberStatus::Ok;
}

bool duration_value(std::string_view text, double* millis, std::string* error) {
  struct Unit {
    std::string_view name;
    double ms;
  };
  static constexpr Unit kUnits[] = {{"y", 365.0 * 24 * 3600 * 1000}, {"w", 7.0 * 24 * 3600 * 1000},
                                    {"d", 24.0 * 3600 * 1000},        {"h", 3600.0 * 1000},
                                    {"m", 60.0 * 1000},               {"s", 1000.0},
                                    {"ms", 1.0}};
  const auto bad = [&] {
    *error = "not a valid duration string: " + go_quote(text);
    return false;
  };
  double total = 0;
  std::size_t i = 0;
  std::size_t next_unit = 0;
  if (text.empty()) return bad();
  while (i < text.size()) {
    double n = 0;
    const std::size_t digits = i;
    while (i < text.size() && is_digit(text[i])) n = n * 10 + (text[i++] - '0');
    if (i == digits || i == text.size()) return bad();
    std::string_view unit = text.substr(i, 1);
    if (text.substr(i, 2) == "ms") unit = "ms";
    i += unit.size();
    std::size_t u = next_unit;
    while (u < std::size(kUnits) && kUnits[u].name != unit) ++u;
    if (u == std::size(kUnits)) return bad();
    next_unit = u + 1;
    total += n * kUnits[u].ms;
  }
  if (total == 0) {
    *error = "duration must be greater than 0";
    return false;
  }
  *millis = total;
  return true;
}

std::string unquote(std::string_view token) {
  std::string out;
  if (token.size() < 2) return out;
  const char quote = token.front();
  const std::string_view body = token.substr(1, token.size() - 2);
  if (quote == '`') {
    for (char c : body) {
      if (c != '\r') out += c;  // Go's strconv.Unquote drops carriage returns in raw strings
    }
    return out;
  }
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out += body[i];
      continue;
    }
    const char e = body[++i];
    auto hex_value = [&](std::size_t count) {
      std::uint32_t v = 0;
      for (std::size_t k = 0; k < count && i + 1 < body.size(); ++k) {
        const char c = body[++i];
        v = v * 16 + static_cast<std::uint32_t>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
      }
      return v;
    };
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': out += static_cast<char>(hex_value(2)); break;
      case 'u': append_utf8(out, hex_value(4)); break;
      case 'U': append_utf8(out, hex_value(8)); break;
      default:
        if (e >= '0' && e <= '7') {
          std::uint32_t v = static_cast<std::uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size(); ++k) v = v * 8 + static_cast<std::uint32_t>(body[++i] - '0');
          out += static_cast<char>(v);
        } else {
          out += e;  // \\ and the quote
        }
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = 1;
    bool invalid = false;
    decode(s, i, &len, &invalid);
    if (invalid) return false;
    i += len;
  }
  return true;
}

}  // namespace promwatch::promql::detail
