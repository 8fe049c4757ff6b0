// [[receivers]], the [route] tree and [[inhibit_rules]].
//
// Receivers are read before the route so that every route's receiver (and time interval
// names, read earlier still) can be checked where it is written.

#include <algorithm>
#include <cctype>

#include "sections.hpp"

namespace promwatch::config_detail {
namespace {

struct ReceiverTypeName {
  std::string_view name;
  ReceiverType type;
};
constexpr ReceiverTypeName kReceiverTypes[] = {
    {"webhook", ReceiverType::Webhook}, {"slack", ReceiverType::Slack},   {"dingtalk", ReceiverType::Dingtalk},
    {"feishu", ReceiverType::Feishu},   {"wecom", ReceiverType::Wecom},   {"discord", ReceiverType::Discord},
    {"teams", ReceiverType::Teams},     {"telegram", ReceiverType::Telegram},
};

// The message formats each platform offers; an empty list means msg_type does not apply.
std::vector<std::string> msg_types_for(ReceiverType type) {
  switch (type) {
    case ReceiverType::Dingtalk: return {"text", "markdown", "card"};
    case ReceiverType::Feishu: return {"text", "markdown", "card"};
    case ReceiverType::Wecom: return {"text", "markdown"};
    case ReceiverType::Slack: return {"text", "markdown"};
    case ReceiverType::Discord: return {"text", "markdown", "card"};
    case ReceiverType::Teams: return {"text", "markdown", "card"};
    case ReceiverType::Webhook:
    case ReceiverType::Telegram: return {};
  }
  return {};
}

std::string join_quoted(const std::vector<std::string>& items, std::string_view last_sep = " or ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? std::string(last_sep) : ", ";
    out += "\"" + items[i] + "\"";
  }
  return out;
}

// A key that only some receiver types understand: an error on any other type.
void only_for(TableReader& r, std::string_view key, ReceiverType actual, std::initializer_list<ReceiverType> types,
              std::string_view types_text) {
  if (!r.has(key)) return;
  if (std::find(types.begin(), types.end(), actual) != types.end()) return;
  r.ctx().error(r.key_pos(key), std::string(key) + ": only " + std::string(types_text) + " receivers accept this key, not " +
                                    std::string(to_string(actual)));
}

std::optional<RateLimit> parse_rate_limit(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 9) return std::nullopt;
  std::string_view count = text.substr(0, slash);
  if (!std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  RateLimit rl;
  rl.count = std::stoi(std::string(count));
  auto per = parse_duration(text.substr(slash + 1));
  if (!per || per->count() <= 0 || rl.count <= 0) return std::nullopt;
  rl.per = *per;
  return rl;
}

void check_time_interval_names(TableReader& r, std::string_view key, const std::vector<std::string>& names,
                               const Config& config, std::vector<std::string>& out) {
  out = names;
  const toml::node* n = r.get(key);
  if (!n || !n->is_array()) return;
  std::vector<std::string> defined;
  for (const auto& ti : config.time_intervals) defined.push_back(ti.name);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (std::find(defined.begin(), defined.end(), names[i]) != defined.end()) continue;
    r.ctx().error(r.ctx().pos(*n->as_array()->get(i)),
                  std::string(key) + "[" + std::to_string(i) + "]: time interval \"" + names[i] +
                      "\" is not defined in [[time_intervals]]" + did_you_mean(names[i], defined));
  }
}

std::string route_where(int depth) {
  if (depth == 0) return "[route]";
  std::string s = "[[route";
  for (int i = 0; i < depth; ++i) s += ".routes";
  return s + "]]";
}

