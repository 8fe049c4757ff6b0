#pragma once
// Helpers shared by the silence component's sources.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "promwatch/silence.hpp"

namespace promwatch::silence_detail {

bool valid_utf8(std::string_view s);
/// Alertmanager's matchesEmpty: an `=` matcher with an empty value or an `=~` one matching "".
bool matches_empty(const Matcher& m);
/// Formats 16 bytes as a UUID, forcing the version (4) and variant bits.
std::string uuid_from_bytes(const unsigned char* bytes);
/// {isEqual, isRegex, name, value} (Alertmanager's order) or {name, value, isRegex, isEqual}.
nlohmann::ordered_json matcher_json(const Matcher& m, bool am_order);
/// Compact JSON; invalid UTF-8 replaced rather than thrown.
std::string dump(const nlohmann::ordered_json& j);
MatchType match_type(bool is_equal, bool is_regex);
/// JSON as Go's encoding/json writes it: compact, with <, >, &, U+2028 and U+2029 escaped.
std::string go_json(const nlohmann::ordered_json& j);
/// strfmt.DateTime parsing: RFC 3339 (any fraction, `Z` or offset). nullopt otherwise.
std::optional<TimePoint> parse_api_time(std::string_view text);

}  // namespace promwatch::silence_detail
