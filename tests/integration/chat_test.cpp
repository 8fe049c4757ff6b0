// Chat receivers against local servers that speak each platform's protocol: URLs, headers, JSON
// shapes and signatures are checked by the server (signatures recomputed here with OpenSSL), and
// the servers answer with the platforms' real error codes. Delivery runs in-process on an
// io_context (retry vs failure); `promwatch test-receiver` runs as a user would (exit codes).

#include <chrono>
#include <cstdlib>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "promwatch/config.hpp"
#include "promwatch/delivery.hpp"
#include "promwatch/http_client.hpp"
#include "promwatch/notify.hpp"
#include "support/http_test_server.hpp"
#include "support/process.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

std::string hmac_b64(const std::string& key, const std::string& msg) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), digest, &len);
  std::string out(64, '\0');
  out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, len)));
  return out;
}

TestResponse json_answer(int status, const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  TestResponse r;
  r.status = status;
  r.body = body;
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

TestResponse text_answer(int status, const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  TestResponse r;
  r.status = status;
  r.body = body;
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "text/plain");
  return r;
}

// A platform: checks every request with `check` (problems collected, asserted on the test
// thread) and answers from `script` in order (the last answer repeats).
class Platform {
 public:
  using Check = std::function<void(const TestRequest&, std::vector<std::string>& problems)>;
  Platform(Check check, std::vector<TestResponse> script)
      : check_(std::move(check)), script_(std::move(script)), server_([this](const TestRequest& r) { return serve(r); }) {}

  std::string url() const { return server_.url(); }
  std::vector<TestRequest> requests() const { return server_.requests(); }
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }
  std::vector<SteadyClock::time_point> arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  TestResponse serve(const TestRequest& r) {
    std::lock_guard lock(mu_);
    arrivals_.push_back(SteadyClock::now());
    if (r.method != "POST") problems_.push_back("method " + r.method);
    if (r.headers.count("content-type") == 0 || r.headers.at("content-type") != "application/json") {
      problems_.push_back("content-type missing");
    }
    if (r.headers.count("user-agent") == 0 || r.headers.at("user-agent").rfind("promwatch/", 0) != 0) {
      problems_.push_back("user-agent missing");
    }
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded()) problems_.push_back("body is not JSON: " + r.body);
    if (check_) check_(r, problems_);
    std::size_t i = std::min(next_++, script_.size() - 1);
    return script_[i];
  }

  Check check_;
  std::vector<TestResponse> script_;
  mutable std::mutex mu_;
  std::vector<std::string> problems_;
  std::vector<SteadyClock::time_point> arrivals_;
  std::size_t next_ = 0;
  TestHttpServer server_;  // last: stopped first
};

Notification sample(const std::string& receiver, Duration group_interval = 10s) {
  Notification n;
  n.receiver = receiver;
  n.group_labels = Labels{{"alertname", "HighCPU"}};
  n.group_key = "{}:{alertname=\"HighCPU\"}";
  n.group_interval = group_interval;  // also the cap of backoff and Retry-After
  n.repeat_interval = 4h;
  n.created_at = now();
  AlertEvent a;
  a.labels = Labels{{"alertname", "HighCPU"}, {"instance", "web-1:9100"}, {"severity", "critical"}};
  a.annotations = Labels{{"summary", "CPU above 90% on web-1"}};
  a.starts_at = now() - 5min;
  a.generator_url = "http://promwatch.example:9097/rules#HighCPU";
  n.common_labels = a.labels;
  n.common_annotations = a.annotations;
  n.external_url = "http://promwatch.example:9097";
  n.firing.push_back(a.labels.fingerprint());
  n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(a)), false});
  return n;
}

// Delivery on a private io_context; collects the reports.
struct Harness {
  boost::asio::io_context io;
  HttpClient http{io};
  std::vector<DeliveryReport> reports;
  std::unique_ptr<Delivery> delivery;

  Harness() {
    DeliveryOptions o;
    o.max_attempts = 4;
    o.initial_backoff = 50ms;
    o.max_backoff = 5s;
    delivery = std::make_unique<Delivery>(io, http, o, [this](const DeliveryReport& r) { reports.push_back(r); });
  }

