// Typed, position-aware reads from toml++ tables (see toml_reader.hpp).

#include "toml_reader.hpp"

#include <map>
#include <mutex>
#include <set>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace promwatch::config_detail {

SourcePos Context::pos(const toml::source_region& region) const {
  return SourcePos{file_, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

std::string Context::resolve_path(std::string_view path) const {
  std::filesystem::path p{std::string(path)};
  if (p.is_absolute() || base_dir_.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(base_dir_) / p).lexically_normal().string();
}

std::optional<std::string> Context::string_value(const toml::node& node, std::string_view what) {
  const auto* s = node.as_string();
  if (!s) return std::nullopt;
  if (!env_) return s->get();
  std::vector<std::string> problems;
  std::string out = expand_env(s->get(), *env_, problems);
  for (auto& p : problems) error(pos(node), std::string(what) + ": " + p);
  if (!problems.empty()) return std::nullopt;
  return out;
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::array: return "array";
    case toml::node_type::table: return "table";
    default: return "nothing";
  }
}

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the typo most
// people make in key names ("recievers").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const char ca = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
      const char cb = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
      const std::size_t cost = ca == cb ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

bool is_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // Short words need an almost exact match, or every key would "mean" every other one.
  const std::size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    // An abbreviation ("user" for "username", "inst" for "instance") is a likely mistake too.
    if (word.size() >= 3 && c.size() > word.size() && c.compare(0, word.size(), word) == 0) d = std::min(d, limit);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto best = closest_match(word, candidates);
  return best ? "; did you mean \"" + *best + "\"?" : std::string();
}

std::string expand_env(std::string_view text, const EnvLookup& env, std::vector<std::string>& problems) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      problems.push_back("unterminated \"${\" (write \"$${\" for a literal \"${\")");
      return out;
    }
    const std::string name(text.substr(i + 2, close - i - 2));
    if (!is_env_name(name)) {
      problems.push_back("invalid environment variable name \"" + name +
                         "\" in \"${...}\" (write \"$${\" for a literal \"${\")");
    } else if (auto value = env ? env(name) : std::nullopt) {
      out += *value;
    } else {
      problems.push_back("environment variable \"" + name + "\" is not set");
    }
    i = close + 1;
  }
  return out;
}

