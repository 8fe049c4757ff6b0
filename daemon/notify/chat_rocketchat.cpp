// Rocket.Chat incoming webhook integration:
// https://docs.rocket.chat/use-rocket.chat/workspace-administration/integrations
//
// POST {url} (https://chat.example/hooks/<id>/<token>) with card (the default): one attachment
// (title, title_link to promwatch, markdown text, red/green color) or text: {"text": …}; both
// with the optional channel, alias, emoji and avatar overrides. Rocket.Chat answers 200
// {"success":true}; a failure is {"success":false,"error":"…"} (400 for a bad payload or an
// integration that is disabled or points at a missing room, 404 for an unknown hook, 429
// "error-too-many-requests" when rate limited), and an HTTP 200 without success:true is a
// failure too. A message holds 5,000 characters (Message_MaxAllowedSize).
//
// Or, as Alertmanager's rocketchat_config does, through the REST API: POST
// {api_url}/api/v1/chat.postMessage with `X-User-Id: <token_id>` and `X-Auth-Token: <token>` (a
// personal access token) and the same body with a required channel; it answers the same way
// ({"success":true,"message":…}; 401 {"status":"error","message":"You must be logged in to do
// this."} for a bad token).

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

struct RocketchatSettings final : ReceiverSettings {
  std::string api_url;   ///< REST API mode: the server's base URL (else the webhook `url`)
  std::string token_id;  ///< REST API: the user id, secret
  std::string token;     ///< REST API: the personal access token, secret
  std::string channel;  ///< "#room" or "@user" override; empty: the integration's
  std::string alias;    ///< the sender name shown
  std::string emoji;    ///< ":bell:" as the avatar
  std::string avatar;   ///< an image URL as the avatar
};

class RocketchatReceiver final : public ChatReceiver {
 public:
  RocketchatReceiver(ChatOptions o, std::shared_ptr<const RocketchatSettings> s)
      : ChatReceiver(std::move(o)), s_(std::move(s)) {
    type_ = msg_type("card");
  }

  std::string destination() const override { return endpoint() + "#" + s_->token_id + "#" + s_->token; }

  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override {
    std::vector<HttpRequest> out = ChatReceiver::build_requests(n, error);
    if (s_->api_url.empty()) return out;
    for (auto& r : out) {
      r.headers.emplace_back("X-User-Id", s_->token_id);
      r.headers.emplace_back("X-Auth-Token", s_->token);
    }
    return out;
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    nlohmann::json j = parse_json(response.body);
    DeliveryJudgement out = judge_http(response, "rocketchat");
    const bool success = j.is_object() && j.contains("success") && j["success"] == true;
    if (response.status >= 200 && response.status < 300) {
      if (success) return out;
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "rocketchat: HTTP " + std::to_string(response.status) + " without \"success\":true: " + excerpt(response.body);
      return out;
    }
    if (response.status > 0) {
      std::string error = json_string(j, "error");
      if (error.empty()) error = json_string(j, "message");  // the REST API's authentication errors
      if (!error.empty()) out.reason = "rocketchat: HTTP " + std::to_string(response.status) + ": " + excerpt(error);
    }
    return out;
  }

 protected:
  bool validate(std::string* error) const override {
    if (s_->api_url.empty()) return ChatReceiver::validate(error);
    if (!s_->api_url.starts_with("http://") && !s_->api_url.starts_with("https://")) {
      if (error) *error = "api_url must be http or https";
      return false;
    }
    return true;
  }
  std::string endpoint() const override {
    if (s_->api_url.empty()) return config().url;
    std::string base = s_->api_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/api/v1/chat.postMessage";
  }
  Markup markup() const override { return Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 4800;  // Message_MaxAllowedSize: 5,000 characters
    l.body_bytes = 30000;
    return l;
  }
  RateLimit default_rate_limit() const override { return {}; }
  bool title_in_text() const override { return type_ == "text"; }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    if (!s_->channel.empty()) j["channel"] = s_->channel;
    if (!s_->alias.empty()) j["alias"] = s_->alias;
    if (!s_->emoji.empty()) j["emoji"] = s_->emoji;
    if (!s_->avatar.empty()) j["avatar"] = s_->avatar;
    if (type_ == "text") {
      j["text"] = bold(Markup::CommonMark, escape(Markup::CommonMark, part.title)) + "\n" + part.text;
      return dump(j);
    }
    ordered_json attachment;
    attachment["title"] = part.title;  // plain text
    if (!part.link.empty()) attachment["title_link"] = part.link;
    attachment["text"] = part.text;
    attachment["color"] = part.firing ? "#E01E5A" : "#2EB67D";
    j["attachments"] = ordered_json::array({attachment});
    return dump(j);
  }

 private:
  std::shared_ptr<const RocketchatSettings> s_;
  std::string type_;
};

void read_rocketchat_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<RocketchatSettings>();
  const bool webhook = keys.has("url") || keys.has("url_file");
  const bool rest = keys.has("api_url") || keys.has("token") || keys.has("token_file") || keys.has("token_id") ||
                    keys.has("token_id_file");
  if (webhook && rest) {
    keys.error_at_table("rocketchat receivers post to an incoming webhook (url) or through the REST API (api_url, "
                        "token_id, token), not both");
  } else if (!webhook && !rest) {
    keys.error_at_table("missing required key \"url\" (or \"url_file\"; or api_url, token_id and token for the REST API) "
                        "in [[receivers]] of type rocketchat");
  } else if (rest) {
    if (keys.require("api_url")) {
      if (auto v = keys.url("api_url", false)) s->api_url = *v;
    }
    for (std::string_view key : {"token_id", "token"}) {
      keys.require_secret(key);
      if (auto v = keys.secret(key)) {
        (key == "token" ? s->token : s->token_id) = *v;
        out.settings_secrets.push_back(*v);
      }
    }
    // chat.postMessage needs a destination; an incoming integration has its own.
    keys.require("channel");
  }
  if (auto v = keys.string("channel")) s->channel = *v;
  if (auto v = keys.string("alias")) s->alias = *v;
  if (auto v = keys.string("emoji")) s->emoji = *v;
  if (auto v = keys.url("avatar", false)) s->avatar = *v;
  if (!s->emoji.empty() && !s->avatar.empty()) {
    keys.error_at_key("avatar", "avatar: give emoji or avatar, not both (Rocket.Chat shows one)");
  }
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec rocketchat_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "rocketchat";
  spec.url = ReceiverUrl::Optional;  // or api_url with token_id and token
  spec.keys = {"channel", "alias", "emoji", "avatar", "api_url", "token_id", "token_id_file", "token", "token_file"};
  spec.msg_types = {"text", "card"};
  spec.read = &read_rocketchat_keys;
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    auto settings = std::dynamic_pointer_cast<const RocketchatSettings>(build.config.settings);
    if (!settings) settings = std::make_shared<const RocketchatSettings>();  // no overrides
    return std::make_shared<RocketchatReceiver>(build, std::move(settings));
  };
  return spec;
}

}  // namespace promwatch::chat
