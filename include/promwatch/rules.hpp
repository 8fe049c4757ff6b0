#pragma once
/// \file
/// Alerting-rule evaluation: the alert state machine of Prometheus 2.x `rules/alerting.go`
/// (with SPEC §3/§4's deviations) and the scheduling arithmetic of rule groups.
///
/// Pure logic: query outcomes and times go in, alert states and transitions come out. No I/O,
/// no clock reads that affect results, no Asio: the app wires this to the scheduler, the
/// datasource, the state store, the dispatcher and the Alertmanager forwarder.
///
/// Threading: every type here is a plain value owned by its holder. A rule or group must not be
/// used from two threads at once (the app uses them only on the event-loop thread); distinct
/// objects are independent. Templates are shared read-only between copies.
///
/// Errors: building a rule reports bad templates as `ConfigError`s (no exceptions);
/// evaluation failures are data (health `err` and `last_error`), never exceptions.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "promwatch/config.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/query.hpp"
#include "promwatch/template.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

/// How long a resolved alert is kept (and re-sent to Alertmanagers) before it is forgotten.
inline constexpr Duration resolved_retention = std::chrono::minutes(15);

/// Alert states as Prometheus names them. A resolved alert is `Inactive` with `resolved_at` set.
enum class AlertState { Inactive, Pending, Firing };
/// "inactive" | "pending" | "firing" (Prometheus's API strings).
std::string_view to_string(AlertState state);

/// Rule health as Prometheus's API reports it.
enum class RuleHealth { Unknown, Ok, Err };
/// "unknown" | "ok" | "err".
std::string_view to_string(RuleHealth health);

/// Flap detection state of one alert (SPEC §3 `flap_window`/`flap_threshold`). Counted state
/// changes are the notified ones: the alert starts firing (pending -> firing, or new -> firing
/// with `for = 0`) or it resolves (firing -> resolved). Pending alerts appearing or being
/// dropped are never notified and do not count.
struct FlapState {
  /// Not flapping: the times of the counted changes within the last `flap_window`, oldest
  /// first (fewer than `flap_threshold`). Flapping: the time of the last change only.
  std::vector<TimePoint> changes;
  TimePoint flapping_since{};  ///< set while the alert is flapping
  /// While flapping: the changes counted since the window that made it flapping began
  /// (`flap_threshold` at first, one more for every change since).
  std::uint32_t count = 0;

  bool flapping() const { return flapping_since != TimePoint{}; }
  bool operator==(const FlapState&) const = default;
};

/// Annotations a flapping alert carries (and every notification about it shows): `flapping`
/// = "true" and `flap_count` = `FlapState::count`.
inline constexpr std::string_view kFlappingAnnotation = "flapping";
inline constexpr std::string_view kFlapCountAnnotation = "flap_count";

/// One alert of one rule, as a plain value (also the export/import format for the state store
/// and for carrying state over a reload). Time points equal to `TimePoint{}` (the epoch) mean
/// "not set", as Go's zero time does in Prometheus.
struct Alert {
  std::uint64_t fingerprint = 0;  ///< `labels.fingerprint()`: the alert's identity
  Labels labels;                  ///< final labels, WITHOUT external labels
  Labels annotations;             ///< expanded annotations
  AlertState state = AlertState::Inactive;
  double value = 0;
  TimePoint active_at{};          ///< when it became pending
  TimePoint fired_at{};           ///< when it became firing; unset while pending
  TimePoint resolved_at{};        ///< when it resolved; unset while active
  TimePoint last_sent_at{};       ///< last time it was handed out by `alerts_to_send`
  TimePoint valid_until{};        ///< endsAt sent to Alertmanagers while firing
  TimePoint keep_firing_since{};  ///< first evaluation it was missing while held by keep_firing_for
  FlapState flap;                 ///< flap detection; empty when the rule has none
};

/// Moves every set time point of `alert` by `step`; unset ones (the epoch) stay unset. For a
/// step of the wall clock: the alert keeps its place on the new timeline.
void shift_times(Alert& alert, Duration step);

/// What flap detection made of a transition (see `FlapState`).
enum class FlapNotice {
  None,     ///< an ordinary transition
  Started,  ///< this change made the alert flapping: notified as firing, with the flapping annotations
  Muted,    ///< a change while flapping: not notified
  /// The alert has been stable for `flap_window` (from == to, no state change): notified in its
  /// current state, firing or (when pending or resolved) resolved.
  Ended,
};

