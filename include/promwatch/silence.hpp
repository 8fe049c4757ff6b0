#pragma once
/// \file
/// What mutes notifications (SPEC §2, §6 last bullet, §7), with Alertmanager 0.25 semantics:
///
/// - `Inhibitor`: `[[inhibit_rules]]` over the current set of firing alerts;
/// - `SilenceSet`: static `[[silences]]` from the config plus runtime silences created over
///   Alertmanager's v2 API (`/api/v2/silences`), with Alertmanager's states, update rules,
///   validation and garbage collection;
/// - `TimeIntervalSet`: `[[time_intervals]]` (Alertmanager's `timeinterval` package) evaluated
///   in IANA time zones read from the system's TZif files, and route muting by
///   `mute_time_intervals` / `active_time_intervals`;
/// - `MuteState`: the three together, with what the dispatcher's hooks call;
/// - the Alertmanager v2 API bodies for silences and alerts, so that `amtool` works.
///
/// Everything is pure logic: time is passed in, nothing does I/O except `TimeZone::load` (which
/// reads a zoneinfo file once, when a `TimeIntervalSet` is built).
///
/// Thread: the classes are plain single-threaded values (use from one thread, e.g. the event
/// loop); const member functions of a `TimeIntervalSet` and a `TimeZone` may be used from any
/// thread. The free functions are thread-safe.
/// Errors: expected failures (bad API input, unknown ids, full set) are returned as values; only
/// the throwing constructors named below throw (at start-up and reload, config boundaries).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promwatch/config.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/matcher.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

// ---------------------------------------------------------------------------------------------
// Inhibition
// ---------------------------------------------------------------------------------------------

/// Alertmanager's inhibitor. Of the alerts it is told about (by fingerprint of their label set,
/// external labels applied) it keeps only those matching the `source_matchers` of at least one
/// rule, the only ones that can inhibit anything (with no rules it keeps nothing), and, per rule,
/// an index of them keyed by their values of the rule's `equal` labels, so a query costs one
/// hash lookup per rule whose target side matches.
///
/// Because alerts matching no source are not kept, new rules cannot see them: after
/// `set_rules`, observe every firing alert again (the daemon does so at start-up and on reload).
///
/// `inhibited(target)` is true when some rule's target matchers match the target and some
/// firing alert matches the rule's source matchers with the same value for every `equal` label
/// (a missing label equals an empty one). When the target itself also matches the source
/// matchers, source alerts that also match the target matchers are not considered (Alertmanager's
/// "excludeTwoSidedMatch"), so an alert never inhibits itself and alerts matching both sides do
/// not inhibit one another.
class Inhibitor {
 public:
  Inhibitor();
  explicit Inhibitor(const std::vector<InhibitRuleConfig>& rules);

  /// Replaces the rules (a reload): re-indexes the alerts kept that match some new rule's source
  /// matchers and forgets the others. Alerts that were not kept are not known: observe the
  /// firing alerts again afterwards so that new source matchers see them.
  void set_rules(const std::vector<InhibitRuleConfig>& rules);
  /// Rules set (zero: nothing is kept and nothing is inhibited).
  std::size_t rule_count() const;

  /// Inserts or replaces the alert with these labels when it matches some rule's source
  /// matchers; otherwise does nothing. `ends_at` zero (the epoch) = firing; otherwise the alert
  /// counts as firing while `now < ends_at` (Alertmanager's Resolved()).
  void observe(const Labels& labels, TimePoint ends_at = TimePoint{});
  /// Forgets the alert with these labels (no-op when unknown).
  void forget(const Labels& labels);
  /// Forgets every alert.
  void clear();
  /// Forgets alerts resolved at `now`. Resolved alerts never inhibit, but dropping them keeps
  /// queries fast; call it from time to time (e.g. at each flush).
  void gc(TimePoint now);
  /// Alerts kept (those matching some rule's source matchers).
  std::size_t size() const;
  /// The wall clock stepped by `step` (see `WallClockWatch`): moves every resolved alert's
  /// `ends_at` with it, so a step back does not keep a resolved source inhibiting.
  void shift_clock(Duration step);

