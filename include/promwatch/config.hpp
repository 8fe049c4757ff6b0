#pragma once
/// \file
/// The validated, immutable configuration: the main file (SPEC §2) and every rule file it
/// names (SPEC §3), loaded with toml++ and checked completely. Every problem is reported as
/// `file:line:col: message`; loading never stops at the first one.
///
/// Defaults are filled in and inheritance (group interval from the global one, route fields
/// from the parent route) is resolved here, so consumers read concrete values. Templates are
/// kept as text with their position; they are compiled (and their errors reported) by the
/// components that use them, through `compile_templates` in the app.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "promwatch/http_client.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/matcher.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

struct SourcePos {
  std::string file;
  int line = 0;    ///< 1-based; 0 when unknown
  int column = 0;  ///< 1-based; 0 when unknown
  /// `file:line:col`, or `file` alone when the line is unknown.
  std::string to_string() const;
};

struct ConfigError {
  SourcePos pos;
  std::string message;
  /// `file:line:col: message`
  std::string to_string() const;
};

/// A template kept as text with where it was written.
struct TemplateText {
  std::string text;
  SourcePos pos;
};
using TemplateMap = std::vector<std::pair<std::string, TemplateText>>;  // sorted by key

/// `authorization = { type, credentials }`. `type = "raw"` sends the credentials as the whole
/// header value (Alibaba Cloud V1 token); otherwise `Authorization: <type> <credentials>`.
struct Authorization {
  std::string type = "Bearer";
  std::string credentials;
  std::string header_value() const;
};

/// The outgoing-HTTP keys shared by the datasource, receivers, alertmanagers and deadman.
struct HttpEndpointConfig {
  std::optional<BasicAuth> basic_auth;
  std::optional<Authorization> authorization;
  std::vector<std::pair<std::string, std::string>> headers;  ///< secrets
  TlsOptions tls;
  std::string proxy_url;
  Duration timeout = std::chrono::seconds(10);
};

struct GlobalConfig {
  Duration evaluation_interval = std::chrono::minutes(1);
  std::vector<std::string> rule_files;  ///< globs as written (relative to the config's directory)
  std::string state_dir;                ///< resolved: key, else $STATE_DIRECTORY, else ./data
  /// As Prometheus and Alertmanager hold it (their `computeExternalURL`/`extURL`): the path's
  /// trailing '/' removed, so "http://h:9097/" is "http://h:9097" and "http://h/pw/?x" is
  /// "http://h/pw?x". What `$externalURL`, `.ExternalURL`, generator URLs and webhooks show.
  std::string external_url;
  Labels external_labels;
  std::string generator_url;            ///< template text; empty = external_url + rule page
  Duration outage_tolerance = std::chrono::hours(1);
  Duration for_grace_period = std::chrono::minutes(10);
  Duration history_retention = std::chrono::hours(24 * 30);  ///< alert transitions kept this long
};

struct DatasourceConfig {
  std::string url;  ///< base URL; "/api/v1/query" is appended without a double slash
  std::string method = "POST";  ///< POST | GET
  std::vector<std::pair<std::string, std::string>> query_params;
  HttpEndpointConfig http;  ///< http.timeout is the per-query timeout
  int max_concurrent_queries = 64;
  std::uint64_t max_response_bytes = 64ull << 20;
  int retries = 2;
  int down_after = 3;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:9097";
  std::optional<BasicAuth> basic_auth;
  std::string tls_cert_file;
  std::string tls_key_file;
  bool enable_lifecycle = false;
  bool enable_silence_api = true;
};

struct NotifyConfig {
  Duration timeout = std::chrono::seconds(10);
  int max_attempts = 0;  ///< 0 = until superseded
  Duration shutdown_grace = std::chrono::seconds(5);
  std::uint64_t max_response_bytes = 64u << 10;
  std::vector<std::string> templates;  ///< files matched by the globs, absolute paths
};

struct DeadmanConfig {
  std::string url;  ///< secret
  Duration interval = std::chrono::minutes(1);
  HttpEndpointConfig http;
};

