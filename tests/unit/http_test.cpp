// HttpClient against real loopback servers (TestHttpServer): methods, headers, auth, limits,
// failures, connection reuse, concurrency and teardown.

#include "promwatch/http_client.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "support/http_test_server.hpp"
#include "support/process.hpp"

namespace promwatch {
namespace {

using namespace std::chrono_literals;
using test::TestHttpServer;
using test::TestRequest;
using test::TestResponse;

/// Runs the loop until `done()` holds or `limit` passes.
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(50ms);
    io.restart();
  }
  return done();
}

HttpResponse send_sync(boost::asio::io_context& io, HttpClient& client, HttpRequest req) {
  std::optional<HttpResponse> out;
  client.send(std::move(req), [&](HttpResponse r) { out = std::move(r); });
  EXPECT_TRUE(run_until(io, [&] { return out.has_value(); }, 20s));
  return out.value_or(HttpResponse{});
}

std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // nothing listens there now
  return ntohs(addr.sin_port);
}

TEST(HttpClient, GetReturnsStatusBodyAndContentType) {
  TestHttpServer server([](const TestRequest& r) {
    TestResponse resp;
    resp.headers = {{"Content-Type", "text/plain"}};
    resp.body = "hello " + r.path;
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = server.url() + "/a/b?x=1";
  HttpResponse r = send_sync(io, client, req);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello /a/b");
  EXPECT_EQ(r.content_type, "text/plain");
  ASSERT_EQ(server.request_count(), 1u);
  TestRequest got = server.requests()[0];
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.target, "/a/b?x=1");
  EXPECT_EQ(got.query.at("x"), "1");
  EXPECT_TRUE(got.headers.at("user-agent").starts_with("promwatch/"));
}

TEST(HttpClient, PostSendsBodyAndHeaders) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{201, {}, "created"}; });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.method = "POST";
  req.url = server.url() + "/submit";
  req.headers = {{"Content-Type", "application/json"}, {"X-Scope-OrgID", "team-a"}};
  req.body = std::string(5000, 'x');  // larger than curl's Expect: 100-continue threshold
  HttpResponse r = send_sync(io, client, req);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 201);
  auto got = server.requests().at(0);
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.body, req.body);
  EXPECT_EQ(got.headers.at("content-type"), "application/json");
  EXPECT_EQ(got.headers.at("x-scope-orgid"), "team-a");
  EXPECT_EQ(got.headers.count("expect"), 0u);
}

TEST(HttpClient, PutAndDeleteUseTheirMethods) {
  TestHttpServer server([](const TestRequest& r) { return TestResponse{200, {}, r.method + ":" + r.body}; });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url() + "/x";
  put.body = "data";
  EXPECT_EQ(send_sync(io, client, put).body, "PUT:data");
  HttpRequest del;
  del.method = "DELETE";
  del.url = server.url() + "/x";
  EXPECT_EQ(send_sync(io, client, del).body, "DELETE:");
}

TEST(HttpClient, BasicAuthIsSent) {
  TestHttpServer server([](const TestRequest& r) {
    // "user:p@ss w0rd" in base64
    bool good = r.headers.count("authorization") && r.headers.at("authorization") == "Basic dXNlcjpwQHNzIHcwcmQ=";
    return TestResponse{good ? 200 : 401, {}, ""};
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = server.url() + "/";
  req.basic_auth = BasicAuth{"user", "p@ss w0rd"};
  EXPECT_EQ(send_sync(io, client, req).status, 200);
  req.basic_auth = BasicAuth{"user", "wrong"};
  HttpResponse r = send_sync(io, client, req);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.error.empty()) << "an HTTP status is not a transport failure";
  EXPECT_FALSE(r.ok());
}

TEST(HttpClient, NonSuccessStatusKeepsBodyAndRetryAfter) {
  TestHttpServer server([](const TestRequest&) {
    return TestResponse{429, {{"Retry-After", "7"}}, "slow down"};
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = server.url() + "/";
  HttpResponse r = send_sync(io, client, req);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "slow down");
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, 7s);
}

TEST(HttpClient, ParseRetryAfter) {
  TimePoint t0 = std::chrono::time_point_cast<Duration>(std::chrono::sys_days{std::chrono::year{2015} / 10 / 21});
  EXPECT_EQ(parse_retry_after("120", t0), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", t0), 0s);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t0), 7h + 28min);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t0 + 24h), 0s);
  EXPECT_FALSE(parse_retry_after("soon", t0).has_value());
  EXPECT_FALSE(parse_retry_after("", t0).has_value());
  EXPECT_FALSE(parse_retry_after("-5", t0).has_value());
}

TEST(HttpClient, TimeoutIsReported) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse resp;
    resp.delay = 3s;
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = server.url() + "/";
  req.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  HttpResponse r = send_sync(io, client, req);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.error, "timed out after 300ms");
  EXPECT_FALSE(r.ok());
}