/// A state change produced by an evaluation (or by `resolve_all`/`restore`).
///
/// Kinds, by (from, to):
///  - Inactive -> Pending: a new alert;
///  - Inactive -> Firing: a new alert with `for = 0` (pending and firing in one evaluation);
///  - Pending  -> Firing: fired (notify);
///  - Firing   -> Inactive: resolved (notify), `resolved_at` = `at`;
///  - Pending  -> Inactive: a pending alert dropped (never notified);
///  - X -> X with `flap == FlapNotice::Ended`: flapping ended (notify).
struct AlertTransition {
  std::uint64_t fingerprint = 0;
  Labels labels;  ///< without external labels
  Labels annotations;
  AlertState from = AlertState::Inactive;
  AlertState to = AlertState::Inactive;
  TimePoint at{};
  double value = 0;
  TimePoint active_at{};
  TimePoint fired_at{};
  TimePoint resolved_at{};
  FlapNotice flap = FlapNotice::None;

  /// True for the transitions that are notified: to firing, or firing to resolved, unless
  /// muted by flapping; and the start and end of flapping.
  bool notifies() const {
    if (flap == FlapNotice::Muted) return false;
    if (flap != FlapNotice::None) return true;
    return to == AlertState::Firing || (from == AlertState::Firing && to == AlertState::Inactive);
  }
  /// True for firing -> resolved.
  bool resolved() const { return from == AlertState::Firing && to == AlertState::Inactive; }
  /// True when a notified transition is notified as resolved (ends at `resolved_at`): a
  /// resolution, or the end of flapping of an alert that is not firing. A flapping notice is
  /// notified as firing, whatever the change that started it.
  bool notified_resolved() const {
    if (flap == FlapNotice::Started) return false;
    if (flap == FlapNotice::Ended) return to != AlertState::Firing;
    return resolved();
  }
};

/// One alert to forward to Alertmanagers (`POST /api/v2/alerts`); the app adds external
/// labels and the generatorURL.
struct OutgoingAlert {
  std::uint64_t fingerprint = 0;
  Labels labels;
  Labels annotations;
  TimePoint starts_at{};  ///< the firing time (`fired_at`)
  TimePoint ends_at{};    ///< `valid_until` while firing; `resolved_at` once resolved
  bool resolved = false;
};

/// Label and annotation templates already compiled, by text.
using TemplateCache = std::unordered_map<std::string, Template>;

/// What rule templates see besides the sample: `$externalLabels` and `$externalURL`.
struct RuleContext {
  Labels external_labels;
  std::string external_url;
  /// When set, rules built with this context compile each distinct template text once and share
  /// it (each under its own name, for its errors): 1,000 rules with the same annotation hold one
  /// parse tree, not 1,000. `compile_config` sets one per configuration load.
  std::shared_ptr<TemplateCache> templates = nullptr;
};

/// The outcome of one evaluation.
struct EvaluationResult {
  bool ok = false;      ///< false: the query failed, or duplicates, or the limit was exceeded
  std::string error;    ///< the reason when !ok (also the rule's `last_error`)
  std::vector<AlertTransition> transitions;
};

/// Prometheus's `for`-state restoration parameters (SPEC §2 `outage_tolerance`, `for_grace_period`).
struct RestoreOptions {
  Duration outage_tolerance = std::chrono::hours(1);
  Duration for_grace_period = std::chrono::minutes(10);
};

/// An alerting rule with its alerts. Copyable (the copy shares the compiled templates and
/// owns its own alert state); not thread-safe.
class AlertingRule {
 public:
  /// Builds a rule from its config and its group's (labels, limit, name), compiling every label
  /// and annotation template. On a template error nothing is built and one `ConfigError` per bad
  /// template is appended to `*errors` (when non-null), positioned at the template's
  /// `TemplateText::pos` and with the template's own `line:col` in the message.
  static std::optional<AlertingRule> build(const AlertRuleConfig& rule, const RuleGroupConfig& group,
                                           const RuleContext& context,
                                           std::vector<ConfigError>* errors);

