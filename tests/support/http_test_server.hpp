#pragma once
/// \file
/// A scriptable HTTP/1.1 server on 127.0.0.1 (random port) for tests: it plays a datasource,
/// a receiver or a chat platform. Runs on its own thread; the handler runs on that thread.
/// Keep-alive is supported so that tests can check connection reuse.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace promwatch::test {

struct TestRequest {
  std::string method;
  std::string target;  ///< path and query, as sent
  std::string path;    ///< target without the query
  std::map<std::string, std::string> query;    ///< decoded query parameters (last wins)
  std::map<std::string, std::string> headers;  ///< names lowercased
  std::string body;
  /// Decoded application/x-www-form-urlencoded body parameters (last wins).
  std::map<std::string, std::string> form;
  std::uint64_t connection_id = 0;  ///< which accepted connection carried it
};

struct TestResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  ///< wait before answering
  bool close_without_response = false; ///< drop the connection instead of answering
};

class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;

  /// Binds 127.0.0.1 on `port` (0: a free one) and starts serving at once. A fixed port lets a
  /// test bring an endpoint back where a client keeps retrying.
  explicit TestHttpServer(Handler handler, std::uint16_t port = 0);
  ~TestHttpServer();  ///< stops and joins; open connections are closed
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::uint16_t port() const;
  /// `http://127.0.0.1:PORT`
  std::string url() const;
  /// Replaces the handler (thread-safe).
  void set_handler(Handler handler);
  /// A copy of every request received so far, in order.
  std::vector<TestRequest> requests() const;
  std::size_t request_count() const;
  std::size_t connections_accepted() const;
  /// Waits until at least `n` requests arrived or `timeout` passes; true when they did.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promwatch::test
