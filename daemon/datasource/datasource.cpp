// Datasource client: builds Prometheus API requests, caps concurrency with a FIFO queue of our
// own, retries transient failures within the caller's deadline and parses the answers.

#include "promwatch/datasource.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <random>
#include <type_traits>
#include <unordered_set>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace promwatch {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

/// Attempts are not started with less time than this before the deadline.
constexpr Duration kMinAttemptTime{20};

/// The time an attempt starting at `from` may use: it ends a little before the deadline (1/20
/// of the time left, 10 ms to 250 ms), so that its outcome is delivered and handled before the
/// deadline. The deadline is normally the group's next slot: a query cut exactly at it would
/// make the round overrun into that slot, and every other slot would be skipped while a
/// datasource hangs with a timeout longer than the interval.
Duration usable_time(SteadyClock::time_point from, SteadyClock::time_point deadline) {
  auto remaining = std::chrono::duration_cast<Duration>(deadline - from);
  if (remaining <= Duration::zero()) return Duration::zero();
  return remaining - std::clamp(remaining / 20, Duration{10}, Duration{250});
}

void append_encoded(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

void append_param(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += '&';
  append_encoded(out, name);
  out += '=';
  append_encoded(out, value);
}


}  // namespace

std::string Datasource::join_url(std::string_view base, std::string_view path) {
  std::size_t cut = base.find_first_of("?#");
  std::string_view head = base.substr(0, cut);
  std::string_view query;
  if (cut != std::string_view::npos && base[cut] == '?') {
    query = base.substr(cut);
    query = query.substr(0, query.find('#'));
  }
  while (!head.empty() && head.back() == '/') head.remove_suffix(1);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out(head);
  out += '/';
  out += path;
  out += query;
  return out;
}

struct Datasource::Impl : std::enable_shared_from_this<Datasource::Impl> {
  struct Job {
    explicit Job(asio::io_context& io) : timer(io) {}
    bool range = false;
    std::string expr;
    TimePoint at{};
    TimePoint start{};
    TimePoint end{};
    Duration step{0};
    SteadyClock::time_point deadline;
    SteadyClock::time_point started;
    QueryCallback query_done;
    RangeCallback range_done;
    int attempts = 0;
    bool queued = false;
    asio::steady_timer timer;  // backoff, or the deadline while queued
  };
  using JobPtr = std::shared_ptr<Job>;

  Impl(asio::io_context& io, HttpClient& http, const DatasourceConfig& config)
      : io(io), http(http), config(config), rng(std::random_device{}()) {}

  ~Impl() {
    for (const auto& job : jobs) job->timer.cancel();
  }