TEST(HttpClient, TooLargeBodyAbortsTheTransfer) {
  TestHttpServer server([](const TestRequest& r) {
    TestResponse resp;
    resp.body = std::string(1 << 20, 'a');
    if (r.path == "/chunked") {
      // No Content-Length: the limit must trip while reading.
      std::string body;
      body.reserve((1 << 20) + 100);
      for (int i = 0; i < 16; ++i) {
        char size[16];
        std::snprintf(size, sizeof size, "%x\r\n", 1 << 16);
        body += size;
        body += std::string(1 << 16, 'b');
        body += "\r\n";
      }
      body += "0\r\n\r\n";
      resp.headers = {{"Transfer-Encoding", "chunked"}};
      resp.body = std::move(body);
    }
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  for (std::string path : {"/length", "/chunked"}) {
    HttpRequest req;
    req.url = server.url() + path;
    req.max_response_bytes = 1000;
    HttpResponse r = send_sync(io, client, req);
    EXPECT_TRUE(r.too_large) << path;
    EXPECT_NE(r.error.find("max_response_bytes"), std::string::npos) << r.error;
    EXPECT_LE(r.body.size(), 1000u);
  }
  HttpRequest fits;
  fits.url = server.url() + "/chunked";
  fits.max_response_bytes = 1 << 20;
  HttpResponse r = send_sync(io, client, fits);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body.size(), 1u << 20);
}

TEST(HttpClient, ConnectionRefused) {
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  HttpResponse r = send_sync(io, client, req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "connection refused");
  EXPECT_FALSE(r.ok());
}

TEST(HttpClient, ServerClosingWithoutResponse) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse resp;
    resp.close_without_response = true;
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = server.url() + "/";
  HttpResponse r = send_sync(io, client, req);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpClient, OnlyHttpAndHttpsAreAllowed) {
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = "file:///etc/passwd";
  HttpResponse r = send_sync(io, client, req);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.body.empty());
  EXPECT_NE(r.error.find("protocol"), std::string::npos) << r.error;
}

