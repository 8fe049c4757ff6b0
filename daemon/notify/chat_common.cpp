// What the chat receivers share: markup dialects, the default message, splitting to fit, signing.

#include "chat_common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace promwatch::chat {

// ---------------------------------------------------------------------------------------------
// Markup

namespace {

bool is_http_link(std::string_view url) { return url.starts_with("http://") || url.starts_with("https://"); }

// Percent-encodes the characters that would end or break a link's URL in markup.
std::string safe_url(std::string_view url, std::string_view extra) {
  std::string out;
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '<' || c == '>' || c == '(' || c == ')' || c == '\\' ||
        extra.find(c) != std::string_view::npos) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string html_escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"':
        if (quotes) {
          out += "&quot;";
          break;
        }
        [[fallthrough]];
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string escape(Markup m, std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') continue;
    if (c == '\n' || c == '\t') c = ' ';
    switch (m) {
      case Markup::Plain: out += c; break;
      case Markup::CommonMark:
        // Inline syntax only: values never start a line (newlines are gone), so block syntax
        // (#, -, +, digits) cannot trigger.
        if (std::string_view("\\`*_[]<>~|&").find(c) != std::string_view::npos) out += '\\';
        out += c;
        break;
      case Markup::Slack: {
        // Slack documents escapes for &, < and > only. Its *bold*, _italic_, ~strike~ and
        // `code` markers need a word boundary, so a zero-width space before them keeps them
        // literal; `_` inside a word (node_exporter) is left alone.
        auto alnum = [&](std::size_t k) { return k < text.size() && std::isalnum(static_cast<unsigned char>(text[k])); };
        if (c == '&') out += "&amp;";
        else if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '*' || c == '~' || c == '`' || (c == '_' && !(i > 0 && alnum(i - 1) && alnum(i + 1)))) out += "\xE2\x80\x8B" + std::string(1, c);
        else out += c;
        break;
      }
      case Markup::Html:
        if (c == '&') out += "&amp;";
        else if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else out += c;
        break;
      case Markup::MarkdownV2:
        if (std::string_view("_*[]()~`>#+-=|{}.!\\").find(c) != std::string_view::npos) out += '\\';
        out += c;
        break;
      case Markup::TelegramMarkdown:
        if (std::string_view("_*`[").find(c) != std::string_view::npos) out += '\\';
        out += c;
        break;
      case Markup::Feishu:
        switch (c) {
          case '&': out += "&amp;"; break;
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '*': out += "&#42;"; break;
          case '_': out += "&#95;"; break;
          case '~': out += "&#126;"; break;
          case '`': out += "&#96;"; break;
          case '[': out += "&#91;"; break;
          case ']': out += "&#93;"; break;
          default: out += c;
        }
        break;
    }
  }
  return out;
}

std::string mention_id(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '&' || static_cast<unsigned char>(c) <= 0x20) continue;
    out += c;
  }
  return out;
}

std::string bold(Markup m, std::string_view escaped) {
  switch (m) {
    case Markup::Plain: return std::string(escaped);
    case Markup::Slack:
    case Markup::MarkdownV2:
    case Markup::TelegramMarkdown: return "*" + std::string(escaped) + "*";
    case Markup::Html: return "<b>" + std::string(escaped) + "</b>";
    case Markup::CommonMark:
    case Markup::Feishu: return "**" + std::string(escaped) + "**";
  }
  return std::string(escaped);
}

std::string link(Markup m, std::string_view escaped, std::string_view url) {
  if (!is_http_link(url)) return escaped.empty() ? escape(m, url) : std::string(escaped) + ": " + escape(m, url);
  switch (m) {
    case Markup::Plain: return std::string(escaped) + ": " + std::string(url);
    case Markup::Slack: return "<" + html_escape(safe_url(url, "|"), false) + "|" + std::string(escaped) + ">";
    case Markup::Html: return "<a href=\"" + html_escape(safe_url(url, ""), true) + "\">" + std::string(escaped) + "</a>";
    case Markup::MarkdownV2:
    case Markup::TelegramMarkdown:
    case Markup::CommonMark:
    case Markup::Feishu: return "[" + std::string(escaped) + "](" + safe_url(url, "[]") + ")";
  }
  return std::string(escaped);
}

// ---------------------------------------------------------------------------------------------
// Text helpers

namespace {

// The largest prefix length <= max that does not cut a UTF-8 sequence.
std::size_t utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return n;
}

