// `promwatch import rules`: Prometheus rule files and PrometheusRule resources to SPEC §3 TOML.

#include <algorithm>
#include <set>

#include "promwatch/import.hpp"
#include "toml_writer.hpp"
#include "yaml_source.hpp"

namespace promwatch {

std::string ImportProblem::to_string() const {
  const std::string text = left_out ? reason : "note: " + reason;
  return line > 0 ? file + ":" + std::to_string(line) + ": " + text : file + ": " + text;
}

namespace {

using namespace import_detail;

// Ordered key/value pairs of a YAML map of strings (labels, annotations).
bool string_map(const YAML::Node& node, std::vector<std::pair<std::string, std::string>>& out, Problems& problems,
                const std::string& what) {
  out.clear();
  if (!node || node.IsNull()) return true;
  if (!node.IsMap()) {
    problems.add(node, what + ": expected a map of strings; not carried over");
    return false;
  }
  for (const auto& kv : node) {
    std::string k, v;
    if (!scalar(kv.first, k) || !scalar(kv.second, v)) {
      problems.add(kv.first, what + "." + k + ": expected a string value; not carried over");
      continue;
    }
    if (std::any_of(out.begin(), out.end(), [&](const auto& e) { return e.first == k; })) {
      problems.add(kv.first, what + "." + k + ": defined twice (Prometheus refuses it); the second is not carried over");
      continue;
    }
    out.emplace_back(k, v);
  }
  return true;
}

// Group keys of Thanos, Cortex/Mimir and vmalert rule files, and what to do instead.
std::string group_key_hint(const std::string& key) {
  if (key == "partial_response_strategy") return "a Thanos extension with no promwatch equivalent";
  if (key == "source_tenants") return "a Cortex/Mimir extension; send the tenant with datasource.headers (X-Scope-OrgID)";
  if (key == "evaluation_delay" || key == "eval_delay") return "use query_offset (Prometheus's name for the same delay)";
  if (key == "eval_offset" || key == "eval_alignment" || key == "align_evaluation_time_on_interval") {
    return "promwatch aligns evaluations to the interval with a fixed per-group offset";
  }
  if (key == "params") return "extra query parameters are datasource.query_params, for every group";
  if (key == "headers") return "request headers are datasource.headers, for every group";
  if (key == "tenant") return "send the tenant with datasource.headers or query_params";
  if (key == "type") return "only PromQL (type: prometheus) rules can be carried over";
  return {};
}

void emit_comments(std::string& out, const std::vector<std::string>& comments) {
  for (const auto& c : comments) out += c.empty() ? "#\n" : "# " + c + "\n";
}

// A map written as `key = { ... }` when short, else as its own sub-table after the scalar keys.
void emit_map(std::string& out, const std::string& header, const std::string& key,
              const std::vector<std::pair<std::string, std::string>>& entries, bool prefer_table) {
  if (entries.empty()) return;
  if (!prefer_table && fits_inline(entries)) {
    out += key + " = " + toml_inline_table(entries) + "\n";
    return;
  }
  out += "[" + header + "." + key + "]\n";
  for (const auto& [k, v] : entries) out += toml_key(k) + " = " + toml_text(v) + "\n";
}

class RuleFileConverter {
 public:
  RuleFileConverter(const std::string& path, std::string_view text) : problems_(path), comments_(text) {}

  RulesImport run(std::string_view text) {
    int bad_line = 0;
    if (std::string why = unreadable_reason(text, &bad_line); !why.empty()) {
      problems_.add(bad_line, why);
      RulesImport r;  // not even the comments: TOML must be UTF-8 without control characters
      r.problems = std::move(problems_.sorted());
      return r;
    }
    std::vector<YAML::Node> docs;
    try {
      docs = load_documents(text);
      bool any = false;
      for (const auto& doc : docs) {
        if (!doc || doc.IsNull()) continue;
        any = true;
        document(doc);
      }
      if (!any) problems_.add(0, "no rule groups found; nothing carried over");
    } catch (const YAML::Exception& e) {
      // Parse errors, and structures the walk did not expect (a subscript of a scalar).
      problems_.add(e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg + "; nothing more carried over");
    }
    return finish();
  }



 private:
  RulesImport finish() {
    RulesImport r;
    // Comments after the last rule still belong to the file.
    emit_comments(out_, comments_.take(1, 1 << 30));
    // yaml-cpp decodes escapes like "\xff" to bytes that are not UTF-8; TOML must be UTF-8.
    if (invalid_utf8_at(out_) != std::string::npos) {
      problems_.add(0, "a string is not valid UTF-8 after decoding its YAML escapes; the bad bytes became U+FFFD");
      out_ = valid_utf8(out_);
    }
    r.toml = std::move(out_);
    r.problems = std::move(problems_.sorted());
    r.groups = std::move(groups_);
    return r;
  }

