#pragma once
/// \file
/// The daemon's own HTTP/1.1 server (`server.listen`, SPEC §7): /metrics, /healthz, /readyz,
/// /api/*, /-/reload and the status page. Boost.Beast on the caller's io_context: it starts no
/// thread, and the handler runs on the thread that runs the io_context.
///
/// The server enforces the transport-level rules so that handlers need not:
/// - limits: request header size (431), body size (413), a read timeout covering a whole request
///   (also the keep-alive idle timeout), a write timeout, and a cap on open connections (at the
///   cap, the connection that has waited longest for a request is closed to make room, so that
///   slow or idle clients cannot lock others out; when every connection is busy with a request,
///   the new one is closed at once);
/// - optional HTTP basic auth for everything except `/healthz` and `/readyz` (401 with
///   `WWW-Authenticate`), compared in constant time;
/// - when the listener is on a loopback address, the `Host` header must name a loopback host
///   (`localhost`, `127.x.x.x`, `[::1]`, optional port), else 403: DNS rebinding defence;
/// - state-changing methods (POST, PUT, DELETE, PATCH): a non-empty body needs
///   `Content-Type: application/json` (415), and an `Origin` header, when a browser sends one,
///   must match `Host` (403); TRACE and CONNECT are refused (405);
/// - no CORS allow headers are ever sent (they are stripped from handler responses);
/// - HEAD is served as GET without the body.
/// Optional TLS (PEM certificate chain and key) through boost::asio::ssl / OpenSSL.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace promwatch {

/// One parsed request, as the handler sees it. Valid for the duration of the handler call.
struct ServerRequest {
  std::string method;  ///< upper case as sent ("GET", "POST"); "GET" for a HEAD request
  bool head = false;   ///< the request was HEAD (the body of the response will not be sent)
  std::string target;  ///< path and query exactly as sent
  std::string path;    ///< target without the query, not percent-decoded
  /// Decoded query parameters (`+` is a space); repeated keys such as `match[]` are all kept,
  /// in order.
  std::multimap<std::string, std::string> query;
  /// Header fields in order; names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  ///< "127.0.0.1:54321" or "[::1]:54321"

  /// The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
  /// The first query parameter of that name, or nullptr.
  const std::string* query_param(std::string_view name) const;
  /// Every value of a repeated query parameter, in order.
  std::vector<std::string> query_params(std::string_view name) const;
};

struct ServerResponse;
/// Hands over a response that was deferred (see `ServerResponse::deferred`). Call it once, on
/// the io_context's thread; a responder dropped without being called closes the connection.
using ServerResponder = std::function<void(ServerResponse)>;

struct ServerResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  /// Extra header fields (e.g. Location, Cache-Control). Access-Control-* are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// When set, the answer comes later: the server calls `deferred` with a responder (the other
  /// fields are ignored) and keeps the connection waiting until the responder is called. For
  /// work that must not hold up the event loop, e.g. compiling a configuration on a thread.
  std::function<void(ServerResponder)> deferred;

  static ServerResponse text(int status, std::string body);
  static ServerResponse json(int status, std::string body);
};

struct ServerBasicAuth {
  std::string username;
  std::string password;
};

struct ServerOptions {
  /// "127.0.0.1:9097", "[::1]:9097", "localhost:9097", ":9097" (all interfaces, dual-stack
  /// when IPv6 is available). Port 0 picks a free port (see local_port()).
  std::string listen = "127.0.0.1:9097";
  std::optional<ServerBasicAuth> basic_auth;
  /// PEM files; both set enables TLS, both empty serves plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  /// Time allowed to receive one whole request (and to wait for the next one on a kept-alive
  /// connection, and for a TLS handshake).
  std::chrono::milliseconds read_timeout{30'000};
  /// Time allowed to send one response.
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t max_connections = 256;
};

/// Listens at construction, serves until stop() or destruction. Every member function must be
/// called on the io_context's thread (the constructor and local_port() excepted, which may be
/// called before the io_context runs).
class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  /// Binds and starts accepting on `io`. Throws std::runtime_error when the address is invalid,
  /// cannot be bound ("listen 127.0.0.1:9097: address already in use") or the TLS files cannot
  /// be loaded. An exception thrown by `handler` becomes a 500 response.
  HttpServer(boost::asio::io_context& io, ServerOptions options, Handler handler);
  /// Calls stop().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound port (the chosen one when the configured port was 0).
  std::uint16_t local_port() const;
  /// The bound address and port, "127.0.0.1:9097" or "[::]:9097".
  std::string local_address() const;
  /// Whether the listener is on a loopback address (then the Host check applies).
  bool loopback() const;
  bool tls() const;
  /// Connections currently open.
  std::size_t connections() const;

  /// Replaces the basic auth credentials (a reload may change them; the listen address not).
  void set_basic_auth(std::optional<ServerBasicAuth> auth);
  void set_handler(Handler handler);

  /// Closes the listener and every open connection; in-flight responses are abandoned. Pending
  /// completion handlers finish on the io_context with no further effect. Idempotent.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

/// Whether a `Host` header value names a loopback host: `localhost`, an address in
/// 127.0.0.0/8, `[::1]`, each with an optional `:port`.
bool is_loopback_host(std::string_view host);

/// Decodes an application/x-www-form-urlencoded query string (without the `?`); nullopt on a
/// malformed percent escape.
std::optional<std::multimap<std::string, std::string>> parse_query_string(std::string_view query);

}  // namespace promwatch
