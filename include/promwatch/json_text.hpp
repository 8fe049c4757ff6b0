#pragma once
/// \file
/// Writing JSON text straight into a string, without building a tree first: for bodies and
/// rows with thousands of alerts, a JSON tree costs ~1.9 KB per alert at its peak, the text
/// costs the text. Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "promwatch/labels.hpp"

namespace promwatch {

/// How strings are escaped.
enum class JsonEscaping {
  /// Go 1.19's json.Encoder with its default SetEscapeHTML(true), as Alertmanager 0.25 writes
  /// webhooks: `<`, `>`, `&` and U+2028/U+2029 escaped; `\b` and `\f` as \u0008 and \u000c (Go
  /// has the short forms only since 1.22).
  GoEncoder,
  /// nlohmann-json's compact dump: short escapes `\b \f \n \r \t`, `\u00XX` for the other
  /// control characters, every other character as is.
  Compact,
};

/// Appends `s` as a JSON string (with its quotes). Invalid UTF-8 never fails: each byte that
/// does not start a well-formed sequence becomes \ufffd, as Go's encoder writes it.
void append_json_string(std::string& out, std::string_view s, JsonEscaping style);

/// Appends `labels` as a JSON object of strings, in the labels' (sorted) order, which is also
/// the order Go marshals a map[string]string in.
void append_json_object(std::string& out, const Labels& labels, JsonEscaping style);

/// Appends a signed integer as a JSON number.
void append_json_number(std::string& out, std::int64_t value);

/// A close upper bound of `append_json_object`'s text when little needs escaping: reserve it
/// and a message is written into one allocation instead of growing its way up.
std::size_t json_object_size(const Labels& labels);

}  // namespace promwatch
