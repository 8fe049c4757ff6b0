// Telegram Bot API: https://core.telegram.org/bots/api#sendmessage
//
// POST {url or https://api.telegram.org}/bot<token>/sendMessage with chat_id, text (4,096
// characters after entities are parsed), parse_mode (HTML by default; MarkdownV2 and Markdown
// escaped as documented) and no link previews. Answers {"ok":true,"result":…}; errors are
// {"ok":false,"error_code":N,"description":…}, 429 with parameters.retry_after (seconds).
// The URL carries the bot token: only redacted forms are ever shown.

#include "chat_common.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

class TelegramReceiver final : public ChatReceiver {
 public:
  explicit TelegramReceiver(ChatOptions o) : ChatReceiver(std::move(o)) {
    const std::string& mode = config().parse_mode;
    markup_ = mode == "MarkdownV2" ? Markup::MarkdownV2 : mode == "Markdown" ? Markup::TelegramMarkdown : Markup::Html;
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    nlohmann::json j = parse_json(response.body);
    DeliveryJudgement out;
    if (response.status >= 200 && response.status < 300 && j.is_object() && j.value("ok", false) == true) return out;
    if (response.status == 0 || !j.is_object()) {
      out = judge_http(response, "telegram");
      if (out.verdict == DeliveryVerdict::Delivered) {
        out.verdict = DeliveryVerdict::Failed;
        out.reason = "telegram: HTTP " + std::to_string(response.status) + " without \"ok\": " + excerpt(response.body);
      }
      return out;
    }
    auto code = json_int(j, "error_code");
    int status = code ? static_cast<int>(*code) : response.status;
    out.reason = "telegram error_code " + std::to_string(status) + ": " + excerpt(json_string(j, "description"));
    if (status == 429 || response.status == 429 || status >= 500 || response.status >= 500) {
      out.verdict = DeliveryVerdict::Retry;
      out.retry_after = response.retry_after;
      if (j.contains("parameters")) {
        if (auto s = json_int(j["parameters"], "retry_after"); s && *s >= 0) out.retry_after = std::chrono::seconds(*s);
      }
    } else {
      out.verdict = DeliveryVerdict::Failed;
    }
    return out;
  }

  std::string destination() const override { return endpoint() + "#" + config().chat_id; }

 protected:
  bool validate(std::string* error) const override {
    if (!config().url.empty() && !config().url.starts_with("http://") && !config().url.starts_with("https://")) {
      if (error) *error = "receiver URL must be http or https";
      return false;
    }
    if (config().bot_token.empty() || config().chat_id.empty()) {
      if (error) *error = "telegram receivers need bot_token and chat_id";
      return false;
    }
    return true;
  }
  Markup markup() const override { return markup_; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 4000;
    l.body_bytes = 12000;
    return l;
  }
  // Telegram: 20 messages a minute to a group (1 a second to a private chat).
  RateLimit default_rate_limit() const override { return {20, std::chrono::minutes(1)}; }

  std::string endpoint() const override {
    std::string base = config().url.empty() ? "https://api.telegram.org" : config().url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/bot" + config().bot_token + "/sendMessage";
  }

  std::string body(const ChatPart& part) const override {
    ordered_json j;
    const std::string& chat = config().chat_id;
    std::string_view digits(chat);
    if (digits.starts_with('-')) digits.remove_prefix(1);
    bool numeric = !digits.empty() && digits.size() < 19 && digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (numeric) {
      j["chat_id"] = std::stoll(chat);
    } else {
      j["chat_id"] = chat;
    }
    j["text"] = bold(markup_, escape(markup_, part.title)) + "\n\n" + part.text;
    j["parse_mode"] = config().parse_mode.empty() ? "HTML" : config().parse_mode;
    j["disable_web_page_preview"] = true;
    return dump(j);
  }

 private:
  Markup markup_;
};

}  // namespace

ReceiverTypeSpec telegram_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "telegram";
  spec.url = ReceiverUrl::Optional;  // https://api.telegram.org by default
  spec.keys = {"bot_token", "bot_token_file", "chat_id", "parse_mode"};
  spec.msg_type_hint = " (use parse_mode)";
  spec.read = [](ReceiverKeys& keys, ReceiverConfig& out) {
    keys.require_secret("bot_token");
    keys.require("chat_id");
    if (auto v = keys.secret("bot_token")) out.bot_token = *v;
    // Telegram chat ids are numbers (-100123...) or "@channelname"; both spellings are accepted.
    if (auto v = keys.string_or_integer("chat_id")) {
      if (v->empty()) keys.error_at_value("chat_id", "chat_id: must not be empty");
      out.chat_id = *v;
    }
    if (auto v = keys.string("parse_mode")) {
      if (*v != "HTML" && *v != "MarkdownV2" && *v != "Markdown") {
        keys.error_at_value("parse_mode", "parse_mode: must be \"HTML\", \"MarkdownV2\" or \"Markdown\", got \"" + *v + "\"");
      } else {
        out.parse_mode = *v;
      }
    }
  };
  spec.make = [](const ReceiverBuild& build) -> std::shared_ptr<const Receiver> {
    return std::make_shared<TelegramReceiver>(build);
  };
  return spec;
}

}  // namespace promwatch::chat