  bool inhibited(const Labels& target, TimePoint now) const { return inhibited_by(target, now).has_value(); }
  /// The fingerprint of one inhibiting alert (the lowest of the first rule that inhibits), or
  /// nullopt when the target is not inhibited.
  std::optional<std::uint64_t> inhibited_by(const Labels& target, TimePoint now) const;

  Inhibitor(Inhibitor&&) noexcept;
  Inhibitor& operator=(Inhibitor&&) noexcept;
  ~Inhibitor();

 private:
  struct Rule;
  struct Held {
    Labels labels;
    TimePoint ends_at;
  };
  bool is_source(const Labels& labels) const;  // some rule's source matchers match
  void index(std::uint64_t fp, const Held& alert);
  void unindex(std::uint64_t fp, const Held& alert);
  std::vector<std::unique_ptr<Rule>> rules_;
  std::map<std::uint64_t, Held> alerts_;
};

// ---------------------------------------------------------------------------------------------
// Silences
// ---------------------------------------------------------------------------------------------

/// Alertmanager's silence states, computed from the times: pending before starts_at, active
/// until ends_at (exclusive), expired from then on.
enum class SilenceState { Pending, Active, Expired };
/// "pending", "active", "expired".
std::string_view to_string(SilenceState state);

struct Silence {
  std::string id;  ///< UUID v4 text (random for runtime silences, derived from content for static ones)
  std::vector<Matcher> matchers;
  TimePoint starts_at;
  TimePoint ends_at;
  TimePoint updated_at;
  std::string created_by;
  std::string comment;

  SilenceState state(TimePoint now) const;
  /// Every matcher matches `labels` (a missing label matches as "").
  bool matches(const Labels& labels) const;
};

struct SilenceLimits {
  std::size_t max_silences = 10000;                   ///< runtime silences held, expired ones included
  Duration retention = std::chrono::hours(24 * 5);    ///< expired silences are kept this long (AM's default)
};

/// Why a silence operation failed. `message` is Alertmanager's text.
struct SilenceError {
  enum class Kind {
    Invalid,   ///< validation failed ("silence invalid: ...")
    NotFound,  ///< "silence not found"
    ReadOnly,  ///< a static silence from the config
    Full,      ///< "exceeded maximum number of silences: N (limit: N)"
  };
  Kind kind = Kind::Invalid;
  std::string message;
};

/// The result of a mutation: the id concerned, an error, and the runtime silences whose stored
/// record must be (re)written — hand each `to_json(s)` to the durable store under `s.id`.
struct SilenceChange {
  std::string id;
  std::optional<SilenceError> error;
  std::vector<Silence> changed;
  bool ok() const { return !error.has_value(); }
};

/// Static and runtime silences (Alertmanager's `silence.Silences` without the gossip).
class SilenceSet {
 public:
  /// Makes a new random id; the default is a UUID v4 from a seeded std::mt19937_64.
  using IdGenerator = std::function<std::string()>;

  explicit SilenceSet(SilenceLimits limits = {}, IdGenerator ids = {});

  /// Replaces the static silences (from `[[silences]]`; call at start-up and on reload). Their ids
  /// are derived from their content (matchers, times, comment), so they are stable across
  /// restarts; they cannot be updated or expired; they never count against the limit.
  void set_static(const std::vector<StaticSilenceConfig>& silences);