  // Delivers `n` through `receiver`; returns the final report (success, failed or dropped).
  DeliveryReport deliver(const ReceiverConfig& rc, Notification n, Duration timeout = 20s) {
    std::string error;
    auto receiver = make_receiver(rc, NotifyConfig{}, &error);
    EXPECT_TRUE(receiver) << error;
    delivery->set_receivers({receiver});
    reports.clear();
    delivery->submit(std::move(n));
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

using Results = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// DingTalk

ReceiverConfig dingtalk(const Platform& p) {
  ReceiverConfig rc;
  rc.name = "ding";
  rc.type = "dingtalk";
  rc.url = p.url() + "/robot/send?access_token=DTTOKEN";
  rc.secret = "SECdingtalk";
  rc.at_mobiles = {"13800000000"};
  return rc;
}

void check_dingtalk(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/robot/send") problems.push_back("path " + r.path);
  if (r.query.count("access_token") == 0 || r.query.at("access_token") != "DTTOKEN") problems.push_back("access_token");
  if (r.query.count("timestamp") == 0 || r.query.count("sign") == 0) {
    problems.push_back("unsigned: " + r.target);
    return;
  }
  const std::string ts = r.query.at("timestamp");
  long long ms = std::stoll(ts);
  long long now_ms = now().time_since_epoch().count();
  if (std::llabs(now_ms - ms) > 60'000) problems.push_back("stale timestamp " + ts);
  // The query parser decodes once: what arrives is exactly the base64 signature.
  if (r.query.at("sign") != hmac_b64("SECdingtalk", ts + "\n" + "SECdingtalk")) problems.push_back("bad sign " + r.target);
  if (r.target.find("sign=") != std::string::npos && r.target.find('+') != std::string::npos) {
    problems.push_back("sign not percent-encoded: " + r.target);
  }
  json b = json::parse(r.body, nullptr, false);
  if (b.value("msgtype", "") != "markdown") problems.push_back("msgtype " + b.value("msgtype", ""));
  if (!b.contains("markdown") || !b["markdown"].contains("title") || !b["markdown"].contains("text")) {
    problems.push_back("markdown shape");
  } else if (b["markdown"]["text"].get<std::string>().find("@13800000000") == std::string::npos) {
    problems.push_back("mobile not in text");
  }
  if (!b.contains("at") || b["at"]["atMobiles"] != json::array({"13800000000"})) problems.push_back("at.atMobiles");
}

TEST(ChatDingtalk, SignedMarkdownAccepted) {
  Platform p(check_dingtalk, {json_answer(200, R"({"errcode":0,"errmsg":"ok"})")});
  Harness h;
  DeliveryReport r = h.deliver(dingtalk(p), sample("ding"));
  EXPECT_EQ(r.result, "success") << r.reason;
  EXPECT_EQ(p.requests().size(), 1u);
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
}

TEST(ChatDingtalk, RateLimitIsRetriedOtherCodesAreNot) {
  {
    // 130101: too fast. Retried (Retry-After of a minute capped here by the group interval).
    Platform p(check_dingtalk, {json_answer(200, R"({"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"})"),
                                json_answer(200, R"({"errcode":0,"errmsg":"ok"})")});
    Harness h;
    DeliveryReport r = h.deliver(dingtalk(p), sample("ding", 300ms));
    EXPECT_EQ(r.result, "success") << r.reason;
    EXPECT_EQ(h.results(), (Results{"retry", "success"}));
    EXPECT_NE(h.reports[0].reason.find("130101"), std::string::npos) << h.reports[0].reason;
    EXPECT_EQ(p.problems(), std::vector<std::string>{});
    EXPECT_EQ(p.requests().size(), 2u);
  }
  for (const char* answer : {R"({"errcode":310000,"errmsg":"keywords not in content"})",
                             R"({"errcode":460101,"errmsg":"message too long, exceed 20000 bytes"})"}) {
    Platform p(check_dingtalk, {json_answer(200, answer)});
    Harness h;
    DeliveryReport r = h.deliver(dingtalk(p), sample("ding"));
    EXPECT_EQ(r.result, "failed");
    json a = json::parse(answer);
    EXPECT_NE(r.reason.find(std::to_string(a["errcode"].get<int>())), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(a["errmsg"].get<std::string>()), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find("DTTOKEN"), std::string::npos);
    EXPECT_EQ(r.reason.find("SECdingtalk"), std::string::npos);
    EXPECT_EQ(p.requests().size(), 1u) << "a permanent error is not retried";
  }
}

// ---------------------------------------------------------------------------------------------
// Feishu

ReceiverConfig feishu(const Platform& p) {
  ReceiverConfig rc;
  rc.name = "fs";
  rc.type = "feishu";
  rc.url = p.url() + "/open-apis/bot/v2/hook/FSTOKEN";
  rc.secret = "feishu-secret";
  return rc;
}

void check_feishu(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/open-apis/bot/v2/hook/FSTOKEN") problems.push_back("path " + r.path);
  json b = json::parse(r.body, nullptr, false);
  if (!b.is_object() || !b.contains("timestamp") || !b.contains("sign")) {
    problems.push_back("unsigned");
    return;
  }
  std::string ts = b["timestamp"];
  long long s = std::stoll(ts);
  long long now_s = std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  if (std::llabs(now_s - s) > 60) problems.push_back("stale timestamp " + ts);
  if (b["sign"] != hmac_b64(ts + "\n" + "feishu-secret", "")) problems.push_back("bad sign");
  if (b.value("msg_type", "") != "interactive") problems.push_back("msg_type");
  if (!b.contains("card") || !b["card"].contains("header") || !b["card"].contains("elements")) problems.push_back("card shape");
}

TEST(ChatFeishu, SignatureAndCodes) {
  {
    Platform p(check_feishu, {json_answer(200, R"({"code":11232,"msg":"frequency limited psm"})"),
                              json_answer(200, R"({"code":0,"msg":"success","data":{}})")});
    Harness h;
    DeliveryReport r = h.deliver(feishu(p), sample("fs", 500ms));
    EXPECT_EQ(r.result, "success") << r.reason;
    EXPECT_EQ(h.results(), (Results{"retry", "success"}));
    EXPECT_EQ(p.problems(), std::vector<std::string>{});
  }
  {
    Platform p(check_feishu, {json_answer(200, R"({"StatusCode":0,"StatusMessage":"success"})")});
    Harness h;
    EXPECT_EQ(h.deliver(feishu(p), sample("fs")).result, "success");
  }
  {
    Platform p(check_feishu,
               {json_answer(200, R"({"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"})")});
    Harness h;
    DeliveryReport r = h.deliver(feishu(p), sample("fs"));
    EXPECT_EQ(r.result, "failed");
    EXPECT_NE(r.reason.find("19021"), std::string::npos) << r.reason;
    EXPECT_EQ(p.requests().size(), 1u);
    EXPECT_EQ(p.problems(), std::vector<std::string>{});
  }
}

// ---------------------------------------------------------------------------------------------
// WeCom

TEST(ChatWecom, RateLimitRetried) {
  Platform p(
      [](const TestRequest& r, std::vector<std::string>& problems) {
        if (r.query.count("key") == 0 || r.query.at("key") != "WCKEY") problems.push_back("key");
        json b = json::parse(r.body, nullptr, false);
        if (b.value("msgtype", "") != "markdown" || !b["markdown"]["content"].is_string()) problems.push_back("shape");
        if (b["markdown"]["content"].get<std::string>().size() > 4096) problems.push_back("too long");
      },
      {json_answer(200, R"({"errcode":45009,"errmsg":"api freq out of limit"})"),
       json_answer(200, R"({"errcode":0,"errmsg":"ok"})")});
  ReceiverConfig rc;
  rc.name = "wc";
  rc.type = "wecom";
  rc.url = p.url() + "/cgi-bin/webhook/send?key=WCKEY";
  Harness h;
  DeliveryReport r = h.deliver(rc, sample("wc", 300ms));
  EXPECT_EQ(r.result, "success") << r.reason;
  EXPECT_EQ(h.results(), (Results{"retry", "success"}));
  EXPECT_NE(h.reports[0].reason.find("45009"), std::string::npos);
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
}

// ---------------------------------------------------------------------------------------------
// Slack

TEST(ChatSlack, RetryAfterHonouredAndErrorsPermanent) {
  auto check = [](const TestRequest& r, std::vector<std::string>& problems) {
    if (r.path != "/services/T000/B000/XXXX") problems.push_back("path " + r.path);
    json b = json::parse(r.body, nullptr, false);
    if (!b["text"].is_string() || !b["blocks"].is_array() || b["blocks"][0]["type"] != "header") problems.push_back("shape");
  };
  {
    Platform p(check, {text_answer(429, "rate_limited", {{"Retry-After", "1"}}), text_answer(200, "ok")});
    ReceiverConfig rc;
    rc.name = "sl";
    rc.type = "slack";
    rc.url = p.url() + "/services/T000/B000/XXXX";
    Harness h;
    DeliveryReport r = h.deliver(rc, sample("sl"));
    EXPECT_EQ(r.result, "success") << r.reason;
    EXPECT_EQ(h.results(), (Results{"retry", "success"}));
    auto at = p.arrivals();
    ASSERT_EQ(at.size(), 2u);
    EXPECT_GE(at[1] - at[0], 900ms) << "Retry-After: 1 honoured";
    EXPECT_EQ(p.problems(), std::vector<std::string>{});
  }
  {
    Platform p(check, {text_answer(404, "channel_not_found")});
    ReceiverConfig rc;
    rc.name = "sl";
    rc.type = "slack";
    rc.url = p.url() + "/services/T000/B000/XXXX";
    Harness h;
    DeliveryReport r = h.deliver(rc, sample("sl"));
    EXPECT_EQ(r.result, "failed");
    EXPECT_NE(r.reason.find("channel_not_found"), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find("XXXX"), std::string::npos);
    EXPECT_EQ(p.requests().size(), 1u);
  }
}

// ---------------------------------------------------------------------------------------------
// Telegram

TEST(ChatTelegram, RetryAfterFromTheBody) {
  auto check = [](const TestRequest& r, std::vector<std::string>& problems) {
    if (r.path != "/bot123456:TGTOKEN/sendMessage") problems.push_back("path " + r.path);
    json b = json::parse(r.body, nullptr, false);
    if (b["chat_id"] != -1001234567890LL) problems.push_back("chat_id");
    if (b["parse_mode"] != "HTML") problems.push_back("parse_mode");
    if (!b["text"].is_string() || b["text"].get<std::string>().find("<b>") == std::string::npos) problems.push_back("text");
  };
  {
    Platform p(check, {json_answer(429, R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}})"),
                       json_answer(200, R"({"ok":true,"result":{"message_id":7}})")});
    ReceiverConfig rc;
    rc.name = "tg";
    rc.type = "telegram";
    rc.url = p.url();
    rc.bot_token = "123456:TGTOKEN";
    rc.chat_id = "-1001234567890";
    Harness h;
    DeliveryReport r = h.deliver(rc, sample("tg"));
    EXPECT_EQ(r.result, "success") << r.reason;
    EXPECT_EQ(h.results(), (Results{"retry", "success"}));
    auto at = p.arrivals();
    ASSERT_EQ(at.size(), 2u);
    EXPECT_GE(at[1] - at[0], 900ms) << "parameters.retry_after honoured";
    EXPECT_EQ(h.reports[0].reason.find("TGTOKEN"), std::string::npos);
    EXPECT_EQ(p.problems(), std::vector<std::string>{});
  }
  {
    Platform p(check, {json_answer(400, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})")});
    ReceiverConfig rc;
    rc.name = "tg";
    rc.type = "telegram";
    rc.url = p.url();
    rc.bot_token = "123456:TGTOKEN";
    rc.chat_id = "-1001234567890";
    Harness h;
    DeliveryReport r = h.deliver(rc, sample("tg"));
    EXPECT_EQ(r.result, "failed");
    EXPECT_NE(r.reason.find("chat not found"), std::string::npos);
    EXPECT_EQ(r.reason.find("TGTOKEN"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// Discord and Teams

TEST(ChatDiscord, NoMentionsAnd204) {
  Platform p(
      [](const TestRequest& r, std::vector<std::string>& problems) {
        json b = json::parse(r.body, nullptr, false);
        if (b["allowed_mentions"] != json::parse(R"({"parse":[]})")) problems.push_back("allowed_mentions");
        if (!b["embeds"].is_array() || b["embeds"].size() != 1) problems.push_back("embeds");
      },
      {text_answer(204, "")});
  ReceiverConfig rc;
  rc.name = "dc";
  rc.type = "discord";
  rc.url = p.url() + "/api/webhooks/1/DCTOKEN";
  Harness h;
  Notification n = sample("dc");
  AlertEvent mention = *n.alerts[0].event;  // alerts are shared and immutable: replace it
  mention.labels.set("team", "@everyone");
  n.alerts[0].event = std::make_shared<const AlertEvent>(std::move(mention));
  EXPECT_EQ(h.deliver(rc, n).result, "success");
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
}

TEST(ChatTeams, LegacyAnswers) {
  auto check = [](const TestRequest& r, std::vector<std::string>& problems) {
    json b = json::parse(r.body, nullptr, false);
    if (b["type"] != "message" || b["attachments"][0]["contentType"] != "application/vnd.microsoft.card.adaptive") {
      problems.push_back("shape");
    }
  };
  for (auto [answer, expected] : std::vector<std::pair<TestResponse, std::string>>{
           {text_answer(202, ""), "success"},
           {text_answer(200, "1"), "success"},
           {text_answer(200, "Webhook Bad Request - Null or empty event"), "failed"}}) {
    Platform p(check, {answer});
    ReceiverConfig rc;
    rc.name = "tm";
    rc.type = "teams";
    rc.url = p.url() + "/webhookb2/TMTOKEN";
    Harness h;
    DeliveryReport r = h.deliver(rc, sample("tm"));
    EXPECT_EQ(r.result, expected) << answer.status << " " << answer.body << ": " << r.reason;
    EXPECT_EQ(p.problems(), std::vector<std::string>{});
  }
}

// ---------------------------------------------------------------------------------------------
// Mattermost, Rocket.Chat, Webex, Teams Workflows (msteamsv2): one test each for the whole life
// of a group (trigger, resolve), retried and permanent errors, and no secret in any reason.

// A receiver as the config loader reads it (types with settings of their own need that).
ReceiverConfig load_receiver(const TempDir& dir, const std::string& table) {
  auto path = dir.write("r.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n[[receivers]]\n" + table);
  LoadResult r = load_config(path.string());
  for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
  return r.config && !r.config->receivers.empty() ? r.config->receivers[0] : ReceiverConfig{};
}

Notification resolved_sample(const std::string& receiver) {
  Notification n = sample(receiver);
  AlertEvent a = *n.alerts[0].event;
  a.ends_at = now();
  n.resolved = n.firing;
  n.firing.clear();
  n.alerts[0] = NotifiedAlert{std::make_shared<const AlertEvent>(std::move(a)), true};
  return n;
}

void expect_no_secret(const Harness& h, const std::vector<std::string>& secrets) {
  for (const auto& r : h.reports) {
    for (const auto& secret : secrets) EXPECT_EQ(r.reason.find(secret), std::string::npos) << r.reason;
  }
}

void check_mattermost(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/hooks/MMTOKEN") problems.push_back("path " + r.path);
  json b = json::parse(r.body, nullptr, false);
  // Mattermost refuses a post with neither text nor attachments ("No text specified").
  if (!b.contains("text") && !(b.contains("attachments") && b["attachments"].is_array() && !b["attachments"].empty())) {
    problems.push_back("no text");
    return;
  }
  if (b.contains("attachments")) {
    const json& a = b["attachments"][0];
    for (const char* k : {"fallback", "color", "title", "text"}) {
      if (!a.contains(k) || !a[k].is_string()) problems.push_back(std::string("attachment.") + k);
    }
  }
  if (b.value("channel", "") != "ops") problems.push_back("channel");
}

TEST(ChatMattermost, OkBodyRetriesAndPermanentErrors) {
  TempDir dir;
  const std::string mm_error = R"({"id":"web.incoming_webhook.channel.app_error","message":"Couldn't find the channel.","detailed_error":"","request_id":"ohek8h44ejdzmk36pf9x573jza","status_code":400})";
  Platform p(check_mattermost, {text_answer(429, "limit exceeded", {{"Retry-After", "1"}}), text_answer(503, "{}"),
                                text_answer(200, "ok"), text_answer(200, "ok"), json_answer(400, mm_error)});
  auto rc = load_receiver(dir, "name = \"mm\"\ntype = \"mattermost\"\nurl = \"" + p.url() +
                                   "/hooks/MMTOKEN\"\nchannel = \"ops\"\nusername = \"promwatch\"\n");
  Harness h;
  EXPECT_EQ(h.deliver(rc, sample("mm")).result, "success");
  EXPECT_EQ(h.results(), (Results{"retry", "retry", "success"}));
  EXPECT_EQ(h.deliver(rc, resolved_sample("mm")).result, "success");
  DeliveryReport r = h.deliver(rc, sample("mm"));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h.results(), (Results{"failed"}));
  EXPECT_NE(r.reason.find("Couldn't find the channel."), std::string::npos) << r.reason;
  expect_no_secret(h, {"MMTOKEN"});
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
  auto reqs = p.requests();
  ASSERT_EQ(reqs.size(), 5u);
  json firing = json::parse(reqs[2].body);
  json resolved = json::parse(reqs[3].body);
  EXPECT_EQ(firing["username"], "promwatch");
  EXPECT_EQ(firing["attachments"][0]["color"], "#E01E5A");
  EXPECT_NE(firing["attachments"][0]["text"].get<std::string>().find("CPU above 90% on web-1"), std::string::npos);
  EXPECT_EQ(resolved["attachments"][0]["color"], "#2EB67D");
  EXPECT_NE(resolved["attachments"][0]["title"].get<std::string>().find("RESOLVED"), std::string::npos);
}

void check_rocketchat(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/hooks/6Fq/RCTOKEN") problems.push_back("path " + r.path);
  json b = json::parse(r.body, nullptr, false);
  if (!b.contains("attachments") || !b["attachments"].is_array() || b["attachments"].empty()) {
    problems.push_back("attachments");
    return;
  }
  const json& a = b["attachments"][0];
  for (const char* k : {"title", "text", "color"}) {
    if (!a.contains(k) || !a[k].is_string()) problems.push_back(std::string("attachment.") + k);
  }
  if (a.value("text", "").size() > 5000) problems.push_back("over Message_MaxAllowedSize");
}

TEST(ChatRocketchat, SuccessTrueRetriesAndPermanentErrors) {
  TempDir dir;
  Platform p(check_rocketchat,
             {json_answer(429, R"({"success":false,"error":"Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]"})"),
              json_answer(200, R"({"success":true})"), json_answer(200, R"({"success":true})"),
              json_answer(400, R"({"success":false,"error":"Invalid integration id or token provided."})"),
              json_answer(200, R"({"success":false})")});
  auto rc = load_receiver(dir, "name = \"rc\"\ntype = \"rocketchat\"\nurl_file = \"" +
                                   dir.write("rc_url", p.url() + "/hooks/6Fq/RCTOKEN\n").string() +
                                   "\"\nalias = \"promwatch\"\nemoji = \":bell:\"\n");
  Harness h;
  EXPECT_EQ(h.deliver(rc, sample("rc")).result, "success");
  EXPECT_EQ(h.results(), (Results{"retry", "success"}));
  EXPECT_EQ(h.deliver(rc, resolved_sample("rc")).result, "success");
  DeliveryReport r = h.deliver(rc, sample("rc"));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h.results(), (Results{"failed"}));
  EXPECT_NE(r.reason.find("Invalid integration id or token provided."), std::string::npos) << r.reason;
  // An HTTP 200 without success:true is a failure too.
  r = h.deliver(rc, sample("rc"));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h.results(), (Results{"failed"}));
  expect_no_secret(h, {"RCTOKEN"});
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
  auto reqs = p.requests();
  ASSERT_EQ(reqs.size(), 5u);
  json firing = json::parse(reqs[1].body);
  EXPECT_EQ(firing["alias"], "promwatch");
  EXPECT_EQ(firing["emoji"], ":bell:");
  EXPECT_EQ(firing["attachments"][0]["title_link"], "http://promwatch.example:9097");
  EXPECT_NE(json::parse(reqs[2].body)["attachments"][0]["title"].get<std::string>().find("RESOLVED"), std::string::npos);
}

// Alertmanager's way: chat.postMessage on the REST API with a personal access token.
TEST(ChatRocketchat, RestApiWithAccessToken) {
  TempDir dir;
  auto check = [](const TestRequest& r, std::vector<std::string>& problems) {
    if (r.path != "/api/v1/chat.postMessage") problems.push_back("path " + r.path);
    auto header = [&](const char* k) { return r.headers.count(k) ? r.headers.at(k) : std::string(); };
    if (header("x-user-id") != "RCUSERID" || header("x-auth-token") != "RCPAT") problems.push_back("credentials");
    json b = json::parse(r.body, nullptr, false);
    if (b.value("channel", "") != "#ops") problems.push_back("channel");
    if (!b.contains("attachments")) problems.push_back("attachments");
  };
  Platform p(check, {json_answer(200, R"({"ts":1764885600000,"channel":"ops","message":{"_id":"x","msg":""},"success":true})"),
                     json_answer(401, R"({"status":"error","message":"You must be logged in to do this."})")});
  auto rc = load_receiver(dir, "name = \"rc\"\ntype = \"rocketchat\"\napi_url = \"" + p.url() + "/\"\ntoken_id = \"RCUSERID\"\n"
                                   "token_file = \"" + dir.write("pat", "RCPAT\n").string() + "\"\nchannel = \"#ops\"\n");
  Harness h;
  EXPECT_EQ(h.deliver(rc, sample("rc")).result, "success");
  DeliveryReport r = h.deliver(rc, sample("rc"));
  EXPECT_EQ(r.result, "failed");
  EXPECT_NE(r.reason.find("You must be logged in to do this."), std::string::npos) << r.reason;
  expect_no_secret(h, {"RCUSERID", "RCPAT"});
  EXPECT_EQ(p.problems(), std::vector<std::string>{});

  // One of the two ways, and the REST API needs its channel.
  auto bad = dir.write("bad.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n[[receivers]]\nname = \"a\"\ntype = \"rocketchat\"\n"
                                   "url = \"http://x/hooks/a/b\"\ntoken = \"t\"\n[[receivers]]\nname = \"b\"\ntype = \"rocketchat\"\n"
                                   "api_url = \"http://x\"\ntoken_id = \"u\"\ntoken = \"t\"\n");
  std::vector<std::string> errors;
  for (const auto& e : load_config(bad.string()).errors) errors.push_back(e.message);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "rocketchat receivers post to an incoming webhook (url) or through the REST API (api_url, token_id, "
                        "token), not both",
                        "missing required key \"channel\" in [[receivers]]"}));
}

