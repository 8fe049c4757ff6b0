// The daemon: one io_context on one thread owns every piece of state. Group timers start
// evaluation rounds; each rule's query completes on the loop and feeds its AlertingRule; the
// transitions go to the dispatcher, whose notifications go to delivery. SIGHUP and
// POST /-/reload share one validate-then-swap path that carries alert state over.

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <csignal>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <set>
#include <thread>
#include <tuple>
#include <type_traits>

#include "alert_event.hpp"
#include "http_api.hpp"
#include "replication.hpp"
#include "promwatch/app.hpp"
#include "promwatch/cluster.hpp"
#include "promwatch/datasource.hpp"
#include "promwatch/delivery.hpp"
#include "promwatch/http_client.hpp"
#include "promwatch/http_server.hpp"
#include "promwatch/metrics.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/remote_write.hpp"
#include "promwatch/silence.hpp"
#include "promwatch/store.hpp"

namespace promwatch {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string url_query_escape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void notify_systemd(const std::string& state) { sd_notify(0, state.c_str()); }

constexpr Duration kDispatcherSaveDelay = std::chrono::seconds(1);


std::string monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::to_string(static_cast<unsigned long long>(ts.tv_sec) * 1000000ull +
                        static_cast<unsigned long long>(ts.tv_nsec) / 1000ull);
}

long long milliseconds_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

long long milliseconds_since(std::chrono::steady_clock::time_point from) {
  return milliseconds_between(from, std::chrono::steady_clock::now());
}

struct GroupCounts {
  std::size_t pending = 0;
  std::size_t firing = 0;
  std::size_t flapping = 0;
  std::size_t members_up = 0;
  std::size_t members_missing = 0;
};

// One rule group as the scheduler runs it. Callbacks hold a shared_ptr and check `retired`, so
// a reload can replace the group while its queries are still in flight.
struct GroupRuntime {
  RuleGroup group;
  // Monotonic: a slot's wait is computed from the wall clock when it is scheduled, so a step of
  // the wall clock can neither hold a group back for the length of the step nor release a burst.
  asio::steady_timer timer;
  TimePoint first_slot{};
  TimePoint previous_slot{};  // the last slot started; epoch = none yet
  bool in_flight = false;
  bool retired = false;
  bool evaluated_once = false;
  std::size_t outstanding = 0;
  std::size_t failed_queries = 0;
  TimePoint round_slot{};
  std::chrono::steady_clock::time_point round_started{};
  std::vector<AlertEvent> round_events;
  GroupCounts counts;  // alerts and members as of the last round, for the gauges
  std::set<std::size_t> dirty_rules;      // alerting rules whose alerts changed this round
  std::set<std::size_t> unsaved_rules;    // changed, not written yet: the store was behind
  bool unsaved_slot = false;              // a round's slot (and heartbeats) not written yet
  bool store_behind_logged = false;       // said once per episode, not every round
  std::vector<HistoryEntry> round_history;
  TimePoint last_full_save{};             // when every rule's alerts were last written

  GroupRuntime(RuleGroup g, asio::io_context& io) : group(std::move(g)), timer(io) {}
};

class Daemon final : public DaemonView {
 public:
  Daemon(std::string config_path, CompiledConfig compiled, std::chrono::steady_clock::time_point launched)
      : launched_(launched),
        config_path_(std::move(config_path)),
        compiled_(std::move(compiled)),
        http_(io_),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        dispatch_timer_(io_),
        watchdog_timer_(io_),
        started_at_(now()),
        deadman_timer_(io_) {}

