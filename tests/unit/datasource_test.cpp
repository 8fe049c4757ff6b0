// Datasource against loopback servers playing Prometheus (and Alibaba Cloud's auth styles):
// request shape, credentials, retries, deadlines and the concurrency cap.

#include "promwatch/datasource.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "support/http_test_server.hpp"

namespace promwatch {
namespace {

using namespace std::chrono_literals;
using test::TestHttpServer;
using test::TestRequest;
using test::TestResponse;

constexpr const char* kOneSample =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"node"},"value":[1700000000,"1"]}]}})";

TestResponse prometheus_ok() {
  TestResponse r;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = kOneSample;
  return r;
}

template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::milliseconds limit = 15s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(20ms);
    io.restart();
  }
  return done();
}

struct Fixture {
  boost::asio::io_context io;
  HttpClient http{io};

  DatasourceConfig config(const std::string& url) {
    DatasourceConfig c;
    c.url = url;
    c.http.timeout = 5s;
    return c;
  }

  QueryOutcome query(Datasource& ds, std::string expr = "up", Duration budget = 10s) {
    std::optional<QueryOutcome> out;
    ds.query(std::move(expr), TimePoint(1700000000123ms), now() + budget, [&](QueryOutcome o) { out = std::move(o); });
    EXPECT_TRUE(run_until(io, [&] { return out.has_value(); }, budget + 5s));
    return out.value_or(QueryOutcome{});
  }
};

std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(JoinUrl, KeepsBasePathWithoutDoubleSlash) {
  EXPECT_EQ(Datasource::join_url("http://h:9090", "/api/v1/query"), "http://h:9090/api/v1/query");
  EXPECT_EQ(Datasource::join_url("http://h:9090/", "/api/v1/query"), "http://h:9090/api/v1/query");
  EXPECT_EQ(Datasource::join_url("https://cn-hangzhou.arms.aliyuncs.com:9443/api/v1/prometheus/xxxx", "/api/v1/query"),
            "https://cn-hangzhou.arms.aliyuncs.com:9443/api/v1/prometheus/xxxx/api/v1/query");
  EXPECT_EQ(Datasource::join_url("http://h/prom//", "api/v1/query"), "http://h/prom/api/v1/query");
  EXPECT_EQ(Datasource::join_url("http://h/prom?tenant=a", "/api/v1/query"), "http://h/prom/api/v1/query?tenant=a");
}

TEST(Datasource, PostsFormEncodedQuery) {
  TestHttpServer server([](const TestRequest&) { return prometheus_ok(); });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.query_params = {{"dedup", "true"}, {"extra", "a b&c"}};
  cfg.http.headers = {{"X-Scope-OrgID", "team-a"}};
  Datasource ds(f.io, f.http, cfg);
  QueryOutcome out = f.query(ds, R"(rate(x{job="a"}[5m]) > 0.5)");
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.http_status, 200);
  EXPECT_EQ(out.attempts, 1);
  ASSERT_EQ(out.result.samples.size(), 1u);
  EXPECT_EQ(out.result.samples[0].labels.get("job"), "node");

  ASSERT_EQ(server.request_count(), 1u);
  TestRequest r = server.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/v1/query");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(r.headers.at("x-scope-orgid"), "team-a");
  EXPECT_EQ(r.form.at("query"), R"(rate(x{job="a"}[5m]) > 0.5)");
  EXPECT_EQ(r.form.at("time"), "1700000000.123");
  EXPECT_EQ(r.form.at("timeout"), "5s");
  EXPECT_EQ(r.form.at("dedup"), "true");
  EXPECT_EQ(r.form.at("extra"), "a b&c");
  EXPECT_EQ(r.headers.count("authorization"), 0u);
}

