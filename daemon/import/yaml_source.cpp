#include "yaml_source.hpp"

#include <cstdint>
#include <map>

namespace promwatch::import_detail {
namespace {

std::size_t indent_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

bool blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// True when a line introduces a block scalar: its value part is `|` or `>` with optional
// chomping and indentation indicators, perhaps followed by a comment (`key: |-`, `- >2`).
bool opens_block_scalar(std::string_view line) {
  // Drop a trailing comment (a `#` after a blank); a `#` in a quoted key is rare enough here.
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '#' && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
      line = line.substr(0, i);
      break;
    }
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  std::size_t i = line.size();
  while (i > 0 && (line[i - 1] == '-' || line[i - 1] == '+' || (line[i - 1] >= '1' && line[i - 1] <= '9'))) --i;
  if (i == 0 || (line[i - 1] != '|' && line[i - 1] != '>')) return false;
  --i;
  if (i == 0) return true;
  const char before = line[i - 1];
  if (before != ' ' && before != '\t') return false;
  std::string_view head = line.substr(0, i);
  while (!head.empty() && (head.back() == ' ' || head.back() == '\t')) head.remove_suffix(1);
  return head.empty() || head.back() == ':' || head.back() == '-';
}

// Where the comment at the end of a line that holds YAML starts (the `#`), or npos. A `#` starts
// a comment after a blank, outside quotes; a quote opens a quoted scalar only where a scalar can
// start (so the apostrophe of `it's down` does not).
std::size_t trailing_comment_at(std::string_view line) {
  char quote = 0;
  char before = ' ';  // the last character that is not a blank
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote == '"') {
      if (c == '\\') ++i;
      else if (c == '"') quote = 0;
      continue;
    }
    if (quote == '\'') {
      if (c == '\'' && i + 1 < line.size() && line[i + 1] == '\'') ++i;  // '' is a quote inside
      else if (c == '\'') quote = 0;
      continue;
    }
    if ((c == '"' || c == '\'') && std::string_view(" :-[{,?").find(before) != std::string_view::npos) {
      quote = c;
      continue;
    }
    if (c == '#' && i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t')) return i;
    if (c != ' ' && c != '\t') before = c;
  }
  return std::string_view::npos;
}

// A comment's text as TOML can hold it: no control character but tab.
std::string comment_text(std::string_view c) {
  if (!c.empty() && c.front() == ' ') c.remove_prefix(1);
  while (!c.empty() && (c.back() == '\r' || c.back() == ' ' || c.back() == '\t')) c.remove_suffix(1);
  std::string text(c);
  for (char& ch : text) {
    if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7F) ch = ' ';
  }
  return text;
}

}  // namespace

namespace {

// Go's YAML decoders (Prometheus, Alertmanager) refuse a mapping that repeats a key; yaml-cpp
// keeps both, and carrying both over would write a TOML key twice. Walks with its own stack:
// the nesting is the input's.
void refuse_duplicate_keys(const YAML::Node& root) {
  std::vector<YAML::Node> pending{root};
  while (!pending.empty()) {
    YAML::Node node = pending.back();
    pending.pop_back();
    if (node.IsMap()) {
      std::map<std::string, int> seen;
      for (const auto& kv : node) {
        if (kv.first.IsScalar()) {
          auto [it, inserted] = seen.emplace(kv.first.Scalar(), line_of(kv.first));
          if (!inserted) {
            throw YAML::ParserException(kv.first.Mark(), "mapping key \"" + kv.first.Scalar() +
                                                             "\" already defined at line " + std::to_string(it->second));
          }
        }
        pending.push_back(kv.second);
      }
    } else if (node.IsSequence()) {
      for (const auto& item : node) pending.push_back(item);
    }
  }
}

}  // namespace

