// libFuzzer target: PromQL expressions (outside input: every rule file's `expr`). The checker
// must never crash, hang or exhaust the stack; an error must point inside the input and say
// something; the verdict must not depend on trailing whitespace.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "promwatch/promql.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const promwatch::promql::CheckResult r = promwatch::promql::check(text);
  if (r.ok()) {
    if (r.type == promwatch::promql::ValueType::None) __builtin_trap();
    if (!promwatch::promql::check(std::string(text) + " \n").ok()) __builtin_trap();
  } else {
    if (r.error->offset > size || r.error->message.empty()) __builtin_trap();
    const auto lc = promwatch::promql::line_column(text, r.error->offset);
    if (lc.line < 1 || lc.column < 1) __builtin_trap();
  }
  return 0;
}