TEST(Datasource, GetPutsParametersInTheQueryString) {
  TestHttpServer server([](const TestRequest&) { return prometheus_ok(); });
  Fixture f;
  auto cfg = f.config(server.url() + "/prefix/");
  cfg.method = "GET";
  cfg.query_params = {{"nocache", "1"}};
  Datasource ds(f.io, f.http, cfg);
  ASSERT_TRUE(f.query(ds, "sum(up) by (job)").ok);
  TestRequest r = server.requests().at(0);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/prefix/api/v1/query");
  EXPECT_EQ(r.query.at("query"), "sum(up) by (job)");
  EXPECT_EQ(r.query.at("time"), "1700000000.123");
  EXPECT_EQ(r.query.at("timeout"), "5s");
  EXPECT_EQ(r.query.at("nocache"), "1");
  EXPECT_TRUE(r.body.empty());
}

TEST(Datasource, UrlJoiningAgainstTheServer) {
  TestHttpServer server([](const TestRequest&) { return prometheus_ok(); });
  Fixture f;
  for (std::string base : {server.url(), server.url() + "/", server.url() + "/api/v1/prometheus/abc",
                           server.url() + "/api/v1/prometheus/abc/"}) {
    Datasource ds(f.io, f.http, f.config(base));
    ASSERT_TRUE(f.query(ds).ok) << base;
  }
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].path, "/api/v1/query");
  EXPECT_EQ(reqs[1].path, "/api/v1/query");
  EXPECT_EQ(reqs[2].path, "/api/v1/prometheus/abc/api/v1/query");
  EXPECT_EQ(reqs[3].path, "/api/v1/prometheus/abc/api/v1/query");
}