struct AlertmanagerConfig {
  std::string url;  ///< base; alerts go to {url}/api/v2/alerts
  Duration resend_delay = std::chrono::minutes(1);
  HttpEndpointConfig http;
  SourcePos pos;
};

/// `[cluster]`: high availability on etcd (SPEC §2). Replicas with the same `name` elect one
/// leader through etcd's election API; only the leader notifies.
struct ClusterConfig {
  std::vector<std::string> etcd_endpoints;  ///< base URLs of etcd members (v3 JSON gateway), tried in turn
  std::string name = "promwatch";           ///< election name; letters, digits, `_ . -`
  std::string member;                       ///< this replica's name; resolved: the host name when unset
  Duration lease_ttl = std::chrono::seconds(10);
  Duration fail_open_after = std::chrono::seconds(30);
  HttpEndpointConfig http;  ///< auth, tls, headers for etcd; http.timeout bounds each short request
  SourcePos pos;
};

/// `[remote_write]`: where recording rule results and ALERTS series go (remote write 1.0).
struct RemoteWriteConfig {
  std::string url;  ///< secret (shown redacted); Prometheus `/api/v1/write`, VictoriaMetrics too
  HttpEndpointConfig http;  ///< auth, tls, headers as for the datasource; http.timeout per request
  int max_samples_per_send = 1000;
  std::size_t queue_capacity = 100000;  ///< samples held; beyond it the oldest are dropped
  SourcePos pos;
};

struct RateLimit {
  int count = 0;  ///< 0 = the platform default
  Duration per{0};
};

/// What only one receiver type reads from its table, defined in that type's own file under
/// daemon/notify (the chat family's shared keys are fields of ReceiverConfig instead). Read
/// with `receiver_settings<T>(config)`.
struct ReceiverSettings {
  virtual ~ReceiverSettings() = default;
};

struct ReceiverConfig {
  std::string name;
  std::string type = "webhook";  ///< a name from receiver_types()
  std::string url;  ///< secret
  HttpEndpointConfig http;
  bool send_resolved = true;
  int max_alerts = 0;
  std::string msg_type;  ///< empty = the platform's richest
  std::optional<TemplateText> title;
  std::optional<TemplateText> text;
  RateLimit rate_limit;
  // The chat family's keys (each read by the types that accept it, in their own files).
  std::string secret;                       ///< signing secret (dingtalk, feishu)
  std::vector<std::string> at_mobiles;      ///< dingtalk
  bool at_all = false;                      ///< dingtalk
  std::vector<std::string> mentioned_list;  ///< wecom
  std::vector<std::string> at_user_ids;     ///< feishu
  std::string bot_token;  ///< telegram, secret
  std::string chat_id;    ///< telegram
  std::string parse_mode = "HTML";  ///< telegram
  /// The type's own settings (null for types that have none); immutable once loaded.
  std::shared_ptr<const ReceiverSettings> settings;
  /// Secret values of `settings` (tokens, passwords) that must never reach a log: the
  /// integration lists them as it reads them, `test-receiver` scrubs answers of them.
  std::vector<std::string> settings_secrets;
  SourcePos pos;
};

/// `config.settings` as the type `T` that the receiver's type reads; null when absent or of
/// another type.
template <typename T>
const T* receiver_settings(const ReceiverConfig& config) {
  return dynamic_cast<const T*>(config.settings.get());
}

