// Chat receivers (slack, dingtalk, feishu, wecom, discord, teams, telegram): the requests they
// build, compared with checked-in goldens (tests/unit/golden/<platform>_<case>.json), plus their
// limits, escaping, signatures, judgements of the platforms' answers and user templates.
//
// Regenerate the goldens after an intended change with
//   PROMWATCH_UPDATE_GOLDENS=1 ./chat_receivers_test
// and review every diff against the platform's documented API.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "promwatch/delivery.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/template.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using nlohmann::ordered_json;

namespace promwatch {
namespace {

// 2026-11-24T09:00:00Z
const TimePoint t0 = TimePoint{} + std::chrono::seconds(1'795'510'800);
// The signing clock: 2026-11-24T09:30:00.123Z
const TimePoint sign_time = t0 + 30min + 123ms;

const char* kPlatforms[] = {"slack", "dingtalk", "feishu", "wecom", "discord", "teams", "telegram"};

std::filesystem::path golden_dir() { return std::filesystem::path(PROMWATCH_SOURCE_DIR) / "tests/unit/golden"; }

ReceiverConfig platform_config(const std::string& platform) {
  ReceiverConfig rc;
  rc.name = platform + "-team";
  if (platform == "slack") {
    rc.type = "slack";
    rc.url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
  } else if (platform == "dingtalk") {
    rc.type = "dingtalk";
    rc.url = "https://oapi.dingtalk.com/robot/send?access_token=DTTOKEN";
    rc.secret = "SECdingtalk";
    rc.at_mobiles = {"13800000000"};
  } else if (platform == "feishu") {
    rc.type = "feishu";
    rc.url = "https://open.feishu.cn/open-apis/bot/v2/hook/FSTOKEN";
    rc.secret = "feishu-secret";
    rc.at_user_ids = {"ou_123"};
  } else if (platform == "wecom") {
    rc.type = "wecom";
    rc.url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=WCKEY";
    rc.mentioned_list = {"zhangsan"};
  } else if (platform == "discord") {
    rc.type = "discord";
    rc.url = "https://discord.com/api/webhooks/123/DCTOKEN";
  } else if (platform == "teams") {
    rc.type = "teams";
    rc.url = "https://example.webhook.office.com/webhookb2/TMTOKEN";
  } else if (platform == "telegram") {
    rc.type = "telegram";
    rc.bot_token = "123456:TGTOKEN";
    rc.chat_id = "-1001234567890";
  }
  return rc;
}

std::shared_ptr<const Receiver> make(const ReceiverConfig& rc, const Template* title = nullptr,
                                     const Template* text = nullptr) {
  std::string error;
  auto r = make_receiver(rc, NotifyConfig{}, title, text, &error, [] { return sign_time; });
  EXPECT_TRUE(r) << error;
  return r;
}

NotificationAlert make_alert(std::string name, std::string instance, bool firing, Labels extra = {},
                             Labels annotations = {}) {
  NotificationAlert a;
  a.status = firing ? "firing" : "resolved";
  a.labels = Labels{{"alertname", name}, {"instance", instance}, {"job", "node"}, {"severity", "critical"}};
  a.labels.merge(extra);
  a.annotations = annotations;
  a.starts_at = t0;
  a.ends_at = firing ? TimePoint{} : t0 + 15min;
  a.generator_url = "http://promwatch.example:9097/rules#" + name;
  a.fingerprint = fingerprint_hex(a.labels.fingerprint());
  return a;
}

Notification make_notification(const std::string& receiver, std::vector<NotificationAlert> alerts,
                               Labels group_labels = Labels{{"alertname", "HighCPU"}}) {
  Notification n;
  n.receiver = receiver;
  n.group_labels = group_labels;
  n.group_key = "{}:" + group_labels.to_string();
  n.group_interval = 5min;
  n.repeat_interval = 4h;
  n.created_at = t0 + 30min;
  n.external_url = "http://promwatch.example:9097";
  if (!alerts.empty()) {
    // Labels and annotations every alert shares.
    Labels common = alerts[0].labels;
    Labels common_ann = alerts[0].annotations;
    for (const auto& a : alerts) {
      for (const auto& l : Labels(common)) {
        if (a.labels.get(l.name) != l.value) common.erase(l.name);
      }
      for (const auto& l : Labels(common_ann)) {
        if (a.annotations.get(l.name) != l.value) common_ann.erase(l.name);
      }
    }
    n.common_labels = common;
    n.common_annotations = common_ann;
  }
  for (auto& a : alerts) {
    AlertEvent e;
    e.labels = std::move(a.labels);
    e.annotations = std::move(a.annotations);
    e.starts_at = a.starts_at;
    e.ends_at = a.ends_at;
    e.generator_url = std::move(a.generator_url);
    n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(e)), a.status == "resolved"});
  }
  return n;
}

