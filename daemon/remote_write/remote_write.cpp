// Remote write 1.0: the WriteRequest encoding (generated protobuf classes, snappy) and the
// sender's queue on the Asio loop.

#include "promwatch/remote_write.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <random>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <snappy.h>
#include <spdlog/spdlog.h>

#include "promwatch/http_client.hpp"
#include "promwatch/metrics.hpp"
#include "promwatch/query.hpp"
#include "remote_write.pb.h"
#include <google/protobuf/arena.h>

namespace promwatch {

std::string encode_write_request(const std::vector<WriteSample>& samples) {
  // One arena for the whole message: a 10,000-sample request is ~40,000 small objects.
  google::protobuf::Arena arena;
  prompb::WriteRequest& request = *google::protobuf::Arena::CreateMessage<prompb::WriteRequest>(&arena);
  // Series by fingerprint; a collision (two label sets, one fingerprint) falls back to the
  // list of series with that fingerprint.
  std::unordered_map<std::uint64_t, std::vector<int>> series_of;
  std::vector<const Labels*> labels_of;  // by series index
  series_of.reserve(samples.size());
  for (const WriteSample& s : samples) {
    std::vector<int>& candidates = series_of[s.labels.fingerprint()];
    prompb::TimeSeries* series = nullptr;
    for (int index : candidates) {
      if (*labels_of[static_cast<std::size_t>(index)] == s.labels) {
        series = request.mutable_timeseries(index);
        break;
      }
    }
    if (!series) {
      candidates.push_back(request.timeseries_size());
      labels_of.push_back(&s.labels);
      series = request.add_timeseries();
      series->mutable_labels()->Reserve(static_cast<int>(s.labels.size()));
      for (const Label& l : s.labels) {  // Labels keeps them sorted by name, as the format wants
        prompb::Label* out = series->add_labels();
        out->set_name(l.name);
        out->set_value(l.value);
      }
    }
    prompb::Sample* out = series->add_samples();
    out->set_value(s.value);  // a double on the wire: the stale marker's NaN bits go through
    out->set_timestamp(s.timestamp_ms);
  }
  return request.SerializeAsString();
}

std::string snappy_compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

// The outcome of one attempt, by the remote-write 1.0 rules (and Prometheus's sender): 2xx
// written; no answer, 5xx and 429 retried; any other status refused for good: a 4xx says the
// data itself is the problem (out-of-order samples, a bad label) and sending it again cannot
// help; a redirect is not followed (credentials stay with the configured host), and retrying
// it would only hold the queue up.
enum class Verdict { Sent, Retry, Rejected };

Verdict judge(const HttpResponse& r) {
  // A 2xx whose body was cut at max_response_bytes was still accepted.
  if (r.status >= 200 && r.status < 300 && (r.error.empty() || r.too_large)) return Verdict::Sent;
  if (r.status == 0 || !r.error.empty() || r.status >= 500 || r.status == 429) return Verdict::Retry;
  return Verdict::Rejected;
}

}  // namespace

struct RemoteWriter::Impl : std::enable_shared_from_this<Impl> {
  struct Batch {
    std::string body;  // compressed, kept for retries
    std::size_t samples = 0;
    int attempts = 0;
  };

  asio::io_context& io;
  HttpClient& http;
  RemoteWriteConfig config;
  Metrics* metrics;
  RemoteWriterOptions options;

  std::deque<WriteSample> queue;
  std::optional<Batch> batch;  // taken from the queue's front; in flight or waiting to retry
  bool in_flight = false;
  bool waiting_retry = false;
  bool pump_posted = false;
  asio::steady_timer retry_timer;
  SteadyClock::time_point sent_at{};

  bool stopping = false;
  bool stopped = false;
  asio::steady_timer stop_timer;
  std::vector<std::function<void()>> stop_waiters;

  RemoteWriteStatus st;
  std::mt19937_64 rng{std::random_device{}()};

  Impl(asio::io_context& io_context, HttpClient& client, RemoteWriteConfig c, Metrics* m, RemoteWriterOptions o)
      : io(io_context),
        http(client),
        config(std::move(c)),
        metrics(m),
        options(o),
        retry_timer(io_context),
        stop_timer(io_context) {
    st.endpoint = redact_url(config.url);
    if (metrics) {
      // Exported at 0 from the start, so rates and alerts on them work before the first loss.
      for (const char* result : {"sent", "failed", "dropped", "rejected"}) metrics->remote_write_samples(result, 0);
      metrics->set_remote_write_queue_length(0);
    }
  }

