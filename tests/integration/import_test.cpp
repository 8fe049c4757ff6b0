// `promwatch import` end to end, against the real thing:
// - rule files in the style of public collections (node-exporter, kube-prometheus
//   PrometheusRule resources, cert-manager; odd alert names, multi-line annotations) imported
//   with `promwatch import rules --out DIR`: every output passes `promwatch check`; the same
//   rules run by a real Prometheus (YAML) and by promwatch (imported TOML) against one tiny
//   exporter give the same alert timelines, the same names in /api/v1/rules and
//   /api/v1/alerts, and the same annotations; the names reach a webhook as they are, show in
//   /api/v2/alerts, escaped on the status page and in the generator URL, and survive a restart.
// - an alertmanager.yml with nested routes, old and new matchers, inhibition and time
//   intervals, imported with `promwatch import alertmanager`: a real Alertmanager with that
//   file and promwatch with the import route one alert stream to the same (receiver, group,
//   alerts) at their webhook sinks.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "promwatch/time.hpp"
#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;
namespace fs = std::filesystem;

fs::path data_dir() { return source_dir() / "tests/integration/import"; }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int promwatch_cmd(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv{promwatch_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, out);
}

// The `groups:` entries of a rule file, or of a PrometheusRule's `spec.groups` (indented two
// more), as lines of one Prometheus rule file: Prometheus reads no PrometheusRule resources.
std::string prometheus_groups(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  bool in_groups = false;
  std::size_t indent = 0;
  while (std::getline(in, line)) {
    if (!in_groups) {
      if (line == "groups:") {
        in_groups = true;
        indent = 0;
      } else if (line == "  groups:") {
        in_groups = true;
        indent = 2;
      }
      continue;
    }
    if (line.rfind("---", 0) == 0) break;
    out += (line.size() >= indent ? line.substr(indent) : line) + "\n";
  }
  return out;
}

const std::vector<std::string> kTimelineFiles = {"node.yml", "kubernetes.yml", "cert-manager.yml"};

TEST(ImportRules, EveryOutputPassesCheckAndWhatIsLeftOutIsListed) {
  TempDir dir;
  std::vector<std::string> args{"import", "rules"};
  for (const auto& f : kTimelineFiles) args.push_back((data_dir() / f).string());
  args.push_back((data_dir() / "recording.yml").string());
  args.push_back("--out");
  args.push_back((dir.path() / "rules").string());
  std::string out;
  // The recording rule is carried over as a recording rule: nothing is left out (exit 0).
  EXPECT_EQ(promwatch_cmd(args, &out), 0) << out;
  EXPECT_EQ(out.find("recording rule"), std::string::npos) << out;
  for (const char* name : {"node", "kubernetes", "cert-manager", "recording"}) {
    EXPECT_TRUE(fs::exists(dir.path() / "rules" / (std::string(name) + ".toml"))) << name << "\n" << out;
  }
  std::string recording = read(dir.path() / "rules" / "recording.toml");
  EXPECT_NE(recording.find("[[groups.rules]]\nrecord = \"instance:node_cpu_utilisation:rate1m\"\n"), std::string::npos)
      << recording;
  // Recording rules write their results through [remote_write]: check wants it, and then passes.
  const std::string base = "[global]\nrule_files = [\"rules/*.toml\"]\n[datasource]\nurl = \"http://127.0.0.1:9\"\n";
  auto config = dir.write("promwatch.toml", base);
  std::string check;
  EXPECT_EQ(promwatch_cmd({"check", "--config", config.string()}, &check), 1) << check;
  EXPECT_NE(check.find("recording rule \"instance:node_cpu_utilisation:rate1m\" needs [remote_write]"), std::string::npos)
      << check;
  config = dir.write("promwatch.toml", base + "[remote_write]\nurl = \"http://127.0.0.1:9/api/v1/write\"\n");
  EXPECT_EQ(promwatch_cmd({"check", "--config", config.string()}, &check), 0) << check;

  // Without --out: one "# file:" section per input on stdout, exit 0 when nothing is left out.
  std::string printed;
  EXPECT_EQ(promwatch_cmd({"import", "rules", (data_dir() / "kubernetes.yml").string()}, &printed), 0) << printed;
  EXPECT_EQ(printed.rfind("# file: " + (data_dir() / "kubernetes.yml").string() + "\n", 0), 0u) << printed;
}

// One observation of every alert in one system, by alertname.
struct Seen {
  std::string state;
  std::string active_at;
  json annotations;
};
using Snapshot = std::map<std::string, Seen>;