  /// Evaluates the rule's query outcome at evaluation time `ts` (the slot time, not the query
  /// time). A failed query leaves every alert as it was (health err, `last_error` = the error);
  /// with `on_error = "alerting"` it raises the rule's error alert instead (labels plus
  /// `promwatch_error="true"`, the error text in annotation `error`), unless
  /// `datasource_down` is true (PromwatchDatasourceDown firing), in which case that error alert
  /// is treated as absent. Duplicate final label sets and a group `limit` overrun are errors
  /// that leave the state untouched. An empty successful result with `no_data = "alerting"`
  /// raises one alert with `promwatch_no_data="true"`.
  ///
  /// `answers` feed the `query` template function (see `template_queries` and
  /// `resolve_template_queries`); a template's `query` without an answer renders as a template
  /// error. Annotations that use `query` are expanded at every evaluation (their result can
  /// change while labels and value stay the same), the others only when labels or value change.
  ///
  /// `keep_firing` is the outcome of `keep_firing_expr` in the same slot (see
  /// `wants_keep_firing_query`): a firing alert missing from `outcome` whose labels (after the
  /// label templates) are in its result keeps firing; `keep_firing_for` starts counting only once
  /// it is in neither. Null: no such result (the rule has none, or nothing fired). A failed
  /// `keep_firing` leaves every alert as it was, as a failed `outcome` does (health err,
  /// `last_error` prefixed with "keep_firing_expr: ").
  ///
  /// Flap detection (`flap_window`/`flap_threshold`, see `FlapState`) marks the transitions:
  /// the change that reaches the threshold is `FlapNotice::Started`, later ones `Muted`, and the
  /// first successful evaluation `flap_window` after the last change adds an `Ended` one.
  EvaluationResult evaluate(const QueryOutcome& outcome, TimePoint ts, bool datasource_down = false,
                            const TemplateQueryAnswers* answers = nullptr,
                            const QueryOutcome* keep_firing = nullptr);

  /// True when this round should run `keep_firing_expr` (for `evaluate`'s `keep_firing`): the
  /// rule has one and at least one firing alert.
  bool wants_keep_firing_query() const {
    return !config_.keep_firing_expr.empty() && count(AlertState::Firing) > 0;
  }
  const std::string& keep_firing_query() const { return config_.keep_firing_expr; }
  /// Number of alerts flapping now (whatever their state).
  std::size_t count_flapping() const;

  /// True when a label or annotation template of this rule may call `query`. Only such rules
  /// need `template_queries`; for the others it is always empty.
  bool uses_template_queries() const { return uses_query_; }
  /// The `query` expressions this evaluation's templates ask for that `answers` lacks: every
  /// template using `query` is rendered, as a probe, for every alert `evaluate(outcome, ...,
  /// datasource_down)` would expand (each sample; the no_data or on_error alert). Expressions
  /// may depend on labels, value and other queries' answers, so a caller asks again after
  /// adding answers until nothing new turns up. Changes nothing; in order of first use.
  std::vector<std::string> template_queries(const QueryOutcome& outcome, const TemplateQueryAnswers& answers,
                                            bool datasource_down = false) const;

  /// Alerts to forward to Alertmanagers now, as Prometheus's `sendAlerts`: firing alerts never
  /// sent or last sent more than `resend_delay` ago, resolved alerts whose resolution was not
  /// sent yet or last sent more than `resend_delay` ago (for the 15 minutes they are kept).
  /// Marks them sent: `last_sent_at = ts`, `valid_until = ts + 4 * max(group_interval,
  /// resend_delay)`. Pending alerts are never sent.
  std::vector<OutgoingAlert> alerts_to_send(TimePoint ts, Duration resend_delay, Duration group_interval);

  /// Resolves every firing alert at `ts` and drops every pending one (the rule was removed by a
  /// reload). Resolved alerts stay (for `alerts_to_send`) until the retention ends. Returns the
  /// transitions (firing -> inactive are notified).
  std::vector<AlertTransition> resolve_all(TimePoint ts);

