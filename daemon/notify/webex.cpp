// Webex Messages API: https://developer.webex.com/docs/api/v1/messages/create-a-message
//
// POST {api_url, default https://webexapis.com/v1/}messages with `Authorization: Bearer
// <bot_token>` and {"roomId", "markdown"}: the title in bold, then the text in Webex's markdown
// (CommonMark-like). A message's markdown holds 7,439 bytes: a longer notification is split
// between alerts. Webex answers 200 with the created message; errors are JSON {"message",
// "errors":[{"description"}], "trackingId"}: 400 (bad room id, message too long), 401 (bad
// token), 403 (the bot is not in the room), 404 (no such room) are permanent; 429 (with
// Retry-After) and 5xx are retried.

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

constexpr std::string_view kDefaultApiUrl = "https://webexapis.com/v1/";

struct WebexSettings final : ReceiverSettings {
  std::string room_id;
  std::string api_url = std::string(kDefaultApiUrl);
};

class WebexReceiver final : public ChatReceiver {
 public:
  WebexReceiver(ChatOptions o, std::shared_ptr<const WebexSettings> s) : ChatReceiver(std::move(o)), s_(std::move(s)) {}

  std::string destination() const override { return endpoint() + "#" + s_->room_id + "#" + config().bot_token; }

  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override {
    if (!validate(error)) return {};
    std::vector<HttpRequest> out;
    for (const ChatPart& part : compose(n)) {
      HttpRequest r = post_request("application/json");
      r.headers.emplace_back("Authorization", "Bearer " + config().bot_token);
      r.body = body(part);
      out.push_back(std::move(r));
    }
    return out;
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    DeliveryJudgement out = judge_http(response, "webex");
    if (out.verdict == DeliveryVerdict::Delivered || response.status == 0) return out;
    nlohmann::json j = parse_json(response.body);
    std::string detail = json_string(j, "message");
    if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
      for (const auto& e : j["errors"]) {
        const std::string d = json_string(e, "description");
        if (!d.empty() && d != detail) detail += (detail.empty() ? "" : "; ") + d;
      }
    }
    const std::string tracking = json_string(j, "trackingId");
    if (!detail.empty()) {
      out.reason = "webex: HTTP " + std::to_string(response.status) + ": " + excerpt(detail) +
                   (tracking.empty() ? "" : " (trackingId " + excerpt(tracking, 80) + ")");
    }
    return out;
  }

 protected:
  bool validate(std::string* error) const override {
    if (!s_->api_url.starts_with("http://") && !s_->api_url.starts_with("https://")) {
      if (error) *error = "api_url must be http or https";
      return false;
    }
    if (config().bot_token.empty() || s_->room_id.empty()) {
      if (error) *error = "webex receivers need bot_token and room_id";
      return false;
    }
    return true;
  }
  Markup markup() const override { return Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 7300;  // markdown: 7,439 bytes, the bold title included
    l.body_bytes = 16000;
    return l;
  }
  RateLimit default_rate_limit() const override { return {}; }

  std::string endpoint() const override {
    std::string base = s_->api_url;
    if (!base.ends_with('/')) base += '/';
    return base + "messages";
  }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    j["roomId"] = s_->room_id;
    j["markdown"] = bold(Markup::CommonMark, escape(Markup::CommonMark, part.title)) + "\n\n" + part.text;
    return dump(j);
  }

 private:
  std::shared_ptr<const WebexSettings> s_;
};

void read_webex_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<WebexSettings>();
  keys.require_secret("bot_token");
  if (auto v = keys.secret("bot_token")) out.bot_token = *v;
  if (keys.require("room_id")) {
    if (auto v = keys.string("room_id")) {
      if (v->empty()) keys.error_at_value("room_id", "room_id: must not be empty");
      s->room_id = *v;
    }
  }
  if (auto v = keys.url("api_url", false)) s->api_url = *v;
  for (std::string_view key : {"basic_auth", "authorization"}) {
    if (keys.has(key)) keys.error_at_key(key, std::string(key) + ": webex receivers authenticate with bot_token");
  }
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec webex_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "webex";
  spec.url = ReceiverUrl::None;  // api_url
  spec.keys = {"bot_token", "bot_token_file", "room_id", "api_url"};
  spec.read = &read_webex_keys;
  spec.make = &make_with_settings<WebexReceiver, WebexSettings>;
  return spec;
}

}  // namespace promwatch::chat