// Notifications share their (immutable) alerts: a test changes one by replacing it.
void set_annotation(Notification& n, std::size_t i, const std::string& name, const std::string& value) {
  AlertEvent e = *n.alerts[i].event;
  e.annotations.set(name, value);
  n.alerts[i].event = std::make_shared<const AlertEvent>(std::move(e));
}

Notification case_notification(const std::string& receiver, const std::string& which) {
  Labels cpu_ann{{"summary", "CPU above 90% on web-1"}, {"value", "93.5"}};
  if (which == "firing") return make_notification(receiver, {make_alert("HighCPU", "web-1:9100", true, {}, cpu_ann)});
  if (which == "resolved") return make_notification(receiver, {make_alert("HighCPU", "web-1:9100", false, {}, cpu_ann)});
  if (which == "many") {
    std::vector<NotificationAlert> alerts;
    for (int i = 0; i < 40; ++i) {
      std::string host = "web-" + std::to_string(i) + ":9100";
      Labels ann{{"summary", "CPU above 90% on " + host},
                 {"description", "The 5-minute average CPU usage of " + host +
                                     " has been above 90% for 10 minutes; requests queue up and latency "
                                     "grows. Check the top consumers and scale out if the load is real."},
                 {"value", std::to_string(90 + i % 10) + ".5"}};
      alerts.push_back(make_alert("HighCPU", host, i % 8 != 7, {}, ann));
    }
    Notification n = make_notification(receiver, std::move(alerts));
    n.truncated_alerts = 13;  // max_alerts = 40 left 13 out
    return n;
  }
  // "escaping": every dialect's special characters in label values, annotations and the URL.
  NotificationAlert a = make_alert(
      "Disk*Full_", "<script>&amp;\"x\"</script>", true,
      Labels{{"team", "@everyone @here <@123> [click](http://evil.example)"}, {"path", "a|b`c`~d\\e #1 {x}.!+-="}},
      Labels{{"summary", "Disk *db* _primary_ at 95% > 90%\n# not a heading"}, {"value", "95 < 100 & > 90"}});
  a.generator_url = "http://prom.example/graph?g0.expr=up{job=\"a b\"}&x=(1)|y";
  return make_notification(receiver, {a}, Labels{{"alertname", "Disk*Full_"}});
}

// The request as a golden document: method, URL, headers (without the version-dependent
// User-Agent) and the body (JSON when it parses).
ordered_json describe(const std::vector<HttpRequest>& requests) {
  ordered_json out;
  out["requests"] = ordered_json::array();
  for (const auto& r : requests) {
    ordered_json d;
    d["method"] = r.method;
    d["url"] = r.url;
    ordered_json headers = ordered_json::object();
    for (const auto& [k, v] : r.headers) {
      if (k != "User-Agent") headers[k] = v;
    }
    d["headers"] = headers;
    ordered_json body = ordered_json::parse(r.body, nullptr, false);
    if (body.is_discarded()) {
      d["body_text"] = r.body;
    } else {
      d["body"] = body;
    }
    d["body_bytes"] = r.body.size();
    out["requests"].push_back(d);
  }
  return out;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void check_golden(const std::string& name, const ordered_json& actual) {
  const std::string text = actual.dump(2) + "\n";
  const auto path = golden_dir() / (name + ".json");
  const char* update = std::getenv("PROMWATCH_UPDATE_GOLDENS");
  if (update && *update && std::string(update) != "0") {
    std::filesystem::create_directories(golden_dir());
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run with PROMWATCH_UPDATE_GOLDENS=1";
  EXPECT_EQ(read_file(path), text) << "golden " << path
                                   << " differs (PROMWATCH_UPDATE_GOLDENS=1 regenerates; review the diff)";
}

std::string hmac_b64(const std::string& key, const std::string& msg) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), digest, &len);
  std::string out(64, '\0');
  out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, len)));
  return out;
}

