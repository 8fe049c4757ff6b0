// JSON text written by hand. The escaping follows Go's encoding/json (encode.go,
// `encodeState.string`) rule by rule, because webhook bytes must stay exactly what Alertmanager
// sends (bridges compare and sign bodies).

#include "promwatch/json_text.hpp"

#include <charconv>

namespace promwatch {
namespace {

// Length of the well-formed UTF-8 sequence that starts at s[i] (s[i] >= 0x80), or 0 when it is
// not one: Go's utf8.DecodeRuneInString rejects exactly these (stray continuation bytes,
// overlong forms, surrogates, code points above U+10FFFF, truncated sequences).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80;  // the range the second byte must be in
  unsigned char hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // overlong
    if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s, JsonEscaping style) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool go = style == JsonEscaping::GoEncoder;
  out += '"';
  std::size_t start = 0;  // s[start, i) is pending, to be appended as is
  std::size_t i = 0;
  auto escape = [&](std::string_view replacement, std::size_t consumed) {
    out.append(s, start, i - start);
    out += replacement;
    i += consumed;
    start = i;
  };
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      const bool html = b == '<' || b == '>' || b == '&';
      if (b >= 0x20 && b != '"' && b != '\\' && !(go && html)) {
        ++i;
        continue;
      }
      switch (b) {
        case '"': escape("\\\"", 1); break;
        case '\\': escape("\\\\", 1); break;
        case '\n': escape("\\n", 1); break;
        case '\r': escape("\\r", 1); break;
        case '\t': escape("\\t", 1); break;
        case '\b': escape(go ? "\\u0008" : "\\b", 1); break;
        case '\f': escape(go ? "\\u000c" : "\\f", 1); break;
        default: {
          const char u[] = {'\\', 'u', '0', '0', kHex[b >> 4], kHex[b & 0xF]};
          escape(std::string_view(u, sizeof u), 1);
        }
      }
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      escape("\\ufffd", 1);
    } else if (go && n == 3 && b == 0xE2 && s[i + 1] == '\x80' && (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      // U+2028/U+2029 end lines in JavaScript: Go escapes them so JSON stays valid JSONP.
      escape(s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029", 3);
    } else {
      i += n;
    }
  }
  out.append(s, start, s.size() - start);
  out += '"';
}

void append_json_object(std::string& out, const Labels& labels, JsonEscaping style) {
  out += '{';
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, l.name, style);
    out += ':';
    append_json_string(out, l.value, style);
  }
  out += '}';
}

void append_json_number(std::string& out, std::int64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

std::size_t json_object_size(const Labels& labels) {
  std::size_t n = 2;
  for (const auto& l : labels) n += l.name.size() + l.value.size() + 6;
  return n;
}

}  // namespace promwatch
