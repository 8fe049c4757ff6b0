#pragma once
/// \file
/// Notifications, part 2: delivery on the Asio loop through `HttpClient`.
///
/// - `Receiver`: turns a `Notification` into HTTP request(s) and judges the answers. The
///   `webhook` type is `WebhookReceiver`; every other type is a subclass private to its own
///   file in daemon/notify, listed once in the table of receiver_types() (config.hpp).
/// - `Delivery`: one queue per receiver, at most one pending message per (receiver, group key)
///   (a newer one replaces it), retries with exponential backoff and jitter, results reported
///   through a callback, graceful drain on shutdown.
/// - `AlertmanagerForwarder`: POSTs alerts to each `[[alertmanagers]]` entry's /api/v2/alerts.
///
/// Thread: `Delivery` and `AlertmanagerForwarder` are used from the io_context's thread only,
/// and call their callbacks there (never inline from `submit`/`send`). Failures are reported as
/// values through the callbacks, never thrown. Both may be destroyed with transfers in flight:
/// late completions are then ignored. `Receiver` objects are immutable and thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "promwatch/config.hpp"
#include "promwatch/http_client.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/template.hpp"

namespace promwatch {

/// How a receiver judged one HTTP answer.
enum class DeliveryVerdict {
  Delivered,  ///< accepted by the platform
  Retry,      ///< transient: transport error, 5xx, 408, 425, 429, platform rate limit
  Failed,     ///< permanent: other 4xx, platform error codes; not retried
};

struct DeliveryJudgement {
  DeliveryVerdict verdict = DeliveryVerdict::Delivered;
  std::optional<Duration> retry_after;  ///< the platform's wish (Retry-After), if any
  std::string reason;                   ///< for logs; never contains secrets
};

/// The generic judgement by HTTP status: 2xx delivered; transport errors, 5xx, 408, 425 and
/// 429 retried (with the response's Retry-After); everything else a permanent failure.
DeliveryJudgement judge_http_status(const HttpResponse& response);

/// A destination of notifications. Immutable after construction.
class Receiver {
 public:
  virtual ~Receiver() = default;
  /// The receiver's configured name (what routes refer to).
  virtual const std::string& name() const = 0;
  /// The requests that deliver `n`, sent in this order (a message split for size gives
  /// several); delivered when all are. Empty with `*error` set when it cannot be built (then a
  /// permanent failure).
  virtual std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const = 0;
  /// Judges the answer to one of the requests.
  virtual DeliveryJudgement judge(const HttpResponse& response) const { return judge_http_status(response); }
  /// At most `count` requests per `per` to this receiver's destination (count 0 = no limit).
  /// Every request counts, including each part of a split message and each retry.
  virtual RateLimit rate_limit() const { return {}; }
  /// Receivers with the same destination (a chat robot URL) share one rate-limit window.
  /// Never logged; may be a secret.
  virtual std::string destination() const { return name(); }
  /// Called with a copy of one of `build_requests`' requests right before each attempt sends
  /// it: receivers that sign with a timestamp (DingTalk, Feishu) sign it afresh here, so that a
  /// retry hours later is not refused for a stale signature. The default changes nothing.
  virtual void prepare_attempt(HttpRequest& request) const { (void)request; }
};

/// `type = "webhook"`: POSTs Alertmanager's webhook JSON (SPEC §6) to `url` with the
/// receiver's headers, basic_auth, authorization, tls and proxy; notify.timeout per attempt,
/// notify.max_response_bytes, no redirects.
class WebhookReceiver final : public Receiver {
 public:
  WebhookReceiver(ReceiverConfig config, const NotifyConfig& notify);
  const std::string& name() const override { return config_.name; }
  std::vector<HttpRequest> build_requests(const Notification& n, std::string* error) const override;
  /// `rate_limit` from the config; none by default for webhooks.
  RateLimit rate_limit() const override;
  std::string destination() const override { return config_.url; }

