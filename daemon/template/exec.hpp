#pragma once
/// \file
/// The evaluator: walks an immutable parse tree against a data value (text/template/exec.go).

#include <string>
#include <utility>
#include <vector>

#include "ast.hpp"
#include "funcs.hpp"

namespace promwatch::tmpl {

inline constexpr std::size_t kMaxOutputBytes = 1 << 20;  // 1 MiB per rendering
inline constexpr int kMaxTemplateDepth = 64;             // nested {{template}} calls
inline constexpr int kMaxNesting = 400;                  // nested nodes, parentheses and calls together
inline constexpr std::uint64_t kMaxSteps = 2000000;      // evaluated nodes and commands
inline constexpr std::size_t kMaxWorkBytes = 64 << 20;   // bytes of strings functions read and build

struct ExecInput {
  const Tree* main = nullptr;
  const TreeMap* local_defines = nullptr;    // the template's own {{define}}s
  const TreeMap* library_defines = nullptr;  // shared definitions (may be null)
  CallContext ctx;
  Value dot;
  std::vector<std::pair<std::string, Value>> vars;  // predeclared variables besides `$`
  int line1_col_offset = 0;  // Prometheus prepends its variable definitions on line 1
  // The name errors give the main text when it was compiled under another one and shared
  // (Template::with_name); null: the name it was parsed under.
  const std::string* main_name = nullptr;
};

/// Renders; on a runtime error returns false with `*error` in Go's shape:
/// `template: NAME:LINE:COL: executing "NAME" at <CONTEXT>: MESSAGE`.
bool execute(const ExecInput& in, std::string* out, std::string* error);

}  // namespace promwatch::tmpl
