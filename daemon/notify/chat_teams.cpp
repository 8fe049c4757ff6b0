// Microsoft Teams: Workflows ("When a Teams webhook request is received") and the older Office 365
// connectors (incoming webhook).
//
// `teams`:
// card (the default): {"type":"message","attachments":[an Adaptive Card 1.4]}, which both accept;
// markdown: a legacy MessageCard; text: {"text": …} (legacy connectors only). Workflows answer
// 202 Accepted; legacy connectors 200 with the body "1" — and 200 with an error text in the body
// when they fail (e.g. "Microsoft Teams endpoint returned HTTP error 429 …"), so a 200 is only a
// success with "1" (or nothing). Payloads are limited to about 28 KB.
//
// `msteamsv2` (Alertmanager's msteamsv2_config): Workflows / Power Automate only, always
// {"type":"message","attachments":[an Adaptive Card 1.2]}. A flow answers 202 Accepted (200 when
// it ends with a Response action); its errors are JSON {"error":{"code","message"}}: 400
// (InvalidRequestContent, TriggerInputSchemaMismatch), 401/403 (a bad or missing signature `sig`),
// 404 (WorkflowNotFound: the flow was deleted or turned off) are permanent; 429
// (WorkflowRequestsThrottled, with Retry-After) and 5xx are retried.

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

class TeamsReceiver final : public ChatReceiver {
 public:
  TeamsReceiver(ChatOptions o, bool workflows) : ChatReceiver(std::move(o)), workflows_(workflows) {
    type_ = workflows ? "card" : msg_type("card");
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    if (workflows_) return judge_workflow(response);
    DeliveryJudgement out = judge_http(response, "teams");
    if (response.status != 200) return out;
    std::string body = excerpt(response.body);
    if (body.empty() || body == "1") return out;
    out.reason = "teams: HTTP 200 with \"" + body + "\" instead of \"1\"";
    out.verdict = body.find("429") != std::string::npos ? DeliveryVerdict::Retry : DeliveryVerdict::Failed;
    return out;
  }

 protected:
  // A flow's answer: any 2xx is the flow accepting the card (its own Response action may say
  // anything); errors carry Logic Apps' {"error":{"code","message"}}.
  DeliveryJudgement judge_workflow(const HttpResponse& response) const {
    DeliveryJudgement out = judge_http(response, "msteamsv2");
    if (out.verdict == DeliveryVerdict::Delivered || response.status == 0) return out;
    nlohmann::json j = parse_json(response.body);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      const std::string code = json_string(j["error"], "code");
      const std::string message = json_string(j["error"], "message");
      out.reason = "msteamsv2: HTTP " + std::to_string(response.status) + ": " + excerpt(code) +
                   (message.empty() ? "" : ": " + excerpt(message));
    }
    return out;
  }

  Markup markup() const override { return Markup::CommonMark; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 20000;
    l.body_bytes = 27000;
    return l;
  }
  // Connectors: 4 requests a second per webhook.
  RateLimit default_rate_limit() const override { return {4, std::chrono::seconds(1)}; }
  std::string line_break() const override { return "\n\n"; }
  bool title_in_text() const override { return type_ == "text"; }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    if (type_ == "text") {
      j["text"] = bold(Markup::CommonMark, escape(Markup::CommonMark, part.title)) + "\n\n" + part.text;
      return dump(j);
    }
    if (type_ == "markdown") {
      j["@type"] = "MessageCard";
      j["@context"] = "https://schema.org/extensions";
      j["themeColor"] = part.firing ? "D70000" : "2DC72D";
      j["summary"] = part.title;
      j["title"] = escape(Markup::CommonMark, part.title);
      j["text"] = part.text;
      if (!part.link.empty()) {
        j["potentialAction"] = ordered_json::array(
            {ordered_json{{"@type", "OpenUri"},
                          {"name", "Open promwatch"},
                          {"targets", ordered_json::array({ordered_json{{"os", "default"}, {"uri", part.link}}})}}});
      }
      return dump(j);
    }
    ordered_json card;
    card["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json";
    card["type"] = "AdaptiveCard";
    card["version"] = workflows_ ? "1.2" : "1.4";
    card["msteams"] = {{"width", "Full"}};
    card["body"] = ordered_json::array(
        {ordered_json{{"type", "TextBlock"},
                      {"text", escape(Markup::CommonMark, part.title)},
                      {"weight", "Bolder"},
                      {"size", "Medium"},
                      {"color", part.firing ? "Attention" : "Good"},
                      {"wrap", true}},
         ordered_json{{"type", "TextBlock"}, {"text", part.text}, {"wrap", true}}});
    if (!part.link.empty()) {
      card["actions"] = ordered_json::array(
          {ordered_json{{"type", "Action.OpenUrl"}, {"title", "Open promwatch"}, {"url", part.link}}});
    }
    j["type"] = "message";
    j["attachments"] = ordered_json::array(
        {ordered_json{{"contentType", "application/vnd.microsoft.card.adaptive"}, {"contentUrl", nullptr}, {"content", card}}});
    return dump(j);
  }

 private:
  bool workflows_;
  std::string type_;
};

}  // namespace

ReceiverTypeSpec teams_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "teams";
  spec.msg_types = {"text", "markdown", "card"};
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<TeamsReceiver>(build, false);
  };
  return spec;
}

ReceiverTypeSpec msteamsv2_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "msteamsv2";
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<TeamsReceiver>(build, true);
  };
  return spec;
}

}  // namespace promwatch::chat