 private:
  ReceiverConfig config_;
  Duration timeout_;
  std::uint64_t max_response_bytes_;
};

/// What a receiver type's factory (ReceiverTypeSpec::make) is given.
struct ReceiverBuild {
  ReceiverConfig config;
  std::optional<Template> title;  ///< the compiled `title` template, if configured
  std::optional<Template> text;   ///< the compiled `text` template, if configured
  std::optional<Template> html;   ///< the compiled `html` template (email), if configured
  Duration timeout{10000};        ///< notify.timeout, per attempt
  std::uint64_t max_response_bytes = 64u << 10;
  std::function<TimePoint()> clock;  ///< wall clock (signatures, Date headers); `now()` when empty
};

/// Builds the receiver for `config` through its type's row in receiver_types(); null with
/// `*error` set for a type not in the table.
/// Chat receivers get their default title and text.
std::shared_ptr<const Receiver> make_receiver(const ReceiverConfig& config, const NotifyConfig& notify,
                                              std::string* error);

/// A receiver's compiled templates, each null when not configured.
struct ReceiverTemplates {
  const Template* title = nullptr;
  const Template* text = nullptr;
  const Template* html = nullptr;  ///< email's text/html part
};

/// As below, with every compiled template of the receiver (copied).
std::shared_ptr<const Receiver> make_receiver(const ReceiverConfig& config, const NotifyConfig& notify,
                                              const ReceiverTemplates& templates, std::string* error,
                                              std::function<TimePoint()> clock = {});

/// As above, with the receiver's compiled `title`/`text` templates (null when not configured;
/// copied, so they need not outlive the call). `clock` is the wall clock chat receivers sign
/// with (DingTalk, Feishu); `now()` when empty (tests pass a fixed one). Webhook receivers
/// ignore the templates (they send Alertmanager's JSON).
std::shared_ptr<const Receiver> make_receiver(const ReceiverConfig& config, const NotifyConfig& notify,
                                              const Template* title, const Template* text, std::string* error,
                                              std::function<TimePoint()> clock = {});

/// What happened to one message (or one attempt of it).
struct DeliveryReport {
  std::string receiver;
  std::string group_key;
  /// "success" (delivered; the app calls Dispatcher::record_delivered), "retry" (an attempt
  /// failed and another follows), "failed" (permanent failure or attempts exhausted),
  /// "dropped" (superseded by a newer message, receiver removed, or unknown receiver).
  std::string result;
  /// For "success"/"failed"/"dropped": from submission to the end; for "retry": the attempt.
  Duration latency{0};
  int attempts = 0;    ///< attempts made so far for this message
  std::string reason;  ///< why it failed or was dropped; empty on success
  std::shared_ptr<const Notification> notification;
};

struct DeliveryOptions {
  int max_attempts = 0;  ///< total attempts per message; 0 = until superseded
  Duration shutdown_grace = std::chrono::seconds(5);
  Duration initial_backoff = std::chrono::seconds(1);  ///< doubled per attempt, with jitter
  /// Cap of backoff and Retry-After when the notification has no group interval.
  Duration max_backoff = std::chrono::minutes(5);

  static DeliveryOptions from(const NotifyConfig& notify);
};

/// Delivers notifications, each (receiver, group key) independently of every other.
///
/// A slot per (receiver, group key) holds the message being delivered and at most one newer
/// message: submitting replaces a pending (waiting or queued) message, which is reported
/// "dropped"; a message in flight completes first. A request waits for room in its
/// destination's rate-limit window (not an attempt). Retryable failures wait
/// `initial_backoff * 2^(attempt-1)` (at least the Retry-After), jittered to 50–100 %, capped
/// at the notification's group interval.
class Delivery {
 public:
  using ReportCallback = std::function<void(const DeliveryReport&)>;

  /// `io` and `http` must outlive this object. `on_report` runs on the loop.
  Delivery(boost::asio::io_context& io, HttpClient& http, DeliveryOptions options,
           ReportCallback on_report);
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  /// Replaces the set of receivers (start-up and reload). Messages for receivers no longer in
  /// the set are dropped and reported; a receiver that stays (same name) uses the new object
  /// from its next attempt.
  void set_receivers(std::vector<std::shared_ptr<const Receiver>> receivers);

  /// Queues `n` for its receiver. false (and a "dropped" report) when the receiver is unknown
  /// or shutdown has begun.
  bool submit(Notification n);

  /// Messages not yet delivered, over all receivers (in flight, waiting, queued).
  std::size_t queue_length() const;
  std::size_t queue_length(const std::string& receiver) const;
  /// Copies of every message not yet delivered (for the durable outbox).
  std::vector<Notification> undelivered() const;

  /// Stops accepting messages, sends waiting messages once more at once and waits for
  /// transfers in flight, up to shutdown_grace; then calls `done` (on the loop). Messages still
  /// undelivered are left as they are (see `undelivered()`), not reported.
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// What happened to one batch sent to one Alertmanager.
struct ForwardReport {
  std::string alertmanager;  ///< redacted URL
  std::string result;        ///< "success" | "retry" | "failed" | "dropped"
  std::size_t alerts = 0;
  std::string reason;
  Duration latency{0};
};

struct ForwarderOptions {
  int max_retries = 2;  ///< extra attempts per batch on retryable failures
  Duration initial_backoff = std::chrono::seconds(1);
  std::size_t max_batch = 64;       ///< alerts per request (Prometheus's maxBatchSize)
  std::size_t max_queue = 10000;    ///< alerts queued per Alertmanager; the oldest are dropped
};

/// Forwards alerts to real Alertmanagers as Prometheus's notifier does: each Alertmanager has
/// its own queue and at most one request in flight, so a slow one delays nobody. What to send
/// and when (resend_delay, endsAt) is the caller's decision.
class AlertmanagerForwarder {
 public:
  using ReportCallback = std::function<void(const ForwardReport&)>;

  /// `io` and `http` must outlive this object.
  AlertmanagerForwarder(boost::asio::io_context& io, HttpClient& http,
                        std::vector<AlertmanagerConfig> alertmanagers, ForwarderOptions options,
                        ReportCallback on_report);
  ~AlertmanagerForwarder();
  AlertmanagerForwarder(const AlertmanagerForwarder&) = delete;
  AlertmanagerForwarder& operator=(const AlertmanagerForwarder&) = delete;

  /// Queues `alerts` for every Alertmanager; returns at once.
  void send(const std::vector<AlertEvent>& alerts);
  /// Alerts queued or in flight, summed over Alertmanagers.
  std::size_t queue_length() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace promwatch
