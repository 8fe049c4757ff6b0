#pragma once
/// \file
/// promwatch's own metrics (SPEC §7): a prometheus-cpp registry holding every `promwatch_*`
/// family, typed accessors for the components that update them, and the Prometheus text
/// exposition served on `GET /metrics`, including the `process_*` metrics read from /proc/self
/// at scrape time (prometheus-cpp has no process collector).
///
/// Label values are bounded by configuration (group, receiver names) or by small fixed sets
/// (alert state, HTTP status code, result); no label ever takes a per-alert value.
///
/// Thread safety: every member function may be called from any thread (an internal mutex
/// guards the per-label caches; the metric values themselves are atomic). In practice the
/// event-loop thread does all updates.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
}

namespace promwatch {

/// Values read from /proc/self for the `process_*` metrics. Fields that could not be read are
/// negative.
struct ProcessStats {
  double cpu_seconds = -1;            ///< user + system CPU time
  double resident_memory_bytes = -1;
  double virtual_memory_bytes = -1;
  double start_time_seconds = -1;     ///< Unix time the process started
  double open_fds = -1;
  double max_fds = -1;                ///< soft RLIMIT_NOFILE
};

/// Reads /proc/self/{stat,limits,fd} and /proc/stat. Never throws.
ProcessStats read_process_stats();

/// Owns the registry and every family of SPEC §7. One instance per daemon, created at start-up
/// and kept across reloads (so counters keep counting).
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // ---- build ----
  /// `promwatch_build_info{version,revision,compiler} 1`. Replaces an earlier value.
  void set_build_info(std::string_view version, std::string_view revision = "",
                      std::string_view compiler = "");

  // ---- rule groups (label `group`) ----
  /// `promwatch_rule_evaluations_total{group}` += 1 (one per rule evaluated).
  void rule_evaluation(std::string_view group);
  /// `promwatch_rule_evaluation_failures_total{group}` += 1.
  void rule_evaluation_failure(std::string_view group);
  /// `promwatch_rule_evaluation_duration_seconds{group}` histogram.
  void observe_rule_evaluation_duration(std::string_view group, double seconds);
  /// `promwatch_group_iterations_missed_total{group}` += n.
  void group_iterations_missed(std::string_view group, std::uint64_t n = 1);
  /// `promwatch_group_evaluation_start_delay_seconds` (histogram, all groups): how late a
  /// round started after its slot — the scheduler's jitter.
  void observe_evaluation_start_delay(double seconds);
  /// `promwatch_clock_steps_total` += 1: the wall clock was stepped (see `WallClockWatch`).
  void clock_step();
  /// `promwatch_group_iterations_total{group}` += 1 (one per group round).
  void group_iteration(std::string_view group);
  /// `promwatch_group_last_evaluation_timestamp_seconds{group}`.
  void set_group_last_evaluation(std::string_view group, double unix_seconds);
  /// `promwatch_group_last_duration_seconds{group}`.
  void set_group_last_duration(std::string_view group, double seconds);
  /// `promwatch_group_rules{group}`.
  void set_group_rules(std::string_view group, std::uint64_t n);
  /// Removes every series labelled with `group` (the group disappeared on reload).
  void remove_group(std::string_view group);
  /// Removes the series of every group not in `groups` (call after a reload).
  void retain_groups(const std::set<std::string, std::less<>>& groups);

  // ---- alerts ----
  /// `promwatch_alerts{state}`; state is "pending" or "firing" (both exported from the start).
  void set_alerts(std::string_view state, std::uint64_t n);
  /// `promwatch_alerts_flapping`: alerts flap detection marks flapping now (no labels: one
  /// series however many alerts flap).
  void set_alerts_flapping(std::uint64_t n);

  // ---- datasource ----
  /// `promwatch_datasource_requests_total{code}` += 1 and observes
  /// `promwatch_datasource_request_duration_seconds`. `code` is the HTTP status ("200",
  /// "503") or "error" for transport failures (connect, timeout, TLS, body too large).
  void datasource_request(std::string_view code, double seconds);
  /// `promwatch_datasource_up` 1/0.
  void set_datasource_up(bool up);

  // ---- notifications (label `receiver` = configured receiver name) ----
  /// `promwatch_notifications_total{receiver,result}` += 1. `result` is a small fixed set
  /// chosen by the caller: "success", "failure" (permanent), "retry", "dropped".
  void notification(std::string_view receiver, std::string_view result);
  /// `promwatch_notification_latency_seconds{receiver}` histogram (one delivery attempt).
  void observe_notification_latency(std::string_view receiver, double seconds);
  /// `promwatch_notification_queue_length` (messages waiting or in flight).
  void set_notification_queue_length(std::uint64_t n);
  /// Removes every series labelled with `receiver` (the receiver disappeared on reload).
  void remove_receiver(std::string_view receiver);

  // ---- heartbeats ----
  /// `promwatch_heartbeat_members{state}`; state e.g. "up", "missing", "firing".
  void set_heartbeat_members(std::string_view state, std::uint64_t n);

  // ---- config ----
  /// `promwatch_config_last_reload_successful` = success; on success also
  /// `promwatch_config_last_reload_success_timestamp_seconds` = unix_seconds;
  /// `promwatch_config_reloads_total{result="success"|"failure"}` += 1.
  void config_reload(bool success, double unix_seconds);

  /// Prometheus text exposition format 0.0.4: the registry, then the `process_*` metrics.
  /// Content type: `text/plain; version=0.0.4; charset=utf-8`.
  std::string serialize() const;
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  /// The underlying registry, for components that want to register families of their own.
  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promwatch