// Alibaba Cloud V2 instances: HTTP Basic with an AccessKey ID / Secret.
TEST(Datasource, BasicAuth) {
  TestHttpServer server([](const TestRequest& r) {
    auto it = r.headers.find("authorization");
    // "LTAI5tAccessKeyId:s3cr3t/Secret+Key" in base64
    if (it == r.headers.end() || it->second != "Basic TFRBSTV0QWNjZXNzS2V5SWQ6czNjcjN0L1NlY3JldCtLZXk=") {
      return TestResponse{401, {{"WWW-Authenticate", "Basic realm=\"arms\""}}, "Unauthorized"};
    }
    return prometheus_ok();
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.http.basic_auth = BasicAuth{"LTAI5tAccessKeyId", "s3cr3t/Secret+Key"};
  {
    Datasource ds(f.io, f.http, cfg);
    QueryOutcome out = f.query(ds);
    EXPECT_TRUE(out.ok) << out.error;
  }
  cfg.http.basic_auth = BasicAuth{"LTAI5tAccessKeyId", "wrong-secret"};
  Datasource ds(f.io, f.http, cfg);
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.http_status, 401);
  EXPECT_EQ(out.attempts, 1) << "401 is not retried";
  EXPECT_NE(out.error.find("server returned HTTP status 401 Unauthorized"), std::string::npos) << out.error;
  EXPECT_EQ(out.error.find("wrong-secret"), std::string::npos);
}

// Alibaba Cloud V1 instances: a raw `Authorization: <token>` header.
TEST(Datasource, RawAuthorizationToken) {
  const std::string token = "eyJhbGciOiJIUzI1NiJ9.raw-token";
  TestHttpServer server([token](const TestRequest& r) {
    auto it = r.headers.find("authorization");
    if (it == r.headers.end() || it->second != token) {
      return TestResponse{403, {}, "{\"status\":\"error\",\"errorType\":\"forbidden\",\"error\":\"invalid token\"}"};
    }
    return prometheus_ok();
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.http.authorization = Authorization{"raw", token};
  {
    Datasource ds(f.io, f.http, cfg);
    QueryOutcome out = f.query(ds);
    EXPECT_TRUE(out.ok) << out.error;
  }
  cfg.http.authorization = Authorization{"raw", "not-the-token"};
  {
    Datasource ds(f.io, f.http, cfg);
    QueryOutcome out = f.query(ds);
    EXPECT_FALSE(out.ok);
    EXPECT_EQ(out.http_status, 403);
    EXPECT_NE(out.error.find("invalid token"), std::string::npos) << out.error;
  }
  // The default type is Bearer, which this server rejects.
  cfg.http.authorization = Authorization{"Bearer", token};
  Datasource ds(f.io, f.http, cfg);
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.http_status, 403);
  EXPECT_EQ(server.requests().back().headers.at("authorization"), "Bearer " + token);
}

TEST(Datasource, ErrorsDoNotLeakSecrets) {
  // A misbehaving proxy that echoes the request's credentials back in its error page.
  TestHttpServer server([](const TestRequest& r) {
    return TestResponse{400, {}, "bad request from " + r.headers.at("authorization") + " tenant " +
                                     r.headers.at("x-tenant-key")};
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.http.authorization = Authorization{"raw", "topsecrettoken"};
  cfg.http.headers = {{"X-Tenant-Key", "tenant-secret-42"}};
  Datasource ds(f.io, f.http, cfg);
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("400 Bad Request"), std::string::npos) << out.error;
  EXPECT_EQ(out.error.find("topsecrettoken"), std::string::npos) << out.error;
  EXPECT_EQ(out.error.find("tenant-secret-42"), std::string::npos) << out.error;
}

TEST(Datasource, EchoedBasicAuthIsScrubbedEvenWhereTheQuoteCutsIt) {
  // The echo puts the encoded credentials where the error's 120-byte quote of the body ends: a
  // scrub of the quote alone would miss the cut-off base64 (a prefix of user:password).
  TestHttpServer server([](const TestRequest& r) {
    return TestResponse{401, {}, "<html><body>denied for " + std::string(70, 'x') + " " + r.headers.at("authorization") +
                                     " and 200 OK json " + std::string(200, 'y') + "</body></html>"};
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.http.basic_auth = BasicAuth{"ak-id", "a-rather-long-access-key-secret"};
  Datasource ds(f.io, f.http, cfg);
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("401 Unauthorized"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("denied for"), std::string::npos) << out.error;
  // base64("ak-id:a-rather-long-access-key-secret") starts with "YWstaWQ6YS1yYXRoZXIt".
  EXPECT_EQ(out.error.find("YWstaWQ6"), std::string::npos) << out.error;
}

TEST(Datasource, RetriesOn503ThenSucceeds) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const TestRequest&) {
    if (++calls <= 2) return TestResponse{503, {}, "overloaded"};
    return prometheus_ok();
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.retries = 2;
  Datasource ds(f.io, f.http, cfg);
  ds.set_retry_backoff(20ms, 100ms);
  std::vector<int> observed;
  ds.set_observer([&](int code, Duration) { observed.push_back(code); });
  QueryOutcome out = f.query(ds);
  EXPECT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(observed, (std::vector<int>{503, 503, 200}));
}

TEST(Datasource, GivesUpAfterConfiguredRetries) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{502, {}, "<html><h1>502 Bad Gateway</h1></html>"}; });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.retries = 1;
  Datasource ds(f.io, f.http, cfg);
  ds.set_retry_backoff(10ms, 10ms);
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.attempts, 2);
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(out.http_status, 502);
  EXPECT_TRUE(out.error.starts_with("server returned HTTP status 502 Bad Gateway")) << out.error;
  EXPECT_NE(out.error.find("after 2 attempts"), std::string::npos) << out.error;
}

TEST(Datasource, RetriesOn429HonouringRetryAfter) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const TestRequest&) {
    if (++calls == 1) return TestResponse{429, {{"Retry-After", "1"}}, "slow down"};
    return prometheus_ok();
  });
  Fixture f;
  auto cfg = f.config(server.url());
  Datasource ds(f.io, f.http, cfg);
  ds.set_retry_backoff(10ms, 10ms);  // Retry-After must win over this
  auto start = std::chrono::steady_clock::now();
  QueryOutcome out = f.query(ds);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.attempts, 2);
  EXPECT_GE(took, 950ms);
  EXPECT_LT(took, 5s);
}

TEST(Datasource, RetryAfterBeyondTheDeadlineIsNotWaitedFor) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{429, {{"Retry-After", "30"}}, ""}; });
  Fixture f;
  Datasource ds(f.io, f.http, f.config(server.url()));
  auto start = std::chrono::steady_clock::now();
  QueryOutcome out = f.query(ds, "up", 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(out.http_status, 429);
  EXPECT_NE(out.error.find("429 Too Many Requests"), std::string::npos) << out.error;
}

