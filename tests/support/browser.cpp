#include "support/browser.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

#include "support/process.hpp"

namespace promwatch::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string find_chromium() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

fs::path artifacts_dir() {
  if (const char* dir = std::getenv("PROMWATCH_ARTIFACTS_DIR"); dir && *dir) return dir;
  return fs::path(promwatch_binary()).parent_path() / "artifacts";
}

int run_chromium(const std::string& chromium, const fs::path& profile, std::vector<std::string> args,
                 const std::string& url, const fs::path& out, std::string* log) {
  std::vector<std::string> argv{chromium,
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--disable-quic",
                                "--no-first-run",
                                "--disable-background-networking",
                                "--disable-component-update",
                                "--disable-sync",
                                "--hide-scrollbars",
                                "--user-data-dir=" + profile.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  if (out.empty()) return run_command(argv, log, 60s);
  // stdout alone (the DOM) to `out`: chromium writes its own noise to stderr.
  std::string cmd = "exec";
  for (const auto& a : argv) cmd += " '" + a + "'";
  cmd += " > '" + out.string() + "'";
  return run_command({"/bin/sh", "-c", cmd}, log, 60s);
}

void keep_screenshots(const std::string& chromium, const fs::path& profile, const std::string& url,
                      const std::vector<std::pair<std::string, std::string>>& shots) {
  const fs::path dir = artifacts_dir();
  fs::create_directories(dir);
  for (const auto& [name, size] : shots) {
    const fs::path png = dir / name;
    fs::remove(png);
    std::string log;
    int code = run_chromium(chromium, profile / ("profile-" + name), {"--screenshot=" + png.string(), "--window-size=" + size},
                            url, {}, &log);
    EXPECT_EQ(code, 0) << log;
    EXPECT_TRUE(fs::exists(png)) << log;
    std::string bytes = read_file(png);
    EXPECT_GT(bytes.size(), 10000u) << png;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
    std::cout << "[ artifact ] " << png.string() << "\n";
  }
}

}  // namespace promwatch::test