  ~Daemon() override {
    if (reload_thread_.joinable()) reload_thread_.join();  // it may still post to io_
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int run() {
    const Config& config = compiled_.config;
    // A file-size limit (systemd's LimitFSIZE=, ulimit -f) must fail the write (EFBIG: the
    // store reports it and alerting goes on), not kill the daemon with SIGXFSZ's default action.
    std::signal(SIGXFSZ, SIG_IGN);
    metrics_.set_build_info(PROMWATCH_VERSION);
    metrics_.set_datasource_up(true);
    metrics_.config_reload(true, to_unix_seconds(now()));
    store_healthy_ = &prometheus::BuildGauge()
                          .Name("promwatch_state_store_healthy")
                          .Help("Whether the last write to the SQLite state store succeeded (1) or not (0).")
                          .Register(metrics_.registry())
                          .Add({});
    open_store();
    mute_ = std::make_unique<MuteState>(config);

    delivery_ = std::make_unique<Delivery>(io_, http_, DeliveryOptions::from(config.notify),
                                           [this](const DeliveryReport& r) { on_delivery_report(r); });
    install_config_parts();

    ServerOptions server_options;
    server_options.listen = config.server.listen;
    if (config.server.basic_auth) {
      server_options.basic_auth = ServerBasicAuth{config.server.basic_auth->username, config.server.basic_auth->password};
    }
    server_options.tls_cert_file = config.server.tls_cert_file;
    server_options.tls_key_file = config.server.tls_key_file;
    try {
      server_ = std::make_unique<HttpServer>(io_, server_options, [this](const ServerRequest& r) { return handle_http(*this, r); });
    } catch (const std::exception& e) {
      spdlog::error("cannot start the HTTP server: {}", e.what());
      return kExitRuntimeFailure;
    }

    groups_.clear();
    for (auto& group : compiled_.groups) groups_.push_back(start_group(std::move(group)));
    compiled_.groups.clear();
    restore_state();
    schedule_history_prune();
    start_cluster();

    wait_for_signals();
    start_watchdog();
    start_deadman();
    spdlog::info("promwatch {} started in {} ms: {} rule groups, {} rules, listening on {}, datasource {}",
                 PROMWATCH_VERSION, milliseconds_since(launched_), groups_.size(), rule_count(),
                 server_->local_address(), redact_url(config.datasource.url));
    notify_systemd("READY=1\nSTATUS=evaluating " + std::to_string(groups_.size()) + " rule groups");
    io_.run();
    if (reload_thread_.joinable()) reload_thread_.join();
    spdlog::info("promwatch stopped");
    return kExitOk;
  }

 private:
  // ---- configuration parts that a reload replaces ----

  void install_config_parts() {
    const Config& config = compiled_.config;
    datasource_ = std::make_shared<Datasource>(io_, http_, config.datasource);
    datasource_->set_observer([this](int status, Duration elapsed) {
      metrics_.datasource_request(status == 0 ? std::string("error") : std::to_string(status), to_seconds(elapsed));
    });

    std::vector<std::shared_ptr<const Receiver>> receivers;
    for (std::size_t i = 0; i < config.receivers.size(); ++i) {
      std::string error;
      if (auto receiver = make_receiver(config.receivers[i], config.notify, compiled_.receiver_templates(i), &error)) {
        receivers.push_back(std::move(receiver));
      }
    }
    delivery_->set_receivers(std::move(receivers));

    auto old_dispatcher = std::move(dispatcher_);
    if (config.route) {
      dispatcher_ = std::make_unique<Dispatcher>(*config.route, config.receivers, config.global.external_url);
      if (old_dispatcher && dispatcher_->routes_like(*old_dispatcher)) {
        // Routing did not change: re-routing every held alert (a second per 100,000) would
        // give the same groups, so the running dispatcher stays, timers and all.
        dispatcher_ = std::move(old_dispatcher);
      } else if (old_dispatcher) {
        dispatcher_->import_state(old_dispatcher->export_state(), now());
      }
      dispatcher_->set_mute_filter(mute_->mute_filter());
      dispatcher_->set_time_mute_check(mute_->time_mute_check());
      dispatcher_->set_log_observer([this](const NotificationLogEntry& e) {
        if (replication_) replication_->log_changed(e);
      });
    }

    forwarder_.reset();
    resend_delay_ = Duration::max();
    if (!config.alertmanagers.empty()) {
      forwarder_ = std::make_unique<AlertmanagerForwarder>(io_, http_, config.alertmanagers, ForwarderOptions{},
                                                           [](const ForwardReport& r) { on_forward_report(r); });
      for (const auto& am : config.alertmanagers) resend_delay_ = std::min(resend_delay_, am.resend_delay);
    }
    install_remote_writer(config);
  }

  // The writer outlives reloads with its queue; only removing [remote_write] ends it (what it
  // still held is counted as failed).
  void install_remote_writer(const Config& config) {
    if (!config.remote_write) {
      if (remote_writer_) remote_writer_->stop(Duration::zero(), nullptr);
      remote_writer_.reset();
    } else if (remote_writer_) {
      remote_writer_->reconfigure(*config.remote_write);
    } else {
      remote_writer_ = std::make_unique<RemoteWriter>(io_, http_, *config.remote_write, &metrics_);
    }
  }

  static void on_forward_report(const ForwardReport& r) {
    if (r.result == "success") {
      spdlog::debug("sent {} alerts to Alertmanager {}", r.alerts, r.alertmanager);
    } else {
      spdlog::warn("sending {} alerts to Alertmanager {}: {}: {}", r.alerts, r.alertmanager, r.result, r.reason);
    }
  }

  // ---- scheduling and evaluation ----

  std::shared_ptr<GroupRuntime> start_group(RuleGroup group) {
    auto rt = std::make_shared<GroupRuntime>(std::move(group), io_);
    rt->first_slot = rt->group.next_evaluation(now());
    metrics_.set_group_rules(rt->group.name(), rt->group.rules().size() + rt->group.recording_rules().size());
    schedule(rt, rt->first_slot);
    return rt;
  }

  void schedule(const std::shared_ptr<GroupRuntime>& rt, TimePoint slot) {
    // Never longer than an interval: the slot was computed from the wall clock a moment ago.
    Duration wait = std::clamp(slot - now(), Duration::zero(), std::max(rt->group.interval(), Duration::zero()));
    rt->timer.expires_after(wait);
    rt->timer.async_wait([this, weak = std::weak_ptr<GroupRuntime>(rt)](const boost::system::error_code& ec) {
      auto rt = weak.lock();
      if (ec || !rt || rt->retired || stopping_) return;
      on_slot(rt);
    });
  }

  void on_slot(const std::shared_ptr<GroupRuntime>& rt) {
    follow_clock_steps();
    TimePoint t = now();
    RuleGroup& group = rt->group;
    if (rt->in_flight) {
      // The previous round overran into this slot: skip it, as Prometheus does.
      metrics_.group_iterations_missed(group.name(), 1);
      // Counted here; advance() must not count this slot again at the next one.
      rt->previous_slot = group.slot_at_or_before(t);
      spdlog::warn("group {}: evaluation took longer than its interval {}; slot skipped", group.name(),
                   format_duration(group.interval()));
      schedule(rt, group.next_evaluation(t));
      return;
    }
    TimePoint slot = group.slot_at_or_before(t);
    if (rt->previous_slot != TimePoint{}) {
      SlotAdvance advance = group.advance(rt->previous_slot, t);
      slot = advance.slot;
      if (advance.missed > 0) metrics_.group_iterations_missed(group.name(), static_cast<std::uint64_t>(advance.missed));
    }
    // Microseconds from the wall clock, not `now()`'s milliseconds: jitter is measured in them.
    metrics_.observe_evaluation_start_delay(
        std::chrono::duration<double>(std::chrono::system_clock::now() - slot).count());
    start_round(rt, slot);
    schedule(rt, group.next_evaluation(std::max(slot, t)));
  }

  void start_round(const std::shared_ptr<GroupRuntime>& rt, TimePoint slot) {
    RuleGroup& group = rt->group;
    rt->in_flight = true;
    rt->previous_slot = slot;
    rt->round_slot = slot;
    rt->round_started = std::chrono::steady_clock::now();
    rt->outstanding = group.rule_count();
    rt->failed_queries = 0;
    rt->round_events.clear();
    rt->dirty_rules.clear();
    rt->round_history.clear();
    metrics_.group_iteration(group.name());
    if (rt->outstanding == 0) {
      finish_round(rt);
      return;
    }
    // Retries of a query stop at the next slot, so one round never runs into the next.
    TimePoint deadline = slot + group.interval();
    auto query = [&](const std::string& expr, auto on_result) {
      datasource_->query(expr, group.query_time(slot), deadline,
                         [weak = std::weak_ptr<GroupRuntime>(rt), on_result](QueryOutcome outcome) {
                           auto rt = weak.lock();
                           if (!rt || rt->retired) return;
                           on_result(rt, std::move(outcome));
                         });
    };
    for (std::size_t i = 0; i < group.rules().size(); ++i) {
      // keep_firing_expr runs beside expr in the same slot (same client, limits and deadline)
      // while the rule has firing alerts; the rule is evaluated once both have answered.
      auto both = std::make_shared<RuleOutcomes>();
      both->waiting = group.rules()[i].wants_keep_firing_query() ? 2 : 1;
      if (both->waiting == 2) {
        query(group.rules()[i].keep_firing_query(), [this, i, both](const std::shared_ptr<GroupRuntime>& rt, QueryOutcome o) {
          both->keep_firing = std::move(o);
          if (--both->waiting == 0) on_rule_outcome(rt, i, both);
        });
      }
      query(group.rules()[i].query(), [this, i, both](const std::shared_ptr<GroupRuntime>& rt, QueryOutcome o) {
        both->expr = std::move(o);
        if (--both->waiting == 0) on_rule_outcome(rt, i, both);
      });
    }
    for (std::size_t k = 0; k < group.recording_rules().size(); ++k) {
      query(group.recording_rules()[k].query(), [this, k](const std::shared_ptr<GroupRuntime>& rt, QueryOutcome outcome) {
        RecordingRule& rule = rt->group.recording_rules()[k];
        RuleHealth before = rule.health();
        record_result(rt, rule, outcome, before, rule.evaluate(outcome, rt->round_slot));
      });
    }
    for (std::size_t j = 0; j < group.heartbeats().size(); ++j) {
      query(group.heartbeats()[j].query(), [this, j](const std::shared_ptr<GroupRuntime>& rt, QueryOutcome outcome) {
        HeartbeatRule& rule = rt->group.heartbeats()[j];
        RuleHealth before = rule.health();
        record_result(rt, rule, outcome, before, rule.evaluate(outcome, rt->round_slot));
      });
    }
  }

  // A rule's query outcomes of one round: expr's, and keep_firing_expr's when it ran.
  struct RuleOutcomes {
    int waiting = 1;
    QueryOutcome expr;
    std::optional<QueryOutcome> keep_firing;
    const QueryOutcome* keep() const { return keep_firing ? &*keep_firing : nullptr; }
  };

  void on_rule_outcome(const std::shared_ptr<GroupRuntime>& rt, std::size_t i, const std::shared_ptr<RuleOutcomes>& both) {
    RuleGroup& group = rt->group;
    const TimePoint at = group.query_time(rt->round_slot);
    const TimePoint deadline = rt->round_slot + group.interval();
    if (!rt->group.rules()[i].uses_template_queries()) {
      evaluate_rule(rt, i, both->expr, nullptr, both->keep());
      return;
    }
    // Its templates call `query`: their queries run (in rounds, on the same client and
    // deadline) before the rule is evaluated, so this round's events carry their text.
    std::shared_ptr<const QueryOutcome> shared(both, &both->expr);
    std::weak_ptr<GroupRuntime> weak = rt;
    resolve_template_queries(
        [weak, i, shared, down = datasource_down_](const TemplateQueryAnswers& answers) {
          auto rt = weak.lock();
          if (!rt) return std::vector<std::string>{};
          return rt->group.rules()[i].template_queries(*shared, answers, down);
        },
        [this, weak, at, deadline](const std::string& expr, std::function<void(QueryOutcome)> done) {
          datasource_->query(expr, at, deadline, [weak, done = std::move(done)](QueryOutcome o) {
            auto rt = weak.lock();
            if (!rt || rt->retired) return;  // a reload replaced the group: drop the chain
            done(std::move(o));
          });
        },
        [this, weak, i, both](TemplateQueryAnswers answers) {
          auto rt = weak.lock();
          if (!rt || rt->retired) return;
          evaluate_rule(rt, i, both->expr, &answers, both->keep());
        });
  }

  void evaluate_rule(const std::shared_ptr<GroupRuntime>& rt, std::size_t i, const QueryOutcome& outcome,
                     const TemplateQueryAnswers* answers, const QueryOutcome* keep_firing) {
    AlertingRule& rule = rt->group.rules()[i];
    RuleHealth before = rule.health();
    EvaluationResult result = rule.evaluate(outcome, rt->round_slot, datasource_down_, answers, keep_firing);
    if (!result.transitions.empty()) rt->dirty_rules.insert(i);
    record_result(rt, rule, outcome, before, result);
  }

  // What every evaluated rule (alerting or heartbeat) feeds: metrics, logs, the transitions
  // for the dispatcher and the alerts due for the Alertmanagers.
  template <typename Rule>
  void record_result(const std::shared_ptr<GroupRuntime>& rt, Rule& rule, const QueryOutcome& outcome,
                     RuleHealth before, const EvaluationResult& result) {
    const RuleGroup& group = rt->group;
    bool was_err = before == RuleHealth::Err;
    rule.set_evaluation_time(outcome.elapsed);

    metrics_.rule_evaluation(group.name());
    metrics_.observe_rule_evaluation_duration(group.name(), to_seconds(rule.evaluation_time()));
    if (outcome.ok) {
      last_query_success_ = now();
    } else {
      ++rt->failed_queries;
      last_query_error_ = outcome.error;
    }
    if (!result.ok) {
      metrics_.rule_evaluation_failure(group.name());
      // Logged when the rule turns unhealthy, not at every interval while it stays so.
      if (!was_err) spdlog::warn("rule {}/{}: {}", group.name(), rule.name(), result.error);
    } else if (was_err) {
      spdlog::info("rule {}/{}: evaluating again", group.name(), rule.name());
    }
    for (const auto& t : result.transitions) {
      // The end of flapping changes no state: the history keeps state changes only.
      if (store_ && t.from != t.to) rt->round_history.push_back(HistoryEntry::from_transition(group.name(), rule.name(), t));
      if (!t.notifies()) continue;
      spdlog::info("alert {} {}: {} -> {}{}", rule.name(), t.labels.to_string(), to_string(t.from), to_string(t.to),
                   t.flap == FlapNotice::Started ? " (flapping: notifications paused until stable)"
                   : t.flap == FlapNotice::Ended ? " (stable again after flapping)" : "");
      rt->round_events.push_back(to_event(group, rule.name(), t));
    }
    // Only the replica that notifies forwards; a standby leaves the resend bookkeeping alone, so
    // that it sends every firing alert at its first round as leader.
    if constexpr (std::is_same_v<Rule, RecordingRule>) {
      // A recording rule has no alerts to forward.
    } else if (forwarder_ && may_notify()) {
      auto outgoing = rule.alerts_to_send(rt->round_slot, resend_delay_, group.interval());
      if (!outgoing.empty()) {
        std::vector<AlertEvent> events;
        events.reserve(outgoing.size());
        for (const auto& o : outgoing) {
          AlertEvent e;
          e.labels = o.labels;
          e.labels.add_missing(compiled_.config.global.external_labels);
          e.annotations = o.annotations;
          e.starts_at = o.starts_at;
          e.ends_at = o.ends_at;
          e.generator_url = shared_generator_url(group, rule.name(), o.labels);
          events.push_back(std::move(e));
        }
        forwarder_->send(events);
      }
    }
    if (--rt->outstanding == 0) finish_round(rt);
  }

  void finish_round(const std::shared_ptr<GroupRuntime>& rt) {
    RuleGroup& group = rt->group;
    rt->in_flight = false;
    rt->evaluated_once = true;
    auto took = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - rt->round_started);
    group.set_last_evaluation(rt->round_slot, took);
    metrics_.set_group_last_evaluation(group.name(), to_unix_seconds(rt->round_slot));
    metrics_.set_group_last_duration(group.name(), to_seconds(took));

    // The datasource is down after `down_after` consecutive rounds in which every query failed.
    std::size_t rules = group.rule_count();
    if (rules > 0) {
      if (rt->failed_queries == rules) {
        ++failed_rounds_;
      } else {
        failed_rounds_ = 0;
      }
      bool down = failed_rounds_ >= compiled_.config.datasource.down_after;
      if (down != datasource_down_) set_datasource_down(down);
    }
    if (datasource_down_) resend_datasource_down();
    count_group(*rt);
    update_alert_gauges();
    if (!rt->round_events.empty()) deliver_events(std::move(rt->round_events));
    rt->round_events.clear();
    write_samples(group.take_round_output(rt->round_slot, compiled_.config.remote_write.has_value()).samples);
    persist_round(*rt);
  }