const std::string kWebexToken = "NjA5ZWJkMmQtWEBEXTOKEN";
const std::string kWebexRoom = "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQ";

void check_webex(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/v1/messages") problems.push_back("path " + r.path);
  if (r.headers.count("authorization") == 0 || r.headers.at("authorization") != "Bearer " + kWebexToken) {
    problems.push_back("authorization");
  }
  json b = json::parse(r.body, nullptr, false);
  if (b.value("roomId", "") != kWebexRoom) problems.push_back("roomId");
  if (b.value("markdown", "").empty()) problems.push_back("markdown");
  if (b.value("markdown", "").size() > 7439) problems.push_back("markdown over 7439 bytes");
}

TEST(ChatWebex, BearerTokenRetriesAndPermanentErrors) {
  TempDir dir;
  const std::string created = R"({"id":"Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOTJkYjNiZTAtNDNiZC0xMWU2LThhZTktZGQ1YjNkZmM1NjVk","roomId":")" +
                              kWebexRoom + R"(","roomType":"group","markdown":"x","created":"2026-12-04T22:00:00.000Z"})";
  Platform p(check_webex,
             {json_answer(429, R"({"message":"Too Many Requests","trackingId":"ROUTER_1"})", {{"Retry-After", "1"}}),
              json_answer(502, R"({"message":"Bad Gateway","trackingId":"ROUTER_2"})"), json_answer(200, created),
              json_answer(200, created),
              json_answer(403, R"({"message":"User is not a member of the room.","errors":[{"description":"User is not a member of the room."}],"trackingId":"ROUTER_3"})")});
  auto rc = load_receiver(dir, "name = \"wx\"\ntype = \"webex\"\napi_url = \"" + p.url() + "/v1/\"\nbot_token_file = \"" +
                                   dir.write("wx_token", kWebexToken + "\n").string() + "\"\nroom_id = \"" + kWebexRoom + "\"\n");
  Harness h;
  EXPECT_EQ(h.deliver(rc, sample("wx")).result, "success");
  EXPECT_EQ(h.results(), (Results{"retry", "retry", "success"}));
  EXPECT_EQ(h.deliver(rc, resolved_sample("wx")).result, "success");
  DeliveryReport r = h.deliver(rc, sample("wx"));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h.results(), (Results{"failed"}));
  EXPECT_NE(r.reason.find("User is not a member of the room. (trackingId ROUTER_3)"), std::string::npos) << r.reason;
  expect_no_secret(h, {kWebexToken});
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
  auto reqs = p.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_NE(json::parse(reqs[2].body)["markdown"].get<std::string>().find("CPU above 90% on web-1"), std::string::npos);
  EXPECT_NE(json::parse(reqs[3].body)["markdown"].get<std::string>().find("RESOLVED"), std::string::npos);
}

