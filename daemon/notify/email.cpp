// Email over SMTP (Alertmanager's email_config): https://www.rfc-editor.org/rfc/rfc5321 and
// https://www.rfc-editor.org/rfc/rfc5322
//
// One message per notification to `smarthost` (host:port; 465 is implicit TLS, smtps://,
// anything else smtp:// with STARTTLS, required unless `require_tls = false`), sent by the
// shared curl multi client on the loop (HttpRequest::mail). The message is
// multipart/alternative: a text/plain part (the chat receivers' plain default text, or the
// user `text` template) and a text/html part (a default HTML page with each alert's labels,
// annotations and links, everything escaped), both base64 so that no line is too long or
// starts with a dot. `Subject` is the title (RFC 2047 encoded-words when it is not ASCII),
// with `Date`, `Message-Id` (the same across retries of one message: built once), `From`,
// `To`, `Cc`, and the configured `headers`, which replace ours of the same name. An `html`
// template replaces the default HTML part (trusted markup, as `text` is for the chat types).
//
// Answers: 250 after DATA is delivered; a 4xx reply to any command is retried (greylisting,
// 451 local error, 452 storage), a 5xx is permanent (550 mailbox unavailable, 535 bad login,
// 530 TLS first); no STARTTLS while it is required is permanent, with that reason.

