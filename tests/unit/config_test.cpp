// The config loader: every file written to a fresh temp dir, loaded, and the result or the
// exact `file:line:col: message` sentences checked.

#include "promwatch/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace promwatch {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* const kDatasource = "[datasource]\nurl = \"http://prom:9090\"\n";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "promwatch-config-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }

  std::string write(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(path(rel)).parent_path());
    std::ofstream(path(rel), std::ios::binary) << content;
    return path(rel);
  }

  LoadResult load(const std::string& main, std::map<std::string, std::string> env = {}) {
    write("promwatch.toml", main);
    return load_config(path("promwatch.toml"), [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
  }

  // Errors as text, with the temp dir removed so expectations read `promwatch.toml:3:1: ...`.
  std::vector<std::string> texts(const std::vector<ConfigError>& errors) const {
    std::vector<std::string> out;
    for (const auto& e : errors) {
      std::string s = e.to_string();
      for (std::size_t p; (p = s.find(dir_ + "/")) != std::string::npos;) s.erase(p, dir_.size() + 1);
      out.push_back(s);
    }
    return out;
  }
  std::vector<std::string> errors(const std::string& main, std::map<std::string, std::string> env = {}) {
    LoadResult r = load(main, std::move(env));
    EXPECT_EQ(r.config.has_value(), r.errors.empty());
    return texts(r.errors);
  }
  Config ok(const std::string& main, std::map<std::string, std::string> env = {}) {
    LoadResult r = load(main, std::move(env));
    EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(texts(r.errors));
    return r.config ? *r.config : Config{};
  }

  std::string dir_;
};

using Errors = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Small value helpers

TEST(ConfigTypes, SourcePosAndErrorText) {
  EXPECT_EQ((SourcePos{"a.toml", 3, 7}).to_string(), "a.toml:3:7");
  EXPECT_EQ((SourcePos{"a.toml", 3, 0}).to_string(), "a.toml:3");
  EXPECT_EQ((SourcePos{"a.toml", 0, 0}).to_string(), "a.toml");
  EXPECT_EQ((ConfigError{{"a.toml", 1, 2}, "bad"}).to_string(), "a.toml:1:2: bad");
}

TEST(ConfigTypes, RedactUrl) {
  EXPECT_EQ(redact_url("https://oapi.dingtalk.com/robot/send?access_token=abc"), "https://oapi.dingtalk.com/…");
  EXPECT_EQ(redact_url("http://user:pw@host:8080/x"), "http://host:8080/…");
  EXPECT_EQ(redact_url("http://[::1]:9093"), "http://[::1]:9093/…");
  EXPECT_EQ(redact_url("https://hooks.slack.com"), "https://hooks.slack.com/…");
  EXPECT_EQ(redact_url("not a url with secret"), "…");
}

TEST(ConfigTypes, AuthorizationHeaderAndReceiverNames) {
  EXPECT_EQ((Authorization{"Bearer", "tok"}).header_value(), "Bearer tok");
  EXPECT_EQ((Authorization{"raw", "tok"}).header_value(), "tok");
  // One row per type, in the documented order; every row builds its receiver.
  std::vector<std::string> names;
  for (const auto& t : receiver_types()) {
    names.emplace_back(t.name);
    EXPECT_NE(t.make, nullptr) << t.name;
    EXPECT_EQ(find_receiver_type(t.name), &t);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"webhook", "slack", "dingtalk", "feishu", "wecom", "discord", "teams",
                                             "telegram", "email", "pagerduty", "opsgenie", "pushover"}));
  EXPECT_EQ(find_receiver_type("dingtalkk"), nullptr);
}