  std::size_t held() const { return queue.size() + (batch ? batch->samples : 0); }

  void count(std::string_view result, std::uint64_t n) {
    if (result == "sent") st.sent += n;
    else if (result == "failed") st.failed += n;
    else if (result == "dropped") st.dropped += n;
    else st.rejected += n;
    if (metrics && n > 0) metrics->remote_write_samples(result, n);
  }

  void update_queue_gauge() {
    if (metrics) metrics->set_remote_write_queue_length(held());
  }

  void trim_to_capacity() {
    std::size_t over = queue.size() > config.queue_capacity ? queue.size() - config.queue_capacity : 0;
    if (over == 0) return;
    queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(over));
    count("dropped", over);
    spdlog::debug("remote write to {}: queue full ({} samples), dropped the {} oldest", st.endpoint,
                  config.queue_capacity, over);
  }

  void enqueue(std::vector<WriteSample> samples) {
    if (samples.empty()) return;
    if (stopped) {
      count("failed", samples.size());
      return;
    }
    for (auto& s : samples) queue.push_back(std::move(s));
    trim_to_capacity();
    update_queue_gauge();
    schedule_pump();
  }

  // From the loop, not inline: the samples of every group that ends in this loop turn go out
  // together, and the caller's round is not held up by encoding.
  void schedule_pump() {
    if (pump_posted) return;
    pump_posted = true;
    asio::post(io, [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->pump_posted = false;
        self->pump();
      }
    });
  }

  void pump() {
    if (stopped || in_flight || waiting_retry) return;
    if (!batch) {
      if (queue.empty()) {
        if (stopping) finish_stop();
        return;
      }
      const std::size_t n = std::min(queue.size(), static_cast<std::size_t>(std::max(config.max_samples_per_send, 1)));
      std::vector<WriteSample> samples(std::make_move_iterator(queue.begin()),
                                       std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(n)));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      batch = Batch{snappy_compress(encode_write_request(samples)), n, 0};
    }
    send();
  }

  void send() {
    HttpRequest r;
    r.method = "POST";
    r.url = config.url;
    apply_http_endpoint(r, config.http);
    r.headers.emplace_back("Content-Encoding", "snappy");
    r.headers.emplace_back("Content-Type", "application/x-protobuf");
    r.headers.emplace_back("X-Prometheus-Remote-Write-Version", "0.1.0");
    r.body = batch->body;
    r.timeout = config.http.timeout;
    r.max_response_bytes = options.max_response_bytes;
    ++batch->attempts;
    in_flight = true;
    sent_at = SteadyClock::now();
    http.send(std::move(r), [weak = weak_from_this()](HttpResponse response) {
      if (auto self = weak.lock()) self->on_response(std::move(response));
    });
  }

  std::string describe(const HttpResponse& r) const {
    std::string text;
    if (r.status == 0 || !r.error.empty()) {
      text = r.error.empty() ? "no response" : r.error;
    } else {
      // The answer may echo the request's credentials: scrub the whole body before cutting it.
      std::string body = r.body;
      scrub_http_secrets(body, config.http);
      text = http_status_error(r.status);
      if (std::string snippet = body_snippet(body); !snippet.empty()) text += ": " + snippet;
    }
    scrub_http_secrets(text, config.http);
    return text;
  }

  void on_response(HttpResponse r) {
    in_flight = false;
    if (metrics) {
      metrics->observe_remote_write_request_duration(
          std::chrono::duration<double>(SteadyClock::now() - sent_at).count());
    }
    if (stopped || !batch) return;  // given up on at stop: already counted as failed
    switch (judge(r)) {
      case Verdict::Sent:
        if (!st.healthy) spdlog::info("remote write to {}: writing again", st.endpoint);
        count("sent", batch->samples);
        batch.reset();
        st.healthy = true;
        st.last_success = now();
        break;
      case Verdict::Rejected: {
        const std::string error = describe(r);
        spdlog::error("remote write to {}: {} samples rejected, not retried: {}", st.endpoint, batch->samples, error);
        count("rejected", batch->samples);
        batch.reset();
        st.healthy = false;
        st.last_error = error;
        break;
      }
      case Verdict::Retry: {
        const std::string error = describe(r);
        const Duration delay = backoff(batch->attempts, r.retry_after);
        // Said once per outage (and when the reason changes), not at every retry.
        if (st.healthy || error != st.last_error) {
          spdlog::warn("remote write to {}: {}; retrying {} samples (attempt {}, next in {})", st.endpoint, error,
                       batch->samples, batch->attempts, format_duration(delay));
        } else {
          spdlog::debug("remote write to {}: {}; attempt {}, next in {}", st.endpoint, error, batch->attempts,
                        format_duration(delay));
        }
        st.healthy = false;
        st.last_error = error;
        wait_and_retry(delay);
        break;
      }
    }
    update_queue_gauge();
    pump();
  }

  // initial * 2^(attempt-1), capped, jittered to 50-100 % (so that many senders do not retry
  // in step); a Retry-After is honoured as given, up to its own cap.
  Duration backoff(int attempt, std::optional<Duration> retry_after) {
    if (retry_after) return std::clamp(*retry_after, Duration::zero(), options.max_retry_after);
    Duration d = options.initial_backoff;
    for (int i = 1; i < attempt && d < options.max_backoff; ++i) d *= 2;
    d = std::min(d, options.max_backoff);
    if (d.count() <= 1) return d;
    std::uniform_int_distribution<Duration::rep> jitter(d.count() / 2, d.count());
    return Duration(jitter(rng));
  }

  void wait_and_retry(Duration delay) {
    waiting_retry = true;
    retry_timer.expires_after(delay);
    retry_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted) return;
      self->waiting_retry = false;
      self->pump();
    });
  }

  void reconfigure(RemoteWriteConfig next) {
    const bool url_changed = next.url != config.url;
    config = std::move(next);
    st.endpoint = redact_url(config.url);
    trim_to_capacity();
    update_queue_gauge();
    if (url_changed && waiting_retry) {
      // The old endpoint's backoff says nothing about the new one.
      retry_timer.cancel();
      waiting_retry = false;
      batch->attempts = 0;
    }
    schedule_pump();
  }

  void stop(Duration grace, std::function<void()> done) {
    if (done) stop_waiters.push_back(std::move(done));
    if (stopped) {
      post_stop_waiters();
      return;
    }
    if (stopping) return;
    stopping = true;
    if (held() == 0 || grace <= Duration::zero()) {
      finish_stop();
      return;
    }
    stop_timer.expires_after(grace);
    stop_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted) return;
      self->finish_stop();
    });
    schedule_pump();
  }

  void finish_stop() {
    if (stopped) return;
    stopped = true;
    if (const std::size_t left = held(); left > 0) {
      spdlog::warn("remote write to {}: stopping with {} samples not written", st.endpoint, left);
      count("failed", left);
    }
    queue.clear();
    batch.reset();
    retry_timer.cancel();
    stop_timer.cancel();
    waiting_retry = false;
    update_queue_gauge();
    post_stop_waiters();
  }

  void post_stop_waiters() {
    std::vector<std::function<void()>> waiters;
    waiters.swap(stop_waiters);
    for (auto& w : waiters) asio::post(io, std::move(w));
  }
};

RemoteWriter::RemoteWriter(boost::asio::io_context& io, HttpClient& http, RemoteWriteConfig config, Metrics* metrics,
                           RemoteWriterOptions options)
    : impl_(std::make_shared<Impl>(io, http, std::move(config), metrics, options)) {}

RemoteWriter::~RemoteWriter() {
  impl_->retry_timer.cancel();
  impl_->stop_timer.cancel();
}

void RemoteWriter::enqueue(std::vector<WriteSample> samples) { impl_->enqueue(std::move(samples)); }

void RemoteWriter::reconfigure(RemoteWriteConfig config) { impl_->reconfigure(std::move(config)); }

RemoteWriteStatus RemoteWriter::status() const {
  RemoteWriteStatus s = impl_->st;
  s.queue_length = impl_->held();
  return s;
}

void RemoteWriter::stop(Duration grace, std::function<void()> done) { impl_->stop(grace, std::move(done)); }

}  // namespace promwatch
