// libFuzzer target: `promwatch import` (outside input: rule files and alertmanager.yml from
// anywhere). Whatever the YAML, the importers must not crash, and what they write must be
// valid TOML (toml++ parses it), so that a user never gets a file promwatch cannot even read.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <toml++/toml.h>

#include "promwatch/import.hpp"

namespace {

void must_parse(const std::string& text) {
  try {
    (void)toml::parse(text);
  } catch (const toml::parse_error&) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  must_parse(promwatch::import_rule_file("fuzz.yml", text).toml);
  must_parse(promwatch::import_alertmanager("fuzz.yml", text).toml);
  return 0;
}
