// promwatch import: Prometheus rule files and alertmanager.yml to TOML, compared with
// checked-in goldens (tests/unit/golden/import/<input>.toml and .problems), and the TOML read
// back with toml++ to show that every string survived escaping exactly.
//
// Regenerate the goldens after an intended change with
//   PROMWATCH_UPDATE_GOLDENS=1 ./import_test
// and review the diff.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "promwatch/import.hpp"

namespace promwatch {
namespace {

namespace fs = std::filesystem;

fs::path golden_dir() { return fs::path(PROMWATCH_SOURCE_DIR) / "tests/unit/golden/import"; }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_golden(const fs::path& path, const std::string& actual) {
  if (std::getenv("PROMWATCH_UPDATE_GOLDENS")) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " missing: run with PROMWATCH_UPDATE_GOLDENS=1";
  EXPECT_EQ(read(path), actual) << "golden " << path << " differs (PROMWATCH_UPDATE_GOLDENS=1 regenerates; review the diff)";
}

std::string problems_text(const std::vector<ImportProblem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.to_string() + "\n";
  return out;
}

RulesImport import_rules_golden(const std::string& name) {
  const std::string text = read(golden_dir() / (name + ".yml"));
  RulesImport r = import_rule_file(name + ".yml", text);
  check_golden(golden_dir() / (name + ".toml"), r.toml);
  check_golden(golden_dir() / (name + ".problems"), problems_text(r.problems));
  return r;
}

toml::table parse_toml(const std::string& text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    ADD_FAILURE() << "output is not TOML: " << e.description() << " at line " << e.source().begin.line << "\n" << text;
    return {};
  }
}

TEST(ImportRules, NodeRulesGolden) {
  RulesImport r = import_rules_golden("node");
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].name, "node-exporter");
  EXPECT_EQ(r.groups[0].line, 4);
}

TEST(ImportRules, PrometheusRuleResourcesGolden) {
  RulesImport r = import_rules_golden("cert-manager");
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[1].name, "kubernetes-apps");
}

// Every alert name, expression, label and annotation reads back from the TOML exactly as
// yaml-cpp reads it from the YAML: escaping and multi-line strings lose nothing.
TEST(ImportRules, StringsRoundTripExactly) {
  for (const std::string name : {"node", "cert-manager"}) {
    const std::string text = read(golden_dir() / (name + ".yml"));
    const toml::table out = parse_toml(import_rule_file(name + ".yml", text).toml);
    const toml::array* groups = out["groups"].as_array();
    ASSERT_NE(groups, nullptr) << name;
    std::size_t gi = 0;
    for (const YAML::Node& doc : YAML::LoadAll(text)) {
      if (doc["kind"] && doc["kind"].as<std::string>() != "PrometheusRule") continue;
      YAML::Node yaml_groups = doc["kind"] ? doc["spec"]["groups"] : doc["groups"];
      if (!yaml_groups) continue;
      for (const auto& yg : yaml_groups) {
        ASSERT_LT(gi, groups->size());
        const toml::table& tg = *groups->get(gi++)->as_table();
        EXPECT_EQ(tg["name"].value<std::string>(), yg["name"].as<std::string>());
        const toml::array* rules = tg["rules"].as_array();
        std::size_t ri = 0;
        for (const auto& yr : yg["rules"]) {
          ASSERT_NE(rules, nullptr);
          ASSERT_LT(ri, rules->size());
          const toml::table& tr = *rules->get(ri++)->as_table();
          // Recording rules are carried over as recording rules (SPEC §3).
          const char* name_key = yr["record"] ? "record" : "alert";
          EXPECT_EQ(tr[name_key].value<std::string>(), yr[name_key].as<std::string>());
          EXPECT_FALSE(tr[yr["record"] ? "alert" : "record"]);
          EXPECT_EQ(tr["expr"].value<std::string>(), yr["expr"].as<std::string>());
          for (const char* m : {"labels", "annotations"}) {
            if (!yr[m]) continue;
            for (const auto& kv : yr[m]) {
              EXPECT_EQ(tr[m][kv.first.as<std::string>()].value<std::string>(), kv.second.as<std::string>())
                  << yr[name_key].as<std::string>() << " " << m << "." << kv.first.as<std::string>();
            }
          }
        }
      }
    }
  }
}

TEST(ImportRules, CommentsKeptAndBlockScalarLinesAreNotComments) {
  const RulesImport r = import_rule_file("c.yml",
                                         "# top\n"
                                         "groups:\n"
                                         "- name: g\n"
                                         "  rules:\n"
                                         "  # before the rule\n"
                                         "  - alert: A\n"
                                         "    # before expr\n"
                                         "    expr: up == 0\n"
                                         "    annotations:\n"
                                         "      d: |\n"
                                         "        # not a comment\n"
                                         "        text\n"
                                         "# end\n");
  EXPECT_TRUE(r.problems.empty()) << problems_text(r.problems);
  EXPECT_EQ(r.toml,
            "# top\n[[groups]]\nname = \"g\"\n\n# before the rule\n[[groups.rules]]\nalert = \"A\"\nexpr = \"up == 0\"\n"
            "# before expr\n[groups.rules.annotations]\nd = '''\n# not a comment\ntext\n'''\n# end\n");
}

