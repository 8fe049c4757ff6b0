// Hostile input and secrets (SPEC §2 "Secrets", §7, §9): promwatch listens on loopback unless
// told otherwise; its own server caps headers and bodies and a slowloris client cannot starve
// /healthz; basic auth guards everything but /healthz and /readyz; configured secrets never show
// in logs, the API, the status page, metrics or error messages, even when a peer echoes them
// back; TLS certificates are verified unless insecure_skip_verify; nothing runs a shell.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "promwatch/config.hpp"
#include "support/fault_server.hpp"
#include "support/http_test_server.hpp"
#include "support/peers.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += table[(v >> k) & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string rule_health(const std::string& url, std::string* last_error = nullptr,
                        const std::vector<std::string>& headers = {}) {
  json body = json::parse(http_request("GET", url + "/api/v1/rules", "", headers).body, nullptr, false);
  if (body.is_discarded() || body["data"]["groups"].empty()) return "";
  const json& rule = body["data"]["groups"][0]["rules"][0];
  if (last_error) *last_error = rule.value("lastError", "");
  return rule.value("health", "");
}

/// A raw TCP connection to 127.0.0.1:port.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return connected_; }
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// ---- listening -------------------------------------------------------------------------------

bool port_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// Local addresses (hex, as in /proc/net/tcp*) of listening sockets on `port`.
std::vector<std::string> listeners_on(int port) {
  char hex_port[8];
  std::snprintf(hex_port, sizeof hex_port, "%04X", port);
  std::vector<std::string> out;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      auto colon = local.rfind(':');
      if (state == "0A" && colon != std::string::npos && local.substr(colon + 1) == hex_port) out.push_back(local);
    }
  }
  return out;
}

TEST(Security, ListensOnLoopbackByDefault) {
  EXPECT_EQ(ServerConfig{}.listen, "127.0.0.1:9097");
  EXPECT_FALSE(DatasourceConfig{}.http.tls.insecure_skip_verify);
  if (!port_free(9097)) GTEST_SKIP() << "port 9097 is in use here; the default is checked above";
  TestHttpServer ds([](const TestRequest&) { return TestResponse{}; });
  // No `listen` key: the default applies.
  PromwatchProcess promwatch("[global]\nrule_files = []\nstate_dir = \"{{DIR}}/state\"\n[datasource]\nurl = \"" + ds.url() +
                             "\"\n");
  ASSERT_TRUE(wait_until([&] { return http_get("http://127.0.0.1:9097/healthz", 1s).status == 200; }, 15s))
      << promwatch.process().log();
  auto listeners = listeners_on(9097);
  ASSERT_FALSE(listeners.empty());
  for (const auto& l : listeners) EXPECT_EQ(l, "0100007F:2389") << "listening beyond loopback";
}

// ---- the daemon's own server under hostile clients -------------------------------------------

const char* kSimpleRules = R"([[groups]]
name = "sec"
interval = "1s"

[[groups.rules]]
alert = "Up"
expr = 'up == 1'
)";

std::string simple_config(const std::string& datasource_url, const std::string& server_extra = "") {
  return R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"

[datasource]
url = ")" + datasource_url + R"("
timeout = "700ms"
retries = 0

[server]
listen = "{{LISTEN}}"
)" + server_extra;
}

