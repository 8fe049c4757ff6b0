// Differential test of PromQL validation: every expression of tests/promql/corpus.txt is judged
// by Prometheus's own parser (`promtool check rules`, Debian's Prometheus 2.42, one run over a
// generated rule file) and by promwatch, both in-process (promql::check) and through the real
// binary (`promwatch check` on the same expressions as a TOML rule file). The verdicts must be
// the same for every expression; the messages are Prometheus's nearly everywhere, and the
// positions `promwatch check` prints point at the same character promtool names.
//
// tests/promql/corpus_3x.txt holds syntax that only Prometheus 3.x knows, so promtool 2.42
// cannot judge it; each line carries the verdict of the 3.x documentation instead.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "promwatch/promql.hpp"
#include "support/process.hpp"

namespace promwatch::test {
namespace {

struct Case {
  std::string expr;
  bool expect_valid = true;  // corpus_3x only
};

std::vector<Case> read_corpus(const std::string& name, bool with_verdicts) {
  std::ifstream in(source_dir() / "tests" / "promql" / name);
  EXPECT_TRUE(in) << name;
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("##")) continue;
    Case c;
    if (with_verdicts) {
      const auto tab = line.find('\t');
      EXPECT_NE(tab, std::string::npos) << line;
      if (tab == std::string::npos) continue;
      const std::string verdict = line.substr(0, tab);
      EXPECT_TRUE(verdict == "valid" || verdict == "invalid") << line;
      c.expect_valid = verdict == "valid";
      c.expr = line.substr(tab + 1);
    } else {
      c.expr = line;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// A TOML basic string holding `s` exactly.
std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 && c != '\t') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool plain_ascii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80 || c == '"' || c == '\\' || c < 0x20) return false;
  }
  return true;
}

// "line:col: parse error: message" as Prometheus prints it, from promwatch's parser; "" if valid.
std::string promwatch_verdict(const std::string& expr) {
  const promql::CheckResult r = promql::check(expr);
  if (r.ok()) return "";
  const promql::LineColumn lc = promql::line_column(expr, r.error->offset);
  return std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": parse error: " + r.error->message;
}

class PromqlDifferential : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cases_ = new std::vector<Case>(read_corpus("corpus.txt", false));
    cases_3x_ = new std::vector<Case>(read_corpus("corpus_3x.txt", true));
  }
  static void TearDownTestSuite() {
    delete cases_;
    delete cases_3x_;
  }
  static std::vector<Case>* cases_;
  static std::vector<Case>* cases_3x_;
};
std::vector<Case>* PromqlDifferential::cases_ = nullptr;
std::vector<Case>* PromqlDifferential::cases_3x_ = nullptr;

TEST_F(PromqlDifferential, SameVerdictsAsPromtool) {
  const auto& cases = *cases_;
  ASSERT_GE(cases.size(), 400u);

  // One rule file, one promtool run; rule N of group "g" is expression N-1.
  TempDir dir;
  std::string yaml = "groups:\n- name: g\n  rules:\n";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    yaml += "  - alert: e" + std::to_string(i) + "\n    expr: " + nlohmann::json(cases[i].expr).dump() + "\n";
  }
  const auto rules = dir.write("rules.yml", yaml);
  std::string out;
  const int rc = run_command({"/usr/bin/promtool", "check", "rules", rules.string()}, &out, std::chrono::seconds(120));
  ASSERT_EQ(rc, 1) << out.substr(0, 2000);
  std::map<std::size_t, std::string> rejected;  // index -> "line:col: parse error: ..."
  const std::regex failing(R"(rule (\d+), "e\d+": could not parse expression: (.*))");
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, failing)) rejected[std::stoul(m[1]) - 1] = m[2];
  }
  ASSERT_GT(rejected.size(), 100u) << "promtool's output was not understood:\n" << out.substr(0, 2000);

  std::size_t same_message = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string mine = promwatch_verdict(cases[i].expr);
    const auto it = rejected.find(i);
    const bool promtool_rejects = it != rejected.end();
    EXPECT_EQ(!mine.empty(), promtool_rejects)
        << "expression: " << cases[i].expr << "\n  promtool:  " << (promtool_rejects ? it->second : "valid")
        << "\n  promwatch: " << (mine.empty() ? "valid" : mine);
    if (promtool_rejects && mine == it->second) ++same_message;
  }
  std::cout << cases.size() << " expressions, promtool rejects " << rejected.size() << "; promwatch gives the same "
            << "verdict on all that passed above and the same line:col and message on " << same_message << "\n";
  // The few messages that differ are documented in the unit tests (regex wording, 3.x forms).
  EXPECT_GE(same_message * 100, rejected.size() * 95);
}