  /// Alertmanager's `Silences.Set`: creates `s` when `s.id` is empty; otherwise updates the
  /// silence with that id in place when that keeps history intact (same matchers; an active one
  /// keeps its start (to the second) and does not end in the past; a pending one does not start
  /// in the past), else expires it (unless already expired) and creates a new one with a new id.
  /// A new silence starting in the past starts at `now`. `updated_at` is set to `now`.
  /// Errors: unknown id (NotFound), static id (ReadOnly), invalid silence (Invalid, e.g.
  /// "silence invalid: at least one matcher must not match the empty string"), too many (Full).
  SilenceChange set(Silence s, TimePoint now);

  /// Alertmanager's `Silences.Expire`: an active silence ends at `now`, a pending one starts and
  /// ends at `now`; an expired one is left as it is (success, nothing changed).
  SilenceChange expire(std::string_view id, TimePoint now);

  /// Puts back a silence read from the durable store, as it was (no validation of times against
  /// now). Ignored with `false` when it has no id, its id is taken, or the set is full.
  bool restore(Silence s);

  /// Takes a silence replicated from a peer (high availability): kept when its id is unknown
  /// here or it was updated later than the one held, as Alertmanager merges gossiped silences.
  /// Not taken when it expired `retention` ago (gc would drop it) or the set is full. Returns
  /// whether it was taken (then store it).
  bool merge(Silence s, TimePoint now);

  /// Removes runtime silences that expired at least `retention` ago; returns their ids (delete
  /// their records from the store).
  std::vector<std::string> gc(TimePoint now);

  /// The silence with this id, or null. Valid until the next mutation.
  const Silence* get(std::string_view id) const;
  bool is_static(std::string_view id) const;
  /// Every silence (static and runtime), by id. Pointers valid until the next mutation.
  std::vector<const Silence*> list() const;

  /// Ids of the active silences that match `labels`, sorted.
  std::vector<std::string> silenced_by(const Labels& labels, TimePoint now) const;
  bool silenced(const Labels& labels, TimePoint now) const;

  std::size_t size() const { return silences_.size(); }
  std::size_t runtime_count() const { return silences_.size() - static_count_; }
  const SilenceLimits& limits() const { return limits_; }

 private:
  struct Entry {
    Silence silence;
    bool is_static = false;
  };
  SilenceChange create(Silence s, TimePoint now, std::vector<Silence> changed);
  std::map<std::string, Entry, std::less<>> silences_;
  std::size_t static_count_ = 0;
  SilenceLimits limits_;
  IdGenerator ids_;
};

/// Alertmanager's silence validation (`validateSilence`), without the "silence invalid: "
/// prefix: "at least one matcher required", "invalid label matcher 0: invalid label name \"\"",
/// "at least one matcher must not match the empty string", "end time must not be before start
/// time", ... Empty string when valid. The id is not checked.
std::string validate_silence(const Silence& s);

/// A random UUID v4 in its canonical lowercase text form.
std::string new_uuid_v4();
/// Whether `text` is a UUID in canonical 8-4-4-4-12 hex form (what go-openapi's `uuid` format
/// accepts, case-insensitive).
bool is_uuid(std::string_view text);

/// The durable record of one silence (JSON): id, matchers [{name, value, isRegex, isEqual}],
/// startsAt, endsAt, updatedAt, createdBy, comment; times RFC 3339 with milliseconds.
std::string to_json(const Silence& s);
/// Reads a record written by `to_json`. nullopt with `*error` set on bad input.
std::optional<Silence> silence_from_json(std::string_view json, std::string* error);

// ---------------------------------------------------------------------------------------------
// Alertmanager v2 API (silences and alerts), so that `amtool` works against promwatch
// ---------------------------------------------------------------------------------------------

/// Strfmt's date-time as Alertmanager's API prints it: RFC 3339 with exactly three fraction
/// digits in UTC, `2026-12-01T00:00:00.000Z`. The epoch (TimePoint{}, promwatch's "unset")
/// prints as Go's zero time, `0001-01-01T00:00:00.000Z`.
std::string format_api_time(TimePoint t);

