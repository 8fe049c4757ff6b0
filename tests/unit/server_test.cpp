// Tests of the daemon's HTTP server over real loopback sockets, with a blocking POSIX client.

#include "promwatch/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace promwatch {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// ---- a small blocking HTTP/1.1 client --------------------------------------------------------

struct Reply {
  int status = 0;  ///< 0 when the connection closed before a full response
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) > 0; }
};

class Client {
 public:
  explicit Client(std::uint16_t port, const char* address = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &sa.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads one response; for HEAD pass `head` (no body despite Content-Length).
  Reply read_reply(bool head = false) {
    Reply r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    std::string head_text = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return r;
    int status = std::stoi(status_line.substr(9, 3));
    std::size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
      std::size_t e = head_text.find("\r\n", pos);
      if (e == std::string::npos) e = head_text.size();
      std::string line = head_text.substr(pos, e - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    std::size_t length = r.has("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    if (!head) {
      while (buf_.size() < length)
        if (!fill()) return r;
      r.body = buf_.substr(0, length);
      buf_.erase(0, length);
    }
    r.status = status;
    return r;
  }

  Reply request(const std::string& raw, bool head = false) {
    if (!send(raw)) return {};
    return read_reply(head);
  }

  /// True when the server closes the connection within `timeout` (nothing else arriving).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
      char c[4096];
      ssize_t n = ::recv(fd_, c, sizeof c, 0);
      if (n <= 0) return true;  // EOF or reset
    }
    return false;
  }

