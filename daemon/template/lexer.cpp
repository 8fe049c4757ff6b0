// Lexer for Go templates. Mirrors text/template/parse/lex.go closely enough that the same
// inputs give the same tokens and the same errors (messages are Go's where we produce them).

#include "lexer.hpp"

#include <cstdio>

namespace promwatch::tmpl {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alnum(char c) {
  auto u = static_cast<unsigned char>(c);
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || u >= 0x80;
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> run() {
    bool trim_left = false;  // the previous action ended with " -}}"
    while (true) {
      std::size_t start = pos_;
      std::size_t x = in_.find("{{", pos_);
      std::size_t text_end = x == std::string_view::npos ? in_.size() : x;
      std::string_view text = in_.substr(start, text_end - start);
      int text_pos = static_cast<int>(start);
      if (trim_left) {
        std::size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.remove_prefix(k);
        text_pos += static_cast<int>(k);
      }
      bool trim_right = false;
      if (x != std::string_view::npos && x + 3 < in_.size() && in_[x + 2] == '-' && is_space(in_[x + 3]))
        trim_right = true;
      if (trim_right)
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
      if (!text.empty()) emit(Tok::Text, text_pos, std::string(text));
      if (x == std::string_view::npos) {
        emit(Tok::Eof, static_cast<int>(in_.size()), "");
        return std::move(toks_);
      }
      pos_ = x + 2 + (trim_right ? 2 : 0);
      // A comment fills the whole action.
      if (in_.substr(pos_, 2) == "/*") {
        std::size_t e = in_.find("*/", pos_ + 2);
        if (e == std::string_view::npos) return fail(static_cast<int>(x), "unclosed comment");
        pos_ = e + 2;
        if (in_.substr(pos_, 2) == "}}") {
          pos_ += 2;
          trim_left = false;
        } else if (pos_ + 4 <= in_.size() && is_space(in_[pos_]) && in_.substr(pos_ + 1, 3) == "-}}") {
          pos_ += 4;
          trim_left = true;
        } else {
          return fail(static_cast<int>(x), "comment ends before closing delimiter");
        }
        continue;
      }
      emit(Tok::LeftDelim, static_cast<int>(x), "{{");
      if (!inside_action(&trim_left)) return std::move(toks_);
    }
  }

 private:
  std::vector<Token> fail(int pos, std::string msg) {
    emit(Tok::Error, pos, std::move(msg));
    return std::move(toks_);
  }
  void emit(Tok t, int pos, std::string text) { toks_.push_back(Token{t, pos, std::move(text)}); }
  bool error(std::size_t pos, std::string msg) {
    emit(Tok::Error, static_cast<int>(pos), std::move(msg));
    return false;
  }

  // Lexes up to and including the right delimiter. False after an error token.
  bool inside_action(bool* trim_left) {
    int paren_depth = 0;
    while (true) {
      if (pos_ >= in_.size()) return error(pos_, "unclosed action");
      if (in_.substr(pos_, 2) == "}}") {
        if (paren_depth > 0) return error(pos_, "unclosed left paren");
        emit(Tok::RightDelim, static_cast<int>(pos_), "}}");
        pos_ += 2;
        *trim_left = false;
        return true;
      }
      if (pos_ + 4 <= in_.size() && is_space(in_[pos_]) && in_.substr(pos_ + 1, 3) == "-}}") {
        if (paren_depth > 0) return error(pos_, "unclosed left paren");
        emit(Tok::RightDelim, static_cast<int>(pos_ + 1), "}}");
        pos_ += 4;
        *trim_left = true;
        return true;
      }
      char c = in_[pos_];
      std::size_t start = pos_;
      if (is_space(c)) {
        // Stop before " -}}" so the trim marker is seen by the next round.
        while (pos_ < in_.size() && is_space(in_[pos_])) {
          if (pos_ > start && in_.substr(pos_ + 1, 3) == "-}}") break;
          ++pos_;
        }
        emit(Tok::Space, static_cast<int>(start), std::string(in_.substr(start, pos_ - start)));
        continue;
      }
      switch (c) {
        case '=': ++pos_; emit(Tok::Assign, static_cast<int>(start), "="); continue;
        case ':':
          if (in_.substr(pos_, 2) != ":=") return error(pos_, "expected :=");
          pos_ += 2;
          emit(Tok::Declare, static_cast<int>(start), ":=");
          continue;
        case '|': ++pos_; emit(Tok::Pipe, static_cast<int>(start), "|"); continue;
        case ',': ++pos_; emit(Tok::Comma, static_cast<int>(start), ","); continue;
        case '(': ++pos_; ++paren_depth; emit(Tok::LeftParen, static_cast<int>(start), "("); continue;
        case ')':
          ++pos_;
          --paren_depth;  // a stray ')' is reported by the parser: unexpected ")" in command
          emit(Tok::RightParen, static_cast<int>(start), ")");
          continue;
        case '"': {
          ++pos_;
          while (true) {
            if (pos_ >= in_.size() || in_[pos_] == '\n') return error(start, "unterminated quoted string");
            if (in_[pos_] == '\\') {
              pos_ += 2;
              continue;
            }
            if (in_[pos_] == '"') break;
            ++pos_;
          }
          ++pos_;
          emit(Tok::String, static_cast<int>(start), std::string(in_.substr(start, pos_ - start)));
          continue;
        }
        case '`': {
          std::size_t e = in_.find('`', pos_ + 1);
          if (e == std::string_view::npos) return error(start, "unterminated raw quoted string");
          pos_ = e + 1;
          emit(Tok::RawString, static_cast<int>(start), std::string(in_.substr(start, pos_ - start)));
          continue;
        }
        case '\'': {
          ++pos_;
          while (true) {
            if (pos_ >= in_.size() || in_[pos_] == '\n') return error(start, "unterminated character constant");
            if (in_[pos_] == '\\') {
              pos_ += 2;
              continue;
            }
            if (in_[pos_] == '\'') break;
            ++pos_;
          }
          ++pos_;
          emit(Tok::Char, static_cast<int>(start), std::string(in_.substr(start, pos_ - start)));
          continue;
        }
        case '$':
        case '.': {
          if (c == '.' && pos_ + 1 < in_.size() && is_digit(in_[pos_ + 1])) break;  // number like .5
          ++pos_;
          while (pos_ < in_.size() && is_alnum(in_[pos_])) ++pos_;
          std::string text(in_.substr(start, pos_ - start));
          if (!at_terminator()) return error(pos_, "bad character " + describe_char(pos_));
          if (c == '$') emit(Tok::Variable, static_cast<int>(start), text);
          else if (text == ".") emit(Tok::Dot, static_cast<int>(start), text);
          else emit(Tok::Field, static_cast<int>(start), text);
          continue;
        }
        default: break;
      }
      if (c == '+' || c == '-' || is_digit(c) || c == '.') {
        if (!scan_number()) return error(start, "bad number syntax: " + quote(in_.substr(start, pos_ - start)));
        emit(Tok::Number, static_cast<int>(start), std::string(in_.substr(start, pos_ - start)));
        continue;
      }
      if (is_alnum(c)) {
        while (pos_ < in_.size() && is_alnum(in_[pos_])) ++pos_;
        std::string word(in_.substr(start, pos_ - start));
        if (!at_terminator()) return error(pos_, "bad character " + describe_char(pos_));
        emit(keyword(word), static_cast<int>(start), word);
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x7f && c >= 0x20) {
        // Go emits printable ASCII as a char item and lets the parser reject it.
        ++pos_;
        emit(Tok::Punct, static_cast<int>(start), std::string(1, c));
        continue;
      }
      return error(start, "unrecognized character in action: " + describe_char(start));
    }
  }

