// Datasource authentication as managed Prometheus services want it: HTTP Basic auth with an
// AccessKey (Alibaba Cloud V2) and a raw `Authorization: <token>` header (V1). Loopback servers
// demand them; with wrong credentials the rule's health is err with the HTTP status, the daemon
// keeps running, and the secret appears nowhere promwatch shows text.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// Answers a one-sample vector when the Authorization header is exactly `expected`, else 401.
TestHttpServer::Handler demanding(std::string expected) {
  return [expected](const TestRequest& request) {
    TestResponse r;
    auto it = request.headers.find("authorization");
    if (it == request.headers.end() || it->second != expected) {
      r.status = 401;
      r.body = "Unauthorized";
      return r;
    }
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"db1:9100"},"value":[1700000000,"1"]}]}})";
    return r;
  };
}

std::string config_with(const std::string& datasource_url, const std::string& auth_lines) {
  return R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"

[datasource]
url = ")" + datasource_url + R"(/api/prom/instance-1"
retries = 0
)" + auth_lines + R"(
[server]
listen = "{{LISTEN}}"
)";
}

const std::map<std::string, std::string> kFiles = {
    {"rules.toml", R"([[groups]]
name = "auth"
interval = "1s"

[[groups.rules]]
alert = "Up"
expr = 'up == 1'
)"},
    {"ak_secret", "s3cr3t-AccessKeySecret\n"},
};

json rule_status(const PromwatchProcess& promwatch) {
  json body = json::parse(http_get(promwatch.url() + "/api/v1/rules").body, nullptr, false);
  if (body.is_discarded() || body["data"]["groups"].empty()) return json::object();
  return body["data"]["groups"][0]["rules"][0];
}

bool health_is(const PromwatchProcess& promwatch, const std::string& health) {
  return rule_status(promwatch).value("health", "") == health;
}

void expect_secret_hidden(PromwatchProcess& promwatch, const std::string& secret) {
  for (const char* path : {"/api/v1/rules", "/api/v1/alerts", "/metrics", "/"}) {
    EXPECT_EQ(http_get(promwatch.url() + path).body.find(secret), std::string::npos) << path;
  }
  EXPECT_EQ(promwatch.process().log().find(secret), std::string::npos) << "secret in the log";
}

TEST(DatasourceAuth, BasicAuthWithAccessKeyFromFile) {
  // base64("LTAI5tAccessKeyId:s3cr3t-AccessKeySecret")
  TestHttpServer server(demanding("Basic TFRBSTV0QWNjZXNzS2V5SWQ6czNjcjN0LUFjY2Vzc0tleVNlY3JldA=="));
  PromwatchProcess promwatch(
      config_with(server.url(), R"(basic_auth = { username = "${AK_ID}", password_file = "{{DIR}}/ak_secret" })"),
      kFiles, {{"AK_ID", "LTAI5tAccessKeyId"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return health_is(promwatch, "ok"); }, 20s)) << promwatch.process().log();
  EXPECT_EQ(rule_status(promwatch)["alerts"][0]["state"], "firing");
  // The base path of the managed endpoint is kept.
  EXPECT_EQ(server.requests().front().path, "/api/prom/instance-1/api/v1/query");
  expect_secret_hidden(promwatch, "s3cr3t-AccessKeySecret");
}

TEST(DatasourceAuth, RawTokenAsV1InstancesWantIt) {
  TestHttpServer server(demanding("tok-123456"));
  PromwatchProcess promwatch(
      config_with(server.url(), R"(authorization = { type = "raw", credentials = "tok-123456" })"), kFiles);
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return health_is(promwatch, "ok"); }, 20s)) << promwatch.process().log();
  expect_secret_hidden(promwatch, "tok-123456");
}

TEST(DatasourceAuth, WrongCredentialsMakeTheRuleUnhealthyNotTheDaemon) {
  TestHttpServer server(demanding("tok-right"));
  PromwatchProcess promwatch(
      config_with(server.url(), R"(authorization = { type = "raw", credentials = "tok-wrong-0123" })"), kFiles);
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return health_is(promwatch, "err"); }, 20s)) << promwatch.process().log();
  std::string last_error = rule_status(promwatch).value("lastError", "");
  EXPECT_NE(last_error.find("401"), std::string::npos) << last_error;
  // Still serving, still evaluating.
  std::size_t before = server.request_count();
  EXPECT_TRUE(wait_until([&] { return server.request_count() > before + 2; }, 10s));
  EXPECT_TRUE(promwatch.process().running());
  EXPECT_EQ(http_get(promwatch.url() + "/healthz").status, 200);
  std::string metrics = http_get(promwatch.url() + "/metrics").body;
  EXPECT_NE(metrics.find("promwatch_datasource_requests_total{code=\"401\"}"), std::string::npos);
  EXPECT_NE(metrics.find("promwatch_rule_evaluation_failures_total{group=\"auth\"}"), std::string::npos);
  expect_secret_hidden(promwatch, "tok-wrong-0123");
}

}  // namespace
}  // namespace promwatch::test