TEST(HttpClient, RedirectsAreNotFollowedUnlessAsked) {
  TestHttpServer server([](const TestRequest& r) {
    if (r.path == "/from") return TestResponse{302, {{"Location", "/to"}}, ""};
    return TestResponse{200, {}, "arrived"};
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = server.url() + "/from";
  EXPECT_EQ(send_sync(io, client, req).status, 302);
  req.follow_redirects = true;
  HttpResponse r = send_sync(io, client, req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "arrived");
}

TEST(HttpClient, ProxyIsUsedWhenConfigured) {
  // A plain-HTTP proxy receives the absolute URL as the request target.
  TestHttpServer proxy([](const TestRequest& r) { return TestResponse{200, {}, "via proxy " + r.target}; });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = "http://datasource.invalid:9090/api/v1/query";
  req.proxy_url = proxy.url();
  HttpResponse r = send_sync(io, client, req);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body, "via proxy http://datasource.invalid:9090/api/v1/query");
}

// TLS against `openssl s_server` with a certificate for a name that is not the URL's host:
// verification fails, unless server_name names the certificate's host (or verification is off).
TEST(HttpClient, TlsServerNameAndVerification) {
  test::TempDir dir;
  std::string cert = (dir.path() / "cert.pem").string();
  std::string key = (dir.path() / "key.pem").string();
  std::string output;
  int rc = test::run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=prometheus.example",
                              "-addext", "subjectAltName=DNS:prometheus.example"},
                             &output);
  if (rc != 0) GTEST_SKIP() << "openssl cannot make a certificate: " << output;
  int port = test::free_port();
  test::ChildProcess server({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-www", "-cert",
                             cert, "-key", key, "-quiet"},
                            dir.path() / "s_server.log");
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = "https://127.0.0.1:" + std::to_string(port) + "/";
  req.tls.ca_file = cert;
  req.timeout = 5s;
  // Wait for the server to listen: until the error is no longer "connection refused".
  HttpResponse r;
  for (int i = 0; i < 100; ++i) {
    r = send_sync(io, client, req);
    if (r.error != "connection refused") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("TLS"), std::string::npos) << r.error;

  req.tls.server_name = "prometheus.example";
  r = send_sync(io, client, req);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);

  HttpRequest insecure;
  insecure.url = req.url;
  insecure.tls.insecure_skip_verify = true;
  r = send_sync(io, client, insecure);
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(HttpClient, KeepAliveReusesConnections) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, {}, "ok"}; });
  boost::asio::io_context io;
  HttpClient client(io);
  for (int i = 0; i < 50; ++i) {
    HttpRequest req;
    req.url = server.url() + "/n" + std::to_string(i);
    req.method = i % 2 ? "POST" : "GET";
    req.body = i % 2 ? "q=1" : "";
    ASSERT_TRUE(send_sync(io, client, req).ok());
  }
  EXPECT_EQ(server.request_count(), 50u);
  EXPECT_LE(server.connections_accepted(), 3u);
  EXPECT_LE(client.connections_opened(), 3u);
  EXPECT_GE(client.connections_opened(), 1u);
}

TEST(HttpClient, ManyConcurrentRequestsAllComplete) {
  TestHttpServer server([](const TestRequest& r) {
    TestResponse resp;
    resp.body = r.query.at("i");
    resp.delay = 20ms;
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  constexpr int kCount = 200;
  std::vector<std::optional<HttpResponse>> results(kCount);
  for (int i = 0; i < kCount; ++i) {
    HttpRequest req;
    req.url = server.url() + "/?i=" + std::to_string(i);
    client.send(req, [&results, i](HttpResponse r) { results[i] = std::move(r); });
  }
  EXPECT_EQ(client.in_flight(), static_cast<std::size_t>(kCount));
  auto all_done = [&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  };
  ASSERT_TRUE(run_until(io, all_done, 60s));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(results[i]->ok()) << i << ": " << results[i]->error;
    EXPECT_EQ(results[i]->body, std::to_string(i));
  }
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST(HttpClient, CallbackIsNeverInline) {
  boost::asio::io_context io;
  HttpClient client(io);
  bool inside_send = true;
  bool called = false;
  bool was_inline = false;
  HttpRequest req;
  req.url = "not a url at all";  // fails at once, still through the loop
  client.send(req, [&](HttpResponse) {
    called = true;
    was_inline = inside_send;
  });
  HttpRequest refused;
  refused.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  client.send(refused, [&](HttpResponse) { was_inline = was_inline || inside_send; });
  inside_send = false;
  EXPECT_FALSE(called);
  EXPECT_TRUE(run_until(io, [&] { return called; }));
  EXPECT_FALSE(was_inline);
}

TEST(HttpClient, DestroyingWithTransfersInFlightIsClean) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse resp;
    resp.delay = 2s;
    return resp;
  });
  boost::asio::io_context io;
  int called = 0;
  {
    HttpClient client(io);
    for (int i = 0; i < 10; ++i) {
      HttpRequest req;
      req.url = server.url() + "/";
      client.send(req, [&](HttpResponse) { ++called; });
    }
    ASSERT_TRUE(run_until(io, [&] { return server.request_count() >= 10; }));
    EXPECT_EQ(client.in_flight(), 10u);
  }
  // Whatever was queued for the dead client runs and does nothing.
  io.restart();
  io.run_for(200ms);
  EXPECT_EQ(called, 0);
}

