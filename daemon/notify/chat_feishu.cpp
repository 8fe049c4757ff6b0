// Feishu / Lark custom bot: https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
//
// POST {url} with msg_type text | interactive (markdown: a card with the text only; card: a card
// with a red/green header and an "open" button). Answers {"code":0,"msg":"success"} (older:
// {"StatusCode":0}); any other code is a failure: 11232 (rate limited) and 9499 when it says
// the request was too frequent are retried; 19021 (bad signature), 19024 (keywords), 9499 bad
// request… are permanent. Signing: `timestamp` (seconds) and `sign` = base64(HMAC-SHA256 keyed by
// `timestamp + "\n" + secret` over an empty message) in the JSON body, renewed per attempt.
// Mentions: <at user_id="…"></at> in text, <at id=…></at> in card markdown; "all" for everyone.

#include "chat_common.hpp"
#include "receiver_types.hpp"

#include <algorithm>

namespace promwatch::chat {
namespace {

bool mentions_frequency(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find("frequen") != std::string::npos || text.find("too many") != std::string::npos ||
         text.find("rate limit") != std::string::npos;
}

class FeishuReceiver final : public ChatReceiver {
 public:
  explicit FeishuReceiver(ChatOptions o) : ChatReceiver(std::move(o)) { type_ = msg_type("card"); }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    nlohmann::json j = parse_json(response.body);
    auto code = json_int(j, "code");
    std::string msg = json_string(j, "msg");
    if (!code) {
      code = json_int(j, "StatusCode");
      msg = json_string(j, "StatusMessage");
    }
    DeliveryJudgement out;
    if (!code || response.status == 0) {
      if (response.status < 200 || response.status >= 300) return judge_http(response, "feishu");
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "feishu: HTTP " + std::to_string(response.status) + " without code: " + excerpt(response.body);
      return out;
    }
    if (*code == 0 && response.status >= 200 && response.status < 300) return out;
    out.reason = "feishu code " + std::to_string(*code) + ": " + excerpt(msg);
    if (*code == 11232 || (*code == 9499 && mentions_frequency(msg)) || response.status == 429 ||
        response.status >= 500) {
      out.verdict = DeliveryVerdict::Retry;
      out.retry_after = response.retry_after ? response.retry_after : std::optional<Duration>(std::chrono::seconds(1));
    } else {
      out.verdict = DeliveryVerdict::Failed;
    }
    return out;
  }

  void prepare_attempt(HttpRequest& request) const override {
    const std::string& secret = config().secret;
    if (secret.empty()) return;
    ordered_json j = ordered_json::parse(request.body, nullptr, false);
    if (!j.is_object()) return;
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(wall_clock().time_since_epoch()).count();
    std::string ts = std::to_string(secs);
    j["timestamp"] = ts;
    j["sign"] = hmac_sha256_base64(ts + "\n" + secret, "");
    request.body = dump(j);
  }

 protected:
  Markup markup() const override { return type_ == "text" ? Markup::Plain : Markup::Feishu; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 18000;
    l.body_bytes = 19500;  // custom bots: request bodies up to 20 KB (cards ~30 KB)
    return l;
  }
  RateLimit default_rate_limit() const override { return {5, std::chrono::seconds(1)}; }
  bool title_in_text() const override { return type_ != "card"; }
  std::size_t reserved_bytes() const override {
    std::size_t n = 0;
    for (const auto& id : config().at_user_ids) n += id.size() + 40;
    return n;
  }

  std::string body(const ChatPart& part) const override {
    const auto& ids = config().at_user_ids;
    ordered_json j;
    if (type_ == "text") {
      std::string text = part.title + "\n\n" + part.text;
      if (part.index == 0 && !ids.empty()) {
        text += "\n";
        for (const auto& id : ids) {
          text += id == "all" ? "<at user_id=\"all\">所有人</at>" : "<at user_id=\"" + mention_id(id) + "\"></at>";
        }
      }
      j["msg_type"] = "text";
      j["content"] = {{"text", text}};
      return dump(j);
    }
    std::string md = part.text;
    if (type_ == "markdown") md = "**" + escape(Markup::Feishu, part.title) + "**\n" + md;
    if (part.index == 0 && !ids.empty()) {
      md += "\n";
      for (const auto& id : ids) md += "<at id=" + mention_id(id) + "></at>";
    }
    ordered_json card;
    card["config"] = {{"wide_screen_mode", true}};
    if (type_ == "card") {
      card["header"] = ordered_json{{"template", part.firing ? "red" : "green"},
                                    {"title", ordered_json{{"tag", "plain_text"}, {"content", part.title}}}};
    }
    ordered_json elements = ordered_json::array();
    elements.push_back(ordered_json{{"tag", "markdown"}, {"content", md}});
    if (type_ == "card" && !part.link.empty()) {
      ordered_json button{{"tag", "button"},
                          {"text", ordered_json{{"tag", "plain_text"}, {"content", "Open promwatch"}}},
                          {"type", "primary"},
                          {"url", part.link}};
      elements.push_back(ordered_json{{"tag", "action"}, {"actions", ordered_json::array({button})}});
    }
    card["elements"] = elements;
    j["msg_type"] = "interactive";
    j["card"] = card;
    return dump(j);
  }

 private:
  std::string type_;
};

}  // namespace

ReceiverTypeSpec feishu_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "feishu";
  spec.keys = {"secret", "secret_file", "at_user_ids"};
  spec.msg_types = {"text", "markdown", "card"};
  spec.read = [](ReceiverKeys& keys, ReceiverConfig& out) {
    if (auto v = keys.secret("secret")) out.secret = *v;
    if (auto v = keys.strings("at_user_ids")) out.at_user_ids = *v;
  };
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<FeishuReceiver>(build);
  };
  return spec;
}

}  // namespace promwatch::chat