std::vector<YAML::Node> load_documents(std::string_view text) {
  auto is_marker = [](std::string_view line) {
    if (line.size() < 3 || (line.substr(0, 3) != "---" && line.substr(0, 3) != "...")) return false;
    return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
  };
  std::vector<YAML::Node> docs;
  std::size_t part_start = 0;
  int part_line = 0;  // lines before the part
  int line = 0;
  auto load_part = [&](std::size_t end) {
    std::string_view part = text.substr(part_start, end - part_start);
    if (part.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
    YAML::Node doc = YAML::Load(std::string(static_cast<std::size_t>(part_line), '\n') + std::string(part));
    if (doc && !doc.IsNull()) {
      refuse_duplicate_keys(doc);
      docs.push_back(doc);
    }
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (is_marker(text.substr(pos, end - pos)) && pos > part_start) {
      load_part(pos);
      part_start = pos;
      part_line = line;
    }
    // A `...` line ends its document: what follows starts the next part.
    if (text.substr(pos, std::min<std::size_t>(3, end - pos)) == "..." && is_marker(text.substr(pos, end - pos))) {
      part_start = end;
      part_line = line;
    }
    pos = end + 1;
    ++line;
  }
  if (part_start < text.size()) load_part(text.size());
  return docs;
}

int line_of(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return m.is_null() ? 0 : m.line + 1;
}

CommentIndex::CommentIndex(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  comment_.assign(lines.size(), {});
  is_comment_.assign(lines.size(), false);
  trailing_.assign(lines.size(), {});
  has_trailing_.assign(lines.size(), false);
  std::size_t block_indent = 0;
  bool in_block = false;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n];
    if (in_block) {
      if (blank(line) || indent_of(line) > block_indent) continue;
      in_block = false;
    }
    const std::size_t ind = indent_of(line);
    if (ind < line.size() && line[ind] == '#') {
      comment_[n] = comment_text(line.substr(ind + 1));
      is_comment_[n] = true;
      continue;
    }
    if (const std::size_t at = trailing_comment_at(line); at != std::string_view::npos) {
      trailing_[n] = comment_text(line.substr(at + 1));
      has_trailing_[n] = true;
    }
    if (opens_block_scalar(line)) {
      // The content is indented deeper than the key that owns it: for `- key: |` that key
      // starts after the dash, for `- |` the dash is the owner.
      std::size_t key = ind;
      while (key + 1 < line.size() && line[key] == '-' && line[key + 1] == ' ') {
        std::size_t after = key + 1;
        while (after < line.size() && line[after] == ' ') ++after;
        if (after < line.size() && line[after] == '|') break;
        if (after < line.size() && line[after] == '>') break;
        key = after;
      }
      in_block = true;
      block_indent = key;
    }
  }
}

std::vector<std::string> CommentIndex::take(int from, int to) {
  std::vector<std::string> out;
  if (from < 1) from = 1;
  for (int l = from; l < to && l <= static_cast<int>(comment_.size()); ++l) {
    if (is_comment_[l - 1]) {
      out.push_back(comment_[l - 1]);
      is_comment_[l - 1] = false;
    } else if (has_trailing_[l - 1]) {
      out.push_back(trailing_[l - 1]);
      has_trailing_[l - 1] = false;
    }
  }
  return out;
}

std::vector<std::string> CommentIndex::take_trailing(int from, int to) {
  std::vector<std::string> out;
  if (from < 1) from = 1;
  for (int l = from; l < to && l <= static_cast<int>(trailing_.size()); ++l) {
    if (!has_trailing_[l - 1]) continue;
    out.push_back(trailing_[l - 1]);
    has_trailing_[l - 1] = false;
  }
  return out;
}

int last_line(const YAML::Node& node) {
  int max = line_of(node);
  if (node.IsMap()) {
    for (const auto& kv : node) max = std::max({max, last_line(kv.first), last_line(kv.second)});
  } else if (node.IsSequence()) {
    for (const auto& e : node) max = std::max(max, last_line(e));
  } else if (node.IsScalar()) {
    max += static_cast<int>(std::count(node.Scalar().begin(), node.Scalar().end(), '\n'));
  }
  return max;
}

std::vector<std::string> CommentIndex::take_above(int line) {
  int first = line;
  while (first - 1 >= 1 && first - 1 <= static_cast<int>(comment_.size()) && is_comment_[first - 2]) --first;
  return take(first, line);
}

std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::size_t control_character_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) return i;
  }
  return std::string_view::npos;
}

std::string unreadable_reason(std::string_view text, int* line) {
  auto line_at = [&](std::size_t offset) {
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
  };
  if (auto at = invalid_utf8_at(text); at != std::string_view::npos) {
    *line = line_at(at);
    return "not valid UTF-8; nothing carried over";
  }
  if (auto at = control_character_at(text); at != std::string_view::npos) {
    *line = line_at(at);
    return "control character (byte " + std::to_string(static_cast<unsigned char>(text[at])) +
           ") that YAML does not allow; nothing carried over";
  }
  return {};
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const std::size_t bad = invalid_utf8_at(s);
    if (bad == std::string_view::npos) {
      out += s;
      break;
    }
    out += s.substr(0, bad);
    out += "\xEF\xBF\xBD";
    s.remove_prefix(bad + 1);
  }
  return out;
}

bool is_toml_integer(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  return s.size() == 1 || s.front() != '0';
}

bool scalar(const YAML::Node& node, std::string& out) {
  if (!node || node.IsNull()) {
    out.clear();
    return true;
  }
  if (!node.IsScalar()) return false;
  out = node.Scalar();
  return true;
}

bool string_list(const YAML::Node& node, std::vector<std::string>& out) {
  out.clear();
  if (!node || node.IsNull()) return true;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return true;
  }
  if (!node.IsSequence()) return false;
  for (const auto& e : node) {
    if (!e.IsScalar()) return false;
    out.push_back(e.Scalar());
  }
  return true;
}

}  // namespace promwatch::import_detail
