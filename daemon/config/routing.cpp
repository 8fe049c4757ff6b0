// [[receivers]], the [route] tree and [[inhibit_rules]].
//
// Receivers are read before the route so that every route's receiver (and time interval
// names, read earlier still) can be checked where it is written.

#include <algorithm>
#include <cctype>

#include "sections.hpp"

namespace promwatch::config_detail {
namespace {

std::string join_quoted(const std::vector<std::string>& items, std::string_view last_sep = " or ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? std::string(last_sep) : ", ";
    out += "\"" + items[i] + "\"";
  }
  return out;
}

// "a", "a and b", "a, b and c".
std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

// The keys of one [[receivers]] table as its type's reader sees them.
class TableReceiverKeys final : public ReceiverKeys {
 public:
  TableReceiverKeys(TableReader& r, std::string_view type) : r_(r), type_(type) {}

  std::string_view type() const override { return type_; }
  bool has(std::string_view key) const override { return r_.has(key); }
  bool require(std::string_view key) override { return r_.require(key); }
  bool require_secret(std::string_view key) override {
    const std::string file = std::string(key) + "_file";
    if (r_.has(key) || r_.has(file)) return true;
    r_.ctx().error(r_.pos(), "missing required key \"" + std::string(key) + "\" (or \"" + file +
                                 "\") in [[receivers]] of type " + std::string(type_));
    return false;
  }
  std::optional<std::string> string(std::string_view key) override { return r_.string(key); }
  std::optional<std::string> string_or_integer(std::string_view key) override {
    const toml::node* n = r_.get(key);
    if (!n) return std::nullopt;
    if (auto i = n->as_integer()) return std::to_string(i->get());
    return r_.string(key);
  }
  std::optional<std::vector<std::string>> strings(std::string_view key) override { return r_.strings(key); }
  std::optional<bool> boolean(std::string_view key) override { return r_.boolean(key); }
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) override {
    return r_.integer(key, min, max);
  }
  std::optional<std::string> secret(std::string_view key) override { return r_.secret(key); }
  std::optional<std::string> url(std::string_view key, bool secret) override { return r_.url(key, secret); }
  std::optional<TemplateText> template_text(std::string_view key) override { return r_.template_text(key); }
  void error_at_value(std::string_view key, std::string message) override {
    r_.ctx().error(r_.value_pos(key), std::move(message));
  }
  void error_at_key(std::string_view key, std::string message) override {
    r_.ctx().error(r_.key_pos(key), std::move(message));
  }
  void error_at_table(std::string message) override { r_.ctx().error(r_.pos(), std::move(message)); }

 private:
  TableReader& r_;
  std::string_view type_;
};

// The keys every receiver accepts, whatever its type.
constexpr std::string_view kCommonReceiverKeys[] = {"name",      "type",  "url",        "url_file",   "send_resolved",
                                                    "msg_type",  "title", "text",       "max_alerts", "rate_limit"};

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
  const std::vector<ReceiverTypeSpec>& types = receiver_types();
  std::vector<std::string> type_names;
  for (const auto& t : types) type_names.emplace_back(t.name);
  // Every key some type accepts, in table order, with the types that accept it.
  std::vector<std::pair<std::string_view, std::vector<std::string>>> type_keys;
  for (const auto& t : types) {
    for (std::string_view key : t.keys) {
      auto it = std::find_if(type_keys.begin(), type_keys.end(), [&](const auto& e) { return e.first == key; });
      if (it == type_keys.end()) it = type_keys.insert(type_keys.end(), {key, {}});
      it->second.emplace_back(t.name);
    }
  }
  std::vector<std::string_view> allowed(std::begin(kCommonReceiverKeys), std::end(kCommonReceiverKeys));
  for (const auto& [key, owners] : type_keys) allowed.push_back(key);

  for (const toml::table* t : root.tables("receivers")) {
    TableReader r(root.ctx(), *t, "[[receivers]]", with_http_keys(allowed));
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
    const ReceiverTypeSpec* spec = nullptr;
    if (r.require("type")) {
      if (auto v = r.string("type")) {
        spec = find_receiver_type(*v);
        if (!spec) {
          ctx.error(r.value_pos("type"), "type: unknown receiver type \"" + *v + "\" (expected one of " +
                                             join_quoted(type_names) + ")" + did_you_mean(*v, type_names));
        } else {
          rc.type = std::string(spec->name);
        }
      }
    }

    if (spec) {
      if (spec->url == ReceiverUrl::Required && !r.has("url") && !r.has("url_file")) {
        ctx.error(r.pos(), "missing required key \"url\" (or \"url_file\") in [[receivers]] of type " + rc.type);
      }
      if (spec->url == ReceiverUrl::None) {
        for (std::string_view key : {"url", "url_file"}) {
          if (r.has(key)) ctx.error(r.key_pos(key), std::string(key) + ": " + rc.type + " receivers have no url");
        }
      }
      for (const auto& [key, owners] : type_keys) {
        if (!r.has(key) || std::find(spec->keys.begin(), spec->keys.end(), key) != spec->keys.end()) continue;
        ctx.error(r.key_pos(key), std::string(key) + ": only " + join_names(owners) +
                                      " receivers accept this key, not " + rc.type);
      }
    }
    if (!spec || spec->url != ReceiverUrl::None) {
      if (auto v = r.url("url", true)) rc.url = *v;
    }
    if (auto v = r.boolean("send_resolved")) rc.send_resolved = *v;
    if (auto v = r.string("msg_type"); v && spec) {
      const auto& allowed_types = spec->msg_types;
      if (allowed_types.empty()) {
        ctx.error(r.key_pos("msg_type"), "msg_type: " + rc.type + " receivers have no msg_type" +
                                             std::string(spec->msg_type_hint));
      } else if (std::find(allowed_types.begin(), allowed_types.end(), *v) == allowed_types.end()) {
        ctx.error(r.value_pos("msg_type"), "msg_type: must be " + join_quoted(allowed_types) + " for " + rc.type +
                                               " receivers, got \"" + *v + "\"");
      } else {
        rc.msg_type = *v;
      }
    }
    rc.title = r.template_text("title");
    rc.text = r.template_text("text");
    if (auto v = r.integer("max_alerts", 0, 1000000)) rc.max_alerts = static_cast<int>(*v);
    if (auto v = r.string("rate_limit")) {
      if (auto rl = parse_rate_limit(*v)) {
        rc.rate_limit = *rl;
      } else {
        ctx.error(r.value_pos("rate_limit"),
                  "rate_limit: expected \"<count>/<duration>\" like \"20/1m\" with a count of at least 1, got \"" + *v +
                      "\"");
      }
    }
    // The type's own keys, read by its own file (daemon/notify).
    if (spec && spec->read) {
      TableReceiverKeys keys(r, spec->name);
      spec->read(keys, rc);
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
