// Payloads: Alertmanager's webhook message and the Alertmanager API v2 alerts body, written
// straight into one string. A JSON tree of a 10,000-alert message cost ~1.9 KB per alert at its
// peak (18.5 MB); writing the text costs the text.
//
// The bytes must stay exactly what Alertmanager sends (bridges compare and sign bodies): the
// escaping (json_text.hpp) follows Go's encoding/json rule by rule.

#include <charconv>

#include "promwatch/json_text.hpp"
#include "promwatch/notify.hpp"

namespace promwatch {
namespace {

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
  constexpr JsonEscaping go = JsonEscaping::GoEncoder;
  // Per alert: the field names, two times, a fingerprint and punctuation take under 200 bytes.
  std::size_t size = 400 + n.receiver.size() + n.group_key.size() + n.external_url.size() +
                     json_object_size(n.group_labels) + json_object_size(n.common_labels) + json_object_size(n.common_annotations);
  for (const auto& a : n.alerts) {
    size += 200 + json_object_size(a.event->labels) + json_object_size(a.event->annotations) + a.event->generator_url.size();
  }
  std::string out;
  out.reserve(size);

  out += "{\"receiver\":";
  append_json_string(out, go_quote_meta(n.receiver), go);
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
    append_json_object(out, e.labels, go);
    out += ",\"annotations\":";
    append_json_object(out, e.annotations, go);
    out += ",\"startsAt\":";
    append_plain(out, format_alert_time(e.starts_at));
    out += ",\"endsAt\":";
    append_plain(out, format_alert_time(a.ends_at()));
    out += ",\"generatorURL\":";
    append_json_string(out, e.generator_url, go);
    out += ",\"fingerprint\":";
    append_fingerprint(out, e.labels.fingerprint());
    out += '}';
  }
  out += "],\"groupLabels\":";
  append_json_object(out, n.group_labels, go);
  out += ",\"commonLabels\":";
  append_json_object(out, n.common_labels, go);
  out += ",\"commonAnnotations\":";
  append_json_object(out, n.common_annotations, go);
  out += ",\"externalURL\":";
  append_json_string(out, n.external_url, go);
  out += ",\"version\":\"4\",\"groupKey\":";
  append_json_string(out, n.group_key, go);
  out += ",\"truncatedAlerts\":";
  out += std::to_string(n.truncated_alerts);
  out += "}\n";  // json.Encoder ends every document with a newline
  return out;
}

std::string alertmanager_v2_payload(const std::vector<AlertEvent>& alerts) {
  constexpr JsonEscaping compact = JsonEscaping::Compact;
  std::size_t size = 2;
  for (const auto& a : alerts) {
    size += 150 + json_object_size(a.labels) + json_object_size(a.annotations) + a.generator_url.size();
  }
  std::string out;
  out.reserve(size);
  out += '[';
  bool first = true;
  for (const auto& a : alerts) {
    out += first ? "{" : ",{";
    first = false;
    out += "\"labels\":";
    append_json_object(out, a.labels, compact);
    out += ",\"annotations\":";
    append_json_object(out, a.annotations, compact);
    if (a.starts_at != TimePoint{}) {
      out += ",\"startsAt\":";
      append_plain(out, format_rfc3339(a.starts_at));
    }
    if (a.ends_at != TimePoint{}) {
      out += ",\"endsAt\":";
      append_plain(out, format_rfc3339(a.ends_at));
    }
    out += ",\"generatorURL\":";
    append_json_string(out, a.generator_url, compact);
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace promwatch
