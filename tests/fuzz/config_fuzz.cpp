// libFuzzer target: the TOML config loader (outside input: files written by people).
// Each input is loaded twice, as the main config and as a rule file named by a fixed main
// config. Beyond "no crash", it checks the loader's promises: a config exactly when there are
// no errors, every error has a message, and a secret read from a *_file never shows in one.

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include "promwatch/config.hpp"

namespace {

constexpr const char* kCanary = "CANARY-SECRET-7f3a";

const std::string& work_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/promwatch-config-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl)) __builtin_trap();
    std::string d = tmpl;
    // Inputs may name these (`password_file = "s"`, `rule_files = ["r.toml"]`, ...).
    std::ofstream(d + "/s") << kCanary << "\n";
    std::ofstream(d + "/main-for-rules.toml")
        << "[datasource]\nurl = \"http://127.0.0.1:9090\"\n[global]\nrule_files = [\"r.toml\"]\n";
    return d;
  }();
  return dir;
}

void write(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

void check(const promwatch::LoadResult& r) {
  if (r.config.has_value() != r.errors.empty()) __builtin_trap();
  for (const auto& e : r.errors) {
    if (e.message.empty()) __builtin_trap();
    if (e.to_string().find(kCanary) != std::string::npos) __builtin_trap();
  }
}

// Deterministic: variables starting with 'A' are set, everything else is unset.
std::optional<std::string> fake_env(const std::string& name) {
  if (!name.empty() && name[0] == 'A') return "value-of-" + name;
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = work_dir();
  write(dir + "/main.toml", data, size);
  check(promwatch::load_config(dir + "/main.toml", fake_env));
  write(dir + "/r.toml", data, size);
  check(promwatch::load_config(dir + "/main-for-rules.toml", fake_env));
  return 0;
}