  void document(const YAML::Node& doc) {
    if (!doc.IsMap()) {
      problems_.add(doc, "expected a map with `groups` (a rule file) or a PrometheusRule resource");
      return;
    }
    if (doc["kind"]) {
      std::string kind;
      scalar(doc["kind"], kind);
      if (kind == "List" && doc["items"] && doc["items"].IsSequence()) {
        for (const auto& item : doc["items"]) document(item);
        return;
      }
      if (kind != "PrometheusRule") {
        problems_.note(doc["kind"], "a Kubernetes " + kind + " resource, not a PrometheusRule; skipped");
        return;
      }
      const YAML::Node spec = doc["spec"];
      if (!spec || !spec.IsMap() || !spec["groups"]) {
        problems_.add(doc, "PrometheusRule without spec.groups; nothing carried over");
        return;
      }
      for (const auto& kv : spec) {
        if (kv.first.Scalar() != "groups") problems_.add(kv.first, "spec." + kv.first.Scalar() + ": not carried over");
      }
      groups(spec["groups"]);
      return;
    }
    for (const auto& kv : doc) {
      if (kv.first.Scalar() != "groups") {
        problems_.add(kv.first, "unknown top-level key \"" + kv.first.Scalar() + "\" (Prometheus rejects it too); not carried over");
      }
    }
    if (!doc["groups"]) {
      problems_.add(doc, "no `groups` key; nothing carried over");
      return;
    }
    groups(doc["groups"]);
  }

  void groups(const YAML::Node& list) {
    if (list.IsNull()) return;
    if (!list.IsSequence()) {
      problems_.add(list, "groups: expected a list of groups; nothing carried over");
      return;
    }
    for (const auto& g : list) group(g);
  }

  // A plain scalar value, or a problem naming the key.
  bool value(const YAML::Node& node, const std::string& key, std::string& out) {
    if (scalar(node, out)) return true;
    problems_.add(node, key + ": expected a single value; not carried over");
    return false;
  }

  void group(const YAML::Node& g) {
    if (!g.IsMap()) {
      problems_.add(g, "a group must be a map with `name` and `rules`; skipped");
      return;
    }
    const int line = line_of(g);
    std::string name;
    if (!g["name"] || !value(g["name"], "name", name) || name.empty()) {
      problems_.add(g, "group without a name; skipped");
      return;
    }
    if (!out_.empty()) out_ += "\n";
    emit_comments(out_, comments_.take(last_line_, line + 1));
    out_ += "[[groups]]\n";
    out_ += "name = " + toml_string(name) + "\n";
    groups_.push_back({name, line});
    std::vector<std::pair<std::string, std::string>> labels;
    std::set<std::string> seen;
    for (const auto& kv : g) {
      const std::string key = kv.first.Scalar();
      std::string v;
      if (!seen.insert(key).second) {
        problems_.add(kv.first, "group \"" + name + "\": " + key + " defined twice (Prometheus refuses it); the second is not carried over");
        continue;
      }
      if (key == "name" || key == "rules") continue;
      if (key == "interval" || key == "query_offset") {
        if (value(kv.second, key, v) && !v.empty()) out_ += key + " = " + toml_string(v) + "\n";
      } else if (key == "limit") {
        if (!value(kv.second, key, v)) continue;
        if (!is_toml_integer(v) || v.front() == '-') {
          problems_.add(kv.second, "limit: expected a non-negative integer, got \"" + v + "\"; not carried over");
        } else if (v != "0") {
          out_ += "limit = " + v + "\n";
        }
      } else if (key == "labels") {
        string_map(kv.second, labels, problems_, "labels");
      } else if (key == "concurrency" || key == "debug" || (key == "type" && scalar(kv.second, v) && v == "prometheus")) {
        problems_.note(kv.first, "group \"" + name + "\": vmalert's " + key + " is not needed");
      } else if (key == "eval_delay" && !g["query_offset"]) {
        // vmalert's eval_delay shifts the query time back as Prometheus's query_offset does.
        if (value(kv.second, key, v) && !v.empty()) out_ += "query_offset = " + toml_string(v) + "\n";
        problems_.note(kv.first, "group \"" + name + "\": vmalert's eval_delay carried over as query_offset");
      } else if (auto hint = group_key_hint(key); !hint.empty()) {
        problems_.add(kv.first, "group \"" + name + "\": " + key + " not carried over: " + hint);
      } else {
        problems_.add(kv.first, "group \"" + name + "\": unknown key \"" + key + "\"; not carried over");
      }
    }
    emit_map(out_, "groups", "labels", labels, false);
    last_line_ = line + 1;
    const YAML::Node rules = g["rules"];
    if (rules && !rules.IsNull()) {
      if (!rules.IsSequence()) {
        problems_.add(rules, "group \"" + name + "\": rules must be a list; not carried over");
      } else {
        for (const auto& r : rules) rule(r, name);
      }
    }
  }