const std::string kEllipsis = "\xE2\x80\xA6";  // …

}  // namespace

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  if (max_bytes < kEllipsis.size()) return std::string(text.substr(0, utf8_prefix(text, max_bytes)));
  return std::string(text.substr(0, utf8_prefix(text, max_bytes - kEllipsis.size()))) + kEllipsis;
}

std::string truncate_lines(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  if (max_bytes <= kEllipsis.size()) return truncate_utf8(text, max_bytes);
  std::size_t room = max_bytes - kEllipsis.size();
  std::size_t nl = text.rfind('\n', room);
  if (nl != std::string_view::npos && nl > room / 2) return std::string(text.substr(0, nl + 1)) + kEllipsis;
  return truncate_utf8(text, max_bytes);
}

std::vector<std::string> split_lines(std::string_view text, std::size_t max_bytes) {
  std::vector<std::string> out;
  if (max_bytes == 0) return out;
  while (text.size() > max_bytes) {
    std::size_t cut = text.rfind('\n', max_bytes - 1);
    if (cut == std::string_view::npos || cut < max_bytes / 2) {
      cut = utf8_prefix(text, max_bytes);
      if (cut == 0) cut = max_bytes;
      out.emplace_back(text.substr(0, cut));
      text.remove_prefix(cut);
    } else {
      out.emplace_back(text.substr(0, cut));
      text.remove_prefix(cut + 1);
    }
  }
  if (!text.empty() || out.empty()) out.emplace_back(text);
  return out;
}

