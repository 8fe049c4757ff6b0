#pragma once
/// \file
/// Label matchers in Alertmanager syntax, shared by routes, inhibitions, silences and the
/// `match[]` filters of the API. One type, written once.
///
/// A `Matcher` is an immutable value (the compiled regex is shared); safe to use from any thread.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "promwatch/labels.hpp"

namespace re2 {
class RE2;
}

namespace promwatch {

enum class MatchType { Equal, NotEqual, Regex, NotRegex };

class Matcher {
 public:
  /// Builds a matcher; for regex types `value` is RE2 syntax anchored as `^(?:value)$`.
  /// nullopt with `*error` set when the regex does not compile.
  static std::optional<Matcher> make(MatchType type, std::string name, std::string value,
                                     std::string* error);

  /// Parses one matcher as Alertmanager writes them: `name="value"`, `name!=value`,
  /// `name=~"re"`, `name!~re`. Values may be double-quoted (with Go escapes) or bare.
  /// nullopt with `*error` set (a sentence naming the problem) on bad input.
  static std::optional<Matcher> parse(std::string_view text, std::string* error);

  /// A missing label matches as the empty string, as in Alertmanager.
  bool matches(const Labels& labels) const;

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  /// `name="value"` with the value Go-quoted; parse(to_string()) gives the same matcher.
  std::string to_string() const;

 private:
  Matcher() = default;
  MatchType type_ = MatchType::Equal;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;  // set for Regex/NotRegex
};

/// True when every matcher matches.
bool matches_all(const std::vector<Matcher>& matchers, const Labels& labels);

/// Parses a PromQL-style series selector as used by `match[]`: `{a="b", c=~"d"}` or
/// `metric{a="b"}` (the metric name becomes `__name__="metric"`). nullopt with `*error` set.
std::optional<std::vector<Matcher>> parse_selector(std::string_view text, std::string* error);

}  // namespace promwatch