Snapshot snapshot(const std::string& base) {
  Snapshot s;
  HttpResult r = http_get(base + "/api/v1/alerts", 2s);
  if (r.status != 200) return s;
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return s;
  for (const auto& a : body["data"]["alerts"]) {
    s[a["labels"]["alertname"].get<std::string>()] = {a["state"], a["activeAt"], a["annotations"]};
  }
  return s;
}

// (group, rule name) pairs of /api/v1/rules.
std::set<std::pair<std::string, std::string>> rule_names(const std::string& base) {
  std::set<std::pair<std::string, std::string>> out;
  HttpResult r = http_get(base + "/api/v1/rules", 2s);
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return out;
  for (const auto& g : body["data"]["groups"]) {
    for (const auto& rule : g["rules"]) out.insert({g["name"].get<std::string>(), rule["name"].get<std::string>()});
  }
  return out;
}

struct Timeline {
  std::map<std::string, std::optional<double>> first_pending, first_firing, resolved;
};

void record(Timeline& t, const Snapshot& s, double at, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto it = s.find(n);
    const std::string state = it == s.end() ? "" : it->second.state;
    if (state == "pending" && !t.first_pending[n]) t.first_pending[n] = at;
    if (state == "firing" && !t.first_firing[n]) t.first_firing[n] = at;
    if (state.empty() && t.first_firing[n] && !t.resolved[n]) t.resolved[n] = at;
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

TEST(ImportRules, SameTimelinesNamesAndAnnotationsAsPrometheus) {
  TinyExporter exporter;
  auto healthy = [&] {
    exporter.set("node_memory_MemAvailable_bytes", 50);
    exporter.set("node_memory_MemTotal_bytes", 100);
    exporter.set("probe_ssl_earliest_cert_expiry", 1700000000 + 86400 * 30);
    exporter.set(R"(pve_up{id="qemu/100"})", 1);
    exporter.set(R"(node_filesystem_avail_bytes{mountpoint="/"})", 50);
    exporter.set(R"(node_filesystem_size_bytes{mountpoint="/"})", 100);
    exporter.set(R"(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",namespace="default",pod="web-1",container="app"})", 0);
    exporter.set(R"(certmanager_certificate_expiration_timestamp_seconds{name="example-com",namespace="cm",exported_namespace="default"})",
                 1700000000 + 86400 * 60);
  };
  healthy();

  std::string prom_rules = "groups:\n";
  for (const auto& f : kTimelineFiles) prom_rules += prometheus_groups(read(data_dir() / f));
  PrometheusProcess prometheus(prom_rules, {exporter.address()});
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log() << prom_rules;

  TempDir imported;
  std::vector<std::string> args{"import", "rules", "--out", imported.path().string()};
  for (const auto& f : kTimelineFiles) args.push_back((data_dir() / f).string());
  std::string out;
  ASSERT_EQ(promwatch_cmd(args, &out), 0) << out;
  std::map<std::string, std::string> files;
  std::string rule_files;
  for (const auto& f : kTimelineFiles) {
    const std::string name = fs::path(f).stem().string() + ".toml";
    files[name] = read(imported.path() / name);
    rule_files += (rule_files.empty() ? "\"" : ", \"") + name + "\"";
  }

  TestHttpServer sink([](const TestRequest&) { return TestResponse{}; });
  PromwatchProcess promwatch(R"([global]
evaluation_interval = "1s"
rule_files = [)" + rule_files + R"(]
state_dir = "{{DIR}}/state"
external_url = "http://promwatch.test:9097/"
[datasource]
url = ")" + prometheus.url() + R"("
timeout = "2s"
[server]
listen = "{{LISTEN}}"
[[receivers]]
name = "sink"
type = "webhook"
url = ")" + sink.url() + R"(/hook"
[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "1s"
group_interval = "1s"
repeat_interval = "1h"
)",
                             files);
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();

  // The same rule names, in the same groups, as Prometheus shows them.
  ASSERT_TRUE(wait_until([&] { return !rule_names(promwatch.url()).empty() && !rule_names(prometheus.url()).empty(); }, 20s));
  EXPECT_EQ(rule_names(promwatch.url()), rule_names(prometheus.url()));

  const std::vector<std::string> names{"HostOutOfMemory", "SslCertificateExpiry(<7Days)", "PveVm/ctDown",
                                       "Host disk almost full", "KubePodCrashLooping", "Cert-managerAbsent",
                                       "CertManagerCertExpirySoon"};
  Timeline prom, pw;
  const SteadyTime start = std::chrono::steady_clock::now();
  Snapshot prom_firing_snapshot, pw_firing_snapshot;
  auto watch = [&](std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      const double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      Snapshot a = snapshot(prometheus.url()), b = snapshot(promwatch.url());
      record(prom, a, at, names);
      record(pw, b, at, names);
      for (const auto& [n, s] : a) {
        if (s.state == "firing") prom_firing_snapshot[n] = s;
      }
      for (const auto& [n, s] : b) {
        if (s.state == "firing") pw_firing_snapshot[n] = s;
      }
      std::this_thread::sleep_for(100ms);
    }
  };
  watch(3s);
  // Raise everything.
  exporter.set("node_memory_MemAvailable_bytes", 5);
  exporter.set("probe_ssl_earliest_cert_expiry", 1700000000 + 86400 * 3);
  exporter.set(R"(pve_up{id="qemu/100"})", 0);
  exporter.set(R"(node_filesystem_avail_bytes{mountpoint="/"})", 5);
  exporter.set(R"(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",namespace="default",pod="web-1",container="app"})", 1);
  exporter.set(R"(certmanager_certificate_expiration_timestamp_seconds{name="example-com",namespace="cm",exported_namespace="default"})",
               1700000000 + 86400 * 10);
  watch(8s);

  // Before resolving: the names reach the webhook, /api/v2/alerts and the page as they are.
  std::set<std::string> notified;
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded()) continue;
    for (const auto& a : body["alerts"]) {
      const std::string name = a["labels"]["alertname"];
      notified.insert(name);
      // The generator URL carries the name percent-encoded (no raw space, `<` or `/` in it).
      const std::string url = a["generatorURL"];
      const std::string fragment = url.substr(url.find('#') + 1);
      EXPECT_EQ(fragment.find_first_of(" <>(/"), std::string::npos) << url;
    }
  }
  for (const auto& n : names) {
    EXPECT_TRUE(notified.count(n)) << n << " was not notified\n" << promwatch.process().log();
  }
  HttpResult v2 = http_get(promwatch.url() + "/api/v2/alerts");
  ASSERT_EQ(v2.status, 200) << v2.body;
  std::set<std::string> v2_names;
  for (const auto& a : json::parse(v2.body)) v2_names.insert(a["labels"]["alertname"].get<std::string>());
  for (const auto& n : names) EXPECT_TRUE(v2_names.count(n)) << n << " not in /api/v2/alerts";
  HttpResult page = http_get(promwatch.url() + "/");
  for (const auto& n : names) {
    EXPECT_NE(page.body.find(html_escape(n)), std::string::npos) << n << " not on the status page";
  }
  EXPECT_EQ(page.body.find("(<7Days)"), std::string::npos) << "a name went onto the page unescaped";

  // The state store keeps them as they are: after a restart, the same alerts with the same activeAt.
  const Snapshot before = snapshot(promwatch.url());
  promwatch.process().stop();
  promwatch.restart();
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  ASSERT_TRUE(wait_until([&] { return snapshot(promwatch.url()).size() >= names.size(); }, 10s));
  const Snapshot after = snapshot(promwatch.url());
  for (const auto& n : names) {
    ASSERT_TRUE(before.count(n) && after.count(n)) << n;
    EXPECT_EQ(after.at(n).active_at, before.at(n).active_at) << n;
  }

  healthy();
  watch(8s);

  // Every alert fired in both, under the same name.
  auto names_of = [](const Snapshot& s) {
    std::set<std::string> out;
    for (const auto& [n, _] : s) out.insert(n);
    return out;
  };
  EXPECT_EQ(names_of(pw_firing_snapshot), names_of(prom_firing_snapshot));
  EXPECT_EQ(names_of(pw_firing_snapshot), std::set<std::string>(names.begin(), names.end()));

  // Alert timelines: first pending, first firing and resolution within one interval (1 s)
  // plus the polling period, and the annotations character for character.
  constexpr double kTolerance = 1.5;
  for (const auto& n : names) {
    SCOPED_TRACE(n);
    ASSERT_TRUE(prom.first_firing[n].has_value()) << "Prometheus never fired it";
    ASSERT_TRUE(pw.first_firing[n].has_value()) << "promwatch never fired it";
    EXPECT_NEAR(*pw.first_firing[n], *prom.first_firing[n], kTolerance);
    EXPECT_EQ(pw.first_pending[n].has_value(), prom.first_pending[n].has_value());
    if (pw.first_pending[n] && prom.first_pending[n]) {
      EXPECT_NEAR(*pw.first_pending[n], *prom.first_pending[n], kTolerance);
    }
    if (n == "Cert-managerAbsent") continue;  // never resolves: cert-manager stays absent
    ASSERT_TRUE(prom.resolved[n].has_value()) << "Prometheus never resolved it";
    ASSERT_TRUE(pw.resolved[n].has_value()) << "promwatch never resolved it";
    // promwatch's restart above happened while these fired; its timeline resumes from the store.
    EXPECT_NEAR(*pw.resolved[n], *prom.resolved[n], kTolerance);
    EXPECT_EQ(pw_firing_snapshot[n].annotations, prom_firing_snapshot[n].annotations);
  }
  EXPECT_EQ(pw_firing_snapshot["Cert-managerAbsent"].annotations, prom_firing_snapshot["Cert-managerAbsent"].annotations);
}