TEST_F(PromqlDifferential, Prometheus3SyntaxHasItsDocumentedVerdicts) {
  for (const Case& c : *cases_3x_) {
    const std::string mine = promwatch_verdict(c.expr);
    EXPECT_EQ(mine.empty(), c.expect_valid) << c.expr << ": " << (mine.empty() ? "valid" : mine);
  }
}

// The same expressions through the real binary: `promwatch check` on a TOML rule file rejects
// exactly the rules the parser rejects, at the position inside the file the parser names.
TEST_F(PromqlDifferential, PromwatchCheckReportsTheSameRulesAtTheirPlace) {
  TempDir dir;
  std::string toml;
  int line = 0;
  std::map<int, std::size_t> expr_line;  // file line of `expr = ...` -> index into `all`
  std::vector<Case> all = *cases_;
  all.insert(all.end(), cases_3x_->begin(), cases_3x_->end());
  auto add = [&](const std::string& text) {
    toml += text + "\n";
    ++line;
  };
  add("[[groups]]");
  add("name = \"corpus\"");
  for (std::size_t i = 0; i < all.size(); ++i) {
    add("[[groups.rules]]");
    add("alert = \"e" + std::to_string(i) + "\"");
    add("expr = " + toml_string(all[i].expr));
    expr_line[line] = i;
  }
  dir.write("rules.toml", toml);
  const auto config = dir.write("promwatch.toml", "[global]\nrule_files = [\"rules.toml\"]\n[datasource]\nurl = "
                                                  "\"http://127.0.0.1:9\"\n");
  std::string out;
  EXPECT_EQ(run_command({promwatch_binary(), "check", "--config", config.string()}, &out), 1);

  const std::string prefix = (dir.path() / "rules.toml").string() + ":";
  std::map<std::size_t, std::pair<int, std::string>> reported;  // index -> (column, message)
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);) {
    if (!l.starts_with(prefix)) continue;
    const std::regex shape(R"((\d+):(\d+): expr: parse error: (.*))");
    std::smatch m;
    const std::string rest = l.substr(prefix.size());
    ASSERT_TRUE(std::regex_match(rest, m, shape)) << l;
    const auto it = expr_line.find(std::stoi(m[1]));
    ASSERT_NE(it, expr_line.end()) << l;
    reported[it->second] = {std::stoi(m[2]), m[3]};
  }
  std::size_t positions_checked = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const promql::CheckResult r = promql::check(all[i].expr);
    const auto it = reported.find(i);
    ASSERT_EQ(it != reported.end(), !r.ok()) << all[i].expr;
    if (r.ok()) continue;
    EXPECT_EQ(it->second.second, r.error->message) << all[i].expr;
    if (plain_ascii(all[i].expr)) {
      // `expr = "` puts the first character of the expression in column 9.
      EXPECT_EQ(it->second.first, 9 + static_cast<int>(r.error->offset)) << all[i].expr;
      ++positions_checked;
    }
  }
  EXPECT_GT(positions_checked, 100u);
}

}  // namespace
}  // namespace promwatch::test
