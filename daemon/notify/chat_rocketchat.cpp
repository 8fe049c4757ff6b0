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

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

struct RocketchatSettings final : ReceiverSettings {
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
      const std::string error = json_string(j, "error");
      if (!error.empty()) out.reason = "rocketchat: HTTP " + std::to_string(response.status) + ": " + excerpt(error);
    }
    return out;
  }

 protected:
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
  spec.keys = {"channel", "alias", "emoji", "avatar"};
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
