// Discord webhook: https://discord.com/developers/docs/resources/webhook#execute-webhook
//
// POST {url} with `content` (text, markdown: 2,000 characters) or one embed (card, the default:
// title, red/green colour, description up to 4,096 characters, 6,000 for all embeds), always
// with allowed_mentions {parse: []} so that no label value can ping @everyone, a role or a user.
// Discord answers 204 No Content (200 with ?wait=true); 429 carries Retry-After and
// {"retry_after": seconds}; other 4xx are permanent ({"code", "message"}).

#include "chat_common.hpp"
#include "receiver_types.hpp"

#include <cmath>

namespace promwatch::chat {
namespace {

class DiscordReceiver final : public ChatReceiver {
 public:
  explicit DiscordReceiver(ChatOptions o) : ChatReceiver(std::move(o)) { type_ = msg_type("card"); }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    DeliveryJudgement out = judge_http(response, "discord");
    if (response.status == 429 && !out.retry_after) {
      nlohmann::json j = parse_json(response.body);
      if (j.is_object() && j.contains("retry_after") && j["retry_after"].is_number()) {
        double s = j["retry_after"].get<double>();
        if (s >= 0 && s < 86400) out.retry_after = Duration(static_cast<std::int64_t>(std::ceil(s * 1000)));
      }
    }
    return out;
  }

 protected:
  Markup markup() const override { return Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = type_ == "card" ? 4000 : 1900;
    l.body_bytes = 16000;
    return l;
  }
  // 30 messages a minute per webhook (Discord's documented channel limit).
  RateLimit default_rate_limit() const override { return {30, std::chrono::minutes(1)}; }
  bool title_in_text() const override { return type_ != "card"; }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    if (type_ == "card") {
      ordered_json embed;
      embed["title"] = truncate_utf8(escape(Markup::CommonMark, part.title), 256);
      embed["description"] = part.text;
      embed["color"] = part.firing ? 0xE01E5A : 0x2EB67D;
      if (!part.link.empty() && part.link.size() <= 2000) embed["url"] = part.link;
      j["embeds"] = ordered_json::array({embed});
    } else {
      j["content"] = bold(Markup::CommonMark, escape(Markup::CommonMark, part.title)) + "\n" + part.text;
    }
    j["allowed_mentions"] = {{"parse", ordered_json::array()}};
    return dump(j);
  }

 private:
  std::string type_;
};

}  // namespace

ReceiverTypeSpec discord_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "discord";
  spec.msg_types = {"text", "markdown", "card"};
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<DiscordReceiver>(build);
  };
  return spec;
}

}  // namespace promwatch::chat
