#pragma once
/// \file
/// Standard base64 (RFC 4648 §4, the `+/` alphabet), used for HTTP Basic credentials and for the
/// keys and values of etcd's JSON gateway. Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace promwatch {

/// Encodes `in` with `=` padding.
std::string base64_encode(std::string_view in);

/// Decodes `in`; padding is optional. nullopt on a character outside the alphabet or a length
/// no encoding has.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace promwatch
