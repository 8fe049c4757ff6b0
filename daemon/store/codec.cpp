// Encoding of store rows: JSON documents for label sets and structured values, digests for
// change detection.

#include "codec.hpp"

#include <bit>
#include <stdexcept>

namespace promwatch::store_detail {

std::string_view state_name(AlertState state) {
  switch (state) {
    case AlertState::Inactive: return "inactive";
    case AlertState::Pending: return "pending";
    case AlertState::Firing: return "firing";
  }
  return "inactive";
}

AlertState parse_state(std::string_view name) {
  if (name == "inactive") return AlertState::Inactive;
  if (name == "pending") return AlertState::Pending;
  if (name == "firing") return AlertState::Firing;
  throw std::runtime_error("unknown alert state \"" + std::string(name) + "\"");
}

json labels_to_json(const Labels& labels) {
  json j = json::object();
  for (const auto& l : labels) j[l.name] = l.value;
  return j;
}

Labels labels_from_json(const json& j) {
  if (!j.is_object()) throw std::runtime_error("label set is not a JSON object");
  std::vector<Label> pairs;
  pairs.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) pairs.push_back({it.key(), it.value().get<std::string>()});
  return Labels(std::move(pairs));
}

std::string to_text(const json& j) {
  // Label values are not guaranteed to be UTF-8: replace bad bytes instead of throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_labels(const Labels& labels) { return to_text(labels_to_json(labels)); }

Labels decode_labels(std::string_view text) { return labels_from_json(json::parse(text)); }

std::string encode_fingerprints(const std::vector<std::uint64_t>& fps) { return to_text(json(fps)); }

std::vector<std::uint64_t> decode_fingerprints(std::string_view text) {
  auto j = json::parse(text);
  if (!j.is_array()) throw std::runtime_error("fingerprint list is not a JSON array");
  return j.get<std::vector<std::uint64_t>>();
}

namespace {

// Field accessors that throw a readable error on a missing or mistyped field.
const json& field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) throw std::runtime_error(std::string("missing field \"") + name + "\"");
  return *it;
}
std::string str(const json& j, const char* name) { return field(j, name).get<std::string>(); }
std::int64_t i64(const json& j, const char* name) { return field(j, name).get<std::int64_t>(); }
TimePoint tp(const json& j, const char* name) { return from_ms(i64(j, name)); }

json event_to_json(const AlertEvent& a) {
  return json{{"labels", labels_to_json(a.labels)},
              {"annotations", labels_to_json(a.annotations)},
              {"starts_at", to_ms(a.starts_at)},
              {"ends_at", to_ms(a.ends_at)},
              {"generator_url", a.generator_url.view()}};
}

AlertEvent event_from_json(const json& j) {
  AlertEvent a;
  a.labels = labels_from_json(field(j, "labels"));
  a.annotations = labels_from_json(field(j, "annotations"));
  a.starts_at = tp(j, "starts_at");
  a.ends_at = tp(j, "ends_at");
  a.generator_url = str(j, "generator_url");
  return a;
}

}  // namespace

std::string encode_alert_events(const std::vector<std::shared_ptr<const AlertEvent>>& alerts) {
  json arr = json::array();
  for (const auto& a : alerts) arr.push_back(event_to_json(*a));
  return to_text(arr);
}

std::vector<std::shared_ptr<const AlertEvent>> decode_alert_events(std::string_view text) {
  auto j = json::parse(text);
  if (!j.is_array()) throw std::runtime_error("alert list is not a JSON array");
  std::vector<std::shared_ptr<const AlertEvent>> out;
  out.reserve(j.size());
  for (const auto& e : j) out.push_back(std::make_shared<const AlertEvent>(event_from_json(e)));
  return out;
}

std::string encode_notification(const Notification& n) {
  json alerts = json::array();
  for (const auto& a : n.alerts) {
    alerts.push_back(json{{"status", a.status()},
                          {"labels", labels_to_json(a.event->labels)},
                          {"annotations", labels_to_json(a.event->annotations)},
                          {"starts_at", to_ms(a.event->starts_at)},
                          {"ends_at", to_ms(a.ends_at())},
                          {"generator_url", a.event->generator_url.view()},
                          {"fingerprint", fingerprint_hex(a.event->labels.fingerprint())}});
  }
  // The template data's layout, as stored before notifications shared their alerts.
  json data{{"status", n.status()},
            {"receiver", go_quote_meta(n.receiver)},
            {"group_labels", labels_to_json(n.group_labels)},
            {"common_labels", labels_to_json(n.common_labels)},
            {"common_annotations", labels_to_json(n.common_annotations)},
            {"external_url", n.external_url},
            {"alerts", std::move(alerts)}};
  json j{{"receiver", n.receiver},
         {"group_key", n.group_key},
         {"group_labels", labels_to_json(n.group_labels)},
         {"group_interval_ms", n.group_interval.count()},
         {"repeat_interval_ms", n.repeat_interval.count()},
         {"data", std::move(data)},
         {"truncated_alerts", n.truncated_alerts},
         {"firing", n.firing},
         {"resolved", n.resolved},
         {"created_at", to_ms(n.created_at)}};
  return to_text(j);
}

