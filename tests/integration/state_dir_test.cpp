// A state directory promwatch cannot use (here: a path under a regular file, which fails even
// for root) is loud — an error in the log and promwatch_state_store_healthy 0 — but not fatal:
// the daemon keeps evaluating and notifying from memory. And a disk that fills up while the
// daemon runs (a small tmpfs as the state directory): the same loudness, alerting goes on, and
// once space is back the store catches up, so a restart loses nothing.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;

TEST(StateDir, UnusableStateDirKeepsAlertingFromMemory) {
  TestHttpServer datasource([](const TestRequest&) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"a"},"value":[1700000000,"1"]}]}})";
    return r;
  });
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/not-a-directory/state"
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_wait = "1s"
group_interval = "1s"
)",
                             {{"rules.toml", "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 0'\n"},
                              {"not-a-directory", "a regular file where the state directory should go\n"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  EXPECT_TRUE(sink.wait_for_requests(1, 20s)) << "no notification without a state store\n" << promwatch.process().log();
  EXPECT_NE(http_get(promwatch.url() + "/metrics").body.find("promwatch_state_store_healthy 0"), std::string::npos);
  EXPECT_NE(promwatch.process().log().find("cannot open the state store"), std::string::npos) << promwatch.process().log();
  EXPECT_TRUE(promwatch.process().running());
}

// A tmpfs of `size` mounted at `path` for the test's lifetime.
class SmallFilesystem {
 public:
  SmallFilesystem(const std::filesystem::path& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes `name` until the filesystem has no room left; the bytes written.
  std::size_t fill(const std::string& name) const {
    std::ofstream out(path_ / name, std::ios::binary);
    const std::string block(4096, 'x');
    std::size_t written = 0;
    while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush()) written += block.size();
    return written;
  }

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string error_;
};

// `n` series with long labels: each alert is a few hundred bytes in the store.
std::string vector_of(int n) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) body += ",";
    body += R"({"metric":{"instance":"host-)" + std::to_string(i) + "-" + std::string(200, 'p') +
            R"("},"value":[1700000000,"1"]})";
  }
  return body + "]}}";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A slow disk (every sync takes 300 ms) and a first round bigger than the store can take at
// once: ten groups bring 1,000 new alerts each in the same second. Rows the worker cannot take
// yet wait in the rules (not in the store's queue). Then the disk is fast again: they are written
// at later rounds, and after a SIGKILL the restart finds every alert on disk.
TEST(StateDir, AFirstRoundTheStoreCannotKeepUpWithIsWrittenLaterAndSurvivesAKill) {
  const std::string body = vector_of(1000);
  const std::string asan_options = getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "";
  TempDir sync_dir;
  const std::filesystem::path sync_file = sync_dir.path() / "sync_ms";
  auto set_sync_ms = [&](const char* ms) { std::ofstream(sync_file) << ms; };
  set_sync_ms("300");
  TestHttpServer datasource([&](const TestRequest&) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = body;
    return r;
  });
  std::string rules;
  for (int g = 0; g < 10; ++g) {
    rules += "[[groups]]\nname = \"g" + std::to_string(g) + "\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"A" +
             std::to_string(g) + "\"\nexpr = 'x > 0'\n";
  }
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
)",
                             {{"rules.toml", rules}},
                             {{"LD_PRELOAD", PROMWATCH_SLOW_SYNC_LIBRARY},
                              {"PROMWATCH_TEST_SLOW_SYNC_FILE", sync_file.string()},
                              // A sanitized build wants its runtime first in the link order.
                              {"ASAN_OPTIONS", asan_options + (asan_options.empty() ? "" : ":") +
                                                   "verify_asan_link_order=0"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  auto metrics = [&] { return http_get(promwatch.url() + "/metrics").body; };
  ASSERT_TRUE(wait_until([&] { return has(metrics(), "promwatch_alerts{state=\"firing\"} 10000"); }, 30s))
      << promwatch.process().log();
  EXPECT_TRUE(has(promwatch.process().log(), "wait for a later round"))
      << "the store never fell behind: the test tests nothing\n" << promwatch.process().log();
  // The disk recovers; rounds go on every second with nothing new: each writes what an earlier
  // one held back.
  set_sync_ms("0");
  auto occurrences = [](const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string log = promwatch.process().log();
        return occurrences(log, "wait for a later round") == occurrences(log, "state store caught up with group");
      },
      60s))
      << promwatch.process().log();
  promwatch.process().kill_now();
  promwatch.restart();
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  EXPECT_TRUE(has(promwatch.process().log(), ": 10000 alerts,")) << promwatch.process().log();
}

TEST(StateDir, DiskFullAtRuntimeIsLoudKeepsAlertingAndCatchesUp) {
  TempDir mount_dir;
  std::filesystem::path state_dir = mount_dir.path() / "state";
  SmallFilesystem disk(state_dir, "1m");
  if (!disk.mounted()) {
    // Mounting needs CAP_SYS_ADMIN (root on the CI machines); the unit tests of the store cover
    // failed commits without it.
    GTEST_SKIP() << "cannot mount a 1 MiB tmpfs as the state directory: " << disk.error();
  }
  std::atomic<int> series{1};
  TestHttpServer datasource([&](const TestRequest&) {
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = vector_of(series.load());
    return r;
  });
  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  const std::string config = R"([global]
rule_files = ["rules.toml"]
state_dir = ")" + state_dir.string() + R"("
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"("
[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "0s"
group_interval = "1s"
)";
  PromwatchProcess promwatch(config, {{"rules.toml", "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 0'\n"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(sink.wait_for_requests(1, 20s)) << promwatch.process().log();
  auto metrics = [&] { return http_get(promwatch.url() + "/metrics").body; };
  EXPECT_TRUE(has(metrics(), "promwatch_state_store_healthy 1"));

  // The disk fills up; then 300 new alerts need writing.
  ASSERT_GT(disk.fill("filler"), 0u);
  series = 301;
  ASSERT_TRUE(wait_until([&] { return has(metrics(), "promwatch_state_store_healthy 0"); }, 20s))
      << "a full disk went unnoticed\n" << promwatch.process().log();
  EXPECT_TRUE(has(promwatch.process().log(), "state store write failed, alerting continues from memory"))
      << promwatch.process().log();
  // Alerting goes on: all 301 alerts are active and were notified.
  ASSERT_TRUE(wait_until([&] { return has(metrics(), "promwatch_alerts{state=\"firing\"} 301"); }, 20s))
      << metrics() << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] {
    for (const auto& r : sink.requests()) {
      if (has(r.body, "host-300-")) return true;
    }
    return false;
  }, 20s)) << "no notification while the disk was full\n" << promwatch.process().log();
  EXPECT_TRUE(promwatch.process().running());

  // Space again: the store catches up with what it could not write.
  std::filesystem::remove(state_dir / "filler");
  ASSERT_TRUE(wait_until([&] { return has(metrics(), "promwatch_state_store_healthy 1"); }, 30s))
      << promwatch.process().log();
  EXPECT_TRUE(has(promwatch.process().log(), "state store writes again"));

  // A restart finds every alert in the store (the datasource still returns them; the log line
  // counts what came from disk, before any evaluation).
  ASSERT_EQ(promwatch.process().stop(), 0) << promwatch.process().log();
  promwatch.restart();
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  EXPECT_TRUE(has(promwatch.process().log(), ": 301 alerts,")) << promwatch.process().log();
}

}  // namespace
}  // namespace promwatch::test
