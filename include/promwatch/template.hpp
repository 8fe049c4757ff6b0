#pragma once
/// \file
/// Go-template engine with Prometheus's and Alertmanager's functions (SPEC §5).
///
/// Templates compile once (at config load, so `promwatch check` sees their errors) into an
/// immutable, shareable value; rendering never throws: a runtime error is rendered into the
/// text as `<error expanding template: ...>`, as Prometheus does. Thread-safe to render.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "promwatch/labels.hpp"
#include "promwatch/query.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

struct TemplateError {
  int line = 0;    ///< 1-based, within the template text
  int column = 0;  ///< 1-based
  std::string message;
};

/// The answer to one `{{ query "expr" }}` of an alert template: Prometheus's `query` runs an
/// instant query at the evaluation time and hands the template its vector.
struct TemplateQueryAnswer {
  bool ok = false;
  std::vector<Sample> samples;  ///< when ok: the vector (a scalar is one sample without labels)
  std::string error;            ///< when !ok: the text `error calling query: ...` shows
};

/// Answers by expression text, exactly as the template wrote it.
using TemplateQueryAnswers = std::map<std::string, TemplateQueryAnswer, std::less<>>;

/// What alert label and annotation templates see (Prometheus): `$labels`/`.Labels`,
/// `$value`/`.Value`, `$externalLabels`/`.ExternalLabels`, `$externalURL`/`.ExternalURL`.
///
/// The engine never runs a query itself (it stays pure and never blocks): `query` looks its
/// expression up in `queries`. A caller renders in passes: first with `unanswered` set, which
/// makes an unanswered `query` record its expression there and return an empty vector (that
/// rendering is only a probe, its text is thrown away); it runs the recorded queries, adds
/// their answers, and repeats while new expressions turn up (a query built from another's
/// result needs a further pass); the final rendering has `unanswered` null, where a `query`
/// still without an answer is a template error, as a failed query is in Prometheus.
struct AlertTemplateData {
  const Labels& labels;  ///< the raw series labels, including __name__
  double value = 0;
  const Labels& external_labels;
  std::string_view external_url;  ///< as Prometheus holds it: no trailing '/' (GlobalConfig::external_url)
  const TemplateQueryAnswers* queries = nullptr;   ///< answers for `query`; null: none
  std::vector<std::string>* unanswered = nullptr;  ///< probe pass: where unanswered queries go
};


/// One alert as notification templates see it (Alertmanager's template.Alert).
struct NotificationAlert {
  std::string status;  ///< "firing" | "resolved"
  Labels labels;
  Labels annotations;
  TimePoint starts_at;
  TimePoint ends_at;  ///< epoch (Go's zero time is printed for it) while firing
  std::string generator_url;
  std::string fingerprint;  ///< %016x
};

/// What notification `title`/`text` templates see (Alertmanager's template.Data).
struct NotificationTemplateData {
  std::string status;  ///< "firing" | "resolved"
  std::string receiver;
  Labels group_labels;
  Labels common_labels;
  Labels common_annotations;
  std::string external_url;
  std::vector<NotificationAlert> alerts;
};

/// Shared `{{ define }}` blocks loaded from `notify.templates` files.
class TemplateLibrary {
 public:
  TemplateLibrary();
  ~TemplateLibrary();
  TemplateLibrary(const TemplateLibrary&);
  TemplateLibrary& operator=(const TemplateLibrary&);
  /// Adds the definitions in `text` (from file `name`). false with `*error` set on a parse error.
  bool add(std::string_view name, std::string_view text, TemplateError* error);

 private:
  friend class Template;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

class Template {
 public:
  /// Compiles `text`. `name` appears in runtime error messages. `library` supplies
  /// `{{ template "x" }}` definitions (it is copied by reference-count; may be null).
  /// Unknown functions and `{{ template }}` calls of undefined names are compile errors.
  /// nullopt with `*error` set on failure.
  static std::optional<Template> compile(std::string_view name, std::string_view text,
                                         TemplateError* error,
                                         const TemplateLibrary* library = nullptr);

  /// Expands an alert label/annotation template (Prometheus semantics and output formats).
  std::string render_alert(const AlertTemplateData& data) const;
  /// Expands a notification title/text template (Alertmanager semantics).
  std::string render_notification(const NotificationTemplateData& data) const;

  /// The same compiled text under another name (the one runtime errors show). Shares the parse
  /// trees: identical texts (one annotation used by 1,000 rules) need to be compiled only once.
  Template with_name(std::string_view name) const;

  /// The source text, as compiled.
  const std::string& text() const;
  /// True when the text contains no actions, so rendering is the text itself.
  bool is_literal() const;
  /// True when rendering may call `query` (in the text, in a definition it calls, or anywhere
  /// when it calls `tmpl`, whose target is only known at run time). Templates without it never
  /// need a query pass. Computed once at compile time.
  bool uses_query() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace promwatch