  // Recording rule results, ALERTS series and stale markers go to [remote_write]. Only the
  // replica that notifies writes, so that replicas do not write conflicting samples; the others
  // still take each round's output, so their record of what was written stays current.
  void write_samples(std::vector<WriteSample> samples) {
    if (samples.empty() || !remote_writer_ || !may_notify()) return;
    remote_writer_->enqueue(std::move(samples));
  }

  // ---- durable state ----

  // Everything a round changed, in one batch: the alerts of rules with transitions (and of all
  // rules every few minutes: unchanged rows cost the store nothing), heartbeat members, the
  // transitions for the history and the slot, written last.
  //
  // While the store's worker is behind (the first round of 100,000 new alerts, a slow disk),
  // the alerts wait in the rules instead of in the store's queue, where every queued row is
  // memory: they are written from the rules' state at a later round, with the slot, so the
  // stored alerts and the stored slot always belong to the same round. The history is never
  // held back (its rows exist nowhere else).
  void persist_round(GroupRuntime& rt) {
    if (!store_) return;
    constexpr Duration kFullSaveEvery = std::chrono::minutes(5);
    constexpr std::size_t kStoreBacklog = 1;  // batches already waiting for the worker
    StoreBatch batch;
    const RuleGroup& group = rt.group;
    if (rt.round_slot - rt.last_full_save >= kFullSaveEvery) {
      rt.last_full_save = rt.round_slot;
      for (std::size_t i = 0; i < group.rules().size(); ++i) rt.unsaved_rules.insert(i);
    }
    rt.unsaved_rules.insert(rt.dirty_rules.begin(), rt.dirty_rules.end());
    rt.unsaved_slot = true;
    if (store_->stats().queued_batches < kStoreBacklog) {
      for (std::size_t i : rt.unsaved_rules) {
        batch.put_rule_alerts(group.name(), group.rule_keys()[i], group.rules()[i]);
      }
      rt.unsaved_rules.clear();
      for (const auto& hb : group.heartbeats()) batch.put_heartbeat(group.name(), hb.name(), hb.export_state());
      batch.put_group_evaluation(group.name(), rt.round_slot);
      rt.unsaved_slot = false;
      if (rt.store_behind_logged) {
        spdlog::info("state store caught up with group {}", group.name());
        rt.store_behind_logged = false;
      }
    } else if (!rt.store_behind_logged) {
      spdlog::info("state store is behind: the alerts of group {} wait for a later round", group.name());
      rt.store_behind_logged = true;
    }
    if (!rt.round_history.empty()) batch.add_history(std::move(rt.round_history));
    rt.round_history.clear();
    if (!batch.empty()) store_->commit(std::move(batch));
  }

  // The dispatcher's state (notification log, aggregation groups) is written at most once per
  // kDispatcherSaveDelay, however many rounds, flushes and deliveries changed it: exporting it
  // copies every grouped alert, which per round cost a third of the CPU at 100,000 alerts.
  // Delivered messages leave the outbox in the same transaction that records them in the log,
  // so a crash in between loses neither: the message is still in the outbox and is sent again
  // after the restart (at-least-once), never forgotten.
  void schedule_state_save() {
    if (!store_ || state_save_pending_) return;
    state_save_pending_ = true;
    state_save_timer_.expires_after(kDispatcherSaveDelay);
    state_save_timer_.async_wait([this](const boost::system::error_code& ec) {
      state_save_pending_ = false;
      if (ec != boost::asio::error::operation_aborted) save_dispatcher_state();
    });
  }

  void save_dispatcher_state() {
    if (!store_) return;
    StoreBatch batch;
    if (dispatcher_) batch.put_dispatcher_state(dispatcher_->export_state());
    for (auto& [receiver, group_key, created_at] : outbox_removals_) batch.remove_outbox(receiver, group_key, created_at);
    outbox_removals_.clear();
    if (!batch.empty()) store_->commit(std::move(batch));
  }

  void save_everything() {
    if (!store_) return;
    StoreBatch batch;
    for (const auto& rt : groups_) {
      const RuleGroup& group = rt->group;
      for (std::size_t i = 0; i < group.rules().size(); ++i) {
        batch.put_rule_alerts(group.name(), group.rule_keys()[i], group.rules()[i]);
      }
    }
    add_heartbeats_and_slots(batch);
    store_->commit(std::move(batch));
    save_dispatcher_state();
  }

  // Heartbeats (members change without transitions) and each group's last slot.
  void add_heartbeats_and_slots(StoreBatch& batch) const {
    for (const auto& rt : groups_) {
      const RuleGroup& group = rt->group;
      for (const auto& hb : group.heartbeats()) batch.put_heartbeat(group.name(), hb.name(), hb.export_state());
      if (rt->previous_slot != TimePoint{}) batch.put_group_evaluation(group.name(), rt->previous_slot);
    }
  }