TEST(Datasource, NoRetryOn400) {
  TestHttpServer server([](const TestRequest&) {
    return TestResponse{400, {{"Content-Type", "application/json"}},
                        R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"})"};
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.retries = 5;
  Datasource ds(f.io, f.http, cfg);
  ds.set_retry_backoff(1ms, 1ms);
  QueryOutcome out = f.query(ds, "sum(");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_EQ(out.error, "bad_data: 1:5: parse error: unexpected end of input");
}

TEST(Datasource, RetriesConnectionErrors) {
  Fixture f;
  auto cfg = f.config("http://127.0.0.1:" + std::to_string(closed_port()));
  cfg.retries = 2;
  Datasource ds(f.io, f.http, cfg);
  ds.set_retry_backoff(5ms, 5ms);
  int attempts_seen = 0;
  ds.set_observer([&](int code, Duration) {
    EXPECT_EQ(code, 0);
    ++attempts_seen;
  });
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(attempts_seen, 3);
  EXPECT_EQ(out.http_status, 0);
  EXPECT_EQ(out.error, "connection refused (after 3 attempts)");
}

TEST(Datasource, DeadlineBoundsASlowServer) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse r = prometheus_ok();
    r.delay = 3s;
    return r;
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.http.timeout = 10s;
  Datasource ds(f.io, f.http, cfg);
  auto start = std::chrono::steady_clock::now();
  QueryOutcome out = f.query(ds, "up", 400ms);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.ok);
  EXPECT_LT(took, 1500ms);
  EXPECT_NE(out.error.find("timed out"), std::string::npos) << out.error;
  // The server was told the shortened timeout.
  Duration told = *parse_duration(server.requests().at(0).form.at("timeout"));
  EXPECT_LE(told, 400ms);
}

TEST(Datasource, DeadlineStopsRetries) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{503, {}, ""}; });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.retries = 100;
  Datasource ds(f.io, f.http, cfg);
  ds.set_retry_backoff(100ms, 100ms);
  auto start = std::chrono::steady_clock::now();
  QueryOutcome out = f.query(ds, "up", 600ms);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.ok);
  EXPECT_LT(took, 1200ms);  // the deadline (600ms) plus slack for a loaded machine
  EXPECT_GE(out.attempts, 2);
  EXPECT_LT(out.attempts, 12);
  EXPECT_EQ(out.http_status, 503);
}

