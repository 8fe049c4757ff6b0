// The status page in a real browser: promwatch runs with a firing alert, a pending one, a rule
// that fails, and a heartbeat rule with a member that is up and one that is missing (a loopback
// datasource answers the queries) and a runtime silence muting the pending alert. Headless Chromium (Debian's `chromium`) loads the page; the
// DOM it built must show all of that, with hostile text escaped (no element from the data), and
// screenshots at desktop and phone widths are kept as test artifacts:
//   $PROMWATCH_ARTIFACTS_DIR (default: <build dir>/artifacts)/status_page.png, status_page_phone.png
// Chromium missing is a failure, not a skip: scripts/setup installs it.

#include <gtest/gtest.h>

#include <filesystem>

#include "promwatch/time.hpp"
#include "support/browser.hpp"
#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The datasource: answers every instant query from the rule's expression.
TestResponse datasource(const TestRequest& request) {
  std::string query;
  if (auto it = request.form.find("query"); it != request.form.end()) query = it->second;
  if (auto it = request.query.find("query"); it != request.query.end()) query = it->second;
  TestResponse r;
  r.headers.push_back({"Content-Type", "application/json"});
  auto vector = [](const std::string& samples) {
    return R"({"status":"success","data":{"resultType":"vector","result":[)" + samples + "]}}";
  };
  if (query.find("node_filesystem_avail") != std::string::npos) {
    r.body = vector(R"({"metric":{"instance":"db1.example:9100","mountpoint":"/var/lib/postgresql","severity_hint":"<img src=x onerror=alert(1)>"},"value":[1700000000,"0.042"]})");
  } else if (query.find("node_load") != std::string::npos) {
    r.body = vector(R"({"metric":{"instance":"web1.example:9100"},"value":[1700000000,"7.25"]})");
  } else if (query.find("up{") != std::string::npos) {
    r.body = vector(R"({"metric":{"__name__":"up","instance":"db1.example:9100","job":"node"},"value":[1700000000,"1"]})");
  } else {
    r.status = 422;
    r.body = R"({"status":"error","errorType":"execution","error":"many-to-many matching not allowed: matching labels must be unique on one side"})";
  }
  return r;
}

constexpr const char* kRules = R"([[groups]]
name = "storage"
interval = "1s"

[[groups.rules]]
alert = "DiskAlmostFull"
expr = 'node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.05'
labels = { severity = "critical" }
[groups.rules.annotations]
summary = "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full"
description = "Only {{ $value | humanizePercentage }} left. <script>alert('x')</script>"

[[groups.rules]]
alert = "HighLoad"
expr = 'node_load15 > 4'
for = "1h"
labels = { severity = "warning" }
annotations = { summary = "Load {{ $value }} on {{ $labels.instance }}" }

[[groups.rules]]
alert = "BrokenJoin"
expr = 'rate(http_requests_total[5m]) * on() group_left kube_pod_info'

[[groups]]
name = "liveness"
interval = "1s"

[[groups.heartbeats]]
name = "NodeExporterGone"
expr = 'up{job="node"}'
by = ["instance"]
for = "1s"
expected = [{ instance = "db2.example:9100" }]
annotations = { summary = "{{ $labels.instance }} stopped reporting" }
)";