  // A store that cannot be opened or written is loud (log, metric) but not fatal: alerting
  // goes on from memory, which is what matters while the disk is full.
  void open_store() {
    std::string error;
    StoreOptions options;
    options.post_to_loop = [this](std::function<void()> fn) { asio::post(io_, std::move(fn)); };
    options.on_health_change = [this](bool healthy, const std::string& error) {
      store_healthy_->Set(healthy ? 1 : 0);
      if (healthy) {
        spdlog::info("state store writes again");
      } else {
        spdlog::error("state store write failed, alerting continues from memory: {}", error);
      }
    };
    store_ = Store::open(compiled_.config.global.state_dir, &error, std::move(options));
    store_healthy_->Set(store_ ? 1 : 0);
    if (!store_) {
      spdlog::error("cannot open the state store in {}: {}; running from memory, state will not survive a restart",
                    compiled_.config.global.state_dir, error);
    }
  }

  // Restores what the last run left: alerts (pending `for` timers keep their activeAt within
  // outage_tolerance), heartbeat members, the notification log and aggregation groups (so
  // nothing is re-notified before its repeat interval), and undelivered notifications.
  void restore_state() {
    if (!store_) return;
    StoreSnapshot snapshot = store_->load();
    for (const auto& w : snapshot.warnings) spdlog::warn("state store: {}", w);
    TimePoint t = now();
    RestoreOptions restore_options{compiled_.config.global.outage_tolerance, compiled_.config.global.for_grace_period};
    std::map<std::pair<std::string, std::string>, std::vector<Alert>*> saved_rules;
    for (auto& r : snapshot.rules) saved_rules[{r.group, r.rule_key}] = &r.alerts;
    std::map<std::pair<std::string, std::string>, HeartbeatState*> saved_heartbeats;
    for (auto& h : snapshot.heartbeats) saved_heartbeats[{h.group, h.name}] = &h.state;

    StoreBatch cleanup;
    std::set<std::string> group_names;
    std::size_t restored = 0;
    for (auto& rt : groups_) {
      RuleGroup& group = rt->group;
      group_names.insert(group.name());
      auto last = snapshot.last_evaluation.find(group.name());
      TimePoint down_at = last != snapshot.last_evaluation.end() ? last->second : t;
      for (std::size_t i = 0; i < group.rules().size(); ++i) {
        auto it = saved_rules.find({group.name(), group.rule_keys()[i]});
        if (it == saved_rules.end()) continue;
        restored += it->second->size();
        for (const auto& transition : group.rules()[i].restore(std::move(*it->second), down_at, t, restore_options)) {
          cleanup.add_history(HistoryEntry::from_transition(group.name(), group.rules()[i].name(), transition));
        }
        saved_rules.erase(it);
      }
      for (auto& hb : group.heartbeats()) {
        auto it = saved_heartbeats.find({group.name(), hb.name()});
        if (it == saved_heartbeats.end()) continue;
        hb.import_state(std::move(*it->second));
        saved_heartbeats.erase(it);
      }
    }
    // What is stored but no longer configured goes.
    for (const auto& [key, alerts] : saved_rules) cleanup.delete_rule(key.first, key.second);
    for (const auto& [key, state] : saved_heartbeats) cleanup.delete_heartbeat(key.first, key.second);
    for (const auto& [name, at] : snapshot.last_evaluation) {
      if (!group_names.count(name)) cleanup.delete_group(name);
    }
    if (!cleanup.empty()) store_->commit(std::move(cleanup));
    for (const auto& stored : snapshot.silences) {
      std::string error;
      if (auto silence = silence_from_json(stored.json, &error)) {
        mute_->silences().restore(std::move(*silence));
      } else {
        spdlog::warn("state store: silence {} skipped: {}", stored.id, error);
      }
    }
    observe_firing_alerts();
    if (dispatcher_) {
      dispatcher_->import_state(snapshot.dispatcher, t);
      reconcile_dispatcher(t);
      schedule_dispatch();
    }
    std::size_t undelivered = snapshot.outbox.size();
    if (compiled_.config.cluster) {
      // Reported again only if this replica leads, and only what no leader delivered since
      // (Replication::on_may_notify).
      held_outbox_ = std::move(snapshot.outbox);
    } else {
      for (auto& n : snapshot.outbox) delivery_->submit(std::move(n));
    }
    update_alert_gauges(/*recount_all=*/true);
    spdlog::info("state restored from {}: {} alerts, {} undelivered notifications", store_->path(), restored,
                 undelivered);
  }

  // The rules' alerts are written with each round, the dispatcher's groups at most a second
  // later: a crash in between restores a dispatcher that disagrees with the rules, missing a
  // firing alert (never notified: rules send events only on transitions) or holding one that
  // no longer fires (repeated forever). The rules are the truth.
  void reconcile_dispatcher(TimePoint t) {
    std::vector<AlertEvent> firing;
    for_each_firing_alert([&](const RuleGroup& group, const std::string& rule_name, const Alert& a) {
      AlertEvent e;
      e.labels = with_external_labels(a.labels);
      e.annotations = a.annotations;
      e.starts_at = a.fired_at;
      e.generator_url = shared_generator_url(group, rule_name, a.labels);
      firing.push_back(std::move(e));
    });
    if (std::size_t changed = dispatcher_->reconcile(std::move(firing), t)) {
      spdlog::info("state restored: {} alerts in the notification groups brought in line with the rules", changed);
    }
  }

