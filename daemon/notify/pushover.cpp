// Pushover Message API: https://pushover.net/api
//
// POST {url or https://api.pushover.net/1/messages.json}, form-encoded: token (the
// application's), user (the user or group key), title (250 characters), message (1,024
// characters, plain text), priority (-2..2), for priority 2 (emergency: repeated until
// acknowledged) retry (at least 30 s) and expire (at most 3 h), url/url_title to promwatch,
// timestamp, sound, device. A resolved group is sent at priority 0 (an emergency is not repeated
// for good news). An emergency carries `tags` = the group's key (a hash of the group key, the
// same after a restart), and the group's resolve first cancels its emergencies still repeating:
// POST {api}/receipts/cancel_by_tag/{tag}.json with the token. Pushover answers 200
// {"status":1,"request":…}; 4xx {"status":0,"errors":[…]} are permanent (bad token or user,
// message too long), 429 (the application's monthly limit) and 5xx are retried.

#include "chat_common.hpp"
#include "incident_key.hpp"
#include "receiver_types.hpp"

namespace promwatch::chat {
namespace {

constexpr std::string_view kDefaultUrl = "https://api.pushover.net/1/messages.json";

struct PushoverSettings final : ReceiverSettings {
  std::string user_key;  ///< secret
  std::string token;     ///< secret
  int priority = 0;
  Duration retry = std::chrono::minutes(1);
  Duration expire = std::chrono::hours(1);
  std::string sound;
  std::string device;
};

class PushoverReceiver final : public ChatReceiver {
 public:
  PushoverReceiver(ChatOptions o, std::shared_ptr<const PushoverSettings> s) : ChatReceiver(std::move(o)), s_(std::move(s)) {}

  std::string destination() const override { return endpoint() + "#" + s_->token + "#" + s_->user_key; }

  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override {
    if (!validate(error)) return {};
    std::vector<ChatPart> parts = compose(n);
    const ChatPart& part = parts.front();
    const bool firing = part.firing;
    std::vector<std::pair<std::string, std::string>> form = {
        {"token", s_->token},
        {"user", s_->user_key},
        {"title", truncate_utf8(part.title, 250)},
        {"message", truncate_lines(part.text.empty() ? part.title : part.text, 1024)},
    };
    const int priority = firing ? s_->priority : 0;
    form.emplace_back("priority", std::to_string(priority));
    if (priority == 2) {
      form.emplace_back("retry", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(s_->retry).count()));
      form.emplace_back("expire", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(s_->expire).count()));
      form.emplace_back("tags", emergency_tag(n.group_key));
    }
    if (part.link.starts_with("http") && part.link.size() <= 512) {
      form.emplace_back("url", part.link);
      form.emplace_back("url_title", "Open promwatch");
    }
    form.emplace_back("timestamp", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                      n.created_at.time_since_epoch())
                                                      .count()));
    if (!s_->sound.empty()) form.emplace_back("sound", s_->sound);
    if (!s_->device.empty()) form.emplace_back("device", s_->device);
    std::vector<HttpRequest> out;
    const std::string api = api_base();
    if (!firing && s_->priority == 2 && !api.empty()) {
      // Before the good news: stop the group's emergency from repeating.
      HttpRequest cancel = post_request("application/x-www-form-urlencoded");
      cancel.url = api + "receipts/cancel_by_tag/" + emergency_tag(n.group_key) + ".json";
      cancel.body = "token=" + url_encode(s_->token);
      out.push_back(std::move(cancel));
    }
    HttpRequest r = post_request("application/x-www-form-urlencoded");
    r.body = form_body(form);
    out.push_back(std::move(r));
    return out;
  }

  /// The tag of a group's emergencies: its key, shortened (Pushover's tags are short words).
  static std::string emergency_tag(std::string_view group_key) { return "pw" + group_key_hash(group_key).substr(0, 32); }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    nlohmann::json j = parse_json(response.body);
    DeliveryJudgement out;
    if (response.status >= 200 && response.status < 300) {
      if (j.is_object() && json_int(j, "status") == 1) return out;
      out.verdict = DeliveryVerdict::Failed;
      out.reason = "pushover: HTTP " + std::to_string(response.status) + " without status 1: " + excerpt(response.body);
      return out;
    }
    out = judge_http(response, "pushover");
    if (response.status > 0 && j.is_object() && j.contains("errors") && j["errors"].is_array()) {
      std::string errors;
      for (const auto& e : j["errors"]) {
        if (e.is_string()) errors += (errors.empty() ? "" : "; ") + e.get<std::string>();
      }
      if (!errors.empty()) out.reason = "pushover: HTTP " + std::to_string(response.status) + ": " + excerpt(errors);
    }
    return out;
  }

 protected:
  bool validate(std::string* error) const override {
    const std::string& url = config().url;
    if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://")) {
      if (error) *error = "receiver URL must be http or https";
      return false;
    }
    if (s_->user_key.empty() || s_->token.empty()) {
      if (error) *error = "pushover receivers need user_key and token";
      return false;
    }
    return true;
  }
  Markup markup() const override { return Markup::Plain; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 1000;  // message: 1,024 characters
    l.body_bytes = 12000;
    l.max_parts = 1;      // one push a notification; what does not fit is summarised
    return l;
  }
  RateLimit default_rate_limit() const override { return {}; }
  bool title_in_text() const override { return false; }
  std::string body(const ChatPart& part) const override { return part.text; }
  std::string endpoint() const override { return config().url.empty() ? std::string(kDefaultUrl) : config().url; }

 private:
  static std::string form_body(const std::vector<std::pair<std::string, std::string>>& form) {
    std::string body;
    for (const auto& [k, v] : form) body += (body.empty() ? "" : "&") + k + "=" + url_encode(v);
    return body;
  }

  // ".../1/" of the messages endpoint, where the receipts API lives; empty when `url` is
  // something else (a relay), which then gets no cancel.
  std::string api_base() const {
    const std::string e = endpoint();
    constexpr std::string_view kMessages = "messages.json";
    if (!e.ends_with(kMessages)) return {};
    return e.substr(0, e.size() - kMessages.size());
  }

  std::shared_ptr<const PushoverSettings> s_;
};

