// Label matchers (Alertmanager syntax) and PromQL series selectors.
//
// Both syntaxes share one small scanner: a label name, an operator and a value. They differ in
// what a value may look like: Alertmanager accepts bare values (`severity=critical`), PromQL
// requires quoted strings but also allows single quotes and raw backtick strings.

#include "promwatch/matcher.hpp"
#include "promwatch/utf8.hpp"

#include <re2/re2.h>

#include <cctype>
#include <cstdint>
#include <utility>

namespace promwatch {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string position_text(std::size_t pos) { return "at position " + std::to_string(pos + 1); }

// A cursor over the input that reports errors with 1-based positions.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  std::size_t pos() const { return pos_; }
  void skip_space() {
    while (!at_end() && is_space(text_[pos_])) ++pos_;
  }
  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  // [a-zA-Z_][a-zA-Z0-9_]*, or with ':' too for metric names.
  std::string name(bool allow_colon) {
    std::size_t start = pos_;
    auto ok_start = [&](char c) { return is_name_start(c) || (allow_colon && c == ':'); };
    auto ok_char = [&](char c) { return is_name_char(c) || (allow_colon && c == ':'); };
    if (at_end() || !ok_start(text_[pos_])) return {};
    while (!at_end() && ok_char(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  // Two-character operators first, so `=~` is not read as `=` followed by a value `~...`.
  std::optional<MatchType> op() {
    static constexpr std::pair<std::string_view, MatchType> kOps[] = {
        {"=~", MatchType::Regex}, {"!~", MatchType::NotRegex}, {"!=", MatchType::NotEqual}, {"=", MatchType::Equal}};
    for (const auto& [text, type] : kOps) {
      if (text_.substr(pos_, text.size()) == text) {
        pos_ += text.size();
        return type;
      }
    }
    return std::nullopt;
  }

  // A quoted string starting at the current position: "..." or '...' with Go escapes, or a raw
  // `...` string. Sets `*error` and returns nullopt on a bad escape or a missing closing quote.
  std::optional<std::string> quoted(std::string* error) {
    const std::size_t start = pos_;
    const char quote = text_[pos_++];
    std::string out;
    while (!at_end()) {
      char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        return out;
      }
      if (quote != '`' && c == '\n') break;
      if (quote == '`' || c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      const std::size_t esc = pos_++;
      if (at_end()) break;
      char e = text_[pos_++];
      switch (e) {
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '"':
        case '\'':
          if (e != quote) {
            *error = "invalid escape sequence \"\\" + std::string(1, e) + "\" " + position_text(esc);
            return std::nullopt;
          }
          out += e;
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::uint32_t v = 0;
          for (int i = 0; i < digits; ++i) {
            int h = at_end() ? -1 : hex_value(text_[pos_]);
            if (h < 0) {
              *error = "invalid escape sequence " + position_text(esc) + ": \\" + std::string(1, e) +
                       " needs " + std::to_string(digits) + " hex digits";
              return std::nullopt;
            }
            v = v * 16 + static_cast<std::uint32_t>(h);
            ++pos_;
          }
          if (e == 'x') {
            out += static_cast<char>(v);
          } else {
            append_utf8(out, v);
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t v = static_cast<std::uint32_t>(e - '0');
            for (int i = 0; i < 2; ++i) {
              if (at_end() || text_[pos_] < '0' || text_[pos_] > '7') {
                *error = "invalid escape sequence " + position_text(esc) + ": octal escapes need 3 digits";
                return std::nullopt;
              }
              v = v * 8 + static_cast<std::uint32_t>(text_[pos_++] - '0');
            }
            if (v > 255) {
              *error = "invalid escape sequence " + position_text(esc) + ": octal value over 255";
              return std::nullopt;
            }
            out += static_cast<char>(v);
            break;
          }
          *error = "invalid escape sequence \"\\" + std::string(1, e) + "\" " + position_text(esc);
          return std::nullopt;
      }
    }
    *error = "unterminated quoted string starting " + position_text(start);
    return std::nullopt;
  }

  std::string_view rest() const { return text_.substr(std::min(pos_, text_.size())); }
  void advance_to_end() { pos_ = text_.size(); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::string_view op_text(MatchType t) {
  switch (t) {
    case MatchType::Equal: return "=";
    case MatchType::NotEqual: return "!=";
    case MatchType::Regex: return "=~";
    case MatchType::NotRegex: return "!~";
  }
  return "=";
}

std::string describe_char(char c) {
  if (c == '\0') return "the end";
  return "\"" + std::string(1, c) + "\"";
}

}  // namespace

std::optional<Matcher> Matcher::make(MatchType type, std::string name, std::string value,
                                     std::string* error) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::Regex || type == MatchType::NotRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_dot_nl(true);  // Prometheus and Alertmanager compile with (?s)
    // Checked on its own first: the error then quotes the user's text, and a value like
    // `a)|(b` cannot escape the anchoring group.
    RE2 alone(m.value_, options);
    if (!alone.ok()) {
      if (error) *error = "invalid regular expression " + go_quote(m.value_) + ": " + alone.error();
      return std::nullopt;
    }
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", options);
    if (!re->ok()) {
      if (error) *error = "invalid regular expression " + go_quote(m.value_) + ": " + re->error();
      return std::nullopt;
    }
    m.regex_ = std::move(re);
  }
  return m;
}

std::optional<Matcher> Matcher::parse(std::string_view text, std::string* error) {
  std::string ignored;
  std::string& err = error ? *error : ignored;
  Scanner s(text);
  s.skip_space();
  if (s.at_end()) {
    err = "empty matcher: expected name=\"value\"";
    return std::nullopt;
  }
  std::string name = s.name(false);
  if (name.empty()) {
    err = "expected a label name " + position_text(s.pos()) + ", got " + describe_char(s.peek());
    return std::nullopt;
  }
  s.skip_space();
  const std::size_t op_pos = s.pos();
  auto type = s.op();
  if (!type) {
    err = "expected one of =, !=, =~, !~ after label name \"" + name + "\" " + position_text(op_pos) +
          ", got " + describe_char(s.peek());
    return std::nullopt;
  }
  s.skip_space();
  std::string value;
  if (s.peek() == '"') {
    auto v = s.quoted(&err);
    if (!v) return std::nullopt;
    value = std::move(*v);
    s.skip_space();
    if (!s.at_end()) {
      err = "unexpected " + describe_char(s.peek()) + " " + position_text(s.pos()) +
            " after the quoted value";
      return std::nullopt;
    }
  } else {
    // A bare value runs to the end (surrounding whitespace trimmed). It may not start with an
    // operator character (`a=="b"` is a typo, not the value `="b"`) nor contain a double quote.
    std::string_view bare = trim(s.rest());
    if (!bare.empty() && (bare.front() == '=' || bare.front() == '~')) {
      err = "unexpected " + describe_char(bare.front()) + " " + position_text(s.pos()) + " after operator \"" +
            std::string(op_text(*type)) + "\"";
      return std::nullopt;
    }
    if (auto q = bare.find('"'); q != std::string_view::npos) {
      err = "unexpected '\"' in unquoted value " + position_text(s.pos() + q) +
            "; quote the whole value";
      return std::nullopt;
    }
    value = std::string(bare);
  }
  return make(*type, std::move(name), std::move(value), &err);
}

bool Matcher::matches(const Labels& labels) const {
  std::string_view v = labels.get(name_);
  switch (type_) {
    case MatchType::Equal: return v == value_;
    case MatchType::NotEqual: return v != value_;
    case MatchType::Regex: return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex_);
    case MatchType::NotRegex: return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex_);
  }
  return false;
}