/// The keys of one `[[receivers]]` table, as a receiver type's own reader sees them: typed
/// reads that report a wrong type or a bad value at the value (`file:line:col: key: ...`) and
/// return nullopt, so that loading goes on. Implemented by the config loader; only valid
/// during the type's `read` call.
class ReceiverKeys {
 public:
  virtual ~ReceiverKeys() = default;
  /// The receiver's type name, for messages.
  virtual std::string_view type() const = 0;
  virtual bool has(std::string_view key) const = 0;
  /// Reports `missing required key "key" in [[receivers]]` when absent.
  virtual bool require(std::string_view key) = 0;
  /// Reports `missing required key "key" (or "key_file") in [[receivers]] of type T` when
  /// neither is set.
  virtual bool require_secret(std::string_view key) = 0;
  virtual std::optional<std::string> string(std::string_view key) = 0;
  /// A string, or an integer written as its decimal text (Telegram chat ids).
  virtual std::optional<std::string> string_or_integer(std::string_view key) = 0;
  virtual std::optional<std::vector<std::string>> strings(std::string_view key) = 0;
  virtual std::optional<bool> boolean(std::string_view key) = 0;
  virtual std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) = 0;
  /// `key` or `key_file` (read now), never both; never shown in a message.
  virtual std::optional<std::string> secret(std::string_view key) = 0;
  /// An http(s) URL (`secret`: `key_file` too, and never shown).
  virtual std::optional<std::string> url(std::string_view key, bool secret) = 0;
  virtual std::optional<TemplateText> template_text(std::string_view key) = 0;
  /// An error at the value of `key` (at the table when absent): `message` as written.
  virtual void error_at_value(std::string_view key, std::string message) = 0;
  /// An error at the key itself.
  virtual void error_at_key(std::string_view key, std::string message) = 0;
  /// An error at the receiver's table.
  virtual void error_at_table(std::string message) = 0;
};

class Receiver;
struct ReceiverBuild;

/// Whether a receiver type sends to `url`.
enum class ReceiverUrl {
  Required,  ///< `url` or `url_file` must be set
  Optional,  ///< the type has a default endpoint (Telegram's API)
  None,      ///< the type has no `url` key (email: `smarthost`)
};

/// One row of the table of receiver types: everything a type adds, in one place. The rows
/// and the functions they point to live in daemon/notify, one file per type.
struct ReceiverTypeSpec {
  std::string_view name;
  ReceiverUrl url = ReceiverUrl::Required;
  /// The keys this type accepts beyond the common ones (name, type, url, url_file,
  /// send_resolved, msg_type, title, text, max_alerts, rate_limit and the HTTP endpoint keys);
  /// a key of another type is reported as `K: only <types> receivers accept this key, not T`.
  std::vector<std::string_view> keys;
  /// The message formats `msg_type` may name; empty: the type has no msg_type.
  std::vector<std::string> msg_types;
  /// Appended to "T receivers have no msg_type" (" (use parse_mode)").
  std::string_view msg_type_hint;
  /// Reads the type's own keys into `out` (its fields or `out.settings`), reporting problems
  /// through `keys`. Null when the type has no keys of its own.
  void (*read)(ReceiverKeys& keys, ReceiverConfig& out) = nullptr;
  /// Builds the receiver (see make_receiver in delivery.hpp).
  std::shared_ptr<const Receiver> (*make)(const ReceiverBuild& build) = nullptr;
};

/// Every receiver type, in the order the documentation lists them. Defined in daemon/notify.
const std::vector<ReceiverTypeSpec>& receiver_types();
/// The row named `name`; null for an unknown type.
const ReceiverTypeSpec* find_receiver_type(std::string_view name);

/// A node of the routing tree with every inherited field resolved.
struct RouteConfig {
  std::vector<Matcher> matchers;
  std::string receiver;
  std::vector<std::string> group_by;
  bool group_by_all = false;  ///< group_by = ["..."]
  Duration group_wait = std::chrono::seconds(30);
  Duration group_interval = std::chrono::minutes(5);
  Duration repeat_interval = std::chrono::hours(4);
  bool continue_matching = false;  ///< `continue`
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
  std::vector<RouteConfig> routes;
  SourcePos pos;
};

struct InhibitRuleConfig {
  std::vector<Matcher> source_matchers;
  std::vector<Matcher> target_matchers;
  std::vector<std::string> equal;
  SourcePos pos;
};