bool is_http_url(std::string_view url) {
  std::string lower;
  for (char c : url.substr(0, 8)) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest;
  if (lower.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (lower.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else {
    return false;
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
    if (host.size() <= 2) return false;
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (host.empty()) return false;
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\\' || c == '"' || c == '<' || c == '>') return false;
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    const int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return false;
  }
  return std::none_of(url.begin(), url.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

std::optional<std::string> read_file(const std::string& path, std::string* error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = std::strerror(EISDIR);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno ? errno : ENOENT);
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *error = std::strerror(errno ? errno : EIO);
    return std::nullopt;
  }
  return std::move(ss).str();
}

// ---------------------------------------------------------------------------------------------

namespace {
std::mutex accepted_keys_mutex;
std::map<std::string, std::set<std::string>>& accepted_keys() {
  static std::map<std::string, std::set<std::string>> keys;
  return keys;
}
}  // namespace

TableReader::TableReader(Context& ctx, const toml::table& table, std::string where,
                         std::vector<std::string_view> allowed)
    : ctx_(ctx), table_(table), where_(std::move(where)) {
  std::vector<std::string> names(allowed.begin(), allowed.end());
  {
    // What this table accepts, for accepted_config_keys(): one lookup per table read.
    std::lock_guard lock(accepted_keys_mutex);
    auto& known = accepted_keys()[where_];
    if (known.size() < names.size()) known.insert(names.begin(), names.end());
  }
  for (auto&& [key, value] : table_) {
    if (std::find(names.begin(), names.end(), key.str()) != names.end()) continue;
    ctx_.error(ctx_.pos(key.source()),
               "unknown key \"" + std::string(key.str()) + "\" in " + where_ + did_you_mean(key.str(), names));
  }
}

const toml::node* TableReader::get(std::string_view key) const { return table_.get(key); }

}  // namespace promwatch::config_detail

namespace promwatch {
std::map<std::string, std::set<std::string>> accepted_config_keys() {
  std::lock_guard lock(config_detail::accepted_keys_mutex);
  return config_detail::accepted_keys();
}
}  // namespace promwatch

namespace promwatch::config_detail {

SourcePos TableReader::value_pos(std::string_view key) const {
  const toml::node* n = get(key);
  return n ? ctx_.pos(*n) : pos();
}

SourcePos TableReader::key_pos(std::string_view key) const {
  auto it = table_.find(key);
  return it != table_.end() ? ctx_.pos(it->first.source()) : pos();
}

bool TableReader::require(std::string_view key) {
  if (has(key)) return true;
  ctx_.error(pos(), "missing required key \"" + std::string(key) + "\" in " + where_);
  return false;
}

void TableReader::wrong_type(std::string_view key, const toml::node& node, std::string_view expected) {
  ctx_.error(ctx_.pos(node),
             std::string(key) + ": expected " + std::string(expected) + ", got " + std::string(type_name(node)));
}

std::optional<std::string> TableReader::string(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    wrong_type(key, *n, "a string");
    return std::nullopt;
  }
  return ctx_.string_value(*n, key);
}

std::optional<TemplateText> TableReader::template_text(std::string_view key) {
  auto s = string(key);
  if (!s) return std::nullopt;
  return TemplateText{std::move(*s), value_pos(key)};
}

std::optional<Duration> TableReader::duration(std::string_view key, bool positive) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    wrong_type(key, *n, "a duration string like \"1m\"");
    return std::nullopt;
  }
  auto text = ctx_.string_value(*n, key);
  if (!text) return std::nullopt;
  auto d = parse_duration(*text);
  if (!d) {
    ctx_.error(ctx_.pos(*n), std::string(key) + ": invalid duration \"" + *text +
                                 "\" (use Prometheus syntax like \"1h30m\", \"90s\" or \"500ms\")");
    return std::nullopt;
  }
  if (positive && d->count() <= 0) {
    ctx_.error(ctx_.pos(*n), std::string(key) + ": must be greater than 0");
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> TableReader::size(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  if (auto i = n->as_integer()) {
    if (i->get() < 0) {
      ctx_.error(ctx_.pos(*n), std::string(key) + ": must not be negative");
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(i->get());
  }
  if (!n->is_string()) {
    wrong_type(key, *n, "a size (bytes, or a string like \"64MiB\")");
    return std::nullopt;
  }
  auto text = ctx_.string_value(*n, key);
  if (!text) return std::nullopt;
  auto s = parse_size(*text);
  if (!s) {
    ctx_.error(ctx_.pos(*n), std::string(key) + ": invalid size \"" + *text +
                                 "\" (use bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB like \"64MiB\")");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  const auto* i = n->as_integer();
  if (!i) {
    wrong_type(key, *n, "an integer");
    return std::nullopt;
  }
  const std::int64_t v = i->get();
  if (v < min || v > max) {
    std::string range = max >= 1000000
                            ? "must be at least " + std::to_string(min)
                            : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    ctx_.error(ctx_.pos(*n), std::string(key) + ": " + range + ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  const auto* b = n->as_boolean();
  if (!b) {
    wrong_type(key, *n, "true or false");
    return std::nullopt;
  }
  return b->get();
}

std::optional<std::vector<std::string>> TableReader::strings(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  const auto* arr = n->as_array();
  if (!arr) {
    wrong_type(key, *n, "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    const std::string what = std::string(key) + "[" + std::to_string(i) + "]";
    if (!el.is_string()) {
      ctx_.error(ctx_.pos(el), what + ": expected a string, got " + std::string(type_name(el)));
      ok = false;
      continue;
    }
    auto s = ctx_.string_value(el, what);
    if (!s) {
      ok = false;
      continue;
    }
    out.push_back(std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> TableReader::string_map(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  const auto* t = n->as_table();
  if (!t) {
    wrong_type(key, *n, "a table of strings");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool ok = true;
  for (auto&& [k, v] : *t) {
    const std::string what = std::string(key) + "." + std::string(k.str());
    if (!v.is_string()) {
      ctx_.error(ctx_.pos(v), what + ": expected a string, got " + std::string(type_name(v)));
      ok = false;
      continue;
    }
    auto s = ctx_.string_value(v, what);
    if (!s) {
      ok = false;
      continue;
    }
    out.emplace_back(std::string(k.str()), std::move(*s));
  }
  if (!ok) return std::nullopt;
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<Labels> TableReader::labels(std::string_view key) {
  auto map = template_map(key);
  if (!map) return std::nullopt;
  std::vector<Label> items;
  for (auto& [name, value] : *map) items.push_back({name, std::move(value.text)});
  return Labels(std::move(items));
}

std::optional<TemplateMap> TableReader::template_map(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  const auto* t = n->as_table();
  if (!t) {
    wrong_type(key, *n, "a table of strings");
    return std::nullopt;
  }
  TemplateMap out;
  bool ok = true;
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    if (!is_valid_label_name(name)) {
      ctx_.error(ctx_.pos(k.source()), std::string(key) + ": invalid label name \"" + name +
                                           "\" (must match [a-zA-Z_][a-zA-Z0-9_]*)");
      ok = false;
      continue;
    }
    const std::string what = std::string(key) + "." + name;
    if (!v.is_string()) {
      ctx_.error(ctx_.pos(v), what + ": expected a string, got " + std::string(type_name(v)));
      ok = false;
      continue;
    }
    auto s = ctx_.string_value(v, what);
    if (!s) {
      ok = false;
      continue;
    }
    out.emplace_back(name, TemplateText{std::move(*s), ctx_.pos(v)});
  }
  if (!ok) return std::nullopt;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::optional<std::vector<Matcher>> TableReader::matchers(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return std::nullopt;
  const auto* arr = n->as_array();
  if (!arr) {
    wrong_type(key, *n, "an array of matcher strings like 'severity=\"critical\"'");
    return std::nullopt;
  }
  std::vector<Matcher> out;
  bool ok = true;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    const std::string what = std::string(key) + "[" + std::to_string(i) + "]";
    if (!el.is_string()) {
      ctx_.error(ctx_.pos(el), what + ": expected a matcher string like 'severity=\"critical\"', got " +
                                   std::string(type_name(el)));
      ok = false;
      continue;
    }
    auto s = ctx_.string_value(el, what);
    if (!s) {
      ok = false;
      continue;
    }
    std::string error;
    auto m = Matcher::parse(*s, &error);
    if (!m) {
      ctx_.error(ctx_.pos(el), what + ": invalid matcher '" + *s + "': " + error);
      ok = false;
      continue;
    }
    out.push_back(std::move(*m));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> TableReader::label_names(std::string_view key) {
  auto names = strings(key);
  if (!names) return std::nullopt;
  const auto* arr = get(key)->as_array();
  bool ok = true;
  for (std::size_t i = 0; i < names->size(); ++i) {
    const std::string& name = (*names)[i];
    if (!is_valid_label_name(name)) {
      ctx_.error(ctx_.pos(*arr->get(i)), std::string(key) + "[" + std::to_string(i) + "]: invalid label name \"" +
                                             name + "\" (must match [a-zA-Z_][a-zA-Z0-9_]*)");
      ok = false;
    } else if (std::find(names->begin(), names->begin() + static_cast<std::ptrdiff_t>(i), name) !=
               names->begin() + static_cast<std::ptrdiff_t>(i)) {
      ctx_.error(ctx_.pos(*arr->get(i)),
                 std::string(key) + "[" + std::to_string(i) + "]: label \"" + name + "\" is listed twice");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return names;
}

std::optional<std::string> TableReader::path(std::string_view key, bool must_exist) {
  auto s = string(key);
  if (!s) return std::nullopt;
  if (s->empty()) return s;  // "" means "not set", as in the example config
  std::string resolved = ctx_.resolve_path(*s);
  if (must_exist) {
    std::string error;
    if (!read_file(resolved, &error)) {
      ctx_.error(value_pos(key), std::string(key) + " \"" + resolved + "\": " + error);
      return std::nullopt;
    }
  }
  return resolved;
}

std::optional<std::string> TableReader::secret(std::string_view key) {
  const std::string file_key = std::string(key) + "_file";
  const bool literal = has(key), from_file = has(file_key);
  if (literal && from_file) {
    ctx_.error(key_pos(file_key), std::string(key) + " and " + file_key + " are mutually exclusive; set only one");
    return std::nullopt;
  }
  if (literal) return string(key);
  if (!from_file) return std::nullopt;
  auto p = string(file_key);
  if (!p) return std::nullopt;
  if (p->empty()) {
    ctx_.error(value_pos(file_key), file_key + ": must not be empty");
    return std::nullopt;
  }
  const std::string resolved = ctx_.resolve_path(*p);
  std::string error;
  auto content = read_file(resolved, &error);
  if (!content) {
    ctx_.error(value_pos(file_key), file_key + " \"" + resolved + "\": " + error);
    return std::nullopt;
  }
  // systemd credentials and `echo secret > file` end with a newline that is not part of it.
  while (!content->empty() && (content->back() == '\n' || content->back() == '\r')) content->pop_back();
  return content;
}

std::optional<std::string> TableReader::url(std::string_view key, bool is_secret) {
  auto u = is_secret ? secret(key) : string(key);
  if (!u) return std::nullopt;
  if (!is_http_url(*u)) {
    // A secret URL (with its token) is never shown; a plain one is, redacted all the same.
    const bool from_file = is_secret && !has(key);
    SourcePos p = from_file ? value_pos(std::string(key) + "_file") : value_pos(key);
    ctx_.error(p, std::string(from_file ? std::string(key) + "_file" : std::string(key)) +
                      ": expected an http:// or https:// URL with a host");
    return std::nullopt;
  }
  return u;
}

const toml::table* TableReader::table(std::string_view key) {
  const toml::node* n = get(key);
  if (!n) return nullptr;
  const auto* t = n->as_table();
  if (!t) wrong_type(key, *n, "a table");
  return t;
}

std::vector<const toml::table*> TableReader::tables(std::string_view key) {
  std::vector<const toml::table*> out;
  const toml::node* n = get(key);
  if (!n) return out;
  const auto* arr = n->as_array();
  if (!arr) {
    wrong_type(key, *n, "an array of tables ([[" + std::string(key) + "]])");
    return out;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    if (const auto* t = el.as_table()) {
      out.push_back(t);
    } else {
      ctx_.error(ctx_.pos(el), std::string(key) + "[" + std::to_string(i) + "]: expected a table, got " +
                                   std::string(type_name(el)));
    }
  }
  return out;
}

}  // namespace promwatch::config_detail