TEST(ImportRules, RecordingRulesStayRecordingRules) {
  const RulesImport r = import_rule_file("r.yml",
                                         "groups:\n"
                                         "- name: g\n"
                                         "  rules:\n"
                                         "  # job error ratio\n"
                                         "  - record: job:errors:rate5m\n"
                                         "    expr: sum by (job) (rate(errors_total[5m]))\n"
                                         "    labels: {team: a}\n"
                                         "  - record: bad\n"
                                         "    expr: up\n"
                                         "    for: 5m\n"
                                         "    annotations: {a: b}\n"
                                         "  - record: noexpr\n");
  EXPECT_EQ(r.toml,
            "[[groups]]\nname = \"g\"\n\n# job error ratio\n[[groups.rules]]\nrecord = \"job:errors:rate5m\"\n"
            "expr = \"sum by (job) (rate(errors_total[5m]))\"\nlabels = { team = \"a\" }\n\n"
            "[[groups.rules]]\nrecord = \"bad\"\nexpr = \"up\"\n");
  EXPECT_EQ(problems_text(r.problems),
            "r.yml:10: recording rule \"bad\": `for` is not valid in a recording rule (Prometheus refuses it); not carried over\n"
            "r.yml:11: recording rule \"bad\": `annotations` is not valid in a recording rule (Prometheus refuses it); not "
            "carried over\n"
            "r.yml:12: recording rule \"noexpr\": no `expr`; skipped\n");
}

TEST(ImportRules, EndOfLineCommentsAreKept) {
  const RulesImport r = import_rule_file("c.yml",
                                         "groups:\n"
                                         "- name: g  # the node group\n"
                                         "  rules:\n"
                                         "  - alert: A # pages\n"
                                         "    expr: up == 0  # scrape failed\n"
                                         "    for: 5m\t# flaps otherwise\n"
                                         "    annotations:\n"
                                         "      summary: it's down # the apostrophe opens no quote\n"
                                         "      url: 'http://x/#anchor' # after a quoted value\n"
                                         "      hash: \"a # b\"\n"
                                         "      d: |  # a block scalar\n"
                                         "        text # inside the block\n");
  EXPECT_TRUE(r.problems.empty()) << problems_text(r.problems);
  EXPECT_EQ(r.toml,
            "# the node group\n[[groups]]\nname = \"g\"\n\n# pages\n[[groups.rules]]\nalert = \"A\"\nexpr = \"up == 0\"\n"
            "for = \"5m\"\n# scrape failed\n# flaps otherwise\n# the apostrophe opens no quote\n# after a quoted value\n"
            "# a block scalar\n[groups.rules.annotations]\nsummary = \"it's down\"\nurl = \"http://x/#anchor\"\n"
            "hash = \"a # b\"\nd = '''\ntext # inside the block\n'''\n")
      << r.toml;
}

TEST(ImportAlertmanager, EndOfLineCommentsAreKept) {
  const AlertmanagerImport r = import_alertmanager("a.yml",
                                                   "route:\n"
                                                   "  receiver: w  # everything else\n"
                                                   "  routes:\n"
                                                   "    - receiver: w # the database team\n"
                                                   "      matchers: [team=\"db\"]  # only theirs\n"
                                                   "receivers:\n"
                                                   "- name: w\n"
                                                   "  webhook_configs:\n"
                                                   "  - url_file: /run/url # from systemd\n"
                                                   "    send_resolved: false # noisy\n");
  EXPECT_TRUE(r.problems.empty()) << problems_text(r.problems);
  for (const char* c : {"# everything else\n", "# the database team\n", "# only theirs\n", "# from systemd\n", "# noisy\n"}) {
    EXPECT_NE(r.toml.find(c), std::string::npos) << c << " missing from\n" << r.toml;
  }
  parse_toml(r.toml);
}