/// One HTTP answer of the API helpers. `body` is JSON (`application/json`) unless empty.
/// Error bodies follow Alertmanager: handler errors are a JSON string (`"silence not found"`),
/// schema errors are go-openapi's `{"code":602,"message":"comment in body is required"}`
/// (status 422) or a parse error (`{"code":400,...}`, status 400).
struct ApiResponse {
  int status = 200;
  std::string body;
  /// Runtime silences to write to the durable store (POST, DELETE); see `SilenceChange`.
  std::vector<Silence> changed;
};

/// Parses a `postableSilence` body (`{id?, matchers:[{name, value, isRegex, isEqual?}],
/// startsAt, endsAt, createdBy, comment}`) with go-openapi's schema checks (required fields,
/// at least one matcher, types, date-times; keys matched case-insensitively as Go does).
/// On failure returns nullopt and sets `*error` to the whole HTTP answer (422 or 400).
/// Label names, regexes and the emptiness rule are checked later, by `SilenceSet::set`.
std::optional<Silence> parse_postable_silence(std::string_view body, ApiResponse* error);

/// `gettableSilence` JSON, fields in Alertmanager's order: id, status{state}, updatedAt,
/// comment, createdBy, endsAt, matchers[{isEqual, isRegex, name, value}], startsAt.
std::string render_gettable_silence(const Silence& s, TimePoint now);
/// `gettableSilences`: sorted as Alertmanager sorts them (active by end, then pending by start,
/// then expired, most recently ended first).
std::string render_gettable_silences(std::vector<const Silence*> silences, TimePoint now);

/// GET /api/v2/silences[?filter=m&filter=m...]: `filters` are the decoded `filter` parameters;
/// a silence is listed when, for each filter, it has a matcher with the same name, type and value
/// (Alertmanager's CheckSilenceMatchesFilterLabels). 400 on a bad filter.
ApiResponse api_get_silences(const SilenceSet& set, const std::vector<std::string>& filters, TimePoint now);
/// GET /api/v2/silence/{id}: 200 gettableSilence, 404 (empty body) when unknown, 422 when the id
/// is not a UUID.
ApiResponse api_get_silence(const SilenceSet& set, std::string_view id, TimePoint now);
/// POST /api/v2/silences: 200 `{"silenceID":"..."}`; 400 "Failed to create silence: start time
/// must be before end time" / "...: end time can't be in the past" / validation errors; 404
/// "silence not found" for an unknown id; 422 or 400 for schema errors (see parse_postable_silence).
/// A static silence's id answers 400. Full answers 400 with AM 0.27's "exceeded maximum number of
/// silences" text.
ApiResponse api_post_silences(SilenceSet& set, std::string_view body, TimePoint now);
/// DELETE /api/v2/silence/{id}: 200 (empty body); 500 with "silence not found" (as Alertmanager
/// 0.25, whose amtool knows no 404 here) or the read-only message for a static silence; 422 for a
/// non-UUID id.
ApiResponse api_delete_silence(SilenceSet& set, std::string_view id, TimePoint now);

/// One alert as GET /api/v2/alerts shows it.
struct ApiAlert {
  Labels labels;       ///< with external labels applied
  Labels annotations;
  TimePoint starts_at;
  /// Alertmanager always has one: for a firing alert pass its "valid until" (e.g. the last
  /// evaluation + 4 x the group interval, as Prometheus sends); zero prints as Go's zero time
  /// and counts as not resolved.
  TimePoint ends_at;
  TimePoint updated_at;
  std::string generator_url;
  std::vector<std::string> receivers;  ///< receiver names of the routes the alert takes
  /// "active" | "suppressed" | "unprocessed"; empty = derived: suppressed when silenced_by or
  /// inhibited_by is non-empty, else active.
  std::string state;
  std::vector<std::string> silenced_by;   ///< silence ids
  std::vector<std::string> inhibited_by;  ///< fingerprints (%016x) of inhibiting alerts
};

