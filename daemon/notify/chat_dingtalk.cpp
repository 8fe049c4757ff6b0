// DingTalk custom robot: https://open.dingtalk.com/document/robots/custom-robot-access
//
// POST {url}[&timestamp=…&sign=…] with msgtype text | markdown | actionCard. Answers HTTP 200
// with {"errcode":0,"errmsg":"ok"}; any other errcode is a failure: 130101 (more than 20
// messages a minute; the robot is then muted for 10 minutes) is retried, the rest (310000
// keywords / signature / IP, 460101 message too long, 300001 bad token…) are permanent.
// Signing: HMAC-SHA256 keyed by the secret over `timestamp_ms + "\n" + secret`, base64, both as
// query parameters, percent-encoded once. DingTalk refuses timestamps more than an hour off, so
// the signature is renewed before every attempt (prepare_attempt).

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

class DingtalkReceiver final : public ChatReceiver {
 public:
  explicit DingtalkReceiver(ChatOptions o) : ChatReceiver(std::move(o)) {
    const auto& c = config();
    // The richest type DingTalk has is actionCard, but it cannot @-mention: with mentions
    // configured the default is markdown.
    type_ = msg_type(c.at_mobiles.empty() && !c.at_all ? "card" : "markdown");
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    if (response.status < 200 || response.status >= 300) return judge_http(response, "dingtalk");
    nlohmann::json j = parse_json(response.body);
    auto code = json_int(j, "errcode");
    DeliveryJudgement out;
    if (!code) {
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "dingtalk: HTTP " + std::to_string(response.status) + " without errcode: " + excerpt(response.body);
      return out;
    }
    if (*code == 0) return out;
    out.reason = "dingtalk errcode " + std::to_string(*code) + ": " + excerpt(json_string(j, "errmsg"));
    if (*code == 130101) {
      out.verdict = DeliveryVerdict::Retry;
      out.retry_after = std::chrono::minutes(1);
    } else {
      out.verdict = DeliveryVerdict::Failed;
    }
    return out;
  }

  void prepare_attempt(HttpRequest& request) const override {
    const std::string& secret = config().secret;
    if (secret.empty()) return;
    std::string ts = std::to_string(wall_clock().time_since_epoch().count());
    std::string sign = hmac_sha256_base64(secret, ts + "\n" + secret);
    const std::string& base = config().url;
    request.url = base + (base.find('?') == std::string::npos ? "?" : "&") + "timestamp=" + ts + "&sign=" + url_encode(sign);
  }

 protected:
  Markup markup() const override { return type_ == "text" ? Markup::Plain : Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 18000;
    l.body_bytes = 19500;  // DingTalk: 20,000 bytes
    return l;
  }
  RateLimit default_rate_limit() const override { return {20, std::chrono::minutes(1)}; }
  std::string line_break() const override { return type_ == "text" ? "\n" : "\n\n"; }
  std::size_t reserved_bytes() const override {
    std::size_t n = 0;
    for (const auto& m : config().at_mobiles) n += m.size() + 2;
    return n + 8;
  }

  std::string body(const ChatPart& part) const override {
    const auto& c = config();
    // DingTalk pings only the mobiles that also appear in the text: on the first part only.
    std::string mentions;
    if (part.index == 0) {
      for (const auto& mobile : c.at_mobiles) mentions += (mentions.empty() ? "" : " ") + ("@" + mobile);
    }
    ordered_json j;
    if (type_ == "text") {
      std::string content = part.title + "\n\n" + part.text;
      if (!mentions.empty()) content += "\n" + mentions;
      j["msgtype"] = "text";
      j["text"] = {{"content", content}};
    } else {
      std::string text = "#### " + escape(Markup::CommonMark, part.title) + "\n\n" + part.text;
      if (!mentions.empty()) text += "\n\n" + mentions;
      if (type_ == "card" && !part.link.empty()) {
        j["msgtype"] = "actionCard";
        j["actionCard"] = ordered_json{{"title", part.title},
                                       {"text", text},
                                       {"btnOrientation", "0"},
                                       {"singleTitle", "Open promwatch"},
                                       {"singleURL", part.link}};
        return dump(j);
      }
      j["msgtype"] = "markdown";
      j["markdown"] = ordered_json{{"title", part.title}, {"text", text}};
    }
    ordered_json at;
    at["atMobiles"] = part.index == 0 ? c.at_mobiles : std::vector<std::string>{};
    at["isAtAll"] = part.index == 0 && c.at_all;
    j["at"] = at;
    return dump(j);
  }

 private:
  std::string type_;
};

}  // namespace

ReceiverTypeSpec dingtalk_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "dingtalk";
  spec.keys = {"secret", "secret_file", "at_mobiles", "at_all"};
  spec.msg_types = {"text", "markdown", "card"};
  spec.read = [](ReceiverKeys& keys, ReceiverConfig& out) {
    if (auto v = keys.secret("secret")) out.secret = *v;
    if (auto v = keys.strings("at_mobiles")) out.at_mobiles = *v;
    if (auto v = keys.boolean("at_all")) out.at_all = *v;
  };
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<DingtalkReceiver>(build);
  };
  return spec;
}

}  // namespace promwatch::chat
