#pragma once
/// \file
/// The template functions: Go's builtins, Prometheus's and Alertmanager's, and the methods
/// of the data types (KV.SortedPairs, Alerts.Firing, time.Time.Format, ...).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promwatch/template.hpp"
#include "value.hpp"

namespace promwatch::tmpl {

/// Which product's semantics apply: the few functions that differ (title) look at it.
enum class Mode { Alert, Notification };

struct CallContext {
  Mode mode = Mode::Alert;
  std::string_view external_url;
  const TemplateQueryAnswers* queries = nullptr;   ///< see AlertTemplateData
  std::vector<std::string>* unanswered = nullptr;  ///< see AlertTemplateData
};

/// Thrown by functions. `wrap`: Go reports it as "error calling NAME: message"; otherwise
/// (argument count and type errors) the message stands alone, as in text/template.
struct FuncError {
  FuncError(std::string message_, bool wrap_ = true, const Value* bad_arg_ = nullptr, std::string expected_ = {})
      : message(std::move(message_)), wrap(wrap_), bad_arg(bad_arg_), expected(std::move(expected_)) {}
  std::string message;
  bool wrap = true;
  /// For a wrong argument type: the argument (an element of the call's argument vector) and
  /// the Go type the function wanted. Go words the error differently when that argument is a
  /// constant of the template text ("expected string; found 1"), which only the evaluator knows.
  const Value* bad_arg = nullptr;
  std::string expected;
};

using FuncImpl = Value (*)(const CallContext&, std::vector<Value>&);

struct FuncInfo {
  std::string_view name;
  FuncImpl impl;  ///< null for `and`/`or`/`tmpl`, which the evaluator runs itself
  int min_args;
  int max_args;  ///< -1: variadic
};

/// Null when `name` is not a function we know.
const FuncInfo* find_function(std::string_view name);

/// True when values of the receiver's type have a method `name` (Go looks methods up before
/// map keys, so `.Labels.Names` on a KV is the method).
bool has_method(const Value& receiver, std::string_view name);
Value call_method(const CallContext& ctx, const Value& receiver, std::string_view name,
                  std::vector<Value>& args);

}  // namespace promwatch::tmpl
