// The sd_notify protocol as systemd sees it (Type=notify): a datagram socket in NOTIFY_SOCKET
// receives READY=1 once the daemon is up, RELOADING=1 with MONOTONIC_USEC then READY=1 around a
// reload, STOPPING=1 on SIGTERM, and WATCHDOG=1 periodically when WATCHDOG_USEC is set.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;

// Collects every datagram sent to a unix socket, on its own thread.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind notify socket");
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    reader_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
          std::lock_guard lock(mutex_);
          messages_.emplace_back(buf, static_cast<std::size_t>(n));
        }
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t count(const std::string& needle) {
    std::size_t n = 0;
    for (const auto& m : messages()) n += m.find(needle) != std::string::npos;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread reader_;
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

TEST(SystemdNotify, ReadyReloadingStoppingAndWatchdog) {
  TempDir dir;
  NotifySocket notify((dir.path() / "notify.sock").string());
  TestHttpServer datasource([](const TestRequest&) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[]}})";
    return r;
  });
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
)",
                             {{"rules.toml", "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 0'\n"}},
                             {{"NOTIFY_SOCKET", (dir.path() / "notify.sock").string()}, {"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(wait_until([&] { return notify.count("READY=1") >= 1; }, 20s)) << promwatch.process().log();
  // READY only once the listener is bound.
  EXPECT_EQ(http_get(promwatch.url() + "/healthz").status, 200);
  // WATCHDOG=1 every WATCHDOG_USEC / 2 from the event loop.
  ASSERT_TRUE(wait_until([&] { return notify.count("WATCHDOG=1") >= 4; }, 5s)) << promwatch.process().log();

  promwatch.process().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return notify.count("READY=1") >= 2; }, 10s));
  auto messages = notify.messages();
  auto reloading = std::find_if(messages.begin(), messages.end(),
                                [](const std::string& m) { return m.find("RELOADING=1") != std::string::npos; });
  ASSERT_NE(reloading, messages.end());
  EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos) << *reloading;
  // RELOADING=1 comes before the second READY=1.
  auto second_ready = std::find_if(reloading, messages.end(),
                                   [](const std::string& m) { return m.find("READY=1") != std::string::npos; });
  EXPECT_NE(second_ready, messages.end());

  promwatch.process().signal(SIGTERM);
  EXPECT_EQ(promwatch.process().wait_exit(10s), 0);
  EXPECT_GE(notify.count("STOPPING=1"), 1u);
}

}  // namespace
}  // namespace promwatch::test
