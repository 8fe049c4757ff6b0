// Encoding of store rows: JSON documents for label sets and structured values, digests for
// change detection.

#include "codec.hpp"

#include "promwatch/json_text.hpp"

#include <bit>
#include <charconv>
#include <cstring>
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

Labels labels_from_json(const json& j) {
  if (!j.is_object()) throw std::runtime_error("label set is not a JSON object");
  std::vector<Label> pairs;
  pairs.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) pairs.push_back({it.key(), it.value().get<std::string>()});
  return Labels(std::move(pairs));
}

// Encoders write the text directly (json_text.hpp): a tree per alert row cost the store thread
// more than the rest of a write, and a tree of a 10,000-alert notification ~20 MB at its peak.
// The decoders read it back with nlohmann-json (rows are read at start-up only). Invalid UTF-8
// becomes U+FFFD, as the tree's dump did.
constexpr JsonEscaping kEscaping = JsonEscaping::Compact;

std::string encode_labels(const Labels& labels) {
  std::string out;
  out.reserve(json_object_size(labels));
  append_json_object(out, labels, kEscaping);
  return out;
}

Labels decode_labels(std::string_view text) { return labels_from_json(json::parse(text)); }

std::string encode_flap(const FlapState& flap) {
  if (flap == FlapState{}) return {};
  json changes = json::array();
  for (TimePoint t : flap.changes) changes.push_back(to_ms(t));
  return json{{"since", to_ms(flap.flapping_since)}, {"count", flap.count}, {"changes", std::move(changes)}}.dump();
}

FlapState decode_flap(std::string_view text) {
  FlapState flap;
  if (text.empty()) return flap;
  const json j = json::parse(text);
  flap.flapping_since = from_ms(j.at("since").get<std::int64_t>());
  flap.count = j.at("count").get<std::uint32_t>();
  for (const auto& t : j.at("changes")) flap.changes.push_back(from_ms(t.get<std::int64_t>()));
  return flap;
}

namespace {
void append_fingerprints(std::string& out, const std::vector<std::uint64_t>& fps) {
  out += '[';
  char digits[24];
  for (std::size_t i = 0; i < fps.size(); ++i) {
    if (i > 0) out += ',';
    auto end = std::to_chars(digits, digits + sizeof digits, fps[i]).ptr;
    out.append(digits, static_cast<std::size_t>(end - digits));
  }
  out += ']';
}

// A field name with its colon, after a comma unless it is the object's first.
void key(std::string& out, std::string_view name, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += name;  // field names are plain ASCII
  out += "\":";
}

// The fields of one alert, without braces; `first`: no field precedes them.
void append_event_fields(std::string& out, const AlertEvent& a, TimePoint ends_at, bool first) {
  key(out, "labels", first);
  append_json_object(out, a.labels, kEscaping);
  key(out, "annotations");
  append_json_object(out, a.annotations, kEscaping);
  key(out, "starts_at");
  append_json_number(out, to_ms(a.starts_at));
  key(out, "ends_at");
  append_json_number(out, to_ms(ends_at));
  key(out, "generator_url");
  append_json_string(out, a.generator_url, kEscaping);
}

std::size_t event_size(const AlertEvent& a) {
  return 120 + json_object_size(a.labels) + json_object_size(a.annotations) + a.generator_url.size();
}
}  // namespace

std::string encode_fingerprints(const std::vector<std::uint64_t>& fps) {
  std::string out;
  append_fingerprints(out, fps);
  return out;
}

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
  std::size_t size = 2;
  for (const auto& a : alerts) size += event_size(*a);
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    out += i == 0 ? "{" : ",{";
    append_event_fields(out, *alerts[i], alerts[i]->ends_at, /*first=*/true);
    out += '}';
  }
  out += ']';
  return out;
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
  std::size_t size = 600 + n.receiver.size() + n.group_key.size() + n.external_url.size() +
                     2 * json_object_size(n.group_labels) + json_object_size(n.common_labels) +
                     json_object_size(n.common_annotations) + 24 * (n.firing.size() + n.resolved.size());
  for (const auto& a : n.alerts) size += 60 + event_size(*a.event);
  std::string out;
  out.reserve(size);
  out += '{';
  key(out, "receiver", true);
  append_json_string(out, n.receiver, kEscaping);
  key(out, "group_key");
  append_json_string(out, n.group_key, kEscaping);
  key(out, "group_labels");
  append_json_object(out, n.group_labels, kEscaping);
  key(out, "group_interval_ms");
  append_json_number(out, n.group_interval.count());
  key(out, "repeat_interval_ms");
  append_json_number(out, n.repeat_interval.count());
  // The template data's layout, as stored before notifications shared their alerts.
  key(out, "data");
  out += '{';
  key(out, "status", true);
  append_json_string(out, n.status(), kEscaping);
  key(out, "receiver");
  append_json_string(out, go_quote_meta(n.receiver), kEscaping);
  key(out, "group_labels");
  append_json_object(out, n.group_labels, kEscaping);
  key(out, "common_labels");
  append_json_object(out, n.common_labels, kEscaping);
  key(out, "common_annotations");
  append_json_object(out, n.common_annotations, kEscaping);
  key(out, "external_url");
  append_json_string(out, n.external_url, kEscaping);
  key(out, "alerts");
  out += '[';
  bool first = true;
  for (const auto& a : n.alerts) {
    out += first ? "{" : ",{";
    first = false;
    key(out, "status", true);
    append_json_string(out, a.status(), kEscaping);
    key(out, "fingerprint");
    append_json_string(out, fingerprint_hex(a.event->labels.fingerprint()), kEscaping);
    append_event_fields(out, *a.event, a.ends_at(), /*first=*/false);
    out += '}';
  }
  out += "]}";
  key(out, "truncated_alerts");
  append_json_number(out, static_cast<std::int64_t>(n.truncated_alerts));
  key(out, "firing");
  append_fingerprints(out, n.firing);
  key(out, "resolved");
  append_fingerprints(out, n.resolved);
  key(out, "created_at");
  append_json_number(out, to_ms(n.created_at));
  out += '}';
  return out;
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

// Eight bytes per step (FNV-1a's byte loop was a quarter of the store thread's time at 100,000
// alerts). Digests only live in memory, so the function may change between versions.
void Digest::bytes(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, b + i, sizeof word);
    h_ = (h_ ^ word) * 1099511628211ULL;
    h_ ^= h_ >> 29;
  }
  for (; i < n; ++i) {
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

AlertRow encode_alert(const Alert& a) {
  AlertRow r;
  r.fingerprint = a.fingerprint;
  r.state = a.state;
  r.labels = encode_labels(a.labels);
  r.annotations = encode_labels(a.annotations);
  r.value = a.value;
  r.active_at = a.active_at;
  r.fired_at = a.fired_at;
  r.resolved_at = a.resolved_at;
  r.last_sent_at = a.last_sent_at;
  r.valid_until = a.valid_until;
  r.keep_firing_since = a.keep_firing_since;
  r.flap = encode_flap(a.flap);
  Digest d;
  d.add(r.fingerprint).add(r.labels).add(r.annotations).add(static_cast<std::uint64_t>(r.state));
  d.add(u(r.value)).add(u(r.active_at)).add(u(r.fired_at)).add(u(r.resolved_at));
  d.add(u(r.last_sent_at)).add(u(r.valid_until)).add(u(r.keep_firing_since)).add(r.flap);
  r.digest = d.value();
  return r;
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
