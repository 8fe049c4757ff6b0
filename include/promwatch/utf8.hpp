#pragma once
/// \file
/// UTF-8 encoding of one code point, as Go's utf8.EncodeRune does it: a surrogate half or a
/// value past U+10FFFF becomes U+FFFD. Shared by every parser that unescapes `\u` sequences
/// (matchers, templates, PromQL) and by the template functions. Pure; thread-safe.

#include <cstdint>
#include <string>

namespace promwatch {

/// Appends the UTF-8 bytes of `code_point` to `out`.
void append_utf8(std::string& out, std::uint32_t code_point);

}  // namespace promwatch
