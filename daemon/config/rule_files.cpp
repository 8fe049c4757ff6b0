// Rule files (SPEC §3): [[groups]] with [[groups.rules]] and [[groups.heartbeats]].
//
// Rule files are not `${VAR}`-expanded: PromQL and templates use `$` themselves. Expressions
// are parsed and type-checked as Prometheus does (expressions.cpp).

#include <algorithm>
#include <cctype>

#include "sections.hpp"

namespace promwatch::config_detail {
namespace {

std::optional<std::string> read_expr(TableReader& r, std::string_view key = "expr") {
  if (!r.require(key)) return std::nullopt;
  auto expr = r.string(key);
  if (!expr) return std::nullopt;
  const bool blank = std::all_of(expr->begin(), expr->end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (blank) {
    r.ctx().error(r.value_pos(key), std::string(key) + ": must not be empty");
    return std::nullopt;
  }
  if (!check_expression(r, key, *expr)) return std::nullopt;
  return expr;
}

// flap_window and flap_threshold mean something only together: one alone is an error at it.
void read_flap_detection(TableReader& r, AlertRuleConfig& rule) {
  const bool has_window = r.has("flap_window");
  const bool has_threshold = r.has("flap_threshold");
  if (has_window != has_threshold) {
    const std::string_view present = has_window ? "flap_window" : "flap_threshold";
    const std::string_view missing = has_window ? "flap_threshold" : "flap_window";
    r.ctx().error(r.key_pos(present),
                  std::string(present) + ": needs " + std::string(missing) + " too (flap detection uses both)");
    return;
  }
  if (!has_window) return;
  auto window = r.duration("flap_window", /*positive=*/true);
  auto threshold = r.integer("flap_threshold", 2, 1000000);
  if (window && threshold) {
    rule.flap_window = *window;
    rule.flap_threshold = static_cast<int>(*threshold);
  }
}

std::optional<std::string> read_name(TableReader& r, std::string_view key) {
  if (!r.require(key)) return std::nullopt;
  auto name = r.string(key);
  if (!name) return std::nullopt;
  // Alert (and heartbeat) names are any non-empty UTF-8 string, as in Prometheus, which
  // checks only that the alertname label is valid UTF-8: collections use names like
  // `Cert-managerAbsent` or `SslCertificateExpiry(<7Days)`. toml++ has already refused a file
  // that is not UTF-8.
  if (name->empty()) {
    r.ctx().error(r.value_pos(key), std::string(key) + ": must not be empty");
    return std::nullopt;
  }
  return name;
}

AlertRuleConfig read_alert_rule(Context& ctx, const toml::table& t) {
  TableReader r(ctx, t, "[[groups.rules]]",
                {"alert", "expr", "for", "keep_firing_for", "keep_firing_expr", "flap_window", "flap_threshold",
                 "labels", "annotations", "on_error", "no_data"});
  AlertRuleConfig rule;
  rule.pos = r.pos();
  if (auto v = read_name(r, "alert")) rule.alert = *v;
  if (auto v = read_expr(r)) rule.expr = *v;
  if (auto v = r.duration("for")) rule.for_duration = *v;
  if (auto v = r.duration("keep_firing_for")) rule.keep_firing_for = *v;
  if (r.has("keep_firing_expr")) {
    if (auto v = read_expr(r, "keep_firing_expr")) rule.keep_firing_expr = *v;
  }
  read_flap_detection(r, rule);
  if (auto v = r.template_map("labels")) rule.labels = std::move(*v);
  if (auto v = r.template_map("annotations")) rule.annotations = std::move(*v);
  if (auto v = r.string("on_error")) {
    if (*v == "keep_state") {
      rule.on_error = OnError::KeepState;
    } else if (*v == "alerting") {
      rule.on_error = OnError::Alerting;
    } else {
      ctx.error(r.value_pos("on_error"), "on_error: must be \"keep_state\" or \"alerting\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.string("no_data")) {
    if (*v == "ok") {
      rule.no_data = NoData::Ok;
    } else if (*v == "alerting") {
      rule.no_data = NoData::Alerting;
    } else {
      ctx.error(r.value_pos("no_data"), "no_data: must be \"ok\" or \"alerting\", got \"" + *v + "\"");
    }
  }
  return rule;
}

HeartbeatRuleConfig read_heartbeat(Context& ctx, const toml::table& t) {
  TableReader r(ctx, t, "[[groups.heartbeats]]",
                {"name", "expr", "by", "for", "forget_after", "expected", "labels", "annotations"});
  HeartbeatRuleConfig hb;
  hb.pos = r.pos();
  if (auto v = read_name(r, "name")) hb.name = *v;
  if (auto v = read_expr(r)) hb.expr = *v;
  bool by_ok = false;
  if (r.require("by")) {
    if (auto v = r.label_names("by")) {
      if (v->empty()) {
        ctx.error(r.value_pos("by"), "by: list at least one label that identifies a member, like [\"instance\"]");
      } else {
        hb.by = *v;
        by_ok = true;
      }
    }
  }
  if (auto v = r.duration("for")) hb.for_duration = *v;
  if (auto v = r.duration("forget_after", true)) hb.forget_after = *v;
  if (const toml::node* n = r.get("expected")) {
    const auto* arr = n->as_array();
    if (!arr) {
      ctx.error(ctx.pos(*n), "expected: expected an array of tables of the `by` labels, got " + std::string(type_name(*n)));
    } else {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& el = *arr->get(i);
        const std::string what = "expected[" + std::to_string(i) + "]";
        if (const auto* s = el.as_string()) {
          if (!by_ok) continue;
          if (hb.by.size() != 1) {
            ctx.error(ctx.pos(el), what + ": a plain string is accepted only when `by` has one label; write a table "
                                          "like { " + hb.by[0] + " = \"...\", ... }");
          } else if (s->get().empty()) {
            ctx.error(ctx.pos(el), what + ": must not be empty");
          } else {
            hb.expected.push_back(Labels{{hb.by[0], s->get()}});
          }
          continue;
        }
        const auto* et = el.as_table();
        if (!et) {
          ctx.error(ctx.pos(el), what + ": expected a table of the `by` labels, got " + std::string(type_name(el)));
          continue;
        }
        if (!by_ok) continue;
        Labels member;
        bool ok = true;
        for (auto&& [k, v] : *et) {
          const std::string name(k.str());
          if (std::find(hb.by.begin(), hb.by.end(), name) == hb.by.end()) {
            ctx.error(ctx.pos(k.source()), what + ": label \"" + name + "\" is not one of the `by` labels" +
                                               did_you_mean(name, hb.by));
            ok = false;
          } else if (!v.is_string() || v.as_string()->get().empty()) {
            ctx.error(ctx.pos(v), what + "." + name + ": expected a non-empty string, got " +
                                      (v.is_string() ? std::string("an empty string") : std::string(type_name(v))));
            ok = false;
          } else {
            member.set(name, v.as_string()->get());
          }
        }
        if (!ok) continue;
        for (const auto& b : hb.by) {
          if (!member.has(b)) {
            ctx.error(ctx.pos(el), what + ": missing label \"" + b + "\" (every `by` label identifies the member)");
            ok = false;
          }
        }
        if (ok) hb.expected.push_back(std::move(member));
      }
    }
  }
  if (auto v = r.labels("labels")) hb.labels = *v;
  if (auto v = r.template_map("annotations")) hb.annotations = std::move(*v);
  return hb;
}

}  // namespace

void load_rule_file(const std::string& path, Diagnostics& diag, Config& config, GroupNames& names) {
  std::string read_error;
  auto text = read_file(path, &read_error);
  if (!text) {
    diag.errors.push_back({SourcePos{path}, read_error});
    return;
  }
  toml::table doc;
  try {
    doc = toml::parse(std::string_view(*text), std::string_view(path));
  } catch (const toml::parse_error& e) {
    diag.errors.push_back({SourcePos{path, static_cast<int>(e.source().begin.line),
                                     static_cast<int>(e.source().begin.column)},
                           std::string(e.description())});
    return;
  }
  Context ctx(path, {}, nullptr, diag);
  ctx.set_source(*text);
  TableReader root(ctx, doc, "the rule file", {"groups"});
  for (const toml::table* t : root.tables("groups")) {
    TableReader r(ctx, *t, "[[groups]]", {"name", "interval", "query_offset", "limit", "labels", "rules", "heartbeats"});
    RuleGroupConfig group;
    group.pos = r.pos();
    group.file = path;
    group.interval = config.global.evaluation_interval;
    if (r.require("name")) {
      if (auto v = r.string("name")) {
        if (v->empty()) {
          ctx.error(r.value_pos("name"), "name: must not be empty");
        } else if (auto [it, inserted] = names.emplace(*v, r.value_pos("name")); !inserted) {
          ctx.error(r.value_pos("name"),
                    "duplicate group name \"" + *v + "\" (first defined at " + it->second.to_string() + ")");
        }
        group.name = *v;
      }
    }
    if (auto v = r.duration("interval", true)) group.interval = *v;
    if (auto v = r.duration("query_offset")) group.query_offset = *v;
    if (auto v = r.integer("limit", 0, INT32_MAX)) group.limit = static_cast<int>(*v);
    if (auto v = r.labels("labels")) group.labels = *v;
    for (const toml::table* rt : r.tables("rules")) group.rules.push_back(read_alert_rule(ctx, *rt));
    for (const toml::table* ht : r.tables("heartbeats")) group.heartbeats.push_back(read_heartbeat(ctx, *ht));
    config.groups.push_back(std::move(group));
  }
}

}  // namespace promwatch::config_detail