/// `gettableAlerts` JSON, sorted by fingerprint, fields in Alertmanager's order: annotations,
/// endsAt, fingerprint, receivers[{name}], startsAt, status{inhibitedBy, silencedBy, state},
/// updatedAt, generatorURL (left out when empty), labels.
std::string render_gettable_alerts(std::vector<ApiAlert> alerts);

/// GET /api/v2/alerts query parameters: `active`, `silenced`, `inhibited`, `unprocessed`
/// (booleans, default true), `filter` (matchers, repeated), `receiver` (regex, anchored).
struct AlertsQuery {
  bool active = true;
  bool silenced = true;
  bool inhibited = true;
  bool unprocessed = true;
  std::vector<Matcher> filter;
  std::optional<Matcher> receiver;  ///< applied to the name as label "receiver"
};
/// Parses the decoded query parameters (repeated keys kept). nullopt with `*error` set to the
/// 400 answer on a bad boolean, matcher or receiver regex.
std::optional<AlertsQuery> parse_alerts_query(const std::multimap<std::string, std::string>& params,
                                              ApiResponse* error);
/// Alertmanager's alert filter: drops alerts resolved at `now`, then applies the flags, the
/// label filters (AM's matchFilterLabels) and the receiver regex.
bool alerts_query_matches(const AlertsQuery& query, const ApiAlert& alert, TimePoint now);
/// GET /api/v2/alerts end to end: parse, filter, render.
ApiResponse api_get_alerts(const std::vector<ApiAlert>& alerts,
                           const std::multimap<std::string, std::string>& params, TimePoint now);

// ---------------------------------------------------------------------------------------------
// Time zones and time intervals
// ---------------------------------------------------------------------------------------------

