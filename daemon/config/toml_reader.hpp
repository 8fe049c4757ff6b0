#pragma once
// Typed reads from toml++ tables that remember where every value was written, so that each
// problem becomes one `file:line:col: message` and loading goes on to find the next one.
//
// Every table is read through a TableReader constructed with the full list of keys the table
// may hold: unknown keys are reported at once (with a "did you mean" hint), and each getter
// reports a wrong type or a bad value at the value's position and returns nullopt, so callers
// simply keep the default.

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promwatch/config.hpp"

namespace promwatch::config_detail {

/// Errors and warnings of one load, across all files.
struct Diagnostics {
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;
};

/// One file being read: its name for positions, the directory relative paths start from, and
/// the environment for `${VAR}` expansion (null for rule files, which are not expanded).
class Context {
 public:
  Context(std::string file, std::string base_dir, const EnvLookup* env, Diagnostics& diag)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), env_(env), diag_(diag) {}

  const std::string& file() const { return file_; }
  SourcePos pos(const toml::source_region& region) const;
  SourcePos pos(const toml::node& node) const { return pos(node.source()); }
  void error(SourcePos pos, std::string message) { diag_.errors.push_back({std::move(pos), std::move(message)}); }
  void warning(SourcePos pos, std::string message) { diag_.warnings.push_back({std::move(pos), std::move(message)}); }
  std::size_t error_count() const { return diag_.errors.size(); }

  /// The text of the file, kept (not owned; it must outlive the Context) so that a problem
  /// inside a string value can be placed exactly. Rule files set it.
  void set_source(std::string_view text) { source_ = text; }
  /// Where byte `offset` of the (unescaped) string value that starts at `value_pos` was
  /// written: the real line and column inside basic, literal and multi-line strings, escapes
  /// and line-ending backslashes accounted for. `value_pos` itself when the source is not set
  /// or the mapping is not possible.
  SourcePos pos_in_string(const SourcePos& value_pos, std::size_t offset) const;

  /// `path` made absolute against the main config's directory (unchanged when already absolute).
  std::string resolve_path(std::string_view path) const;
  /// The string value of `node` after `${VAR}` expansion (main config only). On an unset
  /// variable or bad syntax, reports `what: ...` at the node and returns nullopt.
  std::optional<std::string> string_value(const toml::node& node, std::string_view what);

 private:
  std::string file_;
  std::string base_dir_;
  const EnvLookup* env_;
  Diagnostics& diag_;
  std::string_view source_;
};

/// "string", "integer", "float", "boolean", "date", "time", "date-time", "array", "table".
std::string_view type_name(const toml::node& node);

/// The closest candidate to `word` when it is close enough to be a likely typo.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);
/// `; did you mean "x"?` or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

/// Expands `${VAR}` (and `$${` to a literal `${`). Appends one sentence per problem to `problems`.
std::string expand_env(std::string_view text, const EnvLookup& env, std::vector<std::string>& problems);

/// True for `http://host...` or `https://host...` with a non-empty host and a valid port.
bool is_http_url(std::string_view url);

/// Reads a whole file. nullopt with `*error` set to strerror's text when it cannot be read.
std::optional<std::string> read_file(const std::string& path, std::string* error);

class TableReader {
 public:
  /// `where` names the table in messages, e.g. `[global]`, `[[receivers]]`, `basic_auth`.
  /// Keys of `table` not in `allowed` are reported right away.
  TableReader(Context& ctx, const toml::table& table, std::string where,
              std::vector<std::string_view> allowed);

  Context& ctx() { return ctx_; }
  const toml::table& table() const { return table_; }
  const std::string& where() const { return where_; }
  SourcePos pos() const { return ctx_.pos(table_); }

  const toml::node* get(std::string_view key) const;
  bool has(std::string_view key) const { return get(key) != nullptr; }
  /// Position of the value of `key`, or of the table when absent.
  SourcePos value_pos(std::string_view key) const;
  /// Position of the key itself, or of the table when absent.
  SourcePos key_pos(std::string_view key) const;

  /// Reports `missing required key "key" in <where>` at the table when `key` is absent.
  bool require(std::string_view key);

  std::optional<std::string> string(std::string_view key);
  std::optional<TemplateText> template_text(std::string_view key);
  /// `positive`: zero is an error too.
  std::optional<Duration> duration(std::string_view key, bool positive = false);
  std::optional<std::uint64_t> size(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(std::string_view key);
  /// An array of strings.
  std::optional<std::vector<std::string>> strings(std::string_view key);
  /// An (inline or sub-) table whose values are all strings, in key order.
  std::optional<std::vector<std::pair<std::string, std::string>>> string_map(std::string_view key);
  /// A table of label name -> value, names validated.
  std::optional<Labels> labels(std::string_view key);
  /// Label name -> template text, names validated, each with the position of its value.
  std::optional<TemplateMap> template_map(std::string_view key);
  /// A list of Alertmanager matchers, each a string.
  std::optional<std::vector<Matcher>> matchers(std::string_view key);
  /// A list of label names.
  std::optional<std::vector<std::string>> label_names(std::string_view key);
  /// A path, resolved against the main config's directory; `must_exist` checks it can be read.
  std::optional<std::string> path(std::string_view key, bool must_exist);
  /// A secret: `key` or `key_file` (read now, trailing newline stripped), never both. The
  /// value never appears in a message.
  std::optional<std::string> secret(std::string_view key);
  /// An http(s) URL (`secret`: also accepts `key_file`, never printed).
  std::optional<std::string> url(std::string_view key, bool secret);

  const toml::table* table(std::string_view key);
  /// An array of tables (`[[key]]`); every element must be a table.
  std::vector<const toml::table*> tables(std::string_view key);

 private:
  void wrong_type(std::string_view key, const toml::node& node, std::string_view expected);

  Context& ctx_;
  const toml::table& table_;
  std::string where_;
};

}  // namespace promwatch::config_detail
