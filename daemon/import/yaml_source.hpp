#pragma once
// What the importers need from a YAML file besides yaml-cpp's nodes: 1-based line numbers
// and the comments, which yaml-cpp drops (it has no API for them). Comments are found in the
// raw text: a line whose first non-blank character is `#` and which is not inside a block
// scalar (`|`/`>`), whose content lines may start with `#` too; and the end of a line that
// holds YAML, from a `#` after a blank outside quotes (`for: 5m  # flaps otherwise`).

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "promwatch/import.hpp"

namespace promwatch::import_detail {

/// The documents of a YAML stream. yaml-cpp 0.7's LoadAll never returns (allocating without
/// bound) on some malformed streams, such as one starting with `,`; this splits the stream at
/// its document markers (`---`, `...` at the start of a line, which YAML reserves for that) and
/// loads each part on its own, padded so that marks keep their lines in the whole file.
/// Throws YAML::Exception as YAML::Load does, and for a mapping that repeats a key (Go's YAML
/// refuses those: `mapping key "x" already defined at line N`).
std::vector<YAML::Node> load_documents(std::string_view text);

/// 1-based line of a node as yaml-cpp marks it (0 when it has no mark).
int line_of(const YAML::Node& node);

/// The largest line of any node in `node`. A multi-line scalar spans at least as many lines
/// as it has newlines (a block scalar's content starts on the line after its indicator).
int last_line(const YAML::Node& node);

class CommentIndex {
 public:
  explicit CommentIndex(std::string_view text);
  /// The comments on lines in [from, to) not taken before, in order, each without its `#`
  /// and one following space: whole-line comments and end-of-line ones. Lines are 1-based.
  std::vector<std::string> take(int from, int to);
  /// Only the end-of-line comments on lines in [from, to) not taken before.
  std::vector<std::string> take_trailing(int from, int to);
  /// The whole-line comments right above `line` (a contiguous run, no blank line between),
  /// not taken before, in order: for output whose order differs from the file's.
  std::vector<std::string> take_above(int line);

 private:
  std::vector<std::string> comment_;  // per line (index = line - 1); empty = no comment
  std::vector<bool> is_comment_;
  std::vector<std::string> trailing_;  // end-of-line comments, per line
  std::vector<bool> has_trailing_;
};

/// Problems collected while converting one file.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void add(int line, std::string reason) { list_.push_back({file_, line, std::move(reason)}); }
  void add(const YAML::Node& at, std::string reason) { add(line_of(at), std::move(reason)); }
  void note(const YAML::Node& at, std::string reason) { list_.push_back({file_, line_of(at), std::move(reason), false}); }
  /// In the file's order (stable: problems of one line keep the order they were found in).
  std::vector<ImportProblem>& sorted() {
    std::stable_sort(list_.begin(), list_.end(), [](const ImportProblem& a, const ImportProblem& b) { return a.line < b.line; });
    return list_;
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ImportProblem> list_;
};

/// The scalar text of a node ("" for null); nullopt-like `ok=false` when it is not a scalar.
bool scalar(const YAML::Node& node, std::string& out);

/// Byte offset of the first byte that does not start a well-formed UTF-8 sequence (overlongs,
/// surrogates and code points above U+10FFFF included), or npos. Prometheus reads rule files
/// as UTF-8 only, and TOML must be UTF-8.
std::size_t invalid_utf8_at(std::string_view s);

/// Byte offset of the first character YAML does not allow in a stream (C0 controls but tab,
/// LF and CR; DEL), or npos. Go's YAML parser, which Prometheus and Alertmanager use, refuses them.
std::size_t control_character_at(std::string_view s);

/// Why `text` cannot be read as YAML at all (with the line in `*line`), or "" when it can.
std::string unreadable_reason(std::string_view text, int* line);

/// `s` with each byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

/// A decimal integer as TOML writes one: optional `-`, digits, no leading zeros.
bool is_toml_integer(std::string_view s);

/// `[a, b]` or a single scalar as a list of strings; false when it is neither.
bool string_list(const YAML::Node& node, std::vector<std::string>& out);

}  // namespace promwatch::import_detail
