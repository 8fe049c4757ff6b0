// The `promwatch import` command line: reads the inputs, writes the outputs, lists problems.

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>

#include "promwatch/import.hpp"

namespace promwatch {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImportUsage = R"(Usage:
  promwatch import rules FILE.yml... [--out DIR]
      Prometheus rule files or PrometheusRule resources to promwatch rule files (TOML).
      With --out, writes DIR/<name>.toml per input; without, prints them with a "# file:" line each.
  promwatch import alertmanager alertmanager.yml [--out FILE] [--write-secrets DIR]
      An Alertmanager config to promwatch's receivers, route, inhibit rules and time intervals.
      Secrets become *_file references; --write-secrets DIR writes those files (mode 0600).
What cannot be carried over is listed as file:line: reason on stderr, and the exit code is 1.
)";

bool read_text(const std::string& path, std::string& out, std::ostream& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << "promwatch import: cannot read " << path << "\n";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool write_text(const fs::path& path, const std::string& text, std::ostream& err, bool secret = false) {
  if (secret) {
    // Created private from the start, not chmod-ed after the secret is in it.
    const mode_t old = ::umask(077);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    ::umask(old);
    f << text << "\n";
    if (!f.flush()) {
      err << "promwatch import: cannot write " << path.string() << "\n";
      return false;
    }
    return true;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) {
    err << "promwatch import: cannot write " << path.string() << "\n";
    return false;
  }
  return true;
}

int report(const std::vector<ImportProblem>& problems, std::ostream& err) {
  bool left_out = false;
  for (const auto& p : problems) {
    err << p.to_string() << "\n";
    left_out = left_out || p.left_out;
  }
  return left_out ? 1 : 0;
}

int import_rules(const std::vector<std::string>& files, const std::string& out_dir, std::ostream& out,
                 std::ostream& err) {
  if (files.empty()) {
    err << "promwatch import rules: name at least one rule file\n" << kImportUsage;
    return 1;
  }
  if (!out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) {
      err << "promwatch import: cannot create " << out_dir << ": " << ec.message() << "\n";
      return 2;
    }
  }
  std::vector<ImportProblem> problems;
  std::map<std::string, std::string> group_file;  // group name -> "file:line" where first seen
  std::map<std::string, std::string> written;     // output path -> input
  bool failed_write = false;
  bool unreadable = false;
  for (const auto& file : files) {
    std::string text;
    if (!read_text(file, text, err)) {
      unreadable = true;
      continue;
    }
    RulesImport r = import_rule_file(file, text);
    for (const auto& g : r.groups) {
      const std::string here = file + ":" + std::to_string(g.line);
      auto [it, inserted] = group_file.emplace(g.name, here);
      if (!inserted) {
        r.problems.push_back({file, g.line,
                              "group \"" + g.name + "\" is also defined at " + it->second +
                                  ": promwatch needs group names unique across all rule files; rename one"});
      }
    }
    const std::string header = "# Imported from " + fs::path(file).filename().string() + " by `promwatch import rules`.\n";
    if (out_dir.empty()) {
      out << "# file: " << file << "\n" << header << r.toml << "\n";
    } else {
      fs::path target = fs::path(out_dir) / fs::path(file).stem();
      target += ".toml";
      if (auto [it, inserted] = written.emplace(target.string(), file); !inserted) {
        // Two inputs with the same base name (a/node.yml, b/node.yml) must not overwrite each other.
        for (int n = 2;; ++n) {
          fs::path alt = fs::path(out_dir) / (fs::path(file).stem().string() + "-" + std::to_string(n) + ".toml");
          if (written.emplace(alt.string(), file).second) {
            target = alt;
            break;
          }
        }
      }
      if (!write_text(target, header + r.toml, err)) {
        failed_write = true;
      } else {
        err << "wrote " << target.string() << "\n";
      }
    }
    problems.insert(problems.end(), r.problems.begin(), r.problems.end());
  }
  const int rc = report(problems, err);
  return failed_write ? 2 : unreadable ? 1 : rc;
}

int import_alertmanager_file(const std::string& file, const std::string& out_file, const std::string& secrets_dir,
                             std::ostream& out, std::ostream& err) {
  std::string text;
  if (!read_text(file, text, err)) return 1;
  AlertmanagerImportOptions options;
  // The references must find the files whatever the main config's directory is (promwatch
  // resolves relative *_file paths against it), so a written directory is named absolutely.
  if (!secrets_dir.empty()) options.secrets_dir = fs::absolute(secrets_dir).lexically_normal().string();
  AlertmanagerImport r = import_alertmanager(file, text, options);
  const std::string header = "# Imported from " + fs::path(file).filename().string() +
                             " by `promwatch import alertmanager`: add [global] and [datasource] (SPEC §2).\n";
  if (out_file.empty()) {
    out << header << r.toml;
  } else if (!write_text(out_file, header + r.toml, err)) {
    return 2;
  }
  if (!r.secrets.empty()) {
    if (!secrets_dir.empty()) {
      std::error_code ec;
      fs::create_directories(secrets_dir, ec);
      ::chmod(secrets_dir.c_str(), 0700);
      for (const auto& s : r.secrets) {
        if (!write_text(s.path, s.value, err, true)) return 2;
        err << "wrote secret " << s.path << " (from " << s.source << ")\n";
      }
    } else {
      err << "The secrets of " << file << " are not in the output. Create these files (one secret each, mode 0600;\n"
          << "relative paths are relative to the main config's directory), or rerun with --write-secrets DIR:\n";
      for (const auto& s : r.secrets) err << "  " << s.path << ": the value of " << s.source << "\n";
    }
  }
  return report(r.problems, err);
}

}  // namespace

int run_import(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    (args.empty() ? err : out) << kImportUsage;
    return args.empty() ? 1 : 0;
  }
  const std::string kind = args[0];
  std::string out_path, secrets_dir;
  std::vector<std::string> files;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string word = args[i];
    std::string* into = nullptr;
    std::string inline_value;
    bool has_inline = false;
    if (word.rfind("--", 0) == 0) {
      if (auto eq = word.find('='); eq != std::string::npos) {
        inline_value = word.substr(eq + 1);
        word = word.substr(0, eq);
        has_inline = true;
      }
    }
    if (word == "--out") {
      into = &out_path;
    } else if (word == "--write-secrets" && kind == "alertmanager") {
      into = &secrets_dir;
    } else if (word == "-h" || word == "--help") {
      out << kImportUsage;
      return 0;
    } else if (!word.empty() && word[0] == '-') {
      err << "promwatch import: unknown option " << word << "\n" << kImportUsage;
      return 1;
    } else {
      files.push_back(word);
      continue;
    }
    if (has_inline) {
      *into = inline_value;
    } else if (i + 1 < args.size()) {
      *into = args[++i];
    } else {
      err << "promwatch import: option " << word << " needs a value\n";
      return 1;
    }
  }
  if (kind == "rules") return import_rules(files, out_path, out, err);
  if (kind == "alertmanager") {
    if (files.size() != 1) {
      err << "promwatch import alertmanager: name exactly one alertmanager.yml\n" << kImportUsage;
      return 1;
    }
    return import_alertmanager_file(files[0], out_path, secrets_dir, out, err);
  }
  err << "promwatch import: expected \"rules\" or \"alertmanager\", got \"" << kind << "\"\n" << kImportUsage;
  return 1;
}

}  // namespace promwatch
