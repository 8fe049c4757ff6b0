// Delivery of notifications on the Asio loop: receivers, the per-(receiver, group) retry queue
// and the Alertmanager forwarder.

#include "promwatch/delivery.hpp"

#include "receiver_types.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace promwatch {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Deliveries in flight at once, over all receivers. 1,000 aggregation groups flushing together
// (every group's first notification after start-up) would otherwise hold 1,000 curl transfers,
// each with its connection and buffers (7 MB measured); the rest wait in submission order.
constexpr std::size_t kMaxDeliveriesInFlight = 32;

Duration since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
}

bool is_http_url(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

std::string user_agent() { return std::string("promwatch/") + PROMWATCH_VERSION; }

// Backoff for the `attempt`-th failure (1-based): initial * 2^(attempt-1), jittered to 50-100 %,
// at least Retry-After, everything capped.
Duration backoff(std::mt19937_64& rng, Duration initial, int attempt,
                 std::optional<Duration> retry_after, Duration cap) {
  if (cap <= Duration::zero()) cap = initial;
  Duration d = initial;
  for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  std::uniform_int_distribution<std::int64_t> jitter(d.count() / 2, std::max<std::int64_t>(d.count(), 0));
  d = Duration(jitter(rng));
  if (retry_after && *retry_after > d) d = *retry_after;
  return std::min(d, cap);
}

}  // namespace

