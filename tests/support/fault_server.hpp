#pragma once
/// \file
/// A misbehaving HTTP server for fault tests, on 127.0.0.1 at a random port. Unlike
/// TestHttpServer it is written on raw POSIX sockets so that it can break HTTP at the byte level:
/// hang after accepting, drip a body one byte at a time, reset the connection half way through a
/// body, stream 50 MB, answer truncated or non-JSON bodies, HTML error pages, Prometheus error
/// envelopes, redirects, wrong Content-Type, gzip. It plays a datasource or a receiver.
///
/// One thread accepts; each connection is served on its own thread. Every connection answers
/// one request and is closed (`Connection: close`), so a fault change applies to the very next
/// request. The destructor wakes every hanging connection, closes it and joins every thread.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace promwatch::test {

/// What the server does with the next request.
struct Fault {
  enum class Kind {
    Respond,       ///< a normal answer: status, headers, body (Content-Length set)
    Hang,          ///< read the request, never answer; hold the connection open
    SlowDrip,      ///< announce the body's length, then send one byte every `drip_interval`
    ResetMidBody,  ///< announce the body's length, send half of it, then reset (RST)
    HugeBody,      ///< stream `huge_bytes` of a JSON vector without Content-Length (close-delimited)
    CloseAtOnce,   ///< accept, read the request, close without a byte
    ResetAtOnce,   ///< accept, read the request, reset the connection (RST) without a byte
  };
  Kind kind = Kind::Respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  ///< besides Content-Length/Connection
  std::string body;
  std::chrono::milliseconds drip_interval{200};
  std::size_t huge_bytes = 50u << 20;
  std::string label;  ///< a name for test messages

  // ---- a datasource's answers ----
  /// A Prometheus vector of one sample `up{instance="fault:1"} = value`.
  static Fault ok_vector(double value = 1);
  /// A Prometheus vector of the given samples: each is {labels, value}.
  static Fault vector(const std::vector<std::pair<std::map<std::string, std::string>, double>>& samples);
  static Fault hang();
  static Fault slow_drip(std::chrono::milliseconds interval = std::chrono::milliseconds(200));
  static Fault reset_mid_body();
  static Fault huge_body(std::size_t bytes = 50u << 20);
  static Fault close_at_once();
  static Fault reset_at_once();
  /// A valid vector cut in the middle (the Content-Length matches what is sent).
  static Fault truncated_json();
  /// 200 with a plain-text body.
  static Fault non_json();
  /// An nginx-style HTML error page with the given status.
  static Fault html_error(int status = 502);
  /// Prometheus's error envelope with the status Prometheus uses for that errorType
  /// (bad_data 400, execution 422, canceled 499, timeout 503, internal 500, unavailable 503,
  /// not_found 404).
  static Fault prometheus_error(const std::string& error_type, const std::string& message);
  /// A bare status with a short text body, optionally with Retry-After (seconds).
  static Fault http_status(int code, int retry_after_seconds = -1);
  /// A redirect (301, 302, 307, 308) to `location`.
  static Fault redirect(int code, const std::string& location);
  /// A valid vector answered with `Content-Type: text/html`.
  static Fault wrong_content_type();
  /// A valid vector, gzip-encoded (`Content-Encoding: gzip`).
  static Fault gzip_vector();
  /// `decoded_bytes` of JSON whitespace inside a vector, gzip-encoded: a small body that
  /// inflates past any sane response limit.
  static Fault gzip_bomb(std::size_t decoded_bytes = 50u << 20);
  /// A webhook receiver's success (200, empty JSON object).
  static Fault accepted();
};

/// One request as it arrived.
struct FaultRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
  std::chrono::steady_clock::time_point at;  ///< when it was read
};

class FaultServer {
 public:
  explicit FaultServer(Fault initial = Fault::ok_vector());
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  std::uint16_t port() const { return port_; }
  /// `http://127.0.0.1:PORT`
  std::string url() const;
  /// What the next requests get (thread-safe).
  void set(Fault fault);
  Fault current() const;

  std::vector<FaultRequest> requests() const;
  std::size_t request_count() const;
  std::size_t connections_accepted() const;
  /// Connections open right now (hanging ones included).
  std::size_t open_connections() const;
  /// Bytes written to clients so far (all connections).
  std::uint64_t bytes_sent() const;
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

  /// `http://127.0.0.1:PORT` of a port nobody listens on: connection refused.
  static std::string refused_url();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

/// gzip (RFC 1952) of `data`: deflate with fixed Huffman codes, runs of a repeated byte encoded
/// as length-258 back-references, so that a long run compresses about 160:1. Test use only.
std::string gzip_encode(const std::string& data);
/// Same as gzip_encode(std::string(count, byte)) wrapped in `prefix`/`suffix`, without
/// materialising the run.
std::string gzip_encode_run(const std::string& prefix, char byte, std::size_t count, const std::string& suffix);

/// VmHWM (peak resident set) of a process in bytes, from /proc/PID/status; 0 when unreadable.
std::uint64_t peak_rss_bytes(int pid);
/// VmRSS of a process in bytes; 0 when unreadable.
std::uint64_t rss_bytes(int pid);

}  // namespace promwatch::test
