#pragma once
// Private helpers of the HTTP server component.

#include <optional>
#include <string>
#include <string_view>

namespace promwatch::server_detail {

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);
/// "application/json; charset=utf-8" -> "application/json" (case kept, whitespace trimmed).
std::string_view media_type(std::string_view content_type);
/// Whether an `Origin` header ("http://host:port") names the same host[:port] as `Host`.
bool origin_matches_host(std::string_view origin, std::string_view host);

}  // namespace promwatch::server_detail