TEST(Security, SlowlorisAndOversizedRequestsDoNotStarveOthers) {
  FaultServer ds(Fault::ok_vector());
  PromwatchProcess promwatch(simple_config(ds.url()), {{"rules.toml", kSimpleRules}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  int port = std::stoi(promwatch.url().substr(promwatch.url().rfind(':') + 1));

  // More slow connections than the server's connection cap (256), each dribbling a header.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 300; ++i) {
    auto c = std::make_unique<RawClient>(port);
    if (c->connected()) c->send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    slow.push_back(std::move(c));
  }
  for (int round = 0; round < 6; ++round) {
    for (auto& c : slow) c->send("a");
    auto t0 = std::chrono::steady_clock::now();
    HttpResult r = http_get(promwatch.url() + "/healthz", 2s);
    EXPECT_EQ(r.status, 200) << "round " << round << ": " << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    std::this_thread::sleep_for(300ms);
  }
  // Evaluation went on meanwhile.
  EXPECT_EQ(rule_health(promwatch.url()), "ok");
  slow.clear();
  std::this_thread::sleep_for(200ms);

  // Limits: a 32 KiB header is 431, a 2 MiB body 413, and the server still answers afterwards.
  HttpResult big_header = http_request("GET", promwatch.url() + "/metrics", "", {"X-Big: " + std::string(32 * 1024, 'h')});
  EXPECT_EQ(big_header.status, 431) << big_header.error;
  HttpResult big_body = http_request("POST", promwatch.url() + "/api/v2/silences", std::string(2 << 20, ' '),
                                     {"Content-Type: application/json"});
  EXPECT_EQ(big_body.status, 413) << big_body.error;
  // Cross-site tricks: a foreign Host (DNS rebinding) and a non-JSON state change.
  EXPECT_EQ(http_request("GET", promwatch.url() + "/api/v1/rules", "", {"Host: evil.example"}).status, 403);
  EXPECT_EQ(http_request("POST", promwatch.url() + "/api/v2/silences", "matchers=x",
                         {"Content-Type: application/x-www-form-urlencoded"})
                .status,
            415);
  EXPECT_EQ(http_get(promwatch.url() + "/healthz").status, 200);
  EXPECT_TRUE(promwatch.process().running());
}

TEST(Security, BasicAuthGuardsEverythingButHealthAndReadiness) {
  FaultServer ds(Fault::ok_vector());
  PromwatchProcess promwatch(
      simple_config(ds.url(), R"(basic_auth = { username = "admin", password = "CANARY-srvpass-d00d" })"),
      {{"rules.toml", kSimpleRules}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  const std::string good = "Authorization: Basic " + base64("admin:CANARY-srvpass-d00d");
  const std::string wrong = "Authorization: Basic " + base64("admin:wrong-password");
  EXPECT_EQ(http_get(promwatch.url() + "/healthz").status, 200);
  EXPECT_NE(http_get(promwatch.url() + "/readyz").status, 401);
  for (const char* path : {"/metrics", "/api/v1/rules", "/api/v1/alerts", "/api/v2/silences", "/", "/no-such-page"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(http_get(promwatch.url() + path).status, 401);
    EXPECT_EQ(http_request("GET", promwatch.url() + path, "", {wrong}).status, 401);
    EXPECT_EQ(http_request("GET", promwatch.url() + path, "", {"Authorization: Bearer CANARY-srvpass-d00d"}).status, 401);
    EXPECT_EQ(http_request("POST", promwatch.url() + "/-/reload", "", {wrong}).status, 401);
    EXPECT_NE(http_request("GET", promwatch.url() + path, "", {good}).status, 401);
  }
  for (const char* path : {"/metrics", "/api/v1/rules", "/api/v1/alerts", "/"}) {
    EXPECT_EQ(http_request("GET", promwatch.url() + path, "", {good}).status, 200) << path;
  }
  std::string metrics = http_request("GET", promwatch.url() + "/metrics", "", {good}).body;
  EXPECT_EQ(metrics.find("CANARY-srvpass-d00d"), std::string::npos);
  EXPECT_EQ(promwatch.process().log().find("CANARY-srvpass-d00d"), std::string::npos);
}

// ---- secrets ---------------------------------------------------------------------------------

struct Canaries {
  std::string ds_user = "ds-user";
  std::string ds_pass = "CANARY-dspass-7f3a9";
  std::string ds_header = "CANARY-dshdr-91b2c";
  std::string url_path = "CANARY-urlpath-3e8f0";
  std::string url_token = "CANARY-urltok-55c1d";
  std::string rcv_auth = "CANARY-rcvauth-0d4e7";
  std::string rcv_header = "CANARY-rcvhdr-77aa1";
  std::string rcv_user = "rcv-user";
  std::string rcv_pass = "CANARY-rcvbasic-a1b2c";
  std::string srv_pass = "CANARY-srvpass-0beef";

  std::vector<std::string> all() const {
    return {ds_pass,   ds_header, url_path, url_token, rcv_auth, rcv_header, rcv_pass, srv_pass,
            base64(ds_user + ":" + ds_pass), base64(rcv_user + ":" + rcv_pass),
            // A cut-off echo: the first 16 base64 characters already encode "CANA".
            base64(ds_user + ":" + ds_pass).substr(0, 16), base64(rcv_user + ":" + rcv_pass).substr(0, 16), "CANARY"};
  }
};

/// Echoes every request header in the body: a peer (or a debugging proxy) that reflects the
/// credentials it was sent.
std::string echo_headers(const TestRequest& request) {
  std::string out = "<html><body><h1>denied</h1><pre>";
  for (const auto& [k, v] : request.headers) out += k + ": " + v + "\n";
  return out + "</pre></body></html>";
}

void expect_no_canary(const std::string& where, const std::string& text, const Canaries& c) {
  for (const auto& secret : c.all()) {
    auto pos = text.find(secret);
    EXPECT_EQ(pos, std::string::npos) << "secret " << secret << " appears in " << where << ": ..."
                                      << text.substr(pos == std::string::npos ? 0 : (pos > 80 ? pos - 80 : 0), 200);
  }
}

TEST(Security, ConfiguredSecretsNeverAppearAnywhere) {
  Canaries c;
  // The datasource alternates: a 401 page echoing every header it got, then a good answer (so that
  // an alert fires and the receivers are used).
  std::atomic<int> n{0};
  TestHttpServer ds([&](const TestRequest& request) {
    TestResponse r;
    if (n++ % 2 == 0) {
      r.status = 401;
      r.headers.push_back({"Content-Type", "text/html"});
      r.body = echo_headers(request);
      return r;
    }
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = Fault::ok_vector().body;
    return r;
  });
  // Receivers: one unreachable (its URL carries a token), one answering 401 and one 500, both
  // echoing the credentials they were sent.
  TestHttpServer rcv401([&](const TestRequest& request) {
    TestResponse r;
    r.status = 401;
    r.body = echo_headers(request);
    return r;
  });
  TestHttpServer rcv500([&](const TestRequest& request) {
    TestResponse r;
    r.status = 500;
    r.body = echo_headers(request);
    return r;
  });
  std::string refused = FaultServer::refused_url();
  std::string config = R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"

[datasource]
url = ")" + ds.url() + R"("
timeout = "700ms"
retries = 0
basic_auth = { username = ")" + c.ds_user + R"(", password_file = "{{DIR}}/ds_pass" }
headers = { "X-Scope-OrgID" = ")" + c.ds_header + R"(" }

[server]
listen = "{{LISTEN}}"
enable_lifecycle = true
basic_auth = { username = "admin", password = ")" + c.srv_pass + R"(" }

[notify]
timeout = "1s"

[[receivers]]
name = "unreachable"
type = "webhook"
url = ")" + refused + "/robot/" + c.url_path + "/send?access_token=" + c.url_token + R"("

[[receivers]]
name = "denied"
type = "webhook"
url = ")" + rcv401.url() + "/hook/" + c.url_path + R"("
authorization = { credentials = ")" + c.rcv_auth + R"(" }
headers = { "X-Api-Key" = ")" + c.rcv_header + R"(" }

[[receivers]]
name = "broken"
type = "webhook"
url = ")" + rcv500.url() + "/hook?token=" + c.url_token + R"("
basic_auth = { username = ")" + c.rcv_user + R"(", password = ")" + c.rcv_pass + R"(" }

[route]
receiver = "unreachable"
group_by = ["alertname"]
group_wait = "0s"
group_interval = "1s"

[[route.routes]]
matchers = ['alertname="Up"']
receiver = "unreachable"
continue = true

[[route.routes]]
matchers = ['alertname="Up"']
receiver = "denied"
continue = true

[[route.routes]]
matchers = ['alertname="Up"']
receiver = "broken"
)";
  PromwatchProcess promwatch(config, {{"rules.toml", kSimpleRules}, {"ds_pass", c.ds_pass + "\n"}});
  ASSERT_TRUE(promwatch.wait_healthy()) << promwatch.process().log();
  const std::string auth = "Authorization: Basic " + base64("admin:" + c.srv_pass);
  auto get = [&](const std::string& path) { return http_request("GET", promwatch.url() + path, "", {auth}).body; };

  // The rule has been err (with the echoed page in its lastError) and the alert fired; every
  // receiver has failed at least once.
  std::string last_error;
  ASSERT_TRUE(wait_until([&] { return rule_health(promwatch.url(), &last_error, {auth}) == "err"; }, 10s));
  EXPECT_NE(last_error.find("401"), std::string::npos) << last_error;
  ASSERT_TRUE(wait_until([&] { return rcv401.request_count() >= 1 && rcv500.request_count() >= 1; }, 10s))
      << promwatch.process().log();
  // The credentials did reach the peers (so the test means something).
  EXPECT_EQ(rcv401.requests()[0].headers.at("authorization"), "Bearer " + c.rcv_auth);
  EXPECT_EQ(ds.requests()[0].headers.at("x-scope-orgid"), c.ds_header);
  ASSERT_TRUE(wait_until(
      [&] {
        std::string m = get("/metrics");
        return m.find(R"(receiver="unreachable",result="retry")") != std::string::npos &&
               m.find(R"(receiver="denied",result="failed")") != std::string::npos &&
               m.find(R"(receiver="broken",result="retry")") != std::string::npos;
      },
      10s))
      << get("/metrics");

  // A reload that fails on a line holding a secret, over HTTP: the answer and the log stay clean.
  std::string broken = config;
  broken.replace(broken.find("headers = { \"X-Api-Key\""), std::string("headers = { \"X-Api-Key\"").size(),
                 "headers = { \"Authorization\"");
  for (auto pos = broken.find("{{DIR}}"); pos != std::string::npos; pos = broken.find("{{DIR}}"))
    broken.replace(pos, 7, promwatch.dir().path().string());
  for (auto pos = broken.find("{{LISTEN}}"); pos != std::string::npos; pos = broken.find("{{LISTEN}}"))
    broken.replace(pos, 10, promwatch.url().substr(7));
  std::ofstream(promwatch.config_path()) << broken;
  HttpResult reload = http_request("POST", promwatch.url() + "/-/reload", "", {auth});
  EXPECT_EQ(reload.status, 400) << reload.body;
  EXPECT_NE(reload.body.find("Authorization"), std::string::npos) << reload.body;
  expect_no_canary("the reload answer", reload.body, c);
  std::string check_output;
  EXPECT_EQ(run_command({promwatch_binary(), "check", "--config", promwatch.config_path().string()}, &check_output), 1);
  expect_no_canary("promwatch check", check_output, c);

  // The working config back, for what follows.
  std::string good = broken;
  good.replace(good.find("headers = { \"Authorization\""), std::string("headers = { \"Authorization\"").size(),
               "headers = { \"X-Api-Key\"");
  std::ofstream(promwatch.config_path()) << good;
  std::string test_output;
  EXPECT_NE(run_command({promwatch_binary(), "test-receiver", "--config", promwatch.config_path().string(), "unreachable"},
                        &test_output, 20s),
            0);
  expect_no_canary("promwatch test-receiver unreachable", test_output, c);

  for (const char* path : {"/api/v1/rules", "/api/v1/alerts", "/api/v2/alerts", "/api/v2/silences", "/api/v1/heartbeats",
                           "/metrics", "/"}) {
    expect_no_canary(path, get(path), c);
  }
  // The rule's error text shows the peer's page, minus what it echoed of our credentials.
  EXPECT_NE(last_error.find("denied"), std::string::npos) << last_error;
  std::cout << "lastError with an echoing peer: " << last_error << "\n";
  expect_no_canary("lastError", last_error, c);
  expect_no_canary("the log", promwatch.process().log(), c);
  EXPECT_TRUE(promwatch.process().running());
}

// `promwatch test-receiver` prints the platform's answer. A platform (or a proxy) that echoes the
// request's headers makes it print the receiver's credentials. DISABLED until daemon/app/
// test_receiver.cpp scrubs the receiver's secrets from what it prints (see SECURITY.md).
TEST(Security, TestReceiverOutputHidesSecretsAnEchoingPlatformSentBack) {
  Canaries c;
  TestHttpServer echo([&](const TestRequest& request) {
    TestResponse r;
    r.status = 401;
    r.body = echo_headers(request);
    return r;
  });
  TempDir dir;
  dir.write("rules.toml", "");
  dir.write("promwatch.toml", R"([global]
rule_files = []
[datasource]
url = "http://127.0.0.1:1"
[[receivers]]
name = "denied"
type = "webhook"
url = ")" + echo.url() + "/hook/" + c.url_path + R"("
authorization = { credentials = ")" + c.rcv_auth + R"(" }
headers = { "X-Api-Key" = ")" + c.rcv_header + R"(" }
[[receivers]]
name = "basic"
type = "webhook"
url = ")" + echo.url() + "/hook?token=" + c.url_token + R"("
basic_auth = { username = ")" + c.rcv_user + R"(", password = ")" + c.rcv_pass + R"(" }
[route]
receiver = "denied"
)");
  for (const char* name : {"denied", "basic"}) {
    std::string output;
    EXPECT_NE(run_command({promwatch_binary(), "test-receiver", "--config", (dir.path() / "promwatch.toml").string(), name},
                          &output, 20s),
              0);
    EXPECT_NE(output.find("HTTP 401"), std::string::npos) << output;
    expect_no_canary(std::string("promwatch test-receiver ") + name, output, c);
  }
}

// ---- TLS -------------------------------------------------------------------------------------

TEST(Security, TlsCertificatesAreVerifiedUnlessSkipIsAsked) {
  TempDir dir;
  std::string out;
  ASSERT_EQ(run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                         (dir.path() / "key.pem").string(), "-out", (dir.path() / "cert.pem").string(), "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                        &out),
            0)
      << out;
  int port = free_port();
  // openssl's test server: a TLS handshake with the self-signed certificate, then an HTML page
  // for any GET (not JSON: a successful handshake shows as a JSON error, not a TLS one).
  ChildProcess server({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                       (dir.path() / "cert.pem").string(), "-key", (dir.path() / "key.pem").string(), "-www", "-quiet"},
                      dir.path() / "s_server.log");
  ASSERT_TRUE(wait_until([&] { return RawClient(port).connected(); }, 10s)) << server.log();
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  auto config = [&](const std::string& tls) {
    return R"([global]
rule_files = ["rules.toml"]
state_dir = "{{DIR}}/state"
[datasource]
url = ")" + url + R"("
method = "GET"
timeout = "2s"
retries = 0
)" + tls + R"(
[server]
listen = "{{LISTEN}}"
)";
  };
  std::map<std::string, std::string> files = {{"rules.toml", R"([[groups]]
name = "tls"
interval = "2s"

[[groups.rules]]
alert = "Up"
expr = 'up == 1'
)"}};
  PromwatchProcess verify(config(""), files);
  PromwatchProcess skip(config("tls = { insecure_skip_verify = true }"), files);
  PromwatchProcess trusted(config("tls = { ca_file = \"" + (dir.path() / "cert.pem").string() + "\" }"), files);
  for (auto* p : {&verify, &skip, &trusted}) ASSERT_TRUE(p->wait_healthy()) << p->process().log();

  std::string error;
  ASSERT_TRUE(wait_until([&] { return rule_health(verify.url(), &error) == "err"; }, 15s)) << verify.process().log();
  EXPECT_NE(error.find("TLS"), std::string::npos) << error;
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
  for (auto* p : {&skip, &trusted}) {
    std::string e;
    ASSERT_TRUE(wait_until([&] { return !rule_health(p->url(), &e).empty() && !e.empty(); }, 15s)) << p->process().log();
    EXPECT_EQ(e.find("TLS"), std::string::npos) << e;
    EXPECT_EQ(e.find("certificate"), std::string::npos) << e;
  }
}

// ---- no shell --------------------------------------------------------------------------------

TEST(Security, NoShellExecutionInTheDaemon) {
  const std::regex forbidden(R"((^|[^A-Za-z0-9_:.])(std::)?(system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|fork|vfork|posix_spawnp?|wordexp)\s*\()");
  const std::regex shell_path(R"(/bin/(ba|da|z)?sh\b)");
  std::size_t files = 0;
  for (const char* top : {"daemon", "include"}) {
    for (const auto& entry : fs::recursive_directory_iterator(source_dir() / top)) {
      if (!entry.is_regular_file()) continue;
      auto ext = entry.path().extension();
      if (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".cc") continue;
      ++files;
      std::ifstream in(entry.path());
      std::string line;
      int number = 0;
      while (std::getline(in, line)) {
        ++number;
        auto comment = line.find("//");
        std::string code = comment == std::string::npos ? line : line.substr(0, comment);
        EXPECT_FALSE(std::regex_search(code, forbidden)) << entry.path().string() << ":" << number << ": " << line;
        EXPECT_FALSE(std::regex_search(code, shell_path)) << entry.path().string() << ":" << number << ": " << line;
      }
    }
  }
  EXPECT_GT(files, 20u);
}

}  // namespace
}  // namespace promwatch::test
