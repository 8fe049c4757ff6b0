// PromQL expressions of rule files, checked by the promql component, and the mapping of a
// position inside a TOML string value back to the line and column of the file.

#include <cstdint>

#include "promwatch/promql.hpp"
#include "sections.hpp"

namespace promwatch::config_detail {
namespace {

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::size_t utf8_length(std::uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

}  // namespace

SourcePos Context::pos_in_string(const SourcePos& value_pos, std::size_t offset) const {
  if (source_.empty() || value_pos.line < 1 || value_pos.column < 1) return value_pos;
  // The opening quote: toml++ counts lines from 1 and columns in characters.
  std::size_t i = 0;
  for (int line = 1; line < value_pos.line; ++line) {
    i = source_.find('\n', i);
    if (i == std::string_view::npos) return value_pos;
    ++i;
  }
  for (int col = 1; col < value_pos.column && i < source_.size(); ++col) {
    ++i;
    while (i < source_.size() && is_utf8_continuation(source_[i])) ++i;
  }
  const std::string_view rest = source_.substr(i);
  const bool multi = rest.starts_with("\"\"\"") || rest.starts_with("'''");
  if (rest.empty() || (rest[0] != '"' && rest[0] != '\'')) return value_pos;
  const bool literal = rest[0] == '\'';
  SourcePos at = value_pos;
  std::size_t p = i + (multi ? 3 : 1);
  at.column += multi ? 3 : 1;
  auto newline = [&](std::size_t width) {
    p += width;
    ++at.line;
    at.column = 1;
  };
  if (multi) {  // a newline right after the opening delimiter is not part of the value
    if (source_.substr(p).starts_with("\r\n")) {
      newline(2);
    } else if (source_.substr(p).starts_with("\n")) {
      newline(1);
    }
  }
  std::size_t decoded = 0;
  while (decoded < offset) {
    if (p >= source_.size()) return value_pos;
    const char c = source_[p];
    if (c == '\n' || (c == '\r' && p + 1 < source_.size() && source_[p + 1] == '\n')) {
      if (!multi) return value_pos;
      newline(c == '\r' ? 2 : 1);
      ++decoded;
      continue;
    }
    if (c == '\\' && !literal) {
      const char e = p + 1 < source_.size() ? source_[p + 1] : '\0';
      if (e == 'u' || e == 'U') {
        const std::size_t digits = e == 'u' ? 4 : 8;
        std::uint32_t cp = 0;
        for (std::size_t k = 0; k < digits; ++k) {
          const int d = p + 2 + k < source_.size() ? hex_digit(source_[p + 2 + k]) : -1;
          if (d < 0) return value_pos;
          cp = cp * 16 + static_cast<std::uint32_t>(d);
        }
        const std::size_t bytes = utf8_length(cp);
        if (decoded + bytes > offset) break;  // inside the character it writes: point at the escape
        decoded += bytes;
        p += 2 + digits;
        at.column += static_cast<int>(2 + digits);
        continue;
      }
      if (multi && (e == ' ' || e == '\t' || e == '\n' || e == '\r')) {
        // A line-ending backslash: it and all whitespace up to the next text are dropped.
        ++p;
        ++at.column;
        while (p < source_.size()) {
          const char w = source_[p];
          if (w == '\n') {
            newline(1);
          } else if (w == ' ' || w == '\t' || w == '\r') {
            ++p;
            ++at.column;
          } else {
            break;
          }
        }
        continue;
      }
      p += 2;  // \b \t \n \f \r \" \\ \e: one byte
      at.column += 2;
      ++decoded;
      continue;
    }
    // One character, copied as it is.
    std::size_t width = 1;
    while (p + width < source_.size() && is_utf8_continuation(source_[p + width])) ++width;
    if (decoded + width > offset) break;
    decoded += width;
    p += width;
    ++at.column;
  }
  return at;
}

bool check_expression(TableReader& r, std::string_view key, std::string_view expr) {
  const promql::CheckResult result = promql::check(expr);
  if (result.ok()) return true;
  r.ctx().error(r.ctx().pos_in_string(r.value_pos(key), result.error->offset),
                std::string(key) + ": parse error: " + result.error->message);
  return false;
}

}  // namespace promwatch::config_detail
