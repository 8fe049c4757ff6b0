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

/// What the status page and `/api/v1/status/remote_write` show.
struct RemoteWriteStatus {
  bool healthy = true;           ///< false after a failed or rejected send, until one succeeds
  std::string last_error;        ///< of the last failed send; secrets never appear in it
  std::size_t queue_length = 0;  ///< samples waiting
  TimePoint last_success{};      ///< epoch: none yet
  std::string endpoint;          ///< the URL redacted as `scheme://host/…`
};

/// The sender: a bounded queue drained in batches of `max_samples_per_send`, one request in
/// flight at a time (so the samples of one series arrive in order), retried with backoff and
/// jitter on transport errors, 5xx and 429 (Retry-After honoured), never on another 4xx (those
/// samples are counted as rejected and dropped). A full queue drops its oldest samples
/// (counted). `enqueue` never blocks and never fails.
///
/// Metrics: `promwatch_remote_write_samples_total{result="sent|failed|dropped|rejected"}`,
/// `promwatch_remote_write_queue_length`, `promwatch_remote_write_request_duration_seconds`.
class RemoteWriter {
 public:
  /// `http` and `metrics` (may be null in tests) must outlive the writer.
  RemoteWriter(boost::asio::io_context& io, HttpClient& http, RemoteWriteConfig config,
               Metrics* metrics);
  ~RemoteWriter();
  RemoteWriter(const RemoteWriter&) = delete;
  RemoteWriter& operator=(const RemoteWriter&) = delete;

  /// Queues `samples` (in order) and starts a send if none is in flight.
  void enqueue(std::vector<WriteSample> samples);
  /// A reload: the new endpoint and limits apply from the next request; the queue is kept
  /// (trimmed to the new capacity, oldest first).
  void reconfigure(RemoteWriteConfig config);
  RemoteWriteStatus status() const;
  /// Shutdown: keeps sending what is queued for at most `grace`, then calls `done` (from the
  /// loop) and sends nothing more.
  void stop(Duration grace, std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promwatch
