// Opsgenie Alert API: https://docs.opsgenie.com/docs/alert-api
//
// While any alert of the group fires: POST {api_url}/v2/alerts with `Authorization: GenieKey
// <api_key>` and message (the title, 130 characters), alias (the SHA-256 of the group key in
// hex, 64 characters of the 512 allowed: Opsgenie deduplicates open alerts by alias, so repeats
// and restarts update one alert), description (the plain text, 15,000 characters), responders,
// tags, priority, details (group labels) and source. Once none fires: POST {api_url}/v2/alerts/
// {alias}/close?identifierType=alias. Opsgenie answers 202 {"result":"Request will be
// processed",…} (processing is asynchronous); 400/422 (invalid), 401/403 (bad key), 404
// are permanent, 429 and 5xx retried. api_url: https://api.opsgenie.com (US, the default) or
// https://api.eu.opsgenie.com (EU).

#include "chat_common.hpp"
#include "incident_key.hpp"
#include "receiver_types.hpp"


namespace promwatch::chat {
namespace {

constexpr std::string_view kDefaultApiUrl = "https://api.opsgenie.com";

struct Responder {
  std::string type;  ///< team | user | escalation | schedule
  std::string name;  ///< name (team, escalation, schedule) or username (user)
};

struct OpsgenieSettings final : ReceiverSettings {
  std::string api_key;  ///< secret
  std::string api_url = std::string(kDefaultApiUrl);
  std::vector<Responder> responders;
  std::vector<std::string> tags;
  std::string priority;  ///< P1..P5; empty: Opsgenie's default (P3)
  std::string source;
};


class OpsgenieReceiver final : public ChatReceiver {
 public:
  OpsgenieReceiver(ChatOptions o, std::shared_ptr<const OpsgenieSettings> s) : ChatReceiver(std::move(o)), s_(std::move(s)) {}

  std::string destination() const override { return s_->api_url + "#" + s_->api_key; }

  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override {
    if (!validate(error)) return {};
    bool firing = false;
    for (const auto& a : n.alerts) firing = firing || !a.resolved;
    const std::string alias = group_key_hash(n.group_key);
    std::string base = s_->api_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    ordered_json j;
    HttpRequest r;
    std::string source = s_->source.empty() ? "promwatch" : s_->source;
    if (firing) {
      std::vector<ChatPart> parts = compose(n);
      const ChatPart& part = parts.front();
      r.url = base + "/v2/alerts";
      j["message"] = truncate_utf8(part.title, 130);
      j["alias"] = alias;
      j["description"] = truncate_lines(part.text, 15000);
      if (!s_->responders.empty()) {
        ordered_json list = ordered_json::array();
        for (const auto& rsp : s_->responders) {
          list.push_back(ordered_json{{"type", rsp.type}, {rsp.type == "user" ? "username" : "name", rsp.name}});
        }
        j["responders"] = list;
      }
      if (!s_->tags.empty()) j["tags"] = s_->tags;
      ordered_json details = ordered_json::object();
      for (const auto& l : n.group_labels) details[l.name] = truncate_utf8(l.value, 8000);
      if (n.external_url.starts_with("http")) details["promwatch"] = n.external_url;
      j["details"] = details;
      j["source"] = truncate_utf8(source, 100);
      if (!s_->priority.empty()) j["priority"] = s_->priority;
    } else {
      r.url = base + "/v2/alerts/" + alias + "/close?identifierType=alias";
      j["source"] = truncate_utf8(source, 100);
      j["note"] = "Resolved: every alert of the group has resolved";
    }
    std::string url = std::move(r.url);
    r = post_request("application/json");
    r.url = std::move(url);
    r.headers.emplace_back("Authorization", "GenieKey " + s_->api_key);
    r.body = dump(j);
    std::vector<HttpRequest> out;
    out.push_back(std::move(r));
    return out;
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    DeliveryJudgement out;
    if (response.status >= 200 && response.status < 300) return out;
    out = judge_http(response, "opsgenie");
    if (response.status > 0) {
      nlohmann::json j = parse_json(response.body);
      std::string message = json_string(j, "message");
      out.reason = "opsgenie: HTTP " + std::to_string(response.status) + (message.empty() ? "" : ": " + excerpt(message));
    }
    return out;
  }

 protected:
  bool validate(std::string* error) const override {
    if (!s_->api_url.starts_with("http://") && !s_->api_url.starts_with("https://")) {
      if (error) *error = "api_url must be http or https";
      return false;
    }
    if (s_->api_key.empty()) {
      if (error) *error = "opsgenie receivers need an api_key";
      return false;
    }
    return true;
  }
  Markup markup() const override { return Markup::Plain; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 14000;  // description: 15,000 characters
    l.body_bytes = 64u << 10;
    l.max_parts = 1;
    return l;
  }
  RateLimit default_rate_limit() const override { return {}; }
  bool title_in_text() const override { return false; }
  std::string body(const ChatPart& part) const override { return part.text; }

 private:
  std::shared_ptr<const OpsgenieSettings> s_;
};

void read_opsgenie_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<OpsgenieSettings>();
  keys.require_secret("api_key");
  if (auto v = keys.secret("api_key")) {
    s->api_key = *v;
    out.settings_secrets.push_back(*v);
  }
  if (auto v = keys.url("api_url", false)) s->api_url = *v;
  // responders = ["team:ops", "user:jane@example.com", "escalation:night", "schedule:primary"]
  if (auto v = keys.strings("responders")) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      const std::string& item = (*v)[i];
      const auto colon = item.find(':');
      const std::string type = colon == std::string::npos ? "" : item.substr(0, colon);
      if ((type != "team" && type != "user" && type != "escalation" && type != "schedule") || colon + 1 == item.size()) {
        keys.error_at_value("responders", "responders[" + std::to_string(i) + "]: expected \"team:NAME\", \"user:USERNAME\", "
                                          "\"escalation:NAME\" or \"schedule:NAME\", got \"" + item + "\"");
        continue;
      }
      s->responders.push_back({type, item.substr(colon + 1)});
    }
  }
  if (auto v = keys.strings("tags")) s->tags = *v;
  if (auto v = keys.string("priority")) {
    if (v->size() != 2 || (*v)[0] != 'P' || (*v)[1] < '1' || (*v)[1] > '5') {
      keys.error_at_value("priority", "priority: must be \"P1\" to \"P5\", got \"" + *v + "\"");
    } else {
      s->priority = *v;
    }
  }
  if (auto v = keys.string("source")) s->source = *v;
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec opsgenie_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "opsgenie";
  spec.url = ReceiverUrl::None;  // api_url
  spec.keys = {"api_key", "api_key_file", "api_url", "responders", "tags", "priority", "source"};
  spec.read = &read_opsgenie_keys;
  spec.make = &make_with_settings<OpsgenieReceiver, OpsgenieSettings>;
  return spec;
}

}  // namespace promwatch::chat