/// Alertmanager's time_intervals entry. Ranges are inclusive; an empty list means "any".
struct TimeRangeConfig {
  int start_minute = 0;  ///< minutes since midnight
  int end_minute = 0;    ///< exclusive, up to 1440
};
struct IntRange {
  int begin = 0;  ///< inclusive
  int end = 0;    ///< inclusive
};
struct TimeIntervalSpec {
  std::vector<TimeRangeConfig> times;
  std::vector<IntRange> weekdays;       ///< 0 = sunday .. 6 = saturday
  std::vector<IntRange> days_of_month;  ///< 1..31, or negative from the month's end
  std::vector<IntRange> months;         ///< 1..12
  std::vector<IntRange> years;
  std::string location = "UTC";         ///< IANA zone name
};
struct TimeIntervalConfig {
  std::string name;
  std::vector<TimeIntervalSpec> intervals;
  SourcePos pos;
};

struct StaticSilenceConfig {
  std::vector<Matcher> matchers;
  TimePoint starts_at;
  TimePoint ends_at;
  std::string comment;
  SourcePos pos;
};

enum class OnError { KeepState, Alerting };
enum class NoData { Ok, Alerting };

struct AlertRuleConfig {
  std::string alert;
  std::string expr;
  Duration for_duration{0};
  Duration keep_firing_for{0};
  /// Hysteresis (SPEC §3): while an alert fires, it keeps firing as long as its labels are in
  /// this expression's result. Empty: none.
  std::string keep_firing_expr;
  /// Flap detection (SPEC §3): `flap_threshold` counted state changes within `flap_window`
  /// mark an alert flapping. Both set (window > 0, threshold >= 2) or both zero (off).
  Duration flap_window{0};
  int flap_threshold = 0;
  TemplateMap labels;
  TemplateMap annotations;
  OnError on_error = OnError::KeepState;
  NoData no_data = NoData::Ok;
  SourcePos pos;
};

struct HeartbeatRuleConfig {
  std::string name;
  std::string expr;
  std::vector<std::string> by;
  Duration for_duration = std::chrono::minutes(2);
  Duration forget_after = std::chrono::hours(24);
  std::vector<Labels> expected;
  Labels labels;
  TemplateMap annotations;
  SourcePos pos;
};

struct RuleGroupConfig {
  std::string name;
  std::string file;  ///< the rule file, as an absolute path
  Duration interval{0};  ///< resolved: the group's, else global.evaluation_interval
  Duration query_offset{0};
  int limit = 0;
  Labels labels;
  std::vector<AlertRuleConfig> rules;
  std::vector<HeartbeatRuleConfig> heartbeats;
  SourcePos pos;
};

struct Config {
  std::string path;  ///< the main file, absolute
  GlobalConfig global;
  DatasourceConfig datasource;
  ServerConfig server;
  NotifyConfig notify;
  std::optional<DeadmanConfig> deadman;
  std::vector<AlertmanagerConfig> alertmanagers;
  std::optional<ClusterConfig> cluster;  ///< absent: a single replica, it always notifies
  std::optional<RemoteWriteConfig> remote_write;  ///< absent: nothing is written
  std::vector<ReceiverConfig> receivers;
  std::optional<RouteConfig> route;  ///< absent when no [route] table (then nothing is routed)
  std::vector<InhibitRuleConfig> inhibit_rules;
  std::vector<TimeIntervalConfig> time_intervals;
  std::vector<StaticSilenceConfig> silences;
  std::vector<RuleGroupConfig> groups;  ///< from all rule files, in file then declaration order
};

/// Looks up an environment variable; nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
/// The process environment.
EnvLookup process_environment();

struct LoadResult {
  std::optional<Config> config;  ///< set only when `errors` is empty
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;
};

/// Loads and validates `path` and the rule files it names. Reads files only; no network.
LoadResult load_config(const std::string& path, const EnvLookup& env = process_environment());

/// Every key the parsers accept, by the table that holds it, named as error messages name it
/// ("[datasource]", "[[receivers]]", "basic_auth", "[[groups.rules]]", "the main config"), for
/// the tables read by the loads this process has done so far. Thread-safe. For the test that
/// keeps docs/configuration.md complete.
std::map<std::string, std::set<std::string>> accepted_config_keys();

/// Redacts a URL for logs and messages: `scheme://host[:port]/…` (no path, query or userinfo).
std::string redact_url(std::string_view url);

}  // namespace promwatch