RouteConfig read_route_node(Context& ctx, const toml::table& t, const RouteConfig* parent, int depth,
                            const Config& config) {
  TableReader r(ctx, t, route_where(depth),
                {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "matchers", "continue",
                 "mute_time_intervals", "active_time_intervals", "routes"});
  RouteConfig route;
  route.pos = r.pos();
  // Alertmanager's inheritance: receiver, grouping and timers come from the parent when unset;
  // matchers, continue and time intervals belong to the node alone.
  if (parent) {
    route.receiver = parent->receiver;
    route.group_by = parent->group_by;
    route.group_by_all = parent->group_by_all;
    route.group_wait = parent->group_wait;
    route.group_interval = parent->group_interval;
    route.repeat_interval = parent->repeat_interval;
  }

  if (!parent) r.require("receiver");
  if (auto v = r.string("receiver")) {
    std::vector<std::string> names;
    for (const auto& rc : config.receivers) names.push_back(rc.name);
    if (std::find(names.begin(), names.end(), *v) == names.end()) {
      ctx.error(r.value_pos("receiver"),
                "receiver \"" + *v + "\" is not defined in [[receivers]]" + did_you_mean(*v, names));
    }
    route.receiver = *v;
  }
  if (r.has("group_by")) {
    if (const toml::node* n = r.get("group_by"); n->is_array() &&
        std::any_of(n->as_array()->begin(), n->as_array()->end(),
                    [](const toml::node& e) { return e.value<std::string>() == "..."; })) {
      if (n->as_array()->size() != 1) {
        ctx.error(ctx.pos(*n), "group_by: \"...\" (group by all labels) must be the only entry");
      } else {
        route.group_by.clear();
        route.group_by_all = true;
      }
    } else if (auto names = r.label_names("group_by")) {
      route.group_by = *names;
      route.group_by_all = false;
    }
  }
  if (auto v = r.duration("group_wait")) route.group_wait = *v;
  if (auto v = r.duration("group_interval", true)) route.group_interval = *v;
  if (auto v = r.duration("repeat_interval", true)) route.repeat_interval = *v;
  if (auto v = r.matchers("matchers")) {
    if (!parent && !v->empty()) {
      ctx.error(r.value_pos("matchers"), "matchers: the root route matches every alert and cannot have matchers");
    } else {
      route.matchers = std::move(*v);
    }
  }
  if (auto v = r.boolean("continue")) {
    if (!parent && *v) {
      ctx.error(r.value_pos("continue"), "continue: the root route cannot have continue");
    } else {
      route.continue_matching = *v;
    }
  }
  for (std::string_view key : {"mute_time_intervals", "active_time_intervals"}) {
    auto names = r.strings(key);
    if (!names) continue;
    if (!parent && !names->empty()) {
      ctx.error(r.value_pos(key), std::string(key) + ": the root route cannot have time intervals");
      continue;
    }
    check_time_interval_names(r, key, *names, config,
                              key == "mute_time_intervals" ? route.mute_time_intervals : route.active_time_intervals);
  }
  for (const toml::table* child : r.tables("routes")) {
    route.routes.push_back(read_route_node(ctx, *child, &route, depth + 1, config));
  }
  return route;
}

}  // namespace

