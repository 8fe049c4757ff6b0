// The paging platforms (PagerDuty Events API v2, Opsgenie Alert API, Pushover) against local servers
// that check each request the way the platform does and answer with its real codes and bodies:
// trigger and resolve of one incident by a key derived from the group key (the same from a
// receiver built afresh, as after a restart), 429/5xx retried, permanent errors not retried,
// and no secret in any reason or in `promwatch test-receiver`'s output.

#include <chrono>
#include <cstdio>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

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

const std::string kGroupKey = "{}:{alertname=\"HighCPU\"}";

std::string sha256_hex(const std::string& s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", d[i]);
    out += buf;
  }
  return out;
}

Notification sample(const std::string& receiver, bool resolved) {
  Notification n;
  n.receiver = receiver;
  n.group_labels = Labels{{"alertname", "HighCPU"}};
  n.group_key = kGroupKey;
  n.group_interval = 10s;
  n.repeat_interval = 4h;
  n.created_at = now();
  AlertEvent a;
  a.labels = Labels{{"alertname", "HighCPU"}, {"instance", "web-1:9100"}, {"severity", "page"}};
  a.annotations = Labels{{"summary", "CPU above 90% on web-1"}};
  a.starts_at = now() - 5min;
  if (resolved) a.ends_at = now();
  a.generator_url = "http://promwatch.example:9097/rules#HighCPU";
  n.common_labels = a.labels;
  n.common_annotations = a.annotations;
  n.external_url = "http://promwatch.example:9097";
  (resolved ? n.resolved : n.firing).push_back(a.labels.fingerprint());
  n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(a)), resolved});
  return n;
}

TestResponse answer(int status, const std::string& body) {
  TestResponse r;
  r.status = status;
  r.body = body;
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

// A platform: every request is checked by `check` (problems kept for the test thread) and
// answered from the script (the last answer repeats).
class Platform {
 public:
  using Check = std::function<void(const TestRequest&, std::vector<std::string>&)>;
  Platform(Check check, std::vector<TestResponse> script)
      : check_(std::move(check)), script_(std::move(script)), server_([this](const TestRequest& r) { return serve(r); }) {}
  std::string url() const { return server_.url(); }
  std::vector<TestRequest> requests() const { return server_.requests(); }
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }

 private:
  TestResponse serve(const TestRequest& r) {
    std::lock_guard lock(mu_);
    if (r.method != "POST") problems_.push_back("method " + r.method);
    if (r.headers.count("content-type") == 0 || r.headers.at("content-type") != "application/json") {
      problems_.push_back("content-type missing");
    }
    if (json::parse(r.body, nullptr, false).is_discarded()) problems_.push_back("body is not JSON: " + r.body);
    if (check_) check_(r, problems_);
    return script_[std::min(next_++, script_.size() - 1)];
  }
  Check check_;
  std::vector<TestResponse> script_;
  mutable std::mutex mu_;
  std::vector<std::string> problems_;
  std::size_t next_ = 0;
  TestHttpServer server_;  // last: stopped first
};

