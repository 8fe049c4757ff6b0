#pragma once
/// \file
/// `promwatch backtest` (SPEC §1): what a rule would have done over a past time range. The
/// rule's query results at the slots the daemon would have evaluated go through the real
/// state machine (`AlertingRule`) and the real dispatcher (`Dispatcher`: route, grouping,
/// group_wait / group_interval / repeat_interval, time intervals, static silences, inhibition)
/// on a virtual clock, and every notification the dispatcher would have sent is collected
/// instead of delivered.
///
/// `Backtest` is pure logic: outcomes and times go in, a `BacktestReport` comes out; no I/O, no
/// clock reads. The command (`run_backtest` in promwatch/app.hpp) fetches the outcomes with
/// range queries and prints the report.
///
/// Thread: plain single-threaded values. Errors: a failed evaluation (query error, duplicate
/// label sets, limit) leaves the alerts as they were, as in the daemon, and is counted in the
/// report; nothing throws after construction.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "promwatch/config.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/query.hpp"
#include "promwatch/rules.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

/// The state an alert entered, as the backtest reports it (SPEC §1's JSON `state`).
enum class BacktestState { Pending, Firing, Inactive, Flapping };
/// "pending" | "firing" | "inactive" | "flapping".
std::string_view to_string(BacktestState state);

struct BacktestTransition {
  TimePoint at{};  ///< the evaluation (slot) time at which the state was entered
  BacktestState state = BacktestState::Inactive;
  bool resolved = false;  ///< Inactive after firing (notified), not a pending alert dropped
  /// Flapping ended: the alert was stable for `flap_window` and is notified in this state again
  /// (not a change of state).
  bool flap_end = false;
};

/// One alert of the rule over the range: its labels (without external labels, as the alert APIs
/// show them) and every state it entered, in time order.
struct BacktestAlert {
  Labels labels;
  std::vector<BacktestTransition> transitions;
};

struct BacktestNotifiedAlert {
  Labels labels;  ///< as the receiver gets them (with external labels)
  bool resolved = false;
};

/// One message the dispatcher would have handed to delivery.
struct BacktestNotification {
  TimePoint at{};  ///< the flush time on the virtual clock
  std::string receiver;
  std::string group_key;
  Labels group_labels;
  bool resolved = false;  ///< the notification's status: resolved when no listed alert fires
  std::vector<BacktestNotifiedAlert> alerts;
};

struct BacktestReport {
  std::string rule;   ///< the alert name
  std::string group;  ///< its group
  std::vector<std::string> exprs;  ///< the query of each rule replayed (several rules may share a name)
  TimePoint from{};   ///< the range asked for
  TimePoint to{};
  Duration step{0};   ///< the group interval
  std::size_t evaluations = 0;         ///< slots evaluated (per rule)
  std::size_t failed_evaluations = 0;  ///< of all rules' evaluations, those that failed
  std::string first_error;             ///< the first failure's reason, with its time
  bool routed = true;                  ///< false: the config has no [route], nothing is notified
  std::vector<BacktestAlert> alerts;   ///< sorted by labels
  std::vector<BacktestNotification> notifications;  ///< in time order
  /// Time spent firing, summed over alerts, until `to` for alerts still firing then.
  Duration firing{0};
};

/// A backtest in progress. Holds copies of the rules (their alerts cleared) and its own
/// dispatcher and mute state built from `config`; nothing is shared with a running daemon.
class Backtest {
 public:
  /// Replays `rules` (alerting rules of `group`, usually one: several when the group has more
  /// rules with the same name) with routing, receivers, inhibit rules, static silences and time
  /// intervals of `config`, over the range [from, to] (reported as given). Throws
  /// std::invalid_argument when a time interval's zone cannot be loaded (as the daemon's
  /// start-up does).
  Backtest(const Config& config, const RuleGroup& group, const std::vector<const AlertingRule*>& rules,
           TimePoint from, TimePoint to);
  ~Backtest();
  Backtest(const Backtest&) = delete;
  Backtest& operator=(const Backtest&) = delete;

  /// Evaluates every rule at `slot` with its outcome (`outcomes[i]` for the i-th rule), after
  /// flushing whatever the dispatcher had due up to `slot`, then hands the notified transitions
  /// to the dispatcher at `slot` as the daemon's round end does. `keep_firing[i]` is the i-th
  /// rule's `keep_firing_expr` outcome at the slot (used, as by the daemon, only while that rule
  /// has firing alerts); null when no rule has one. Slots must increase.
  void evaluate(TimePoint slot, const std::vector<QueryOutcome>& outcomes,
                const std::vector<QueryOutcome>* keep_firing = nullptr);

  /// Flushes what falls due up to `to` and returns the report; alerts still firing at `to`
  /// count as firing until then. Call once, after the last `evaluate`.
  BacktestReport finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The rules `promwatch backtest --rule R` replays: group `group` (an index into the groups
/// given), rules `rules` of it (every alerting rule of that group named so).
struct BacktestTarget {
  std::size_t group = 0;
  std::vector<std::size_t> rules;
};
/// Finds R: first as an alert name, which must then be in one group only; else as
/// `GROUP/ALERT`, split at the first `/` whose left part names a group that has that alert
/// (alert and group names may contain `/`). nullopt with the reason in `*error` (the name is
/// unknown, in several groups, or a heartbeat rule's).
std::optional<BacktestTarget> find_backtest_rule(const std::vector<RuleGroup>& groups, std::string_view r,
                                                 std::string* error);

/// The slots the daemon would have evaluated `group` at within [from, to]:
/// `RuleGroup::slot_at_or_before` / `next_evaluation` arithmetic. Empty when from > to.
std::vector<TimePoint> backtest_slots(const RuleGroup& group, TimePoint from, TimePoint to);

/// The `[start, end]` ranges of query times (slot - query_offset) to ask `/api/v1/query_range`
/// for at `step`, so that no request exceeds `max_points` points per series (Prometheus refuses
/// more than 11,000). Consecutive, covering every slot once.
struct QueryChunk {
  TimePoint start{};
  TimePoint end{};
};
inline constexpr std::size_t kMaxRangePoints = 11000;
std::vector<QueryChunk> backtest_chunks(const std::vector<TimePoint>& slots, Duration query_offset,
                                        std::size_t max_points = kMaxRangePoints);

/// Human-readable report: a timeline per alert, then each notification, then a summary.
std::string render_backtest_text(const BacktestReport& report);
/// SPEC §1's JSON object: rule, group, from, to, step, alerts[{labels, transitions[{at,
/// state}]}], notifications[{at, receiver, status, alerts[{labels}]}], summary{notifications,
/// firing_seconds}. One line, no trailing newline.
std::string render_backtest_json(const BacktestReport& report);

/// One series of a rule's query over the range, for the picture.
struct BacktestSeries {
  Labels labels;
  std::vector<std::pair<TimePoint, double>> points;  ///< at slot times
};
/// The self-contained HTML page of `--html`: the query's value per series, the states as bands
/// per alert, the notifications as marks (see promwatch/timeline.hpp).
std::string render_backtest_html(const BacktestReport& report, const std::vector<BacktestSeries>& series);

}  // namespace promwatch