void check_workflow(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/workflows/abc/triggers/manual/paths/invoke") problems.push_back("path " + r.path);
  if (r.query.count("sig") == 0 || r.query.at("sig") != "MSSIG") problems.push_back("sig");
  json b = json::parse(r.body, nullptr, false);
  // The flow's "Post card in a chat or channel" step reads attachments[].content.
  if (b.value("type", "") != "message" || !b["attachments"].is_array() || b["attachments"].size() != 1) {
    problems.push_back("shape");
    return;
  }
  const json& a = b["attachments"][0];
  if (a.value("contentType", "") != "application/vnd.microsoft.card.adaptive") problems.push_back("contentType");
  const json& c = a["content"];
  if (c.value("type", "") != "AdaptiveCard" || c.value("version", "") != "1.2" ||
      c.value("$schema", "") != "http://adaptivecards.io/schemas/adaptive-card.json" || !c["body"].is_array()) {
    problems.push_back("card");
  }
}

TEST(ChatMsteamsv2, AcceptedRetriesAndPermanentErrors) {
  TempDir dir;
  Platform p(check_workflow,
             {json_answer(429, R"({"error":{"code":"WorkflowRequestsThrottled","message":"Number of workflow requests exceeded the limit."}})",
                          {{"Retry-After", "1"}}),
              text_answer(202, ""), text_answer(202, ""),
              json_answer(404, R"({"error":{"code":"WorkflowNotFound","message":"The workflow 'abc' could not be found."}})")});
  const std::string url = p.url() + "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=MSSIG";
  auto rc = load_receiver(dir, "name = \"wf\"\ntype = \"msteamsv2\"\nurl = \"" + url + "\"\n");
  Harness h;
  EXPECT_EQ(h.deliver(rc, sample("wf")).result, "success");
  EXPECT_EQ(h.results(), (Results{"retry", "success"}));
  EXPECT_EQ(h.deliver(rc, resolved_sample("wf")).result, "success");
  DeliveryReport r = h.deliver(rc, sample("wf"));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h.results(), (Results{"failed"}));
  EXPECT_NE(r.reason.find("WorkflowNotFound"), std::string::npos) << r.reason;
  expect_no_secret(h, {"MSSIG"});
  EXPECT_EQ(p.problems(), std::vector<std::string>{});
  auto reqs = p.requests();
  ASSERT_EQ(reqs.size(), 4u);
  json card = json::parse(reqs[1].body)["attachments"][0]["content"];
  EXPECT_EQ(card["body"][0]["color"], "Attention");
  EXPECT_EQ(json::parse(reqs[2].body)["attachments"][0]["content"]["body"][0]["color"], "Good");
}

