#pragma once
/// \file
/// `promwatch import`: converts Prometheus rule files (and Kubernetes PrometheusRule
/// resources) and an Alertmanager configuration to promwatch's TOML (SPEC §1–§3).
///
/// The converters are pure functions from YAML text to TOML text plus a list of what could
/// not be carried over; they read no files and touch no network. `run_import` is the command
/// line around them (reads inputs, writes outputs). Everything here is single-threaded and
/// owns its results; nothing throws: bad YAML becomes a problem with its line.

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace promwatch {

/// Something that was not carried over (or only partly): printed as `file:line: reason`.
/// A note (`left_out == false`) says how something was carried over differently, e.g. a
/// setting promwatch does not need; notes do not make the exit code 1.
struct ImportProblem {
  std::string file;
  int line = 0;  ///< 1-based; 0 when the problem is about the whole file
  std::string reason;
  bool left_out = true;
  std::string to_string() const;  ///< `file:line: reason`, `file:line: note: reason` for notes
};

/// A rule group written to the output, for the cross-file uniqueness check.
struct ImportedGroup {
  std::string name;
  int line = 0;
};

struct RulesImport {
  std::string toml;  ///< the rule file in SPEC §3 format (may be empty of groups)
  std::vector<ImportProblem> problems;
  std::vector<ImportedGroup> groups;
};

/// Converts one Prometheus rule file (`groups:`) or PrometheusRule resource (`spec.groups`),
/// which may hold several YAML documents. `path` names the file in problems and comments.
/// Comments on their own lines are kept before the group or rule they precede.
RulesImport import_rule_file(const std::string& path, std::string_view yaml_text);

/// A secret the Alertmanager config held literally: the output refers to `path` (a `*_file`
/// key), and the user must create that file with the secret. `value` is the secret itself,
/// only for `--write-secrets`; never print it.
struct ImportedSecret {
  std::string path;    ///< as written into the output
  std::string source;  ///< `file:line` and the YAML key it came from
  std::string value;
};

struct AlertmanagerImportOptions {
  /// Directory written in front of each secret file name (relative paths resolve against the
  /// main config's directory, as promwatch resolves every `*_file`).
  std::string secrets_dir = "secrets";
};

struct AlertmanagerImport {
  std::string toml;  ///< `[[receivers]]`, `[route]`, `[[inhibit_rules]]`, `[[time_intervals]]`, `[notify]`
  std::vector<ImportProblem> problems;
  std::vector<ImportedSecret> secrets;
};

/// Converts an alertmanager.yml (Alertmanager 0.25+ keys, and the deprecated `match`,
/// `match_re`, `source_match*`, `target_match*`, `mute_time_intervals` spellings).
AlertmanagerImport import_alertmanager(const std::string& path, std::string_view yaml_text,
                                       const AlertmanagerImportOptions& options = {});

/// `promwatch import rules FILE.yml... [--out DIR]` and
/// `promwatch import alertmanager FILE.yml [--out FILE] [--write-secrets DIR]`; `args` are the
/// words after `import`. Output goes to `out` (or the files), problems and instructions to
/// `err`. Returns 0 when everything was carried over, 1 when something was left out or the
/// arguments or inputs are bad, 2 when an output could not be written.
int run_import(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace promwatch