TEST(HttpClient, DestroyingFromInsideACallbackIsClean) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, {}, "ok"}; });
  boost::asio::io_context io;
  auto client = std::make_unique<HttpClient>(io);
  int called = 0;
  for (int i = 0; i < 5; ++i) {
    HttpRequest req;
    req.url = server.url() + "/";
    client->send(req, [&](HttpResponse) {
      ++called;
      client.reset();
    });
  }
  run_until(io, [&] { return client == nullptr; });
  io.restart();
  io.run_for(100ms);
  EXPECT_EQ(called, 1);
}

TEST(HttpClient, SendFromACallbackWorks) {
  TestHttpServer server([](const TestRequest& r) { return TestResponse{200, {}, r.path}; });
  boost::asio::io_context io;
  HttpClient client(io);
  std::vector<std::string> bodies;
  std::function<void(int)> chain = [&](int n) {
    HttpRequest req;
    req.url = server.url() + "/" + std::to_string(n);
    client.send(req, [&, n](HttpResponse r) {
      bodies.push_back(r.body);
      if (n < 5) chain(n + 1);
    });
  };
  chain(1);
  ASSERT_TRUE(run_until(io, [&] { return bodies.size() == 5; }));
  EXPECT_EQ(bodies.back(), "/5");
}

// Easy handles are reused (curl_easy_reset): nothing of one request may reach the next one.
TEST(HttpClient, ReusedHandlesCarryNothingOver) {
  TestHttpServer server([](const TestRequest& r) { return TestResponse{200, {}, r.method}; });
  TestHttpServer proxy([](const TestRequest&) { return TestResponse{200, {}, "proxy"}; });
  boost::asio::io_context io;
  HttpClient client(io);
  for (int round = 0; round < 3; ++round) {
    HttpRequest full;
    full.method = "PUT";
    full.url = server.url() + "/full";
    full.headers = {{"X-Custom", "1"}};
    full.body = "payload";
    full.basic_auth = BasicAuth{"user", "secret"};
    full.max_response_bytes = 2;  // "PUT" does not fit
    EXPECT_TRUE(send_sync(io, client, full).too_large);
    HttpRequest via_proxy;
    via_proxy.url = "http://elsewhere.invalid/";
    via_proxy.proxy_url = proxy.url();
    EXPECT_EQ(send_sync(io, client, via_proxy).body, "proxy");

    HttpRequest plain;
    plain.url = server.url() + "/plain";
    HttpResponse r = send_sync(io, client, plain);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.body, "GET");
    TestRequest got = server.requests().back();
    EXPECT_EQ(got.path, "/plain");
    EXPECT_EQ(got.headers.count("x-custom"), 0u);
    EXPECT_EQ(got.headers.count("authorization"), 0u);
    EXPECT_TRUE(got.body.empty());
  }
  EXPECT_EQ(proxy.request_count(), 3u);
}