#include "chat_common.hpp"
#include "receiver_types.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace promwatch::chat {
namespace {

struct EmailSettings final : ReceiverSettings {
  std::string host;  ///< as written, [v6] bracketed
  int port = 25;
  std::string from;                 ///< the From header as written
  std::string from_address;         ///< its addr-spec (MAIL FROM)
  std::vector<std::string> to;      ///< header forms
  std::vector<std::string> cc;
  std::vector<std::string> recipients;  ///< addr-specs of to and cc (RCPT TO)
  std::string hello = "localhost";
  std::string auth_username;
  std::string auth_password;  ///< secret
  std::string auth_mechanism;  ///< PLAIN | LOGIN | empty (the server's choice)
  bool require_tls = true;
};

// The addr-spec of "Name <local@domain>" or "local@domain"; empty when it is not one.
std::string address_of(std::string_view mailbox) {
  std::string_view addr = mailbox;
  if (auto lt = mailbox.rfind('<'); lt != std::string_view::npos) {
    if (mailbox.back() != '>') return {};
    addr = mailbox.substr(lt + 1, mailbox.size() - lt - 2);
  }
  while (!addr.empty() && addr.front() == ' ') addr.remove_prefix(1);
  while (!addr.empty() && addr.back() == ' ') addr.remove_suffix(1);
  const std::size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == addr.size()) return {};
  for (char c : addr) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == ',' || c == '"' || c == '\\') return {};
  }
  return std::string(addr);
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// "host:port" (host a name, an IPv4 address or a bracketed IPv6 address).
bool parse_smarthost(std::string_view text, std::string& host, int& port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const int n = std::stoi(std::string(p));
  if (n < 1 || n > 65535) return false;
  if (h.front() == '[') {
    if (h.back() != ']' || h.size() < 3) return false;
    if (h.substr(1, h.size() - 2).find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return false;
  } else if (h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
             std::string_view::npos) {
    return false;
  }
  host = std::string(h);
  port = n;
  return true;
}

bool is_ascii_printable(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

// base64 in lines of 76 characters, each ended by CRLF (RFC 2045).
std::string base64_lines(std::string_view data) {
  const std::string b = base64(data);
  std::string out;
  out.reserve(b.size() + b.size() / 76 * 2 + 2);
  for (std::size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

// A header value as RFC 2047 encoded-words when it is not printable ASCII: chunks of whole
// UTF-8 characters, at most 39 bytes each (an encoded-word of 64 characters, so that even the
// first line, "Subject: " included, stays within RFC 5322's 78), folded onto new lines.
std::string encode_header_value(std::string_view value) {
  if (is_ascii_printable(value)) return std::string(value);
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t n = std::min<std::size_t>(39, value.size() - i);
    while (i + n < value.size() && n > 0 && (static_cast<unsigned char>(value[i + n]) & 0xC0) == 0x80) --n;
    if (n == 0) n = std::min<std::size_t>(39, value.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(value.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

// A mailbox for a header: a non-ASCII display name encoded, the address as it is.
std::string encode_mailbox(std::string_view mailbox) {
  auto lt = mailbox.rfind('<');
  if (lt == std::string_view::npos || is_ascii_printable(mailbox)) return std::string(mailbox);
  std::string_view name = mailbox.substr(0, lt);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  std::string_view quoted = name;
  if (quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"') quoted = quoted.substr(1, quoted.size() - 2);
  return encode_header_value(quoted) + " " + std::string(mailbox.substr(lt));
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) {
    // OpenSSL's generator is seeded from the OS; should it fail, the time still separates ids.
    auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (std::size_t i = 0; i < bytes; ++i) buf[i] = static_cast<unsigned char>(t >> (8 * (i % 8)));
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : buf) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// RFC 5322 date-time in UTC: "Fri, 04 Dec 2026 18:40:00 +0000".
std::string rfc5322_date(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

bool is_http_url(std::string_view url) { return url.starts_with("http://") || url.starts_with("https://"); }

std::string html_link(std::string_view text, std::string_view url) {
  if (!is_http_url(url)) return html_escape(text);
  return "<a href=\"" + html_escape(url) + "\" style=\"color:#1a5fb4\">" + html_escape(text) + "</a>";
}

// The default HTML part: a heading, the group, one table per alert, a link to promwatch.
std::string default_html(const std::string& title, const NotificationTemplateData& d, std::uint64_t truncated) {
  std::size_t firing = 0;
  for (const auto& a : d.alerts) firing += a.status == "firing" ? 1 : 0;
  const char* colour = firing > 0 ? "#c01c28" : "#26a269";
  std::string h;
  h += "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>" + html_escape(title) + "</title></head>\n";
  h += "<body style=\"font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;margin:0;padding:16px\">\n";
  h += "<h2 style=\"margin:0 0 8px;color:" + std::string(colour) + "\">" + html_escape(title) + "</h2>\n";
  if (!d.group_labels.empty()) {
    std::string g;
    for (const auto& l : d.group_labels) g += (g.empty() ? "" : ", ") + html_escape(l.name) + "=" + html_escape(l.value);
    h += "<p style=\"margin:0 0 16px;color:#555\">Group: " + g + "</p>\n";
  }
  // Firing first, then resolved, each in the dispatcher's order.
  for (const bool want_firing : {true, false}) {
    for (const auto& a : d.alerts) {
      if ((a.status == "firing") != want_firing) continue;
      const char* c = want_firing ? "#c01c28" : "#26a269";
      h += "<table style=\"border-collapse:collapse;margin:0 0 16px;border-left:4px solid " + std::string(c) +
           ";width:100%\">\n";
      std::string name(a.labels.get("alertname"));
      h += "<tr><td colspan=\"2\" style=\"padding:4px 8px;font-weight:bold\">" +
           html_escape((want_firing ? "[FIRING] " : "[RESOLVED] ") + name) + "</td></tr>\n";
      auto row = [&](std::string_view k, const std::string& v_html) {
        h += "<tr><td style=\"padding:2px 8px;color:#555;vertical-align:top;white-space:nowrap\">" + html_escape(k) +
             "</td><td style=\"padding:2px 8px\">" + v_html + "</td></tr>\n";
      };
      for (const auto& l : a.annotations) row(l.name, html_escape(l.value));
      for (const auto& l : a.labels) row(l.name, "<code>" + html_escape(l.value) + "</code>");
      row("since", html_escape(format_time(a.starts_at)));
      if (!want_firing) row("resolved", html_escape(format_time(a.ends_at)));
      if (is_http_url(a.generator_url)) row("source", html_link("open the rule", a.generator_url));
      h += "</table>\n";
    }
  }
  if (truncated > 0) {
    h += "<p>… and " + std::to_string(truncated) + " more alert" + (truncated == 1 ? "" : "s") + "</p>\n";
  }
  if (is_http_url(d.external_url)) h += "<p>" + html_link("Open promwatch", d.external_url) + "</p>\n";
  h += "</body></html>\n";
  return h;
}

// Plain text with CRLF line ends (SMTP's).
std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] == '\n') {
      out += "\r\n";
      continue;
    }
    out += text[i];
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

class EmailReceiver final : public ChatReceiver {
 public:
  EmailReceiver(ChatOptions o, std::shared_ptr<const EmailSettings> s) : ChatReceiver(std::move(o)), s_(std::move(s)) {}

  std::string destination() const override { return s_->host + ":" + std::to_string(s_->port); }
  RateLimit rate_limit() const override { return config().rate_limit; }

  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override {
    if (s_->recipients.empty() || s_->from_address.empty()) {
      if (error) *error = "email receivers need from and to";
      return {};
    }
    std::vector<ChatPart> parts = compose(n);
    if (parts.empty()) {
      if (error) *error = "nothing to send";
      return {};
    }
    HttpRequest r;
    r.url = std::string(s_->port == 465 ? "smtps://" : "smtp://") + destination() + "/" + s_->hello;
    MailEnvelope env;
    env.from = s_->from_address;
    env.recipients = s_->recipients;
    env.require_tls = s_->require_tls;
    if (!s_->auth_mechanism.empty()) env.login_options = "AUTH=" + s_->auth_mechanism;
    r.mail = std::move(env);
    if (!s_->auth_username.empty()) r.basic_auth = BasicAuth{s_->auth_username, s_->auth_password};
    r.tls = config().http.tls;
    r.proxy_url = config().http.proxy_url;
    r.timeout = options_.timeout;
    r.max_response_bytes = options_.max_response_bytes;
    r.body = message(parts.front(), notification_template_data(n), n.truncated_alerts);
    std::vector<HttpRequest> out;
    out.push_back(std::move(r));
    return out;
  }

  DeliveryJudgement judge(const HttpResponse& response) const override {
    DeliveryJudgement out;
    const std::string where = "email to " + destination();
    if (response.starttls_unavailable) {
      out.verdict = DeliveryVerdict::Failed;
      out.reason = where + ": the server offers no STARTTLS and require_tls is set (" + response.error + ")";
      return out;
    }
    const int code = response.status;
    if (response.error.empty() && code >= 200 && code < 300) return out;
    const std::string detail = response.error.empty() ? "SMTP " + std::to_string(code) : response.error;
    out.reason = where + ": " + detail;
    if (code >= 500 && code < 600) {
      out.verdict = DeliveryVerdict::Failed;  // 550 no such mailbox, 535 bad login, 554 refused
    } else {
      out.verdict = DeliveryVerdict::Retry;  // 4xx, no reply (connection, timeout)
    }
    return out;
  }

 protected:
  bool validate(std::string* error) const override {
    (void)error;
    return true;
  }
  Markup markup() const override { return Markup::Plain; }
  ChatLimits limits() const override {
    ChatLimits l;
    l.text_bytes = 1u << 20;  // mail has no small limit; 1 MiB of text is plenty for any group
    l.body_bytes = 4u << 20;
    l.max_parts = 1;
    return l;
  }
  RateLimit default_rate_limit() const override { return {}; }
  bool title_in_text() const override { return false; }
  // The plain-text part (the whole message is built in build_requests).
  std::string body(const ChatPart& part) const override { return part.text; }

 private:
  std::string message(const ChatPart& part, const NotificationTemplateData& data, std::uint64_t truncated) const {
    const TimePoint t = wall_clock();
    const std::string domain = s_->from_address.substr(s_->from_address.rfind('@') + 1);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Date", rfc5322_date(t)},
        {"From", encode_mailbox(s_->from)},
        {"Subject", encode_header_value(part.title)},
        {"Message-Id", "<" + random_hex(12) + "." + std::to_string(ms) + "@" + domain + ">"},
    };
    auto join_mailboxes = [](const std::vector<std::string>& list) {
      std::string out;
      for (const auto& m : list) out += (out.empty() ? "" : ", ") + encode_mailbox(m);
      return out;
    };
    headers.emplace_back("To", join_mailboxes(s_->to));
    if (!s_->cc.empty()) headers.emplace_back("Cc", join_mailboxes(s_->cc));
    // Configured headers replace ours of the same name (a fixed Subject, a Reply-To).
    for (const auto& header : config().http.headers) {
      // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
      const std::string& name = header.first;
      auto it = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
      std::string v = encode_header_value(header.second);
      if (it != headers.end()) {
        it->second = std::move(v);
      } else {
        headers.emplace_back(name, std::move(v));
      }
    }
    const std::string boundary = "=_promwatch_" + random_hex(12);
    std::string m;
    for (const auto& [name, value] : headers) m += name + ": " + value + "\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n";  // folded: 78 a line
    m += "\r\n";
    m += "--" + boundary + "\r\n";
    m += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    m += base64_lines(crlf(part.text + "\n"));
    m += "--" + boundary + "\r\n";
    m += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    m += base64_lines(crlf(options_.html ? options_.html->render_notification(data) : default_html(part.title, data, truncated)));
    m += "--" + boundary + "--\r\n";
    return m;
  }

  std::shared_ptr<const EmailSettings> s_;
};

void read_email_keys(ReceiverKeys& keys, ReceiverConfig& out) {
  auto s = std::make_shared<EmailSettings>();
  if (keys.require("smarthost")) {
    if (auto v = keys.string("smarthost"); v && !parse_smarthost(*v, s->host, s->port)) {
      keys.error_at_value("smarthost", "smarthost: expected \"host:port\" like \"smtp.example.com:587\", got \"" + *v + "\"");
    }
  }
  if (keys.require("from")) {
    if (auto v = keys.string("from")) {
      s->from = *v;
      s->from_address = address_of(*v);
      if (s->from_address.empty() || has_line_break(*v)) {
        keys.error_at_value("from", "from: \"" + *v + "\" is not an email address (\"alerts@example.com\" or \"Alerts <alerts@example.com>\")");
      }
    }
  }
  for (std::string_view key : {"to", "cc"}) {
    if (key == "to") keys.require("to");
    auto list = keys.strings(key);
    if (!list) continue;
    if (key == "to" && list->empty()) keys.error_at_value(key, "to: needs at least one address");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string& mailbox = (*list)[i];
      std::string addr = address_of(mailbox);
      if (addr.empty() || has_line_break(mailbox)) {
        keys.error_at_value(key, std::string(key) + "[" + std::to_string(i) + "]: \"" + mailbox + "\" is not an email address");
        continue;
      }
      (key == "to" ? s->to : s->cc).push_back(mailbox);
      s->recipients.push_back(std::move(addr));
    }
  }
  if (auto v = keys.string("hello")) {
    if (v->empty() || v->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:") !=
                          std::string::npos) {
      keys.error_at_value("hello", "hello: expected a host name for EHLO, got \"" + *v + "\"");
    } else {
      s->hello = *v;
    }
  }
  if (auto v = keys.string("auth_username")) s->auth_username = *v;
  if (auto v = keys.secret("auth_password")) {
    s->auth_password = *v;
    out.settings_secrets.push_back(*v);
  }
  if ((keys.has("auth_password") || keys.has("auth_password_file")) && !keys.has("auth_username")) {
    keys.error_at_table("auth_password needs auth_username in [[receivers]] of type email");
  }
  if (auto v = keys.string("auth_mechanism")) {
    if (*v != "PLAIN" && *v != "LOGIN") {
      keys.error_at_value("auth_mechanism", "auth_mechanism: must be \"PLAIN\" or \"LOGIN\", got \"" + *v + "\"");
    } else {
      s->auth_mechanism = *v;
    }
  }
  if (auto v = keys.boolean("require_tls")) s->require_tls = *v;
  out.html = keys.template_text("html");
  for (std::string_view key : {"basic_auth", "authorization"}) {
    if (keys.has(key)) {
      keys.error_at_key(key, std::string(key) + ": email receivers log in with auth_username and auth_password");
    }
  }
  out.settings = std::move(s);
}

}  // namespace

ReceiverTypeSpec email_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "email";
  spec.url = ReceiverUrl::None;
  spec.keys = {"smarthost",     "from",          "to",
               "cc",            "hello",         "auth_username",
               "auth_password", "auth_password_file", "auth_mechanism",
               "require_tls",   "html"};
  spec.read = &read_email_keys;
  spec.make = &make_with_settings<EmailReceiver, EmailSettings>;
  return spec;
}

}  // namespace promwatch::chat
