// Slack incoming webhook: https://api.slack.com/messaging/webhooks
//
// POST {url} with {"text": …} (msg_type text) or Block Kit (markdown, the default): a header
// block with the title, one mrkdwn section per alert (3,000 characters each, at most 50 blocks)
// and a context footer, with `text` as the notification fallback. Slack answers 200 with the
// plain-text body "ok"; errors are 400 invalid_payload, 403 action_prohibited, 404
// channel_not_found, 410 channel_is_archived…, and 429 with Retry-After when rate limited (one
// message a second per webhook).

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

class SlackReceiver final : public ChatReceiver {
 public:
  explicit SlackReceiver(ChatOptions o) : ChatReceiver(std::move(o)) { type_ = msg_type("markdown"); }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    if (response.status < 200 || response.status >= 300) return judge_http(response, "slack");
    DeliveryJudgement out;
    std::string body = excerpt(response.body);
    if (body == "ok") return out;
    out.verdict = DeliveryVerdict::Failed;
    out.reason = "slack: HTTP " + std::to_string(response.status) + " answered \"" + body + "\" instead of \"ok\"";
    return out;
  }

 protected:
  Markup markup() const override { return Markup::Slack; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 30000;  // text: 40,000 characters
    l.body_bytes = 60000;
    if (type_ != "text") {
      l.section_bytes = 2900;        // a section's text: 3,000 characters
      l.max_alerts_per_part = 40;    // 50 blocks a message, with header, group and footer
    }
    return l;
  }
  RateLimit default_rate_limit() const override { return {1, std::chrono::seconds(1)}; }
  bool title_in_text() const override { return type_ == "text"; }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    if (type_ == "text") {
      j["text"] = bold(Markup::Slack, escape(Markup::Slack, part.title)) + "\n" + part.text;
      return dump(j);
    }
    j["text"] = escape(Markup::Slack, part.title);  // notifications and clients without blocks
    ordered_json blocks = ordered_json::array();
    blocks.push_back(ordered_json{{"type", "header"},
                                  {"text", ordered_json{{"type", "plain_text"}, {"text", truncate_utf8(part.title, 150)},
                                                        {"emoji", true}}}});
    for (const auto& s : part.sections) {
      if (blocks.size() >= 49) break;
      blocks.push_back(ordered_json{{"type", "section"}, {"text", ordered_json{{"type", "mrkdwn"}, {"text", s}}}});
    }
    j["blocks"] = blocks;
    return dump(j);
  }

 private:
  std::string type_;
};

}  // namespace

ReceiverTypeSpec slack_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "slack";
  spec.msg_types = {"text", "markdown"};
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<SlackReceiver>(build);
  };
  return spec;
}

}  // namespace promwatch::chat