  static Tok keyword(const std::string& w) {
    if (w == "block") return Tok::Block;
    if (w == "break") return Tok::Break;
    if (w == "continue") return Tok::Continue;
    if (w == "define") return Tok::Define;
    if (w == "else") return Tok::Else;
    if (w == "end") return Tok::End;
    if (w == "if") return Tok::If;
    if (w == "range") return Tok::Range;
    if (w == "nil") return Tok::Nil;
    if (w == "template") return Tok::Template;
    if (w == "with") return Tok::With;
    if (w == "true" || w == "false") return Tok::Bool;
    return Tok::Identifier;
  }

  bool at_terminator() const {
    if (pos_ >= in_.size()) return true;
    char c = in_[pos_];
    if (is_space(c)) return true;
    switch (c) {
      case '.': case ',': case '|': case ':': case ')': case '(': return true;
      default: break;
    }
    return in_.substr(pos_, 2) == "}}";
  }

  // Go's scanNumber: sign, base prefix, digits with '_', fraction, exponent, imaginary 'i'.
  bool scan_number() {
    if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
    std::string_view digits = "0123456789_";
    if (in_.substr(pos_, 1) == "0" && pos_ + 1 < in_.size()) {
      char p = static_cast<char>(in_[pos_ + 1] | 0x20);
      if (p == 'x') { pos_ += 2; digits = "0123456789abcdefABCDEF_"; }
      else if (p == 'o') { pos_ += 2; digits = "01234567_"; }
      else if (p == 'b') { pos_ += 2; digits = "01_"; }
    }
    auto accept_run = [&](std::string_view set) {
      while (pos_ < in_.size() && set.find(in_[pos_]) != std::string_view::npos) ++pos_;
    };
    accept_run(digits);
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      accept_run(digits);
    }
    if (digits.size() == 11 && pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      accept_run("0123456789_");
    }
    if (digits.size() == 23 && pos_ < in_.size() && (in_[pos_] == 'p' || in_[pos_] == 'P')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      accept_run("0123456789_");
    }
    if (pos_ < in_.size() && in_[pos_] == 'i') ++pos_;
    if (pos_ < in_.size() && is_alnum(in_[pos_])) {
      ++pos_;
      return false;
    }
    return true;
  }

  std::string describe_char(std::size_t p) const {
    if (p >= in_.size()) return "EOF";
    auto c = static_cast<unsigned char>(in_[p]);
    char buf[32];
    if (c < 0x80) std::snprintf(buf, sizeof buf, "U+%04X '%c'", c, c >= 0x20 && c < 0x7f ? c : '?');
    else std::snprintf(buf, sizeof buf, "U+%04X", c);
    return buf;
  }

  static std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::vector<Token> toks_;
};

}  // namespace

std::vector<Token> lex(std::string_view input) { return Lexer(input).run(); }

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Eof: return "EOF";
    case Tok::Error: return t.text;
    case Tok::RightDelim: return "}}";
    case Tok::LeftDelim: return "{{";
    case Tok::Space: return "space";
    case Tok::Block: case Tok::Break: case Tok::Continue: case Tok::Define: case Tok::Else:
    case Tok::End: case Tok::If: case Tok::Range: case Tok::Nil: case Tok::Template: case Tok::With:
      return "<" + t.text + ">";
    default: break;
  }
  if (t.text.size() > 10) return "\"" + t.text.substr(0, 10) + "\"...";
  return "\"" + t.text + "\"";
}

}  // namespace promwatch::tmpl