void read_receivers(TableReader& root, Config& config) {
  std::vector<std::string> type_names;
  for (const auto& t : kReceiverTypes) type_names.emplace_back(t.name);

  for (const toml::table* t : root.tables("receivers")) {
    TableReader r(root.ctx(), *t, "[[receivers]]",
                  with_http_keys({"name", "type", "url", "url_file", "secret", "secret_file", "send_resolved",
                                  "msg_type", "title", "text", "max_alerts", "at_mobiles", "at_all", "mentioned_list",
                                  "at_user_ids", "rate_limit", "bot_token", "bot_token_file", "chat_id",
                                  "parse_mode"}));
    Context& ctx = r.ctx();
    ReceiverConfig rc;
    rc.pos = r.pos();
    rc.http.timeout = config.notify.timeout;
    if (r.require("name")) {
      if (auto v = r.string("name")) {
        if (v->empty()) {
          ctx.error(r.value_pos("name"), "name: must not be empty");
        } else {
          auto dup = std::find_if(config.receivers.begin(), config.receivers.end(),
                                  [&](const ReceiverConfig& o) { return o.name == *v; });
          if (dup != config.receivers.end()) {
            ctx.error(r.value_pos("name"),
                      "duplicate receiver name \"" + *v + "\" (first defined at " + dup->pos.to_string() + ")");
          }
          rc.name = *v;
        }
      }
    }
    bool type_ok = false;
    if (r.require("type")) {
      if (auto v = r.string("type")) {
        auto it = std::find_if(std::begin(kReceiverTypes), std::end(kReceiverTypes),
                               [&](const ReceiverTypeName& n) { return n.name == *v; });
        if (it == std::end(kReceiverTypes)) {
          ctx.error(r.value_pos("type"), "type: unknown receiver type \"" + *v + "\" (expected one of " +
                                             join_quoted(type_names) + ")" + did_you_mean(*v, type_names));
        } else {
          rc.type = it->type;
          type_ok = true;
        }
      }
    }

    const bool telegram = rc.type == ReceiverType::Telegram;
    if (type_ok) {
      if (!telegram && !r.has("url") && !r.has("url_file")) {
        ctx.error(r.pos(), "missing required key \"url\" (or \"url_file\") in [[receivers]] of type " +
                               std::string(to_string(rc.type)));
      }
      only_for(r, "secret", rc.type, {ReceiverType::Dingtalk, ReceiverType::Feishu}, "dingtalk and feishu");
      only_for(r, "secret_file", rc.type, {ReceiverType::Dingtalk, ReceiverType::Feishu}, "dingtalk and feishu");
      only_for(r, "at_mobiles", rc.type, {ReceiverType::Dingtalk}, "dingtalk");
      only_for(r, "at_all", rc.type, {ReceiverType::Dingtalk}, "dingtalk");
      only_for(r, "mentioned_list", rc.type, {ReceiverType::Wecom}, "wecom");
      only_for(r, "at_user_ids", rc.type, {ReceiverType::Feishu}, "feishu");
      only_for(r, "bot_token", rc.type, {ReceiverType::Telegram}, "telegram");
      only_for(r, "bot_token_file", rc.type, {ReceiverType::Telegram}, "telegram");
      only_for(r, "chat_id", rc.type, {ReceiverType::Telegram}, "telegram");
      only_for(r, "parse_mode", rc.type, {ReceiverType::Telegram}, "telegram");
      if (telegram) {
        if (!r.has("bot_token") && !r.has("bot_token_file")) {
          ctx.error(r.pos(), "missing required key \"bot_token\" (or \"bot_token_file\") in [[receivers]] of type telegram");
        }
        r.require("chat_id");
      }
    }
    if (auto v = r.url("url", true)) rc.url = *v;
    if (auto v = r.secret("secret")) rc.secret = *v;
    if (auto v = r.boolean("send_resolved")) rc.send_resolved = *v;
    if (auto v = r.string("msg_type"); v && type_ok) {
      const auto allowed = msg_types_for(rc.type);
      if (allowed.empty()) {
        ctx.error(r.key_pos("msg_type"), "msg_type: " + std::string(to_string(rc.type)) + " receivers have no msg_type" +
                                             (telegram ? " (use parse_mode)" : ""));
      } else if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
        ctx.error(r.value_pos("msg_type"), "msg_type: must be " + join_quoted(allowed) + " for " +
                                               std::string(to_string(rc.type)) + " receivers, got \"" + *v + "\"");
      } else {
        rc.msg_type = *v;
      }
    }
    rc.title = r.template_text("title");
    rc.text = r.template_text("text");
    if (auto v = r.integer("max_alerts", 0, 1000000)) rc.max_alerts = static_cast<int>(*v);
    if (auto v = r.strings("at_mobiles")) rc.at_mobiles = *v;
    if (auto v = r.boolean("at_all")) rc.at_all = *v;
    if (auto v = r.strings("mentioned_list")) rc.mentioned_list = *v;
    if (auto v = r.strings("at_user_ids")) rc.at_user_ids = *v;
    if (auto v = r.string("rate_limit")) {
      if (auto rl = parse_rate_limit(*v)) {
        rc.rate_limit = *rl;
      } else {
        ctx.error(r.value_pos("rate_limit"),
                  "rate_limit: expected \"<count>/<duration>\" like \"20/1m\" with a count of at least 1, got \"" + *v +
                      "\"");
      }
    }
    if (auto v = r.secret("bot_token")) rc.bot_token = *v;
    if (const toml::node* n = r.get("chat_id")) {
      // Telegram chat ids are numbers (-100123...) or "@channelname"; accept both spellings.
      if (auto i = n->as_integer()) {
        rc.chat_id = std::to_string(i->get());
      } else if (auto s = r.string("chat_id")) {
        if (s->empty()) ctx.error(r.value_pos("chat_id"), "chat_id: must not be empty");
        rc.chat_id = *s;
      }
    }
    if (auto v = r.string("parse_mode")) {
      if (*v != "HTML" && *v != "MarkdownV2" && *v != "Markdown") {
        ctx.error(r.value_pos("parse_mode"),
                  "parse_mode: must be \"HTML\", \"MarkdownV2\" or \"Markdown\", got \"" + *v + "\"");
      } else {
        rc.parse_mode = *v;
      }
    }
    read_http_endpoint(r, rc.http);
    config.receivers.push_back(std::move(rc));
  }
}

void read_route(TableReader& root, Config& config) {
  const toml::table* t = root.table("route");
  if (!t) return;
  config.route = read_route_node(root.ctx(), *t, nullptr, 0, config);
}

void read_inhibit_rules(TableReader& root, Config& config) {
  for (const toml::table* t : root.tables("inhibit_rules")) {
    TableReader r(root.ctx(), *t, "[[inhibit_rules]]", {"source_matchers", "target_matchers", "equal"});
    InhibitRuleConfig rule;
    rule.pos = r.pos();
    if (r.require("source_matchers")) {
      if (auto v = r.matchers("source_matchers")) rule.source_matchers = std::move(*v);
    }
    if (r.require("target_matchers")) {
      if (auto v = r.matchers("target_matchers")) rule.target_matchers = std::move(*v);
    }
    if (auto v = r.label_names("equal")) rule.equal = *v;
    config.inhibit_rules.push_back(std::move(rule));
  }
}

}  // namespace promwatch::config_detail