Notification decode_notification(std::string_view text) {
  auto j = json::parse(text);
  if (!j.is_object()) throw std::runtime_error("notification is not a JSON object");
  Notification n;
  n.receiver = str(j, "receiver");
  n.group_key = str(j, "group_key");
  n.group_labels = labels_from_json(field(j, "group_labels"));
  n.group_interval = Duration{i64(j, "group_interval_ms")};
  n.repeat_interval = Duration{i64(j, "repeat_interval_ms")};
  // status, receiver, group labels and fingerprints are derived from the rest.
  const json& d = field(j, "data");
  n.common_labels = labels_from_json(field(d, "common_labels"));
  n.common_annotations = labels_from_json(field(d, "common_annotations"));
  n.external_url = str(d, "external_url");
  for (const auto& a : field(d, "alerts")) {
    AlertEvent e;
    e.labels = labels_from_json(field(a, "labels"));
    e.annotations = labels_from_json(field(a, "annotations"));
    e.starts_at = tp(a, "starts_at");
    e.ends_at = tp(a, "ends_at");
    e.generator_url = str(a, "generator_url");
    n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(e)), str(a, "status") == "resolved"});
  }
  n.truncated_alerts = field(j, "truncated_alerts").get<std::uint64_t>();
  n.firing = field(j, "firing").get<std::vector<std::uint64_t>>();
  n.resolved = field(j, "resolved").get<std::vector<std::uint64_t>>();
  n.created_at = tp(j, "created_at");
  return n;
}

void Digest::bytes(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    h_ ^= b[i];
    h_ *= 1099511628211ULL;
  }
}

Digest& Digest::add(std::string_view s) {
  add(static_cast<std::uint64_t>(s.size()));
  bytes(s.data(), s.size());
  return *this;
}

Digest& Digest::add(std::uint64_t v) {
  bytes(&v, sizeof v);
  return *this;
}

Digest& Digest::add(const Labels& labels) {
  add(static_cast<std::uint64_t>(labels.size()));
  for (const auto& l : labels) add(l.name).add(l.value);
  return *this;
}

namespace {
std::uint64_t u(TimePoint t) { return static_cast<std::uint64_t>(to_ms(t)); }
std::uint64_t u(double v) { return std::bit_cast<std::uint64_t>(v); }
}  // namespace

std::uint64_t digest(const Alert& a) {
  Digest d;
  d.add(a.fingerprint).add(a.labels).add(a.annotations).add(static_cast<std::uint64_t>(a.state));
  d.add(u(a.value)).add(u(a.active_at)).add(u(a.fired_at)).add(u(a.resolved_at));
  d.add(u(a.last_sent_at)).add(u(a.valid_until)).add(u(a.keep_firing_since));
  return d.value();
}

std::uint64_t digest(const HeartbeatMember& m) {
  Digest d;
  d.add(m.labels).add(m.expected ? 1 : 0).add(m.up ? 1 : 0).add(u(m.last_seen_up));
  d.add(u(m.missing_since)).add(static_cast<std::uint64_t>(m.absent.count()));
  return d.value();
}

std::uint64_t digest(const NotificationLogEntry& e) {
  Digest d;
  d.add(static_cast<std::uint64_t>(e.firing.size()));
  for (auto f : e.firing) d.add(f);
  d.add(static_cast<std::uint64_t>(e.resolved.size()));
  for (auto f : e.resolved) d.add(f);
  d.add(u(e.timestamp));
  return d.value();
}

std::uint64_t digest(const AggregationGroupState& g) {
  Digest d;
  d.add(u(g.next_flush)).add(g.has_flushed ? 1 : 0).add(static_cast<std::uint64_t>(g.alerts.size()));
  for (const auto& a : g.alerts) {
    d.add(a->labels).add(a->annotations).add(u(a->starts_at)).add(u(a->ends_at)).add(a->generator_url);
  }
  return d.value();
}

}  // namespace promwatch::store_detail
