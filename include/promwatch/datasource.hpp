#pragma once
/// \file
/// The datasource client: Prometheus HTTP API queries (`/api/v1/query`, `/api/v1/query_range`)
/// against the configured `[datasource]`, over the shared HttpClient.
///
/// What it adds to a plain HTTP call:
///  - the request as Prometheus expects it: POST form-encoded (default) or GET with the same
///    parameters in the query string; `query`, `time` (Unix seconds with milliseconds) and
///    `timeout` (Prometheus duration), plus `query_params`, on every query; the base URL keeps
///    its path and the API path is appended without a double slash;
///  - credentials (basic_auth, authorization: `type = "raw"` sends the token alone), extra
///    headers, TLS, proxy, max_response_bytes;
///  - retries: up to `retries` extra attempts on connection errors, 5xx and 429, with
///    exponential backoff and jitter, honouring Retry-After, never beyond the caller's deadline;
///    other 4xx, timeouts and oversized bodies are not retried;
///  - a cap of `max_concurrent_queries` in flight across all callers, the rest waiting in FIFO
///    order; a query still waiting at its deadline fails without being sent.
///
/// Errors are data (QueryOutcome::error) written for rule health, e.g.
/// "server returned HTTP status 401 Unauthorized", "bad_data: parse error ...",
/// "connection refused (after 3 attempts)"; they never contain credentials or header values.
///
/// Thread: one io_context thread; every call and every callback on it. Callbacks always run
/// from the loop (never inline from query()), exactly once, unless the Datasource is destroyed
/// first: then pending callbacks are dropped without being called and in-flight transfers are
/// left to the HttpClient (their results are discarded). The HttpClient and io_context must
/// outlive the Datasource.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "promwatch/config.hpp"
#include "promwatch/http_client.hpp"
#include "promwatch/query.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

class Datasource {
 public:
  using QueryCallback = std::function<void(QueryOutcome)>;
  using RangeCallback = std::function<void(RangeOutcome)>;
  /// Called once per HTTP attempt (so a query with retries reports several): the HTTP status,
  /// or 0 when no response arrived, and how long the attempt took. For the
  /// `promwatch_datasource_requests_total{code}` and `..._request_duration_seconds` metrics.
  using AttemptObserver = std::function<void(int status_code_or_0, Duration elapsed)>;

  /// Copies `config`; `http` is shared (connections are reused across all users).
  Datasource(boost::asio::io_context& io, HttpClient& http, const DatasourceConfig& config);
  ~Datasource();
  Datasource(const Datasource&) = delete;
  Datasource& operator=(const Datasource&) = delete;

  /// Instant query of `expr` at `at`. `deadline` (normally the next evaluation slot) bounds the
  /// whole operation: waiting for a slot, attempts and retries; no attempt starts or runs past
  /// it, and each attempt ends a little before it (1/20 of the time left, 10-250 ms) so that the
  /// outcome is handled before the deadline, not just after it. `done` gets the parsed outcome
  /// (see parse_query_response).
  void query(std::string expr, TimePoint at, TimePoint deadline, QueryCallback done);

  /// Range query over [start, end] at `step` (for `promwatch eval`); same rules as query().
  void query_range(std::string expr, TimePoint start, TimePoint end, Duration step, TimePoint deadline,
                   RangeCallback done);

  /// Sets (or clears, with an empty function) the per-attempt observer.
  void set_observer(AttemptObserver observer);

  /// Retry backoff: the first retry waits `initial` (jittered to [initial/2, initial]), each
  /// further one twice as long, at most `max`. Defaults 500ms and 10s. A Retry-After header
  /// replaces the computed wait. Mostly for tests.
  void set_retry_backoff(Duration initial, Duration max);

  /// Queries holding a slot now (an HTTP attempt in flight).
  std::size_t in_flight() const;
  /// Queries waiting for a free slot.
  std::size_t queued() const;

  /// `base` + `path` with exactly one slash between them, keeping the base's path and query:
  /// ("http://h:9090/prom/", "/api/v1/query") -> "http://h:9090/prom/api/v1/query".
  static std::string join_url(std::string_view base, std::string_view path);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace promwatch
