// WeCom (WeChat Work) group robot: https://developer.work.weixin.qq.com/document/path/91770
//
// POST {url} with msgtype text (content up to 2,048 bytes, mentions in mentioned_list) or
// markdown (content up to 4,096 bytes, mentions as <@userid>). Answers {"errcode":0,"errmsg":"ok"};
// 45009 (more than 20 messages a minute) is retried, other errcodes are permanent.

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

class WecomReceiver final : public ChatReceiver {
 public:
  explicit WecomReceiver(ChatOptions o) : ChatReceiver(std::move(o)) { type_ = msg_type("markdown"); }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    if (response.status < 200 || response.status >= 300) return judge_http(response, "wecom");
    nlohmann::json j = parse_json(response.body);
    auto code = json_int(j, "errcode");
    DeliveryJudgement out;
    if (!code) {
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "wecom: HTTP " + std::to_string(response.status) + " without errcode: " + excerpt(response.body);
      return out;
    }
    if (*code == 0) return out;
    out.reason = "wecom errcode " + std::to_string(*code) + ": " + excerpt(json_string(j, "errmsg"));
    if (*code == 45009) {
      out.verdict = DeliveryVerdict::Retry;
      out.retry_after = std::chrono::minutes(1);
    } else {
      out.verdict = DeliveryVerdict::Failed;
    }
    return out;
  }

 protected:
  Markup markup() const override { return type_ == "text" ? Markup::Plain : Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    // The limits are on the content, in bytes; the body adds little.
    l.text_bytes = type_ == "text" ? 2000 : 4000;
    l.body_bytes = type_ == "text" ? 2048 + 2048 : 4096 + 512;
    return l;
  }
  RateLimit default_rate_limit() const override { return {20, std::chrono::minutes(1)}; }
  std::size_t reserved_bytes() const override {
    if (type_ == "text") return 0;
    std::size_t n = 0;
    for (const auto& id : config().mentioned_list) n += id.size() + 4;
    return n;
  }

  std::string body(const ChatPart& part) const override {
    const auto& ids = config().mentioned_list;
    ordered_json j;
    if (type_ == "text") {
      ordered_json text{{"content", part.title + "\n\n" + part.text}};
      if (part.index == 0 && !ids.empty()) text["mentioned_list"] = ids;
      j["msgtype"] = "text";
      j["text"] = text;
      return dump(j);
    }
    // WeCom markdown colours: info (green), warning (orange), comment (grey).
    std::string content = "<font color=\"" + std::string(part.firing ? "warning" : "info") + "\">" +
                          bold(Markup::CommonMark, escape(Markup::CommonMark, part.title)) + "</font>\n" + part.text;
    if (part.index == 0) {
      std::string mentions;
      for (const auto& id : ids) {
        if (id != "@all") mentions += "<@" + mention_id(id) + ">";
      }
      if (!mentions.empty()) content += "\n" + mentions;
    }
    j["msgtype"] = "markdown";
    j["markdown"] = {{"content", content}};
    return dump(j);
  }

 private:
  std::string type_;
};

}  // namespace

ReceiverTypeSpec wecom_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "wecom";
  spec.keys = {"mentioned_list"};
  spec.msg_types = {"text", "markdown"};
  spec.read = [](ReceiverKeys& keys, ReceiverConfig& out) {
    if (auto v = keys.strings("mentioned_list")) out.mentioned_list = *v;
  };
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<WecomReceiver>(build);
  };
  return spec;
}

}  // namespace promwatch::chat
