// Mattermost incoming webhook: https://developers.mattermost.com/integrate/webhooks/incoming/
//
// POST {url} with card (the default): one message attachment (fallback, red/green color, title,
// title_link to promwatch, markdown text) or text: {"text": …} in Mattermost's markdown; both
// with the optional channel, username and icon_url overrides (which the webhook must allow).
// Mattermost answers 200 with the plain-text body "ok"; errors are JSON {"id", "message",
// "detailed_error", "request_id", "status_code"}: 400 (no text, unparsable payload, channel
// override not allowed), 403 (webhooks disabled, channel locked), 404 (no such hook), 429 (rate
// limited, X-Ratelimit-Reset) and 5xx. A post holds 16,383 characters.

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

struct MattermostSettings final : ReceiverSettings {
  std::string channel;   ///< channel override ("town-square", "@user"); empty: the hook's
  std::string username;  ///< display name override
  std::string icon_url;  ///< profile picture override
};

class MattermostReceiver final : public ChatReceiver {
 public:
  MattermostReceiver(ChatOptions o, std::shared_ptr<const MattermostSettings> s)
      : ChatReceiver(std::move(o)), s_(std::move(s)) {
    type_ = msg_type("card");
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    DeliveryJudgement out = judge_http(response, "mattermost");
    if (response.status >= 200 && response.status < 300) {
      const std::string body = excerpt(response.body);
      if (body == "ok") return out;
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "mattermost: HTTP " + std::to_string(response.status) + " answered \"" + body + "\" instead of \"ok\"";
      return out;
    }
    nlohmann::json j = parse_json(response.body);
    if (response.status > 0 && j.is_object()) {
      std::string message = json_string(j, "message");
      const std::string id = json_string(j, "id");
      if (!message.empty()) {
        out.reason = "mattermost: HTTP " + std::to_string(response.status) + ": " + excerpt(message) +
                     (id.empty() ? "" : " (" + excerpt(id, 100) + ")");
      }
    }
    return out;
  }

 protected:
  Markup markup() const override { return Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 15000;  // a post: 16,383 characters
    l.body_bytes = 60000;
    return l;
  }
  // Mattermost's server limits 10 requests a second per client by default.
  RateLimit default_rate_limit() const override { return {10, std::chrono::seconds(1)}; }
  bool title_in_text() const override { return type_ == "text"; }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    if (!s_->channel.empty()) j["channel"] = s_->channel;
    if (!s_->username.empty()) j["username"] = s_->username;
    if (!s_->icon_url.empty()) j["icon_url"] = s_->icon_url;
    if (type_ == "text") {
      j["text"] = bold(Markup::CommonMark, escape(Markup::CommonMark, part.title)) + "\n" + part.text;
      return dump(j);
    }
    ordered_json attachment;
    attachment["fallback"] = part.title;
    attachment["color"] = part.firing ? "#E01E5A" : "#2EB67D";
    attachment["title"] = part.title;  // attachment titles are plain text
    if (!part.link.empty()) attachment["title_link"] = part.link;
    attachment["text"] = part.text;
    j["attachments"] = ordered_json::array({attachment});
    return dump(j);
  }

 private:
  std::shared_ptr<const MattermostSettings> s_;
  std::string type_;
};

void read_mattermost_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<MattermostSettings>();
  if (auto v = keys.string("channel")) s->channel = *v;
  if (auto v = keys.string("username")) s->username = *v;
  if (auto v = keys.url("icon_url", false)) s->icon_url = *v;
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec mattermost_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "mattermost";
  spec.keys = {"channel", "username", "icon_url"};
  spec.msg_types = {"text", "card"};
  spec.read = &read_mattermost_keys;
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    auto settings = std::dynamic_pointer_cast<const MattermostSettings>(build.config.settings);
    if (!settings) settings = std::make_shared<const MattermostSettings>();  // no overrides
    return std::make_shared<MattermostReceiver>(build, std::move(settings));
  };
  return spec;
}

}  // namespace promwatch::chat