// (destination, groupKey) -> the last message's status and its alerts as "instance:status".
// The destination is the webhook path: a receiver with two integrations is two promwatch
// receivers (with their own names) but the same two URLs.
using Outcome = std::map<std::pair<std::string, std::string>, std::pair<std::string, std::set<std::string>>>;

Outcome outcome(const TestHttpServer& sink) {
  Outcome out;
  for (const auto& r : sink.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded()) continue;
    std::set<std::string> alerts;
    for (const auto& a : body["alerts"]) alerts.insert(a["labels"].value("instance", "") + ":" + a["status"].get<std::string>());
    out[{r.path.substr(1), body["groupKey"]}] = {body["status"], alerts};
  }
  return out;
}

std::string describe(const Outcome& o) {
  std::string s;
  for (const auto& [key, value] : o) {
    s += key.first + " " + key.second + " -> " + value.first + " [";
    for (const auto& a : value.second) s += a + " ";
    s += "]\n";
  }
  return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Every receiver type Alertmanager and promwatch share comes over as a receiver that passes
// `check` once its secret files exist (written by --write-secrets).
TEST(ImportAlertmanager, PagingMailAndChatReceiversPassCheck) {
  TempDir dir;
  const fs::path am = dir.write("alertmanager.yml", R"(global:
  smtp_smarthost: smtp.example.com:587
  smtp_from: alerts@example.com
  smtp_auth_username: alerts@example.com
  smtp_auth_password: smtp-s3cret
  opsgenie_api_key: og-s3cret
route:
  receiver: default
  routes:
    - receiver: all
      matchers: [severity="page"]
receivers:
  - name: default
    webhook_configs:
      - url: http://127.0.0.1:9/hook
  - name: all
    email_configs:
      - to: ops@example.com, "Lead, DB" <lead@example.com>
        headers: {Subject: 'Alert {{ .CommonLabels.alertname }}'}
    pagerduty_configs:
      - routing_key: pd-s3cret
        severity: warning
    opsgenie_configs:
      - responders: [{type: team, name: ops}]
        tags: prod
    pushover_configs:
      - user_key: po-user-s3cret
        token: po-token-s3cret
        priority: 1
    webex_configs:
      - room_id: Y2lzY29zcGFyazovL3VzL1JPT00v
        api_url: https://webexapis.com/v1/messages
        http_config: {authorization: {credentials: wx-s3cret}}
    msteamsv2_configs:
      - webhook_url: https://prod-1.westeurope.logic.azure.com/workflows/ms-s3cret
    rocketchat_configs:
      - channel: '#ops'
        token_id: uid
        token: rc-s3cret
)");
  std::string out;
  EXPECT_EQ(promwatch_cmd({"import", "alertmanager", am.string(), "--out", (dir.path() / "routing.toml").string(),
                           "--write-secrets", (dir.path() / "secrets").string()},
                          &out),
            0)
      << out;
  const std::string imported = read(dir.path() / "routing.toml");
  for (const char* secret : {"smtp-s3cret", "og-s3cret", "pd-s3cret", "po-user-s3cret", "po-token-s3cret", "wx-s3cret",
                             "ms-s3cret", "rc-s3cret"}) {
    EXPECT_EQ(imported.find(secret), std::string::npos) << secret << " in\n" << imported;
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " printed:\n" << out;
  }
  for (const char* type : {"email", "pagerduty", "opsgenie", "pushover", "webex", "msteamsv2", "rocketchat"}) {
    EXPECT_NE(imported.find("type = \"" + std::string(type) + "\""), std::string::npos) << type << "\n" << imported;
  }
  auto config = dir.write("promwatch.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n" + imported);
  std::string check;
  EXPECT_EQ(promwatch_cmd({"check", "--config", config.string()}, &check), 0) << check << imported;
  EXPECT_NE(check.find("8 receivers"), std::string::npos) << check;
}

TEST(ImportAlertmanager, SameRoutingAsAlertmanagerWithTheSameFile) {
  std::atomic<int> phase{1};
  TestHttpServer datasource([&](const TestRequest&) {
    auto series = [](const char* instance, const char* team, const char* severity) {
      return std::string(R"({"metric":{"instance":")") + instance + R"(","team":")" + team + R"(","severity":")" + severity +
             R"("},"value":[1700000000,"1"]})";
    };
    std::string result = series("i1", "db", "critical") + "," + series("i1", "web", "warning") + "," +
                         series("i3", "web", "warning") + "," + series("i4", "web", "critical") + "," +
                         series("i5", "ops", "warning") + "," + series("i6", "nobody", "critical");
    if (phase == 1) result += "," + series("i2", "db", "warning");
    TestResponse r;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[)" + result + "]}}";
    return r;
  });
  TestHttpServer am_sink([](const TestRequest&) { return TestResponse{}; });
  TestHttpServer pw_sink([](const TestRequest&) { return TestResponse{}; });

  const std::string am_yaml = replace_all(read(data_dir() / "alertmanager.yml"), "SINK", am_sink.url());
  AlertmanagerProcess alertmanager(am_yaml);
  ASSERT_TRUE(alertmanager.wait_ready()) << alertmanager.process().log();

  // Import the very file Alertmanager runs; the webhook URLs (secrets) land in files, which
  // are then pointed at promwatch's own sink.
  TempDir work;
  const fs::path am_file = work.write("alertmanager.yml", am_yaml);
  const fs::path secrets = work.path() / "secrets";
  std::string out;
  ASSERT_EQ(promwatch_cmd({"import", "alertmanager", am_file.string(), "--out", (work.path() / "routing.toml").string(),
                           "--write-secrets", secrets.string()},
                          &out),
            0)
      << out;
  EXPECT_EQ(out.find(am_sink.url()), std::string::npos) << "a secret was printed: " << out;
  const std::string imported = read(work.path() / "routing.toml");
  EXPECT_EQ(imported.find(am_sink.url()), std::string::npos) << "a secret is in the output:\n" << imported;
  int url_files = 0;
  for (const auto& e : fs::directory_iterator(secrets)) {
    EXPECT_EQ(fs::status(e.path()).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
    const std::string url = replace_all(read(e.path()), am_sink.url(), pw_sink.url());
    std::ofstream(e.path(), std::ios::trunc) << url;
    ++url_files;
  }
  EXPECT_EQ(url_files, 7);

  PromwatchProcess promwatch(R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + datasource.url() + R"("
[server]
listen = "{{LISTEN}}"
[[alertmanagers]]
url = ")" + alertmanager.url() + R"("
resend_delay = "1s"
)" + imported,
                             {{"rules.toml", "[[groups]]\nname = \"g\"\ninterval = \"1s\"\n[[groups.rules]]\nalert = \"Load\"\nexpr = 'load > 0'\n"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log() << imported;

  auto settled = [&](std::chrono::seconds timeout, const Outcome& not_this) {
    return wait_until(
        [&] {
          Outcome a = outcome(am_sink);
          return !a.empty() && a != not_this && a == outcome(pw_sink);
        },
        timeout);
  };
  EXPECT_TRUE(settled(30s, {})) << "Alertmanager:\n" << describe(outcome(am_sink)) << "promwatch:\n" << describe(outcome(pw_sink));
  const Outcome firing = outcome(pw_sink);
  // The tree did what the file says: the inhibited i1 warning, the muted i3, i6 routed to the
  // receiver without integrations, and the parent team-web (whose children matched) get nothing.
  std::set<std::string> receivers;
  for (const auto& [key, value] : firing) receivers.insert(key.first);
  EXPECT_EQ(receivers, (std::set<std::string>{"db-critical", "team-db", "web-never-muted", "web-never-muted-copy", "default"}))
      << describe(firing);

  phase = 2;  // i2 goes away: its resolution reaches team-db at both
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(settled(30s, firing)) << "Alertmanager:\n" << describe(outcome(am_sink)) << "promwatch:\n" << describe(outcome(pw_sink));
}

}  // namespace
}  // namespace promwatch::test
