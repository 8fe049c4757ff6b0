// The email receiver against a real SMTP server on loopback (aiosmtpd, tests/support/
// smtp_server.py): with AUTH, with STARTTLS on a self-signed certificate made here, with
// scripted 451/550 replies and without STARTTLS. The server parses every message back with
// Python's `email` package and writes it as JSON; delivery runs in-process on an io_context
// (retry vs failure), `promwatch test-receiver` runs as a user would.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "promwatch/app.hpp"
#include "promwatch/config.hpp"
#include "promwatch/delivery.hpp"
#include "promwatch/http_client.hpp"
#include "promwatch/notify.hpp"
#include "support/process.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

const char* kPython = "/usr/bin/python3";  // Debian's, where python3-aiosmtpd is installed

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One aiosmtpd server on 127.0.0.1 writing what it receives under its own directory.
class SmtpServer {
 public:
  explicit SmtpServer(const TempDir& dir, const std::string& name, std::vector<std::string> extra = {})
      : port_(free_port()), dir_(dir.path() / name) {
    std::filesystem::create_directories(dir_);
    std::vector<std::string> argv = {kPython, (source_dir() / "tests/support/smtp_server.py").string(), "--port",
                                     std::to_string(port_), "--dir", dir_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_ = std::make_unique<ChildProcess>(argv, dir.path() / (name + ".log"));
    bool ready = wait_until([&] { return child_->log().find("ready") != std::string::npos || !child_->running(); }, 20s);
    EXPECT_TRUE(ready && child_->running()) << child_->log();
  }

  int port() const { return port_; }
  std::string smarthost() const { return "127.0.0.1:" + std::to_string(port_); }
  /// The messages accepted so far, in order.
  std::vector<json> messages() const {
    std::vector<json> out;
    for (int i = 0; i < 100; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "%03d.json", i);
      auto p = dir_ / name;
      if (!std::filesystem::exists(p)) continue;
      out.push_back(json::parse(read_text(p)));
    }
    return out;
  }
  /// The reply given to each DATA, in order.
  std::vector<std::string> attempts() const {
    std::vector<std::string> out;
    std::istringstream in(read_text(dir_ / "attempts"));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::string auth_log() const { return read_text(dir_ / "auth"); }

 private:
  int port_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> child_;
};

Notification sample(const std::string& receiver) {
  Notification n;
  n.receiver = receiver;
  n.group_labels = Labels{{"alertname", "HighCPU"}};
  n.group_key = "{}:{alertname=\"HighCPU\"}";
  n.group_interval = 10s;  // also the cap of backoff
  n.repeat_interval = 4h;
  n.created_at = now();
  AlertEvent a;
  a.labels = Labels{{"alertname", "HighCPU"}, {"instance", "web-1:9100"}, {"severity", "critical"}};
  a.annotations = Labels{{"summary", "CPU above 90% on web-1 <script>"}};
  a.starts_at = now() - 5min;
  a.generator_url = "http://promwatch.example:9097/rules#HighCPU";
  n.common_labels = a.labels;
  n.common_annotations = a.annotations;
  n.external_url = "http://promwatch.example:9097";
  n.firing.push_back(a.labels.fingerprint());
  n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(a)), false});
  return n;
}

// A config with one email receiver (`keys` after the smarthost line), loaded as the daemon does.
struct EmailConfig {
  std::filesystem::path path;
  Config config;
};
EmailConfig load(const TempDir& dir, const std::string& name, const std::string& keys) {
  EmailConfig c;
  c.path = dir.write(name + ".toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n[[receivers]]\nname = \"" + name +
                                         "\"\ntype = \"email\"\n" + keys);
  LoadResult r = load_config(c.path.string());
  for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
  if (r.config) c.config = std::move(*r.config);
  return c;
}

struct Harness {
  boost::asio::io_context io;
  HttpClient http{io};
  std::vector<DeliveryReport> reports;
  std::unique_ptr<Delivery> delivery;

  Harness() {
    DeliveryOptions o;
    o.max_attempts = 4;
    o.initial_backoff = 50ms;
    o.max_backoff = 2s;
    delivery = std::make_unique<Delivery>(io, http, o, [this](const DeliveryReport& r) { reports.push_back(r); });
  }