std::string Matcher::to_string() const {
  return name_ + std::string(op_text(type_)) + go_quote(value_);
}

bool matches_all(const std::vector<Matcher>& matchers, const Labels& labels) {
  for (const auto& m : matchers) {
    if (!m.matches(labels)) return false;
  }
  return true;
}

std::optional<std::vector<Matcher>> parse_selector(std::string_view text, std::string* error) {
  std::string ignored;
  std::string& err = error ? *error : ignored;
  Scanner s(text);
  std::vector<Matcher> out;
  s.skip_space();
  if (s.at_end()) {
    err = "empty selector";
    return std::nullopt;
  }
  std::string metric = s.name(true);
  if (metric.empty() && s.peek() != '{') {
    err = "expected a metric name or \"{\" " + position_text(s.pos()) + ", got " + describe_char(s.peek());
    return std::nullopt;
  }
  if (!metric.empty()) {
    out.push_back(*Matcher::make(MatchType::Equal, "__name__", metric, nullptr));
  }
  s.skip_space();
  if (s.consume('{')) {
    bool first = true;
    for (;;) {
      s.skip_space();
      if (s.consume('}')) break;
      if (!first) {
        if (!s.consume(',')) {
          err = "expected \",\" or \"}\" " + position_text(s.pos()) + ", got " + describe_char(s.peek());
          return std::nullopt;
        }
        s.skip_space();
        if (s.consume('}')) break;  // a trailing comma is allowed, as in PromQL
      }
      first = false;
      const std::size_t name_pos = s.pos();
      std::string name = s.name(false);
      if (name.empty()) {
        err = "expected a label name " + position_text(name_pos) + ", got " + describe_char(s.peek());
        return std::nullopt;
      }
      s.skip_space();
      const std::size_t op_pos = s.pos();
      auto type = s.op();
      if (!type) {
        err = "expected one of =, !=, =~, !~ after label name \"" + name + "\" " +
              position_text(op_pos) + ", got " + describe_char(s.peek());
        return std::nullopt;
      }
      s.skip_space();
      char q = s.peek();
      if (q != '"' && q != '\'' && q != '`') {
        err = "expected a quoted string " + position_text(s.pos()) + ", got " + describe_char(q);
        return std::nullopt;
      }
      auto value = s.quoted(&err);
      if (!value) return std::nullopt;
      if (name == "__name__" && !metric.empty()) {
        err = "metric name must not be set twice: \"" + metric + "\" and in the braces";
        return std::nullopt;
      }
      auto m = Matcher::make(*type, std::move(name), std::move(*value), &err);
      if (!m) return std::nullopt;
      out.push_back(std::move(*m));
    }
  }
  s.skip_space();
  if (!s.at_end()) {
    err = "unexpected " + describe_char(s.peek()) + " " + position_text(s.pos()) + " after the selector";
    return std::nullopt;
  }
  bool any_non_empty = false;
  for (const auto& m : out) {
    if (!m.matches(Labels{})) any_non_empty = true;
  }
  if (!any_non_empty) {
    err = "vector selector must contain at least one non-empty matcher";
    return std::nullopt;
  }
  return out;
}

}  // namespace promwatch