  /// Every alert (pending, firing, and resolved ones within retention), as plain values.
  std::vector<Alert> export_alerts() const;
  /// Replaces the rule's alerts with `alerts` as they are. Annotations are re-expanded at the
  /// next successful evaluation.
  void import_alerts(std::vector<Alert> alerts);
  /// Reload carry-over: moves `old`'s alerts into this rule (none is copied; `old` is left with
  /// none) and copies its status (`copy_status_from`). Expanded annotations are kept when both
  /// rules have the same annotation templates and external labels/URL; otherwise they are
  /// re-expanded at the next successful evaluation.
  void take_alerts_from(AlertingRule& old);
  /// Restores alerts saved before a restart. `down_at` is the last time the saved state was
  /// current (the last evaluation before the stop); `now` is the restart (or first evaluation)
  /// time. Firing and resolved alerts are restored as they were. Pending alerts (SPEC §2/§4):
  /// dropped when the downtime `now - down_at` is not shorter than `outage_tolerance` (a new
  /// evaluation creates them anew); otherwise they keep `active_at`, so the downtime counts
  /// towards `for` — except that, with Prometheus's grace rule, a rule whose `for` is at least
  /// `for_grace_period` and that would fire less than the grace period after `now` (but was not
  /// yet due at `down_at`) gets `active_at = now + grace - for`. (Prometheus itself moves `active_at` forward by the
  /// downtime and does not restore rules with `for < for_grace_period`; SPEC asks that a restart
  /// never reset a timer.) Returns a Pending -> Inactive transition for each dropped alert.
  std::vector<AlertTransition> restore(std::vector<Alert> saved, TimePoint down_at, TimePoint now,
                                       const RestoreOptions& options);
  /// Forgets every alert and resets health (used by `replay`).
  void clear();

  /// Calls `fn` for every alert (no copies); order unspecified.
  void for_each_alert(const std::function<void(const Alert&)>& fn) const;
  /// Number of alerts in `state` (resolved ones count as Inactive).
  std::size_t count(AlertState state) const;
  /// Number of alerts held, in any state.
  std::size_t size() const { return active_.size(); }

  const AlertRuleConfig& config() const { return config_; }
  const std::string& name() const { return config_.alert; }
  const std::string& query() const { return config_.expr; }
  const std::string& group_name() const { return group_name_; }

  RuleHealth health() const { return health_; }
  const std::string& last_error() const { return last_error_; }
  TimePoint last_evaluation() const { return last_evaluation_; }
  /// Query time (`QueryOutcome::elapsed`) plus processing time of the last evaluation.
  Duration evaluation_time() const { return evaluation_time_; }
  /// Overrides the evaluation time (when the app measures it end to end).
  void set_evaluation_time(Duration d) { evaluation_time_ = d; }
  /// Copies health, last error, last evaluation and evaluation time from `other` (reload).
  void copy_status_from(const AlertingRule& other);
  /// The wall clock stepped by `step`: moves every stored time point with it (see
  /// `WallClockWatch`), so `for`, `keep_firing_for` and resends count real elapsed time.
  void shift_clock(Duration step);

  /// Debug counter: template expansions performed by this rule so far (literal templates and
  /// cached annotations are not counted). Used by tests and benchmarks.
  std::uint64_t template_renders() const { return template_renders_; }

 private:
  struct CompiledText {
    std::string name;
    std::string literal;            ///< the text when `tmpl` is empty (a literal template)
    std::optional<Template> tmpl;   ///< set when the text has actions
  };
  struct Entry {
    Alert alert;
    std::uint64_t raw_fingerprint = 0;  ///< of the raw sample labels annotations were expanded for
    std::uint64_t value_bits = 0;       ///< of the value annotations were expanded for
    bool annotations_valid = false;
    bool error_alert = false;           ///< the on_error = "alerting" alert
    std::uint64_t seen = 0;             ///< evaluation counter of the last evaluation it was present
    /// When the alert last resolved, while flap detection keeps it through a later pending
    /// incarnation (so that, dropped, it becomes that resolved alert again).
    TimePoint last_resolved_at{};
  };
  struct Candidate;
  enum class MissingScope { All, None, ErrorAlertOnly };

  AlertingRule() = default;
  std::string expand(const CompiledText& text, const Labels& raw, double value);
  Candidate make_candidate(const Labels& raw, double value, std::string_view extra_label);
  Labels expand_annotations(const Labels& raw, double value);
  void apply(std::vector<Candidate>& candidates, TimePoint ts, MissingScope scope,
             const std::string& error_text, EvaluationResult& result,
             const std::vector<std::uint64_t>* kept_firing = nullptr);
  std::vector<std::uint64_t> keep_firing_fingerprints(const QueryOutcome& keep_firing);
  bool flap_detection() const { return config_.flap_threshold > 0; }
  bool flap_holds(const Alert& a, TimePoint ts) const;
  FlapNotice count_change(Alert& a, TimePoint ts);
  void end_stable_flapping(TimePoint ts, EvaluationResult& result);
  static void mark_flapping(Alert& a);
  void push_change(Entry& e, AlertState from, TimePoint ts, EvaluationResult& result);
  static AlertTransition transition(const Alert& alert, AlertState from, TimePoint at);