  DeliveryReport deliver(const Config& config, Duration timeout = 20s, ReceiverTemplates templates = {}) {
    EXPECT_EQ(config.receivers.size(), 1u);
    if (config.receivers.empty()) return {};
    std::string error;
    auto receiver = make_receiver(config.receivers[0], config.notify, templates, &error);
    EXPECT_TRUE(receiver) << error;
    if (!receiver) return {};
    delivery->set_receivers({receiver});
    reports.clear();
    delivery->submit(sample(config.receivers[0].name));
    auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
      io.restart();
      io.run_for(20ms);
      for (const auto& r : reports) {
        if (r.result != "retry") return r;
      }
    }
    ADD_FAILURE() << "no final report within the timeout";
    return {};
  }

  std::vector<std::string> results() const {
    std::vector<std::string> out;
    for (const auto& r : reports) out.push_back(r.result);
    return out;
  }
};

// A self-signed certificate for 127.0.0.1, made once for the suite.
class EmailTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    std::string out;
    int rc = run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key().string(), "-out",
                          cert().string(), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                          "subjectAltName=IP:127.0.0.1,DNS:localhost"},
                         &out);
    ASSERT_EQ(rc, 0) << out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::filesystem::path cert() { return dir_->path() / "cert.pem"; }
  static std::filesystem::path key() { return dir_->path() / "key.pem"; }

  TempDir dir;
  static TempDir* dir_;
};
TempDir* EmailTest::dir_ = nullptr;

const std::string kAddresses =
    "from = \"Promwatch <alerts@example.com>\"\n"
    "to = [\"Ops Team <ops@example.com>\", \"oncall@example.com\"]\n"
    "cc = [\"Jürgen Ärger <boss@example.com>\"]\n";

TEST_F(EmailTest, PlainSmtpWithAuthDeliversBothParts) {
  SmtpServer server(dir, "plain", {"--auth", "promwatch:s3cr3t-pw"});
  auto c = load(dir, "mail", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses +
                                 "require_tls = false\nauth_username = \"promwatch\"\nauth_password = \"s3cr3t-pw\"\n"
                                 "auth_mechanism = \"PLAIN\"\nhello = \"promwatch.example\"\n"
                                 "headers = { X-Team = \"sre\" }\n");
  Harness h;
  DeliveryReport r = h.deliver(c.config);
  EXPECT_EQ(r.result, "success") << r.reason;
  auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  const json& m = messages[0];
  EXPECT_EQ(m["mail_from"], "alerts@example.com");
  EXPECT_EQ(m["rcpt_tos"], json({"ops@example.com", "oncall@example.com", "boss@example.com"}));
  EXPECT_EQ(m["from"], "Promwatch <alerts@example.com>");
  EXPECT_EQ(m["to"], "Ops Team <ops@example.com>, oncall@example.com");
  EXPECT_NE(m["cc"].get<std::string>().find("Jürgen Ärger"), std::string::npos) << m["cc"];
  EXPECT_NE(m["cc"].get<std::string>().find("<boss@example.com>"), std::string::npos) << m["cc"];
  EXPECT_EQ(m["raw_cc"].get<std::string>().find("Jürgen"), std::string::npos) << m["raw_cc"];  // encoded on the wire
  // The default title: non-ASCII (an emoji), so RFC 2047 on the wire and decoded back.
  EXPECT_EQ(m["subject"], "\xF0\x9F\x94\xA5 [FIRING:1] HighCPU");
  EXPECT_EQ(m["raw_subject"].get<std::string>().rfind("=?UTF-8?B?", 0), 0u) << m["raw_subject"];
  EXPECT_EQ(m["headers"]["X-Team"], "sre");
  EXPECT_EQ(m["headers"]["MIME-Version"], "1.0");
  EXPECT_NE(m["date"].get<std::string>().find("+0000"), std::string::npos) << m["date"];
  EXPECT_NE(m["message_id"].get<std::string>().find("@example.com>"), std::string::npos) << m["message_id"];
  EXPECT_EQ(m["content_type"], "multipart/alternative");
  EXPECT_TRUE(m["crlf_only"].get<bool>());
  EXPECT_LE(m["max_line"].get<int>(), 998);
  EXPECT_TRUE(m["authenticated"].get<bool>());
  EXPECT_FALSE(m["tls"].get<bool>());
  ASSERT_EQ(m["parts"].size(), 2u) << m.dump();
  EXPECT_EQ(m["parts"][0]["content_type"], "text/plain");
  EXPECT_EQ(m["parts"][0]["charset"], "utf-8");
  const std::string text = m["parts"][0]["text"];
  EXPECT_NE(text.find("CPU above 90% on web-1 <script>"), std::string::npos) << text;
  EXPECT_NE(text.find("instance=web-1:9100"), std::string::npos) << text;
  EXPECT_EQ(m["parts"][1]["content_type"], "text/html");
  const std::string html = m["parts"][1]["text"];
  EXPECT_NE(html.find("CPU above 90% on web-1 &lt;script&gt;"), std::string::npos) << html;
  EXPECT_EQ(html.find("<script>"), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"http://promwatch.example:9097/rules#HighCPU\""), std::string::npos) << html;
  EXPECT_NE(server.auth_log().find("PLAIN ok"), std::string::npos) << server.auth_log();
}

