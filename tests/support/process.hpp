#pragma once
/// \file
/// Child processes and small blocking helpers for integration tests: start real peers
/// (prometheus, alertmanager, the promwatch binary) on loopback, talk to them, stop them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace promwatch::test {

/// A fresh directory under $TMPDIR, removed (recursively) when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// Writes `content` to `name` inside the directory (creating subdirectories); returns the path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

/// A port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
int free_port();

/// A child process with stdout and stderr sent to `log_file`. Terminated (SIGTERM, then
/// SIGKILL after 5 s) when destroyed.
///
/// Sanitizers: when the child has exited (however it is noticed: `running`, `wait_exit`, `stop`,
/// `kill_now`, the destructor), what it wrote to `log_file` since it started is searched for a
/// sanitizer report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer,
/// ThreadSanitizer); one fails the current test (`ADD_FAILURE`, with the report). A sanitized
/// promwatch child therefore fails the test that ran it, even when the test never looks at its
/// exit status or log.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log_file,
               std::map<std::string, std::string> extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  bool running();
  /// Sends `signal` (no wait).
  void signal(int signal);
  /// SIGTERM and wait up to `grace`, then SIGKILL. Returns the exit status as from waitpid
  /// decoding: exit code, or 128 + signal number.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// SIGKILL and reap.
  void kill_now();
  /// Waits for the process to exit by itself, up to `timeout`; the exit code or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  /// The log written so far.
  std::string log() const;

 private:
  /// Records the exit status (once) and fails the current test if the child's log holds a
  /// sanitizer report.
  void exited(int wait_status);

  std::string program_;
  int pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_file_;
  std::uintmax_t log_start_ = 0;  ///< size of `log_file_` when the child started (it appends)
};

/// The sanitizer report in `log` (its first lines), or empty when there is none.
std::string find_sanitizer_report(const std::string& log);

struct HttpResult {
  int status = 0;  ///< 0 on transport failure
  std::string body;
  std::string error;
};

/// Blocking HTTP for tests (libcurl easy), 127.0.0.1 only by convention.
HttpResult http_get(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(5));
HttpResult http_request(const std::string& method, const std::string& url, const std::string& body,
                        const std::vector<std::string>& headers,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Polls `condition` every `step` until it holds or `timeout` passes; true when it held.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(100));

/// Runs a command to completion with stdout+stderr captured; returns the exit code.
int run_command(const std::vector<std::string>& argv, std::string* output,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// The promwatch binary built alongside the tests.
std::string promwatch_binary();
/// The source tree (for rules/ and systemd/ examples).
std::filesystem::path source_dir();

}  // namespace promwatch::test
