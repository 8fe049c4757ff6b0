#pragma once
/// \file
/// Prometheus remote write 1.0: what promwatch writes back into a Prometheus-compatible store
/// (recording rule results, `ALERTS` and `ALERTS_FOR_STATE`, stale markers), and the sender
/// that gets it there without ever holding up evaluation.
///
/// The wire format: a protobuf `prometheus.WriteRequest` (one `TimeSeries` per distinct label
/// set, labels sorted by name, samples in time order), compressed with snappy's block format,
/// posted with `Content-Encoding: snappy`, `Content-Type: application/x-protobuf` and
/// `X-Prometheus-Remote-Write-Version: 0.1.0`.
///
/// Thread: `RemoteWriter` lives on the daemon's event loop; every call and callback happens
/// there. The encoding functions are pure and thread-agnostic.

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "promwatch/config.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

class HttpClient;
class Metrics;

/// One sample to write: the series' whole label set (with `__name__`) and its value at a time.
struct WriteSample {
  Labels labels;
  std::int64_t timestamp_ms = 0;  ///< Unix milliseconds (the evaluation time)
  double value = 0;
};

/// Prometheus's stale marker: a NaN with this exact bit pattern tells the receiving store the
/// series ended, so instant queries stop returning it at once instead of after 5 minutes.
inline constexpr std::uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double stale_marker() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool is_stale_marker(double v) { return std::bit_cast<std::uint64_t>(v) == kStaleNaNBits; }

/// The uncompressed protobuf `WriteRequest` for `samples`: samples with equal labels become one
/// `TimeSeries`, in the order their series first appear; within a series the samples keep their
/// order. Labels are written sorted by name (as `Labels` holds them).
std::string encode_write_request(const std::vector<WriteSample>& samples);

/// Snappy block format (not the framed stream format), as remote write sends it.
std::string snappy_compress(const std::string& raw);

/// What the status page shows.
struct RemoteWriteStatus {
  bool healthy = true;           ///< false after a failed or rejected send, until one succeeds
  std::string last_error;        ///< of the last failed send; secrets never appear in it
  std::size_t queue_length = 0;  ///< samples not yet written: waiting, plus the batch in flight
  TimePoint last_success{};      ///< epoch: none yet
  std::string endpoint;          ///< the URL redacted as `scheme://host/…`
  /// Samples by outcome since the writer was created (the metric's values).
  std::uint64_t sent = 0, failed = 0, dropped = 0, rejected = 0;
};

/// Retry timing. The defaults are the daemon's; tests shorten them.
struct RemoteWriterOptions {
  Duration initial_backoff = std::chrono::milliseconds(100);  ///< doubled per failed attempt
  Duration max_backoff = std::chrono::seconds(30);            ///< cap of the doubling
  Duration max_retry_after = std::chrono::minutes(5);         ///< cap of an honoured Retry-After
  std::uint64_t max_response_bytes = 64u << 10;               ///< answers are read up to this
};

/// The sender: a bounded queue drained in batches of `max_samples_per_send`, one request in
/// flight at a time (so the samples of one series arrive in order), retried with backoff and
/// jitter on transport errors, 5xx and 429 (Retry-After honoured), never on another 4xx or a
/// redirect (those samples are counted as rejected and dropped). A full queue drops its oldest samples
/// (counted). `enqueue` never blocks and never fails. A batch is retried until it is written,
/// rejected or the writer stops: while the endpoint is down the queue fills and then sheds its
/// oldest samples.
///
/// Metrics: `promwatch_remote_write_samples_total{result="sent|failed|dropped|rejected"}`,
/// `promwatch_remote_write_queue_length`, `promwatch_remote_write_request_duration_seconds`.
/// Errors are logged (spdlog) with the URL redacted and the endpoint's credentials scrubbed.
///
/// Ownership: the writer may be destroyed with a request in flight; its answer is then
/// ignored (nothing is counted for it).
class RemoteWriter {
 public:
  /// `http` and `metrics` (may be null in tests) must outlive the writer.
  RemoteWriter(boost::asio::io_context& io, HttpClient& http, RemoteWriteConfig config,
               Metrics* metrics, RemoteWriterOptions options = {});
  ~RemoteWriter();
  RemoteWriter(const RemoteWriter&) = delete;
  RemoteWriter& operator=(const RemoteWriter&) = delete;

  /// Queues `samples` (in order); a send starts from the loop (so the enqueues of one loop
  /// turn share batches) unless one is in flight. After `stop`, counted as failed.
  void enqueue(std::vector<WriteSample> samples);
  /// A reload: the new endpoint and limits apply from the next request (a batch waiting for its
  /// retry is sent at once when the URL changed); the queue is kept (trimmed to the new
  /// capacity, oldest first, counted as dropped).
  void reconfigure(RemoteWriteConfig config);
  RemoteWriteStatus status() const;
  /// Shutdown: keeps sending what is queued for at most `grace`, then counts what is left as
  /// failed, calls `done` (from the loop) and sends nothing more. A second call only calls `done`
  /// once stopped.
  void stop(Duration grace, std::function<void()> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared: pending callbacks hold it weakly
};

}  // namespace promwatch
