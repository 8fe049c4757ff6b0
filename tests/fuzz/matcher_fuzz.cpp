// libFuzzer target: Alertmanager matchers and PromQL selectors (outside input: config files,
// `match[]` query parameters, silences posted to the API). A parsed matcher must print as text
// that parses back to the same matcher; matching must never crash.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "promwatch/matcher.hpp"

namespace {

void same_after_round_trip(const promwatch::Matcher& m) {
  std::string error;
  auto again = promwatch::Matcher::parse(m.to_string(), &error);
  if (!again) __builtin_trap();
  if (again->type() != m.type() || again->name() != m.name() || again->value() != m.value()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const promwatch::Labels labels{{"alertname", "HighCPU"}, {"instance", std::string(text.substr(0, 16))}};

  std::string error;
  if (auto m = promwatch::Matcher::parse(text, &error)) {
    same_after_round_trip(*m);
    (void)m->matches(labels);
    (void)m->matches(promwatch::Labels{});
  } else if (error.empty()) {
    __builtin_trap();
  }

  error.clear();
  if (auto ms = promwatch::parse_selector(text, &error)) {
    if (ms->empty()) __builtin_trap();
    for (const auto& m : *ms) same_after_round_trip(m);
    (void)promwatch::matches_all(*ms, labels);
  } else if (error.empty()) {
    __builtin_trap();
  }
  return 0;
}
