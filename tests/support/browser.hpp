#pragma once
/// \file
/// Headless Chromium for tests that look at a page as a browser builds it, and the directory
/// where screenshots are kept as artifacts.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace promwatch::test {

/// Debian's chromium (or a Chrome) binary; empty when none is installed.
std::string find_chromium();

/// The whole content of `path` (empty when it cannot be read): a page, a DOM dump, a screenshot.
std::string read_file(const std::filesystem::path& path);

/// Where tests keep files for a person to look at: $PROMWATCH_ARTIFACTS_DIR, default
/// <build dir>/artifacts.
std::filesystem::path artifacts_dir();

/// Runs `chromium --headless ...` with a fresh profile in `profile`, then `args`, then `url`;
/// stdout (e.g. `--dump-dom`) goes to `out` when non-empty. Returns the exit code; the output
/// goes to `*log`.
int run_chromium(const std::string& chromium, const std::filesystem::path& profile, std::vector<std::string> args,
                 const std::string& url, const std::filesystem::path& out, std::string* log);

/// Screenshots `url` at each (file name, "width,height") into `artifacts_dir()`, with profiles
/// under `profile`, checks that each is a real PNG (gtest failures otherwise) and prints
/// `[ artifact ] PATH` for each.
void keep_screenshots(const std::string& chromium, const std::filesystem::path& profile, const std::string& url,
                      const std::vector<std::pair<std::string, std::string>>& shots);

}  // namespace promwatch::test