TEST(Datasource, PastDeadlineFailsWithoutSending) {
  TestHttpServer server([](const TestRequest&) { return prometheus_ok(); });
  Fixture f;
  Datasource ds(f.io, f.http, f.config(server.url()));
  std::optional<QueryOutcome> out;
  ds.query("up", now(), now() - 1s, [&](QueryOutcome o) { out = std::move(o); });
  EXPECT_FALSE(out.has_value()) << "never inline";
  ASSERT_TRUE(run_until(f.io, [&] { return out.has_value(); }));
  EXPECT_FALSE(out->ok);
  EXPECT_NE(out->error.find("deadline"), std::string::npos) << out->error;
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(Datasource, ConcurrencyCapIsObservedAtTheServer) {
  std::atomic<int> current{0};
  std::atomic<int> peak{0};
  TestHttpServer server([&](const TestRequest&) {
    int now_in = ++current;
    int p = peak.load();
    while (now_in > p && !peak.compare_exchange_weak(p, now_in)) {
    }
    std::this_thread::sleep_for(30ms);
    --current;
    return prometheus_ok();
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.max_concurrent_queries = 3;
  Datasource ds(f.io, f.http, cfg);
  constexpr int kQueries = 20;
  int done = 0;
  int ok = 0;
  for (int i = 0; i < kQueries; ++i) {
    ds.query("q" + std::to_string(i), now(), now() + 20s, [&](QueryOutcome o) {
      ++done;
      ok += o.ok;
    });
  }
  EXPECT_EQ(ds.in_flight(), 3u);
  EXPECT_EQ(ds.queued(), static_cast<std::size_t>(kQueries - 3));
  ASSERT_TRUE(run_until(f.io, [&] { return done == kQueries; }, 30s));
  EXPECT_EQ(ok, kQueries);
  EXPECT_EQ(peak.load(), 3);
  // FIFO: the server saw the queries in submission order.
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), static_cast<std::size_t>(kQueries));
  for (int i = 3; i < kQueries; ++i) {
    // Each later query was sent only after an earlier one finished, so order is preserved
    // except among the ones in flight together.
    EXPECT_LE(std::abs(std::stoi(reqs[i].form.at("query").substr(1)) - i), 3) << i;
  }
  EXPECT_EQ(ds.in_flight(), 0u);
  EXPECT_EQ(ds.queued(), 0u);
}

TEST(Datasource, QueuedQueryFailsAtItsDeadline) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse r = prometheus_ok();
    r.delay = 1500ms;
    return r;
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.max_concurrent_queries = 1;
  Datasource ds(f.io, f.http, cfg);
  std::optional<QueryOutcome> first, second;
  ds.query("slow", now(), now() + 10s, [&](QueryOutcome o) { first = std::move(o); });
  auto start = std::chrono::steady_clock::now();
  ds.query("waiting", now(), now() + 300ms, [&](QueryOutcome o) { second = std::move(o); });
  ASSERT_TRUE(run_until(f.io, [&] { return second.has_value(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);  // before the slow query's answer
  EXPECT_FALSE(second->ok);
  EXPECT_NE(second->error.find("max_concurrent_queries=1"), std::string::npos) << second->error;
  ASSERT_TRUE(run_until(f.io, [&] { return first.has_value(); }));
  EXPECT_TRUE(first->ok) << first->error;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(Datasource, TooLargeResponse) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse r = prometheus_ok();
    r.body = std::string(R"({"status":"success","data":{"resultType":"vector","result":[)") +
             std::string(10000, ' ') + "]}}";
    return r;
  });
  Fixture f;
  auto cfg = f.config(server.url());
  cfg.max_response_bytes = 4096;
  Datasource ds(f.io, f.http, cfg);
  QueryOutcome out = f.query(ds);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_NE(out.error.find("max_response_bytes"), std::string::npos) << out.error;
}

TEST(Datasource, RangeQuery) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse r;
    r.body = R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1700000000,"1"],[1700000060,"2"]]}]}})";
    return r;
  });
  Fixture f;
  Datasource ds(f.io, f.http, f.config(server.url() + "/base"));
  std::optional<RangeOutcome> out;
  ds.query_range("up", TimePoint(1700000000000ms), TimePoint(1700000060000ms), 60s, now() + 10s,
                 [&](RangeOutcome o) { out = std::move(o); });
  ASSERT_TRUE(run_until(f.io, [&] { return out.has_value(); }));
  ASSERT_TRUE(out->ok) << out->error;
  ASSERT_EQ(out->series.size(), 1u);
  EXPECT_EQ(out->series[0].points.size(), 2u);
  TestRequest r = server.requests().at(0);
  EXPECT_EQ(r.path, "/base/api/v1/query_range");
  EXPECT_EQ(r.form.at("start"), "1700000000.000");
  EXPECT_EQ(r.form.at("end"), "1700000060.000");
  EXPECT_EQ(r.form.at("step"), "1m");
  EXPECT_EQ(r.form.count("time"), 0u);
}

TEST(Datasource, DestroyedWithQueriesPendingDropsCallbacks) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse r = prometheus_ok();
    r.delay = 300ms;
    return r;
  });
  Fixture f;
  int called = 0;
  {
    auto cfg = f.config(server.url());
    cfg.max_concurrent_queries = 1;
    Datasource ds(f.io, f.http, cfg);
    for (int i = 0; i < 3; ++i) ds.query("up", now(), now() + 10s, [&](QueryOutcome) { ++called; });
    run_until(f.io, [&] { return server.request_count() >= 1; });
  }
  f.io.restart();
  f.io.run_for(600ms);
  EXPECT_EQ(called, 0);
  EXPECT_EQ(f.http.in_flight(), 0u);
}

}  // namespace
}  // namespace promwatch
