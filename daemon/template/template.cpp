// The public face of the template engine (include/promwatch/template.hpp): compiling, the
// shared definition library, and the two kinds of data — Prometheus's alert data and
// Alertmanager's notification data — turned into template values.

#include "promwatch/template.hpp"

#include <algorithm>

#include "ast.hpp"
#include "exec.hpp"

namespace promwatch {

using namespace tmpl;

namespace {

// What Prometheus prepends to every alert label/annotation template (rules/alerting.go).
constexpr std::string_view kAlertPrelude =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

const std::vector<std::string>& alert_vars() {
  static const std::vector<std::string> v = {"$labels", "$externalLabels", "$externalURL", "$value"};
  return v;
}

TemplateError to_template_error(const std::string& source, const ParseError& e) {
  auto [line, col] = line_col(source, e.pos);
  return TemplateError{line, col, e.message};
}

// Every {{template "x"}} must name a definition we have: Go would fail at run time, but we
// compile at load time so that `promwatch check` reports it.
bool check_calls(const NodeList& list, const TreeMap& local, const TreeMap* library, int* pos, std::string* name) {
  for (const auto& n : list) {
    if (n->k == Node::K::Template && !local.count(n->text) && !(library && library->count(n->text))) {
      *pos = n->pos;
      *name = n->text;
      return false;
    }
    if (!check_calls(n->list, local, library, pos, name) || !check_calls(n->else_list, local, library, pos, name))
      return false;
  }
  return true;
}

// Does evaluating these nodes call `query`, or `tmpl` (whose target is chosen at run time)?
// Names of the definitions they call go to `*calls`.
struct QueryScan {
  bool query = false;
  bool tmpl = false;
  std::vector<std::string> calls;

  void pipe(const Pipe* p) {
    if (!p) return;
    for (const Cmd& c : p->cmds)
      for (const Arg& a : c.args) arg(a);
  }
  void arg(const Arg& a) {
    if (a.k == Arg::K::Func) {
      if (a.name == "query") query = true;
      if (a.name == "tmpl") tmpl = true;
    }
    if (a.k == Arg::K::SubPipe) pipe(a.pipe.get());
  }
  void nodes(const NodeList& list) {
    for (const auto& n : list) {
      pipe(n->pipe.get());
      if (n->k == Node::K::Template) calls.push_back(n->text);
      nodes(n->list);
      nodes(n->else_list);
    }
  }
};

// True when rendering `main` may reach `query`: directly, through the definitions it calls
// (transitively), or through `tmpl`, after which any definition may run.
bool reaches_query(const Tree& main, const TreeMap& local, const TreeMap* library) {
  QueryScan scan;
  scan.nodes(main.root);
  std::vector<std::string> seen;
  while (!scan.query && !scan.tmpl && !scan.calls.empty()) {
    std::string name = std::move(scan.calls.back());
    scan.calls.pop_back();
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    auto it = local.find(name);
    if (it != local.end()) {
      scan.nodes(it->second->root);
    } else if (library) {
      if (auto lit = library->find(name); lit != library->end()) scan.nodes(lit->second->root);
    }
  }
  if (scan.query) return true;
  if (!scan.tmpl) return false;
  for (const auto& [name, tree] : local) scan.nodes(tree->root);
  if (library)
    for (const auto& [name, tree] : *library) scan.nodes(tree->root);
  return scan.query;
}

Value string_map(const Labels& labels, Type type) {
  ValueMap m;
  m.reserve(labels.size());
  for (const auto& l : labels) m.emplace_back(l.name, Value::string(l.value));
  return Value::map_of(std::move(m), type);
}

Value go_time(TimePoint t, bool epoch_is_zero) {
  std::int64_t ms = t.time_since_epoch().count();
  if (epoch_is_zero && ms == 0) return Value::time(GoTime{kGoZeroTimeSec, 0, nullptr});
  std::int64_t sec = ms / 1000, rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --sec;
  }
  return Value::time(GoTime{sec, static_cast<std::int32_t>(rem * 1000000), nullptr});
}

}  // namespace

struct TemplateLibrary::Impl {
  TreeMap defines;
};

TemplateLibrary::TemplateLibrary() : impl_(std::make_shared<Impl>()) {}
TemplateLibrary::~TemplateLibrary() = default;
TemplateLibrary::TemplateLibrary(const TemplateLibrary&) = default;
TemplateLibrary& TemplateLibrary::operator=(const TemplateLibrary&) = default;

bool TemplateLibrary::add(std::string_view name, std::string_view text, TemplateError* error) {
  auto source = std::make_shared<const std::string>(text);
  TreeMap defines;
  std::shared_ptr<const Tree> main;
  ParseError pe;
  if (!parse_template(std::string(name), source, {}, &main, &defines, &pe)) {
    if (error) *error = to_template_error(*source, pe);
    return false;
  }
  // Copy on write: templates compiled earlier keep the definitions they were compiled with.
  auto next = std::make_shared<Impl>(*impl_);
  for (auto& [k, v] : defines) next->defines[k] = v;
  impl_ = std::move(next);
  return true;
}