  AlertRuleConfig config_;
  std::string group_name_;
  Labels group_labels_;
  int limit_ = 0;
  RuleContext context_;
  std::vector<CompiledText> labels_;
  std::vector<CompiledText> annotations_;
  std::unordered_map<std::uint64_t, Entry> active_;
  Labels last_annotations_;  ///< the last expansion, shared by alerts that expand the same
  std::uint64_t eval_counter_ = 0;
  RuleHealth health_ = RuleHealth::Unknown;
  std::string last_error_;
  TimePoint last_evaluation_{};
  Duration evaluation_time_{0};
  std::uint64_t template_renders_ = 0;
  bool uses_query_ = false;              ///< some label or annotation template may call `query`
  bool annotations_use_query_ = false;   ///< some annotation template may: never cached
  const TemplateQueryAnswers* answers_ = nullptr;  ///< during evaluate() only
  /// Some alert may be flapping although the rule has no flap detection (carried over a reload
  /// or restored): it ends at the next evaluation.
  bool maybe_flapping_ = false;
};

/// One member of a heartbeat rule (SPEC §3 `[[groups.heartbeats]]`): a monitored instance,
/// identified by its `by` labels.
struct HeartbeatMember {
  Labels labels;              ///< the member's `by` labels: its identity
  bool expected = false;      ///< listed in `expected`: present even if never seen, never forgotten
  bool up = false;            ///< present with a value >= 1 at the last successful evaluation
  TimePoint last_seen_up{};   ///< unset when never seen up
  TimePoint missing_since{};  ///< first successful evaluation it was not up; unset while up
  Duration absent{0};         ///< absence counted so far (see `HeartbeatRule::evaluate`)
};

/// A heartbeat rule's whole state as plain values (state store, reload carry-over).
struct HeartbeatState {
  std::vector<HeartbeatMember> members;
  std::vector<Alert> alerts;
  TimePoint last_success{};  ///< the last successful evaluation
};

/// A heartbeat rule: instance availability. Every series of the query result is a member,
/// identified by its `by` labels; a member missing from the result or with a value < 1 (NaN
/// counts as < 1) is absent. Absence is counted only over successful evaluations, at most one
/// group interval per evaluation, so neither failed queries nor promwatch's own downtime count.
/// An absent member's alert is pending from the first absent evaluation and fires once the
/// counted absence reaches `for` (`for = 0`: at once); it resolves when the member is up again.
/// A seen, not expected member absent for `forget_after` resolves and is forgotten.
///
/// Alert labels: the member's `by` labels, then group labels, then rule labels, then
/// `alertname = name`. Annotation templates see `$labels` = those alert labels and `$value` =
/// seconds since the member was last seen up (the counted absence when never seen). Copyable;
/// not thread-safe.
class HeartbeatRule {
 public:
  /// Builds the rule and compiles its annotation templates; errors as `AlertingRule::build`.
  static std::optional<HeartbeatRule> build(const HeartbeatRuleConfig& rule,
                                            const RuleGroupConfig& group, const RuleContext& context,
                                            std::vector<ConfigError>* errors);

  /// Evaluates the query outcome at slot time `ts`. A failed query changes nothing but health.
  EvaluationResult evaluate(const QueryOutcome& outcome, TimePoint ts);
  /// As `AlertingRule::alerts_to_send`.
  std::vector<OutgoingAlert> alerts_to_send(TimePoint ts, Duration resend_delay, Duration group_interval);
  /// As `AlertingRule::resolve_all` (the rule was removed by a reload). Members are kept.
  std::vector<AlertTransition> resolve_all(TimePoint ts);

  HeartbeatState export_state() const;
  /// Replaces the state (restart or reload). Members of `expected` missing from `state` are added;
  /// members no longer expected become ordinary (forgettable) members. Alert labels are rebuilt
  /// from the current group and rule labels at the next evaluation.
  void import_state(HeartbeatState state);

  void for_each_alert(const std::function<void(const Alert&)>& fn) const;
  void for_each_member(const std::function<void(const HeartbeatMember&)>& fn) const;
  std::size_t count(AlertState state) const;
  std::size_t member_count() const { return members_.size(); }

