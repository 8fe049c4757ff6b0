// Payloads: Alertmanager's webhook message and the Alertmanager API v2 alerts body, built with
// nlohmann-json (ordered, so fields come out in Alertmanager's order).

#include <nlohmann/json.hpp>

#include "promwatch/notify.hpp"

namespace promwatch {
namespace {

using ordered_json = nlohmann::ordered_json;

// Go marshals map[string]string with sorted keys; Labels are sorted by name already.
ordered_json kv_object(const Labels& labels) {
  ordered_json obj = ordered_json::object();
  for (const auto& l : labels) obj[l.name] = l.value;
  return obj;
}

// Go's json.Encoder (which Alertmanager's webhook uses) escapes <, > and & for HTML safety and
// U+2028/U+2029 for JavaScript, and ends the document with a newline. These characters can only
// occur inside strings, so escaping the serialized text is exact.
std::string go_encoder_text(const std::string& dumped) {
  std::string out;
  out.reserve(dumped.size() + 1);
  for (std::size_t i = 0; i < dumped.size(); ++i) {
    char c = dumped[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < dumped.size() && dumped[i + 1] == '\x80' &&
               (dumped[i + 2] == '\xa8' || dumped[i + 2] == '\xa9')) {
      out += dumped[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  out += '\n';
  return out;
}

}  // namespace

std::string format_alert_time(TimePoint t) {
  if (t == TimePoint{}) return "0001-01-01T00:00:00Z";
  return format_rfc3339(t);
}

std::string webhook_payload(const Notification& n) {
  const NotificationTemplateData& d = n.data;
  ordered_json msg = ordered_json::object();
  msg["receiver"] = d.receiver;
  msg["status"] = d.status;
  ordered_json alerts = ordered_json::array();
  for (const auto& a : d.alerts) {
    ordered_json ja = ordered_json::object();
    ja["status"] = a.status;
    ja["labels"] = kv_object(a.labels);
    ja["annotations"] = kv_object(a.annotations);
    ja["startsAt"] = format_alert_time(a.starts_at);
    ja["endsAt"] = format_alert_time(a.ends_at);
    ja["generatorURL"] = a.generator_url;
    ja["fingerprint"] = a.fingerprint;
    alerts.push_back(std::move(ja));
  }
  msg["alerts"] = std::move(alerts);
  msg["groupLabels"] = kv_object(d.group_labels);
  msg["commonLabels"] = kv_object(d.common_labels);
  msg["commonAnnotations"] = kv_object(d.common_annotations);
  msg["externalURL"] = d.external_url;
  msg["version"] = "4";
  msg["groupKey"] = n.group_key;
  msg["truncatedAlerts"] = n.truncated_alerts;
  // Invalid UTF-8 in a label value must not throw on the hot path: replace it (as Go does).
  return go_encoder_text(msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string alertmanager_v2_payload(const std::vector<AlertEvent>& alerts) {
  ordered_json body = ordered_json::array();
  for (const auto& a : alerts) {
    ordered_json ja = ordered_json::object();
    ja["labels"] = kv_object(a.labels);
    ja["annotations"] = kv_object(a.annotations);
    if (a.starts_at != TimePoint{}) ja["startsAt"] = format_rfc3339(a.starts_at);
    if (a.ends_at != TimePoint{}) ja["endsAt"] = format_rfc3339(a.ends_at);
    ja["generatorURL"] = a.generator_url;
    body.push_back(std::move(ja));
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace promwatch