TEST(ImportRules, BadInputIsListedWithItsLine) {
  const RulesImport bad_yaml = import_rule_file("b.yml", "groups:\n  - name: [\n");
  ASSERT_EQ(bad_yaml.problems.size(), 1u);
  EXPECT_EQ(bad_yaml.problems[0].line, 3);
  EXPECT_NE(bad_yaml.problems[0].to_string().find("b.yml:3: invalid YAML"), std::string::npos)
      << bad_yaml.problems[0].to_string();

  const RulesImport r = import_rule_file("b.yml",
                                         "groups:\n"
                                         "- name: g\n"
                                         "  rules:\n"
                                         "  - alert: ''\n"
                                         "    expr: up\n"
                                         "  - alert: NoExpr\n"
                                         "  - alert: A\n"
                                         "    record: r\n"
                                         "    expr: up\n"
                                         "  - alert: B\n"
                                         "    expr: up\n"
                                         "    lables: {a: b}\n");
  EXPECT_EQ(problems_text(r.problems),
            "b.yml:4: group \"g\": rule without `alert` (or with an empty one); skipped\n"
            "b.yml:6: alert \"NoExpr\": no `expr`; skipped\n"
            "b.yml:7: rule has both `alert` and `record` (Prometheus rejects it); skipped\n"
            "b.yml:12: alert \"B\": unknown key \"lables\"; not carried over\n");
  EXPECT_EQ(import_rule_file("e.yml", "").problems.at(0).to_string(), "e.yml: no rule groups found; nothing carried over");
  // A repeated key is refused as Go's YAML refuses it (both kept would be a TOML key written
  // twice; the import fuzzer found it in a time interval).
  const AlertmanagerImport dup = import_alertmanager(
      "d.yml", "time_intervals:\n- name: x\n  time_intervals:\n  - times: [{start_time: '01:00', end_time: '02:00'}]\n"
               "    times: [{start_time: '03:00', end_time: '04:00'}]\n");
  EXPECT_NE(problems_text(dup.problems).find("d.yml:5: invalid YAML: mapping key \"times\" already defined at line 4"),
            std::string::npos)
      << problems_text(dup.problems);
  EXPECT_NO_THROW((void)toml::parse(dup.toml));
  // Not UTF-8: nothing at all is written (TOML must be UTF-8, comments included).
  const RulesImport latin1 = import_rule_file("l.yml", "# caf\xe9\ngroups: []\n");
  EXPECT_EQ(latin1.toml, "");
  EXPECT_EQ(problems_text(latin1.problems), "l.yml:1: not valid UTF-8; nothing carried over\n");
}

TEST(ImportAlertmanager, Golden) {
  const std::string text = read(golden_dir() / "alertmanager.yml");
  const AlertmanagerImport r = import_alertmanager("alertmanager.yml", text, {});
  check_golden(golden_dir() / "alertmanager.toml", r.toml);
  check_golden(golden_dir() / "alertmanager.problems", problems_text(r.problems));
  parse_toml(r.toml);
  // Literal secrets leave the output; the user is told which file holds which.
  for (const char* secret : {"s3cret", "XXXX", "webhook/abc", "127.0.0.1:9999", "webhooks/1/x"}) {
    EXPECT_EQ(r.toml.find(secret), std::string::npos) << secret;
  }
  // ... the keys of the paging and push receivers too (Alertmanager's webex bot token is
  // its http_config.authorization).
  for (const char* secret : {"uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "mail-s3cret", "webex-bot-token", "rc-token"}) {
    EXPECT_EQ(r.toml.find(secret), std::string::npos) << secret;
  }
  std::map<std::string, std::string> secret_files;
  for (const auto& s : r.secrets) secret_files[s.path] = s.value;
  EXPECT_EQ(r.secrets.size(), secret_files.size()) << "one file per secret";
  EXPECT_EQ(r.secrets[0].path, "secrets/default-webhook.url");
  EXPECT_EQ(r.secrets[0].value, "http://127.0.0.1:9999/hook");
  EXPECT_EQ(r.secrets[0].source, "alertmanager.yml:41 url");
  EXPECT_EQ(r.secrets[1].path, "secrets/default-webhook.password");
  EXPECT_EQ(r.secrets[2].value, "https://hooks.slack.com/services/T000/B000/XXXX");
  EXPECT_EQ(secret_files["secrets/pager.routing_key"], "abc");
  EXPECT_EQ(secret_files["secrets/phone.user_key"], "uQiRzpo4DXghDmr9QzzfQu27cmVRsG");
  EXPECT_EQ(secret_files["secrets/mail.auth_password"], "mail-s3cret");
  EXPECT_EQ(secret_files["secrets/chatops.bot_token"], "webex-bot-token");
  EXPECT_EQ(secret_files["secrets/chatops_rocketchat.token"], "rc-token");
  EXPECT_EQ(secret_files["secrets/chatops_rocketchat.token_id"], "uid");
  EXPECT_EQ(r.secrets.size(), 12u);
}

TEST(ImportAlertmanager, SecretsDirAndBearerToken) {
  AlertmanagerImportOptions options;
  options.secrets_dir = "/etc/promwatch/secrets/";
  const AlertmanagerImport r = import_alertmanager("a.yml",
                                                   "route: {receiver: w}\n"
                                                   "receivers:\n"
                                                   "- name: w h\n"
                                                   "  webhook_configs:\n"
                                                   "  - url_file: /run/url\n"
                                                   "    http_config: {bearer_token: tok}\n",
                                                   options);
  EXPECT_NE(r.toml.find("url_file = \"/run/url\"\n"), std::string::npos) << r.toml;
  EXPECT_NE(r.toml.find("authorization = { credentials_file = \"/etc/promwatch/secrets/w_h.credentials\" }"),
            std::string::npos)
      << r.toml;
  ASSERT_EQ(r.secrets.size(), 1u);
  EXPECT_EQ(r.secrets[0].value, "tok");
}

}  // namespace
}  // namespace promwatch
