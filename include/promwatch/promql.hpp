#pragma once
/// \file
/// PromQL validation: a lexer, parser and type checker for the expressions of rules, so that
/// `promwatch check` (and so start-up and reload) rejects what the datasource would reject,
/// with the message Prometheus gives and the position of the problem.
///
/// The language is Prometheus 2.x and 3.x together: what either accepts is accepted (so
/// `holt_winters` of 2.x and `double_exponential_smoothing` of 3.x, quoted UTF-8 metric and label
/// names, durations written as numbers, `limitk`/`limit_ratio` and the experimental functions of
/// 3.x that are documented). Not accepted: the experimental duration arithmetic of 3.4+
/// (`x[5m * 2]`, behind `--enable-feature=promql-duration-expr`), and the series-description
/// syntax of Prometheus's test files.
///
/// Thread: pure functions without shared state; call them from any thread. Errors are values:
/// nothing but std::bad_alloc leaves this interface as an exception.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace promwatch::promql {

/// The type of an expression's value, as Prometheus's `ValueType`.
enum class ValueType { None, Scalar, Vector, Matrix, String };

/// "scalar", "instant vector", "range vector", "string" or "none" (Prometheus's
/// `DocumentedType`, the words its messages use).
std::string_view documented_type(ValueType type);

/// The first problem in an expression.
struct SyntaxError {
  std::size_t offset = 0;  ///< byte offset into the expression where the problem starts
  std::string message;     ///< as Prometheus words it, without the `parse error: ` prefix
};

struct CheckResult {
  ValueType type = ValueType::None;   ///< the expression's type when it is valid
  std::optional<SyntaxError> error;   ///< set when the expression is not valid PromQL
  bool ok() const { return !error; }
};

/// Parses and type-checks `expr` as Prometheus's `parser.ParseExpr` does: syntax first, then
/// (only when the syntax is sound) the type rules. Regexes of `=~`/`!~` are compiled with RE2,
/// anchored as `^(?:re)$`. Deeply nested input (over 1,000 levels) is refused with an error
/// rather than exhausting the stack.
CheckResult check(std::string_view expr);

/// 1-based line and column of a byte offset in `text`: lines split at '\n', columns count
/// bytes, as Prometheus counts them in the `line:col` of its parse errors.
struct LineColumn {
  int line = 1;
  int column = 1;
};
LineColumn line_column(std::string_view text, std::size_t offset);

}  // namespace promwatch::promql