TEST(StatusPage, ShowsTheFiringAlertInARealBrowser) {
  const std::string chromium = find_chromium();
  ASSERT_FALSE(chromium.empty())
      << "chromium not found (looked for /usr/bin/chromium): the status page test needs headless Chromium; "
         "install the Debian package `chromium` (scripts/setup does)";

  TestHttpServer source(datasource);
  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
external_labels = { cluster = "prod" }

[datasource]
url = ")" + source.url() + R"("
retries = 0

[server]
listen = "{{LISTEN}}"
)",
                             {{"rules.toml", kRules}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until(
      [&] {
        std::string alerts = http_get(promwatch.url() + "/api/v1/alerts").body;
        std::string rules = http_get(promwatch.url() + "/api/v1/rules").body;
        return alerts.find("\"DiskAlmostFull\"") != std::string::npos && alerts.find("\"HighLoad\"") != std::string::npos &&
               alerts.find("db2.example:9100") != std::string::npos && rules.find("\"err\"") != std::string::npos;
      },
      20s))
      << promwatch.process().log();

  // A runtime silence (Alertmanager's v2 API) for the pending alert: marked on the page, listed.
  TimePoint t = now();
  std::string silence = R"({"matchers":[{"name":"alertname","value":"HighLoad","isRegex":false,"isEqual":true}],"startsAt":")" +
                        format_rfc3339(t) + R"(","endsAt":")" + format_rfc3339(t + std::chrono::hours(2)) +
                        R"(","createdBy":"oncall <ops>","comment":"deploy window & <b>load test</b>"})";
  HttpResult created = http_request("POST", promwatch.url() + "/api/v2/silences", silence, {"Content-Type: application/json"});
  ASSERT_EQ(created.status, 200) << created.body;

  TempDir profile;
  const fs::path dom_file = profile.path() / "dom.html";
  std::string log;
  int code = run_chromium(chromium, profile.path() / "profile-dom", {"--dump-dom"}, promwatch.url() + "/", dom_file, &log);
  ASSERT_EQ(code, 0) << log;
  const std::string dom = read_file(dom_file);
  ASSERT_FALSE(dom.empty()) << log;

  // The firing alert, with its labels, value, annotation and state.
  EXPECT_NE(dom.find("DiskAlmostFull"), std::string::npos) << dom;
  EXPECT_NE(dom.find("/var/lib/postgresql"), std::string::npos);
  EXPECT_NE(dom.find("db1.example:9100"), std::string::npos);
  EXPECT_NE(dom.find("0.042"), std::string::npos);
  EXPECT_NE(dom.find("Disk /var/lib/postgresql on db1.example:9100 is almost full"), std::string::npos);
  EXPECT_NE(dom.find("<tr class=\"firing\">"), std::string::npos);
  // Pending, the failing rule with its error, the heartbeat members, the silences section.
  EXPECT_NE(dom.find("HighLoad"), std::string::npos);
  EXPECT_NE(dom.find("<tr class=\"pending muted\">"), std::string::npos);  // silenced below
  EXPECT_NE(dom.find("BrokenJoin"), std::string::npos);
  EXPECT_NE(dom.find("many-to-many matching not allowed"), std::string::npos);
  EXPECT_NE(dom.find("db2.example:9100"), std::string::npos);
  EXPECT_NE(dom.find("id=\"heartbeats\""), std::string::npos);
  EXPECT_NE(dom.find("id=\"silences\""), std::string::npos);
  // The silence: the alert it mutes is marked, the silence is listed, its text escaped.
  EXPECT_NE(dom.find("<span class=\"badge silenced\""), std::string::npos);
  EXPECT_NE(dom.find("HighLoad"), std::string::npos);
  EXPECT_NE(dom.find("deploy window &amp; &lt;b&gt;load test&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(dom.find("oncall &lt;ops&gt;"), std::string::npos);
  // The history: each rule's recent states as bands, from the history store.
  EXPECT_NE(dom.find("id=\"history\""), std::string::npos);
  EXPECT_NE(dom.find("<rect class=\"tl-firing\""), std::string::npos);
  EXPECT_NE(dom.find("<rect class=\"tl-pending\""), std::string::npos);
  // Refreshes itself.
  EXPECT_NE(dom.find("http-equiv=\"refresh\""), std::string::npos);
  // Hostile text from labels and annotations is text, never markup: no element came from it.
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  EXPECT_NE(dom.find("&lt;script&gt;alert('x')&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(dom.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  // External labels stay out, as in the API.
  EXPECT_EQ(dom.find("cluster"), std::string::npos);

  // Screenshots for a person to look at: desktop and phone widths.
  keep_screenshots(chromium, profile.path(), promwatch.url() + "/",
                   {{"status_page.png", "1280,1300"}, {"status_page_phone.png", "390,2400"}});
}

}  // namespace
}  // namespace promwatch::test