void read_pushover_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<PushoverSettings>();
  for (std::string_view key : {"user_key", "token"}) {
    keys.require_secret(key);
    if (auto v = keys.secret(key)) {
      (key == "user_key" ? s->user_key : s->token) = *v;
      out.settings_secrets.push_back(*v);
    }
  }
  if (auto v = keys.integer("priority", -2, 2)) s->priority = static_cast<int>(*v);
  auto duration = [&](std::string_view key, Duration min, Duration max, Duration& into) {
    auto text = keys.string(key);
    if (!text) return;
    auto d = parse_duration(*text);
    if (!d || *d < min || *d > max) {
      keys.error_at_value(key, std::string(key) + ": expected a duration from " + format_duration(min) + " to " +
                                   format_duration(max) + ", got \"" + *text + "\"");
      return;
    }
    into = *d;
  };
  duration("retry", std::chrono::seconds(30), std::chrono::hours(3), s->retry);
  duration("expire", std::chrono::seconds(30), std::chrono::hours(3), s->expire);
  if (s->priority != 2) {
    for (std::string_view key : {"retry", "expire"}) {
      if (keys.has(key)) keys.error_at_key(key, std::string(key) + ": only applies to priority 2 (emergency)");
    }
  }
  if (auto v = keys.string("sound")) s->sound = *v;
  if (auto v = keys.string("device")) s->device = *v;
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec pushover_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "pushover";
  spec.url = ReceiverUrl::Optional;  // https://api.pushover.net/1/messages.json by default
  spec.keys = {"user_key", "user_key_file", "token", "token_file", "priority", "retry", "expire", "sound", "device"};
  spec.read = &read_pushover_keys;
  spec.make = &make_with_settings<PushoverReceiver, PushoverSettings>;
  return spec;
}

}  // namespace promwatch::chat