// ---------------------------------------------------------------------------------------------
// `promwatch test-receiver`

TEST(ChatCli, TestReceiverExitCodes) {
  TempDir dir;
  Platform ok(check_dingtalk, {json_answer(200, R"({"errcode":0,"errmsg":"ok"})")});
  Platform refused(check_dingtalk, {json_answer(200, R"({"errcode":310000,"errmsg":"keywords not in content"})")});
  Platform tg(nullptr, {json_answer(200, R"({"ok":true,"result":{"message_id":1}})")});
  auto receiver = [](const std::string& name, const Platform& p) {
    return "[[receivers]]\nname = \"" + name + "\"\ntype = \"dingtalk\"\nurl = \"" + p.url() +
           "/robot/send?access_token=DTTOKEN\"\nsecret = \"SECdingtalk\"\nat_mobiles = [\"13800000000\"]\n";
  };
  auto config = dir.write("promwatch.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n" + receiver("ok", ok) +
                                                receiver("refused", refused) +
                                                "[[receivers]]\nname = \"tg\"\ntype = \"telegram\"\nurl = \"" + tg.url() +
                                                "\"\nbot_token = \"123:TGTOKEN\"\nchat_id = \"42\"\n"
                                                "title = '{{ .Status | toUpper }} from the template'\n");
  std::string out;
  EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", config.string(), "ok"}, &out), 0) << out;
  EXPECT_NE(out.find("accepted"), std::string::npos) << out;
  EXPECT_NE(out.find("\"errcode\":0"), std::string::npos) << out;
  EXPECT_EQ(out.find("DTTOKEN"), std::string::npos) << out;
  EXPECT_EQ(out.find("SECdingtalk"), std::string::npos) << out;
  EXPECT_EQ(ok.problems(), std::vector<std::string>{});

  EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", config.string(), "refused", "--resolved"}, &out), 2)
      << out;
  EXPECT_NE(out.find("310000"), std::string::npos) << out;
  EXPECT_NE(out.find("not accepted"), std::string::npos) << out;
  EXPECT_EQ(out.find("DTTOKEN"), std::string::npos) << out;
  auto reqs = refused.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_NE(reqs[0].body.find("RESOLVED"), std::string::npos);

  EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", config.string(), "tg"}, &out), 0) << out;
  EXPECT_EQ(out.find("TGTOKEN"), std::string::npos) << out;
  auto tg_reqs = tg.requests();
  ASSERT_EQ(tg_reqs.size(), 1u);
  EXPECT_EQ(tg_reqs[0].path, "/bot123:TGTOKEN/sendMessage");
  EXPECT_NE(tg_reqs[0].body.find("FIRING from the template"), std::string::npos) << tg_reqs[0].body;
}