Config load(const TempDir& dir, const std::string& name, const std::string& table) {
  auto path = dir.write(name + ".toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n[[receivers]]\nname = \"" + name +
                                            "\"\n" + table);
  LoadResult r = load_config(path.string());
  for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
  return r.config ? std::move(*r.config) : Config{};
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

  DeliveryReport deliver(const Config& config, Notification n) {
    std::string error;
    auto receiver = config.receivers.empty() ? nullptr : make_receiver(config.receivers[0], config.notify, &error);
    EXPECT_TRUE(receiver) << error;
    if (!receiver) return {};
    delivery->set_receivers({receiver});
    reports.clear();
    delivery->submit(std::move(n));
    auto deadline = SteadyClock::now() + 20s;
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

// ---------------------------------------------------------------------------------------------
// PagerDuty

const std::string kRoutingKey = "R0UT1NGKEY0123456789abcdefabcdef";

void check_pagerduty(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.path != "/v2/enqueue") problems.push_back("path " + r.path);
  json b = json::parse(r.body, nullptr, false);
  if (!b.is_object()) return;
  if (b.value("routing_key", "") != kRoutingKey) problems.push_back("routing_key");
  std::string action = b.value("event_action", "");
  if (action != "trigger" && action != "resolve") problems.push_back("event_action " + action);
  if (b.value("dedup_key", "").size() != 64) problems.push_back("dedup_key");
  if (action == "trigger") {
    const json& p = b["payload"];
    if (!p.is_object() || p.value("summary", "").empty() || p.value("source", "").empty()) problems.push_back("payload");
    std::string sev = p.is_object() ? p.value("severity", "") : "";
    if (sev != "critical" && sev != "error" && sev != "warning" && sev != "info") problems.push_back("severity " + sev);
  }
}

const std::string kAccepted = R"({"status":"success","message":"Event processed","dedup_key":"x"})";

TEST(Pagerduty, TriggerThenResolveOneIncidentAcrossRestarts) {
  TempDir dir;
  Platform pd(check_pagerduty, {answer(202, kAccepted)});
  const std::string table = "type = \"pagerduty\"\nurl = \"" + pd.url() + "/v2/enqueue\"\nrouting_key_file = \"" +
                            dir.write("rk", kRoutingKey + "\n").string() + "\"\n";
  {
    Harness h;
    EXPECT_EQ(h.deliver(load(dir, "pd", table), sample("pd", false)).result, "success");
  }
  {
    Harness h;  // a new daemon: the receiver built afresh from the config
    EXPECT_EQ(h.deliver(load(dir, "pd", table), sample("pd", true)).result, "success");
  }
  EXPECT_EQ(pd.problems(), std::vector<std::string>{});
  auto reqs = pd.requests();
  ASSERT_EQ(reqs.size(), 2u);
  json trigger = json::parse(reqs[0].body);
  json resolve = json::parse(reqs[1].body);
  EXPECT_EQ(trigger["event_action"], "trigger");
  EXPECT_EQ(trigger["dedup_key"], sha256_hex(kGroupKey));
  EXPECT_EQ(resolve["event_action"], "resolve");
  EXPECT_EQ(resolve["dedup_key"], trigger["dedup_key"]);
  EXPECT_FALSE(resolve.contains("payload"));
  EXPECT_EQ(trigger["payload"]["severity"], "critical");  // severity="page"
  EXPECT_EQ(trigger["payload"]["source"], "promwatch.example:9097");
  EXPECT_NE(trigger["payload"]["summary"].get<std::string>().find("[FIRING:1] HighCPU"), std::string::npos);
  EXPECT_NE(trigger["payload"]["custom_details"]["firing"].get<std::string>().find("CPU above 90% on web-1"),
            std::string::npos);
  EXPECT_EQ(trigger["payload"]["custom_details"]["num_firing"], 1);
  ASSERT_TRUE(trigger["links"].is_array());
  EXPECT_EQ(trigger["links"][0]["href"], "http://promwatch.example:9097");
  EXPECT_EQ(trigger["links"][1]["href"], "http://promwatch.example:9097/rules#HighCPU");
  EXPECT_EQ(trigger["client_url"], "http://promwatch.example:9097");
}

TEST(Pagerduty, RateLimitAndServerErrorsAreRetriedInvalidEventIsNot) {
  TempDir dir;
  Platform flaky(check_pagerduty, {answer(429, R"({"status":"throttle event","message":"Requests for this service are arriving too quickly."})"),
                                   answer(500, "{}"), answer(202, kAccepted)});
  Harness h;
  auto c = load(dir, "pd", "type = \"pagerduty\"\nurl = \"" + flaky.url() + "/v2/enqueue\"\nrouting_key = \"" + kRoutingKey +
                               "\"\nseverity = \"warning\"\n");
  EXPECT_EQ(h.deliver(c, sample("pd", false)).result, "success");
  EXPECT_EQ(h.results(), (std::vector<std::string>{"retry", "retry", "success"}));
  auto reqs = flaky.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(json::parse(reqs[2].body)["payload"]["severity"], "warning");
  for (const auto& r : h.reports) EXPECT_EQ(r.reason.find(kRoutingKey), std::string::npos) << r.reason;

  Platform invalid(check_pagerduty,
                   {answer(400, R"J({"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]})J")});
  Harness h2;
  auto c2 = load(dir, "pd2", "type = \"pagerduty\"\nurl = \"" + invalid.url() + "/v2/enqueue\"\nrouting_key = \"" + kRoutingKey + "\"\n");
  DeliveryReport r = h2.deliver(c2, sample("pd2", false));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h2.results(), (std::vector<std::string>{"failed"}));
  EXPECT_NE(r.reason.find("Event object is invalid"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find(kRoutingKey), std::string::npos) << r.reason;
  EXPECT_EQ(invalid.requests().size(), 1u);
}

TEST(Pagerduty, ConfigErrors) {
  TempDir dir;
  auto path = dir.write("bad.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n[[receivers]]\nname = \"pd\"\n"
                                    "type = \"pagerduty\"\nseverity = \"page\"\n");
  LoadResult r = load_config(path.string());
  std::vector<std::string> errors;
  for (const auto& e : r.errors) errors.push_back(e.message);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "missing required key \"routing_key\" (or \"routing_key_file\") in [[receivers]] of type pagerduty",
                        "severity: must be \"critical\", \"error\", \"warning\" or \"info\", got \"page\" (leave it out "
                        "to map each alert's severity label)"}));
}

