// Loading, validating and compiling a configuration: what `promwatch check` verifies and what a
// reload swaps in. Every problem is collected; nothing is sent anywhere.

#include <fstream>
#include <ostream>
#include <sstream>

#include "promwatch/app.hpp"
#include "promwatch/delivery.hpp"
#include "promwatch/silence.hpp"

namespace promwatch {

namespace {

ConfigError template_error(const SourcePos& pos, std::string_view what, const TemplateError& e) {
  std::string message = std::string(what) + ": template error";
  if (e.line > 0) message += " at " + std::to_string(e.line) + ":" + std::to_string(e.column);
  message += ": " + e.message;
  return ConfigError{pos, message};
}

std::optional<Template> compile_text(const TemplateText& text, std::string_view what, const TemplateLibrary* library,
                                     std::vector<ConfigError>& errors) {
  TemplateError error;
  auto compiled = Template::compile(what, text.text, &error, library);
  if (!compiled) {
    errors.push_back(template_error(text.pos, what, error));
  } else if (compiled->uses_query()) {
    // These render while a notification or an event is built, where nothing can wait for a
    // datasource (and Alertmanager's templates have no `query` either).
    errors.push_back(template_error(
        text.pos, what,
        TemplateError{0, 0, "function \"query\" is only available in alerting rules' labels and annotations"}));
    compiled.reset();
  }
  return compiled;
}

// Time zones are read at load time, so that `check` catches a zone this machine lacks.
void check_time_intervals(const Config& config, std::vector<ConfigError>& errors) {
  for (const auto& interval : config.time_intervals) {
    std::vector<std::string> messages;
    TimeIntervalSet::build({interval}, &messages);
    for (auto& m : messages) errors.push_back({interval.pos, std::move(m)});
  }
}

}  // namespace

ReceiverTemplates CompiledConfig::receiver_templates(std::size_t i) const {
  auto at = [i](const std::vector<std::optional<Template>>& list) -> const Template* {
    return i < list.size() && list[i] ? &*list[i] : nullptr;
  };
  return ReceiverTemplates{at(receiver_titles), at(receiver_texts), at(receiver_htmls)};
}

CompileResult compile_config(const std::string& path, const EnvLookup& env) {
  CompileResult result;
  LoadResult loaded = load_config(path, env);
  result.warnings = std::move(loaded.warnings);
  if (!loaded.config) {
    result.errors = std::move(loaded.errors);
    return result;
  }
  CompiledConfig compiled;
  compiled.config = std::move(*loaded.config);
  const Config& config = compiled.config;
  std::vector<ConfigError>& errors = result.errors;

  check_time_intervals(config, errors);

  // One template cache per load: rules sharing an annotation text share its parse.
  RuleContext context{config.global.external_labels, config.global.external_url, std::make_shared<TemplateCache>()};
  for (const auto& group_config : config.groups) {
    if (auto group = RuleGroup::build(group_config, context, &errors)) compiled.groups.push_back(std::move(*group));
  }

  for (const auto& file : config.notify.templates) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      errors.push_back({SourcePos{file, 0, 0}, "cannot read template file"});
      continue;
    }
    TemplateError error;
    if (!compiled.template_library.add(file, text.str(), &error)) {
      errors.push_back({SourcePos{file, error.line, error.column}, error.message});
    }
  }

  for (const auto& receiver : config.receivers) {
    auto compile_optional = [&](const std::optional<TemplateText>& text, std::string_view what) {
      std::optional<Template> out;
      if (text) out = compile_text(*text, what, &compiled.template_library, errors);
      return out;
    };
    compiled.receiver_titles.push_back(compile_optional(receiver.title, "title"));
    compiled.receiver_texts.push_back(compile_optional(receiver.text, "text"));
    compiled.receiver_htmls.push_back(compile_optional(receiver.html, "html"));
    std::string error;
    if (!make_receiver(receiver, config.notify, compiled.receiver_templates(compiled.receiver_titles.size() - 1), &error)) {
      errors.push_back({receiver.pos, error});
    }
  }

  if (!config.global.generator_url.empty()) {
    compiled.generator_url =
        compile_text(TemplateText{config.global.generator_url, SourcePos{config.path, 0, 0}}, "global.generator_url",
                     nullptr, errors);
  }

  if (errors.empty()) result.compiled = std::move(compiled);
  return result;
}

int run_check(const std::string& config_path, std::ostream& out) {
  CompileResult result = compile_config(config_path);
  for (const auto& warning : result.warnings) out << warning.to_string() << " (warning)\n";
  for (const auto& error : result.errors) out << error.to_string() << "\n";
  if (!result.compiled) {
    out << config_path << ": " << result.errors.size() << (result.errors.size() == 1 ? " error" : " errors")
        << ", configuration not valid\n";
    return kExitInvalidInput;
  }
  std::size_t rules = 0;
  std::size_t recording = 0;
  std::size_t heartbeats = 0;
  for (const auto& group : result.compiled->groups) {
    rules += group.rules().size();
    recording += group.recording_rules().size();
    heartbeats += group.heartbeats().size();
  }
  out << config_path << ": valid: " << result.compiled->groups.size() << " rule groups, " << rules
      << " alerting rules, ";
  if (recording > 0) out << recording << " recording rules, ";
  out << heartbeats << " heartbeat rules, " << result.compiled->config.receivers.size() << " receivers\n";
  return kExitOk;
}

}  // namespace promwatch
