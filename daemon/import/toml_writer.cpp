#include "toml_writer.hpp"

#include <cstdio>

namespace promwatch::import_detail {
namespace {

bool is_bare_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// TOML forbids control characters other than tab in every string but basic ones, where they
// are escaped; DEL counts as one.
bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7F; }

std::string escape_basic(std::string_view value, bool multiline) {
  std::string out;
  out.reserve(value.size() + 8);
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += multiline ? "\n" : "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (is_control(c)) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace

std::string toml_key(std::string_view key) {
  if (is_bare_key(key)) return std::string(key);
  return "\"" + escape_basic(key, false) + "\"";
}

std::string toml_string(std::string_view value) {
  bool literal_ok = value.find('\'') == std::string_view::npos;
  for (unsigned char c : value) {
    if (is_control(c) || c == '\t') literal_ok = false;
  }
  if (literal_ok && value.find('"') != std::string_view::npos) return "'" + std::string(value) + "'";
  return "\"" + escape_basic(value, false) + "\"";
}

std::string toml_text(std::string_view value) {
  if (value.find('\n') == std::string_view::npos) return toml_string(value);
  // A literal multi-line string cannot hold ''' or control characters (CR included), and a
  // trailing ' would run into the closing delimiter.
  bool literal_ok = value.find("'''") == std::string_view::npos && value.back() != '\'';
  for (unsigned char c : value) {
    if (c != '\n' && (is_control(c) || c == '\t')) literal_ok = false;
  }
  if (literal_ok) return "'''\n" + std::string(value) + "'''";
  // Basic multi-line: escape every quote and backslash; newlines stay literal.
  return "\"\"\"\n" + escape_basic(value, true) + "\"\"\"";
}

std::string toml_string_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += toml_string(values[i]);
  }
  return out + "]";
}

std::string toml_inline_table(const std::vector<std::pair<std::string, std::string>>& entries) {
  if (entries.empty()) return "{}";
  std::string out = "{ ";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i) out += ", ";
    out += toml_key(entries[i].first) + " = " + toml_string(entries[i].second);
  }
  return out + " }";
}

bool fits_inline(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::size_t width = 0;
  for (const auto& [k, v] : entries) {
    if (v.find('\n') != std::string::npos) return false;
    width += k.size() + v.size() + 8;
  }
  return width <= 100;
}

std::string toml_comment(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    out += line.empty() ? "#\n" : "# " + std::string(line) + "\n";
    if (end == text.size()) break;
    start = end + 1;
  }
  return out;
}

}  // namespace promwatch::import_detail
