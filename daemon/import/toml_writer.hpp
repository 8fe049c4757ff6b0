#pragma once
// A small TOML 1.0 writer for the importers: it appends lines in the order they are given
// (toml++'s serializer sorts keys and has no multi-line strings, and the output is meant to
// read like a hand-written file).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promwatch::import_detail {

/// A key as TOML writes it: bare when it is [A-Za-z0-9_-]+, else a quoted basic string.
std::string toml_key(std::string_view key);

/// A single-line string: literal '...' when that needs no escaping (PromQL reads better
/// without `\"`), else a basic "..." string with escapes.
std::string toml_string(std::string_view value);

/// Like toml_string for one-line values; a value with newlines becomes a multi-line string:
/// literal '''...''' when possible, else basic """...""" with escapes. The opening delimiter
/// is followed by a newline (which TOML drops), so the text starts on its own line.
std::string toml_text(std::string_view value);

/// `["a", "b"]`
std::string toml_string_array(const std::vector<std::string>& values);

/// `{ a = "x", "b c" = "y" }` (single-line values only: check with fits_inline).
std::string toml_inline_table(const std::vector<std::pair<std::string, std::string>>& entries);

/// True when every value is one line and the inline table stays short enough to read.
bool fits_inline(const std::vector<std::pair<std::string, std::string>>& entries);

/// `# text` lines for each line of `text`.
std::string toml_comment(std::string_view text);

}  // namespace promwatch::import_detail