std::size_t utf8_chars(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The user-visible text of one request, for size and content checks.
std::vector<std::string> visible_texts(const std::string& platform, const json& body) {
  std::vector<std::string> out;
  if (platform == "slack") {
    for (const auto& b : body.value("blocks", json::array())) {
      if (b.contains("text")) out.push_back(b["text"]["text"].get<std::string>());
    }
  } else if (platform == "dingtalk") {
    if (body.contains("markdown")) out.push_back(body["markdown"]["text"]);
    if (body.contains("actionCard")) out.push_back(body["actionCard"]["text"]);
    if (body.contains("text")) out.push_back(body["text"]["content"]);
  } else if (platform == "feishu") {
    for (const auto& e : body["card"]["elements"]) {
      if (e.contains("content")) out.push_back(e["content"]);
    }
  } else if (platform == "wecom") {
    out.push_back(body["markdown"]["content"]);
  } else if (platform == "discord") {
    for (const auto& e : body.value("embeds", json::array())) out.push_back(e["description"]);
  } else if (platform == "teams") {
    for (const auto& b : body["attachments"][0]["content"]["body"]) out.push_back(b["text"]);
  } else if (platform == "telegram") {
    out.push_back(body["text"]);
  }
  return out;
}

class Golden : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Golden, RequestMatches) {
  const auto& [platform, which] = GetParam();
  auto receiver = make(platform_config(platform));
  ASSERT_TRUE(receiver);
  std::string error;
  auto requests = receiver->build_requests(case_notification(receiver->name(), which), &error);
  ASSERT_FALSE(requests.empty()) << error;
  check_golden(platform + "_" + which, describe(requests));

  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_FALSE(r.follow_redirects);
    json body = json::parse(r.body);
    // Limits, per platform, in the platform's own units.
    for (const auto& t : visible_texts(platform, body)) {
      if (platform == "slack") {
 EXPECT_LE(utf8_chars(t), 3000u);
}
      if (platform == "wecom") {
 EXPECT_LE(t.size(), 4096u);
}
      if (platform == "discord") {
 EXPECT_LE(utf8_chars(t), 4096u);
}
      if (platform == "telegram") {
 EXPECT_LE(utf8_chars(t), 4096u);
}
    }
    if (platform == "dingtalk") {
 EXPECT_LE(r.body.size(), 20000u);
}
    if (platform == "feishu") {
 EXPECT_LE(r.body.size(), 20u * 1024);
}
    if (platform == "teams") {
 EXPECT_LE(r.body.size(), 28u * 1024);
}
    if (platform == "slack") {
 EXPECT_LE(body["blocks"].size(), 50u);
}
    if (platform == "discord") {
      EXPECT_EQ(body["allowed_mentions"], json::parse(R"({"parse":[]})"));
      EXPECT_LE(body["embeds"].size(), 10u);
    }
  }

  // Firing and resolved are told apart at a glance: the title starts with the status.
  std::string first = requests[0].body;
  if (which == "firing") {
    EXPECT_NE(first.find("FIRING:1"), std::string::npos) << first;
    EXPECT_NE(first.find("CPU above 90% on web-1"), std::string::npos);  // summary
    EXPECT_NE(first.find("93.5"), std::string::npos);                    // value
    EXPECT_NE(first.find("web-1:9100"), std::string::npos);              // key labels
    EXPECT_NE(first.find("http://promwatch.example:9097"), std::string::npos);  // link
  }
  if (which == "resolved") {
    EXPECT_NE(first.find("RESOLVED"), std::string::npos);
    EXPECT_EQ(first.find("FIRING"), std::string::npos);
  }
  if (which == "many") {
    // Every alert is listed in some message, or summarised in the last one.
    std::string all;
    for (const auto& r : requests) all += r.body;
    std::string last = requests.back().body;
    EXPECT_NE(last.find("more alerts"), std::string::npos) << "the last message summarises what is left out";
    if (platform == "wecom" || platform == "telegram" || platform == "discord") {
      EXPECT_GT(requests.size(), 1u) << "split into several messages";
      EXPECT_NE(requests[0].body.find("(1/"), std::string::npos);
    }
    EXPECT_LE(requests.size(), 5u);
  }
  if (which == "escaping") {
    std::string all = requests[0].body;
    if (platform != "telegram" && platform != "slack") {
      EXPECT_EQ(all.find("[click](http://evil.example)"), std::string::npos) << "a label value made a link";
    }
    if (platform == "telegram") {
 EXPECT_EQ(all.find("<script>"), std::string::npos);
}
    if (platform == "slack") {
 EXPECT_EQ(all.find("<@123>"), std::string::npos);
}
  }
}