  void rule(const YAML::Node& r, const std::string& group) {
    const int line = line_of(r);
    if (!r.IsMap()) {
      problems_.add(r, "group \"" + group + "\": a rule must be a map; skipped");
      return;
    }
    std::string alert, record, expr;
    const bool has_alert = r["alert"] && value(r["alert"], "alert", alert);
    const bool has_record = r["record"] && value(r["record"], "record", record);
    if (has_alert && has_record) {
      problems_.add(r, "rule has both `alert` and `record` (Prometheus rejects it); skipped");
      return;
    }
    if (has_record) {
      recording_rule(r, record, line);
      return;
    }
    if (!has_alert || alert.empty()) {
      problems_.add(r, "group \"" + group + "\": rule without `alert` (or with an empty one); skipped");
      return;
    }
    if (!r["expr"] || !value(r["expr"], "expr", expr) || expr.empty()) {
      problems_.add(r, "alert \"" + alert + "\": no `expr`; skipped");
      return;
    }
    out_ += "\n";
    emit_comments(out_, comments_.take(last_line_, line + 1));
    out_ += "[[groups.rules]]\n";
    out_ += "alert = " + toml_string(alert) + "\n";
    out_ += "expr = " + toml_text(expr) + "\n";
    std::vector<std::pair<std::string, std::string>> labels, annotations;
    std::set<std::string> seen;
    for (const auto& kv : r) {
      const std::string key = kv.first.Scalar();
      std::string v;
      if (!seen.insert(key).second) {
        problems_.add(kv.first, "alert \"" + alert + "\": " + key + " defined twice (Prometheus refuses it); the second is not carried over");
        continue;
      }
      if (key == "alert" || key == "expr") continue;
      if (key == "for" || key == "keep_firing_for") {
        if (value(kv.second, key, v) && !v.empty()) out_ += key + " = " + toml_string(v) + "\n";
      } else if (key == "labels") {
        string_map(kv.second, labels, problems_, "alert \"" + alert + "\": labels");
      } else if (key == "annotations") {
        string_map(kv.second, annotations, problems_, "alert \"" + alert + "\": annotations");
      } else if (key == "debug" || key == "update_entries_limit") {
        problems_.note(kv.first, "alert \"" + alert + "\": vmalert's " + key + " is not carried over (promwatch eval prints each result)");
      } else {
        problems_.add(kv.first, "alert \"" + alert + "\": unknown key \"" + key + "\"; not carried over");
      }
    }
    // Comments inside the rule (before `expr:`, between labels) follow its scalar keys, in
    // order: the keys are written in a fixed order, so a comment cannot stay next to its key.
    const int next = rule_end(r);
    std::vector<std::string> inner = comments_.take(line + 1, next);
    emit_comments(out_, inner);
    emit_map(out_, "groups.rules", "labels", labels, false);
    emit_map(out_, "groups.rules", "annotations", annotations, true);
    last_line_ = next;
  }

  // A recording rule stays one (SPEC §3): record, expr and static labels. Its results are
  // written through [remote_write], which the main config then needs (`check` says so).
  void recording_rule(const YAML::Node& r, const std::string& record, int line) {
    const std::string what = "recording rule \"" + record + "\"";
    std::string expr;
    if (record.empty() || !r["expr"] || !value(r["expr"], "expr", expr) || expr.empty()) {
      problems_.add(r, record.empty() ? std::string("recording rule with an empty `record`; skipped") : what + ": no `expr`; skipped");
      return;
    }
    out_ += "\n";
    emit_comments(out_, comments_.take(last_line_, line + 1));
    out_ += "[[groups.rules]]\n";
    out_ += "record = " + toml_string(record) + "\n";
    out_ += "expr = " + toml_text(expr) + "\n";
    std::vector<std::pair<std::string, std::string>> labels;
    std::set<std::string> seen;
    for (const auto& kv : r) {
      const std::string key = kv.first.Scalar();
      if (!seen.insert(key).second) {
        problems_.add(kv.first, what + ": " + key + " defined twice (Prometheus refuses it); the second is not carried over");
        continue;
      }
      if (key == "record" || key == "expr") continue;
      if (key == "labels") {
        string_map(kv.second, labels, problems_, what + ": labels");
      } else if (key == "for" || key == "keep_firing_for" || key == "annotations") {
        problems_.add(kv.first, what + ": `" + key + "` is not valid in a recording rule (Prometheus refuses it); not carried over");
      } else {
        problems_.add(kv.first, what + ": unknown key \"" + key + "\"; not carried over");
      }
    }
    const int next = rule_end(r);
    emit_comments(out_, comments_.take(line + 1, next));
    emit_map(out_, "groups.rules", "labels", labels, false);
    last_line_ = next;
  }

  // The first line after a rule's own lines.
  static int rule_end(const YAML::Node& node) { return last_line(node) + 1; }

  Problems problems_;
  CommentIndex comments_;
  std::string out_;
  std::vector<ImportedGroup> groups_;
  int last_line_ = 1;
};

}  // namespace

RulesImport import_rule_file(const std::string& path, std::string_view yaml_text) {
  return RuleFileConverter(path, yaml_text).run(yaml_text);
}

}  // namespace promwatch