std::string hmac_sha256_base64(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &len);
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string format_time(TimePoint t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto days = std::chrono::floor<std::chrono::days>(secs);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{secs - days};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d UTC", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

nlohmann::json parse_json(std::string_view body) { return nlohmann::json::parse(body, nullptr, false); }

std::string excerpt(std::string_view body, std::size_t max_bytes) {
  std::string out;
  for (char c : body) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return truncate_utf8(out, max_bytes);
}

std::optional<long long> json_int(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<long long>();
  if (it->is_number()) return static_cast<long long>(it->get<double>());
  if (it->is_string()) {
    try {
      std::size_t used = 0;
      long long v = std::stoll(it->get<std::string>(), &used);
      if (used == it->get<std::string>().size()) return v;
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::string json_string(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

DeliveryJudgement judge_http(const HttpResponse& response, std::string_view platform) {
  DeliveryJudgement j = judge_http_status(response);
  if (response.status != 0 && !response.body.empty() && j.verdict != DeliveryVerdict::Delivered) {
    j.reason = std::string(platform) + " " + j.reason + ": " + excerpt(response.body);
  } else if (j.verdict != DeliveryVerdict::Delivered) {
    j.reason = std::string(platform) + " " + j.reason;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// The default message

namespace {

bool is_firing(const NotificationAlert& a) { return a.status != "resolved"; }

std::string default_title(const NotificationTemplateData& d, const std::vector<const NotificationAlert*>& alerts) {
  std::size_t firing = 0;
  std::size_t resolved = 0;
  for (const auto* a : alerts) (is_firing(*a) ? firing : resolved)++;
  std::string t;
  if (firing > 0) {
    t = "\xF0\x9F\x94\xA5 [FIRING:" + std::to_string(firing);  // 🔥
    if (resolved > 0) t += ", RESOLVED:" + std::to_string(resolved);
    t += "]";
  } else {
    t = "\xE2\x9C\x85 [RESOLVED]";  // ✅
  }
  std::string names;
  for (const auto& l : d.group_labels) names += (names.empty() ? "" : " ") + l.value;
  if (names.empty()) names = std::string(d.common_labels.get("alertname"));
  if (names.empty() && alerts.size() == 1) names = std::string(alerts[0]->labels.get("alertname"));
  if (names.empty()) names = d.receiver;
  return t + " " + names;
}

struct Caps {
  std::size_t field;   // bytes of one value, before escaping
  std::size_t labels;  // labels listed per alert
};
constexpr Caps kCaps[] = {{1024, 40}, {256, 12}, {64, 4}, {24, 0}};

std::string first_of(const Labels& a, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (auto v = a.get(n); !v.empty()) return std::string(v);
  }
  return {};
}

struct Renderer {
  Markup m;
  std::string br;

  std::string field(std::string_view label, std::string_view value, const Caps& caps) const {
    return bold(m, escape(m, label)) + " " + escape(m, truncate_utf8(value, caps.field));
  }

  std::string alert_block(const NotificationAlert& a, const Labels& group_labels, const Caps& caps) const {
    std::vector<std::string> lines;
    const bool firing = is_firing(a);
    std::string name(a.labels.get("alertname"));
    if (name.empty()) name = "alert";
    lines.push_back(std::string(firing ? "\xF0\x9F\x94\xA5 " : "\xE2\x9C\x85 ") +
                    bold(m, escape(m, truncate_utf8(name, caps.field))) + " \xC2\xB7 " + (firing ? "firing" : "resolved"));
    // Flap detection's notice (annotations `flapping`, `flap_count`): say so, since no other
    // message follows until the alert is stable.
    if (a.annotations.get("flapping") == "true") {
      std::string count(a.annotations.get("flap_count"));
      lines.push_back(field("Flapping:", (count.empty() ? std::string("it") : count + " state changes:") +
                                             " no more messages until it is stable", caps));
    }
    std::string summary = first_of(a.annotations, {"summary", "message"});
    if (!summary.empty()) lines.push_back(field("Summary:", summary, caps));
    std::string description(a.annotations.get("description"));
    if (!description.empty() && description != summary) lines.push_back(field("Description:", description, caps));
    std::string value(a.annotations.get("value"));
    if (value.empty()) value = first_of(a.annotations, {"current_value"});
    if (value.empty()) value = std::string(a.labels.get("value"));
    if (!value.empty()) lines.push_back(field("Value:", value, caps));
    std::string labels;
    std::size_t shown = 0;
    std::size_t hidden = 0;
    for (const auto& l : a.labels) {
      if (l.name == "alertname" || group_labels.has(l.name)) continue;
      if (shown >= caps.labels) {
        ++hidden;
        continue;
      }
      if (shown++ > 0) labels += ", ";
      labels += escape(m, truncate_utf8(l.name, caps.field)) + escape(m, "=") + escape(m, truncate_utf8(l.value, caps.field));
    }
    if (hidden > 0) labels += (shown > 0 ? ", " : "") + escape(m, "+" + std::to_string(hidden) + " more");
    if (!labels.empty()) lines.push_back(bold(m, "Labels:") + " " + labels);
    if (firing) {
      lines.push_back(bold(m, "Since:") + " " + escape(m, format_time(a.starts_at)));
    } else {
      lines.push_back(bold(m, "Resolved:") + " " + escape(m, format_time(a.ends_at)) + escape(m, " (since " + format_time(a.starts_at) + ")"));
    }
    if (!a.generator_url.empty() && a.generator_url.size() <= std::max<std::size_t>(caps.field * 4, 256)) {
      lines.push_back(link(m, escape(m, "Source"), a.generator_url));
    }
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? br : "") + lines[i];
    return out;
  }

  std::string header(const Labels& group_labels) const {
    if (group_labels.empty()) return {};
    std::string s = bold(m, "Group:") + " ";
    bool first = true;
    for (const auto& l : group_labels) {
      s += (first ? "" : ", ") + escape(m, l.name) + escape(m, "=") + escape(m, truncate_utf8(l.value, 256));
      first = false;
    }
    return s;
  }

  std::string footer(std::size_t more, const std::string& external_url) const {
    std::vector<std::string> lines;
    if (more > 0) lines.push_back(escape(m, kEllipsis + " and " + std::to_string(more) + " more alert" + (more == 1 ? "" : "s")));
    if (is_http_link(external_url) && external_url.size() <= 1024) lines.push_back(link(m, escape(m, "Open promwatch"), external_url));
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? br : "") + lines[i];
    return out;
  }
};

std::string join(const std::vector<std::string>& pieces, const std::string& sep) {
  std::string out;
  for (const auto& p : pieces) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ChatReceiver

ChatReceiver::ChatReceiver(ChatOptions options) : options_(std::move(options)) {}

TimePoint ChatReceiver::wall_clock() const { return options_.clock ? options_.clock() : now(); }

std::string ChatReceiver::msg_type(std::string_view fallback) const {
  return options_.config.msg_type.empty() ? std::string(fallback) : options_.config.msg_type;
}

std::string ChatReceiver::dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

RateLimit ChatReceiver::rate_limit() const {
  if (options_.config.rate_limit.count > 0) return options_.config.rate_limit;
  return default_rate_limit();
}

bool ChatReceiver::validate(std::string* error) const {
  const std::string& url = options_.config.url;
  if (!is_http_link(url)) {
    if (error) *error = "receiver URL must be http or https";
    return false;
  }
  return true;
}

std::vector<ChatPart> ChatReceiver::compose(const Notification& n) const {
  // What the templates and the default text read; built once per message, not kept.
  const NotificationTemplateData data = notification_template_data(n);
  const ChatLimits lim = limits();
  std::size_t budget = lim.text_bytes;
  for (int round = 0; round < 6; ++round) {
    std::vector<ChatPart> parts = compose_with_budget(n, data, budget);
    bool fits = true;
    for (const auto& p : parts) fits = fits && body(p).size() <= lim.body_bytes;
    if (fits) return parts;
    budget = budget * 3 / 4;  // JSON escaping made a body too large: leave more room
  }
  return compose_with_budget(n, data, budget);
}

std::vector<ChatPart> ChatReceiver::compose_with_budget(const Notification& n, const NotificationTemplateData& data,
                                                        std::size_t budget) const {
  const ChatLimits lim = limits();
  const Markup m = markup();
  const std::string br = line_break();
  const std::string sep = br + br;
  Renderer r{m, br};

  // Firing first, then resolved, each in the dispatcher's order.
  std::vector<const NotificationAlert*> alerts;
  for (const auto& a : data.alerts) {
    if (is_firing(a)) alerts.push_back(&a);
  }
  for (const auto& a : data.alerts) {
    if (!is_firing(a)) alerts.push_back(&a);
  }
  const std::size_t total_alerts = alerts.size();

  std::string title;
  if (options_.title) {
    title = options_.title->render_notification(data);
    std::replace(title.begin(), title.end(), '\n', ' ');
    while (!title.empty() && title.back() == ' ') title.pop_back();
    while (!title.empty() && title.front() == ' ') title.erase(title.begin());
  } else {
    title = default_title(data, alerts);
  }
  title = truncate_utf8(title, 140);

  std::size_t overhead = reserved_bytes() + (title_in_text() ? escape(m, title).size() + 48 : 0);
  std::size_t text_budget = budget > overhead + 256 ? budget - overhead : 256;
  const std::size_t section_cap = lim.section_bytes > 0 ? std::min(lim.section_bytes, text_budget) : text_budget;

  struct Rendered {
    std::string text;
    std::vector<std::string> sections;
  };

  const std::string header = options_.text ? std::string() : r.header(data.group_labels);
  // Alert blocks, built when first needed (a group may hold thousands of alerts, of which a
  // few messages show some).
  std::vector<std::optional<std::string>> blocks(options_.text ? 0 : total_alerts);
  std::size_t block_cap = 0;
  if (!options_.text) {
    const std::string longest_footer = r.footer(total_alerts + n.truncated_alerts, data.external_url);
    std::size_t fixed = header.size() + longest_footer.size() + 2 * sep.size();
    block_cap = text_budget > fixed + 64 ? text_budget - fixed : 64;
    block_cap = std::min(block_cap, section_cap);
  }
  auto block = [&](std::size_t i) -> const std::string& {
    if (!blocks[i]) {
      std::string b;
      for (const Caps& caps : kCaps) {
        b = r.alert_block(*alerts[i], data.group_labels, caps);
        if (b.size() <= block_cap) break;
      }
      if (b.size() > block_cap) b = truncate_utf8(b, block_cap);
      blocks[i] = std::move(b);
    }
    return *blocks[i];
  };

  // The text for alerts [b, e) with `more` left out after them; the last message also counts
  // what max_alerts left out.
  auto render = [&](std::size_t b, std::size_t e, std::size_t more, bool last) {
    Rendered out;
    if (last) more += n.truncated_alerts;
    if (options_.text) {
      NotificationTemplateData subset;
      subset.status = data.status;
      subset.receiver = data.receiver;
      subset.group_labels = data.group_labels;
      subset.common_labels = data.common_labels;
      subset.common_annotations = data.common_annotations;
      subset.external_url = data.external_url;
      if (b == 0 && e == total_alerts) {
        subset.alerts = data.alerts;  // as the dispatcher ordered them
      } else {
        bool firing = false;
        for (std::size_t i = b; i < e; ++i) {
          subset.alerts.push_back(*alerts[i]);
          firing = firing || is_firing(*alerts[i]);
        }
        subset.status = firing ? "firing" : "resolved";
      }
      out.text = options_.text->render_notification(subset);
      if (more > 0) {
        out.text += sep + escape(m, kEllipsis + " and " + std::to_string(more) + " more alert" + (more == 1 ? "" : "s"));
      }
      out.sections.push_back(out.text);
      return out;
    }
    if (!header.empty()) out.sections.push_back(header);
    for (std::size_t i = b; i < e; ++i) out.sections.push_back(block(i));
    std::string footer = r.footer(more, data.external_url);
    if (!footer.empty()) out.sections.push_back(footer);
    out.text = join(out.sections, sep);
    return out;
  };

  auto fits = [&](const Rendered& x) { return x.text.size() <= text_budget; };

  // Greedy: as many alerts per message as fit; the last message allowed summarises the rest.
  struct Range {
    std::size_t b, e;
  };
  std::vector<Range> ranges;
  if (total_alerts == 0) {
    ranges.push_back({0, 0});
  } else {
    std::size_t b = 0;
    while (b < total_alerts) {
      const bool forced_last = ranges.size() + 1 >= lim.max_parts;
      auto fits_until = [&](std::size_t e) {
        return fits(render(b, e, forced_last ? total_alerts - e : 0, forced_last || e == total_alerts));
      };
      // Binary search for the largest end that fits (the text grows with every alert), so that
      // thousands of alerts cost a few renderings per message, not one per alert.
      std::size_t limit = total_alerts;
      if (lim.max_alerts_per_part > 0) limit = std::min(limit, b + lim.max_alerts_per_part);
      // Gallop first, so that only about twice what fits is ever rendered.
      std::size_t lo = b + 1;
      std::size_t hi = limit;
      for (std::size_t step = 1; lo < limit; step *= 2) {
        std::size_t probe = std::min(limit, lo + step);
        if (!fits_until(probe)) {
          hi = probe - 1;
          break;
        }
        lo = probe;
      }
      while (lo < hi) {
        std::size_t mid = lo + (hi - lo + 1) / 2;
        if (fits_until(mid)) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      std::size_t e = lo;
      ranges.push_back({b, e});
      b = e;
      if (forced_last) break;
    }
  }

  std::vector<ChatPart> parts;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const Range& rg = ranges[i];
    const bool last = i + 1 == ranges.size();
    Rendered x = render(rg.b, rg.e, last ? total_alerts - rg.e : 0, last);
    if (!fits(x)) {
      // A single alert (or a user template) larger than a whole message.
      x.text = truncate_lines(x.text, text_budget);
      if (x.sections.size() == 1) x.sections[0] = x.text;
    }
    if (lim.section_bytes > 0) {
      std::vector<std::string> sections;
      for (const auto& s : x.sections) {
        for (auto& piece : split_lines(s, lim.section_bytes)) sections.push_back(std::move(piece));
      }
      x.sections = std::move(sections);
    }
    ChatPart p;
    p.title = title;
    if (ranges.size() > 1) p.title += " (" + std::to_string(i + 1) + "/" + std::to_string(ranges.size()) + ")";
    p.text = std::move(x.text);
    p.sections = std::move(x.sections);
    p.index = i;
    p.total = ranges.size();
    for (std::size_t k = rg.b; k < rg.e; ++k) p.firing = p.firing || is_firing(*alerts[k]);
    if (total_alerts == 0) p.firing = data.status == "firing";
    if (is_http_link(data.external_url)) {
      p.link = data.external_url;
    } else {
      for (std::size_t k = rg.b; k < rg.e && p.link.empty(); ++k) {
        if (is_http_link(alerts[k]->generator_url)) p.link = alerts[k]->generator_url;
      }
    }
    parts.push_back(std::move(p));
  }
  return parts;
}

HttpRequest ChatReceiver::post_request(std::string_view content_type) const {
  HttpRequest r;
  r.method = "POST";
  r.url = endpoint();
  r.headers.emplace_back("Content-Type", std::string(content_type));
  r.headers.emplace_back("User-Agent", std::string("promwatch/") + PROMWATCH_VERSION);
  const HttpEndpointConfig& http = options_.config.http;
  for (const auto& [name, value] : http.headers) r.headers.emplace_back(name, value);
  r.tls = http.tls;
  r.proxy_url = http.proxy_url;
  r.follow_redirects = false;
  r.timeout = options_.timeout;
  r.max_response_bytes = options_.max_response_bytes;
  return r;
}

std::vector<HttpRequest> ChatReceiver::build_requests(const Notification& n, std::string* error) const {
  if (!validate(error)) return {};
  std::vector<HttpRequest> out;
  for (const ChatPart& part : compose(n)) {
    HttpRequest r = post_request("application/json");
    const HttpEndpointConfig& http = options_.config.http;
    if (http.authorization) r.headers.emplace_back("Authorization", http.authorization->header_value());
    r.basic_auth = http.basic_auth;
    r.body = body(part);
    prepare_attempt(r);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace promwatch::chat