struct Template::Impl {
  std::string name;
  std::string text;
  std::shared_ptr<const Tree> main;
  TreeMap defines;
  std::shared_ptr<const TemplateLibrary::Impl> library;
  bool literal = false;
  bool uses_query = false;
};

std::optional<Template> Template::compile(std::string_view name, std::string_view text, TemplateError* error,
                                          const TemplateLibrary* library) {
  auto impl = std::make_shared<Impl>();
  impl->name = std::string(name);
  impl->text = std::string(text);
  impl->literal = text.find("{{") == std::string_view::npos;
  if (library) impl->library = library->impl_;
  auto source = std::make_shared<const std::string>(text);
  ParseError pe;
  if (!parse_template(impl->name, source, alert_vars(), &impl->main, &impl->defines, &pe)) {
    if (error) *error = to_template_error(*source, pe);
    return std::nullopt;
  }
  int pos = 0;
  std::string missing;
  const TreeMap* lib = impl->library ? &impl->library->defines : nullptr;
  bool ok = check_calls(impl->main->root, impl->defines, lib, &pos, &missing);
  for (const auto& [k, tree] : impl->defines)
    if (ok && tree->source == source) ok = check_calls(tree->root, impl->defines, lib, &pos, &missing);
  if (!ok) {
    if (error) *error = to_template_error(*source, ParseError{pos, "template \"" + missing + "\" not defined"});
    return std::nullopt;
  }
  impl->uses_query = reaches_query(*impl->main, impl->defines, lib);
  Template t;
  t.impl_ = std::move(impl);
  return t;
}

std::string Template::render_alert(const AlertTemplateData& data) const {
  if (impl_->literal) return impl_->text;
  auto obj = std::make_shared<Object>();
  obj->type_name =
      "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }";
  obj->names = {"Labels", "ExternalLabels", "ExternalURL", "Value"};
  obj->json_names = obj->names;
  obj->values = {string_map(data.labels, Type::StringMap), string_map(data.external_labels, Type::StringMap),
                 Value::string(std::string(data.external_url)), Value::number(data.value)};
  ExecInput in;
  in.main = impl_->main.get();
  in.local_defines = &impl_->defines;
  in.library_defines = impl_->library ? &impl_->library->defines : nullptr;
  in.ctx.mode = Mode::Alert;
  in.ctx.external_url = data.external_url;
  in.ctx.queries = data.queries;
  in.ctx.unanswered = data.unanswered;
  in.vars = {{"$labels", obj->values[0]},
             {"$externalLabels", obj->values[1]},
             {"$externalURL", obj->values[2]},
             {"$value", obj->values[3]}};
  in.dot = Value::object(obj);
  in.line1_col_offset = static_cast<int>(kAlertPrelude.size());
  in.main_name = &impl_->name;
  std::string out, err;
  if (!execute(in, &out, &err))
    return "<error expanding template: error executing template " + impl_->name + ": " + err + ">";
  return out;
}

std::string Template::render_notification(const NotificationTemplateData& data) const {
  if (impl_->literal) return impl_->text;
  ValueList alerts;
  alerts.reserve(data.alerts.size());
  for (const auto& a : data.alerts) {
    auto o = std::make_shared<Object>();
    o->type_name = "template.Alert";
    o->names = {"Status", "Labels", "Annotations", "StartsAt", "EndsAt", "GeneratorURL", "Fingerprint"};
    o->json_names = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"};
    o->values = {Value::string(a.status),
                 string_map(a.labels, Type::KV),
                 string_map(a.annotations, Type::KV),
                 go_time(a.starts_at, false),
                 go_time(a.ends_at, true),
                 Value::string(a.generator_url),
                 Value::string(a.fingerprint)};
    alerts.push_back(Value::object(std::move(o)));
  }
  auto obj = std::make_shared<Object>();
  obj->type_name = "*template.Data";
  obj->names = {"Receiver", "Status", "Alerts", "GroupLabels", "CommonLabels", "CommonAnnotations", "ExternalURL"};
  obj->json_names = {"receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL"};
  obj->values = {Value::string(data.receiver),
                 Value::string(data.status),
                 Value::list_of(std::move(alerts), Type::Alerts),
                 string_map(data.group_labels, Type::KV),
                 string_map(data.common_labels, Type::KV),
                 string_map(data.common_annotations, Type::KV),
                 Value::string(data.external_url)};
  ExecInput in;
  in.main = impl_->main.get();
  in.local_defines = &impl_->defines;
  in.library_defines = impl_->library ? &impl_->library->defines : nullptr;
  in.ctx.mode = Mode::Notification;
  in.ctx.external_url = data.external_url;
  in.dot = Value::object(obj);
  in.main_name = &impl_->name;
  std::string out, err;
  if (!execute(in, &out, &err)) return "<error expanding template: " + err + ">";
  return out;
}

Template Template::with_name(std::string_view name) const {
  auto impl = std::make_shared<Impl>(*impl_);  // the parse trees are shared, not copied
  impl->name = std::string(name);
  Template t;
  t.impl_ = std::move(impl);
  return t;
}

const std::string& Template::text() const { return impl_->text; }
bool Template::is_literal() const { return impl_->literal; }
bool Template::uses_query() const { return impl_->uses_query; }

}  // namespace promwatch