  const HeartbeatRuleConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const std::string& query() const { return config_.expr; }
  RuleHealth health() const { return health_; }
  const std::string& last_error() const { return last_error_; }
  TimePoint last_evaluation() const { return last_evaluation_; }
  Duration evaluation_time() const { return evaluation_time_; }
  void set_evaluation_time(Duration d) { evaluation_time_ = d; }
  void copy_status_from(const HeartbeatRule& other);
  /// As `AlertingRule::shift_clock` (members' times too).
  void shift_clock(Duration step);

 private:
  struct CompiledText {
    std::string name;
    std::string literal;
    std::optional<Template> tmpl;
  };
  struct MemberEntry {
    HeartbeatMember member;
    Labels alert_labels;
    std::uint64_t alert_fingerprint = 0;
    bool present = false;  ///< scratch: present and up in this evaluation
  };
  struct AlertEntry {
    Alert alert;
    std::uint64_t value_bits = 0;
    bool annotations_valid = false;
    std::uint64_t seen = 0;  ///< evaluation counter of the last evaluation a member claimed it
  };

  HeartbeatRule() = default;
  MemberEntry& member_entry(const Labels& by_labels, bool expected);
  Labels expand_annotations(const Labels& labels, double value);

  HeartbeatRuleConfig config_;
  Labels group_labels_;
  Duration interval_{0};
  RuleContext context_;
  std::vector<CompiledText> annotations_;
  std::unordered_map<std::uint64_t, MemberEntry> members_;  ///< by by-labels fingerprint
  std::unordered_map<std::uint64_t, AlertEntry> alerts_;    ///< by alert fingerprint
  std::uint64_t eval_counter_ = 0;
  TimePoint last_success_{};
  RuleHealth health_ = RuleHealth::Unknown;
  std::string last_error_;
  TimePoint last_evaluation_{};
  Duration evaluation_time_{0};
};

/// The identity that carries a rule's alerts over a reload: (group name, alert name, the rule's
/// static labels as written, ordinal among the group's rules with the same name and labels), as
/// Prometheus's `Group.CopyState` matches rules. An opaque string; equal keys = same rule.
std::string rule_identity_key(std::string_view group_name, const AlertRuleConfig& rule,
                              std::size_t ordinal);
/// The identity key of every rule of `group`, in order (ordinals computed).
std::vector<std::string> rule_identity_keys(const RuleGroupConfig& group);

/// The outcome of replaying a rule over a sequence of instant results (`promwatch eval`).
struct ReplayResult {
  std::vector<Alert> alerts;  ///< pending and firing alerts as of the last step, sorted by labels
  RuleHealth health = RuleHealth::Unknown;
  std::string last_error;     ///< of the last step
};
/// Evaluates a fresh copy of `rule` (no alerts) over `steps` in order (each the instant result at
/// its time, e.g. from a range query over [t - for, t] at the group interval). `rule` is not
/// modified.
///
/// `answers` (for templates using `query`) are given to every step; the alerts' annotations
/// are those of the last step, so answers computed for the last step are the ones to give.
ReplayResult replay(const AlertingRule& rule,
                    const std::vector<std::pair<TimePoint, QueryOutcome>>& steps,
                    const TemplateQueryAnswers* answers = nullptr);

/// How many rounds of `query` expressions `resolve_template_queries` runs at most: a query
/// whose expression is built from another query's result needs one more round each.
inline constexpr int kMaxTemplateQueryRounds = 4;

/// A query outcome as the template's `query` function sees it, with Prometheus's texts for
/// its errors: the HTTP API's `errorType: ` prefix and `invalid parameter "query": ` wrapper
/// removed (Prometheus's own `query` calls the engine directly: "1:11: parse error: ..."), and
/// a range vector or string result is "rule result is not a vector or scalar".
TemplateQueryAnswer template_query_answer(const QueryOutcome& outcome);

/// Runs one instant query for a template at the evaluation's query time and calls `done`
/// once with the outcome (from the caller's event loop). The caller bounds it by its deadline.
using TemplateQueryRunner = std::function<void(const std::string& expr, std::function<void(QueryOutcome)> done)>;
/// Returns the expressions still needed given the answers so far (`AlertingRule::template_queries`).
using TemplateQueryCollector = std::function<std::vector<std::string>(const TemplateQueryAnswers&)>;

