// Payloads: Alertmanager's webhook message and the Alertmanager API v2 alerts body, written
// straight into one string. A JSON tree of a 10,000-alert message cost ~1.9 KB per alert at its
// peak (18.5 MB); writing the text costs the text.
//
// The bytes must stay exactly what Alertmanager sends (bridges compare and sign bodies), so the
// escaping below follows Go's encoding/json (encode.go, `encodeState.string`) rule by rule.

#include <charconv>

#include "promwatch/notify.hpp"

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

// How strings are escaped.
enum class Escaping {
  // Go 1.19's json.Encoder with its default SetEscapeHTML(true), as Alertmanager 0.25 writes
  // webhooks: `<`, `>`, `&` and U+2028/U+2029 escaped; `\b` and `\f` as \u0008 and \u000c (Go
  // has the short forms only since 1.22).
  GoEncoder,
  // What this body was before it was written by hand (nlohmann-json's dump), kept byte for byte:
  // short escapes `\b \f \n \r \t`, every other character as is.
  Compact,
};

// Appends `s` as a JSON string. Invalid UTF-8 never fails a message: each byte that does not
// start a well-formed sequence becomes \ufffd, as Go's encoder writes it.
void append_string(std::string& out, std::string_view s, Escaping style) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool go = style == Escaping::GoEncoder;
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

// Go marshals map[string]string with sorted keys; Labels are sorted by name already.
void append_object(std::string& out, const Labels& labels, Escaping style) {
  out += '{';
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out += ',';
    first = false;
    append_string(out, l.name, style);
    out += ':';
    append_string(out, l.value, style);
  }
  out += '}';
}

// Times and fingerprints hold no character that needs escaping.
void append_plain(std::string& out, std::string_view text) {
  out += '"';
  out += text;
  out += '"';
}

void append_fingerprint(std::string& out, std::uint64_t fp) {
  char hex[16];
  auto end = std::to_chars(hex, hex + sizeof hex, fp, 16).ptr;
  const std::size_t digits = static_cast<std::size_t>(end - hex);
  out += '"';
  out.append(sizeof hex - digits, '0');  // %016x
  out.append(hex, digits);
  out += '"';
}

// A close upper bound of a label set's text when little needs escaping, so that the message is
// written into one allocation instead of growing (and copying) its way up.
std::size_t text_size(const Labels& labels) {
  std::size_t n = 2;
  for (const auto& l : labels) n += l.name.size() + l.value.size() + 6;
  return n;
}

}  // namespace

std::string format_alert_time(TimePoint t) {
  if (t == TimePoint{}) return "0001-01-01T00:00:00Z";
  return format_rfc3339(t);
}

std::string_view Notification::status() const {
  for (const auto& a : alerts) {
    if (!a.resolved) return "firing";
  }
  return "resolved";
}

NotificationTemplateData notification_template_data(const Notification& n) {
  NotificationTemplateData d;
  d.status = std::string(n.status());
  d.receiver = go_quote_meta(n.receiver);
  d.group_labels = n.group_labels;
  d.common_labels = n.common_labels;
  d.common_annotations = n.common_annotations;
  d.external_url = n.external_url;
  d.alerts.reserve(n.alerts.size());
  for (const auto& a : n.alerts) {
    const AlertEvent& e = *a.event;
    NotificationAlert na;
    na.status = std::string(a.status());
    na.labels = e.labels;
    na.annotations = e.annotations;
    na.starts_at = e.starts_at;
    na.ends_at = a.ends_at();
    na.generator_url = e.generator_url;
    na.fingerprint = fingerprint_hex(e.labels.fingerprint());
    d.alerts.push_back(std::move(na));
  }
  return d;
}

std::string webhook_payload(const Notification& n) {
  constexpr Escaping go = Escaping::GoEncoder;
  // Per alert: the field names, two times, a fingerprint and punctuation take under 200 bytes.
  std::size_t size = 400 + n.receiver.size() + n.group_key.size() + n.external_url.size() +
                     text_size(n.group_labels) + text_size(n.common_labels) + text_size(n.common_annotations);
  for (const auto& a : n.alerts) {
    size += 200 + text_size(a.event->labels) + text_size(a.event->annotations) + a.event->generator_url.size();
  }
  std::string out;
  out.reserve(size);

  out += "{\"receiver\":";
  append_string(out, go_quote_meta(n.receiver), go);
  out += ",\"status\":";
  append_plain(out, n.status());
  out += ",\"alerts\":[";
  bool first = true;
  for (const auto& a : n.alerts) {
    const AlertEvent& e = *a.event;
    out += first ? "{" : ",{";
    first = false;
    out += "\"status\":";
    append_plain(out, a.status());
    out += ",\"labels\":";
    append_object(out, e.labels, go);
    out += ",\"annotations\":";
    append_object(out, e.annotations, go);
    out += ",\"startsAt\":";
    append_plain(out, format_alert_time(e.starts_at));
    out += ",\"endsAt\":";
    append_plain(out, format_alert_time(a.ends_at()));
    out += ",\"generatorURL\":";
    append_string(out, e.generator_url, go);
    out += ",\"fingerprint\":";
    append_fingerprint(out, e.labels.fingerprint());
    out += '}';
  }
  out += "],\"groupLabels\":";
  append_object(out, n.group_labels, go);
  out += ",\"commonLabels\":";
  append_object(out, n.common_labels, go);
  out += ",\"commonAnnotations\":";
  append_object(out, n.common_annotations, go);
  out += ",\"externalURL\":";
  append_string(out, n.external_url, go);
  out += ",\"version\":\"4\",\"groupKey\":";
  append_string(out, n.group_key, go);
  out += ",\"truncatedAlerts\":";
  out += std::to_string(n.truncated_alerts);
  out += "}\n";  // json.Encoder ends every document with a newline
  return out;
}

std::string alertmanager_v2_payload(const std::vector<AlertEvent>& alerts) {
  constexpr Escaping compact = Escaping::Compact;
  std::size_t size = 2;
  for (const auto& a : alerts) {
    size += 150 + text_size(a.labels) + text_size(a.annotations) + a.generator_url.size();
  }
  std::string out;
  out.reserve(size);
  out += '[';
  bool first = true;
  for (const auto& a : alerts) {
    out += first ? "{" : ",{";
    first = false;
    out += "\"labels\":";
    append_object(out, a.labels, compact);
    out += ",\"annotations\":";
    append_object(out, a.annotations, compact);
    if (a.starts_at != TimePoint{}) {
      out += ",\"startsAt\":";
      append_plain(out, format_rfc3339(a.starts_at));
    }
    if (a.ends_at != TimePoint{}) {
      out += ",\"endsAt\":";
      append_plain(out, format_rfc3339(a.ends_at));
    }
    out += ",\"generatorURL\":";
    append_string(out, a.generator_url, compact);
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace promwatch
