#include "support/process.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace promwatch::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TempDir::TempDir() {
  std::random_device rd;
  fs::path base = fs::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate = base / ("promwatch-test-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(candidate, ec)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("could not create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& content) const {
  fs::path p = path_ / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("could not write " + p.string());
  return p;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

pid_t spawn(const std::vector<std::string>& argv, int out_fd, const std::map<std::string, std::string>& extra_env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos && extra_env.count(entry.substr(0, eq))) continue;
    env_strings.push_back(entry);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::setpgid(0, 0);
    ::execve(cargv[0], cargv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string find_sanitizer_report(const std::string& log) {
  // How each sanitizer starts (ASan, LSan, TSan) or ends (UBSan, with print_summary, the
  // default) a report. UBSan's own line is "FILE:LINE:COL: runtime error: ..." (a Go panic,
  // "panic: runtime error: ...", from a peer such as prometheus, is not one).
  static constexpr std::array<std::string_view, 8> kMarkers = {
      "ERROR: AddressSanitizer",  "ERROR: LeakSanitizer",       "WARNING: ThreadSanitizer",
      "ERROR: ThreadSanitizer",   "SUMMARY: AddressSanitizer",  "SUMMARY: UndefinedBehaviorSanitizer",
      "SUMMARY: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer"};
  std::size_t at = std::string::npos;
  for (auto marker : kMarkers) at = std::min(at, log.find(marker));
  for (std::size_t pos = log.find(": runtime error: "); pos != std::string::npos;
       pos = log.find(": runtime error: ", pos + 1)) {
    std::size_t line = log.rfind('\n', pos);
    line = line == std::string::npos ? 0 : line + 1;
    if (log.compare(line, 6, "panic:") == 0) continue;
    at = std::min(at, pos);
    break;
  }
  if (at == std::string::npos) return {};
  std::size_t begin = log.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::size_t end = begin;
  for (int lines = 0; lines < 80 && end != std::string::npos && end < log.size(); ++lines) {
    end = log.find('\n', end);
    if (end != std::string::npos) ++end;
  }
  return log.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, fs::path log_file,
                           std::map<std::string, std::string> extra_env)
    : program_(argv.empty() ? std::string() : argv.front()), log_file_(std::move(log_file)) {
  int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open log " + log_file_.string());
  struct stat st {};
  if (::fstat(fd, &st) == 0) log_start_ = static_cast<std::uintmax_t>(st.st_size);
  pid_ = spawn(argv, fd, extra_env);
  ::close(fd);
}

void ChildProcess::exited(int wait_status) {
  if (status_) return;
  status_ = decode_status(wait_status);
  std::string text = log();
  if (log_start_ < text.size()) {
    text.erase(0, log_start_);
  } else {
    text.clear();
  }
  std::string report = find_sanitizer_report(text);
  if (!report.empty()) {
    ADD_FAILURE() << "child process " << program_ << " (pid " << pid_ << ", exit " << *status_
                  << ") reported a sanitizer error; its log " << log_file_.string() << " says:\n"
                  << report;
  }
}

ChildProcess::~ChildProcess() {
  if (!status_) stop(5s);
}

bool ChildProcess::running() {
  if (status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited(status);
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
  return status_;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (status_) return *status_;
  ::kill(pid_, SIGTERM);
  if (auto code = wait_exit(grace)) return *code;
  kill_now();
  return status_.value_or(-1);
}

void ChildProcess::kill_now() {
  if (status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exited(status);
}

std::string ChildProcess::log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::size_t append_body(char* ptr, std::size_t size, std::size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * nmemb);
  return size * nmemb;
}

}  // namespace

HttpResult http_request(const std::string& method, const std::string& url, const std::string& body,
                        const std::vector<std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || method == "PUT" || !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    result.status = static_cast<int>(status);
  } else {
    result.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

HttpResult http_get(const std::string& url, std::chrono::milliseconds timeout) {
  return http_request("GET", url, "", {}, timeout);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

int run_command(const std::vector<std::string>& argv, std::string* output, std::chrono::milliseconds timeout) {
  TempDir dir;
  fs::path log = dir.path() / "out.log";
  int code = -1;
  {
    ChildProcess child(argv, log);
    auto exit_code = child.wait_exit(timeout);
    code = exit_code ? *exit_code : (child.stop(1s), -1);
    if (output) *output = child.log();
  }
  return code;
}

std::string promwatch_binary() {
#ifdef PROMWATCH_BINARY
  return PROMWATCH_BINARY;
#else
  throw std::runtime_error("the promwatch binary is not part of this build");
#endif
}

fs::path source_dir() { return PROMWATCH_SOURCE_DIR; }

}  // namespace promwatch::test
