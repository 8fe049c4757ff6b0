// `promwatch import alertmanager`: an alertmanager.yml to promwatch's [[receivers]], [route],
// [[inhibit_rules]], [[time_intervals]] and [notify] templates (SPEC §2).

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "promwatch/import.hpp"
#include "promwatch/matcher.hpp"
#include "toml_writer.hpp"
#include "yaml_source.hpp"

namespace promwatch {
namespace {

using namespace import_detail;
using Entries = std::vector<std::pair<std::string, std::string>>;

// Alertmanager's per-integration send_resolved defaults (promwatch's default is true).
struct Integration {
  const char* key;
  const char* type;  // promwatch receiver type; nullptr = not supported
  bool send_resolved;
};
constexpr Integration kIntegrations[] = {
    {"webhook_configs", "webhook", true},     {"slack_configs", "slack", false},
    {"discord_configs", "discord", true},     {"msteams_configs", "teams", true},
    {"telegram_configs", "telegram", true},   {"email_configs", "email", false},
    {"pagerduty_configs", "pagerduty", true}, {"opsgenie_configs", "opsgenie", true},
    {"victorops_configs", nullptr, true},     {"pushover_configs", "pushover", true},
    {"sns_configs", nullptr, true},           {"wechat_configs", nullptr, false},
    {"webex_configs", "webex", true},         {"msteamsv2_configs", "msteamsv2", true},
    {"jira_configs", nullptr, true},          {"rocketchat_configs", "rocketchat", true},
};

// Alertmanager's built-in templates (`slack.default.title`, …) are not in promwatch, which
// has its own defaults per platform: a text that only calls one of them is left to those.
bool uses_builtin_template(const std::string& text) {
  return text.find(".default.") != std::string::npos || text.find("template \"__") != std::string::npos;
}

// Alertmanager's comma-separated lists (email `to`, opsgenie `tags`): items trimmed, commas
// inside double quotes ("Ops, EU" <ops@example.com>) kept.
std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  auto flush = [&] {
    const auto b = cur.find_first_not_of(' ');
    if (b != std::string::npos) out.push_back(cur.substr(b, cur.find_last_not_of(' ') - b + 1));
    cur.clear();
  };
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      flush();
      continue;
    }
    cur += c;
  }
  flush();
  return out;
}