/// A time zone read from a TZif file (RFC 8536, versions 1 to 4; the 64-bit section is used when
/// present, and the footer's POSIX TZ rule for times after the last transition) or from a POSIX
/// TZ string. Immutable; thread-safe.
class TimeZone {
 public:
  /// "UTC" (or "") is built in; "Local" is $TZ when set, else /etc/localtime, else UTC; any
  /// other name is read from `zoneinfo_dir`/name. nullptr with `*error` set when the name is
  /// unsafe, the file is missing or it is not valid TZif.
  static std::shared_ptr<const TimeZone> load(std::string_view name, std::string* error,
                                              const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  /// From the bytes of a TZif file. nullptr with `*error` set on malformed data.
  static std::shared_ptr<const TimeZone> from_tzif(std::string_view data, std::string name, std::string* error);
  /// From a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" or "<+08>-8".
  static std::shared_ptr<const TimeZone> from_posix(std::string_view tz, std::string* error);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  /// Seconds east of UTC in effect at `unix_seconds`.
  int utc_offset(std::int64_t unix_seconds) const;

  struct PosixRule;  // private detail, public for the implementation
  struct Type {
    int utoff = 0;
    bool isdst = false;
  };

  TimeZone(std::string name, std::vector<std::int64_t> transitions, std::vector<std::uint8_t> transition_types,
           std::vector<Type> types, std::shared_ptr<const PosixRule> rule);
  ~TimeZone();

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;
  std::vector<std::uint8_t> transition_types_;
  std::vector<Type> types_;
  std::shared_ptr<const PosixRule> rule_;
};

/// The wall-clock fields of an instant in a zone.
struct CivilTime {
  int year = 1970;
  int month = 1;         ///< 1..12
  int day = 1;           ///< 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4;       ///< 0 = sunday .. 6 = saturday
  int days_in_month = 31;
  int utc_offset = 0;    ///< seconds east of UTC
};
CivilTime to_civil(TimePoint t, const TimeZone& zone);

/// Alertmanager's TimeInterval.ContainsTime for one spec, `zone` being the spec's location.
bool time_interval_contains(const TimeIntervalSpec& spec, const TimeZone& zone, TimePoint t);

/// The named `[[time_intervals]]` of a config, with their zones loaded. Immutable once built.
class TimeIntervalSet {
 public:
  TimeIntervalSet() = default;
  /// Loads every spec's zone. Throws std::invalid_argument naming the interval and zone when a
  /// zone cannot be loaded.
  explicit TimeIntervalSet(const std::vector<TimeIntervalConfig>& intervals,
                           const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  /// Non-throwing: nullopt with one message per problem in `*errors`.
  static std::optional<TimeIntervalSet> build(const std::vector<TimeIntervalConfig>& intervals,
                                              std::vector<std::string>* errors,
                                              const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  bool has(std::string_view name) const;
  /// Whether `now` is inside any spec of the named interval. An unknown name is never inside
  /// (config validation rejects unknown names).
  bool contains(std::string_view name, TimePoint now) const;
  /// Route muting (Alertmanager's TimeMuteStage + TimeActiveStage): muted when `now` is inside
  /// any of `mute_names`, or when `active_names` is non-empty and `now` is inside none of them.
  bool muted_by_time(const std::vector<std::string>& mute_names, const std::vector<std::string>& active_names,
                     TimePoint now) const;

 private:
  struct Spec {
    TimeIntervalSpec spec;
    std::shared_ptr<const TimeZone> zone;
  };
  std::map<std::string, std::vector<Spec>, std::less<>> intervals_;
};

// ---------------------------------------------------------------------------------------------
// Everything together
// ---------------------------------------------------------------------------------------------

/// Why an alert is muted, for the API and the status page.
struct MuteStatus {
  std::vector<std::string> silenced_by;   ///< ids of active matching silences, sorted
  std::vector<std::string> inhibited_by;  ///< fingerprints (%016x) of inhibiting alerts
  bool muted() const { return !silenced_by.empty() || !inhibited_by.empty(); }
};

/// Inhibitor + silences + time intervals, built from the config. The app owns one on the event
/// loop; the dispatcher's hooks call `mute_filter()` / `time_mute_check()`.
class MuteState {
 public:
  /// Throws std::invalid_argument when a time interval's zone cannot be loaded.
  explicit MuteState(const Config& config, SilenceLimits limits = {}, SilenceSet::IdGenerator ids = {});

  /// Applies a new config: inhibit rules (alerts matching a new rule's sources kept; observe
  /// the firing alerts again afterwards, see `Inhibitor`), static silences (runtime ones kept),
  /// time intervals. Throws std::invalid_argument (and changes nothing) on a bad zone.
  void reload(const Config& config);

  Inhibitor& inhibitor() { return inhibitor_; }
  const Inhibitor& inhibitor() const { return inhibitor_; }
  SilenceSet& silences() { return silences_; }
  const SilenceSet& silences() const { return silences_; }
  const TimeIntervalSet& time_intervals() const { return intervals_; }

  /// Inhibited or silenced at `now` (what the dispatcher's MuteFilter answers).
  bool muted(const Labels& labels, TimePoint now) const;
  MuteStatus status(const Labels& labels, TimePoint now) const;
  bool muted_by_time(const std::vector<std::string>& mute_names, const std::vector<std::string>& active_names,
                     TimePoint now) const {
    return intervals_.muted_by_time(mute_names, active_names, now);
  }

  /// A `Dispatcher::MuteFilter`: calls `muted`. Holds `this`: the MuteState must outlive it.
  std::function<bool(const Labels&, TimePoint)> mute_filter() const;
  /// A `Dispatcher::TimeMuteCheck`: calls `muted_by_time`. Holds `this`.
  std::function<bool(const std::vector<std::string>&, const std::vector<std::string>&, TimePoint)>
  time_mute_check() const;

 private:
  Inhibitor inhibitor_;
  SilenceSet silences_;
  TimeIntervalSet intervals_;
};

}  // namespace promwatch