std::vector<std::tuple<std::string, std::string>> golden_cases() {
  std::vector<std::tuple<std::string, std::string>> out;
  for (const char* p : kPlatforms) {
    for (const char* c : {"firing", "resolved", "many", "escaping"}) out.emplace_back(p, c);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(ChatReceivers, Golden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

// ---------------------------------------------------------------------------------------------
// Message types other than the default

TEST(ChatReceivers, OtherMessageTypes) {
  struct Case {
    std::string platform, msg_type;
  };
  for (const Case& c : std::vector<Case>{{"dingtalk", "text"},
                                         {"dingtalk", "card"},
                                         {"dingtalk", "markdown"},
                                         {"feishu", "text"},
                                         {"feishu", "markdown"},
                                         {"wecom", "text"},
                                         {"slack", "text"},
                                         {"discord", "markdown"},
                                         {"teams", "markdown"},
                                         {"teams", "text"}}) {
    ReceiverConfig rc = platform_config(c.platform);
    rc.msg_type = c.msg_type;
    auto r = make(rc);
    std::string error;
    auto requests = r->build_requests(case_notification(rc.name, "firing"), &error);
    ASSERT_EQ(requests.size(), 1u) << error;
    check_golden(c.platform + "_" + c.msg_type + "_firing", describe(requests));
  }
  ReceiverConfig tg = platform_config("telegram");
  for (const std::string mode : {"MarkdownV2", "Markdown"}) {
    tg.parse_mode = mode;
    auto r = make(tg);
    std::string error;
    auto requests = r->build_requests(case_notification(tg.name, "escaping"), &error);
    ASSERT_EQ(requests.size(), 1u) << error;
    check_golden("telegram_" + mode + "_escaping", describe(requests));
  }
}

// ---------------------------------------------------------------------------------------------
// Signing

std::map<std::string, std::string> query_of(const std::string& url) {
  std::map<std::string, std::string> q;
  auto qpos = url.find('?');
  std::string rest = qpos == std::string::npos ? "" : url.substr(qpos + 1);
  std::stringstream s(rest);
  std::string kv;
  while (std::getline(s, kv, '&')) {
    auto eq = kv.find('=');
    q[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return q;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

TEST(ChatReceivers, DingtalkSignatureIsFreshPerAttempt) {
  TimePoint clock = sign_time;
  ReceiverConfig rc = platform_config("dingtalk");
  std::string error;
  auto r = make_receiver(rc, NotifyConfig{}, nullptr, nullptr, &error, [&] { return clock; });
  auto requests = r->build_requests(case_notification(rc.name, "firing"), &error);
  ASSERT_EQ(requests.size(), 1u);
  auto q = query_of(requests[0].url);
  EXPECT_EQ(q["access_token"], "DTTOKEN");
  const std::string ts = std::to_string(sign_time.time_since_epoch().count());
  EXPECT_EQ(q["timestamp"], ts);
  EXPECT_EQ(percent_decode(q["sign"]), hmac_b64(rc.secret, ts + "\n" + rc.secret));
  EXPECT_EQ(q["sign"].find_first_of("+/="), std::string::npos) << "encoded once";

  // Two hours later a retry carries a new timestamp and signature, not the stale ones.
  clock = sign_time + 2h;
  HttpRequest retry = requests[0];
  r->prepare_attempt(retry);
  auto q2 = query_of(retry.url);
  const std::string ts2 = std::to_string(clock.time_since_epoch().count());
  EXPECT_EQ(q2["timestamp"], ts2);
  EXPECT_EQ(percent_decode(q2["sign"]), hmac_b64(rc.secret, ts2 + "\n" + rc.secret));
  EXPECT_EQ(retry.url.find("timestamp=" + ts), std::string::npos);
  EXPECT_EQ(q2["access_token"], "DTTOKEN");
}

TEST(ChatReceivers, FeishuSignatureInBody) {
  TimePoint clock = sign_time;
  ReceiverConfig rc = platform_config("feishu");
  std::string error;
  auto r = make_receiver(rc, NotifyConfig{}, nullptr, nullptr, &error, [&] { return clock; });
  auto requests = r->build_requests(case_notification(rc.name, "firing"), &error);
  ASSERT_EQ(requests.size(), 1u);
  json body = json::parse(requests[0].body);
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(sign_time.time_since_epoch()).count());
  EXPECT_EQ(body["timestamp"], ts);
  EXPECT_EQ(body["sign"], hmac_b64(ts + "\n" + rc.secret, ""));
  clock += 3h;
  r->prepare_attempt(requests[0]);
  json later = json::parse(requests[0].body);
  EXPECT_NE(later["timestamp"], ts);
  EXPECT_EQ(later["sign"], hmac_b64(later["timestamp"].get<std::string>() + "\n" + rc.secret, ""));
  EXPECT_EQ(later["card"], body["card"]);
}

TEST(ChatReceivers, NoSigningWithoutSecret) {
  ReceiverConfig rc = platform_config("dingtalk");
  rc.secret.clear();
  std::string error;
  auto requests = make(rc)->build_requests(case_notification(rc.name, "firing"), &error);
  EXPECT_EQ(requests[0].url, rc.url);
  rc = platform_config("feishu");
  rc.secret.clear();
  requests = make(rc)->build_requests(case_notification(rc.name, "firing"), &error);
  EXPECT_FALSE(json::parse(requests[0].body).contains("sign"));
}

// ---------------------------------------------------------------------------------------------
// Judging the platforms' answers

HttpResponse answer(int status, std::string body, std::optional<Duration> retry_after = std::nullopt) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.retry_after = retry_after;
  return r;
}

DeliveryJudgement judge(const std::string& platform, const HttpResponse& response) {
  return make(platform_config(platform))->judge(response);
}

TEST(ChatReceivers, JudgesAsThePlatformReports) {
  using V = DeliveryVerdict;
  struct Case {
    std::string platform;
    HttpResponse response;
    V verdict;
    std::string reason_has;
  };
  std::vector<Case> cases = {
      {"dingtalk", answer(200, R"({"errcode":0,"errmsg":"ok"})"), V::Delivered, ""},
      {"dingtalk", answer(200, R"({"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"})"), V::Retry,
       "130101"},
      {"dingtalk", answer(200, R"({"errcode":310000,"errmsg":"keywords not in content"})"), V::Failed,
       "errcode 310000: keywords not in content"},
      {"dingtalk", answer(200, R"({"errcode":460101,"errmsg":"message too long"})"), V::Failed, "460101"},
      {"dingtalk", answer(200, "<html>proxy</html>"), V::Failed, "without errcode"},
      {"dingtalk", answer(502, "bad gateway"), V::Retry, "HTTP 502"},
      {"wecom", answer(200, R"({"errcode":0,"errmsg":"ok"})"), V::Delivered, ""},
      {"wecom", answer(200, R"({"errcode":45009,"errmsg":"api freq out of limit"})"), V::Retry, "45009"},
      {"wecom", answer(200, R"({"errcode":93000,"errmsg":"invalid webhook url"})"), V::Failed, "93000"},
      {"feishu", answer(200, R"({"code":0,"msg":"success","data":{}})"), V::Delivered, ""},
      {"feishu", answer(200, R"({"StatusCode":0,"StatusMessage":"success"})"), V::Delivered, ""},
      {"feishu", answer(200, R"({"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"})"),
       V::Failed, "19021"},
      {"feishu", answer(200, R"({"code":11232,"msg":"frequency limited psm"})"), V::Retry, "11232"},
      {"feishu", answer(400, R"({"code":9499,"msg":"too many request"})"), V::Retry, "9499"},
      {"feishu", answer(400, R"({"code":9499,"msg":"Bad Request"})"), V::Failed, "9499"},
      {"slack", answer(200, "ok"), V::Delivered, ""},
      {"slack", answer(200, "invalid_blocks"), V::Failed, "invalid_blocks"},
      {"slack", answer(400, "invalid_payload"), V::Failed, "invalid_payload"},
      {"slack", answer(404, "channel_not_found"), V::Failed, "channel_not_found"},
      {"slack", answer(429, "rate_limited", 30s), V::Retry, "429"},
      {"discord", answer(204, ""), V::Delivered, ""},
      {"discord", answer(429, R"({"message":"You are being rate limited.","retry_after":1.5,"global":false})"), V::Retry,
       "429"},
      {"discord", answer(400, R"({"code":50006,"message":"Cannot send an empty message"})"), V::Failed, "50006"},
      {"teams", answer(202, ""), V::Delivered, ""},
      {"teams", answer(200, "1"), V::Delivered, ""},
      {"teams", answer(200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId ..."), V::Retry, "429"},
      {"teams", answer(200, "Summary or Text is required."), V::Failed, "Summary or Text"},
      {"teams", answer(400, "Bad payload received by generic incoming webhook."), V::Failed, "400"},
      {"telegram", answer(200, R"({"ok":true,"result":{"message_id":1}})"), V::Delivered, ""},
      {"telegram", answer(429, R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}})"),
       V::Retry, "429"},
      {"telegram", answer(400, R"({"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"})"),
       V::Failed, "can't parse entities"},
      {"telegram", answer(200, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})"),
       V::Failed, "chat not found"},
  };
  for (const auto& c : cases) {
    DeliveryJudgement j = judge(c.platform, c.response);
    EXPECT_EQ(j.verdict, c.verdict) << c.platform << " " << c.response.status << " " << c.response.body << ": "
                                    << j.reason;
    EXPECT_NE(j.reason.find(c.reason_has), std::string::npos) << c.platform << ": " << j.reason;
  }
  EXPECT_EQ(judge("telegram", cases[29].response).retry_after, Duration(7s));
  EXPECT_EQ(judge("discord", answer(429, R"({"retry_after":1.5})")).retry_after, Duration(1500ms));
  EXPECT_EQ(judge("slack", answer(429, "rate_limited", 30s)).retry_after, Duration(30s));
  EXPECT_EQ(judge("dingtalk", answer(200, R"({"errcode":130101,"errmsg":"x"})")).retry_after, Duration(60s));
}

TEST(ChatReceivers, NoSecretInReasons) {
  for (const char* platform : kPlatforms) {
    ReceiverConfig rc = platform_config(platform);
    auto r = make(rc);
    for (const auto& resp : {answer(0, ""), answer(500, "oops"), answer(200, "{}"), answer(403, "forbidden")}) {
      HttpResponse x = resp;
      if (x.status == 0) x.error = "connection refused";
      std::string reason = r->judge(x).reason;
      for (const std::string& secret : {rc.url, rc.secret, rc.bot_token}) {
        if (!secret.empty()) {
 EXPECT_EQ(reason.find(secret), std::string::npos) << platform << ": " << reason;
}
      }
    }
  }
}

TEST(ChatReceivers, RateLimitsPerDestination) {
  auto rl = [](const std::string& platform, std::string configured = "") {
    ReceiverConfig rc = platform_config(platform);
    if (!configured.empty()) rc.rate_limit = RateLimit{3, 10s};
    return make(rc)->rate_limit();
  };
  EXPECT_EQ(rl("dingtalk").count, 20);
  EXPECT_EQ(rl("dingtalk").per, Duration(1min));
  EXPECT_EQ(rl("wecom").count, 20);
  EXPECT_EQ(rl("wecom").per, Duration(1min));
  EXPECT_EQ(rl("feishu").count, 5);
  EXPECT_EQ(rl("feishu").per, Duration(1s));
  EXPECT_EQ(rl("slack").count, 1);
  EXPECT_EQ(rl("slack").per, Duration(1s));
  EXPECT_EQ(rl("slack", "x").count, 3);
  EXPECT_EQ(rl("slack", "x").per, Duration(10s));
  // Two receivers on one robot URL share the window.
  ReceiverConfig a = platform_config("dingtalk");
  ReceiverConfig b = a;
  b.name = "other";
  EXPECT_EQ(make(a)->destination(), make(b)->destination());
  ReceiverConfig t1 = platform_config("telegram");
  ReceiverConfig t2 = t1;
  t2.chat_id = "42";
  EXPECT_NE(make(t1)->destination(), make(t2)->destination());
}

TEST(ChatReceivers, TelegramEndpoint) {
  ReceiverConfig rc = platform_config("telegram");
  std::string error;
  auto requests = make(rc)->build_requests(case_notification(rc.name, "firing"), &error);
  EXPECT_EQ(requests[0].url, "https://api.telegram.org/bot123456:TGTOKEN/sendMessage");
  rc.url = "http://127.0.0.1:8080/";
  requests = make(rc)->build_requests(case_notification(rc.name, "firing"), &error);
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:8080/bot123456:TGTOKEN/sendMessage");
  json body = json::parse(requests[0].body);
  EXPECT_EQ(body["chat_id"], -1001234567890LL);
  EXPECT_EQ(body["parse_mode"], "HTML");
  rc.chat_id = "@alerts";
  requests = make(rc)->build_requests(case_notification(rc.name, "firing"), &error);
  EXPECT_EQ(json::parse(requests[0].body)["chat_id"], "@alerts");
}

// ---------------------------------------------------------------------------------------------
// User templates

std::optional<Template> compile(std::string_view text) {
  TemplateError e;
  auto t = Template::compile("t", text, &e);
  EXPECT_TRUE(t) << e.message;
  return t;
}

TEST(ChatReceivers, UserTemplatesOverrideTheDefaults) {
  auto title = compile(R"({{ .Status | toUpper }} {{ .CommonLabels.alertname }})");
  auto text = compile(R"({{ range .Alerts }}* {{ .Labels.instance }}: {{ .Annotations.summary }}
{{ end }})");
  ASSERT_TRUE(title && text);
  for (const char* platform : kPlatforms) {
    ReceiverConfig rc = platform_config(platform);
    auto r = make(rc, &*title, &*text);
    std::string error;
    auto requests = r->build_requests(case_notification(rc.name, "firing"), &error);
    ASSERT_EQ(requests.size(), 1u) << platform << error;
    const std::string& body = requests[0].body;
    EXPECT_NE(body.find("FIRING HighCPU"), std::string::npos) << platform << body;
    EXPECT_NE(body.find("* web-1:9100: CPU above 90% on web-1"), std::string::npos) << platform << body;
    EXPECT_EQ(body.find("[FIRING:1]"), std::string::npos) << platform;
  }
}

TEST(ChatReceivers, LongUserTextIsSplitByAlerts) {
  auto text = compile(R"({{ range .Alerts }}{{ .Labels.instance }}: {{ .Annotations.description }}
{{ end }})");
  ASSERT_TRUE(text);
  ReceiverConfig rc = platform_config("telegram");
  auto r = make(rc, nullptr, &*text);
  std::string error;
  auto requests = r->build_requests(case_notification(rc.name, "many"), &error);
  ASSERT_GT(requests.size(), 1u);
  ASSERT_LE(requests.size(), 5u);
  for (const auto& req : requests) {
    std::string t = json::parse(req.body)["text"];
    EXPECT_LE(utf8_chars(t), 4096u);
  }
  // Alerts are not cut in half between messages.
  std::string first = json::parse(requests[0].body)["text"];
  EXPECT_EQ(first.back(), '\n') << first.substr(first.size() > 300 ? first.size() - 300 : 0);
  EXPECT_NE(json::parse(requests.back().body)["text"].get<std::string>().find("more alerts"), std::string::npos);
}

TEST(ChatReceivers, HugeAnnotationIsTruncatedNotRejected) {
  for (const char* platform : kPlatforms) {
    ReceiverConfig rc = platform_config(platform);
    Notification n = case_notification(rc.name, "firing");
    set_annotation(n, 0, "description", std::string(100000, 'x'));
    std::string error;
    auto requests = make(rc)->build_requests(n, &error);
    ASSERT_EQ(requests.size(), 1u) << platform;
    for (const auto& t : visible_texts(platform, json::parse(requests[0].body))) {
      EXPECT_LE(utf8_chars(t), platform == std::string("slack") ? 3000u : 4096u) << platform;
    }
    EXPECT_NE(requests[0].body.find("CPU above 90% on web-1"), std::string::npos) << platform;
  }
}

TEST(ChatReceivers, DefaultTextSaysAnAlertIsFlapping) {
  // Flap detection's notice (#17): the one message before the alert goes quiet says why.
  for (const char* platform : kPlatforms) {
    ReceiverConfig rc = platform_config(platform);
    Notification n = case_notification(rc.name, "firing");
    std::string error;
    auto plain = make(rc)->build_requests(n, &error);
    ASSERT_EQ(plain.size(), 1u) << platform;
    EXPECT_EQ(plain[0].body.find("Flapping:"), std::string::npos) << platform;
    set_annotation(n, 0, "flapping", "true");
    set_annotation(n, 0, "flap_count", "6");
    auto requests = make(rc)->build_requests(n, &error);
    ASSERT_EQ(requests.size(), 1u) << platform;
    EXPECT_NE(requests[0].body.find("Flapping:"), std::string::npos) << platform;
    EXPECT_NE(requests[0].body.find("6 state changes: no more messages until it is stable"), std::string::npos)
        << platform << ": " << requests[0].body;
  }
}

TEST(ChatReceivers, ThousandsOfAlertsStayCheap) {
  std::vector<NotificationAlert> alerts;
  for (int i = 0; i < 5000; ++i) {
    alerts.push_back(make_alert("HighCPU", "host-" + std::to_string(i), true, {}, Labels{{"summary", "busy"}}));
  }
  Notification n = make_notification("x", std::move(alerts));
  auto text = compile(R"({{ range .Alerts }}{{ .Labels.instance }} {{ end }})");
  auto start = std::chrono::steady_clock::now();
  for (const char* platform : kPlatforms) {
    ReceiverConfig rc = platform_config(platform);
    for (const Template* t : std::vector<const Template*>{nullptr, &*text}) {
      std::string error;
      auto requests = make(rc, nullptr, t)->build_requests(n, &error);
      ASSERT_GE(requests.size(), 1u) << platform;
      ASSERT_LE(requests.size(), 5u) << platform;
      if (!t) {
        EXPECT_NE(requests.back().body.find("more alerts"), std::string::npos) << platform;
      }
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

TEST(ChatReceivers, MentionsOnlyOnTheFirstPart) {
  ReceiverConfig rc = platform_config("dingtalk");
  rc.msg_type = "markdown";
  rc.at_all = true;
  std::string error;
  Notification n = case_notification(rc.name, "many");
  for (std::size_t i = 0; i < n.alerts.size(); ++i) set_annotation(n, i, "description", std::string(1500, 'd'));
  auto requests = make(rc)->build_requests(n, &error);
  ASSERT_GT(requests.size(), 1u);
  json first = json::parse(requests[0].body);
  EXPECT_EQ(first["at"]["atMobiles"], json::array({"13800000000"}));
  EXPECT_EQ(first["at"]["isAtAll"], true);
  EXPECT_NE(first["markdown"]["text"].get<std::string>().find("@13800000000"), std::string::npos);
  json second = json::parse(requests[1].body);
  EXPECT_EQ(second["at"]["atMobiles"], json::array());
  EXPECT_EQ(second["at"]["isAtAll"], false);
}

}  // namespace
}  // namespace promwatch
