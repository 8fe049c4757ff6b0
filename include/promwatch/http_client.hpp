#pragma once
/// \file
/// Asynchronous HTTP client: libcurl multi driven by its socket and timer callbacks on one
/// Boost.Asio io_context. Shared by datasource queries, receiver deliveries and pings, so
/// connections are reused across all of them.
///
/// Thread: every call, and every completion callback, happens on the io_context's thread.
/// Failures are data (`HttpResponse::error`), never exceptions. Completion callbacks are always
/// invoked from the loop (never inline from `send`), exactly once, unless the client is
/// destroyed first, in which case pending callbacks are dropped without being called.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "promwatch/time.hpp"

namespace promwatch {

struct TlsOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  /// Overrides SNI, the certificate name check and nothing else (the Host header stays the
  /// URL's): https only, done with CURLOPT_CONNECT_TO (CURLOPT_RESOLVE is not used); ignored
  /// when a proxy is set.
  std::string server_name;
  bool insecure_skip_verify = false;
};

struct BasicAuth {
  std::string username;
  std::string password;
};

/// The envelope of an SMTP transfer (see HttpRequest::mail).
struct MailEnvelope {
  std::string from;                     ///< MAIL FROM address (addr-spec, no brackets)
  std::vector<std::string> recipients;  ///< RCPT TO addresses, at least one
  /// smtp:// only: STARTTLS is required (CURLUSESSL_ALL); a server that does not offer it is
  /// refused before anything is sent (`HttpResponse::starttls_unavailable`). When false,
  /// STARTTLS is still used if offered. smtps:// is TLS from the first byte either way.
  bool require_tls = true;
  std::string login_options;  ///< CURLOPT_LOGIN_OPTIONS, e.g. "AUTH=PLAIN"; empty: curl chooses
};

struct HttpRequest {
  std::string method = "GET";  ///< GET, POST, PUT, DELETE (ignored for mail)
  /// http(s)://…; with `mail`, smtp://host:port/helo-name or smtps://host:port/helo-name.
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<BasicAuth> basic_auth;
  TlsOptions tls;
  std::string proxy_url;
  Duration timeout = std::chrono::seconds(10);  ///< whole transfer
  std::uint64_t max_response_bytes = 64u << 20;  ///< a larger body fails with `too_large`
  bool follow_redirects = false;
  /// Set: an SMTP transfer instead of HTTP. `body` is the whole message (headers and body,
  /// CRLF line ends; curl dot-stuffs it and ends the DATA), `headers` are not used,
  /// `basic_auth` logs in (SMTP AUTH), `tls` applies to STARTTLS and smtps.
  std::optional<MailEnvelope> mail;
};

struct HttpResponse {
  /// HTTP status; 0 when no response arrived. For mail: the last SMTP reply code (250 when
  /// the message was accepted; the refusing code, 451 or 550, when a command failed).
  int status = 0;
  std::string body;
  std::string content_type;
  std::optional<Duration> retry_after;  ///< parsed Retry-After (seconds or HTTP date)
  /// Transport failure ("connection refused", "timed out after 10s", ...); empty on success.
  /// A response with any HTTP status is not a transport failure.
  std::string error;
  bool too_large = false;   ///< body exceeded max_response_bytes; reading stopped
  bool timed_out = false;
  /// Mail with `require_tls`: the server offered no STARTTLS, so nothing was sent.
  bool starttls_unavailable = false;
  Duration elapsed{0};
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

/// Parses a Retry-After header value: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `now`. A date in the past gives 0; nullopt
/// when the value is neither.
std::optional<Duration> parse_retry_after(std::string_view value, TimePoint now);

/// Memory it keeps between requests: up to 64 idle, reset curl easy handles for reuse, and
/// curl's cache of idle keep-alive connections, sized at twice the most transfers it has had in
/// flight at once (at least 16). It does not limit transfers in flight: callers do (the
/// datasource's max_concurrent_queries, the delivery cap).
class HttpClient {
 public:
  using Callback = std::function<void(HttpResponse)>;

  explicit HttpClient(boost::asio::io_context& io);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Starts a transfer; `done` runs on the loop when it ends.
  void send(HttpRequest request, Callback done);

  /// Transfers in flight now.
  std::size_t in_flight() const;
  /// New connections curl has opened so far (CURLINFO_NUM_CONNECTS summed): with keep-alive
  /// this stays well below the number of requests.
  std::uint64_t connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promwatch
