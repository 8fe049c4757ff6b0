// promwatch's command line. Everything else lives in the app component (promwatch/app.hpp).

#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "promwatch/app.hpp"
#include "promwatch/import.hpp"

namespace {

constexpr const char* kUsage = R"(promwatch: PromQL alerting rules against a Prometheus-compatible API, with notifications.

Usage:
  promwatch --config FILE                        run the daemon in the foreground
  promwatch check --config FILE                  validate config, rule files and templates
  promwatch eval --config FILE [--group G] [--rule R] [--time RFC3339|unix]
                                                 evaluate rules once and print the alerts
  promwatch backtest --config FILE --rule R --from T --to T [--html FILE] [--output text|json]
                                                 replay rule R (alert name or GROUP/ALERT) over past
                                                 data through the state machine and routing: its
                                                 states and the notifications it would have sent;
                                                 T is RFC 3339 or Unix seconds; --html FILE writes
                                                 a picture of it
  promwatch test-receiver --config FILE NAME [--resolved]
                                                 send one sample notification to receiver NAME
  promwatch import rules FILE.yml... [--out DIR]
                                                 convert Prometheus rule files to promwatch TOML
  promwatch import alertmanager FILE.yml [--out FILE] [--write-secrets DIR]
                                                 convert an Alertmanager config to promwatch TOML

Options:
  -c, --config FILE          main configuration file (TOML)
      --log-level LEVEL      debug | info | warn | error (default info)
      --log-format FORMAT    text | json (default text)
      --version              print the version and exit
  -h, --help                 print this help and exit

Exit codes: 0 success, 1 invalid input, 2 runtime failure.
)";

struct Args {
  std::string command = "run";
  std::string config;
  std::string group;
  std::string rule;
  std::string time;
  std::string from;
  std::string to;
  std::string html;
  std::string output = "text";
  std::string log_level = "info";
  std::string log_format = "text";
  bool resolved = false;
  std::vector<std::string> positional;
};

int usage_error(const std::string& message) {
  std::cerr << "promwatch: " << message << "\nRun 'promwatch --help' for usage.\n";
  return promwatch::kExitInvalidInput;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::vector<std::string> words(argv + 1, argv + argc);
  // `import` has its own options (--out, --write-secrets) and needs no --config.
  if (!words.empty() && words[0] == "import") {
    return promwatch::run_import(std::vector<std::string>(words.begin() + 1, words.end()), std::cout, std::cerr);
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i];
    std::optional<std::string> inline_value;
    if (word.rfind("--", 0) == 0) {
      if (auto eq = word.find('='); eq != std::string::npos) {
        inline_value = word.substr(eq + 1);
        word = word.substr(0, eq);
      }
    }
    auto value = [&](std::string& into) -> bool {
      if (inline_value) {
        into = *inline_value;
        return true;
      }
      if (i + 1 >= words.size()) return false;
      into = words[++i];
      return true;
    };
    if (word == "-h" || word == "--help") {
      std::cout << kUsage;
      return promwatch::kExitOk;
    }
    if (word == "--version") {
      std::cout << "promwatch " << PROMWATCH_VERSION << "\n";
      return promwatch::kExitOk;
    }
    bool ok = true;
    if (word == "-c" || word == "--config") {
      ok = value(args.config);
    } else if (word == "--log-level") {
      ok = value(args.log_level);
    } else if (word == "--log-format") {
      ok = value(args.log_format);
    } else if (word == "--group") {
      ok = value(args.group);
    } else if (word == "--rule") {
      ok = value(args.rule);
    } else if (word == "--time") {
      ok = value(args.time);
    } else if (word == "--from") {
      ok = value(args.from);
    } else if (word == "--to") {
      ok = value(args.to);
    } else if (word == "--html") {
      ok = value(args.html);
    } else if (word == "--output") {
      ok = value(args.output);
    } else if (word == "--resolved") {
      args.resolved = true;
    } else if (!word.empty() && word[0] == '-') {
      return usage_error("unknown option " + word);
    } else if (i == 0 && (word == "check" || word == "eval" || word == "backtest" || word == "test-receiver" ||
                                word == "run")) {
      args.command = word;
    } else {
      args.positional.push_back(word);
    }
    if (!ok) return usage_error("option " + word + " needs a value");
  }

  if (args.log_level != "debug" && args.log_level != "info" && args.log_level != "warn" && args.log_level != "error") {
    return usage_error("--log-level must be debug, info, warn or error");
  }
  if (args.log_format != "text" && args.log_format != "json") return usage_error("--log-format must be text or json");
  promwatch::setup_logging(args.log_level,
                           args.log_format == "json" ? promwatch::LogFormat::Json : promwatch::LogFormat::Text);
  if (args.config.empty()) return usage_error("--config FILE is required");

  if (args.command == "check") {
    if (!args.positional.empty()) return usage_error("unexpected argument " + args.positional.front());
    return promwatch::run_check(args.config, std::cout);
  }
  if (args.command == "eval") {
    if (!args.positional.empty()) return usage_error("unexpected argument " + args.positional.front());
    promwatch::EvalOptions options;
    options.config_path = args.config;
    options.group = args.group;
    options.rule = args.rule;
    if (!args.time.empty()) {
      options.at = promwatch::parse_time(args.time);
      if (!options.at) return usage_error("--time must be RFC 3339 or Unix seconds, got \"" + args.time + "\"");
    }
    return promwatch::run_eval(options, std::cout);
  }
  if (args.command == "backtest") {
    if (!args.positional.empty()) return usage_error("unexpected argument " + args.positional.front());
    promwatch::BacktestOptions options;
    options.config_path = args.config;
    options.rule = args.rule;
    options.html_path = args.html;
    if (args.rule.empty()) return usage_error("backtest needs --rule R");
    if (args.from.empty() || args.to.empty()) return usage_error("backtest needs --from T and --to T");
    auto from = promwatch::parse_time(args.from);
    if (!from) return usage_error("--from must be RFC 3339 or Unix seconds, got \"" + args.from + "\"");
    auto to = promwatch::parse_time(args.to);
    if (!to) return usage_error("--to must be RFC 3339 or Unix seconds, got \"" + args.to + "\"");
    if (*from > *to) return usage_error("--from must not be after --to");
    if (args.output != "text" && args.output != "json") return usage_error("--output must be text or json");
    options.from = *from;
    options.to = *to;
    options.json = args.output == "json";
    return promwatch::run_backtest(options, std::cout, std::cerr);
  }
  if (args.command == "test-receiver") {
    if (args.positional.size() != 1) return usage_error("test-receiver takes exactly one receiver NAME");
    return promwatch::run_test_receiver(args.config, args.positional.front(), args.resolved, std::cout);
  }
  if (!args.positional.empty()) return usage_error("unexpected argument " + args.positional.front());
  return promwatch::run_daemon(args.config);
}