// Connections that the server closes (after a response, or while idle in curl's cache) are
// replaced; a new socket may get the number of a closed one.
TEST(HttpClient, ServerClosedConnectionsAreReplaced) {
  TestHttpServer server([](const TestRequest& r) {
    TestResponse resp{200, {}, r.path};
    if (r.query.count("close")) resp.headers = {{"Connection", "close"}};
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  for (int i = 0; i < 30; ++i) {
    HttpRequest req;
    req.url = server.url() + "/" + std::to_string(i) + (i % 3 == 0 ? "?close=1" : "");
    HttpResponse r = send_sync(io, client, req);
    ASSERT_TRUE(r.ok()) << i << ": " << r.error;
    EXPECT_EQ(r.body, "/" + std::to_string(i));
  }
  EXPECT_EQ(server.request_count(), 30u);
  EXPECT_GE(server.connections_accepted(), 10u);
}

// A keep-alive connection that the server closes while it sits idle in curl's cache: the next
// request notices and connects again.
TEST(HttpClient, IdleConnectionClosedByTheServer) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ASSERT_EQ(::listen(listener, 8), 0);
  std::atomic<int> accepted{0};
  // Answers one request per connection with keep-alive, then closes the connection 50 ms later.
  std::thread server([&] {
    for (int n = 0; n < 3; ++n) {
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      ++accepted;
      char buf[4096];
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t k = ::read(fd, buf, sizeof buf);
        if (k <= 0) break;
        got.append(buf, static_cast<std::size_t>(k));
      }
      std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
      EXPECT_EQ(::write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
      std::this_thread::sleep_for(50ms);
      ::close(fd);
    }
  });
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = send_sync(io, client, req);
    EXPECT_TRUE(r.ok()) << i << ": " << r.error;
    EXPECT_EQ(r.body, "ok");
    // Let the loop run while the server closes the idle connection.
    io.restart();
    io.run_for(150ms);
  }
  server.join();
  ::close(listener);
  EXPECT_EQ(accepted.load(), 3);
  EXPECT_EQ(client.connections_opened(), 3u);
}

// curl's timer is kept when its deadline moves later and moved when it moves earlier: a short
// timeout started after a long one still fires on time.
TEST(HttpClient, ShortTimeoutAfterALongOneFiresOnTime) {
  TestHttpServer server([](const TestRequest& r) {
    TestResponse resp{200, {}, r.path};
    resp.delay = r.path == "/slow" ? 3s : 1s;
    return resp;
  });
  boost::asio::io_context io;
  HttpClient client(io);
  std::optional<HttpResponse> long_one;
  std::optional<HttpResponse> short_one;
  HttpRequest a;
  a.url = server.url() + "/long";
  a.timeout = 5s;
  client.send(a, [&](HttpResponse r) { long_one = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return server.request_count() >= 1; }));
  HttpRequest b;
  b.url = server.url() + "/slow";
  b.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  client.send(b, [&](HttpResponse r) { short_one = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return short_one.has_value(); }));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(short_one->timed_out) << short_one->error;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 700ms);  // not at the long request's answer (1 s) or deadline (5 s)
  ASSERT_TRUE(run_until(io, [&] { return long_one.has_value(); }));
  EXPECT_TRUE(long_one->ok()) << long_one->error;
}

// Nothing of the client keeps io_context::run() busy once the transfers are done (the
// command-line tools run the loop to completion): no timer is left armed for curl's deadlines.
TEST(HttpClient, RunReturnsWhenTransfersEnd) {
  TestHttpServer server([](const TestRequest& r) { return TestResponse{200, {}, r.path}; });
  boost::asio::io_context io;
  HttpClient client(io);
  int done = 0;
  for (int i = 0; i < 20; ++i) {
    HttpRequest req;
    req.url = server.url() + "/" + std::to_string(i);
    req.timeout = 30s;
    client.send(req, [&](HttpResponse r) {
      EXPECT_TRUE(r.ok()) << r.error;
      if (++done == 10) {  // a second wave from a callback
        HttpRequest more;
        more.url = server.url() + "/more";
        more.timeout = 30s;
        client.send(more, [&](HttpResponse) { ++done; });
      }
    });
  }
  // A refused connection and a timed-out transfer end in curl's timeout path.
  HttpRequest refused;
  refused.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  refused.timeout = 30s;
  client.send(refused, [&](HttpResponse) { ++done; });
  auto start = std::chrono::steady_clock::now();
  io.run();
  EXPECT_EQ(done, 22);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(HttpClient, UnknownHostFailsWithoutBlocking) {
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest req;
  req.url = "http://promwatch-does-not-exist.invalid/";
  req.timeout = 5s;
  HttpResponse r = send_sync(io, client, req);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace promwatch