// ---------------------------------------------------------------------------------------------
// Opsgenie

const std::string kApiKey = "eb243592-faa2-4ba2-a551-1afdf565c889";

void check_opsgenie(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.headers.count("authorization") == 0 || r.headers.at("authorization") != "GenieKey " + kApiKey) {
    problems.push_back("authorization");
  }
  json b = json::parse(r.body, nullptr, false);
  if (!b.is_object()) return;
  if (r.path == "/v2/alerts") {
    if (b.value("message", "").empty() || b.value("message", "").size() > 130) problems.push_back("message");
    if (b.value("alias", "").size() != 64) problems.push_back("alias");
  } else if (r.path.starts_with("/v2/alerts/") && r.path.ends_with("/close")) {
    if (r.query.count("identifierType") == 0 || r.query.at("identifierType") != "alias") problems.push_back("identifierType");
  } else {
    problems.push_back("path " + r.path);
  }
}

const std::string kOgAccepted = R"({"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"})";

TEST(Opsgenie, CreateByAliasThenCloseAcrossRestarts) {
  TempDir dir;
  Platform og(check_opsgenie, {answer(202, kOgAccepted)});
  const std::string table = "type = \"opsgenie\"\napi_url = \"" + og.url() + "\"\napi_key = \"" + kApiKey +
                            "\"\nresponders = [\"team:ops\", \"user:jane@example.com\"]\ntags = [\"prod\"]\n"
                            "priority = \"P1\"\n";
  {
    Harness h;
    EXPECT_EQ(h.deliver(load(dir, "og", table), sample("og", false)).result, "success");
  }
  {
    Harness h;
    EXPECT_EQ(h.deliver(load(dir, "og", table), sample("og", true)).result, "success");
  }
  EXPECT_EQ(og.problems(), std::vector<std::string>{});
  auto reqs = og.requests();
  ASSERT_EQ(reqs.size(), 2u);
  json create = json::parse(reqs[0].body);
  EXPECT_EQ(reqs[0].path, "/v2/alerts");
  EXPECT_EQ(create["alias"], sha256_hex(kGroupKey));
  EXPECT_EQ(create["priority"], "P1");
  EXPECT_EQ(create["tags"], json({"prod"}));
  EXPECT_EQ(create["responders"], json::parse(R"([{"type":"team","name":"ops"},{"type":"user","username":"jane@example.com"}])"));
  EXPECT_NE(create["description"].get<std::string>().find("CPU above 90% on web-1"), std::string::npos);
  EXPECT_EQ(create["details"]["alertname"], "HighCPU");
  EXPECT_EQ(reqs[1].path, "/v2/alerts/" + sha256_hex(kGroupKey) + "/close");
}