/// Gathers the answers an evaluation's templates need without blocking: asks `collect`, runs
/// every new expression through `run` at once, and repeats when all have answered, for at most
/// `max_rounds` rounds; then calls `done` with the answers (inline when none was needed,
/// otherwise from the last runner callback). Each expression runs once, however many alerts
/// use it. If a runner never calls back, `done` is never called (the caller's callbacks drop
/// the chain when its owner is gone).
void resolve_template_queries(TemplateQueryCollector collect, TemplateQueryRunner run,
                              std::function<void(TemplateQueryAnswers)> done,
                              int max_rounds = kMaxTemplateQueryRounds);

/// Where the scheduler is after a tick: the slot to evaluate now and how many were skipped.
struct SlotAdvance {
  TimePoint slot{};         ///< the evaluation time to use now
  std::int64_t missed = 0;  ///< slots skipped since the previous one (an overrun)
};

/// A rule group: its rules and the arithmetic of its schedule. Copy/move as a value; not
/// thread-safe.
class RuleGroup {
 public:
  /// Builds every alerting and heartbeat rule of `config`. All template errors of all rules are
  /// appended to `*errors`; nullopt when there was any.
  static std::optional<RuleGroup> build(const RuleGroupConfig& config, const RuleContext& context,
                                        std::vector<ConfigError>* errors);

  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  Duration interval() const { return interval_; }
  Duration query_offset() const { return query_offset_; }
  int limit() const { return limit_; }
  const Labels& labels() const { return labels_; }

  std::vector<AlertingRule>& rules() { return rules_; }
  const std::vector<AlertingRule>& rules() const { return rules_; }
  /// `rule_identity_keys` of this group, parallel to `rules()`.
  const std::vector<std::string>& rule_keys() const { return rule_keys_; }
  /// The group's heartbeat rules, in declaration order (identity over a reload: their name).
  std::vector<HeartbeatRule>& heartbeats() { return heartbeats_; }
  const std::vector<HeartbeatRule>& heartbeats() const { return heartbeats_; }

  /// The fixed offset of this group's slots in [0, interval): a stable hash of (file, name)
  /// modulo the interval, as Prometheus's `Group.hash() % interval`.
  Duration offset() const { return offset_; }
  /// The latest slot (epoch + offset + k * interval) at or before `t`.
  TimePoint slot_at_or_before(TimePoint t) const;
  /// The first slot strictly after `after` (Prometheus starts a group at the slot after now).
  TimePoint next_evaluation(TimePoint after) const;
  /// A tick at `now` after the slot `previous` was evaluated: evaluate the latest slot at or
  /// before `now` (at least `previous + interval`); the slots in between are missed.
  SlotAdvance advance(TimePoint previous, TimePoint now) const;
  /// The time queries are evaluated at for slot `slot`: `slot - query_offset`.
  TimePoint query_time(TimePoint slot) const { return slot - query_offset_; }

  TimePoint last_evaluation() const { return last_evaluation_; }
  Duration evaluation_time() const { return evaluation_time_; }
  /// Records a finished round (for the API and metrics).
  void set_last_evaluation(TimePoint slot, Duration took) {
    last_evaluation_ = slot;
    evaluation_time_ = took;
  }

  /// Reload carry-over: every rule of this group takes the alerts and status of the rule of
  /// `old` with the same identity key (each old rule at most once; the alerts are moved, not
  /// copied, see `AlertingRule::take_alerts_from`); `old` loses them. Also copies
  /// the group's last evaluation. Returns the indices of `old`'s rules whose state was not taken
  /// (the app calls `resolve_all` on them and notifies). Heartbeat rules carry over by name;
  /// the indices of `old.heartbeats()` not taken go to `*untaken_heartbeats` when non-null.
  std::vector<std::size_t> take_state_from(RuleGroup& old,
                                           std::vector<std::size_t>* untaken_heartbeats = nullptr);

  /// The wall clock stepped by `step`: shifts the state of every rule and the last evaluation.
  void shift_clock(Duration step);

 private:
  RuleGroup() = default;

  std::string name_;
  std::string file_;
  Duration interval_{0};
  Duration query_offset_{0};
  int limit_ = 0;
  Labels labels_;
  Duration offset_{0};
  std::vector<AlertingRule> rules_;
  std::vector<std::string> rule_keys_;
  std::vector<HeartbeatRule> heartbeats_;
  TimePoint last_evaluation_{};
  Duration evaluation_time_{0};
};

}  // namespace promwatch
