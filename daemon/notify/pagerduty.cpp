// PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
//
// POST {url or https://events.pagerduty.com/v2/enqueue} with routing_key, event_action
// (`trigger` while any alert of the group fires, `resolve` once none does), dedup_key (the
// SHA-256 of the group key in hex: the same group gives the same incident across restarts and
// reloads, and the resolve closes the incident the trigger opened), and for a trigger the
// payload (summary = the title, at most 1,024 characters; source; severity; custom_details with
// the plain text and the counts), links (the status page and the first alert's rule) and
// client/client_url. PagerDuty answers 202 {"status":"success","dedup_key":…}; 400 "invalid
// event" is permanent, 429 (more than 120 events a minute per routing key) and 5xx are retried.

#include "chat_common.hpp"
#include <algorithm>
#include <cctype>

#include "incident_key.hpp"
#include "receiver_types.hpp"


namespace promwatch::chat {
namespace {

constexpr std::string_view kDefaultUrl = "https://events.pagerduty.com/v2/enqueue";
constexpr std::string_view kSeverities[] = {"critical", "error", "warning", "info"};

struct PagerdutySettings final : ReceiverSettings {
  std::string routing_key;  ///< secret
  std::string severity;     ///< fixed; empty: from the alerts' `severity` label
  std::string source;       ///< payload.source; empty: the external URL's host, else "promwatch"
};


bool valid_severity(std::string_view s) {
  return std::find(std::begin(kSeverities), std::end(kSeverities), s) != std::end(kSeverities);
}

// The PagerDuty severity of a label value: its own names, and the usual aliases.
std::string map_severity(std::string_view label) {
  std::string v(label);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (valid_severity(v)) return v;
  if (v == "page" || v == "emergency" || v == "fatal" || v == "high" || v == "p1") return "critical";
  if (v == "warn" || v == "medium" || v == "p3") return "warning";
  if (v == "low" || v == "none" || v == "debug" || v == "informational" || v == "p5") return "info";
  return "error";  // Alertmanager's default for an unknown severity
}

std::string host_of(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return {};
  std::string_view rest = url.substr(sep + 3);
  return std::string(rest.substr(0, rest.find_first_of("/?#")));
}

class PagerdutyReceiver final : public ChatReceiver {
 public:
  PagerdutyReceiver(ChatOptions o, std::shared_ptr<const PagerdutySettings> s)
      : ChatReceiver(std::move(o)), s_(std::move(s)) {}

  std::string destination() const override { return endpoint() + "#" + s_->routing_key; }

  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override {
    if (!validate(error)) return {};
    bool firing = false;
    for (const auto& a : n.alerts) firing = firing || !a.resolved;
    ordered_json j;
    j["routing_key"] = s_->routing_key;
    j["event_action"] = firing ? "trigger" : "resolve";
    j["dedup_key"] = dedup_key(n.group_key);
    if (firing) {
      std::vector<ChatPart> parts = compose(n);
      const ChatPart& part = parts.front();
      std::string severity = s_->severity;
      if (severity.empty()) {
        std::string_view label = n.common_labels.get("severity");
        if (label.empty()) {
          for (const auto& a : n.alerts) {
            if (!a.resolved && !a.event->labels.get("severity").empty()) {
              label = a.event->labels.get("severity");
              break;
            }
          }
        }
        severity = map_severity(label);
      }
      std::string source = s_->source;
      if (source.empty()) source = host_of(n.external_url);
      if (source.empty()) source = "promwatch";
      std::size_t num_firing = 0;
      for (const auto& a : n.alerts) num_firing += a.resolved ? 0 : 1;
      ordered_json details;
      details["firing"] = part.text;
      details["num_firing"] = num_firing;
      details["num_resolved"] = n.alerts.size() - num_firing;
      ordered_json group = ordered_json::object();
      for (const auto& l : n.group_labels) group[l.name] = l.value;
      details["group_labels"] = group;
      ordered_json payload;
      payload["summary"] = truncate_utf8(part.title, 1024);
      payload["source"] = source;
      payload["severity"] = severity;
      payload["custom_details"] = details;
      j["payload"] = payload;
      ordered_json links = ordered_json::array();
      if (part.link.starts_with("http")) links.push_back(ordered_json{{"href", part.link}, {"text", "Open promwatch"}});
      for (const auto& a : n.alerts) {
        const std::string_view rule = a.event->generator_url.view();
        if (!a.resolved && rule.starts_with("http") && rule != part.link) {
          links.push_back(ordered_json{{"href", std::string(rule)}, {"text", "Source"}});
          break;
        }
      }
      if (!links.empty()) j["links"] = links;
    }
    j["client"] = "promwatch";
    if (n.external_url.starts_with("http")) j["client_url"] = n.external_url;
    HttpRequest r = post_request("application/json");
    r.body = dump(j);
    std::vector<HttpRequest> out;
    out.push_back(std::move(r));
    return out;
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    DeliveryJudgement out;
    if (response.status >= 200 && response.status < 300) return out;
    out = judge_http(response, "pagerduty");
    if (response.status == 400) {
      nlohmann::json j = parse_json(response.body);
      std::string detail = json_string(j, "message");
      if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
        for (const auto& e : j["errors"]) {
          if (e.is_string()) detail += "; " + e.get<std::string>();
        }
      }
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "pagerduty: HTTP 400 invalid event: " + excerpt(detail.empty() ? response.body : detail);
    }
    return out;
  }

  /// The dedup key of a group (exposed for tests through the request).
  static std::string dedup_key(std::string_view group_key) { return group_key_hash(group_key); }

 protected:
  bool validate(std::string* error) const override {
    const std::string& url = config().url;
    if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://")) {
      if (error) *error = "receiver URL must be http or https";
      return false;
    }
    if (s_->routing_key.empty()) {
      if (error) *error = "pagerduty receivers need a routing_key";
      return false;
    }
    return true;
  }
  Markup markup() const override { return Markup::Plain; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 64u << 10;  // custom_details: the event is limited to 512 KB
    l.body_bytes = 256u << 10;
    l.max_parts = 1;
    return l;
  }
  // PagerDuty: 120 events a minute per routing key, then 429.
  RateLimit default_rate_limit() const override { return {120, std::chrono::minutes(1)}; }
  bool title_in_text() const override { return false; }
  std::string body(const ChatPart& part) const override { return part.text; }
  std::string endpoint() const override { return config().url.empty() ? std::string(kDefaultUrl) : config().url; }

 private:
  std::shared_ptr<const PagerdutySettings> s_;
};

void read_pagerduty_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<PagerdutySettings>();
  keys.require_secret("routing_key");
  if (auto v = keys.secret("routing_key")) {
    s->routing_key = *v;
    out.settings_secrets.push_back(*v);
  }
  if (auto v = keys.string("severity")) {
    if (!valid_severity(*v)) {
      keys.error_at_value("severity", "severity: must be \"critical\", \"error\", \"warning\" or \"info\", got \"" + *v +
                                          "\" (leave it out to map each alert's severity label)");
    } else {
      s->severity = *v;
    }
  }
  if (auto v = keys.string("source")) s->source = *v;
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec pagerduty_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "pagerduty";
  spec.url = ReceiverUrl::Optional;  // https://events.pagerduty.com/v2/enqueue by default
  spec.keys = {"routing_key", "routing_key_file", "severity", "source"};
  spec.read = &read_pagerduty_keys;
  spec.make = &make_with_settings<PagerdutyReceiver, PagerdutySettings>;
  return spec;
}

}  // namespace promwatch::chat