TEST(ChatCli, TestReceiverForTheNewTypes) {
  TempDir dir;
  Platform mm(check_mattermost, {text_answer(200, "ok")});
  Platform rc(check_rocketchat, {json_answer(400, R"({"success":false,"error":"Invalid integration id or token provided."})")});
  Platform wx(check_webex, {json_answer(200, R"({"id":"m1","roomId":")" + kWebexRoom + R"("})")});
  Platform wf(check_workflow, {text_answer(202, "")});
  auto config = dir.write(
      "promwatch.toml",
      "[datasource]\nurl = \"http://127.0.0.1:9\"\n"
      "[[receivers]]\nname = \"mm\"\ntype = \"mattermost\"\nurl = \"" + mm.url() + "/hooks/MMTOKEN\"\nchannel = \"ops\"\n"
      "[[receivers]]\nname = \"rc\"\ntype = \"rocketchat\"\nurl = \"" + rc.url() + "/hooks/6Fq/RCTOKEN\"\n"
      "[[receivers]]\nname = \"wx\"\ntype = \"webex\"\napi_url = \"" + wx.url() + "/v1\"\nbot_token = \"" + kWebexToken +
          "\"\nroom_id = \"" + kWebexRoom + "\"\n"
      "[[receivers]]\nname = \"wf\"\ntype = \"msteamsv2\"\nurl = \"" + wf.url() +
          "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=MSSIG\"\n");
  for (const auto& [name, code] : std::vector<std::pair<std::string, int>>{{"mm", 0}, {"rc", 2}, {"wx", 0}, {"wf", 0}}) {
    std::string out;
    EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", config.string(), name}, &out), code) << out;
    EXPECT_NE(out.find(code == 0 ? "accepted" : "not accepted"), std::string::npos) << out;
    for (const std::string& secret : std::vector<std::string>{"MMTOKEN", "RCTOKEN", "MSSIG", kWebexToken}) {
      EXPECT_EQ(out.find(secret), std::string::npos) << name << ": " << out;
    }
  }
  EXPECT_EQ(mm.requests().size(), 1u);
  EXPECT_EQ(rc.requests().size(), 1u);
  EXPECT_EQ(wx.requests().size(), 1u);
  EXPECT_EQ(wf.requests().size(), 1u);
  for (const Platform* p : {&mm, &rc, &wx, &wf}) EXPECT_EQ(p->problems(), std::vector<std::string>{});
}

}  // namespace
}  // namespace promwatch::test