  void submit(const JobPtr& job, bool front) {
    if (active < std::max(1, config.max_concurrent_queries) && queue.empty()) {
      start_attempt(job);
      return;
    }
    job->queued = true;
    if (front) queue.push_front(job);
    else queue.push_back(job);
    // Given up when too little time would be left for an attempt (see usable_time).
    job->timer.expires_at(job->deadline - kMinAttemptTime - Duration{10});
    job->timer.async_wait([weak = weak_from_this(), job](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted || !job->queued) return;
      auto it = std::find(self->queue.begin(), self->queue.end(), job);
      if (it != self->queue.end()) self->queue.erase(it);
      job->queued = false;
      self->fail(job, "query not sent before the evaluation deadline: " + std::to_string(self->queue.size() + 1) +
                          " queries waiting for max_concurrent_queries=" +
                          std::to_string(self->config.max_concurrent_queries));
    });
    pump();
  }

  void pump() {
    while (active < std::max(1, config.max_concurrent_queries) && !queue.empty()) {
      JobPtr job = queue.front();
      queue.pop_front();
      job->queued = false;
      job->timer.cancel();
      start_attempt(job);
    }
  }

  HttpRequest build_request(const Job& job, Duration timeout) const {
    HttpRequest req;
    std::string params;
    append_param(params, "query", job.expr);
    if (job.range) {
      append_param(params, "start", format_unix_seconds(job.start));
      append_param(params, "end", format_unix_seconds(job.end));
      append_param(params, "step", format_duration(job.step));
    } else {
      append_param(params, "time", format_unix_seconds(job.at));
    }
    append_param(params, "timeout", format_duration(timeout));
    for (const auto& [name, value] : config.query_params) append_param(params, name, value);

    req.url = join_url(config.url, job.range ? "/api/v1/query_range" : "/api/v1/query");
    std::string method = config.method;
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::toupper(c); });
    if (method == "GET") {
      req.method = "GET";
      req.url += req.url.find('?') == std::string::npos ? '?' : '&';
      req.url += params;
    } else {
      req.method = "POST";
      req.body = std::move(params);
      req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    }
    req.headers.emplace_back("Accept", "application/json");
    apply_http_endpoint(req, config.http);
    req.timeout = timeout;
    req.max_response_bytes = config.max_response_bytes;
    return req;
  }

  void start_attempt(const JobPtr& job) {
    Duration remaining = usable_time(SteadyClock::now(), job->deadline);
    if (remaining < kMinAttemptTime) {
      fail(job, "evaluation deadline passed before the query could be sent");
      return;
    }
    Duration timeout = config.http.timeout.count() > 0 ? std::min(config.http.timeout, remaining) : remaining;
    ++active;
    ++job->attempts;
    http.send(build_request(*job, timeout), [weak = weak_from_this(), job](HttpResponse response) {
      if (auto self = weak.lock()) self->on_response(job, std::move(response));
    });
  }

  void on_response(const JobPtr& job, HttpResponse r) {
    --active;
    if (observer) observer(r.error.empty() ? r.status : 0, r.elapsed);

    bool arrived = r.error.empty();
    bool retryable = arrived ? (r.status >= 500 || r.status == 429) : (!r.too_large && !r.timed_out);
    if (retryable && job->attempts <= config.retries) {
      Duration delay = backoff(job->attempts);
      if (r.retry_after) delay = *r.retry_after;
      auto next = SteadyClock::now() + delay;
      if (usable_time(next, job->deadline) >= kMinAttemptTime) {
        job->timer.expires_at(next);
        job->timer.async_wait([weak = weak_from_this(), job](const boost::system::error_code& ec) {
          auto self = weak.lock();
          if (!self || ec == asio::error::operation_aborted) return;
          self->submit(job, /*front=*/true);
        });
        pump();
        return;
      }
    }
    pump();
    finish(job, std::move(r));
  }

  Duration backoff(int attempt) {
    Duration d = initial_backoff;
    for (int i = 1; i < attempt && d < max_backoff; ++i) d *= 2;
    d = std::min(d, max_backoff);
    if (d.count() <= 1) return d;
    std::uniform_int_distribution<Duration::rep> jitter(d.count() / 2, d.count());
    return Duration(jitter(rng));
  }

  void clean(std::string& error) const { scrub_http_secrets(error, config.http); }

  template <typename Outcome>
  void fill(Outcome& out, const Job& job, const HttpResponse& r) const {
    out.attempts = job.attempts;
    out.elapsed = std::chrono::duration_cast<Duration>(SteadyClock::now() - job.started);
    if (!r.error.empty()) {
      out.ok = false;
      out.http_status = r.status;
      out.error = r.error;
    }
    if (!out.ok) {
      if (job.attempts > 1) out.error += " (after " + std::to_string(job.attempts) + " attempts)";
      clean(out.error);
    }
  }

  /// A failed answer's error text quotes the start of the body. A body that echoes our
  /// credentials would leak them there, cut anywhere (so that scrubbing the quote is not
  /// enough): parse a copy with the secrets removed instead. Failures only: no cost otherwise.
  template <typename Outcome, typename Parse>
  void rescan_without_secrets(Outcome& out, const std::string& body, Parse parse) const {
    std::string copy = body;
    clean(copy);
    if (copy == body) return;
    Outcome again = parse(copy, out.http_status);
    if (!again.ok) out = std::move(again);
  }

  void finish(const JobPtr& job, HttpResponse r) {
    if (job->range) {
      RangeOutcome out;
      if (r.error.empty()) out = parse_range_response(r.body, r.status);
      if (!out.ok && r.error.empty()) rescan_without_secrets(out, r.body, parse_range_response);
      fill(out, *job, r);
      deliver(job, std::move(out));
    } else {
      QueryOutcome out;
      if (r.error.empty()) out = parse_query_response(r.body, r.status);
      if (!out.ok && r.error.empty()) rescan_without_secrets(out, r.body, parse_query_response);
      fill(out, *job, r);
      deliver(job, std::move(out));
    }
  }

  void fail(const JobPtr& job, std::string error) {
    HttpResponse r;
    r.error = std::move(error);
    finish(job, std::move(r));
  }

  template <typename Outcome>
  void deliver(const JobPtr& job_ref, Outcome out) {
    JobPtr job = job_ref;  // job_ref may be the set's own element
    jobs.erase(job);
    asio::post(io, [weak = weak_from_this(), job, out = std::move(out)]() mutable {
      if (weak.expired()) return;
      if constexpr (std::is_same_v<Outcome, RangeOutcome>) {
        if (job->range_done) job->range_done(std::move(out));
      } else {
        if (job->query_done) job->query_done(std::move(out));
      }
    });
  }

  JobPtr make_job(TimePoint deadline) {
    auto job = std::make_shared<Job>(io);
    job->started = SteadyClock::now();
    job->deadline = job->started + (deadline - now());
    jobs.insert(job);
    return job;
  }

  asio::io_context& io;
  HttpClient& http;
  DatasourceConfig config;
  AttemptObserver observer;
  Duration initial_backoff{500};
  Duration max_backoff{10000};
  std::minstd_rand rng;
  int active = 0;
  std::deque<JobPtr> queue;
  std::unordered_set<JobPtr> jobs;  // every unfinished job, to cancel its timer on destruction
};

Datasource::Datasource(boost::asio::io_context& io, HttpClient& http, const DatasourceConfig& config)
    : impl_(std::make_shared<Impl>(io, http, config)) {}

Datasource::~Datasource() = default;

void Datasource::query(std::string expr, TimePoint at, TimePoint deadline, QueryCallback done) {
  auto job = impl_->make_job(deadline);
  job->expr = std::move(expr);
  job->at = at;
  job->query_done = std::move(done);
  impl_->submit(job, false);
}

void Datasource::query_range(std::string expr, TimePoint start, TimePoint end, Duration step, TimePoint deadline,
                             RangeCallback done) {
  auto job = impl_->make_job(deadline);
  job->range = true;
  job->expr = std::move(expr);
  job->start = start;
  job->end = end;
  job->step = step;
  job->range_done = std::move(done);
  impl_->submit(job, false);
}

void Datasource::set_observer(AttemptObserver observer) { impl_->observer = std::move(observer); }

void Datasource::set_retry_backoff(Duration initial, Duration max) {
  impl_->initial_backoff = std::max(Duration{0}, initial);
  impl_->max_backoff = std::max(impl_->initial_backoff, max);
}

std::size_t Datasource::in_flight() const { return static_cast<std::size_t>(impl_->active); }

std::size_t Datasource::queued() const { return impl_->queue.size(); }

}  // namespace promwatch
