#pragma once
/// \file
/// The application: the commands of SPEC §1 and the wiring of every component into the daemon.
/// `daemon/main.cpp` parses the command line and calls these; nothing else lives there.
///
/// Exit codes (SPEC §1): 0 success, 1 invalid input (config, rules, arguments), 2 runtime failure.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "promwatch/config.hpp"
#include "promwatch/delivery.hpp"
#include "promwatch/rules.hpp"
#include "promwatch/template.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalidInput = 1;
inline constexpr int kExitRuntimeFailure = 2;

enum class LogFormat { Text, Json };

/// Sets up the process-wide logger on stderr. `level` is debug|info|warn|error. Under journald
/// (JOURNAL_STREAM set) text lines carry no timestamp and use `<N>` syslog level prefixes.
void setup_logging(const std::string& level, LogFormat format);

/// A configuration loaded, validated and compiled into the runtime's values: everything
/// `promwatch check` verifies, and what a reload swaps in.
struct CompiledConfig {
  Config config;
  std::vector<RuleGroup> groups;  ///< parallel to config.groups
  TemplateLibrary template_library;
  /// Compiled receiver title/text templates, by receiver index (nullopt when not set).
  std::vector<std::optional<Template>> receiver_titles;
  std::vector<std::optional<Template>> receiver_texts;
  std::vector<std::optional<Template>> receiver_htmls;  ///< email's `html`
  /// The compiled templates of receiver `i` (pointers into this object).
  ReceiverTemplates receiver_templates(std::size_t i) const;
  std::optional<Template> generator_url;
};

struct CompileResult {
  std::optional<CompiledConfig> compiled;  ///< set only when errors is empty
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;
};

/// Loads `path` with its rule files and compiles every template (rules, receivers,
/// notify.templates, generator_url). Reads files only; touches no network.
CompileResult compile_config(const std::string& path, const EnvLookup& env = process_environment());

/// `promwatch check`: prints every problem as `file:line:col: message` to `out` and a summary;
/// returns kExitOk when valid, kExitInvalidInput otherwise.
int run_check(const std::string& config_path, std::ostream& out);

struct EvalOptions {
  std::string config_path;
  std::string group;  ///< only this group (empty: all)
  std::string rule;   ///< only rules with this alert name (empty: all)
  std::optional<TimePoint> at;  ///< evaluation time; default now
};
/// `promwatch eval`: evaluates the selected rules once against the datasource and prints each
/// result and the alerts that would be pending or firing at that time. Sends nothing, writes
/// no state.
int run_eval(const EvalOptions& options, std::ostream& out);

struct BacktestOptions {
  std::string config_path;
  std::string rule;  ///< alert name, or GROUP/ALERT (see find_backtest_rule)
  TimePoint from{};
  TimePoint to{};
  std::string html_path;  ///< `--html FILE`; empty: no page
  bool json = false;      ///< `--output json`
};
/// `promwatch backtest` (SPEC §1): fetches the rule's query over [from, to] with range queries
/// at the group interval, replays it through the state machine and the dispatcher on a virtual
/// clock (promwatch/backtest.hpp) and prints the report to `out` (text or JSON), the HTML page
/// to `html_path`. Problems go to `err`: invalid config or arguments return kExitInvalidInput,
/// datasource failures and an unwritable page kExitRuntimeFailure. Sends no notification,
/// writes no state.
int run_backtest(const BacktestOptions& options, std::ostream& out, std::ostream& err);

/// `promwatch test-receiver`: sends one sample notification to receiver `name` and prints the
/// platform's answer; kExitOk only when the platform accepted it.
int run_test_receiver(const std::string& config_path, const std::string& name, bool resolved, std::ostream& out);

/// Runs the daemon in the foreground until SIGTERM/SIGINT. SIGHUP reloads.
int run_daemon(const std::string& config_path);

}  // namespace promwatch