TEST(Opsgenie, RetriesRateLimitAndServerErrorsNotBadKeys) {
  TempDir dir;
  Platform flaky(check_opsgenie, {answer(429, R"({"message":"Too many requests","took":0.0,"requestId":"r"})"),
                                  answer(503, R"({"message":"Service unavailable"})"), answer(202, kOgAccepted)});
  Harness h;
  auto c = load(dir, "og", "type = \"opsgenie\"\napi_url = \"" + flaky.url() + "\"\napi_key = \"" + kApiKey + "\"\n");
  EXPECT_EQ(h.deliver(c, sample("og", false)).result, "success");
  EXPECT_EQ(h.results(), (std::vector<std::string>{"retry", "retry", "success"}));

  for (int status : {401, 422}) {
    Platform refusing(check_opsgenie, {answer(status, status == 401 ? R"({"message":"Key format is not valid!","took":0.0,"requestId":"r"})"
                                                                    : R"({"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.0,"requestId":"r"})")});
    Harness h2;
    auto c2 = load(dir, "og2", "type = \"opsgenie\"\napi_url = \"" + refusing.url() + "\"\napi_key = \"" + kApiKey + "\"\n");
    DeliveryReport r = h2.deliver(c2, sample("og2", false));
    EXPECT_EQ(r.result, "failed") << status;
    EXPECT_EQ(h2.results(), (std::vector<std::string>{"failed"})) << status;
    EXPECT_NE(r.reason.find("HTTP " + std::to_string(status)), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find(kApiKey), std::string::npos) << r.reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Pushover

const std::string kPushoverToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
const std::string kPushoverUser = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";

void check_pushover(const TestRequest& r, std::vector<std::string>& problems) {
  if (r.method != "POST") problems.push_back("method " + r.method);
  auto get = [&](const char* k) { return r.form.count(k) ? r.form.at(k) : std::string(); };
  if (r.path.starts_with("/1/receipts/cancel_by_tag/") && r.path.ends_with(".json")) {
    if (get("token") != kPushoverToken) problems.push_back("cancel token");
    return;
  }
  if (r.path != "/1/messages.json") problems.push_back("path " + r.path);
  if (r.headers.count("content-type") == 0 || r.headers.at("content-type") != "application/x-www-form-urlencoded") {
    problems.push_back("content-type");
  }
  if (get("token") != kPushoverToken) problems.push_back("token");
  if (get("user") != kPushoverUser) problems.push_back("user");
  if (get("message").empty() || get("message").size() > 1024) problems.push_back("message");
  if (get("title").size() > 250) problems.push_back("title");
  if (get("priority") == "2" && (get("retry").empty() || get("expire").empty())) problems.push_back("emergency without retry");
  if (get("priority") == "2" && get("tags").empty()) problems.push_back("emergency without a tag to cancel it by");
}

TEST(Pushover, EmergencyWhileFiringNormalWhenResolvedPermanentErrorsNotRetried) {
  TempDir dir;
  // Pushover's own server checks form fields, so this one does too (TestRequest::form).
  std::mutex mu;
  std::vector<std::string> problems;
  std::vector<TestResponse> script = {answer(500, "{}"), answer(200, R"({"status":1,"request":"647d2300-702c-4b38-8b2f-d56326ae460b","receipt":"r"})"),
                                      answer(200, R"({"status":1,"canceled":1,"request":"e460545a-5c0b-4f5c-b2d5-2b2c2d8f1e0a"})"),
                                      answer(200, R"({"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de"})")};
  std::size_t next = 0;
  TestHttpServer pushover([&](const TestRequest& r) {
    std::lock_guard lock(mu);
    check_pushover(r, problems);
    return script[std::min(next++, script.size() - 1)];
  });
  const std::string table = "type = \"pushover\"\nurl = \"" + pushover.url() + "/1/messages.json\"\ntoken = \"" +
                            kPushoverToken + "\"\nuser_key_file = \"" + dir.write("uk", kPushoverUser).string() +
                            "\"\npriority = 2\nretry = \"45s\"\nexpire = \"2h\"\nsound = \"siren\"\n";
  Harness h;
  EXPECT_EQ(h.deliver(load(dir, "po", table), sample("po", false)).result, "success");
  EXPECT_EQ(h.results(), (std::vector<std::string>{"retry", "success"}));
  Harness h2;
  EXPECT_EQ(h2.deliver(load(dir, "po", table), sample("po", true)).result, "success");
  auto reqs = pushover.requests();
  // The resolve cancels the group's emergency (by its tag, the same from a new receiver), then
  // says so.
  ASSERT_EQ(reqs.size(), 4u);
  const std::string tag = reqs[1].form.at("tags");
  EXPECT_EQ(tag, "pw" + sha256_hex(kGroupKey).substr(0, 32));
  EXPECT_EQ(reqs[2].path, "/1/receipts/cancel_by_tag/" + tag + ".json");
  EXPECT_EQ(reqs[2].form.count("user"), 0u);
  reqs.erase(reqs.begin() + 2);
  EXPECT_EQ(reqs[1].form.at("priority"), "2");
  EXPECT_EQ(reqs[1].form.at("retry"), "45");
  EXPECT_EQ(reqs[1].form.at("expire"), "7200");
  EXPECT_EQ(reqs[1].form.at("sound"), "siren");
  EXPECT_EQ(reqs[1].form.at("url"), "http://promwatch.example:9097");
  EXPECT_NE(reqs[1].form.at("title").find("[FIRING:1] HighCPU"), std::string::npos);
  EXPECT_NE(reqs[1].form.at("message").find("CPU above 90% on web-1"), std::string::npos);
  EXPECT_EQ(reqs[2].form.at("priority"), "0");  // good news is not an emergency
  EXPECT_EQ(reqs[2].form.count("retry"), 0u);
  EXPECT_NE(reqs[2].form.at("title").find("RESOLVED"), std::string::npos);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(problems, std::vector<std::string>{});
  }

  // A bad user key: 400 with Pushover's errors, not retried, no secret in the reason.
  TestHttpServer refusing([](const TestRequest&) {
    return answer(400, R"({"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"5042853c"})");
  });
  Harness h3;
  auto c3 = load(dir, "po3", "type = \"pushover\"\nurl = \"" + refusing.url() + "/1/messages.json\"\ntoken = \"" +
                                 kPushoverToken + "\"\nuser_key = \"" + kPushoverUser + "\"\n");
  DeliveryReport r = h3.deliver(c3, sample("po3", false));
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(h3.results(), (std::vector<std::string>{"failed"}));
  EXPECT_NE(r.reason.find("user identifier is not a valid"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find(kPushoverToken), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find(kPushoverUser), std::string::npos) << r.reason;

  // retry/expire only with priority 2.
  auto path = dir.write("bad.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n[[receivers]]\nname = \"po\"\n"
                                    "type = \"pushover\"\ntoken = \"t\"\nuser_key = \"u\"\nretry = \"10s\"\n");
  LoadResult bad = load_config(path.string());
  std::vector<std::string> errors;
  for (const auto& e : bad.errors) errors.push_back(e.message);
  EXPECT_EQ(errors, (std::vector<std::string>{"retry: only applies to priority 2 (emergency)",
                                              "retry: expected a duration from 30s to 3h, got \"10s\""}));
}

TEST(Incident, TestReceiverHidesTheKeys) {
  TempDir dir;
  // An echoing platform (a proxy would do this): the answer quotes the request.
  TestHttpServer echo([](const TestRequest& r) {
    std::string quoted = r.body;
    if (auto it = r.headers.find("authorization"); it != r.headers.end()) quoted += " " + it->second;
    return answer(202, R"({"result":"ok","echo":)" + json(quoted).dump() + "}");
  });
  auto config = dir.write("promwatch.toml", "[datasource]\nurl = \"http://127.0.0.1:9\"\n"
                                            "[[receivers]]\nname = \"pd\"\ntype = \"pagerduty\"\nurl = \"" + echo.url() +
                                                "/v2/enqueue\"\nrouting_key = \"" + kRoutingKey + "\"\n"
                                            "[[receivers]]\nname = \"og\"\ntype = \"opsgenie\"\napi_url = \"" + echo.url() +
                                                "\"\napi_key = \"" + kApiKey + "\"\n");
  for (const std::string name : {"pd", "og"}) {
    std::string out;
    EXPECT_EQ(run_command({promwatch_binary(), "test-receiver", "--config", config.string(), name}, &out), 0) << out;
    EXPECT_NE(out.find("accepted"), std::string::npos) << out;
    EXPECT_EQ(out.find(kRoutingKey), std::string::npos) << out;
    EXPECT_EQ(out.find(kApiKey), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace promwatch::test