 private:
  bool fill() {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

std::string with_body(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& content_type = "application/json",
                      const std::string& extra = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  return r;
}

// ---- the server on its own thread ------------------------------------------------------------

/// Runs an HttpServer on an io_context on a background thread, as the daemon's loop would.
class Running {
 public:
  explicit Running(ServerOptions options = {}, HttpServer::Handler handler = nullptr) {
    if (options.listen == ServerOptions{}.listen) options.listen = "127.0.0.1:0";
    if (!handler) {
      handler = [this](const ServerRequest& r) {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
        return ServerResponse::text(200, "ok " + r.method + " " + r.path);
      };
    }
    server_ = std::make_unique<HttpServer>(io_, options, std::move(handler));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Running() {
    stop();
    work_.reset();
    thread_.join();
  }
  /// Runs `fn` on the loop thread and waits for it.
  void on_loop(const std::function<void()>& fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  void stop() {
    on_loop([this] { server_->stop(); });
  }
  std::uint16_t port() const { return server_->local_port(); }
  HttpServer& server() { return *server_; }
  std::vector<ServerRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<ServerRequest> requests_;
};

// ---- tests -----------------------------------------------------------------------------------

TEST(HttpServer, GetReachesHandlerWithDecodedRepeatedQuery) {
  Running s;
  Client c(s.port());
  Reply r = c.request(get("/api/v1/alerts?match[]=up%7Bjob%3D%22x%22%7D&match[]=b+c&x=1&empty"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok GET /api/v1/alerts");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const ServerRequest& q = reqs[0];
  EXPECT_EQ(q.method, "GET");
  EXPECT_FALSE(q.head);
  EXPECT_EQ(q.path, "/api/v1/alerts");
  EXPECT_EQ(q.target, "/api/v1/alerts?match[]=up%7Bjob%3D%22x%22%7D&match[]=b+c&x=1&empty");
  EXPECT_EQ(q.query_params("match[]"), (std::vector<std::string>{"up{job=\"x\"}", "b c"}));
  ASSERT_NE(q.query_param("x"), nullptr);
  EXPECT_EQ(*q.query_param("x"), "1");
  ASSERT_NE(q.query_param("empty"), nullptr);
  EXPECT_EQ(*q.query_param("empty"), "");
  EXPECT_EQ(q.query_param("missing"), nullptr);
  ASSERT_NE(q.header("HOST"), nullptr);
  EXPECT_EQ(*q.header("host"), "127.0.0.1");
  EXPECT_EQ(q.remote_address.rfind("127.0.0.1:", 0), 0u) << q.remote_address;
}

TEST(HttpServer, PostReachesHandlerWithBody) {
  Running s;
  Client c(s.port());
  Reply r = c.request(with_body("POST", "/api/v2/silences", R"({"comment":"x"})"));
  EXPECT_EQ(r.status, 200);
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/api/v2/silences");
  EXPECT_EQ(reqs[0].body, R"({"comment":"x"})");
  EXPECT_EQ(*reqs[0].header("content-type"), "application/json");
}

TEST(HttpServer, ChunkedBodyIsDecoded) {
  Running s;
  Client c(s.port());
  Reply r = c.request(
      "POST /api/v2/silences HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "{\"a\":1}");
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Running s;
  Client c(s.port());
  Reply a = c.request(get("/one"));
  Reply b = c.request(get("/two"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body, "ok GET /two");
  // Pipelined: both requests in one write.
  ASSERT_TRUE(c.send(get("/three") + get("/four")));
  EXPECT_EQ(c.read_reply().body, "ok GET /three");
  EXPECT_EQ(c.read_reply().body, "ok GET /four");
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].remote_address, reqs[3].remote_address);  // same client port
  std::size_t open = 0;
  s.on_loop([&] { open = s.server().connections(); });
  EXPECT_EQ(open, 1u);
}

// A deferred response is answered when the work behind it finishes on another thread, and the
// loop serves other connections meanwhile; a responder dropped unanswered closes the connection.
TEST(HttpServer, DeferredResponseArrivesLaterWithoutHoldingTheLoop) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::thread> workers;
  std::mutex workers_mu;
  asio::io_context* loop = nullptr;
  HttpServer::Handler handler = [&](const ServerRequest& r) {
    if (r.path == "/slow") {
      ServerResponse deferred;
      deferred.deferred = [&](ServerResponder respond) {
        std::lock_guard lock(workers_mu);
        workers.emplace_back([&, respond = std::move(respond)]() mutable {
          released.wait();
          asio::post(*loop, [respond = std::move(respond)] { respond(ServerResponse::text(202, "done later")); });
        });
      };
      return deferred;
    }
    if (r.path == "/dropped") {
      ServerResponse deferred;
      deferred.deferred = [](ServerResponder) {};  // never answers
      return deferred;
    }
    return ServerResponse::text(200, "fast");
  };
  asio::io_context io;
  loop = &io;
  auto work = asio::make_work_guard(io);
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  HttpServer server(io, options, handler);
  std::thread thread([&] { io.run(); });

  Client slow(server.local_port());
  ASSERT_TRUE(slow.send(get("/slow")));
  // The loop is free: another connection is answered while /slow waits.
  Client fast(server.local_port());
  EXPECT_EQ(fast.request(get("/x")).body, "fast");
  release.set_value();
  Reply r = slow.read_reply();
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "done later");
  // Keep-alive still works after a deferred answer.
  EXPECT_EQ(slow.request(get("/x")).body, "fast");

  Client dropped(server.local_port());
  ASSERT_TRUE(dropped.send(get("/dropped")));
  EXPECT_TRUE(dropped.closed_within(2s));

  asio::post(io, [&] { server.stop(); });
  work.reset();
  thread.join();
  for (auto& w : workers) w.join();
}

TEST(HttpServer, ConnectionCloseIsHonoured) {
  Running s;
  Client c(s.port());
  Reply r = c.request(get("/x", "Connection: close\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, BodyOverOneMebibyteIs413) {
  Running s;
  {
    Client c(s.port());
    std::string body(1024 * 1024 + 1, 'x');
    Reply r = c.request(with_body("POST", "/api/v2/silences", body));
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(c.closed_within(3s));
  }
  {
    Client c(s.port());
    std::string body(1024 * 1024, 'x');
    Reply r = c.request(with_body("POST", "/api/v2/silences", body));
    EXPECT_EQ(r.status, 200);
  }
  {  // announced length too large: refused before the body is read
    Client c(s.port());
    Reply r = c.request(
        "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000000\r\n\r\n{");
    EXPECT_EQ(r.status, 413);
  }
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body.size(), 1024u * 1024u);
}

TEST(HttpServer, OversizedHeaderIs431) {
  Running s;
  Client c(s.port());
  Reply r = c.request(get("/x", "X-Big: " + std::string(20 * 1024, 'a') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(s.requests().empty());
}

TEST(HttpServer, MalformedRequestIs400) {
  Running s;
  {
    Client c(s.port());
    EXPECT_EQ(c.request("GARBAGE\r\n\r\n").status, 400);
  }
  {
    Client c(s.port());
    EXPECT_EQ(c.request(get("/x?a=%zz")).status, 400);
  }
  EXPECT_TRUE(s.requests().empty());
}

TEST(HttpServer, BasicAuth) {
  ServerOptions o;
  o.basic_auth = ServerBasicAuth{"admin", "s3cret"};
  Running s(o);
  Client c(s.port());
  Reply none = c.request(get("/metrics"));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Basic realm=\"promwatch\", charset=\"UTF-8\"");
  // admin:wrong
  EXPECT_EQ(c.request(get("/metrics", "Authorization: Basic YWRtaW46d3Jvbmc=\r\n")).status, 401);
  // admin:s3cre (a prefix of the password)
  EXPECT_EQ(c.request(get("/metrics", "Authorization: Basic YWRtaW46czNjcmU=\r\n")).status, 401);
  // Bearer is not basic
  EXPECT_EQ(c.request(get("/metrics", "Authorization: Bearer YWRtaW46czNjcmV0\r\n")).status, 401);
  EXPECT_EQ(c.request(get("/metrics", "Authorization: Basic !!!\r\n")).status, 401);
  // admin:s3cret
  Reply ok = c.request(get("/metrics", "Authorization: Basic YWRtaW46czNjcmV0\r\n"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ok GET /metrics");
  EXPECT_EQ(c.request(get("/metrics", "Authorization: basic YWRtaW46czNjcmV0\r\n")).status, 200);
  // Health endpoints are exempt, but nothing that merely starts like them.
  EXPECT_EQ(c.request(get("/healthz")).status, 200);
  EXPECT_EQ(c.request(get("/readyz")).status, 200);
  EXPECT_EQ(c.request(get("/healthz/../metrics")).status, 401);
  EXPECT_EQ(s.requests().size(), 4u);
}

TEST(HttpServer, SetBasicAuthTakesEffect) {
  Running s;
  Client c(s.port());
  EXPECT_EQ(c.request(get("/x")).status, 200);
  // A reload may change the credentials; like every member, on the loop thread.
  s.on_loop([&] { s.server().set_basic_auth(ServerBasicAuth{"u", "p"}); });
  EXPECT_EQ(c.request(get("/x")).status, 401);
  EXPECT_EQ(c.request(get("/x", "Authorization: Basic dTpw\r\n")).status, 200);
}

TEST(HttpServer, StateChangingBodiesMustBeJson) {
  Running s;
  Client c(s.port());
  EXPECT_EQ(c.request(with_body("POST", "/api/v2/silences", "{}", "text/plain")).status, 415);
  EXPECT_EQ(c.request(with_body("POST", "/api/v2/silences", "{}", "")).status, 415);
  EXPECT_EQ(c.request(with_body("POST", "/api/v2/silences", "a=b",
                                "application/x-www-form-urlencoded")).status, 415);
  EXPECT_EQ(c.request(with_body("PUT", "/x", "{}", "text/plain")).status, 415);
  EXPECT_EQ(c.request(with_body("PATCH", "/x", "{}", "multipart/form-data; boundary=x")).status, 415);
  EXPECT_EQ(c.request(with_body("DELETE", "/x", "{}", "text/plain")).status, 415);
  EXPECT_TRUE(s.requests().empty());
  // JSON with parameters and any case passes.
  EXPECT_EQ(c.request(with_body("POST", "/api/v2/silences", "{}", "Application/JSON; charset=utf-8")).status, 200);
  // Empty bodies need no content type: reload, DELETE of a silence.
  EXPECT_EQ(c.request(with_body("POST", "/-/reload", "", "")).status, 200);
  EXPECT_EQ(c.request("DELETE /api/v2/silence/abc HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 200);
  // GET bodies are not checked.
  EXPECT_EQ(c.request(with_body("GET", "/x", "hello", "text/plain")).status, 200);
  EXPECT_EQ(s.requests().size(), 4u);
}

TEST(HttpServer, CrossOriginStateChangeIsRefused) {
  Running s;
  Client c(s.port());
  EXPECT_EQ(c.request(with_body("POST", "/-/reload", "", "", "Origin: http://evil.example\r\n")).status, 403);
  EXPECT_EQ(c.request(with_body("POST", "/-/reload", "", "", "Origin: null\r\n")).status, 403);
  EXPECT_EQ(c.request(with_body("POST", "/-/reload", "", "", "Origin: http://127.0.0.1\r\n")).status, 200);
  // Reads are not affected.
  EXPECT_EQ(c.request(get("/x", "Origin: http://evil.example\r\n")).status, 200);
}

TEST(HttpServer, LoopbackListenerChecksHost) {
  Running s;
  bool loopback = false;
  s.on_loop([&] { loopback = s.server().loopback(); });
  EXPECT_TRUE(loopback);
  Client c(s.port());
  auto with_host = [](const std::string& host) {
    return "GET /api/v1/alerts HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  };
  EXPECT_EQ(c.request(with_host("evil.example")).status, 403);
  EXPECT_EQ(c.request(with_host("evil.example:9097")).status, 403);
  EXPECT_EQ(c.request(with_host("127.0.0.1.evil.example")).status, 403);
  EXPECT_EQ(c.request(with_host("localhost.evil.example")).status, 403);
  EXPECT_EQ(c.request(with_host("10.0.0.1")).status, 403);
  EXPECT_TRUE(s.requests().empty());
  EXPECT_EQ(c.request(with_host("localhost")).status, 200);
  EXPECT_EQ(c.request(with_host("LOCALHOST:9097")).status, 200);
  EXPECT_EQ(c.request(with_host("127.0.0.1:" + std::to_string(s.port()))).status, 200);
  EXPECT_EQ(c.request(with_host("127.5.6.7")).status, 200);
  EXPECT_EQ(c.request(with_host("[::1]:9097")).status, 200);
  // The check runs before auth and before the handler, also for writes.
  EXPECT_EQ(c.request("DELETE /api/v2/silence/x HTTP/1.1\r\nHost: evil.example\r\n\r\n").status, 403);
}

TEST(HttpServer, IsLoopbackHost) {
  for (const char* ok : {"localhost", "localhost:1", "localhost.", "LocalHost", "127.0.0.1",
                         "127.0.0.1:9097", "127.255.255.254", "[::1]", "[::1]:9097"})
    EXPECT_TRUE(is_loopback_host(ok)) << ok;
  for (const char* bad : {"", "evil.example", "127.0.0.1.nip.io", "localhost:x", "[::1]x",
                          "[::2]", "[::1", "0.0.0.0", "128.0.0.1", "::1", "localhost.evil",
                          "127.1", "[::ffff:10.0.0.1]"})
    EXPECT_FALSE(is_loopback_host(bad)) << bad;
}

TEST(HttpServer, ParseQueryString) {
  auto q = parse_query_string("a=1&a=2&b=%2B+x&&c&d=");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->count("a"), 2u);
  EXPECT_EQ(q->find("a")->second, "1");
  EXPECT_EQ(std::next(q->find("a"))->second, "2");
  EXPECT_EQ(q->find("b")->second, "+ x");
  EXPECT_EQ(q->find("c")->second, "");
  EXPECT_EQ(q->find("d")->second, "");
  EXPECT_FALSE(parse_query_string("a=%"));
  EXPECT_FALSE(parse_query_string("a=%4"));
  EXPECT_FALSE(parse_query_string("a=%g0"));
  EXPECT_TRUE(parse_query_string("")->empty());
}

TEST(HttpServer, NeverSendsCorsHeaders) {
  ServerOptions o;
  Running s(o, [](const ServerRequest&) {
    ServerResponse r = ServerResponse::json(200, "{}");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    r.headers.emplace_back("access-control-allow-methods", "POST");
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  });
  Client c(s.port());
  Reply r = c.request("OPTIONS /api/v2/silences HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n"
                      "Access-Control-Request-Method: POST\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  EXPECT_FALSE(r.has("access-control-allow-origin"));
  EXPECT_FALSE(r.has("access-control-allow-methods"));
}

TEST(HttpServer, HeadIsGetWithoutBody) {
  Running s;
  Client c(s.port());
  Reply h = c.request("HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", /*head=*/true);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.headers["content-length"], std::to_string(std::string("ok GET /metrics").size()));
  // Had a body been sent, it would be read as the next response's status line.
  Reply g = c.request(get("/metrics"));
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, "ok GET /metrics");
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_TRUE(reqs[0].head);
}

TEST(HttpServer, TraceIsRefused) {
  Running s;
  Client c(s.port());
  EXPECT_EQ(c.request("TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 405);
  EXPECT_TRUE(s.requests().empty());
}

TEST(HttpServer, HandlerExceptionIs500) {
  Running s({}, [](const ServerRequest& r) -> ServerResponse {
    if (r.path == "/boom") throw std::runtime_error("secret detail");
    return ServerResponse::text(204, "ignored");
  });
  Client c(s.port());
  Reply r = c.request(get("/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
  // The connection survives; a 204 carries no body.
  Reply n = c.request(get("/fine"));
  EXPECT_EQ(n.status, 204);
  EXPECT_EQ(n.body, "");
  EXPECT_EQ(c.request(get("/fine")).status, 204);
}

TEST(HttpServer, BindConflictIsAClearError) {
  Running s;
  asio::io_context io;
  ServerOptions o;
  o.listen = "127.0.0.1:" + std::to_string(s.port());
  try {
    HttpServer second(io, o, [](const ServerRequest&) { return ServerResponse{}; });
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "listen " + o.listen + ": address already in use");
  }
}

TEST(HttpServer, InvalidListenAddresses) {
  asio::io_context io;
  auto h = [](const ServerRequest&) { return ServerResponse{}; };
  for (const char* bad : {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x",
                          "example.com:9097", "::1:9097", "127.0.0.1:-1"}) {
    ServerOptions o;
    o.listen = bad;
    try {
      HttpServer s(io, o, h);
      ADD_FAILURE() << bad << " accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(std::string("listen ") + bad + ": ", 0), 0u) << e.what();
    }
  }
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = "/nonexistent/cert.pem";
  EXPECT_THROW(HttpServer(io, o, h), std::runtime_error);
  o.tls_key_file = "/nonexistent/key.pem";
  try {
    HttpServer s(io, o, h);
    ADD_FAILURE() << "missing TLS files accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cert.pem"), std::string::npos) << e.what();
  }
}

TEST(HttpServer, LocalhostAndIpv6Loopback) {
  asio::io_context io;
  auto h = [](const ServerRequest&) { return ServerResponse{}; };
  ServerOptions o;
  o.listen = "localhost:0";
  HttpServer a(io, o, h);
  EXPECT_NE(a.local_port(), 0);
  EXPECT_EQ(a.local_address(), "127.0.0.1:" + std::to_string(a.local_port()));
  EXPECT_TRUE(a.loopback());
  EXPECT_FALSE(a.tls());
  o.listen = "[::1]:0";
  try {
    HttpServer b(io, o, h);
    EXPECT_EQ(b.local_address(), "[::1]:" + std::to_string(b.local_port()));
    EXPECT_TRUE(b.loopback());
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
}

TEST(HttpServer, StopClosesListenerAndConnectionsPromptly) {
  Running s;
  Client idle(s.port());
  EXPECT_EQ(idle.request(get("/x")).status, 200);  // now idle on keep-alive
  Client partial(s.port());
  ASSERT_TRUE(partial.send("GET /x HTTP/1.1\r\nHost: local"));
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  s.stop();
  EXPECT_TRUE(idle.closed_within(1s));
  EXPECT_TRUE(partial.closed_within(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_THROW(Client(s.port()), std::runtime_error);  // nothing listens any more
  s.stop();  // idempotent
}

TEST(HttpServer, SlowClientDoesNotBlockOthers) {
  Running s;
  Client slow(s.port());
  ASSERT_TRUE(slow.send("POST /api/v2/silences HTTP/1.1\r\nHost: localhost\r\n"
                        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":"));
  Client slow_header(s.port());
  ASSERT_TRUE(slow_header.send("GET /x HTTP/1.1\r\nHo"));
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  Client fast(s.port());
  EXPECT_EQ(fast.request(get("/fast")).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_EQ(s.requests().size(), 1u);
}

TEST(HttpServer, ReadTimeoutClosesSlowClients) {
  ServerOptions o;
  o.read_timeout = 300ms;
  Running s(o);
  Client slowloris(s.port());
  ASSERT_TRUE(slowloris.send("GET /x HTTP/1.1\r\n"));
  // Dribbling bytes does not extend the deadline: it covers the whole request.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(50ms);
    slowloris.send("X-A: b\r\n");
  }
  EXPECT_TRUE(slowloris.closed_within(2s));
  Client idle(s.port());
  EXPECT_EQ(idle.request(get("/x")).status, 200);
  EXPECT_TRUE(idle.closed_within(2s));  // keep-alive idle timeout
}

TEST(HttpServer, ConnectionCap) {
  ServerOptions o;
  o.max_connections = 2;
  Running s(o);
  auto a = std::make_unique<Client>(s.port());
  Client b(s.port());
  EXPECT_EQ(a->request(get("/a")).status, 200);
  EXPECT_EQ(b.request(get("/b")).status, 200);
  // Both wait for their next request: a third connection evicts the one idle longest (a).
  Client c(s.port());
  EXPECT_TRUE(a->closed_within(2s));
  EXPECT_EQ(c.request(get("/c")).status, 200);
  EXPECT_EQ(b.request(get("/b2")).status, 200);
}

TEST(HttpServer, SlowlorisCannotHoldEveryConnection) {
  ServerOptions o;
  o.max_connections = 4;
  Running s(o);
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<Client>(s.port()));
    slow.back()->send("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& c : slow) c->send("a");
    Client fresh(s.port());
    EXPECT_EQ(fresh.request(get("/healthz")).status, 200) << "round " << round;
  }
}


TEST(HttpServer, ExpectContinue) {
  Running s;
  Client c(s.port());
  ASSERT_TRUE(c.send("POST /api/v2/silences HTTP/1.1\r\nHost: localhost\r\n"
                     "Content-Type: application/json\r\nContent-Length: 2\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  Reply interim = c.read_reply();
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send("{}"));
  Reply r = c.read_reply();
  EXPECT_EQ(r.status, 200);
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "{}");
}

TEST(HttpServer, HandlerHeadersAreSanitised) {
  Running s({}, [](const ServerRequest& r) {
    ServerResponse out = ServerResponse::text(r.path == "/odd" ? 42 : 302, "moved");
    out.headers.emplace_back("Location", "/x\r\nSet-Cookie: a=b");
    out.headers.emplace_back("X-Fine", "yes");
    return out;
  });
  Client c(s.port());
  Reply r = c.request(get("/"));
  EXPECT_EQ(r.status, 302);
  EXPECT_FALSE(r.has("location"));
  EXPECT_FALSE(r.has("set-cookie"));
  EXPECT_EQ(r.headers["x-fine"], "yes");
  EXPECT_EQ(c.request(get("/odd")).status, 500);
}

// ---- TLS -------------------------------------------------------------------------------------

/// Writes a fresh self-signed P-256 certificate for "localhost" and its key as PEM files.
void write_self_signed(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

/// One request over TLS (no certificate verification: the test only checks the transport).
std::string tls_request(std::uint16_t port, const std::string& raw) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, raw.data(), static_cast<int>(raw.size())) > 0) {
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    }
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

TEST(HttpServer, Tls) {
  auto dir = std::filesystem::temp_directory_path() /
             ("promwatch-server-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ServerOptions o;
  o.tls_cert_file = (dir / "cert.pem").string();
  o.tls_key_file = (dir / "key.pem").string();
  write_self_signed(o.tls_cert_file, o.tls_key_file);
  {
    Running s(o);
    bool tls = false;
    s.on_loop([&] { tls = s.server().tls(); });
    EXPECT_TRUE(tls);
    std::string answer = tls_request(
        s.port(), "GET /secure?a=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("ok GET /secure"), std::string::npos) << answer;
    // Plain HTTP to the TLS port gets no HTTP answer.
    Client plain(s.port());
    EXPECT_EQ(plain.request(get("/x")).status, 0);
    EXPECT_EQ(s.requests().size(), 1u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace promwatch