DeliveryJudgement judge_http_status(const HttpResponse& response) {
  DeliveryJudgement j;
  if (response.status == 0) {
    j.verdict = DeliveryVerdict::Retry;
    j.reason = response.error.empty() ? "no response" : response.error;
    return j;
  }
  int s = response.status;
  if (s >= 200 && s < 300) {
    j.verdict = DeliveryVerdict::Delivered;
    return j;
  }
  j.reason = "HTTP " + std::to_string(s);
  if (s >= 500 || s == 408 || s == 425 || s == 429) {
    j.verdict = DeliveryVerdict::Retry;
    j.retry_after = response.retry_after;
  } else {
    j.verdict = DeliveryVerdict::Failed;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Receivers

WebhookReceiver::WebhookReceiver(ReceiverConfig config, const NotifyConfig& notify)
    : config_(std::move(config)), timeout_(notify.timeout), max_response_bytes_(notify.max_response_bytes) {}

RateLimit WebhookReceiver::rate_limit() const { return config_.rate_limit; }

std::vector<HttpRequest> WebhookReceiver::build_requests(const Notification& n, std::string* error) const {
  if (!is_http_url(config_.url)) {
    if (error) *error = "receiver URL must be http or https";
    return {};
  }
  HttpRequest r;
  r.method = "POST";
  r.url = config_.url;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("User-Agent", user_agent());
  apply_http_endpoint(r, config_.http);
  r.timeout = timeout_;
  r.max_response_bytes = max_response_bytes_;
  r.body = webhook_payload(n);
  std::vector<HttpRequest> out;
  out.push_back(std::move(r));
  return out;
}

std::shared_ptr<const Receiver> make_receiver(const ReceiverConfig& config, const NotifyConfig& notify,
                                              std::string* error) {
  return make_receiver(config, notify, nullptr, nullptr, error);
}

std::shared_ptr<const Receiver> make_receiver(const ReceiverConfig& config, const NotifyConfig& notify,
                                              const Template* title, const Template* text, std::string* error,
                                              std::function<TimePoint()> clock) {
  return make_receiver(config, notify, ReceiverTemplates{title, text, nullptr}, error, std::move(clock));
}

std::shared_ptr<const Receiver> make_receiver(const ReceiverConfig& config, const NotifyConfig& notify,
                                              const ReceiverTemplates& templates, std::string* error,
                                              std::function<TimePoint()> clock) {
  const ReceiverTypeSpec* spec = find_receiver_type(config.type);
  if (!spec || !spec->make) {
    // Not produced by the config loader; a made-up type is refused, not guessed.
    if (error) *error = "unknown receiver type \"" + config.type + "\"";
    return nullptr;
  }
  ReceiverBuild build;
  build.config = config;
  if (templates.title) build.title = *templates.title;
  if (templates.text) build.text = *templates.text;
  if (templates.html) build.html = *templates.html;
  build.timeout = notify.timeout;
  build.max_response_bytes = notify.max_response_bytes;
  build.clock = std::move(clock);
  auto receiver = spec->make(build);
  // Types with settings of their own get them only from the config loader.
  if (!receiver && error) *error = "receiver \"" + config.name + "\" of type " + config.type + " has no settings";
  return receiver;
}

ReceiverTypeSpec webhook_receiver_type() {
  ReceiverTypeSpec spec;
  spec.name = "webhook";
  spec.make = [](const ReceiverBuild& b) -> std::shared_ptr<const Receiver> {
    NotifyConfig notify;
    notify.timeout = b.timeout;
    notify.max_response_bytes = b.max_response_bytes;
    return std::make_shared<WebhookReceiver>(b.config, notify);
  };
  return spec;
}

DeliveryOptions DeliveryOptions::from(const NotifyConfig& notify) {
  DeliveryOptions o;
  o.max_attempts = notify.max_attempts;
  o.shutdown_grace = notify.shutdown_grace;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Delivery

struct Delivery::Impl : std::enable_shared_from_this<Delivery::Impl> {
  struct Message {
    std::shared_ptr<const Notification> n;
    SteadyClock::time_point submitted;
    int attempts = 0;       // over all parts
    int part_attempts = 0;  // for the part being sent: what max_attempts and backoff count
    std::vector<HttpRequest> requests;
    std::size_t next_request = 0;
    bool built = false;
  };
  struct Slot {
    std::optional<Message> current;
    std::optional<Message> next;  // newer; waits while `current` is in flight
    bool in_flight = false;
    bool waiting = false;          // backoff timer armed, or awaiting_place
    bool awaiting_place = false;   // in `place_queue`: ready, waits for a delivery in flight to end
    std::uint64_t generation = 0;  // identifies the armed timer / transfer / place in the queue
    std::unique_ptr<boost::asio::steady_timer> timer;
    SteadyClock::time_point attempt_started;
  };
  using SlotKey = std::pair<std::string, std::string>;  // (receiver, group key)

  boost::asio::io_context& io;
  HttpClient& http;
  DeliveryOptions options;
  ReportCallback on_report;
  std::map<std::string, std::shared_ptr<const Receiver>> receivers;
  std::map<SlotKey, Slot> slots;
  // Send times within the rate-limit window, per destination.
  std::map<std::string, std::deque<SteadyClock::time_point>> sent_at;
  std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t next_generation = 1;
  // Requests sent and not yet answered (kMaxDeliveriesInFlight at most). Counts every transfer
  // HttpClient holds for us, also one whose answer will be ignored (its slot moved on).
  std::size_t transfers_in_flight = 0;
  // Slots ready to send while kMaxDeliveriesInFlight transfers were in flight, oldest first.
  // An entry whose slot has moved on since (generation changed, slot gone) is skipped.
  std::deque<std::pair<SlotKey, std::uint64_t>> place_queue;
  bool shutting_down = false;
  std::function<void()> shutdown_done;
  std::unique_ptr<boost::asio::steady_timer> grace_timer;

  Impl(boost::asio::io_context& io_, HttpClient& http_, DeliveryOptions o, ReportCallback cb)
      : io(io_), http(http_), options(o), on_report(std::move(cb)) {}

  // Reports are collected while the state changes and handed out by `flush_reports()` at the end
  // of each loop handler, so that a callback which calls back into us (submit, set_receivers)
  // never finds a slot half updated.
  std::vector<DeliveryReport> pending_reports;

  void report(const Message& m, const std::string& result, Duration latency, std::string reason) {
    DeliveryReport r;
    r.receiver = m.n->receiver;
    r.group_key = m.n->group_key;
    r.result = result;
    r.latency = latency;
    r.attempts = m.attempts;
    r.reason = std::move(reason);
    r.notification = m.n;
    pending_reports.push_back(std::move(r));
  }

  void flush_reports() {
    while (!pending_reports.empty()) {
      std::vector<DeliveryReport> batch;
      batch.swap(pending_reports);
      for (const auto& r : batch) {
        if (on_report) on_report(r);
      }
    }
  }

  // Reports may run user code that calls back into us; post them to the loop instead of
  // calling inline where the caller (submit, set_receivers) must not see them synchronously.
  void report_later(Message m, std::string result, std::string reason) {
    auto weak = weak_from_this();
    boost::asio::post(io, [weak, m = std::move(m), result = std::move(result), reason = std::move(reason)]() mutable {
      auto self = weak.lock();
      if (!self) return;
      self->report(m, result, since(m.submitted), std::move(reason));
      self->flush_reports();
    });
  }

  Message make_message(Notification n) {
    Message m;
    m.n = std::make_shared<const Notification>(std::move(n));
    m.submitted = SteadyClock::now();
    return m;
  }

  bool submit(Notification n) {
    Message m = make_message(std::move(n));
    if (shutting_down) {
      report_later(std::move(m), "dropped", "shutting down");
      return false;
    }
    if (!receivers.count(m.n->receiver)) {
      report_later(std::move(m), "dropped", "unknown receiver");
      return false;
    }
    SlotKey key{m.n->receiver, m.n->group_key};
    Slot& slot = slots[key];
    if (!slot.current) {
      slot.current = std::move(m);
      schedule(key, slot, Duration::zero());
    } else if (slot.in_flight) {
      if (slot.next) report_later(std::move(*slot.next), "dropped", "superseded");
      slot.next = std::move(m);
    } else {
      // Waiting for a retry: the newer message takes its place and its turn.
      report_later(std::move(*slot.current), "dropped", "superseded");
      slot.current = std::move(m);
    }
    return true;
  }

  // Arms the slot's timer; the attempt runs from the loop, never inline.
  void schedule(const SlotKey& key, Slot& slot, Duration delay) {
    if (!slot.timer) slot.timer = std::make_unique<boost::asio::steady_timer>(io);
    slot.waiting = true;
    slot.awaiting_place = false;  // a queued entry goes stale with the new generation
    std::uint64_t gen = ++next_generation;
    slot.generation = gen;
    slot.timer->expires_after(delay);
    auto weak = weak_from_this();
    slot.timer->async_wait([weak, key, gen](const boost::system::error_code&) {
      auto self = weak.lock();
      if (!self) return;
      auto it = self->slots.find(key);
      if (it == self->slots.end() || it->second.generation != gen || !it->second.waiting) return;
      self->attempt(key, it->second);
      self->flush_reports();
    });
  }

  void attempt(const SlotKey& key, Slot& slot) {
    slot.waiting = false;
    if (!slot.current) {
      advance(key);
      return;
    }
    Message& m = *slot.current;
    auto rit = receivers.find(key.first);
    if (rit == receivers.end()) {
      report(m, "dropped", since(m.submitted), "receiver removed");
      slot.current.reset();
      advance(key);
      return;
    }
    // All places taken: queue up behind the slots that were ready earlier. Not an attempt; before
    // the rate limit, which would count a send that does not happen yet, and before the body is
    // built: 10,000 messages waiting for a place held 16 MB of bodies built too early.
    if (transfers_in_flight >= kMaxDeliveriesInFlight) {
      slot.waiting = true;
      slot.awaiting_place = true;
      slot.generation = ++next_generation;
      place_queue.emplace_back(key, slot.generation);
      return;
    }
    if (!m.built) {
      std::string error;
      m.requests = rit->second->build_requests(*m.n, &error);
      m.built = true;
      if (m.requests.empty()) {
        ++m.attempts;
        report(m, "failed", since(m.submitted), error.empty() ? "no request built" : error);
        slot.current.reset();
        advance(key);
        return;
      }
    }
    // Rate limit per destination: wait for a free place in the window, not counted as an attempt.
    RateLimit limit = rit->second->rate_limit();
    if (limit.count > 0 && limit.per > Duration::zero()) {
      auto& window = sent_at[rit->second->destination()];
      auto now = SteadyClock::now();
      while (!window.empty() && window.front() + limit.per <= now) window.pop_front();
      if (window.size() >= static_cast<std::size_t>(limit.count)) {
        auto wait = std::chrono::ceil<Duration>(window.front() + limit.per - now);
        schedule(key, slot, std::max(wait, Duration(1)));
        return;
      }
      window.push_back(now);
    }
    ++m.attempts;
    ++m.part_attempts;
    slot.in_flight = true;
    ++transfers_in_flight;
    std::uint64_t gen = ++next_generation;
    slot.generation = gen;
    slot.attempt_started = SteadyClock::now();
    auto weak = weak_from_this();
    // Signed platforms (DingTalk, Feishu) sign each attempt afresh: DingTalk refuses a
    // timestamp more than an hour old, and a retry can come later than that.
    HttpRequest request = m.requests[m.next_request];
    rit->second->prepare_attempt(request);
    http.send(std::move(request), [weak, key, gen](HttpResponse response) {
      auto self = weak.lock();
      if (!self) return;
      --self->transfers_in_flight;
      auto it = self->slots.find(key);
      if (it != self->slots.end() && it->second.generation == gen && it->second.in_flight) {
        self->completed(key, it->second, response);
      }
      self->start_queued();
      self->flush_reports();
    });
  }

  // A place is free: the slots that waited for one go, oldest first.
  void start_queued() {
    while (transfers_in_flight < kMaxDeliveriesInFlight && !place_queue.empty()) {
      auto [key, gen] = std::move(place_queue.front());
      place_queue.pop_front();
      auto it = slots.find(key);
      if (it == slots.end() || it->second.generation != gen || !it->second.awaiting_place) continue;
      it->second.awaiting_place = false;
      attempt(key, it->second);  // may erase the slot: `it` is not used after this
    }
  }

  void completed(const SlotKey& key, Slot& slot, const HttpResponse& response) {
    slot.in_flight = false;
    Message& m = *slot.current;
    auto rit = receivers.find(key.first);
    DeliveryJudgement j = rit != receivers.end() ? rit->second->judge(response) : judge_http_status(response);
    Duration attempt_latency = since(slot.attempt_started);

    if (j.verdict == DeliveryVerdict::Delivered) {
      ++m.next_request;
      m.part_attempts = 0;
      if (m.next_request < m.requests.size()) {
        schedule(key, slot, Duration::zero());
        return;
      }
      report(m, "success", since(m.submitted), "");
      slot.current.reset();
      advance(key);
      return;
    }
    bool exhausted = options.max_attempts > 0 && m.part_attempts >= options.max_attempts;
    if (j.verdict == DeliveryVerdict::Failed || exhausted) {
      std::string reason = j.reason;
      if (j.verdict != DeliveryVerdict::Failed) reason += " (after " + std::to_string(m.attempts) + " attempts)";
      report(m, "failed", since(m.submitted), reason);
      slot.current.reset();
      advance(key);
      return;
    }
    // Retryable.
    Duration cap = m.n->group_interval > Duration::zero() ? m.n->group_interval : options.max_backoff;
    Duration delay = backoff(rng, options.initial_backoff, m.part_attempts, j.retry_after, cap);
    if (slot.next) {
      report(m, "dropped", since(m.submitted), "superseded after: " + j.reason);
      slot.current = std::move(slot.next);
      slot.next.reset();
    } else {
      report(m, "retry", attempt_latency, j.reason);
    }
    if (shutting_down) {
      slot.waiting = false;  // kept for the outbox; no more attempts
      check_drained();
      return;
    }
    schedule(key, slot, delay);
  }

  // The slot's current message is done: move to the newer one, or drop an empty slot.
  void advance(const SlotKey& key) {
    auto it = slots.find(key);
    if (it == slots.end()) return;
    Slot& slot = it->second;
    if (!slot.current && slot.next) {
      slot.current = std::move(slot.next);
      slot.next.reset();
    }
    if (slot.current) {
      if (!slot.in_flight) schedule(key, slot, Duration::zero());
    } else {
      if (slot.timer) slot.timer->cancel();
      slots.erase(it);
    }
    check_drained();
  }

  void set_receivers(std::vector<std::shared_ptr<const Receiver>> list) {
    receivers.clear();
    for (auto& r : list) {
      if (r) receivers[r->name()] = std::move(r);
    }
    for (auto it = slots.begin(); it != slots.end();) {
      Slot& slot = it->second;
      if (!receivers.count(it->first.first)) {
        if (slot.current) report_later(std::move(*slot.current), "dropped", "receiver removed");
        if (slot.next) report_later(std::move(*slot.next), "dropped", "receiver removed");
        if (slot.timer) slot.timer->cancel();
        it = slots.erase(it);
        continue;
      }
      // Rebuild with the new receiver object unless a split message is half delivered.
      if (!slot.in_flight && slot.current && slot.current->next_request == 0) {
        slot.current->built = false;
        slot.current->requests.clear();
      }
      ++it;
    }
    check_drained();
  }

  std::size_t queue_length(const std::string* receiver) const {
    std::size_t n = 0;
    for (const auto& [key, slot] : slots) {
      if (receiver && key.first != *receiver) continue;
      n += (slot.current ? 1 : 0) + (slot.next ? 1 : 0);
    }
    return n;
  }

  void shutdown(std::function<void()> done) {
    shutting_down = true;
    shutdown_done = std::move(done);
    // One last attempt, now, for everything that waits for a retry. Slots waiting for a place
    // in flight keep their turn.
    for (auto& [key, slot] : slots) {
      if (slot.waiting && !slot.awaiting_place && slot.current) schedule(key, slot, Duration::zero());
    }
    grace_timer = std::make_unique<boost::asio::steady_timer>(io);
    grace_timer->expires_after(options.shutdown_grace);
    auto weak = weak_from_this();
    grace_timer->async_wait([weak](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->finish_shutdown();
    });
    // Decide from the loop, so that `done` never runs inline.
    boost::asio::post(io, [weak] {
      if (auto self = weak.lock()) self->check_drained();
    });
  }

  void check_drained() {
    if (!shutting_down || !shutdown_done) return;
    for (const auto& [key, slot] : slots) {
      if (slot.in_flight || slot.waiting) return;
    }
    finish_shutdown();
  }

  void finish_shutdown() {
    if (!shutdown_done) return;
    auto done = std::move(shutdown_done);
    shutdown_done = nullptr;
    if (grace_timer) grace_timer->cancel();
    for (auto& [key, slot] : slots) {
      slot.waiting = false;
      slot.awaiting_place = false;
      slot.in_flight = false;  // late completions are ignored
      ++slot.generation;
      if (slot.timer) slot.timer->cancel();
    }
    place_queue.clear();
    // From the loop, after the reports of the handler that got us here.
    boost::asio::post(io, std::move(done));
  }
};

Delivery::Delivery(boost::asio::io_context& io, HttpClient& http, DeliveryOptions options,
                   ReportCallback on_report)
    : impl_(std::make_shared<Impl>(io, http, options, std::move(on_report))) {}

Delivery::~Delivery() {
  for (auto& [key, slot] : impl_->slots) {
    if (slot.timer) slot.timer->cancel();
  }
}

void Delivery::set_receivers(std::vector<std::shared_ptr<const Receiver>> receivers) {
  impl_->set_receivers(std::move(receivers));
}

bool Delivery::submit(Notification n) { return impl_->submit(std::move(n)); }

std::size_t Delivery::queue_length() const { return impl_->queue_length(nullptr); }
std::size_t Delivery::queue_length(const std::string& receiver) const {
  return impl_->queue_length(&receiver);
}

std::vector<Notification> Delivery::undelivered() const {
  std::vector<Notification> out;
  for (const auto& [key, slot] : impl_->slots) {
    if (slot.current) out.push_back(*slot.current->n);
    if (slot.next) out.push_back(*slot.next->n);
  }
  return out;
}

void Delivery::shutdown(std::function<void()> done) { impl_->shutdown(std::move(done)); }

// ---------------------------------------------------------------------------------------------
// Alertmanager forwarder

struct AlertmanagerForwarder::Impl : std::enable_shared_from_this<AlertmanagerForwarder::Impl> {
  struct Target {
    AlertmanagerConfig config;
    std::string redacted;
    std::string url;  // {base}/api/v2/alerts
    std::deque<AlertEvent> queue;
    std::vector<AlertEvent> batch;
    int attempt = 0;
    bool busy = false;  // a batch is in flight or waiting for its retry
    std::unique_ptr<boost::asio::steady_timer> timer;
    SteadyClock::time_point started;
  };

  boost::asio::io_context& io;
  HttpClient& http;
  ForwarderOptions options;
  ReportCallback on_report;
  std::vector<Target> targets;
  std::mt19937_64 rng{std::random_device{}()};

  Impl(boost::asio::io_context& io_, HttpClient& http_, ForwarderOptions o, ReportCallback cb)
      : io(io_), http(http_), options(o), on_report(std::move(cb)) {}

  void report(const Target& t, std::string result, std::size_t count, std::string reason) {
    if (!on_report) return;
    ForwardReport r;
    r.alertmanager = t.redacted;
    r.result = std::move(result);
    r.alerts = count;
    r.reason = std::move(reason);
    r.latency = since(t.started);
    on_report(r);
  }

  void send(const std::vector<AlertEvent>& alerts) {
    if (alerts.empty()) return;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      Target& t = targets[i];
      t.queue.insert(t.queue.end(), alerts.begin(), alerts.end());
      if (t.queue.size() > options.max_queue) {
        std::size_t excess = t.queue.size() - options.max_queue;
        t.queue.erase(t.queue.begin(), t.queue.begin() + static_cast<std::ptrdiff_t>(excess));
        t.started = SteadyClock::now();
        report(t, "dropped", excess, "queue full");
      }
      if (!t.busy) {
        t.busy = true;
        auto weak = weak_from_this();
        boost::asio::post(io, [weak, i] {
          if (auto self = weak.lock()) self->next_batch(i);
        });
      }
    }
  }

  void next_batch(std::size_t i) {
    Target& t = targets[i];
    if (t.queue.empty()) {
      t.busy = false;
      return;
    }
    std::size_t n = std::min(options.max_batch, t.queue.size());
    t.batch.assign(t.queue.begin(), t.queue.begin() + static_cast<std::ptrdiff_t>(n));
    t.queue.erase(t.queue.begin(), t.queue.begin() + static_cast<std::ptrdiff_t>(n));
    t.attempt = 0;
    t.started = SteadyClock::now();
    post_batch(i);
  }

  void post_batch(std::size_t i) {
    Target& t = targets[i];
    ++t.attempt;
    HttpRequest r;
    r.method = "POST";
    r.url = t.url;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("User-Agent", user_agent());
    apply_http_endpoint(r, t.config.http);
    r.timeout = t.config.http.timeout;
    r.max_response_bytes = 64u << 10;
    r.body = alertmanager_v2_payload(t.batch);
    auto weak = weak_from_this();
    http.send(std::move(r), [weak, i](HttpResponse response) {
      if (auto self = weak.lock()) self->completed(i, response);
    });
  }

  void completed(std::size_t i, const HttpResponse& response) {
    Target& t = targets[i];
    DeliveryJudgement j = judge_http_status(response);
    if (j.verdict == DeliveryVerdict::Delivered) {
      report(t, "success", t.batch.size(), "");
    } else if (j.verdict == DeliveryVerdict::Retry && t.attempt <= options.max_retries) {
      report(t, "retry", t.batch.size(), j.reason);
      Duration cap = std::max(t.config.resend_delay, options.initial_backoff);
      Duration delay = backoff(rng, options.initial_backoff, t.attempt, j.retry_after, cap);
      if (!t.timer) t.timer = std::make_unique<boost::asio::steady_timer>(io);
      t.timer->expires_after(delay);
      auto weak = weak_from_this();
      t.timer->async_wait([weak, i](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->post_batch(i);
      });
      return;
    } else {
      report(t, "failed", t.batch.size(), j.reason);
    }
    t.batch.clear();
    next_batch(i);
  }
};

AlertmanagerForwarder::AlertmanagerForwarder(boost::asio::io_context& io, HttpClient& http,
                                             std::vector<AlertmanagerConfig> alertmanagers,
                                             ForwarderOptions options, ReportCallback on_report)
    : impl_(std::make_shared<Impl>(io, http, options, std::move(on_report))) {
  for (auto& am : alertmanagers) {
    Impl::Target t;
    std::string base = am.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    t.url = base + "/api/v2/alerts";
    t.redacted = redact_url(am.url);
    t.config = std::move(am);
    impl_->targets.push_back(std::move(t));
  }
}

AlertmanagerForwarder::~AlertmanagerForwarder() {
  for (auto& t : impl_->targets) {
    if (t.timer) t.timer->cancel();
  }
}

void AlertmanagerForwarder::send(const std::vector<AlertEvent>& alerts) { impl_->send(alerts); }

std::size_t AlertmanagerForwarder::queue_length() const {
  std::size_t n = 0;
  for (const auto& t : impl_->targets) n += t.queue.size() + t.batch.size();
  return n;
}

}  // namespace promwatch