  void schedule_history_prune() {
    history_prune_timer_.expires_after(std::chrono::hours(1));
    history_prune_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_ || !store_) return;
      StoreBatch batch;
      batch.prune_history(now() - compiled_.config.global.history_retention);
      for (const auto& id : mute_->silences().gc(now())) {
        batch.delete_silence(id);
        if (cluster_) cluster_->forget_silence(id);
      }
      store_->commit(std::move(batch));
      schedule_history_prune();
    });
  }

  // ---- the datasource itself ----

  // PromwatchDatasourceDown is an alert of promwatch's own: it goes through routing like any
  // other (notifications need no datasource) and resolves when queries succeed again. Its
  // identity is the redacted datasource URL; the reason is an annotation, so a changing error
  // text does not make a new alert.
  AlertEvent datasource_down_event(TimePoint ends_at) const {
    const auto& config = compiled_.config;
    AlertEvent e;
    e.labels = Labels{{"alertname", "PromwatchDatasourceDown"},
                      {"datasource", redact_url(config.datasource.url)},
                      {"severity", "critical"}};
    e.labels.add_missing(config.global.external_labels);
    e.annotations = Labels{
        {"summary", "promwatch cannot query its datasource " + redact_url(config.datasource.url)},
        {"description", "Every query failed in " + std::to_string(failed_rounds_) +
                            " consecutive rounds; rules keep their state until it answers again. Last error: " +
                            last_query_error_}};
    e.starts_at = datasource_down_since_;
    e.ends_at = ends_at;
    e.generator_url = config.global.external_url;
    return e;
  }

  void set_datasource_down(bool down) {
    datasource_down_ = down;
    metrics_.set_datasource_up(!down);
    TimePoint t = now();
    const std::string url = redact_url(compiled_.config.datasource.url);
    if (down) {
      datasource_down_since_ = t;
      spdlog::error("datasource {} is down: every query failed in {} consecutive rounds: {}", url, failed_rounds_,
                    last_query_error_);
    } else {
      spdlog::info("datasource {} answers again", url);
    }
    AlertEvent event = datasource_down_event(down ? TimePoint{} : t);
    if (forwarder_ && may_notify()) {
      AlertEvent forwarded = event;
      if (down) forwarded.ends_at = t + 4 * std::max(resend_delay_, Duration(std::chrono::minutes(1)));
      forwarder_->send({forwarded});
      datasource_down_sent_at_ = t;
    }
    deliver_events({std::move(event)});
  }

  // While down, Alertmanagers get the alert again every resend_delay, as Prometheus re-sends
  // firing alerts, so that it does not expire there.
  void resend_datasource_down() {
    if (!forwarder_ || !may_notify()) return;
    TimePoint t = now();
    if (t - datasource_down_sent_at_ < resend_delay_) return;
    AlertEvent event = datasource_down_event(t + 4 * std::max(resend_delay_, Duration(std::chrono::minutes(1))));
    forwarder_->send({event});
    datasource_down_sent_at_ = t;
  }

  // ---- dead man's switch ----

  // Pings [deadman].url every interval while the loop runs and at least one query succeeded
  // in the interval, so an outside service notices when promwatch or its datasource dies.
  void start_deadman() {
    deadman_timer_.cancel();
    if (!compiled_.config.deadman) return;
    deadman_timer_.expires_after(compiled_.config.deadman->interval);
    deadman_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_ || !compiled_.config.deadman) return;
      const DeadmanConfig& deadman = *compiled_.config.deadman;
      if (!may_notify()) {
        spdlog::debug("dead man's switch: standby replica, the leader pings");
      } else if (now() - last_query_success_ <= deadman.interval) {
        HttpRequest request;
        request.method = "GET";
        request.url = deadman.url;
        request.headers = deadman.http.headers;
        request.basic_auth = deadman.http.basic_auth;
        if (deadman.http.authorization) {
          request.headers.emplace_back("Authorization", deadman.http.authorization->header_value());
        }
        request.tls = deadman.http.tls;
        request.proxy_url = deadman.http.proxy_url;
        request.timeout = std::min(deadman.http.timeout, deadman.interval);
        request.max_response_bytes = 64 * 1024;
        http_.send(std::move(request), [url = redact_url(deadman.url)](HttpResponse response) {
          if (response.ok()) {
            spdlog::debug("dead man's switch {} pinged", url);
          } else {
            spdlog::warn("dead man's switch {}: {}", url,
                         response.error.empty() ? "HTTP " + std::to_string(response.status) : response.error);
          }
        });
      } else {
        spdlog::warn("dead man's switch not pinged: no query succeeded in the last {}", format_duration(deadman.interval));
      }
      start_deadman();
    });
  }

  AlertEvent to_event(const RuleGroup& group, const std::string& rule_name, const AlertTransition& t) const {
    return transition_event(t, compiled_.config.global.external_labels, shared_generator_url(group, rule_name, t.labels));
  }

  // Without a generator_url template every alert of a rule has the same URL, and events are
  // made rule by rule: reusing the last one when it is the same text makes a rule's events
  // share one copy (the dispatcher keeps each event as long as its alert).
  SharedText shared_generator_url(const RuleGroup& group, const std::string& rule_name, const Labels& labels) const {
    std::string url = generator_url(group, rule_name, labels);
    if (last_generator_url_ != url) last_generator_url_ = SharedText(url);
    return last_generator_url_;
  }

  std::string generator_url(const RuleGroup& group, const std::string& rule_name, const Labels& labels) const {
    const auto& global = compiled_.config.global;
    if (compiled_.generator_url) {
      AlertTemplateData data{labels, 0, global.external_labels, global.external_url};
      return compiled_.generator_url->render_alert(data);
    }
    std::string base = global.external_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/#rule-" + url_query_escape(group.name() + "/" + rule_name);
  }

  // Recounts one group's alerts and members: only the group whose round just finished changed,
  // so a round costs its own alerts, not every alert of every group.
  static void count_group(GroupRuntime& rt) {
    rt.counts = {};
    for (const auto& rule : rt.group.rules()) {
      rt.counts.pending += rule.count(AlertState::Pending);
      rt.counts.firing += rule.count(AlertState::Firing);
      rt.counts.flapping += rule.count_flapping();
    }
    for (const auto& hb : rt.group.heartbeats()) {
      rt.counts.pending += hb.count(AlertState::Pending);
      rt.counts.firing += hb.count(AlertState::Firing);
      hb.for_each_member([&](const HeartbeatMember& m) { (m.up ? rt.counts.members_up : rt.counts.members_missing)++; });
    }
  }

  // Sums the per-group counts; `recount_all` after changes outside a round (restore, reload).
  void update_alert_gauges(bool recount_all = false) {
    GroupCounts total;
    for (const auto& rt : groups_) {
      if (recount_all) count_group(*rt);
      total.pending += rt->counts.pending;
      total.firing += rt->counts.firing;
      total.flapping += rt->counts.flapping;
      total.members_up += rt->counts.members_up;
      total.members_missing += rt->counts.members_missing;
    }
    metrics_.set_alerts("pending", total.pending);
    metrics_.set_alerts("firing", total.firing);
    metrics_.set_alerts_flapping(total.flapping);
    metrics_.set_heartbeat_members("up", total.members_up);
    metrics_.set_heartbeat_members("missing", total.members_missing);
  }

  std::size_t rule_count() const {
    std::size_t n = 0;
    for (const auto& rt : groups_) n += rt->group.rule_count();
    return n;
  }

  // ---- wall clock steps ----

  // Every alert time is on the wall clock's timeline (it is what the datasource, Alertmanager
  // and users see). When that clock is stepped, everything stored moves with it, so a pending
  // `for` counts the time that really passed: a jump ahead fires nothing early, a jump back
  // neither delays anything by the step nor makes a duration negative. Silences are left alone:
  // their start and end are wall-clock instants a person chose. Checked before each slot and
  // each dispatch, the two places that act on stored times.
  void follow_clock_steps() {
    Duration step = clock_watch_.observe(now(), boot_clock());
    if (step == Duration::zero()) return;
    spdlog::warn("the system clock was stepped {} by {}; alert, notification and schedule times move with it",
                 step > Duration::zero() ? "forward" : "back", format_duration(step > Duration::zero() ? step : -step));
    metrics_.clock_step();
    auto shift = [step](TimePoint& t) {
      if (t != TimePoint{}) t += step;
    };
    for (auto& rt : groups_) {
      rt->group.shift_clock(step);
      shift(rt->first_slot);
      shift(rt->previous_slot);
      shift(rt->round_slot);  // a round in flight finishes on the new timeline
      rt->last_full_save = TimePoint{};  // the next round writes every alert with its new times
    }
    if (dispatcher_) {
      DispatcherState state = dispatcher_->export_state();
      for (auto& entry : state.log) shift(entry.timestamp);
      for (auto& group : state.groups) {
        shift(group.next_flush);
        for (auto& alert : group.alerts) {
          AlertEvent shifted = *alert;  // exported alerts are shared and immutable: replace them
          shift(shifted.starts_at);
          shift(shifted.ends_at);
          alert = std::make_shared<const AlertEvent>(std::move(shifted));
        }
      }
      dispatcher_->import_state(state, now());
    }
    mute_->inhibitor().shift_clock(step);
    shift(started_at_);
    shift(last_query_success_);
    shift(datasource_down_since_);
    shift(datasource_down_sent_at_);
    schedule_state_save();
  }

  // ---- notifications ----

  // The inhibitor keeps only the alerts that some inhibit rule can use as a source, and learns
  // of alerts from the events delivered: when its rules are (re)set (start-up with restored
  // alerts, reload) it must be told every firing alert again. Nothing to do without rules.
  void observe_firing_alerts() {
    Inhibitor& inhibitor = mute_->inhibitor();
    if (inhibitor.rule_count() == 0) return;
    for_each_firing_alert([&](const RuleGroup&, const std::string&, const Alert& a) {
      inhibitor.observe(with_external_labels(a.labels));
    });
    if (datasource_down_) inhibitor.observe(datasource_down_event(TimePoint{}).labels);
  }

  void deliver_events(std::vector<AlertEvent> events) {
    for (const auto& e : events) mute_->inhibitor().observe(e.labels, e.ends_at);
    if (!dispatcher_) return;
    dispatcher_->receive(std::move(events), now());  // shared by the dispatcher, not copied
    schedule_state_save();
    run_dispatch();
  }

  // A message is committed to the outbox before it is sent (at-least-once): the store commits
  // batches in order, so submitting in the commit's callback sends nothing unrecorded.
  void run_dispatch() {
    if (!dispatcher_ || stopping_) return;
    // A standby's groups receive every alert but do not flush: their timers would fire for
    // nothing, and a flush would drop resolved alerts the leader may not have reported yet.
    if (!may_notify()) return;
    follow_clock_steps();
    mute_->inhibitor().gc(now());
    std::vector<Notification> due = dispatcher_->collect_due(now());
    if (!due.empty()) {
      if (store_) {
        schedule_state_save();
        StoreBatch batch;
        for (const auto& n : due) batch.put_outbox(n);
        store_->commit(std::move(batch), [this, due = std::move(due)](const StoreResult&) mutable {
          for (auto& n : due) delivery_->submit(std::move(n));
          metrics_.set_notification_queue_length(delivery_->queue_length());
        });
      } else {
        for (auto& n : due) delivery_->submit(std::move(n));
      }
    }
    metrics_.set_notification_queue_length(delivery_->queue_length());
    schedule_dispatch();
  }

  void schedule_dispatch() {
    if (!dispatcher_) return;
    auto wakeup = dispatcher_->next_wakeup();
    if (!wakeup) return;
    dispatch_timer_.expires_after(std::max(*wakeup - now(), Duration::zero()));
    dispatch_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) run_dispatch();
    });
  }

  void on_delivery_report(const DeliveryReport& r) {
    metrics_.notification(r.receiver, r.result);
    metrics_.observe_notification_latency(r.receiver, to_seconds(r.latency));
    metrics_.set_notification_queue_length(delivery_->queue_length());
    if (r.result == "success" && dispatcher_ && r.notification) dispatcher_->record_delivered(*r.notification, now());
    if (store_ && r.notification && r.result != "retry") {
      outbox_removals_.emplace_back(r.receiver, r.group_key, r.notification->created_at);
      schedule_state_save();
    }
    if (r.result == "success") {
      spdlog::info("notification for {} delivered to {} ({} attempts)", r.group_key, r.receiver, r.attempts);
    } else if (r.result == "retry") {
      spdlog::warn("notification for {} to {}: attempt {} failed, retrying: {}", r.group_key, r.receiver, r.attempts,
                   r.reason);
    } else {
      spdlog::error("notification for {} to {} {}: {}", r.group_key, r.receiver, r.result, r.reason);
    }
  }

  // ---- high availability (promwatch/cluster.hpp) ----

  // The one question every sender asks: without [cluster] always yes; with it, while leader or
  // while etcd has been unreachable for fail_open_after.
  bool may_notify() const {
    if (!compiled_.config.cluster) return true;
    return cluster_ && cluster_->may_notify();  // not before the cluster has started
  }

  void start_cluster() {
    if (!compiled_.config.cluster) return;
    ClusterHooks hooks;
    hooks.on_notify_change = [this](bool may) { on_may_notify_change(may); };
    hooks.on_log_entries = [this](std::vector<NotificationLogEntry> entries) { on_peer_log_entries(std::move(entries)); };
    hooks.on_silences = [this](std::vector<std::string> silences) { on_peer_silences(silences); };
    cluster_ = std::make_unique<Cluster>(io_, http_, *compiled_.config.cluster, std::move(hooks), metrics_.registry());
    replication_ = std::make_unique<Replication>(*cluster_);
    replication_->hold_undelivered(std::move(held_outbox_));
    cluster_->start();
  }

  static bool same_cluster(const std::optional<ClusterConfig>& a, const std::optional<ClusterConfig>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->etcd_endpoints == b->etcd_endpoints && a->name == b->name && a->member == b->member &&
           a->lease_ttl == b->lease_ttl && a->fail_open_after == b->fail_open_after;
  }

  void on_may_notify_change(bool may) {
    if (stopping_) return;
    if (!may) {
      dispatch_timer_.cancel();
      spdlog::info("standby: notifications, forwarding and the dead man's switch are the leader's");
      return;
    }
    std::vector<AlertEvent> resolved = replication_->on_may_notify(dispatcher_.get(), outbox_removals_);
    if (dispatcher_ && !resolved.empty()) dispatcher_->receive(std::move(resolved), now());
    schedule_state_save();
    run_dispatch();
  }

  void on_peer_log_entries(std::vector<NotificationLogEntry> entries) {
    if (dispatcher_ && Replication::merge_log(*dispatcher_, std::move(entries), !may_notify(), now())) {
      schedule_state_save();
    }
  }

  void on_peer_silences(const std::vector<std::string>& records) {
    StoreBatch batch;
    for (const auto& s : Replication::merge_silences(mute_->silences(), records, now())) {
      batch.put_silence(StoredSilence{s.id, to_json(s), s.ends_at});
    }
    if (store_ && !batch.empty()) store_->commit(std::move(batch));
  }

  // ---- reload ----

  // Reading and compiling 10,000 rules takes a few hundred milliseconds: that happens on a
  // thread of its own, and only the swap (apply) runs on the event loop. Reloads asked for while
  // one is compiling are served together by one more compile once it ends, so a burst of
  // SIGHUPs ends on the file as it was after the last one.
  void reload(std::function<void(const std::string& errors)> done) override {
    reload_waiters_.push_back(std::move(done));
    if (reload_compiling_) {
      reload_again_ = true;
      return;
    }
    start_reload();
  }

  void start_reload() {
    reload_compiling_ = true;
    reload_again_ = false;
    notify_systemd("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec());
    if (reload_thread_.joinable()) reload_thread_.join();  // the previous one has posted its result
    const auto started = std::chrono::steady_clock::now();
    reload_thread_ = std::thread([this, path = config_path_, started] {
      auto result = std::make_shared<CompileResult>(compile_config(path));
      const auto compiled_at = std::chrono::steady_clock::now();
      asio::post(io_, [this, result, started, compiled_at] { finish_reload(std::move(*result), started, compiled_at); });
    });
  }

  void finish_reload(CompileResult result, std::chrono::steady_clock::time_point started,
                     std::chrono::steady_clock::time_point compiled_at) {
    reload_compiling_ = false;
    if (stopping_) return;
    std::vector<std::function<void(const std::string&)>> waiters;
    waiters.swap(reload_waiters_);
    if (reload_again_) {
      // The files changed again while this compile ran: only the next one counts, and it answers
      // every waiter.
      reload_waiters_ = std::move(waiters);
      start_reload();
      return;
    }
    for (const auto& w : result.warnings) spdlog::warn("{}", w.to_string());
    std::string errors;
    for (const auto& e : result.errors) errors += e.to_string() + "\n";
    if (!result.compiled) {
      spdlog::error("reload failed, keeping the running configuration:\n{}", errors);
      metrics_.config_reload(false, to_unix_seconds(now()));
      if (errors.empty()) errors = "reload failed\n";
    } else {
      const auto applying = std::chrono::steady_clock::now();
      apply(std::move(*result.compiled));
      metrics_.config_reload(true, to_unix_seconds(now()));
      spdlog::info("configuration reloaded: {} rule groups, {} rules (read and compiled in {} ms on the reload thread, "
                   "event loop held for {} ms)",
                   groups_.size(), rule_count(), milliseconds_between(started, compiled_at),
                   milliseconds_since(applying));
      errors.clear();
    }
    notify_systemd("READY=1");
    for (const auto& done : waiters) {
      if (done) done(errors);
    }
  }

  void apply(CompiledConfig next) {
    const Config& old_config = compiled_.config;
    // Keys bound at start keep their running value.
    if (next.config.server.listen != old_config.server.listen) {
      spdlog::warn("server.listen changed; it takes effect at the next restart");
      next.config.server.listen = old_config.server.listen;
    }
    if (!same_cluster(next.config.cluster, old_config.cluster)) {
      spdlog::warn("[cluster] changed; it takes effect at the next restart");
      next.config.cluster = old_config.cluster;
    }
    if (next.config.global.state_dir != old_config.global.state_dir) {
      spdlog::warn("global.state_dir changed; it takes effect at the next restart");
      next.config.global.state_dir = old_config.global.state_dir;
    }
    TimePoint t = now();
    std::map<std::string, std::shared_ptr<GroupRuntime>> old_by_name;
    std::set<std::pair<std::string, std::string>> old_rule_keys;
    std::set<std::pair<std::string, std::string>> old_heartbeats;
    for (auto& rt : groups_) {
      old_by_name[rt->group.name()] = rt;
      for (const auto& key : rt->group.rule_keys()) old_rule_keys.insert({rt->group.name(), key});
      for (const auto& hb : rt->group.heartbeats()) old_heartbeats.insert({rt->group.name(), hb.name()});
    }

    std::vector<AlertEvent> resolved;
    std::vector<std::shared_ptr<GroupRuntime>> retired_groups;
    std::vector<std::shared_ptr<GroupRuntime>> next_groups;
    std::set<std::string, std::less<>> names;
    std::vector<RuleGroup> groups = std::move(next.groups);
    next.groups.clear();

    std::set<std::string> old_receivers;
    for (const auto& r : old_config.receivers) old_receivers.insert(r.name);
    compiled_ = std::move(next);
    mute_->reload(compiled_.config);
    observe_firing_alerts();  // the new inhibit rules' sources may be alerts it did not keep
    install_config_parts();
    for (const auto& r : compiled_.config.receivers) old_receivers.erase(r.name);
    for (const auto& name : old_receivers) metrics_.remove_receiver(name);
    StoreBatch stale;
    for (const auto& name : old_receivers) stale.clear_outbox_receiver(name);

    for (auto& group : groups) {
      names.insert(group.name());
      auto it = old_by_name.find(group.name());
      std::shared_ptr<GroupRuntime> rt;
      if (it != old_by_name.end()) {
        auto& old = it->second;
        std::vector<std::size_t> dropped_heartbeats;
        std::vector<std::size_t> dropped = group.take_state_from(old->group, &dropped_heartbeats);
        for (std::size_t index : dropped) collect_resolved(old->group, old->group.rules()[index], t, resolved);
        for (std::size_t index : dropped_heartbeats) {
          collect_resolved(old->group, old->group.heartbeats()[index], t, resolved);
        }
        rt = std::make_shared<GroupRuntime>(std::move(group), io_);
        rt->previous_slot = old->previous_slot;
        rt->evaluated_once = old->evaluated_once;
        rt->first_slot = old->first_slot;
        // Rule indices change with the files: alerts the store has not been given yet are
        // written by a full save at the group's next round.
        rt->last_full_save = old->unsaved_slot ? TimePoint{} : old->last_full_save;
        retired_groups.push_back(old);
        retire(old);
        old_by_name.erase(it);
        metrics_.set_group_rules(rt->group.name(), rt->group.rules().size() + rt->group.recording_rules().size());
        TimePoint next_slot = rt->group.next_evaluation(t);
        schedule(rt, next_slot);
      } else {
        rt = start_group(std::move(group));
      }
      next_groups.push_back(std::move(rt));
    }
    // Groups that are gone: their firing alerts resolve, and are notified.
    for (auto& [name, old] : old_by_name) {
      for (auto& rule : old->group.rules()) collect_resolved(old->group, rule, t, resolved);
      for (auto& rule : old->group.heartbeats()) collect_resolved(old->group, rule, t, resolved);
      retired_groups.push_back(old);
      retire(old);
    }
    // What the removed rules and groups wrote ends now (as Prometheus marks a removed group's
    // series stale); what the kept rules wrote moved into the new groups above.
    for (const auto& old : retired_groups) write_samples(old->group.release_series(old->group.query_time(t)));
    groups_ = std::move(next_groups);
    // Stored state of rules, heartbeats and groups that the new files no longer have.
    for (const auto& rt : groups_) {
      for (const auto& key : rt->group.rule_keys()) old_rule_keys.erase({rt->group.name(), key});
      for (const auto& hb : rt->group.heartbeats()) old_heartbeats.erase({rt->group.name(), hb.name()});
    }
    for (const auto& [group, key] : old_rule_keys) stale.delete_rule(group, key);
    for (const auto& [group, name] : old_heartbeats) stale.delete_heartbeat(group, name);
    for (const auto& [name, rt] : old_by_name) stale.delete_group(name);
    // Rules keep their alerts under the same (group, key) they are stored under, and new rules
    // have none: the stored alerts are current. Heartbeats and slots are written now; the
    // dispatcher with the next coalesced save (a restart re-routes saved groups anyway).
    add_heartbeats_and_slots(stale);
    if (store_ && !stale.empty()) store_->commit(std::move(stale));
    schedule_state_save();
    metrics_.retain_groups(names);
    start_deadman();
    if (server_) {
      const auto& auth = compiled_.config.server.basic_auth;
      server_->set_basic_auth(auth ? std::optional<ServerBasicAuth>(ServerBasicAuth{auth->username, auth->password})
                                   : std::nullopt);
    }
    update_alert_gauges(/*recount_all=*/true);
    if (!resolved.empty()) {
      deliver_events(std::move(resolved));
    } else {
      run_dispatch();
    }
  }

  template <typename Rule>
  void collect_resolved(const RuleGroup& group, Rule& rule, TimePoint t, std::vector<AlertEvent>& out) {
    for (const auto& transition : rule.resolve_all(t)) {
      if (transition.notifies()) out.push_back(to_event(group, rule.name(), transition));
    }
  }

  static void retire(const std::shared_ptr<GroupRuntime>& rt) {
    rt->retired = true;
    rt->timer.cancel();
  }

  // ---- signals, systemd, shutdown ----

  void wait_for_signals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", config_path_);
        reload(nullptr);
        wait_for_signals();
        return;
      }
      spdlog::info("{}: shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
      shutdown();
    });
  }

  void start_watchdog() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    ping_watchdog();
  }

  // Sent from a timer on the event loop, so a stuck loop stops the pings and systemd restarts us.
  void ping_watchdog() {
    notify_systemd("WATCHDOG=1");
    watchdog_timer_.expires_after(watchdog_interval_);
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) ping_watchdog();
    });
  }

  void shutdown() {
    if (stopping_) return;
    stopping_ = true;
    notify_systemd("STOPPING=1");
    for (auto& rt : groups_) rt->timer.cancel();
    dispatch_timer_.cancel();
    watchdog_timer_.cancel();
    deadman_timer_.cancel();
    signals_.cancel();
    history_prune_timer_.cancel();
    state_save_timer_.cancel();
    // The loop stops once deliveries in flight have finished (or shutdown_grace passed) and,
    // with a cluster, etcd has been told: resigning first lets a peer take over at once.
    auto parts_left = std::make_shared<int>(1 + (cluster_ ? 1 : 0) + (remote_writer_ ? 1 : 0));
    auto part_done = [this, parts_left] {
      if (--*parts_left > 0) return;
      if (server_) server_->stop();
      forwarder_.reset();
      datasource_.reset();
      save_everything();
      if (store_) store_->flush();
      io_.stop();
    };
    if (cluster_) cluster_->stop(part_done);
    if (remote_writer_) remote_writer_->stop(compiled_.config.notify.shutdown_grace, part_done);
    delivery_->shutdown(part_done);
  }

  bool ready() const override {
    TimePoint t = now();
    for (const auto& rt : groups_) {
      if (!rt->evaluated_once && rt->first_slot <= t) return false;
    }
    return true;
  }

  // ---- what the HTTP interface reads (DaemonView) ----

  Labels with_external_labels(Labels labels) const {
    labels.add_missing(compiled_.config.global.external_labels);
    return labels;
  }

  template <typename Fn>
  void for_each_firing_alert(Fn fn) const {
    for (const auto& rt : groups_) {
      auto visit = [&](const auto& rule) {
        rule.for_each_alert([&](const Alert& a) {
          if (a.state == AlertState::Firing) fn(rt->group, rule.name(), a);
        });
      };
      for (const auto& rule : rt->group.rules()) visit(rule);
      for (const auto& hb : rt->group.heartbeats()) visit(hb);
    }
  }

  std::optional<MuteStatus> mute_status(const Alert& alert) const override {
    return mute_->status(with_external_labels(alert.labels), now());
  }

  std::optional<std::vector<SilenceView>> silences() const override {
    std::vector<SilenceView> out;
    TimePoint t = now();
    for (const Silence* s : mute_->silences().list()) {
      SilenceView v;
      v.id = s->id;
      std::string matchers;
      for (const auto& m : s->matchers) matchers += (matchers.empty() ? "" : ", ") + m.to_string();
      v.matchers = "{" + matchers + "}";
      v.state = std::string(to_string(s->state(t)));
      v.starts_at = s->starts_at;
      v.ends_at = s->ends_at;
      v.created_by = s->created_by;
      v.comment = s->comment;
      v.from_config = mute_->silences().is_static(s->id);
      out.push_back(std::move(v));
    }
    return out;
  }

  ServerResponse alertmanager_api(const ServerRequest& request) override {
    TimePoint t = now();
    auto answer = [this](ApiResponse r) {
      // Runtime silences are committed in order before any later write, like everything else.
      if (store_ && !r.changed.empty()) {
        StoreBatch batch;
        for (const auto& s : r.changed) batch.put_silence(StoredSilence{s.id, to_json(s), s.ends_at});
        store_->commit(std::move(batch));
      }
      if (cluster_) {
        for (const auto& s : r.changed) cluster_->publish_silence(s.id, to_json(s));
      }
      ServerResponse out;
      out.status = r.status;
      out.content_type = "application/json";
      out.body = std::move(r.body);
      return out;
    };
    const std::string& path = request.path;
    const std::string& method = request.method;
    if ((method == "POST" || method == "DELETE") && !compiled_.config.server.enable_silence_api) {
      return ServerResponse::text(403, "the silence API is disabled (server.enable_silence_api = false)\n");
    }
    if (path == "/api/v2/silences") {
      if (method == "GET") return answer(api_get_silences(mute_->silences(), request.query_params("filter"), t));
      if (method == "POST") return answer(api_post_silences(mute_->silences(), request.body, t));
      return ServerResponse::text(405, "method not allowed\n");
    }
    constexpr std::string_view kSilencePath = "/api/v2/silence/";
    if (path.rfind(kSilencePath, 0) == 0) {
      std::string id = path.substr(kSilencePath.size());
      if (method == "GET") return answer(api_get_silence(mute_->silences(), id, t));
      if (method == "DELETE") return answer(api_delete_silence(mute_->silences(), id, t));
      return ServerResponse::text(405, "method not allowed\n");
    }
    if (path == "/api/v2/alerts" && method == "GET") {
      std::vector<ApiAlert> alerts;
      for_each_firing_alert([&](const RuleGroup& group, const std::string& rule_name, const Alert& a) {
        ApiAlert api;
        api.labels = with_external_labels(a.labels);
        api.annotations = a.annotations;
        api.starts_at = a.fired_at;
        // Alertmanager always has an end: the "valid until" Prometheus would send.
        api.ends_at = group.last_evaluation() + 4 * std::max(group.interval(), Duration(std::chrono::minutes(1)));
        api.updated_at = group.last_evaluation();
        api.generator_url = generator_url(group, rule_name, a.labels);
        if (dispatcher_) {
          for (const auto& match : dispatcher_->route(api.labels)) api.receivers.push_back(match.receiver);
        }
        MuteStatus status = mute_->status(api.labels, t);
        api.silenced_by = std::move(status.silenced_by);
        api.inhibited_by = std::move(status.inhibited_by);
        alerts.push_back(std::move(api));
      });
      return answer(api_get_alerts(alerts, request.query, t));
    }
    return ServerResponse::text(404, "not found\n");
  }

  bool recent_history(TimePoint since, std::size_t limit,
                      std::function<void(std::optional<std::vector<HistoryEntry>>)> done) override {
    if (!store_) return false;
    HistoryFilter filter;
    filter.since = since;
    filter.limit = limit;
    store_->query_history(std::move(filter), [done = std::move(done)](HistoryResult result) {
      if (!result.ok) return done(std::nullopt);
      done(std::move(result.entries));
    });
    return true;
  }

  ServerResponse alert_history(const ServerRequest& request) override {
    auto bad = [](const std::string& message) {
      return ServerResponse::json(400, nlohmann::json{{"status", "error"}, {"errorType", "bad_data"}, {"error", message}}.dump());
    };
    if (!store_) {
      return ServerResponse::json(503, nlohmann::json{{"status", "error"}, {"errorType", "unavailable"},
                                                      {"error", "no state store: history is not kept"}}.dump());
    }
    HistoryFilter filter;
    if (const auto* v = request.query_param("alertname")) filter.alertname = *v;
    if (const auto* v = request.query_param("group")) filter.group = *v;
    if (const auto* v = request.query_param("fingerprint")) {
      char* end = nullptr;
      std::uint64_t fp = std::strtoull(v->c_str(), &end, 16);
      if (v->empty() || *end != '\0') return bad("invalid fingerprint \"" + *v + "\"");
      filter.fingerprint = fp;
    }
    for (const auto& selector : request.query_params("match[]")) {
      std::string error;
      auto matchers = parse_selector(selector, &error);
      if (!matchers) return bad("invalid match[] \"" + selector + "\": " + error);
      filter.matchers.insert(filter.matchers.end(), matchers->begin(), matchers->end());
    }
    for (const char* key : {"since", "until"}) {
      if (const auto* v = request.query_param(key)) {
        auto t = parse_time(*v);
        if (!t) return bad(std::string("invalid ") + key + " \"" + *v + "\"");
        (std::string_view(key) == "since" ? filter.since : filter.until) = *t;
      }
    }
    if (const auto* v = request.query_param("limit")) {
      char* end = nullptr;
      unsigned long long n = std::strtoull(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || n == 0 || n > 10000) return bad("limit must be 1..10000");
      filter.limit = static_cast<std::size_t>(n);
    }
    HistoryResult result = store_->history(filter);
    if (!result.ok) {
      return ServerResponse::json(500, nlohmann::json{{"status", "error"}, {"errorType", "internal"}, {"error", result.error}}.dump());
    }
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& e : result.entries) {
      nlohmann::ordered_json row;
      row["at"] = format_rfc3339(e.at);
      row["group"] = e.group;
      row["rule"] = e.rule;
      row["fingerprint"] = fingerprint_hex(e.fingerprint);
      nlohmann::ordered_json labels = nlohmann::ordered_json::object();
      for (const auto& l : e.labels) labels[l.name] = l.value;
      row["labels"] = std::move(labels);
      row["from"] = std::string(to_string(e.from));
      row["to"] = std::string(to_string(e.to));
      row["value"] = format_go_float(e.value, 'e');
      rows.push_back(std::move(row));
    }
    nlohmann::ordered_json out;
    out["status"] = "success";
    out["data"]["history"] = std::move(rows);
    return ServerResponse::json(200, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  std::vector<const RuleGroup*> rule_groups() const override {
    std::vector<const RuleGroup*> out;
    out.reserve(groups_.size());
    for (const auto& rt : groups_) out.push_back(&rt->group);
    return out;
  }
  bool datasource_up() const override { return !datasource_down_; }
  std::optional<ClusterStatus> cluster_status() const override {
    if (!cluster_) return std::nullopt;
    return cluster_->status();
  }
  std::optional<RemoteWriteStatus> remote_write_status() const override {
    if (!remote_writer_) return std::nullopt;
    return remote_writer_->status();
  }
  const Config& config() const override { return compiled_.config; }
  std::string metrics_text() const override { return metrics_.serialize(); }
  TimePoint started_at() const override { return started_at_; }

  std::chrono::steady_clock::time_point launched_;  // process start, for the start-up time
  std::string config_path_;
  CompiledConfig compiled_;
  asio::io_context io_;
  HttpClient http_;
  Metrics metrics_;
  std::shared_ptr<Datasource> datasource_;
  std::unique_ptr<Delivery> delivery_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<AlertmanagerForwarder> forwarder_;
  std::unique_ptr<HttpServer> server_;
  // After http_ (destroyed before it). Null without [cluster]: then this replica always notifies.
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Replication> replication_;  // with cluster_: the daemon's half of HA
  // After http_ and metrics_ (destroyed before them). Null without [remote_write]. A round's
  // samples (recording rules, ALERTS, stale markers) go to remote_writer_->enqueue.
  std::unique_ptr<RemoteWriter> remote_writer_;
  std::vector<Notification> held_outbox_;  // restored before the cluster starts; handed to replication_
  std::vector<std::shared_ptr<GroupRuntime>> groups_;
  asio::signal_set signals_;
  asio::steady_timer dispatch_timer_;  // monotonic, as the group timers
  asio::steady_timer watchdog_timer_;
  std::chrono::microseconds watchdog_interval_{0};
  Duration resend_delay_ = Duration::max();
  TimePoint started_at_;
  asio::steady_timer deadman_timer_;
  asio::steady_timer history_prune_timer_{io_};
  asio::steady_timer state_save_timer_{io_};
  bool state_save_pending_ = false;
  std::vector<std::tuple<std::string, std::string, TimePoint>> outbox_removals_;
  // Declared after io_ so it is destroyed (its worker joined) before the io_context.
  std::unique_ptr<Store> store_;
  prometheus::Gauge* store_healthy_ = nullptr;
  // Never moved: the dispatcher's mute hooks point into it. A reload updates it in place.
  std::unique_ptr<MuteState> mute_;
  int failed_rounds_ = 0;
  bool datasource_down_ = false;
  mutable SharedText last_generator_url_;  // see shared_generator_url
  TimePoint datasource_down_since_{};
  TimePoint datasource_down_sent_at_{};
  TimePoint last_query_success_{};
  std::string last_query_error_;
  WallClockWatch clock_watch_;
  // Reload (see `reload`): the thread that compiles, and who waits for its outcome.
  std::thread reload_thread_;
  bool reload_compiling_ = false;
  bool reload_again_ = false;
  std::vector<std::function<void(const std::string&)>> reload_waiters_;
  bool stopping_ = false;
};

}  // namespace

int run_daemon(const std::string& config_path) {
  const auto launched = std::chrono::steady_clock::now();
  CompileResult result = compile_config(config_path);
  for (const auto& w : result.warnings) spdlog::warn("{}", w.to_string());
  if (!result.compiled) {
    for (const auto& e : result.errors) spdlog::error("{}", e.to_string());
    return kExitInvalidInput;
  }
  try {
    Daemon daemon(config_path, std::move(*result.compiled), launched);
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return kExitRuntimeFailure;
  }
}

}  // namespace promwatch