TEST_F(EmailTest, LongUnicodeSubjectIsSplitIntoEncodedWordsAndHeadersOverride) {
  SmtpServer server(dir, "subject");
  auto c = load(dir, "mail", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses +
                                 "require_tls = false\n"
                                 "title = 'Störung {{ .CommonLabels.alertname }} — Überlastung im Rechenzentrum Süd, "
                                 "bitte sofort prüfen ✅'\n"
                                 "text = 'Plain: {{ .CommonAnnotations.summary }}'\n"
                                 "html = '<p style=\"color:red\">{{ .CommonAnnotations.summary | html }}</p>'\n"
                                 "headers = { Reply-To = \"sre@example.com\", To = \"Undisclosed <list@example.com>\" }\n");
  // The templates compiled as the daemon compiles them.
  CompileResult compiled = compile_config(c.path.string());
  ASSERT_TRUE(compiled.compiled);
  ASSERT_TRUE(compiled.compiled->receiver_titles[0] && compiled.compiled->receiver_texts[0] &&
              compiled.compiled->receiver_htmls[0]);
  Harness h;
  EXPECT_EQ(h.deliver(c.config, 20s, compiled.compiled->receiver_templates(0)).result, "success");
  auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  const json& m = messages[0];
  EXPECT_EQ(m["subject"], "Störung HighCPU — Überlastung im Rechenzentrum Süd, bitte sofort prüfen ✅");
  const std::string raw = m["raw_subject"];
  std::size_t words = 0;
  for (std::size_t p = raw.find("=?UTF-8?B?"); p != std::string::npos; p = raw.find("=?UTF-8?B?", p + 1)) ++words;
  EXPECT_GE(words, 2u) << raw;
  EXPECT_LE(m["max_line"].get<int>(), 78);  // encoded-words folded, base64 in 76-character lines
  EXPECT_EQ(m["headers"]["Reply-To"], "sre@example.com");
  EXPECT_EQ(m["to"], "Undisclosed <list@example.com>");  // the configured header replaces ours
  // ... while the envelope still goes to every configured recipient.
  EXPECT_EQ(m["rcpt_tos"], json({"ops@example.com", "oncall@example.com", "boss@example.com"}));
  ASSERT_EQ(m["parts"].size(), 2u);
  EXPECT_EQ(m["parts"][0]["text"], "Plain: CPU above 90% on web-1 <script>\r\n");
  // The html template replaces the default HTML part.
  EXPECT_EQ(m["parts"][1]["content_type"], "text/html");
  EXPECT_EQ(m["parts"][1]["text"], "<p style=\"color:red\">CPU above 90% on web-1 &lt;script&gt;</p>");
}

TEST_F(EmailTest, StarttlsWithLoginOnASelfSignedCertificate) {
  SmtpServer server(dir, "tls", {"--auth", "promwatch:pw-over-tls", "--starttls", cert().string(), key().string()});
  auto c = load(dir, "mail", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses +
                                 "auth_username = \"promwatch\"\nauth_password = \"pw-over-tls\"\n"
                                 "auth_mechanism = \"LOGIN\"\ntls = { ca_file = \"" + cert().string() + "\" }\n");
  Harness h;
  DeliveryReport r = h.deliver(c.config);
  EXPECT_EQ(r.result, "success") << r.reason;
  auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0]["tls"].get<bool>());
  EXPECT_TRUE(messages[0]["authenticated"].get<bool>());
  EXPECT_NE(server.auth_log().find("LOGIN ok"), std::string::npos) << server.auth_log();

  // The same server without trusting its certificate: refused by verification, retried.
  auto untrusted = load(dir, "untrusted", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses);
  Harness h2;
  DeliveryReport r2 = h2.deliver(untrusted.config);
  EXPECT_EQ(r2.result, "failed");
  EXPECT_NE(r2.reason.find("TLS"), std::string::npos) << r2.reason;
  EXPECT_EQ(server.messages().size(), 1u);
}