std::string slug(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

// Splits one Alertmanager matchers string, which may hold several (`{a="b", c=~"d"}`), into
// single matchers: commas outside double quotes separate them.
std::vector<std::string> split_matchers(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '\\' && i + 1 < s.size()) {
      cur += c;
      cur += s[++i];
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (cur.find_first_not_of(' ') != std::string::npos) out.push_back(cur);
  return out;
}

constexpr const char* kNeverInterval = "promwatch-import-never";

class AlertmanagerConverter {
 public:
  AlertmanagerConverter(const std::string& path, std::string_view text, const AlertmanagerImportOptions& options)
      : problems_(path), comments_(text), options_(options) {}

  AlertmanagerImport run(std::string_view text) {
    int bad_line = 0;
    if (std::string why = unreadable_reason(text, &bad_line); !why.empty()) {
      problems_.add(bad_line, why);
      return finish();
    }
    try {
      // One configuration: the first document, as Alertmanager reads it.
      const std::vector<YAML::Node> docs = load_documents(text);
      convert(docs.empty() ? YAML::Node() : docs.front());
    } catch (const YAML::Exception& e) {
      // Parse errors, and structures the walk did not expect (a subscript of a scalar).
      problems_.add(e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg + "; nothing more carried over");
    }
    return finish();
  }

 private:
  void convert(const YAML::Node& root) {
    if (!root.IsMap()) {
      problems_.add(root, "expected an Alertmanager configuration (a map); nothing carried over");
      return;
    }
    for (const auto& kv : root) {
      const std::string k = kv.first.Scalar();
      static const std::set<std::string> known = {"global", "route", "receivers", "inhibit_rules", "time_intervals",
                                                  "mute_time_intervals", "templates"};
      if (!known.count(k)) problems_.add(kv.first, "unknown top-level key \"" + k + "\"; not carried over");
    }
    global(root["global"]);
    templates(root["templates"]);
    time_intervals(root["time_intervals"]);
    time_intervals(root["mute_time_intervals"]);
    receivers(root["receivers"]);
    if (root["route"] && root["route"].IsMap()) {
      out_ += "\n";
      route(root["route"], 0);
    } else {
      problems_.add(root, "no `route`: promwatch needs a [route] with a receiver");
    }
    inhibit_rules(root["inhibit_rules"]);
    if (need_never_) {
      out_ += "\n# Routes to receivers without integrations are active only in this interval, which never comes.\n";
      out_ += "[[time_intervals]]\nname = " + toml_string(kNeverInterval) + "\nintervals = [{ years = [\"1970\"] }]\n";
    }
  }

  AlertmanagerImport finish() {
    AlertmanagerImport r;
    // yaml-cpp decodes escapes like "\xff" to bytes that are not UTF-8; TOML must be UTF-8.
    if (invalid_utf8_at(out_) != std::string::npos) {
      problems_.add(0, "a string is not valid UTF-8 after decoding its YAML escapes; the bad bytes became U+FFFD");
      out_ = valid_utf8(out_);
    }
    r.toml = std::move(out_);
    r.problems = std::move(problems_.sorted());
    r.secrets = std::move(secrets_);
    return r;
  }

  // The comments above `n` and the one at the end of its first line, before its table.
  void comments_before(const YAML::Node& n) {
    const int line = line_of(n);
    for (const auto& c : comments_.take_above(line)) out_ += c.empty() ? "#\n" : "# " + c + "\n";
    eol_comments(line, line + 1);
  }

  // The end-of-line comments of lines [from, to) as comment lines: the keys of a table are
  // written in promwatch's order, so a comment follows the table's keys rather than its key.
  void eol_comments(int from, int to) {
    for (const auto& c : comments_.take_trailing(from, to)) out_ += c.empty() ? "#\n" : "# " + c + "\n";
  }

  std::string str(const YAML::Node& n) {
    std::string s;
    if (!scalar(n, s)) problems_.add(n, "expected a single value; not carried over");
    return s;
  }

  // A literal secret goes to a file the user creates; a `*_file` reference is kept.
  std::string secret_file(const YAML::Node& value, const std::string& owner, const std::string& what,
                          const std::string& yaml_key) {
    std::string base = options_.secrets_dir;
    if (!base.empty() && base.back() != '/') base += '/';
    std::string path = base + slug(owner) + "." + what;
    for (int n = 2; used_paths_.count(path); ++n) path = base + slug(owner) + "-" + std::to_string(n) + "." + what;
    used_paths_.insert(path);
    secrets_.push_back({path, problems_.file() + ":" + std::to_string(line_of(value)) + " " + yaml_key, str(value)});
    return path;
  }

  // `key_file = "..."` for a secret given as `yaml_key` or `yaml_key_file` in the YAML.
  void emit_secret(Entries& into, const YAML::Node& map, const std::string& yaml_key, const std::string& toml_key_name,
                   const std::string& owner, const std::string& what) {
    if (map[yaml_key + "_file"]) {
      into.emplace_back(toml_key_name + "_file", str(map[yaml_key + "_file"]));
    } else if (map[yaml_key]) {
      into.emplace_back(toml_key_name + "_file", secret_file(map[yaml_key], owner, what, yaml_key));
    }
  }

  void global(const YAML::Node& g) {
    if (!g) return;
    if (!g.IsMap()) {
      problems_.add(g, "global: expected a map; not carried over");
      return;
    }
    global_ = g;
    for (const auto& kv : g) {
      const std::string k = kv.first.Scalar();
      if (k == "resolve_timeout") {
        problems_.note(kv.first, "global.resolve_timeout is not needed: promwatch evaluates the rules and resolves alerts itself");
      } else if (k == "slack_api_url" || k == "slack_api_url_file" || k == "http_config") {
        // Applied to the receivers that use them (below).
      } else if (k == "smtp_from" || k == "smtp_smarthost" || k == "smtp_hello" || k == "smtp_auth_username" ||
                 k == "smtp_auth_password" || k == "smtp_auth_password_file" || k == "smtp_require_tls" ||
                 k == "pagerduty_url" || k == "opsgenie_api_url" || k == "opsgenie_api_key" ||
                 k == "opsgenie_api_key_file" || k == "webex_api_url" || k == "rocketchat_api_url" ||
                 k == "rocketchat_token" || k == "rocketchat_token_file" || k == "rocketchat_token_id" ||
                 k == "rocketchat_token_id_file") {
        // Applied to the receivers of that type that do not set their own (below).
      } else if (k.rfind("victorops", 0) == 0 || k.rfind("wechat", 0) == 0 || k.rfind("jira", 0) == 0) {
        problems_.note(kv.first, "global." + k + " belongs to a receiver type promwatch does not have; not carried over");
      } else if (k == "telegram_api_url") {
        problems_.add(kv.first, "global.telegram_api_url: promwatch talks to api.telegram.org only; not carried over");
      } else {
        problems_.add(kv.first, "global." + k + ": not carried over");
      }
    }
  }

  void templates(const YAML::Node& t) {
    if (!t) return;
    std::vector<std::string> files;
    if (!string_list(t, files)) {
      problems_.add(t, "templates: expected a list of file globs; not carried over");
      return;
    }
    if (files.empty()) return;
    comments_before(t);
    out_ += "[notify]\n";
    out_ += "# Alertmanager template files: promwatch reads the same Go-template syntax (SPEC §5);\n";
    out_ += "# paths are relative to the main config's directory.\n";
    out_ += "templates = " + toml_string_array(files) + "\n";
  }

  void time_intervals(const YAML::Node& list) {
    if (!list || list.IsNull()) return;
    if (!list.IsSequence()) {
      problems_.add(list, "time intervals: expected a list; not carried over");
      return;
    }
    for (const auto& ti : list) {
      if (!ti.IsMap() || !ti["name"]) {
        problems_.add(ti, "a time interval needs a name; skipped");
        continue;
      }
      out_ += "\n";
      comments_before(ti);
      out_ += "[[time_intervals]]\nname = " + toml_string(str(ti["name"])) + "\n";
      std::vector<std::string> specs;
      const YAML::Node ivs = ti["time_intervals"];
      if (ivs && ivs.IsSequence()) {
        for (const auto& iv : ivs) specs.push_back(interval_spec(iv));
      }
      for (const auto& kv : ti) {
        const std::string k = kv.first.Scalar();
        if (k != "name" && k != "time_intervals") problems_.add(kv.first, "time interval: unknown key \"" + k + "\"; not carried over");
      }
      out_ += "intervals = [";
      for (std::size_t i = 0; i < specs.size(); ++i) out_ += (i ? ",\n  " : "\n  ") + specs[i];
      out_ += specs.empty() ? "]\n" : ",\n]\n";
      eol_comments(line_of(ti) + 1, last_line(ti) + 1);
    }
  }

  std::string interval_spec(const YAML::Node& iv) {
    std::vector<std::string> parts;
    if (!iv.IsMap()) {
      problems_.add(iv, "a time interval entry must be a map; skipped");
      return "{}";
    }
    for (const auto& kv : iv) {
      const std::string k = kv.first.Scalar();
      if (k == "times") {
        std::vector<std::string> times;
        if (kv.second.IsSequence()) {
          for (const auto& t : kv.second) {
            times.push_back("{ start_time = " + toml_string(str(t["start_time"])) +
                            ", end_time = " + toml_string(str(t["end_time"])) + " }");
          }
        }
        std::string s = "times = [";
        for (std::size_t i = 0; i < times.size(); ++i) s += (i ? ", " : "") + times[i];
        parts.push_back(s + "]");
      } else if (k == "weekdays" || k == "days_of_month" || k == "months" || k == "years") {
        std::vector<std::string> v;
        if (!string_list(kv.second, v)) {
          problems_.add(kv.second, k + ": expected a list; not carried over");
          continue;
        }
        parts.push_back(k + " = " + toml_string_array(v));
      } else if (k == "location") {
        parts.push_back("location = " + toml_string(str(kv.second)));
      } else {
        problems_.add(kv.first, "time interval: unknown key \"" + k + "\"; not carried over");
      }
    }
    if (parts.empty()) return "{}";
    std::string s = "{ ";
    for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
    return s + " }";
  }

  void receivers(const YAML::Node& list) {
    if (!list || !list.IsSequence()) {
      if (list) problems_.add(list, "receivers: expected a list; not carried over");
      return;
    }
    for (const auto& r : list) receiver(r);
  }

  void receiver(const YAML::Node& r) {
    if (!r.IsMap() || !r["name"]) {
      problems_.add(r, "a receiver needs a name; skipped");
      return;
    }
    const std::string name = str(r["name"]);
    bool emitted = false;
    if (r.size() == 1) {
      // A receiver without integrations drops what is routed to it ("null", kube-prometheus'
      // Watchdog): promwatch has no such receiver, so its routes are muted instead (below).
      null_receivers_.insert(name);
      problems_.note(r, "receiver \"" + name + "\" has no integrations (it drops notifications): the routes to it are "
                        "muted with the time interval \"" + std::string(kNeverInterval) + "\" and inherit their parent's receiver");
      return;
    }
    for (const auto& kv : r) {
      const std::string k = kv.first.Scalar();
      if (k == "name") continue;
      const auto* it = std::find_if(std::begin(kIntegrations), std::end(kIntegrations),
                                    [&](const Integration& i) { return k == i.key; });
      if (it == std::end(kIntegrations)) {
        problems_.add(kv.first, "receiver \"" + name + "\": unknown key \"" + k + "\"; not carried over");
        continue;
      }
      if (!kv.second.IsSequence()) continue;
      for (const auto& cfg : kv.second) {
        if (!it->type) {
          problems_.add(cfg, "receiver \"" + name + "\": " + k + " has no promwatch receiver type; not carried over");
          continue;
        }
        // A promwatch receiver has one integration: the first keeps the name, the others are
        // `name/type` (`name/type-2`, ...), and the routes to `name` are repeated per receiver.
        std::vector<std::string>& names = receiver_targets_[name];
        std::string target = name;
        if (!names.empty()) {
          target = name + "/" + it->type;
          for (int n = 2; std::find(names.begin(), names.end(), target) != names.end(); ++n) {
            target = name + "/" + it->type + "-" + std::to_string(n);
          }
        }
        names.push_back(target);
        integration(target, *it, cfg);
        emitted = true;
      }
    }
    if (receiver_targets_[name].size() > 1) {
      std::string list;
      for (const auto& t : receiver_targets_[name]) list += (list.empty() ? "\"" : ", \"") + t + "\"";
      problems_.note(r, "receiver \"" + name + "\" has " + std::to_string(receiver_targets_[name].size()) +
                            " integrations: promwatch receivers " + list +
                            "; each route to it is repeated once per receiver, with continue = true");
    }
    if (!emitted) {
      problems_.add(r, "receiver \"" + name + "\" has no integration promwatch can carry over; routes to it will not pass check");
    }
  }

  void integration(const std::string& name, const Integration& kind, const YAML::Node& cfg) {
    out_ += "\n";
    comments_before(cfg);
    out_ += "[[receivers]]\nname = " + toml_string(name) + "\ntype = " + toml_string(kind.type) + "\n";
    Entries keys;  // scalar keys in order
    std::vector<std::string> raw;  // lines already rendered (inline tables)
    const std::string type = kind.type;
    std::set<std::string> handled = {"send_resolved", "http_config"};
    // The destination URL is a secret in promwatch (SPEC §2).
    auto url_from = [&](const std::string& yaml_key) {
      handled.insert(yaml_key);
      handled.insert(yaml_key + "_file");
      if (cfg[yaml_key] || cfg[yaml_key + "_file"]) {
        emit_secret(keys, cfg, yaml_key, "url", name, "url");
        return true;
      }
      return false;
    };
    auto text_key = [&](const std::string& yaml_key, const std::string& toml) {
      template_key(name, type, cfg, yaml_key, toml, keys, handled);
    };
    const YAML::Node& g = global_;  // const: operator[] on a non-const node inserts the key
    auto own_or_global = [&](const std::string& yaml_key, const std::string& global_key) {
      handled.insert(yaml_key);
      return setting(cfg, yaml_key, global_key);
    };
    // A plain value copied as it is; a template (which promwatch has only for title/text) is not.
    auto plain_key = [&](const std::string& yaml_key, const std::string& toml, const YAML::Node& value) {
      handled.insert(yaml_key);
      if (!value) return;
      const std::string v = str(value);
      if (v.find("{{") != std::string::npos) {
        problems_.add(value, "receiver \"" + name + "\": " + yaml_key + " is a template; promwatch takes a fixed " + toml +
                                 " here; not carried over");
        return;
      }
      keys.emplace_back(toml, v);
    };
    auto left_out = [&](const std::string& yaml_key, const std::string& why) {
      handled.insert(yaml_key);
      if (cfg[yaml_key]) problems_.add(cfg[yaml_key], "receiver \"" + name + "\": " + yaml_key + " is not carried over: " + why);
    };
    if (type == "webhook") {
      url_from("url");
      if (cfg["max_alerts"]) {
        handled.insert("max_alerts");
        const std::string v = str(cfg["max_alerts"]);
        if (!is_toml_integer(v) || v.front() == '-') {
          problems_.add(cfg["max_alerts"], "receiver \"" + name + "\": max_alerts must be a non-negative integer; not carried over");
        } else if (v != "0") {
          raw.push_back("max_alerts = " + v);
        }
      }
    } else if (type == "slack") {
      if (!url_from("api_url")) {
        const YAML::Node& g = global_;  // const: operator[] on a non-const node inserts the key
        if (g && (g["slack_api_url"] || g["slack_api_url_file"])) {
          emit_secret(keys, g, "slack_api_url", "url", name, "url");
        } else {
          problems_.add(cfg, "receiver \"" + name + "\": slack without api_url (nor global.slack_api_url)");
        }
      }
      text_key("title", "title");
      text_key("text", "text");
      for (const char* k : {"channel", "username"}) {
        if (cfg[k]) {
          handled.insert(k);
          problems_.note(cfg[k], "receiver \"" + name + "\": slack " + k +
                                     " is not carried over: the incoming-webhook URL decides it");
        }
      }
    } else if (type == "discord") {
      url_from("webhook_url");
      text_key("title", "title");
      text_key("message", "text");
    } else if (type == "teams") {
      url_from("webhook_url");
      text_key("title", "title");
      text_key("text", "text");
    } else if (type == "telegram") {
      handled.insert("bot_token");
      handled.insert("bot_token_file");
      emit_secret(keys, cfg, "bot_token", "bot_token", name, "bot_token");
      if (cfg["chat_id"]) {
        handled.insert("chat_id");
        const std::string id = str(cfg["chat_id"]);
        raw.push_back("chat_id = " + (is_toml_integer(id) ? id : toml_string(id)));
      }
      text_key("message", "text");
      if (cfg["parse_mode"]) {
        handled.insert("parse_mode");
        keys.emplace_back("parse_mode", str(cfg["parse_mode"]));
      }
      if (cfg["api_url"]) {
        handled.insert("api_url");
        problems_.add(cfg["api_url"], "receiver \"" + name + "\": telegram api_url: promwatch talks to api.telegram.org only; not carried over");
      }
    } else if (type == "email") {
      email(name, cfg, keys, raw, handled);
    } else if (type == "pagerduty") {
      handled.insert("routing_key");
      handled.insert("routing_key_file");
      if (cfg["routing_key"] || cfg["routing_key_file"]) {
        emit_secret(keys, cfg, "routing_key", "routing_key", name, "routing_key");
      } else if (cfg["service_key"] || cfg["service_key_file"]) {
        problems_.add(cfg, "receiver \"" + name + "\": pagerduty service_key (Events API v1) is not carried over: promwatch "
                           "sends Events API v2, which needs an integration's routing_key");
      }
      handled.insert("service_key");
      handled.insert("service_key_file");
      if (const auto url = own_or_global("url", "pagerduty_url")) {
        const std::string u = str(*url);
        if (u != "https://events.pagerduty.com/v2/enqueue") keys.emplace_back("url", u);
      }
      text_key("description", "title");
      if (cfg["severity"]) {
        handled.insert("severity");
        const std::string v = str(cfg["severity"]);
        if (v == "critical" || v == "error" || v == "warning" || v == "info") {
          keys.emplace_back("severity", v);
        } else {
          problems_.note(cfg["severity"], "receiver \"" + name + "\": pagerduty severity \"" + v +
                                             "\" is not carried over: promwatch maps each group's severity label");
        }
      }
      plain_key("source", "source", cfg["source"]);
      for (const char* k : {"client", "client_url", "links", "images", "details", "class", "component", "group"}) {
        if (cfg[k]) {
          handled.insert(k);
          problems_.note(cfg[k], "receiver \"" + name + "\": pagerduty " + k +
                                     " is not carried over: promwatch sends its own (client, links to the status page, "
                                     "the group labels and text as custom_details)");
        }
      }
    } else if (type == "opsgenie") {
      handled.insert("api_key");
      handled.insert("api_key_file");
      if (cfg["api_key"] || cfg["api_key_file"]) {
        emit_secret(keys, cfg, "api_key", "api_key", name, "api_key");
      } else if (g && (g["opsgenie_api_key"] || g["opsgenie_api_key_file"])) {
        emit_secret(keys, g, "opsgenie_api_key", "api_key", name, "api_key");
      } else {
        problems_.add(cfg, "receiver \"" + name + "\": opsgenie without api_key (nor global.opsgenie_api_key)");
      }
      if (const auto url = own_or_global("api_url", "opsgenie_api_url")) {
        std::string u = str(*url);
        while (!u.empty() && u.back() == '/') u.pop_back();
        if (u != "https://api.opsgenie.com") keys.emplace_back("api_url", u);
      }
      text_key("message", "title");
      text_key("description", "text");
      plain_key("source", "source", cfg["source"]);
      if (cfg["priority"]) {
        const std::string v = str(cfg["priority"]);
        if (v.find("{{") == std::string::npos) plain_key("priority", "priority", cfg["priority"]);
        else left_out("priority", "a template; promwatch takes a fixed P1..P5");
      }
      handled.insert("priority");
      if (cfg["tags"]) {
        handled.insert("tags");
        const std::string v = str(cfg["tags"]);
        if (v.find("{{") != std::string::npos) {
          problems_.add(cfg["tags"], "receiver \"" + name + "\": tags is a template; not carried over");
        } else {
          raw.push_back("tags = " + toml_string_array(split_commas(v)));
        }
      }
      if (cfg["responders"]) {
        handled.insert("responders");
        std::vector<std::string> list;
        for (const auto& rsp : cfg["responders"]) {
          const std::string kind = rsp["type"] ? str(rsp["type"]) : "";
          std::string who;
          if (kind == "user") who = rsp["username"] ? str(rsp["username"]) : "";
          else who = rsp["name"] ? str(rsp["name"]) : "";
          if ((kind == "team" || kind == "user" || kind == "escalation" || kind == "schedule") && !who.empty() &&
              who.find("{{") == std::string::npos) {
            list.push_back(kind + ":" + who);
          } else {
            problems_.add(rsp, "receiver \"" + name + "\": opsgenie responder is not carried over: promwatch takes "
                               "team/user/escalation/schedule by a fixed name (user by username), not by id or template");
          }
        }
        if (!list.empty()) raw.push_back("responders = " + toml_string_array(list));
      }
      left_out("details", "promwatch sends the group labels and its URL as details");
      left_out("entity", "promwatch has no entity");
      left_out("actions", "promwatch has no actions");
      left_out("note", "promwatch sets its own note on close");
      left_out("update_alerts", "promwatch updates by alias as Opsgenie does");
    } else if (type == "pushover") {
      for (const char* k : {"user_key", "token"}) {
        handled.insert(k);
        handled.insert(std::string(k) + "_file");
        emit_secret(keys, cfg, k, k, name, k);
      }
      text_key("title", "title");
      text_key("message", "text");
      plain_key("sound", "sound", cfg["sound"]);
      plain_key("device", "device", cfg["device"]);
      handled.insert("priority");
      std::string priority = cfg["priority"] ? str(cfg["priority"]) : "";
      // Alertmanager's default priority is 2 (emergency) while firing, 0 once resolved, which
      // is what promwatch's priority 2 does.
      const bool am_default = !cfg["priority"] || priority.find("{{ if eq .Status \"firing\" }}2{{ else }}0{{ end }}") != std::string::npos;
      if (am_default) priority = "2";
      if (priority == "-2" || priority == "-1" || priority == "0" || priority == "1" || priority == "2") {
        raw.push_back("priority = " + priority);
      } else {
        problems_.add(cfg["priority"], "receiver \"" + name + "\": pushover priority is a template; promwatch takes a fixed "
                                                              "-2..2 (2 is sent as 0 once resolved); not carried over");
      }
      for (const char* k : {"retry", "expire"}) {
        handled.insert(k);
        if (cfg[k] && priority == "2") keys.emplace_back(k, str(cfg[k]));
      }
      left_out("url", "promwatch links each push to global.external_url");
      left_out("url_title", "promwatch links each push to global.external_url");
      left_out("html", "promwatch sends plain text");
      left_out("monospace", "promwatch sends plain text");
      left_out("ttl", "promwatch has no ttl");
    } else if (type == "webex") {
      handled.insert("room_id");
      if (cfg["room_id"]) keys.emplace_back("room_id", str(cfg["room_id"]));
      if (const auto url = own_or_global("api_url", "webex_api_url")) {
        // Alertmanager's api_url is the messages endpoint; promwatch's is the API's base.
        std::string u = str(*url);
        if (u.ends_with("/messages")) u.resize(u.size() - std::string_view("messages").size());
        if (u != "https://webexapis.com/v1/") keys.emplace_back("api_url", u);
      }
      text_key("message", "text");
      // The bot token is http_config.authorization's credentials (below).
    } else if (type == "msteamsv2") {
      url_from("webhook_url");
      text_key("title", "title");
      text_key("text", "text");
    } else if (type == "rocketchat") {
      rocketchat(name, cfg, keys, handled);
    }
    for (const auto& [k, v] : keys) out_ += toml_key(k) + " = " + toml_text(v) + "\n";
    for (const auto& line : raw) out_ += line + "\n";
    std::string sr;
    if (cfg["send_resolved"]) {
      sr = str(cfg["send_resolved"]);
    } else {
      sr = kind.send_resolved ? "true" : "false";
    }
    out_ += "send_resolved = " + std::string(sr == "true" ? "true" : "false") + "\n";
    http_config(name, cfg["http_config"] ? cfg["http_config"] : (g ? g["http_config"] : YAML::Node()), type);
    if (type == "email" && cfg["tls_config"]) {
      handled.insert("tls_config");
      out_ += tls_table(name, cfg["tls_config"]) + "\n";
    }
    for (const auto& kv : cfg) {
      const std::string k = kv.first.Scalar();
      if (!handled.count(k)) {
        problems_.add(kv.first, "receiver \"" + name + "\": " + k + " (" + type + ") is not carried over");
      }
    }
    eol_comments(line_of(cfg) + 1, last_line(cfg) + 1);
  }

  // A title/text template as `toml`; one that only calls an Alertmanager built-in template is
  // left to promwatch's own default for `type` (noted).
  void template_key(const std::string& name, const std::string& type, const YAML::Node& cfg, const std::string& yaml_key,
                    const std::string& toml, Entries& keys, std::set<std::string>& handled) {
    handled.insert(yaml_key);
    if (!cfg[yaml_key]) return;
    const std::string v = str(cfg[yaml_key]);
    if (uses_builtin_template(v)) {
      problems_.note(cfg[yaml_key], "receiver \"" + name + "\": " + yaml_key +
                                        " uses an Alertmanager built-in template; promwatch's own default for " + type +
                                        " is used instead");
      return;
    }
    keys.emplace_back(toml, v);
  }

  // A key of an integration's config, else its global default (`smtp_from` for email's
  // `from`); nullopt when neither is set.
  std::optional<YAML::Node> setting(const YAML::Node& cfg, const std::string& key, const std::string& global_key) const {
    const YAML::Node& g = global_;
    if (cfg[key]) return cfg[key];
    if (g && g[global_key]) return g[global_key];
    return std::nullopt;
  }

  // email_configs (with the global smtp_* defaults) to promwatch's email keys.
  void email(const std::string& name, const YAML::Node& cfg, Entries& keys, std::vector<std::string>& raw,
             std::set<std::string>& handled) {
    const YAML::Node& g = global_;
    auto pick = [&](const std::string& key, const std::string& global_key) {
      handled.insert(key);
      return setting(cfg, key, global_key);
    };
    if (const auto v = pick("smarthost", "smtp_smarthost")) keys.emplace_back("smarthost", str(*v));
    else problems_.add(cfg, "receiver \"" + name + "\": email without smarthost (nor global.smtp_smarthost)");
    if (const auto v = pick("from", "smtp_from")) keys.emplace_back("from", str(*v));
    else problems_.add(cfg, "receiver \"" + name + "\": email without from (nor global.smtp_from)");
    handled.insert("to");
    if (cfg["to"]) {
      const std::string to = str(cfg["to"]);
      if (to.find("{{") != std::string::npos) problems_.add(cfg["to"], "receiver \"" + name + "\": to is a template; not carried over");
      else raw.push_back("to = " + toml_string_array(split_commas(to)));
    }
    if (const auto v = pick("hello", "smtp_hello")) {
      if (str(*v) != "localhost") keys.emplace_back("hello", str(*v));
    }
    if (const auto v = pick("auth_username", "smtp_auth_username")) keys.emplace_back("auth_username", str(*v));
    handled.insert("auth_password");
    handled.insert("auth_password_file");
    if (cfg["auth_password"] || cfg["auth_password_file"]) {
      emit_secret(keys, cfg, "auth_password", "auth_password", name, "auth_password");
    } else if (g && (g["smtp_auth_password"] || g["smtp_auth_password_file"])) {
      emit_secret(keys, g, "smtp_auth_password", "auth_password", name, "auth_password");
    }
    for (const char* k : {"auth_secret", "auth_secret_file"}) {
      handled.insert(k);
      if (cfg[k]) problems_.add(cfg[k], "receiver \"" + name + "\": " + k + " (CRAM-MD5) is not carried over: promwatch logs in with PLAIN or LOGIN");
    }
    handled.insert("auth_identity");
    if (cfg["auth_identity"] && cfg["auth_username"] && str(cfg["auth_identity"]) != str(cfg["auth_username"])) {
      problems_.add(cfg["auth_identity"], "receiver \"" + name + "\": auth_identity is not carried over: promwatch logs in as auth_username");
    }
    if (const auto v = pick("require_tls", "smtp_require_tls")) {
      raw.push_back(std::string("require_tls = ") + (str(*v) == "false" ? "false" : "true"));
    }
    template_key(name, "email", cfg, "text", "text", keys, handled);
    template_key(name, "email", cfg, "html", "html", keys, handled);
    handled.insert("headers");
    if (cfg["headers"] && cfg["headers"].IsMap()) {
      Entries headers;
      for (const auto& h : cfg["headers"]) {
        const std::string k = h.first.Scalar();
        const std::string v = str(h.second);
        const bool lower_subject = k == "Subject" || k == "subject";
        if (lower_subject) {
          if (uses_builtin_template(v)) continue;  // promwatch's default title
          keys.emplace_back("title", v);
        } else if (v.find("{{") != std::string::npos) {
          problems_.add(h.first, "receiver \"" + name + "\": header " + k + " is a template; promwatch's headers are fixed; not carried over");
        } else {
          headers.emplace_back(k, v);
        }
      }
      if (!headers.empty()) raw.push_back("headers = " + toml_inline_table(headers));
    }
  }

  // rocketchat_configs: Alertmanager posts through Rocket.Chat's REST API (chat.postMessage with
  // token_id/token), which promwatch's rocketchat receiver speaks too.
  void rocketchat(const std::string& name, const YAML::Node& cfg, Entries& keys, std::set<std::string>& handled) {
    const YAML::Node& g = global_;
    handled.insert("api_url");
    const auto api_url = setting(cfg, "api_url", "rocketchat_api_url");
    keys.emplace_back("api_url", api_url ? str(*api_url) : "https://open.rocket.chat");
    for (const char* k : {"token_id", "token"}) {
      const std::string key = k;
      handled.insert(key);
      handled.insert(key + "_file");
      if (cfg[key] || cfg[key + "_file"]) {
        emit_secret(keys, cfg, key, key, name, key);
      } else if (g && (g["rocketchat_" + key] || g["rocketchat_" + key + "_file"])) {
        emit_secret(keys, g, "rocketchat_" + key, key, name, key);
      } else {
        problems_.add(cfg, "receiver \"" + name + "\": rocketchat without " + key + " (nor global.rocketchat_" + key + ")");
      }
    }
    const std::string channel = cfg["channel"] ? str(cfg["channel"]) : "";
    handled.insert("channel");
    if (!channel.empty()) keys.emplace_back("channel", channel);
    handled.insert("emoji");
    handled.insert("icon_url");
    if (cfg["emoji"]) keys.emplace_back("emoji", str(cfg["emoji"]));
    else if (cfg["icon_url"]) keys.emplace_back("avatar", str(cfg["icon_url"]));
    template_key(name, "rocketchat", cfg, "title", "title", keys, handled);
    template_key(name, "rocketchat", cfg, "text", "text", keys, handled);
    for (const char* k : {"color", "title_link", "fields", "short_fields", "image_url", "thumb_url", "link_names", "actions"}) {
      handled.insert(k);
      if (cfg[k]) {
        problems_.add(cfg[k], "receiver \"" + name + "\": rocketchat " + k +
                                  " is not carried over: promwatch sends its own attachment (red/green, a link to promwatch)");
      }
    }
  }

  std::string tls_table(const std::string& name, const YAML::Node& v) {
    std::vector<std::string> parts;
    for (const auto& t : v) {
      const std::string tk = t.first.Scalar();
      if (tk == "insecure_skip_verify") {
        parts.push_back(tk + " = " + (str(t.second) == "true" ? "true" : "false"));
      } else if (tk == "ca_file" || tk == "cert_file" || tk == "key_file" || tk == "server_name") {
        parts.push_back(tk + " = " + toml_string(str(t.second)));
      } else {
        problems_.add(t.first, "receiver \"" + name + "\": tls_config." + tk + " is not carried over");
      }
    }
    std::string s = "tls = { ";
    for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
    return s + " }";
  }

  void http_config(const std::string& name, const YAML::Node& h, const std::string& type) {
    if (!h || !h.IsMap()) return;
    std::set<std::string> written;  // TOML keys: bearer_token and authorization both become `authorization`
    for (const auto& kv : h) {
      const std::string k = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      static const std::map<std::string, std::string> toml_name = {
          {"basic_auth", "basic_auth"},       {"authorization", "authorization"}, {"bearer_token", "authorization"},
          {"bearer_token_file", "authorization"}, {"tls_config", "tls"},         {"proxy_url", "proxy_url"}};
      if (auto it = toml_name.find(k); it != toml_name.end() && !written.insert(it->second).second) {
        if (k != "bearer_token_file" || !h["bearer_token"]) {
          problems_.add(kv.first, "receiver \"" + name + "\": http_config." + k + " conflicts with an earlier key; not carried over");
        }
        continue;
      }
      if (k == "basic_auth") {
        Entries e;
        if (v["username"]) e.emplace_back("username", str(v["username"]));
        emit_secret(e, v, "password", "password", name, "password");
        out_ += "basic_auth = " + toml_inline_table(e) + "\n";
      } else if (k == "authorization" && type == "webex") {
        // Alertmanager's webex receiver sends the bot token as the authorization credentials.
        Entries e;
        emit_secret(e, v, "credentials", "bot_token", name, "bot_token");
        for (const auto& [key, value] : e) out_ += key + " = " + toml_string(value) + "\n";
      } else if (k == "authorization") {
        Entries e;
        if (v["type"]) e.emplace_back("type", str(v["type"]));
        emit_secret(e, v, "credentials", "credentials", name, "credentials");
        out_ += "authorization = " + toml_inline_table(e) + "\n";
      } else if (k == "bearer_token" || k == "bearer_token_file") {
        Entries e;
        emit_secret(e, h, "bearer_token", "credentials", name, "credentials");
        out_ += "authorization = " + toml_inline_table(e) + "\n";
      } else if (k == "tls_config") {
        out_ += tls_table(name, v) + "\n";
      } else if (k == "proxy_url") {
        out_ += "proxy_url = " + toml_string(str(v)) + "\n";
      } else if (k == "follow_redirects") {
        problems_.note(kv.first, "receiver \"" + name + "\": http_config.follow_redirects: promwatch never follows redirects for receivers");
      } else if (k == "enable_http2") {
        // libcurl negotiates HTTP/2 by itself.
      } else {
        problems_.add(kv.first, "receiver \"" + name + "\": http_config." + k + " is not carried over");
      }
    }
  }

  // Matchers of a route or inhibit rule: `matchers` strings plus the old `match`/`match_re`.
  std::vector<std::string> matchers(const YAML::Node& node, const std::string& list_key, const std::string& eq_key,
                                    const std::string& re_key, const std::string& where) {
    std::vector<std::string> out;
    auto add = [&](const YAML::Node& at, std::optional<Matcher> m, const std::string& err, const std::string& text) {
      if (m) {
        out.push_back(m->to_string());
      } else {
        problems_.add(at, where + ": matcher \"" + text + "\": " + err + "; not carried over");
      }
    };
    if (const YAML::Node list = node[list_key]) {
      std::vector<std::string> items;
      if (!string_list(list, items)) problems_.add(list, where + ": " + list_key + " must be a list of strings");
      for (const auto& item : items) {
        for (const auto& one : split_matchers(item)) {
          std::string err;
          add(list, Matcher::parse(one, &err), err, one);
        }
      }
    }
    for (const auto& [key, type] : {std::pair{eq_key, MatchType::Equal}, std::pair{re_key, MatchType::Regex}}) {
      const YAML::Node m = node[key];
      if (!m) continue;
      if (!m.IsMap()) {
        problems_.add(m, where + ": " + key + " must be a map of label to value");
        continue;
      }
      for (const auto& kv : m) {
        std::string err;
        const std::string label = kv.first.Scalar(), value = str(kv.second);
        add(kv.first, Matcher::make(type, label, value, &err), err, label);
      }
    }
    return out;
  }

  // `inherited` is the receiver the parent route uses (empty at the root).
  void route(const YAML::Node& r, int depth, const std::string& inherited = {}) {
    std::string header = "route";
    for (int i = 0; i < depth; ++i) header += ".routes";
    comments_before(r);
    const std::string where = depth == 0 ? "route" : "route at line " + std::to_string(line_of(r));
    static const std::set<std::string> known = {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval",
                                                "continue", "matchers", "match", "match_re", "mute_time_intervals",
                                                "active_time_intervals", "routes"};
    for (const auto& kv : r) {
      if (!known.count(kv.first.Scalar())) {
        problems_.add(kv.first, where + ": unknown key \"" + kv.first.Scalar() + "\"; not carried over");
      }
    }
    const std::string receiver = r["receiver"] ? str(r["receiver"]) : inherited;
    const bool drops = null_receivers_.count(receiver) > 0;
    if (drops && depth == 0) {
      problems_.add(r["receiver"] ? r["receiver"] : r, "the root route's receiver \"" + receiver +
                                                           "\" has no integrations; promwatch needs a receiver it can send to at the root");
    }
    const YAML::Node children = r["routes"];
    const bool has_children = children && children.IsSequence() && children.size() > 0;
    std::vector<std::string> targets{receiver};
    if (auto it = receiver_targets_.find(receiver); it != receiver_targets_.end() && !it->second.empty()) targets = it->second;
    // A leaf route to a receiver with several integrations becomes one sibling per receiver,
    // all but the last with continue = true: each notifies, in the same groups.
    const bool split = targets.size() > 1 && depth > 0 && !has_children;
    if (targets.size() > 1 && !split) {
      problems_.add(r, where + ": only \"" + targets[0] + "\" of receiver \"" + receiver + "\"'s " +
                           std::to_string(targets.size()) + " integrations is notified by this route (" +
                           (depth == 0 ? "the root route" : "a route with child routes") + " cannot be repeated)");
    }

    std::string body;
    if (r["group_by"]) {
      std::vector<std::string> g;
      if (string_list(r["group_by"], g)) {
        body += "group_by = " + toml_string_array(g) + "\n";
      } else {
        problems_.add(r["group_by"], where + ": group_by must be a list of label names");
      }
    }
    for (const char* k : {"group_wait", "group_interval", "repeat_interval"}) {
      if (r[k]) body += std::string(k) + " = " + toml_string(str(r[k])) + "\n";
    }
    const auto m = matchers(r, "matchers", "match", "match_re", where);
    if (!m.empty()) {
      if (depth == 0) {
        problems_.add(r, "the root route matches every alert; its matchers are not carried over");
      } else {
        body += "matchers = " + toml_string_array(m) + "\n";
      }
    }
    const bool continues = r["continue"] && str(r["continue"]) == "true";
    std::string intervals;
    if (drops && depth > 0) {
      // Active only in an interval that never comes: matched like the original route (so
      // later siblings are not tried), never notified.
      intervals += "active_time_intervals = [" + toml_string(kNeverInterval) + "]\n";
      need_never_ = true;
    } else {
      for (const char* k : {"mute_time_intervals", "active_time_intervals"}) {
        std::vector<std::string> names;
        if (r[k] && string_list(r[k], names) && !names.empty()) intervals += std::string(k) + " = " + toml_string_array(names) + "\n";
      }
    }

    const std::size_t copies = split ? targets.size() : 1;
    for (std::size_t k = 0; k < copies; ++k) {
      if (k > 0) out_ += "\n";
      out_ += depth == 0 ? "[route]\n" : "[[" + header + "]]\n";
      if (split) {
        out_ += "receiver = " + toml_string(targets[k]) + "\n";
      } else if (r["receiver"] && !(drops && depth > 0)) {
        out_ += "receiver = " + toml_string(receiver) + "\n";
      }
      out_ += body;
      if ((split && k + 1 < copies) || continues) out_ += "continue = true\n";
      out_ += intervals;
    }
    eol_comments(line_of(r) + 1, has_children ? line_of(children[0]) : last_line(r) + 1);
    if (has_children) {
      for (const auto& c : children) {
        out_ += "\n";
        route(c, depth + 1, receiver);
      }
    }
  }

  void inhibit_rules(const YAML::Node& list) {
    if (!list || !list.IsSequence()) return;
    for (const auto& ir : list) {
      out_ += "\n";
      comments_before(ir);
      out_ += "[[inhibit_rules]]\n";
      const std::string where = "inhibit rule at line " + std::to_string(line_of(ir));
      out_ += "source_matchers = " +
              toml_string_array(matchers(ir, "source_matchers", "source_match", "source_match_re", where)) + "\n";
      out_ += "target_matchers = " +
              toml_string_array(matchers(ir, "target_matchers", "target_match", "target_match_re", where)) + "\n";
      std::vector<std::string> equal;
      if (ir["equal"] && string_list(ir["equal"], equal)) out_ += "equal = " + toml_string_array(equal) + "\n";
      for (const auto& kv : ir) {
        static const std::set<std::string> known = {"source_matchers", "source_match", "source_match_re", "target_matchers",
                                                    "target_match", "target_match_re", "equal"};
        if (!known.count(kv.first.Scalar())) {
          problems_.add(kv.first, where + ": unknown key \"" + kv.first.Scalar() + "\"; not carried over");
        }
      }
      eol_comments(line_of(ir) + 1, last_line(ir) + 1);
    }
  }

  Problems problems_;
  CommentIndex comments_;
  AlertmanagerImportOptions options_;
  std::string out_;
  std::vector<ImportedSecret> secrets_;
  std::set<std::string> used_paths_;
  std::set<std::string> null_receivers_;
  std::map<std::string, std::vector<std::string>> receiver_targets_;  // Alertmanager receiver -> promwatch receivers
  bool need_never_ = false;
  YAML::Node global_;
};

}  // namespace

AlertmanagerImport import_alertmanager(const std::string& path, std::string_view yaml_text,
                                       const AlertmanagerImportOptions& options) {
  return AlertmanagerConverter(path, yaml_text, options).run(yaml_text);
}

}  // namespace promwatch
