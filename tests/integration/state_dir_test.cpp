// A state directory promwatch cannot use (here: a path under a regular file, which fails even
// for root) is loud — an error in the log and promwatch_state_store_healthy 0 — but not fatal:
// the daemon keeps evaluating and notifying from memory.

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace promwatch::test