TEST(ConfigTypes, ProcessEnvironment) {
  ::setenv("PROMWATCH_CONFIG_TEST_VAR", "v1", 1);
  auto env = process_environment();
  EXPECT_EQ(env("PROMWATCH_CONFIG_TEST_VAR"), "v1");
  EXPECT_EQ(env("PROMWATCH_CONFIG_TEST_UNSET_VAR"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Defaults

TEST_F(ConfigTest, MinimalConfigGetsDefaults) {
  Config c = ok(kDatasource);
  EXPECT_EQ(c.path, path("promwatch.toml"));
  EXPECT_EQ(c.global.evaluation_interval, 1min);
  EXPECT_EQ(c.global.state_dir, "./data");
  EXPECT_EQ(c.global.outage_tolerance, 1h);
  EXPECT_EQ(c.global.for_grace_period, 10min);
  EXPECT_TRUE(c.global.external_labels.empty());
  EXPECT_EQ(c.datasource.url, "http://prom:9090");
  EXPECT_EQ(c.datasource.method, "POST");
  EXPECT_EQ(c.datasource.http.timeout, 10s);
  EXPECT_EQ(c.datasource.max_concurrent_queries, 64);
  EXPECT_EQ(c.datasource.max_response_bytes, 64ull << 20);
  EXPECT_EQ(c.datasource.retries, 2);
  EXPECT_EQ(c.datasource.down_after, 3);
  EXPECT_FALSE(c.datasource.http.basic_auth);
  EXPECT_FALSE(c.datasource.http.authorization);
  EXPECT_EQ(c.server.listen, "127.0.0.1:9097");
  EXPECT_FALSE(c.server.enable_lifecycle);
  EXPECT_TRUE(c.server.enable_silence_api);
  EXPECT_EQ(c.notify.timeout, 10s);
  EXPECT_EQ(c.notify.max_attempts, 0);
  EXPECT_EQ(c.notify.shutdown_grace, 5s);
  EXPECT_EQ(c.notify.max_response_bytes, 64u << 10);
  EXPECT_FALSE(c.deadman);
  EXPECT_FALSE(c.route);
  EXPECT_TRUE(c.groups.empty());
}

TEST_F(ConfigTest, StateDirFromEnvironment) {
  EXPECT_EQ(ok(kDatasource, {{"STATE_DIRECTORY", "/var/lib/promwatch"}}).global.state_dir, "/var/lib/promwatch");
  EXPECT_EQ(ok(kDatasource, {{"STATE_DIRECTORY", "/var/lib/a:/var/lib/b"}}).global.state_dir, "/var/lib/a");
  EXPECT_EQ(ok(std::string(kDatasource) + "[global]\nstate_dir = \"/srv/pw\"\n", {{"STATE_DIRECTORY", "/x"}})
                .global.state_dir,
            "/srv/pw");
}

TEST_F(ConfigTest, FullMainConfig) {
  write("secrets/ak_secret", "s3cr3t\n");
  write("ca.pem", "pem");
  write("templates/a.tmpl", "{{ define \"x\" }}{{ end }}");
  write("templates/b.tmpl", "");
  Config c = ok(R"(
[global]
evaluation_interval = "30s"
state_dir = "/var/lib/promwatch"
external_url = "http://myhost:9097"
external_labels = { cluster = "prod", region = "cn" }
generator_url = "{{ .ExternalURL }}/x"
outage_tolerance = "2h"
for_grace_period = "5m"

[datasource]
url = "https://cn-hangzhou.arms.aliyuncs.com:9443/api/v1/prometheus/xxxx"
timeout = "20s"
method = "get"
query_params = { dedup = "true", partial = "1" }
basic_auth = { username = "${AK_ID}", password_file = "secrets/ak_secret" }
headers = { "X-Scope-OrgID" = "team-a" }
tls = { ca_file = "ca.pem", server_name = "prom.internal", insecure_skip_verify = true }
proxy_url = "http://proxy:3128"
max_concurrent_queries = 8
max_response_bytes = "1MiB"
retries = 0
down_after = 5

[server]
listen = "[::1]:9097"
basic_auth = { username = "admin", password = "pw" }
enable_lifecycle = true
enable_silence_api = false

[notify]
timeout = "3s"
max_attempts = 5
shutdown_grace = "1s"
max_response_bytes = 1024
templates = ["templates/*.tmpl"]

[deadman]
url = "https://hc-ping.example/uuid"
interval = "2m"

[[alertmanagers]]
url = "http://127.0.0.1:9093"
resend_delay = "2m"
authorization = { type = "raw", credentials = "tok" }
)",
                {{"AK_ID", "LTAI123"}});
  EXPECT_EQ(c.global.evaluation_interval, 30s);
  EXPECT_EQ(c.global.state_dir, "/var/lib/promwatch");
  EXPECT_EQ(c.global.external_url, "http://myhost:9097");
  EXPECT_EQ(c.global.external_labels, (Labels{{"cluster", "prod"}, {"region", "cn"}}));
  EXPECT_EQ(c.global.generator_url, "{{ .ExternalURL }}/x");
  EXPECT_EQ(c.global.outage_tolerance, 2h);
  EXPECT_EQ(c.global.for_grace_period, 5min);
  EXPECT_EQ(c.datasource.method, "GET");
  EXPECT_EQ(c.datasource.http.timeout, 20s);
  EXPECT_EQ(c.datasource.query_params,
            (std::vector<std::pair<std::string, std::string>>{{"dedup", "true"}, {"partial", "1"}}));
  ASSERT_TRUE(c.datasource.http.basic_auth);
  EXPECT_EQ(c.datasource.http.basic_auth->username, "LTAI123");
  EXPECT_EQ(c.datasource.http.basic_auth->password, "s3cr3t");
  EXPECT_EQ(c.datasource.http.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Scope-OrgID", "team-a"}}));
  EXPECT_EQ(c.datasource.http.tls.ca_file, path("ca.pem"));
  EXPECT_EQ(c.datasource.http.tls.server_name, "prom.internal");
  EXPECT_TRUE(c.datasource.http.tls.insecure_skip_verify);
  EXPECT_EQ(c.datasource.http.proxy_url, "http://proxy:3128");
  EXPECT_EQ(c.datasource.max_concurrent_queries, 8);
  EXPECT_EQ(c.datasource.max_response_bytes, 1u << 20);
  EXPECT_EQ(c.datasource.retries, 0);
  EXPECT_EQ(c.datasource.down_after, 5);
  EXPECT_EQ(c.server.listen, "[::1]:9097");
  ASSERT_TRUE(c.server.basic_auth);
  EXPECT_EQ(c.server.basic_auth->password, "pw");
  EXPECT_TRUE(c.server.enable_lifecycle);
  EXPECT_FALSE(c.server.enable_silence_api);
  EXPECT_EQ(c.notify.timeout, 3s);
  EXPECT_EQ(c.notify.max_attempts, 5);
  EXPECT_EQ(c.notify.shutdown_grace, 1s);
  EXPECT_EQ(c.notify.max_response_bytes, 1024u);
  EXPECT_EQ(c.notify.templates, (std::vector<std::string>{path("templates/a.tmpl"), path("templates/b.tmpl")}));
  ASSERT_TRUE(c.deadman);
  EXPECT_EQ(c.deadman->url, "https://hc-ping.example/uuid");
  EXPECT_EQ(c.deadman->interval, 2min);
  EXPECT_EQ(c.deadman->http.timeout, 3s);  // notify.timeout
  ASSERT_EQ(c.alertmanagers.size(), 1u);
  EXPECT_EQ(c.alertmanagers[0].url, "http://127.0.0.1:9093");
  EXPECT_EQ(c.alertmanagers[0].resend_delay, 2min);
  ASSERT_TRUE(c.alertmanagers[0].http.authorization);
  EXPECT_EQ(c.alertmanagers[0].http.authorization->header_value(), "tok");
  EXPECT_EQ(c.alertmanagers[0].pos.line, 42);
}

TEST_F(ConfigTest, ClusterDefaultsAndKeys) {
  Config c = ok(std::string(kDatasource) + (R"([cluster]
etcd_endpoints = ["http://10.0.0.1:2379", "https://10.0.0.2:2379/"]
basic_auth = { username = "promwatch", password = "pw" }
timeout = "2s"
)"));
  ASSERT_TRUE(c.cluster);
  EXPECT_EQ(c.cluster->etcd_endpoints.size(), 2u);
  EXPECT_EQ(c.cluster->name, "promwatch");
  EXPECT_FALSE(c.cluster->member.empty());  // the host name
  EXPECT_EQ(c.cluster->lease_ttl, 10s);
  EXPECT_EQ(c.cluster->fail_open_after, 30s);
  EXPECT_EQ(c.cluster->http.timeout, 2s);
  ASSERT_TRUE(c.cluster->http.basic_auth);
  EXPECT_EQ(c.cluster->http.basic_auth->username, "promwatch");
  Config named = ok(std::string(kDatasource) + ("[cluster]\netcd_endpoints = [\"http://e:2379\"]\nname = \"prod.alerts\"\nmember = \"a-1\"\n"
                       "lease_ttl = \"3s\"\nfail_open_after = \"4s\"\n"));
  ASSERT_TRUE(named.cluster);
  EXPECT_EQ(named.cluster->member, "a-1");
  EXPECT_EQ(named.cluster->lease_ttl, 3s);
  EXPECT_FALSE(ok(kDatasource).cluster);
}

TEST_F(ConfigTest, AuthorizationDefaultsToBearer) {
  write("token", "abc\r\n\n");
  Config c = ok("[datasource]\nurl = \"http://p\"\nauthorization = { credentials_file = \"token\" }\n");
  ASSERT_TRUE(c.datasource.http.authorization);
  EXPECT_EQ(c.datasource.http.authorization->type, "Bearer");
  EXPECT_EQ(c.datasource.http.authorization->credentials, "abc");
  EXPECT_EQ(c.datasource.http.authorization->header_value(), "Bearer abc");
}

// ---------------------------------------------------------------------------------------------
// Errors in the main file: one table of inputs and the exact sentences they produce.

struct BadCase {
  const char* name;
  std::string toml;
  Errors errors;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class MainConfigErrors : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(MainConfigErrors, ExactMessages) {
  EXPECT_EQ(errors(GetParam().toml), GetParam().errors) << GetParam().name;
}

std::string ds(const std::string& rest) { return std::string(kDatasource) + rest; }

const BadCase kMainCases[] = {
    {"duration_type", ds("[global]\nevaluation_interval = 60\n"),
     {"promwatch.toml:4:23: evaluation_interval: expected a duration string like \"1m\", got integer"}},
    {"duration_syntax", ds("[global]\nevaluation_interval = \"1x\"\n"),
     {"promwatch.toml:4:23: evaluation_interval: invalid duration \"1x\" (use Prometheus syntax like \"1h30m\", "
      "\"90s\" or \"500ms\")"}},
    {"duration_zero", ds("[global]\nevaluation_interval = \"0s\"\n"),
     {"promwatch.toml:4:23: evaluation_interval: must be greater than 0"}},
    {"unknown_key_hint", ds("[global]\nevaluaton_interval = \"1m\"\n"),
     {"promwatch.toml:4:1: unknown key \"evaluaton_interval\" in [global]; did you mean \"evaluation_interval\"?"}},
    {"unknown_key_no_hint", ds("[global]\nzzz = 1\n"), {"promwatch.toml:4:1: unknown key \"zzz\" in [global]"}},
    {"unknown_table_hint", ds("[[recievers]]\nname = \"x\"\n"),
     {"promwatch.toml:3:3: unknown key \"recievers\" in the main config; did you mean \"receivers\"?"}},
    {"bad_external_label", ds("[global]\nexternal_labels = { \"bad-name\" = \"x\" }\n"),
     {"promwatch.toml:4:21: external_labels: invalid label name \"bad-name\" (must match [a-zA-Z_][a-zA-Z0-9_]*)"}},
    {"external_label_type", ds("[global]\nexternal_labels = { a = 1 }\n"),
     {"promwatch.toml:4:25: external_labels.a: expected a string, got integer"}},
    {"external_url", ds("[global]\nexternal_url = \"myhost:9097\"\n"),
     {"promwatch.toml:4:16: external_url: expected an http:// or https:// URL with a host"}},
    {"rule_files_type", ds("[global]\nrule_files = \"rules/*.toml\"\n"),
     {"promwatch.toml:4:14: rule_files: expected an array of strings, got string"}},
    {"rule_file_missing", ds("[global]\nrule_files = [\"rules/x.toml\"]\n"),
     {"promwatch.toml:4:15: rule_files[0]: \"rules/x.toml\": No such file or directory"}},
    {"missing_datasource", "", {"promwatch.toml: missing required table [datasource]"}},
    {"datasource_url_missing", "[datasource]\ntimeout = \"5s\"\n",
     {"promwatch.toml:1:1: missing required key \"url\" in [datasource]"}},
    {"datasource_url_scheme", "[datasource]\nurl = \"ftp://prom\"\n",
     {"promwatch.toml:2:7: url: expected an http:// or https:// URL with a host"}},
    {"datasource_method", "[datasource]\nurl = \"http://p\"\nmethod = \"PUT\"\n",
     {"promwatch.toml:3:10: method: must be \"POST\" or \"GET\", got \"PUT\""}},
    {"datasource_numbers",
     "[datasource]\nurl = \"http://p\"\nmax_concurrent_queries = 0\nretries = -1\ndown_after = 0\n"
     "max_response_bytes = \"64XB\"\n",
     {"promwatch.toml:3:26: max_concurrent_queries: must be at least 1, got 0",
      "promwatch.toml:4:11: retries: must be between 0 and 100, got -1",
      "promwatch.toml:5:14: down_after: must be at least 1, got 0",
      "promwatch.toml:6:22: max_response_bytes: invalid size \"64XB\" (use bytes, or a number with B, KB, MB, GB, KiB, "
      "MiB or GiB like \"64MiB\")"}},
    {"size_type", "[datasource]\nurl = \"http://p\"\nmax_response_bytes = true\n",
     {"promwatch.toml:3:22: max_response_bytes: expected a size (bytes, or a string like \"64MiB\"), got boolean"}},
    {"query_params", "[datasource]\nurl = \"http://p\"\nquery_params = { a = 1 }\n",
     {"promwatch.toml:3:22: query_params.a: expected a string, got integer"}},
    {"basic_and_authorization",
     "[datasource]\nurl = \"http://p\"\nbasic_auth = { username = \"u\", password = \"p\" }\n"
     "authorization = { credentials = \"c\" }\n",
     {"promwatch.toml:4:1: basic_auth and authorization are mutually exclusive; set only one"}},
    {"basic_auth_missing_password", "[datasource]\nurl = \"http://p\"\nbasic_auth = { username = \"u\" }\n",
     {"promwatch.toml:3:14: missing required key \"password\" (or \"password_file\") in basic_auth"}},
    {"basic_auth_unknown", "[datasource]\nurl = \"http://p\"\nbasic_auth = { user = \"u\", password = \"p\" }\n",
     {"promwatch.toml:3:14: missing required key \"username\" in basic_auth",
      "promwatch.toml:3:16: unknown key \"user\" in basic_auth; did you mean \"username\"?"}},
    {"authorization_missing_credentials", "[datasource]\nurl = \"http://p\"\nauthorization = { type = \"raw\" }\n",
     {"promwatch.toml:3:17: missing required key \"credentials\" (or \"credentials_file\") in authorization"}},
    {"authorization_basic", "[datasource]\nurl = \"http://p\"\nauthorization = { type = \"Basic\", credentials = \"c\" }\n",
     {"promwatch.toml:3:26: type: \"Basic\" is not allowed here; use basic_auth"}},
    {"empty_secret_file", "[datasource]\nurl = \"http://p\"\nbasic_auth = { username = \"u\", password_file = \"\" }\n",
     {"promwatch.toml:3:48: password_file: must not be empty"}},
    {"authorization_header", "[datasource]\nurl = \"http://p\"\nheaders = { authorization = \"Bearer x\" }\n",
     {"promwatch.toml:3:13: headers: \"authorization\" is not allowed here; use the authorization table "
      "(authorization = { type = \"Bearer\", credentials_file = \"...\" })"}},
    {"authorization_header_case", "[datasource]\nurl = \"http://p\"\nheaders = { AUTHORIZATION = \"x\" }\n",
     {"promwatch.toml:3:13: headers: \"AUTHORIZATION\" is not allowed here; use the authorization table "
      "(authorization = { type = \"Bearer\", credentials_file = \"...\" })"}},
    {"header_name", "[datasource]\nurl = \"http://p\"\nheaders = { \"X Y\" = \"v\" }\n",
     {"promwatch.toml:3:13: headers: invalid header name \"X Y\""}},
    {"tls_missing_file", "[datasource]\nurl = \"http://p\"\ntls = { ca_file = \"/nonexistent/ca.pem\" }\n",
     {"promwatch.toml:3:19: ca_file \"/nonexistent/ca.pem\": No such file or directory"}},
    {"tls_unknown", "[datasource]\nurl = \"http://p\"\ntls = { insecure = true }\n",
     {"promwatch.toml:3:9: unknown key \"insecure\" in tls; did you mean \"insecure_skip_verify\"?"}},
    {"proxy_url", "[datasource]\nurl = \"http://p\"\nproxy_url = \"proxy:3128\"\n",
     {"promwatch.toml:3:13: proxy_url: expected a URL like \"http://proxy:3128\" (http, https, socks4, socks5 or "
      "socks5h)"}},
    {"listen", ds("[server]\nlisten = \"9097\"\n"),
     {"promwatch.toml:4:10: listen: expected \"host:port\", \"[ipv6]:port\" or \":port\", got \"9097\""}},
    {"listen_v6_unbracketed", ds("[server]\nlisten = \"::1:9097\"\n"),
     {"promwatch.toml:4:10: listen: expected \"host:port\", \"[ipv6]:port\" or \":port\", got \"::1:9097\""}},
    {"server_bool", ds("[server]\nenable_lifecycle = \"yes\"\n"),
     {"promwatch.toml:4:20: enable_lifecycle: expected true or false, got string"}},
    {"notify_template_missing", ds("[notify]\ntemplates = [\"x.tmpl\"]\n"),
     {"promwatch.toml:4:14: templates[0]: \"x.tmpl\": No such file or directory"}},
    {"notify_max_attempts", ds("[notify]\nmax_attempts = -1\n"),
     {"promwatch.toml:4:16: max_attempts: must be at least 0, got -1"}},
    {"deadman_missing_url", ds("[deadman]\ninterval = \"1m\"\n"),
     {"promwatch.toml:3:1: missing required key \"url\" (or \"url_file\") in [deadman]"}},
    {"deadman_bad_url_secret", ds("[deadman]\nurl = \"hc-ping.example/SECRETUUID\"\n"),
     {"promwatch.toml:4:7: url: expected an http:// or https:// URL with a host"}},
    {"alertmanager_url", ds("[[alertmanagers]]\nresend_delay = \"1m\"\n"),
     {"promwatch.toml:3:1: missing required key \"url\" in [[alertmanagers]]"}},
    {"cluster_missing_endpoints", ds("[cluster]\nname = \"p\"\n"),
     {"promwatch.toml:3:1: missing required key \"etcd_endpoints\" in [cluster]"}},
    {"cluster_bad_endpoint", ds("[cluster]\netcd_endpoints = [\"127.0.0.1:2379\"]\n"),
     {"promwatch.toml:4:18: etcd_endpoints[0]: expected an http:// or https:// URL with a host"}},
    {"cluster_name", ds("[cluster]\netcd_endpoints = [\"http://e:2379\"]\nname = \"a/b\"\n"),
     {"promwatch.toml:5:8: name: use letters, digits, '_', '.' and '-' only, got \"a/b\""}},
    {"cluster_lease_ttl", ds("[cluster]\netcd_endpoints = [\"http://e:2379\"]\nlease_ttl = \"1500ms\"\n"),
     {"promwatch.toml:5:13: lease_ttl: must be whole seconds, at least 2s, got \"1s500ms\""}},
    {"cluster_fail_open", ds("[cluster]\netcd_endpoints = [\"http://e:2379\"]\nlease_ttl = \"30s\"\n"),
     {"promwatch.toml:3:1: fail_open_after (30s) must be longer than lease_ttl (30s): a replica would notify on "
      "its own before a leader's lease ran out"}},
    {"cluster_unknown_key", ds("[cluster]\netcd_endpoints = [\"http://e:2379\"]\nleasettl = \"2s\"\n"),
     {"promwatch.toml:5:1: unknown key \"leasettl\" in [cluster]; did you mean \"lease_ttl\"?"}},
    {"table_type", "server = 1\n" + ds(""), {"promwatch.toml:1:10: server: expected a table, got integer"}},
    {"toml_syntax", "[datasource\n", {"promwatch.toml:1:12: Error while parsing table header: expected ']', saw '\\n'"}},
};

INSTANTIATE_TEST_SUITE_P(Table, MainConfigErrors, ::testing::ValuesIn(kMainCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigTest, AllErrorsAreCollected) {
  auto e = errors(
      "[global]\nevaluation_interval = 1\nfoo = 2\n[datasource]\nurl = \"x\"\n[server]\nlisten = \"nope\"\n");
  EXPECT_EQ(e, (Errors{
                   "promwatch.toml:2:23: evaluation_interval: expected a duration string like \"1m\", got integer",
                   "promwatch.toml:3:1: unknown key \"foo\" in [global]",
                   "promwatch.toml:5:7: url: expected an http:// or https:// URL with a host",
                   "promwatch.toml:7:10: listen: expected \"host:port\", \"[ipv6]:port\" or \":port\", got \"nope\"",
               }));
}

TEST_F(ConfigTest, MissingMainFile) {
  LoadResult r = load_config(path("nope.toml"), [](const std::string&) { return std::nullopt; });
  EXPECT_FALSE(r.config);
  EXPECT_EQ(texts(r.errors), (Errors{"nope.toml: No such file or directory"}));
}

// ---------------------------------------------------------------------------------------------
// Environment expansion

TEST_F(ConfigTest, EnvExpansion) {
  Config c = ok("[datasource]\nurl = \"http://${HOST}:${PORT}/api\"\nheaders = { \"X-A\" = \"$${literal} ${HOST}\" }\n"
                "[global]\nexternal_labels = { env = \"${ENVNAME}\" }\n",
                {{"HOST", "prom"}, {"PORT", "9090"}, {"ENVNAME", "prod"}});
  EXPECT_EQ(c.datasource.url, "http://prom:9090/api");
  EXPECT_EQ(c.datasource.http.headers[0].second, "${literal} prom");
  EXPECT_EQ(c.global.external_labels.get("env"), "prod");
}

TEST_F(ConfigTest, EnvErrors) {
  EXPECT_EQ(errors("[datasource]\nurl = \"http://${UNSET_HOST}/${ALSO_UNSET}\"\n"),
            (Errors{"promwatch.toml:2:7: url: environment variable \"UNSET_HOST\" is not set",
                    "promwatch.toml:2:7: url: environment variable \"ALSO_UNSET\" is not set"}));
  EXPECT_EQ(errors("[datasource]\nurl = \"http://${HOST\"\n"),
            (Errors{"promwatch.toml:2:7: url: unterminated \"${\" (write \"$${\" for a literal \"${\")"}));
  EXPECT_EQ(errors("[datasource]\nurl = \"http://${1X}\"\n"),
            (Errors{"promwatch.toml:2:7: url: invalid environment variable name \"1X\" in \"${...}\" (write \"$${\" for "
                    "a literal \"${\")"}));
  EXPECT_EQ(errors(ds("[global]\nrule_files = [\"${RULES}\"]\n")),
            (Errors{"promwatch.toml:4:15: rule_files[0]: environment variable \"RULES\" is not set"}));
}

TEST_F(ConfigTest, RuleFilesAreNotExpanded) {
  write("rules/a.toml", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = \"up\"\n"
                        "labels = { x = \"${NOT_EXPANDED}\" }\n");
  Config c = ok(ds("[global]\nrule_files = [\"rules/*.toml\"]\n"));
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].rules[0].labels[0].second.text, "${NOT_EXPANDED}");
}

// ---------------------------------------------------------------------------------------------
// Secrets

TEST_F(ConfigTest, SecretFiles) {
  write("pw", "hunter2\n");
  write("url", "https://oapi.dingtalk.com/robot/send?access_token=TOKEN\n");
  write("sign", "SIGNSECRET");
  write("bot", "123:abc\n");
  Config c = ok(ds(R"(
[server]
basic_auth = { username = "u", password_file = "pw" }
[deadman]
url_file = "url"
[[receivers]]
name = "d"
type = "dingtalk"
url_file = "url"
secret_file = "sign"
[[receivers]]
name = "t"
type = "telegram"
bot_token_file = "bot"
chat_id = -100123
)"));
  EXPECT_EQ(c.server.basic_auth->password, "hunter2");
  EXPECT_EQ(c.deadman->url, "https://oapi.dingtalk.com/robot/send?access_token=TOKEN");
  EXPECT_EQ(c.receivers[0].url, "https://oapi.dingtalk.com/robot/send?access_token=TOKEN");
  EXPECT_EQ(c.receivers[0].secret, "SIGNSECRET");
  EXPECT_EQ(c.receivers[1].bot_token, "123:abc");
  EXPECT_EQ(c.receivers[1].chat_id, "-100123");
  EXPECT_EQ(c.receivers[1].parse_mode, "HTML");
}

TEST_F(ConfigTest, SecretErrorsNeverShowTheValue) {
  write("badurl", "ftp://TOPSECRET/x\n");
  write("dir/.keep", "");
  auto e = errors(ds(R"([server]
basic_auth = { username = "u", password = "TOPSECRET", password_file = "pw" }
[[receivers]]
name = "a"
type = "slack"
url_file = "badurl"
[[receivers]]
name = "b"
type = "webhook"
url = "http://h/TOPSECRET"
url_file = "missing"
[[receivers]]
name = "c"
type = "webhook"
url = "TOPSECRET"
[[receivers]]
name = "d"
type = "webhook"
url_file = "dir"
[[alertmanagers]]
url = "http://am"
headers = { "X-Token" = "TOPSECRET\nInjected: 1" }
)"));
  EXPECT_EQ(e, (Errors{
                   "promwatch.toml:4:56: password and password_file are mutually exclusive; set only one",
                   "promwatch.toml:8:12: url_file: expected an http:// or https:// URL with a host",
                   "promwatch.toml:13:1: url and url_file are mutually exclusive; set only one",
                   "promwatch.toml:17:7: url: expected an http:// or https:// URL with a host",
                   "promwatch.toml:21:12: url_file \"dir\": Is a directory",
                   "promwatch.toml:24:11: headers.X-Token: value must not contain line breaks",
               }));
  for (const auto& s : e) EXPECT_EQ(s.find("TOPSECRET"), std::string::npos) << s;
}

TEST_F(ConfigTest, MissingSecretFile) {
  EXPECT_EQ(errors("[datasource]\nurl = \"http://p\"\nbasic_auth = { username = \"u\", password_file = \"nope\" }\n"),
            (Errors{"promwatch.toml:3:48: password_file \"nope\": No such file or directory"}));
  EXPECT_EQ(errors("[datasource]\nurl = \"http://p\"\nbasic_auth = { username = \"u\", password_file = \"/nonexistent/pw\" }\n"),
            (Errors{"promwatch.toml:3:48: password_file \"/nonexistent/pw\": No such file or directory"}));
}

TEST_F(ConfigTest, SecretFileUnderAFile) {
  write("plain", "x");
  EXPECT_EQ(errors("[datasource]\nurl = \"http://p\"\nauthorization = { credentials_file = \"plain/x\" }\n"),
            (Errors{"promwatch.toml:3:38: credentials_file \"plain/x\": Not a directory"}));
}

TEST_F(ConfigTest, UnreadableSecretFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  write("locked", "x");
  ::chmod(path("locked").c_str(), 0);
  EXPECT_EQ(errors("[datasource]\nurl = \"http://p\"\nauthorization = { credentials_file = \"locked\" }\n"),
            (Errors{"promwatch.toml:3:38: credentials_file \"locked\": Permission denied"}));
}

// ---------------------------------------------------------------------------------------------
// Receivers

TEST_F(ConfigTest, Receivers) {
  Config c = ok(ds(R"(
[[receivers]]
name = "ops"
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=x"
secret = "s"
send_resolved = false
msg_type = "markdown"
title = '{{ .Status | toUpper }}'
text = "body"
max_alerts = 10
at_mobiles = ["138"]
at_all = true
rate_limit = "20/1m"
[[receivers]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:5001/"
headers = { "X-A" = "b" }
timeout = "4s"
[[receivers]]
name = "wc"
type = "wecom"
url = "https://qyapi.weixin.qq.com/x"
mentioned_list = ["@all"]
[[receivers]]
name = "fs"
type = "feishu"
url = "https://open.feishu.cn/x"
at_user_ids = ["ou_1"]
msg_type = "card"
[[receivers]]
name = "tg"
type = "telegram"
bot_token = "1:a"
chat_id = "@chan"
parse_mode = "MarkdownV2"
)"));
  ASSERT_EQ(c.receivers.size(), 5u);
  const ReceiverConfig& d = c.receivers[0];
  EXPECT_EQ(d.name, "ops");
  EXPECT_EQ(d.type, "dingtalk");
  EXPECT_EQ(d.secret, "s");
  EXPECT_FALSE(d.send_resolved);
  EXPECT_EQ(d.msg_type, "markdown");
  ASSERT_TRUE(d.title);
  EXPECT_EQ(d.title->text, "{{ .Status | toUpper }}");
  EXPECT_EQ(d.title->pos.to_string(), path("promwatch.toml") + ":11:9");
  EXPECT_EQ(d.text->text, "body");
  EXPECT_EQ(d.max_alerts, 10);
  EXPECT_EQ(d.at_mobiles, std::vector<std::string>{"138"});
  EXPECT_TRUE(d.at_all);
  EXPECT_EQ(d.rate_limit.count, 20);
  EXPECT_EQ(d.rate_limit.per, 1min);
  EXPECT_EQ(d.pos.line, 4);
  EXPECT_EQ(c.receivers[1].http.timeout, 4s);
  EXPECT_EQ(c.receivers[1].rate_limit.count, 0);
  EXPECT_TRUE(c.receivers[1].send_resolved);
  EXPECT_EQ(c.receivers[2].mentioned_list, std::vector<std::string>{"@all"});
  EXPECT_EQ(c.receivers[3].at_user_ids, std::vector<std::string>{"ou_1"});
  EXPECT_EQ(c.receivers[3].msg_type, "card");
  EXPECT_EQ(c.receivers[4].chat_id, "@chan");
  EXPECT_EQ(c.receivers[4].parse_mode, "MarkdownV2");
  EXPECT_EQ(c.receivers[4].url, "");
}

const BadCase kReceiverCases[] = {
    {"type_unknown", ds("[[receivers]]\nname = \"a\"\ntype = \"dingtalkk\"\nurl = \"http://x\"\n"),
     {"promwatch.toml:5:8: type: unknown receiver type \"dingtalkk\" (expected one of \"webhook\", \"slack\", "
      "\"dingtalk\", \"feishu\", \"wecom\", \"discord\", \"teams\", \"telegram\", \"email\", \"pagerduty\", "
      "\"opsgenie\" or \"pushover\"); did you mean \"dingtalk\"?"}},
    {"email_required", ds("[[receivers]]\nname = \"m\"\ntype = \"email\"\n"),
     {"promwatch.toml:3:1: missing required key \"smarthost\" in [[receivers]]",
      "promwatch.toml:3:1: missing required key \"from\" in [[receivers]]",
      "promwatch.toml:3:1: missing required key \"to\" in [[receivers]]"}},
    {"email_values",
     ds("[[receivers]]\nname = \"m\"\ntype = \"email\"\nsmarthost = \"mail\"\nfrom = \"alerts\"\n"
        "to = [\"ops@example.com\", \"nobody\"]\nurl = \"http://x\"\nauth_mechanism = \"CRAM\"\nparse_mode = \"HTML\"\n"),
     {"promwatch.toml:6:13: smarthost: expected \"host:port\" like \"smtp.example.com:587\", got \"mail\"",
      "promwatch.toml:7:8: from: \"alerts\" is not an email address (\"alerts@example.com\" or \"Alerts "
      "<alerts@example.com>\")",
      "promwatch.toml:8:6: to[1]: \"nobody\" is not an email address",
      "promwatch.toml:9:1: url: email receivers have no url",
      "promwatch.toml:10:18: auth_mechanism: must be \"PLAIN\" or \"LOGIN\", got \"CRAM\"",
      "promwatch.toml:11:1: parse_mode: only telegram receivers accept this key, not email"}},
    {"email_password_without_user",
     ds("[[receivers]]\nname = \"m\"\ntype = \"email\"\nsmarthost = \"mail:25\"\nfrom = \"a@b.c\"\n"
        "to = [\"o@b.c\"]\nauth_password = \"pw\"\nbasic_auth = { username = \"u\", password = \"p\" }\n"),
     {"promwatch.toml:3:1: auth_password needs auth_username in [[receivers]] of type email",
      "promwatch.toml:10:1: basic_auth: email receivers log in with auth_username and auth_password"}},
    {"missing_name_type", ds("[[receivers]]\nurl = \"http://x\"\n"),
     {"promwatch.toml:3:1: missing required key \"name\" in [[receivers]]",
      "promwatch.toml:3:1: missing required key \"type\" in [[receivers]]"}},
    {"missing_url", ds("[[receivers]]\nname = \"a\"\ntype = \"slack\"\n"),
     {"promwatch.toml:3:1: missing required key \"url\" (or \"url_file\") in [[receivers]] of type slack"}},
    {"duplicate_name",
     ds("[[receivers]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"http://x\"\n[[receivers]]\nname = \"a\"\n"
        "type = \"webhook\"\nurl = \"http://y\"\n"),
     {"promwatch.toml:8:8: duplicate receiver name \"a\" (first defined at promwatch.toml:3:1)"}},
    {"telegram_required", ds("[[receivers]]\nname = \"t\"\ntype = \"telegram\"\n"),
     {"promwatch.toml:3:1: missing required key \"bot_token\" (or \"bot_token_file\") in [[receivers]] of type telegram",
      "promwatch.toml:3:1: missing required key \"chat_id\" in [[receivers]]"}},
    {"telegram_parse_mode",
     ds("[[receivers]]\nname = \"t\"\ntype = \"telegram\"\nbot_token = \"b\"\nchat_id = \"1\"\nparse_mode = \"html\"\n"),
     {"promwatch.toml:8:14: parse_mode: must be \"HTML\", \"MarkdownV2\" or \"Markdown\", got \"html\""}},
    {"msg_type_bad", ds("[[receivers]]\nname = \"w\"\ntype = \"wecom\"\nurl = \"http://x\"\nmsg_type = \"card\"\n"),
     {"promwatch.toml:7:12: msg_type: must be \"text\" or \"markdown\" for wecom receivers, got \"card\""}},
    {"msg_type_webhook", ds("[[receivers]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://x\"\nmsg_type = \"text\"\n"),
     {"promwatch.toml:7:1: msg_type: webhook receivers have no msg_type"}},
    {"key_for_other_type", ds("[[receivers]]\nname = \"w\"\ntype = \"slack\"\nurl = \"http://x\"\nat_mobiles = []\n"
                              "secret = \"s\"\n"),
     {"promwatch.toml:7:1: at_mobiles: only dingtalk receivers accept this key, not slack",
      "promwatch.toml:8:1: secret: only dingtalk and feishu receivers accept this key, not slack"}},
    {"rate_limit", ds("[[receivers]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://x\"\nrate_limit = \"0/1m\"\n"),
     {"promwatch.toml:7:14: rate_limit: expected \"<count>/<duration>\" like \"20/1m\" with a count of at least 1, got "
      "\"0/1m\""}},
    {"max_alerts", ds("[[receivers]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://x\"\nmax_alerts = -1\n"),
     {"promwatch.toml:7:14: max_alerts: must be at least 0, got -1"}},
    {"receivers_not_array", "receivers = { name = \"a\" }\n" + ds(""),
     {"promwatch.toml:1:13: receivers: expected an array of tables ([[receivers]]), got table"}},
};

class ReceiverErrors : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};
TEST_P(ReceiverErrors, ExactMessages) { EXPECT_EQ(errors(GetParam().toml), GetParam().errors) << GetParam().name; }
INSTANTIATE_TEST_SUITE_P(Table, ReceiverErrors, ::testing::ValuesIn(kReceiverCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Routes, inhibitions, time intervals, silences

const char* const kReceivers = R"(
[[receivers]]
name = "default"
type = "webhook"
url = "http://x"
[[receivers]]
name = "pager"
type = "webhook"
url = "http://y"
[[time_intervals]]
name = "weekend"
intervals = [{ weekdays = ["saturday", "sunday"] }]
)";

TEST_F(ConfigTest, RouteDefaultsAndInheritance) {
  Config c = ok(ds(kReceivers) + R"(
[route]
receiver = "default"
group_by = ["alertname", "cluster"]
group_wait = "10s"
[[route.routes]]
matchers = ['severity="critical"', 'team=~"db|infra"']
receiver = "pager"
continue = true
repeat_interval = "1h"
mute_time_intervals = ["weekend"]
[[route.routes.routes]]
matchers = ['env="prod"']
group_by = ["..."]
[[route.routes]]
matchers = ['x="y"']
)");
  ASSERT_TRUE(c.route);
  const RouteConfig& root = *c.route;
  EXPECT_EQ(root.receiver, "default");
  EXPECT_EQ(root.group_by, (std::vector<std::string>{"alertname", "cluster"}));
  EXPECT_EQ(root.group_wait, 10s);
  EXPECT_EQ(root.group_interval, 5min);
  EXPECT_EQ(root.repeat_interval, 4h);
  ASSERT_EQ(root.routes.size(), 2u);
  const RouteConfig& pager = root.routes[0];
  EXPECT_EQ(pager.receiver, "pager");
  EXPECT_EQ(pager.matchers.size(), 2u);
  EXPECT_EQ(pager.matchers[1].to_string(), "team=~\"db|infra\"");
  EXPECT_TRUE(pager.continue_matching);
  EXPECT_EQ(pager.group_by, root.group_by);
  EXPECT_EQ(pager.group_wait, 10s);
  EXPECT_EQ(pager.repeat_interval, 1h);
  EXPECT_EQ(pager.mute_time_intervals, std::vector<std::string>{"weekend"});
  ASSERT_EQ(pager.routes.size(), 1u);
  const RouteConfig& nested = pager.routes[0];
  EXPECT_EQ(nested.receiver, "pager");
  EXPECT_TRUE(nested.group_by_all);
  EXPECT_TRUE(nested.group_by.empty());
  EXPECT_EQ(nested.repeat_interval, 1h);
  EXPECT_FALSE(nested.continue_matching);
  EXPECT_TRUE(nested.mute_time_intervals.empty());  // not inherited, as in Alertmanager
  EXPECT_EQ(nested.pos.line, 26);
  EXPECT_EQ(root.routes[1].receiver, "default");
  EXPECT_EQ(root.routes[1].repeat_interval, 4h);
}

TEST_F(ConfigTest, RootRouteDefaults) {
  Config c = ok(ds(kReceivers) + "[route]\nreceiver = \"default\"\n");
  EXPECT_TRUE(c.route->group_by.empty());
  EXPECT_FALSE(c.route->group_by_all);
  EXPECT_EQ(c.route->group_wait, 30s);
  EXPECT_EQ(c.route->group_interval, 5min);
  EXPECT_EQ(c.route->repeat_interval, 4h);
}

const BadCase kRouteCases[] = {
    {"root_receiver_missing", ds(kReceivers) + "[route]\ngroup_wait = \"1s\"\n",
     {"promwatch.toml:15:1: missing required key \"receiver\" in [route]"}},
    {"unknown_receiver", ds(kReceivers) + "[route]\nreceiver = \"default\"\n[[route.routes]]\nreceiver = \"pagr\"\n",
     {"promwatch.toml:18:12: receiver \"pagr\" is not defined in [[receivers]]; did you mean \"pager\"?"}},
    {"nested_unknown_receiver",
     ds(kReceivers) + "[route]\nreceiver = \"default\"\n[[route.routes]]\nreceiver = \"pager\"\n"
                      "[[route.routes.routes]]\nreceiver = \"nobody\"\nfoo = 1\n",
     {"promwatch.toml:20:12: receiver \"nobody\" is not defined in [[receivers]]",
      "promwatch.toml:21:1: unknown key \"foo\" in [[route.routes.routes]]"}},
    {"bad_matcher", ds(kReceivers) + "[route]\nreceiver = \"default\"\n[[route.routes]]\nmatchers = ['sev==\"x\"']\n",
     {"promwatch.toml:18:13: matchers[0]: invalid matcher 'sev==\"x\"': unexpected \"=\" at position 5 after operator "
      "\"=\""}},
    {"root_matchers", ds(kReceivers) + "[route]\nreceiver = \"default\"\nmatchers = ['a=\"b\"']\n",
     {"promwatch.toml:17:12: matchers: the root route matches every alert and cannot have matchers"}},
    {"group_by_label", ds(kReceivers) + "[route]\nreceiver = \"default\"\ngroup_by = [\"a-b\", \"c\", \"c\"]\n",
     {"promwatch.toml:17:13: group_by[0]: invalid label name \"a-b\" (must match [a-zA-Z_][a-zA-Z0-9_]*)",
      "promwatch.toml:17:25: group_by[2]: label \"c\" is listed twice"}},
    {"group_by_all_mixed", ds(kReceivers) + "[route]\nreceiver = \"default\"\ngroup_by = [\"...\", \"a\"]\n",
     {"promwatch.toml:17:12: group_by: \"...\" (group by all labels) must be the only entry"}},
    {"unknown_time_interval",
     ds(kReceivers) + "[route]\nreceiver = \"default\"\n[[route.routes]]\nactive_time_intervals = [\"weekends\"]\n",
     {"promwatch.toml:18:26: active_time_intervals[0]: time interval \"weekends\" is not defined in "
      "[[time_intervals]]; did you mean \"weekend\"?"}},
    {"root_time_interval", ds(kReceivers) + "[route]\nreceiver = \"default\"\nmute_time_intervals = [\"weekend\"]\n",
     {"promwatch.toml:17:23: mute_time_intervals: the root route cannot have time intervals"}},
    {"route_durations",
     ds(kReceivers) + "[route]\nreceiver = \"default\"\ngroup_interval = \"0s\"\nrepeat_interval = 5\n",
     {"promwatch.toml:17:18: group_interval: must be greater than 0",
      "promwatch.toml:18:19: repeat_interval: expected a duration string like \"1m\", got integer"}},
    {"inhibit", ds("[[inhibit_rules]]\nsource_matchers = ['a=\"b\"']\nequal = [\"1x\"]\n"),
     {"promwatch.toml:3:1: missing required key \"target_matchers\" in [[inhibit_rules]]",
      "promwatch.toml:5:10: equal[0]: invalid label name \"1x\" (must match [a-zA-Z_][a-zA-Z0-9_]*)"}},
    {"time_interval_values",
     ds("[[time_intervals]]\nname = \"t\"\nintervals = [{ weekdays = [\"funday\", \"friday:monday\"], "
        "days_of_month = [\"0\", \"-1\", \"5:1\"], months = [\"jan\", \"13\"], years = [\"2027:2026\"], "
        "location = \"Mars/Base\" }]\n"),
     {"promwatch.toml:5:28: weekdays[0]: invalid value \"funday\" (expected weekday names like \"monday\" or ranges "
      "like \"monday:friday\")",
      "promwatch.toml:5:38: weekdays[1]: \"friday:monday\": the start of a range must not be after its end",
      "promwatch.toml:5:73: days_of_month[0]: invalid value \"0\" (expected days 1 to 31 or -31 to -1, or ranges like "
      "\"1:5\")",
      "promwatch.toml:5:84: days_of_month[2]: \"5:1\": the start day must not be after the end day",
      "promwatch.toml:5:102: months[0]: invalid value \"jan\" (expected month names like \"january\", numbers 1 to 12, "
      "or ranges like \"january:march\")",
      "promwatch.toml:5:109: months[1]: invalid value \"13\" (expected month names like \"january\", numbers 1 to 12, "
      "or ranges like \"january:march\")",
      "promwatch.toml:5:125: years[0]: \"2027:2026\": the start of a range must not be after its end",
      "promwatch.toml:5:150: location: unknown time zone \"Mars/Base\" (expected an IANA name like \"Asia/Shanghai\", "
      "\"UTC\" or \"Local\")"}},
    {"time_interval_times",
     ds("[[time_intervals]]\nname = \"t\"\nintervals = [{ times = [{ start_time = \"25:00\", end_time = \"10:00\" }, "
        "{ start_time = \"10:00\", end_time = \"09:00\" }] }]\n"),
     {"promwatch.toml:5:40: start_time: expected a time like \"09:30\" (00:00 to 24:00), got \"25:00\"",
      "promwatch.toml:5:106: end_time: must be after start_time"}},
    {"time_interval_duplicate",
     ds("[[time_intervals]]\nname = \"t\"\nintervals = []\n[[time_intervals]]\nname = \"t\"\nintervals = []\n"),
     {"promwatch.toml:7:8: duplicate time interval name \"t\" (first defined at promwatch.toml:3:1)"}},
    {"silence_times",
     ds("[[silences]]\nmatchers = ['a=\"b\"']\nstarts_at = 2026-12-01T04:00:00Z\nends_at = \"2026-12-01T00:00:00Z\"\n"),
     {"promwatch.toml:6:11: ends_at: must be after starts_at"}},
    {"silence_bad",
     ds("[[silences]]\nmatchers = []\nstarts_at = 2026-12-01T04:00:00\nends_at = \"tomorrow\"\ncomment = 1\n"),
     {"promwatch.toml:4:12: matchers: a silence needs at least one matcher",
      "promwatch.toml:5:13: starts_at: a date-time needs a time zone offset (like \"Z\" or \"+08:00\")",
      "promwatch.toml:6:11: ends_at: invalid time \"tomorrow\" (expected RFC 3339 like \"2026-12-01T00:00:00Z\")",
      "promwatch.toml:7:11: comment: expected a string, got integer"}},
};

class RouteErrors : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};
TEST_P(RouteErrors, ExactMessages) { EXPECT_EQ(errors(GetParam().toml), GetParam().errors) << GetParam().name; }
INSTANTIATE_TEST_SUITE_P(Table, RouteErrors, ::testing::ValuesIn(kRouteCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigTest, InhibitRules) {
  Config c = ok(ds("[[inhibit_rules]]\nsource_matchers = ['severity=\"critical\"']\n"
                   "target_matchers = ['severity=\"warning\"']\nequal = [\"instance\"]\n"));
  ASSERT_EQ(c.inhibit_rules.size(), 1u);
  EXPECT_EQ(c.inhibit_rules[0].source_matchers[0].to_string(), "severity=\"critical\"");
  EXPECT_EQ(c.inhibit_rules[0].target_matchers[0].to_string(), "severity=\"warning\"");
  EXPECT_EQ(c.inhibit_rules[0].equal, std::vector<std::string>{"instance"});
  EXPECT_EQ(c.inhibit_rules[0].pos.line, 3);
}

TEST_F(ConfigTest, TimeIntervals) {
  Config c = ok(ds(R"(
[[time_intervals]]
name = "weekend-maintenance"
intervals = [
  { weekdays = ["saturday", "Sunday"], times = [{ start_time = "02:00", end_time = "04:00" }], location = "Asia/Shanghai" },
  { weekdays = ["monday:friday"], days_of_month = ["1:5", "-1", -3, "-7:-1", "1:-1"], months = ["january:march", "12", 6], years = ["2026:2027", 2030] },
  { times = [{ start_time = "00:00", end_time = "24:00" }], location = "Local" },
]
)"));
  ASSERT_EQ(c.time_intervals.size(), 1u);
  const auto& ti = c.time_intervals[0];
  EXPECT_EQ(ti.name, "weekend-maintenance");
  ASSERT_EQ(ti.intervals.size(), 3u);
  const auto& a = ti.intervals[0];
  ASSERT_EQ(a.weekdays.size(), 2u);
  EXPECT_EQ(a.weekdays[0].begin, 6);
  EXPECT_EQ(a.weekdays[1].begin, 0);
  ASSERT_EQ(a.times.size(), 1u);
  EXPECT_EQ(a.times[0].start_minute, 120);
  EXPECT_EQ(a.times[0].end_minute, 240);
  EXPECT_EQ(a.location, "Asia/Shanghai");
  const auto& b = ti.intervals[1];
  EXPECT_EQ(b.weekdays[0].begin, 1);
  EXPECT_EQ(b.weekdays[0].end, 5);
  ASSERT_EQ(b.days_of_month.size(), 5u);
  EXPECT_EQ(b.days_of_month[0].begin, 1);
  EXPECT_EQ(b.days_of_month[0].end, 5);
  EXPECT_EQ(b.days_of_month[1].begin, -1);
  EXPECT_EQ(b.days_of_month[1].end, -1);
  EXPECT_EQ(b.days_of_month[2].begin, -3);
  EXPECT_EQ(b.days_of_month[3].begin, -7);
  EXPECT_EQ(b.days_of_month[3].end, -1);
  EXPECT_EQ(b.days_of_month[4].end, -1);
  ASSERT_EQ(b.months.size(), 3u);
  EXPECT_EQ(b.months[0].begin, 1);
  EXPECT_EQ(b.months[0].end, 3);
  EXPECT_EQ(b.months[1].begin, 12);
  EXPECT_EQ(b.months[2].begin, 6);
  ASSERT_EQ(b.years.size(), 2u);
  EXPECT_EQ(b.years[0].begin, 2026);
  EXPECT_EQ(b.years[0].end, 2027);
  EXPECT_EQ(b.years[1].begin, 2030);
  EXPECT_EQ(b.location, "UTC");
  EXPECT_EQ(ti.intervals[2].times[0].end_minute, 1440);
  EXPECT_EQ(ti.intervals[2].location, "Local");
}

TEST_F(ConfigTest, Silences) {
  Config c = ok(ds(R"(
[[silences]]
matchers = ['instance="db1:9100"', 'job=~"node|db"']
starts_at = "2026-12-01T00:00:00Z"
ends_at = "2026-12-01T04:00:00Z"
comment = "disk replacement"
[[silences]]
matchers = ['a="b"']
starts_at = 2026-12-01T08:00:00+08:00
ends_at = 2026-12-01T01:30:00.5Z
)"));
  ASSERT_EQ(c.silences.size(), 2u);
  EXPECT_EQ(c.silences[0].matchers.size(), 2u);
  EXPECT_EQ(format_rfc3339(c.silences[0].starts_at), "2026-12-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(c.silences[0].ends_at), "2026-12-01T04:00:00Z");
  EXPECT_EQ(c.silences[0].comment, "disk replacement");
  EXPECT_EQ(c.silences[0].pos.line, 4);
  EXPECT_EQ(format_rfc3339(c.silences[1].starts_at), "2026-12-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(c.silences[1].ends_at), "2026-12-01T01:30:00.5Z");
}

// ---------------------------------------------------------------------------------------------
// Rule files

const char* const kRuleFile = R"([[groups]]
name = "node"
interval = "30s"
query_offset = "10s"
limit = 5
labels = { team = "infra" }

[[groups.rules]]
alert = "HighCPU"
expr = 'avg by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) > 0.9'
for = "5m"
keep_firing_for = "1m"
labels = { severity = "warning", instance = "{{ $labels.instance }}" }
on_error = "alerting"
no_data = "alerting"
[groups.rules.annotations]
summary = "High CPU on {{ $labels.instance }}"
description = "{{ $value | humanizePercentage }} busy"

[[groups.rules]]
alert = "Plain"
expr = "up == 0"

[[groups.heartbeats]]
name = "InstanceDown"
expr = 'up{job="node"}'
by = ["job", "instance"]
for = "3m"
forget_after = "12h"
expected = [{ job = "node", instance = "node1:9100" }]
labels = { severity = "critical" }
annotations = { summary = "{{ $labels.instance }} has stopped reporting" }

[[groups]]
name = "defaults"

[[groups.heartbeats]]
name = "Down"
expr = "up"
by = ["instance"]
expected = ["a:1", { instance = "b:2" }]
)";

TEST_F(ConfigTest, RuleFiles) {
  write("rules/node.toml", kRuleFile);
  Config c = ok(ds("[global]\nevaluation_interval = \"20s\"\nrule_files = [\"rules/*.toml\"]\n"));
  ASSERT_EQ(c.groups.size(), 2u);
  const RuleGroupConfig& g = c.groups[0];
  EXPECT_EQ(g.name, "node");
  EXPECT_EQ(g.file, path("rules/node.toml"));
  EXPECT_EQ(g.interval, 30s);
  EXPECT_EQ(g.query_offset, 10s);
  EXPECT_EQ(g.limit, 5);
  EXPECT_EQ(g.labels, (Labels{{"team", "infra"}}));
  EXPECT_EQ(g.pos.line, 1);
  ASSERT_EQ(g.rules.size(), 2u);
  const AlertRuleConfig& r = g.rules[0];
  EXPECT_EQ(r.alert, "HighCPU");
  EXPECT_EQ(r.expr, "avg by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) > 0.9");
  EXPECT_EQ(r.for_duration, 5min);
  EXPECT_EQ(r.keep_firing_for, 1min);
  ASSERT_EQ(r.labels.size(), 2u);
  EXPECT_EQ(r.labels[0].first, "instance");
  EXPECT_EQ(r.labels[0].second.text, "{{ $labels.instance }}");
  EXPECT_EQ(r.labels[0].second.pos.to_string(), path("rules/node.toml") + ":13:45");
  EXPECT_EQ(r.labels[1].first, "severity");
  ASSERT_EQ(r.annotations.size(), 2u);
  EXPECT_EQ(r.annotations[0].first, "description");
  EXPECT_EQ(r.annotations[1].first, "summary");
  EXPECT_EQ(r.annotations[1].second.text, "High CPU on {{ $labels.instance }}");
  EXPECT_EQ(r.annotations[1].second.pos.line, 17);
  EXPECT_EQ(r.annotations[1].second.pos.column, 11);
  EXPECT_EQ(r.on_error, OnError::Alerting);
  EXPECT_EQ(r.no_data, NoData::Alerting);
  EXPECT_EQ(r.pos.line, 8);
  const AlertRuleConfig& plain = g.rules[1];
  EXPECT_EQ(plain.for_duration, 0ms);
  EXPECT_EQ(plain.keep_firing_for, 0ms);
  EXPECT_EQ(plain.keep_firing_expr, "");
  EXPECT_EQ(plain.flap_window, 0ms);
  EXPECT_EQ(plain.flap_threshold, 0);
  EXPECT_EQ(plain.on_error, OnError::KeepState);
  EXPECT_EQ(plain.no_data, NoData::Ok);
  ASSERT_EQ(g.heartbeats.size(), 1u);
  const HeartbeatRuleConfig& hb = g.heartbeats[0];
  EXPECT_EQ(hb.name, "InstanceDown");
  EXPECT_EQ(hb.by, (std::vector<std::string>{"job", "instance"}));
  EXPECT_EQ(hb.for_duration, 3min);
  EXPECT_EQ(hb.forget_after, 12h);
  ASSERT_EQ(hb.expected.size(), 1u);
  EXPECT_EQ(hb.expected[0], (Labels{{"job", "node"}, {"instance", "node1:9100"}}));
  EXPECT_EQ(hb.labels, (Labels{{"severity", "critical"}}));
  EXPECT_EQ(hb.annotations[0].second.text, "{{ $labels.instance }} has stopped reporting");

  const RuleGroupConfig& d = c.groups[1];
  EXPECT_EQ(d.interval, 20s);  // global.evaluation_interval
  EXPECT_EQ(d.query_offset, 0ms);
  EXPECT_EQ(d.limit, 0);
  EXPECT_EQ(d.heartbeats[0].for_duration, 2min);
  EXPECT_EQ(d.heartbeats[0].forget_after, 24h);
  ASSERT_EQ(d.heartbeats[0].expected.size(), 2u);
  EXPECT_EQ(d.heartbeats[0].expected[0], (Labels{{"instance", "a:1"}}));
  EXPECT_EQ(d.heartbeats[0].expected[1], (Labels{{"instance", "b:2"}}));
}

TEST_F(ConfigTest, HysteresisAndFlapDetectionKeys) {
  write("rules/h.toml", R"([[groups]]
name = "g"
[[groups.rules]]
alert = "Hot"
expr = 'temp > 90'
keep_firing_expr = 'temp > 80'
flap_window = "10m"
flap_threshold = 4
)");
  Config c = ok(ds("[global]\nrule_files = [\"rules/*.toml\"]\n"));
  ASSERT_EQ(c.groups.size(), 1u);
  const AlertRuleConfig& r = c.groups[0].rules.at(0);
  EXPECT_EQ(r.keep_firing_expr, "temp > 80");
  EXPECT_EQ(r.flap_window, 10min);
  EXPECT_EQ(r.flap_threshold, 4);
}

TEST_F(ConfigTest, RuleFileGlobsOrderAndDuplicates) {
  write("rules/b.toml", "[[groups]]\nname = \"b\"\n");
  write("rules/a.toml", "[[groups]]\nname = \"a\"\n");
  write("rules/sub/c.toml", "[[groups]]\nname = \"c\"\n");
  write("rules/notes.txt", "not toml");
  Config c = ok(ds("[global]\nrule_files = [\"rules/*.toml\", \"rules/nothing/*.toml\", \"rules/a.toml\", \"" +
                   path("rules/sub") + "/*.toml\"]\n"));
  ASSERT_EQ(c.groups.size(), 3u);
  EXPECT_EQ(c.groups[0].name, "a");
  EXPECT_EQ(c.groups[1].name, "b");
  EXPECT_EQ(c.groups[2].name, "c");
  EXPECT_EQ(c.global.rule_files.size(), 4u);
  LoadResult r = load_config(path("promwatch.toml"), [](const std::string&) { return std::nullopt; });
  EXPECT_EQ(texts(r.warnings), (Errors{"promwatch.toml:4:31: rule_files[1]: \"rules/nothing/*.toml\" matches no files"}));
}

TEST_F(ConfigTest, DuplicateGroupNamesAcrossFiles) {
  write("rules/a.toml", "[[groups]]\nname = \"node\"\n");
  write("rules/b.toml", "# comment\n[[groups]]\nname = \"other\"\n[[groups]]\n  name = \"node\"\n");
  EXPECT_EQ(errors(ds("[global]\nrule_files = [\"rules/*.toml\"]\n")),
            (Errors{"rules/b.toml:5:10: duplicate group name \"node\" (first defined at rules/a.toml:2:8)"}));
}

TEST_F(ConfigTest, RuleFileDirectoryIsAnError) {
  write("rules/a.toml", "");
  EXPECT_EQ(errors(ds("[global]\nrule_files = [\"rules\"]\n")),
            (Errors{"promwatch.toml:4:15: rule_files[0]: \"rules\" is a directory; use a glob like \"rules/*.toml\""}));
}

struct RuleCase {
  const char* name;
  std::string toml;
  Errors errors;
};

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

class RuleErrors : public ConfigTest, public ::testing::WithParamInterface<RuleCase> {};

TEST_P(RuleErrors, ExactMessages) {
  write("r.toml", GetParam().toml);
  EXPECT_EQ(errors(ds("[global]\nrule_files = [\"r.toml\"]\n")), GetParam().errors) << GetParam().name;
}

const RuleCase kRuleCases[] = {
    {"toml_syntax", "[[groups]\n", {"r.toml:1:10: Error while parsing table header: expected ']', saw '\\n'"}},
    {"top_level_key", "group = 1\n", {"r.toml:1:1: unknown key \"group\" in the rule file; did you mean \"groups\"?"}},
    {"group_name_missing", "[[groups]]\ninterval = \"1m\"\n", {"r.toml:1:1: missing required key \"name\" in [[groups]]"}},
    {"group_fields",
     "[[groups]]\nname = \"g\"\ninterval = \"0s\"\nquery_offset = \"x\"\nlimit = -1\nlabels = { \"a b\" = \"c\" }\n"
     "rule = []\n",
     {"r.toml:3:12: interval: must be greater than 0",
      "r.toml:4:16: query_offset: invalid duration \"x\" (use Prometheus syntax like \"1h30m\", \"90s\" or \"500ms\")",
      "r.toml:5:9: limit: must be at least 0, got -1",
      "r.toml:6:12: labels: invalid label name \"a b\" (must match [a-zA-Z_][a-zA-Z0-9_]*)",
      "r.toml:7:1: unknown key \"rule\" in [[groups]]; did you mean \"rules\"?"}},
    {"rule_required", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nfor = \"1m\"\n",
     {"r.toml:3:1: missing required key \"alert\" in [[groups.rules]]",
      "r.toml:3:1: missing required key \"expr\" in [[groups.rules]]"}},
    {"rule_values",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"\"\nexpr = \"  \"\nfor = 5\n"
     "on_error = \"keep\"\nno_data = \"keep_state\"\nlabels = { sev = 1 }\nanotations = {}\n",
     {"r.toml:4:9: alert: must not be empty",
      "r.toml:5:8: expr: must not be empty",
      "r.toml:6:7: for: expected a duration string like \"1m\", got integer",
      "r.toml:7:12: on_error: must be \"keep_state\" or \"alerting\", got \"keep\"",
      "r.toml:8:11: no_data: must be \"ok\" or \"alerting\", got \"keep_state\"",
      "r.toml:9:18: labels.sev: expected a string, got integer",
      "r.toml:10:1: unknown key \"anotations\" in [[groups.rules]]; did you mean \"annotations\"?"}},
    // Prometheus accepts any UTF-8 string as an alert name (rule collections use these).
    {"alert_names_any_utf8",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"Cert-managerAbsent\"\nexpr = \"up\"\n"
     "[[groups.rules]]\nalert = \"SslCertificateExpiry(<7Days)\"\nexpr = \"up\"\n"
     "[[groups.rules]]\nalert = \"PveVm/ctDown\"\nexpr = \"up\"\n"
     "[[groups.rules]]\nalert = \"High CPU \u00e9\u6f22\"\nexpr = \"up\"\n"
     "[[groups.heartbeats]]\nname = \"Node down (all)\"\nexpr = \"up\"\nby = [\"instance\"]\n",
     {}},
    // toml++ refuses invalid UTF-8 in the file itself, before any name is read.
    {"alert_name_invalid_utf8",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\xC0\xAF\"\nexpr = \"up\"\n",
     {"r.toml:4:10: Encountered invalid utf-8 sequence"}},
    {"heartbeat_name_empty",
     "[[groups]]\nname = \"g\"\n[[groups.heartbeats]]\nname = \"\"\nexpr = \"up\"\nby = [\"instance\"]\n",
     {"r.toml:4:8: name: must not be empty"}},
    // Hysteresis and flap detection (#17): keep_firing_expr is PromQL like expr; the flap keys
    // go together.
    {"keep_firing_expr_bad",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 90'\nkeep_firing_expr = 'x >'\n",
     {"r.toml:6:24: keep_firing_expr: parse error: unexpected end of input"}},
    {"keep_firing_expr_empty",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x > 90'\nkeep_firing_expr = ' '\n",
     {"r.toml:6:20: keep_firing_expr: must not be empty"}},
    {"flap_window_alone",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x'\nflap_window = \"10m\"\n",
     {"r.toml:6:1: flap_window: needs flap_threshold too (flap detection uses both)"}},
    {"flap_threshold_alone",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x'\nflap_threshold = 3\n",
     {"r.toml:6:1: flap_threshold: needs flap_window too (flap detection uses both)"}},
    {"flap_values",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x'\nflap_window = \"0s\"\n"
     "flap_threshold = 1\n",
     {"r.toml:6:15: flap_window: must be greater than 0", "r.toml:7:18: flap_threshold: must be at least 2, got 1"}},
    // PromQL is parsed as Prometheus parses it; messages are Prometheus's, placed inside the string.
    {"expr_unbalanced", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'sum(rate(x[5m])'\n",
     {"r.toml:5:24: expr: parse error: unclosed left parenthesis"}},
    {"expr_mismatch", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'rate(x[5m)]'\n",
     {"r.toml:5:18: expr: parse error: unexpected \")\" in subquery or range, expected \":\" or \"]\""}},
    {"expr_extra_close", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'x})'\n",
     {"r.toml:5:10: expr: parse error: unexpected character: '}'"}},
    {"expr_quote", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'up{job=\"x}'\n",
     {"r.toml:5:16: expr: parse error: unterminated quoted string"}},
    {"expr_unknown_function", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'rat(x[5m])'\n",
     {"r.toml:5:9: expr: parse error: unknown function with name \"rat\""}},
    {"expr_dangling_on", "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = 'sum by (job) (x) > on('\n",
     {"r.toml:5:31: expr: parse error: unclosed left parenthesis"}},
    {"expr_type_rule_in_multiline_literal",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = '''\nsum by (job) (\n  rate(x)\n) > 0'''\n",
     {"r.toml:7:8: expr: parse error: expected type range vector in call to function \"rate\", got instant vector"}},
    {"expr_after_escapes_in_basic_string",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = \"x{a=\\\"\\u00e9\\\"} > bool\"\n",
     {"r.toml:5:31: expr: parse error: unexpected end of input"}},
    {"expr_after_line_ending_backslash",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = \"\"\"\nup == \\\n    0 +\"\"\"\n",
     {"r.toml:7:8: expr: parse error: unexpected end of input"}},
    {"expr_in_multiline_literal_with_crlf",
     "[[groups]]\r\nname = \"g\"\r\n[[groups.rules]]\r\nalert = \"A\"\r\nexpr = \'\'\'\r\nup +\r\n  (1\'\'\'\r\n",
     {"r.toml:7:5: expr: parse error: unclosed left parenthesis"}},
    {"heartbeat_expr", "[[groups]]\nname = \"g\"\n[[groups.heartbeats]]\nname = \"H\"\nexpr = \"{job=\\\"\\\"}\"\nby = [\"job\"]\n",
     {"r.toml:5:9: expr: parse error: vector selector must contain at least one non-empty matcher"}},
    {"expr_brackets_in_strings_and_comments",
     "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = '''\nup{job=\"(\\\"\"} # ) comment\n'''\n",
     {}},
    {"heartbeat_errors",
     "[[groups]]\nname = \"g\"\n[[groups.heartbeats]]\nname = \"H\"\nexpr = \"up\"\nby = [\"job\", \"instance\"]\n"
     "expected = [\"a\", { job = \"j\" }, { job = \"j\", inst = \"i\" }, 3]\nforget_after = \"0s\"\n",
     {"r.toml:7:13: expected[0]: a plain string is accepted only when `by` has one label; write a table like { job = "
      "\"...\", ... }",
      "r.toml:7:18: expected[1]: missing label \"instance\" (every `by` label identifies the member)",
      "r.toml:7:46: expected[2]: label \"inst\" is not one of the `by` labels; did you mean \"instance\"?",
      "r.toml:7:60: expected[3]: expected a table of the `by` labels, got integer",
      "r.toml:8:16: forget_after: must be greater than 0"}},
    {"heartbeat_required", "[[groups]]\nname = \"g\"\n[[groups.heartbeats]]\nby = []\n",
     {"r.toml:3:1: missing required key \"name\" in [[groups.heartbeats]]",
      "r.toml:3:1: missing required key \"expr\" in [[groups.heartbeats]]",
      "r.toml:4:6: by: list at least one label that identifies a member, like [\"instance\"]"}},
};

INSTANTIATE_TEST_SUITE_P(Table, RuleErrors, ::testing::ValuesIn(kRuleCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigTest, ExampleFilesInTheRepositoryAreValid) {
  // The shipped example config and rules must pass `check` (when they exist yet).
  const fs::path root = PROMWATCH_SOURCE_DIR;
  for (const auto& entry : fs::directory_iterator(root / "rules")) {
    if (entry.path().extension() != ".toml") continue;
    write("example.toml", ds("[global]\nrule_files = [\"" + entry.path().string() + "\"]\n"));
    LoadResult r = load_config(path("example.toml"), [](const std::string&) { return "x"; });
    EXPECT_TRUE(r.errors.empty()) << entry.path() << ": " << ::testing::PrintToString(texts(r.errors));
  }
}

// ---- docs/configuration.md documents every key the parsers accept ----

namespace {

// The `### ` sections of the reference, by heading line.
std::vector<std::pair<std::string, std::string>> reference_sections() {
  std::ifstream in(std::string(PROMWATCH_SOURCE_DIR) + "/docs/configuration.md");
  std::vector<std::pair<std::string, std::string>> sections;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) sections.emplace_back("", "");  // a new part ends the section
    if (line.rfind("### ", 0) == 0) sections.emplace_back(line, "");
    else if (!sections.empty()) sections.back().second += line + "\n";
  }
  return sections;
}

}  // namespace

TEST_F(ConfigTest, EveryAcceptedKeyIsDocumented) {
  // Every table the parsers have, each once, so that each reader records what it accepts.
  write("rules/all.toml", R"([[groups]]
name = "g"
interval = "1m"
query_offset = "0s"
limit = 0
labels = { team = "a" }
[[groups.rules]]
alert = "A"
expr = "up == 0"
for = "1m"
keep_firing_for = "0s"
keep_firing_expr = "up == 0"
flap_window = "10m"
flap_threshold = 4
labels = { severity = "page" }
annotations = { summary = "x" }
on_error = "alerting"
no_data = "ok"
[[groups.heartbeats]]
name = "H"
expr = "up"
by = ["instance"]
for = "2m"
forget_after = "24h"
expected = ["a:1"]
labels = { severity = "page" }
annotations = { summary = "x" }
)");
  LoadResult r = load(R"([global]
evaluation_interval = "1m"
rule_files = ["rules/*.toml"]
external_url = "http://pw:9097/"
[datasource]
url = "http://prom:9090"
authorization = { type = "raw", credentials = "c" }
tls = { insecure_skip_verify = false }
[server]
basic_auth = { username = "u", password = "p" }
tls = { cert_file = ")" + write("c.pem", "c") + R"(", key_file = ")" + write("k.pem", "k") + R"(" }
[notify]
timeout = "10s"
[deadman]
url = "http://hc/ping"
[[alertmanagers]]
url = "http://am:9093"
[cluster]
etcd_endpoints = ["http://etcd:2379"]
[[receivers]]
name = "r"
type = "webhook"
url = "http://sink/hook"
[route]
receiver = "r"
[[route.routes]]
matchers = ['a="b"']
[[route.routes.routes]]
matchers = ['c="d"']
[[inhibit_rules]]
source_matchers = ['a="b"']
target_matchers = ['c="d"']
[[time_intervals]]
name = "w"
intervals = [{ weekdays = ["saturday"], times = [{ start_time = "02:00", end_time = "04:00" }] }]
[[silences]]
matchers = ['a="b"']
starts_at = "2026-01-01T00:00:00Z"
ends_at = "2026-01-02T00:00:00Z"
)");
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  // The trailing slash of external_url goes, as in Prometheus and Alertmanager.
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->global.external_url, "http://pw:9097");

  const auto sections = reference_sections();
  ASSERT_FALSE(sections.empty()) << "docs/configuration.md not found";
  auto section = [&](const std::string& heading_part) -> const std::string* {
    for (const auto& [heading, body] : sections)
      if (heading.find(heading_part) != std::string::npos) return &body;
    return nullptr;
  };
  const std::string* http_keys = section("Outgoing HTTP keys");
  ASSERT_NE(http_keys, nullptr);
  const auto accepted = accepted_config_keys();
  for (const char* table : {"the main config", "[global]", "[datasource]", "[server]", "[notify]", "[deadman]",
                            "[[alertmanagers]]", "[cluster]", "[[receivers]]", "[route]", "[[route.routes]]",
                            "[[route.routes.routes]]", "[[inhibit_rules]]", "[[time_intervals]]", "intervals", "times",
                            "[[silences]]", "basic_auth", "authorization", "tls", "the rule file", "[[groups]]",
                            "[[groups.rules]]", "[[groups.heartbeats]]"}) {
    EXPECT_TRUE(accepted.count(table)) << table << " was not read by this test's config";
  }
  for (const auto& [table, keys] : accepted) {
    bool quoted = table.find('[') != std::string::npos || table.find(' ') == std::string::npos;
    const std::string* body = section(quoted && table.find(' ') == std::string::npos ? "`" + table + "`" : table);
    if (!body) {
      ADD_FAILURE() << "docs/configuration.md has no section for " << table;
      continue;
    }
    for (const auto& key : keys) {
      const std::string cell = "| `" + key + "` |";
      bool documented = body->find(cell) != std::string::npos ||
                        (body->find("(#outgoing-http-keys)") != std::string::npos && http_keys->find(cell) != std::string::npos);
      EXPECT_TRUE(documented) << "docs/configuration.md does not document key `" << key << "` of " << table;
    }
  }
}

}  // namespace
}  // namespace promwatch
