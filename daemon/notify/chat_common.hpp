#pragma once
// Private to daemon/notify: what the chat receivers (slack, dingtalk, feishu, wecom, discord,
// teams, telegram) share — markup dialects and their escaping, the default title/text, the
// splitting of one notification into messages that fit a platform's limits, signing helpers and
// the answers' JSON.
//
// Every receiver renders a notification into one or more `ChatPart`s (title + text in the
// platform's markup, never longer than its limits) and turns each part into one request. Label
// values, annotations and URLs are data: they are escaped for the dialect, so none of them can
// add markup, links or mentions. A user `text` template is trusted markup (used verbatim); a
// user `title` is plain text like the default one and escaped where the platform puts it into
// markup.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "promwatch/delivery.hpp"
#include "promwatch/template.hpp"

namespace promwatch::chat {

using ordered_json = nlohmann::ordered_json;

/// The markup dialects that receivers write.
enum class Markup {
  Plain,             ///< no markup at all (text messages): nothing escaped
  CommonMark,        ///< DingTalk, WeCom, Discord, Teams: backslash escapes, **bold**, [t](u)
  Slack,             ///< Slack mrkdwn: &amp; &lt; &gt;, *bold*, <url|t>
  Html,              ///< Telegram HTML: entities, <b>, <a href>
  MarkdownV2,        ///< Telegram MarkdownV2: backslash before every special character
  TelegramMarkdown,  ///< Telegram's legacy Markdown: backslash before _ * ` [
  Feishu,            ///< Feishu card markdown: HTML entities for the markdown characters
};

/// `text` (data: a label value, an annotation) made inert for `m`. Newlines become spaces, so a
/// value cannot start a heading, a list or a quote either.
std::string escape(Markup m, std::string_view text);
/// A user or chat id from the config (trusted, but kept from breaking out of a mention tag).
std::string mention_id(std::string_view id);
/// `escaped` in bold.
std::string bold(Markup m, std::string_view escaped);
/// A link with text `escaped` to `url` (raw). Only http(s) URLs become links; anything else is
/// shown as escaped text.
std::string link(Markup m, std::string_view escaped, std::string_view url);

/// Cuts `text` to at most `max_bytes` bytes at a UTF-8 character boundary, ending it with "…"
/// when something was cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);
/// Cuts `text` to at most `max_bytes` at a line end where possible (else a character boundary),
/// ending with "…" when something was cut.
std::string truncate_lines(std::string_view text, std::size_t max_bytes);
/// Splits `text` into pieces of at most `max_bytes`, at line ends where possible.
std::vector<std::string> split_lines(std::string_view text, std::size_t max_bytes);

/// base64(HMAC-SHA256(key, message)).
std::string hmac_sha256_base64(std::string_view key, std::string_view message);
/// RFC 3986 percent-encoding of everything but unreserved characters.
std::string url_encode(std::string_view text);
/// "2026-11-24 09:00:00 UTC"
std::string format_time(TimePoint t);

/// Parses a platform's answer; a discarded value (is_discarded()) when it is not JSON.
nlohmann::json parse_json(std::string_view body);
/// A short, single-line excerpt of a platform's answer for reasons and logs.
std::string excerpt(std::string_view body, std::size_t max_bytes = 200);
/// `j[key]` as an integer when it is a number (or a numeric string).
std::optional<long long> json_int(const nlohmann::json& j, const char* key);
std::string json_string(const nlohmann::json& j, const char* key);

/// The judgement of a non-2xx answer that carries no platform code: judge_http_status with the
/// answer's excerpt in the reason.
DeliveryJudgement judge_http(const HttpResponse& response, std::string_view platform);

/// What one message of a notification says.
struct ChatPart {
  std::string title;  ///< plain text (escape it where it goes into markup), " (2/3)" when split
  std::string text;   ///< in the receiver's markup, within its text limit
  /// The same text as separate pieces (header, one per alert, footer) for platforms that put
  /// them into separate blocks (Slack); a single piece for a user template.
  std::vector<std::string> sections;
  bool firing = false;     ///< some alert of this part fires
  std::string link;        ///< where "open" buttons point: the external URL, else the first generatorURL
  std::size_t index = 0;   ///< 0-based
  std::size_t total = 1;
};

/// A platform's limits, in bytes (a safe bound for character limits too).
struct ChatLimits {
  std::size_t text_bytes = 4000;   ///< rendered text of one message (title included if `title_in_text`)
  std::size_t body_bytes = 20000;  ///< the whole request body
  std::size_t section_bytes = 0;   ///< one section (Slack block); 0 = no separate limit
  std::size_t max_alerts_per_part = 0;  ///< 0 = no limit
  std::size_t max_parts = 5;  ///< a notification is split into at most this many messages
};

/// What a chat receiver is built from (its config, templates, limits and clock).
using ChatOptions = ReceiverBuild;

/// Base of the chat receivers: rendering, splitting, rate limit, request boilerplate.
class ChatReceiver : public Receiver {
 public:
  explicit ChatReceiver(ChatOptions options);
  const std::string& name() const override { return options_.config.name; }
  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override;
  RateLimit rate_limit() const override;
  std::string destination() const override { return options_.config.url; }

  /// The messages `n` becomes (exposed for tests).
  std::vector<ChatPart> compose(const Notification& n) const;

 protected:
  /// The markup of the text.
  virtual Markup markup() const = 0;
  virtual ChatLimits limits() const = 0;
  virtual RateLimit default_rate_limit() const = 0;
  /// How lines are separated in the text (DingTalk and Teams need a blank line).
  virtual std::string line_break() const { return "\n"; }
  /// Extra text the first part carries (mentions), for the size budget.
  virtual std::size_t reserved_bytes() const { return 0; }
  /// Whether the title is rendered into the text (then it counts against text_bytes).
  virtual bool title_in_text() const { return true; }
  /// The request body for one part.
  virtual std::string body(const ChatPart& part) const = 0;
  /// Where the request goes.
  virtual std::string endpoint() const { return options_.config.url; }
  /// Checked before building: false with `*error` set when the configuration cannot work.
  virtual bool validate(std::string* error) const;

  TimePoint wall_clock() const;
  /// A POST to endpoint() with its Content-Type and User-Agent, the receiver's extra headers,
  /// TLS options, proxy, timeout and response size limit; redirects are never followed.
  /// Credentials are the caller's: each platform sends its own.
  HttpRequest post_request(std::string_view content_type) const;
  const ReceiverConfig& config() const { return options_.config; }
  /// The msg_type in use (config or `fallback`).
  std::string msg_type(std::string_view fallback) const;
  static std::string dump(const ordered_json& j);

  ChatOptions options_;

 private:
  /// `data` is `notification_template_data(n)`.
  std::vector<ChatPart> compose_with_budget(const Notification& n, const NotificationTemplateData& data,
                                            std::size_t budget) const;
};

}  // namespace promwatch::chat