TEST_F(EmailTest, TemporaryFailureIsRetriedPermanentIsNot) {
  SmtpServer greylist(dir, "greylist", {"--replies", "451,250"});
  auto c = load(dir, "mail", "smarthost = \"" + greylist.smarthost() + "\"\n" + kAddresses + "require_tls = false\n");
  Harness h;
  DeliveryReport r = h.deliver(c.config);
  EXPECT_EQ(r.result, "success") << r.reason;
  EXPECT_EQ(h.results(), (std::vector<std::string>{"retry", "success"}));
  ASSERT_FALSE(h.reports.empty());
  EXPECT_NE(h.reports[0].reason.find("451"), std::string::npos) << h.reports[0].reason;
  EXPECT_EQ(greylist.attempts(), (std::vector<std::string>{"451", "250"}));
  EXPECT_EQ(greylist.messages().size(), 1u);

  SmtpServer refusing(dir, "refusing", {"--replies", "550"});
  auto c2 = load(dir, "mail2", "smarthost = \"" + refusing.smarthost() + "\"\n" + kAddresses + "require_tls = false\n");
  Harness h2;
  DeliveryReport r2 = h2.deliver(c2.config);
  EXPECT_EQ(r2.result, "failed");
  EXPECT_NE(r2.reason.find("550"), std::string::npos) << r2.reason;
  EXPECT_EQ(h2.results(), (std::vector<std::string>{"failed"}));
  EXPECT_EQ(refusing.attempts(), (std::vector<std::string>{"550"}));
}

TEST_F(EmailTest, RequireTlsRefusesAServerWithoutStarttls) {
  SmtpServer server(dir, "cleartext", {"--auth", "promwatch:never-sent"});
  auto c = load(dir, "mail", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses +
                                 "auth_username = \"promwatch\"\nauth_password = \"never-sent\"\n");
  Harness h;
  DeliveryReport r = h.deliver(c.config);
  EXPECT_EQ(r.result, "failed");
  EXPECT_NE(r.reason.find("offers no STARTTLS and require_tls is set"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("never-sent"), std::string::npos) << r.reason;
  EXPECT_TRUE(server.attempts().empty());
  EXPECT_EQ(server.auth_log(), "");  // the password never went out in the clear

  // test-receiver says so too, and exits 2.
  std::string out;
  EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", c.path.string(), "mail"}, &out), 2) << out;
  EXPECT_NE(out.find("offers no STARTTLS"), std::string::npos) << out;
  EXPECT_EQ(out.find("never-sent"), std::string::npos) << out;
}

TEST_F(EmailTest, WrongPasswordIsPermanent) {
  SmtpServer server(dir, "badauth", {"--auth", "promwatch:right"});
  auto c = load(dir, "mail", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses +
                                 "require_tls = false\nauth_username = \"promwatch\"\nauth_password = \"wrong-password\"\n");
  Harness h;
  DeliveryReport r = h.deliver(c.config);
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h.results(), (std::vector<std::string>{"failed"}));
  EXPECT_NE(r.reason.find("535"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("wrong-password"), std::string::npos) << r.reason;
  EXPECT_TRUE(server.messages().empty());
}

TEST_F(EmailTest, TestReceiverSendsAResolvedSample) {
  SmtpServer server(dir, "cli", {"--auth", "promwatch:cli-secret"});
  auto c = load(dir, "mail", "smarthost = \"" + server.smarthost() + "\"\n" + kAddresses +
                                 "require_tls = false\nauth_username = \"promwatch\"\nauth_password_file = \"" +
                                 dir.write("pw", "cli-secret\n").string() + "\"\n"
                                 "title = '{{ .Status | toUpper }}: {{ .CommonLabels.alertname }}'\n");
  std::string out;
  EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", c.path.string(), "mail", "--resolved"}, &out), 0)
      << out;
  EXPECT_NE(out.find("accepted"), std::string::npos) << out;
  EXPECT_NE(out.find("SMTP 250"), std::string::npos) << out;
  EXPECT_EQ(out.find("cli-secret"), std::string::npos) << out;
  auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["subject"], "RESOLVED: PromwatchTestNotification");
}

}  // namespace
}  // namespace promwatch::test
