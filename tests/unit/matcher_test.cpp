// Alertmanager matchers and PromQL selectors: parsing, matching, error sentences.

#include "promwatch/matcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace promwatch {
namespace {

Matcher parse_ok(std::string_view text) {
  std::string error;
  auto m = Matcher::parse(text, &error);
  EXPECT_TRUE(m.has_value()) << text << ": " << error;
  if (!m) return *Matcher::make(MatchType::Equal, "x", "x", nullptr);
  return *m;
}

std::string parse_error(std::string_view text) {
  std::string error;
  auto m = Matcher::parse(text, &error);
  EXPECT_FALSE(m.has_value()) << text;
  return error;
}

TEST(MatcherParse, Operators) {
  struct Case {
    const char* text;
    MatchType type;
    const char* name;
    const char* value;
  };
  const Case cases[] = {
      {"severity=\"critical\"", MatchType::Equal, "severity", "critical"},
      {"severity!=\"critical\"", MatchType::NotEqual, "severity", "critical"},
      {"team=~\"db|infra\"", MatchType::Regex, "team", "db|infra"},
      {"team!~\"db|infra\"", MatchType::NotRegex, "team", "db|infra"},
      {"severity=critical", MatchType::Equal, "severity", "critical"},
      {"severity!=critical", MatchType::NotEqual, "severity", "critical"},
      {"team=~db.*", MatchType::Regex, "team", "db.*"},
      {"team!~db.*", MatchType::NotRegex, "team", "db.*"},
      {"  a  =  \"b\"  ", MatchType::Equal, "a", "b"},
      {"\ta\t!~\tb\t", MatchType::NotRegex, "a", "b"},
      {"a=", MatchType::Equal, "a", ""},
      {"a=\"\"", MatchType::Equal, "a", ""},
      {"_x9=\"with space\"", MatchType::Equal, "_x9", "with space"},
      {"a=b c", MatchType::Equal, "a", "b c"},
      {"instance=\"db1:9100\"", MatchType::Equal, "instance", "db1:9100"},
  };
  for (const auto& c : cases) {
    Matcher m = parse_ok(c.text);
    EXPECT_EQ(m.type(), c.type) << c.text;
    EXPECT_EQ(m.name(), c.name) << c.text;
    EXPECT_EQ(m.value(), c.value) << c.text;
  }
}

TEST(MatcherParse, GoEscapes) {
  EXPECT_EQ(parse_ok(R"(a="x\"y")").value(), "x\"y");
  EXPECT_EQ(parse_ok(R"(a="back\\slash")").value(), "back\\slash");
  EXPECT_EQ(parse_ok(R"(a="l1\nl2\tt")").value(), "l1\nl2\tt");
  EXPECT_EQ(parse_ok(R"(a="\x41\101\u00e9\U0001F600")").value(), "AA\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(parse_ok("a=\"\xe4\xb8\xad\xe6\x96\x87\"").value(), "\xe4\xb8\xad\xe6\x96\x87");
}

TEST(MatcherParse, Errors) {
  EXPECT_EQ(parse_error(""), "empty matcher: expected name=\"value\"");
  EXPECT_EQ(parse_error("   "), "empty matcher: expected name=\"value\"");
  EXPECT_EQ(parse_error("1a=b"), "expected a label name at position 1, got \"1\"");
  EXPECT_EQ(parse_error("=b"), "expected a label name at position 1, got \"=\"");
  EXPECT_EQ(parse_error("a"), "expected one of =, !=, =~, !~ after label name \"a\" at position 2, got the end");
  EXPECT_EQ(parse_error("a-b=c"), "expected one of =, !=, =~, !~ after label name \"a\" at position 2, got \"-\"");
  EXPECT_EQ(parse_error("a==\"b\""), "unexpected \"=\" at position 3 after operator \"=\"");
  EXPECT_EQ(parse_error("a=\"b"), "unterminated quoted string starting at position 3");
  EXPECT_EQ(parse_error("a=\"b\" c"), "unexpected \"c\" at position 7 after the quoted value");
  EXPECT_EQ(parse_error("a=b\"c"), "unexpected '\"' in unquoted value at position 4; quote the whole value");
  EXPECT_EQ(parse_error(R"(a="\q")"), "invalid escape sequence \"\\q\" at position 4");
  EXPECT_EQ(parse_error(R"(a="\x4")"), "invalid escape sequence at position 4: \\x needs 2 hex digits");
  EXPECT_EQ(parse_error(R"(a="\'")"), "invalid escape sequence \"\\'\" at position 4");
  EXPECT_EQ(parse_error("a=~\"(\""), "invalid regular expression \"(\": missing ): (");
  EXPECT_EQ(parse_error("a=~\"a)|(b\"").substr(0, 34), "invalid regular expression \"a)|(b\"");
}

TEST(MatcherParse, NullErrorPointerIsAllowed) {
  EXPECT_FALSE(Matcher::parse("1=2", nullptr).has_value());
  EXPECT_FALSE(parse_selector("{", nullptr).has_value());
}

TEST(MatcherMatch, EqualityAndMissingLabels) {
  Labels labels{{"severity", "critical"}, {"team", "db"}};
  EXPECT_TRUE(parse_ok("severity=critical").matches(labels));
  EXPECT_FALSE(parse_ok("severity=warning").matches(labels));
  EXPECT_TRUE(parse_ok("severity!=warning").matches(labels));
  // A missing label matches as "".
  EXPECT_TRUE(parse_ok("missing=\"\"").matches(labels));
  EXPECT_FALSE(parse_ok("missing!=\"\"").matches(labels));
  EXPECT_TRUE(parse_ok("missing!=x").matches(labels));
  EXPECT_TRUE(parse_ok("missing=~\".*\"").matches(labels));
  EXPECT_FALSE(parse_ok("missing=~\".+\"").matches(labels));
  EXPECT_FALSE(parse_ok("severity=\"\"").matches(labels));
}

TEST(MatcherMatch, RegexIsAnchored) {
  Labels labels{{"team", "database"}, {"multi", "a\nb"}};
  EXPECT_FALSE(parse_ok("team=~db").matches(labels));
  EXPECT_TRUE(parse_ok("team=~data.*").matches(labels));
  EXPECT_FALSE(parse_ok("team=~base").matches(labels));
  EXPECT_TRUE(parse_ok("team=~\"db|database\"").matches(labels));
  EXPECT_TRUE(parse_ok("team!~\"db|infra\"").matches(labels));
  EXPECT_FALSE(parse_ok("team!~\"data.*\"").matches(labels));
  // Alertmanager compiles with (?s): '.' crosses newlines.
  EXPECT_TRUE(parse_ok("multi=~\"a.b\"").matches(labels));
}

TEST(MatcherMatch, MatchesAll) {
  Labels labels{{"a", "1"}, {"b", "2"}};
  std::vector<Matcher> ms{parse_ok("a=1"), parse_ok("b=~\"[0-9]\"")};
  EXPECT_TRUE(matches_all(ms, labels));
  ms.push_back(parse_ok("c=3"));
  EXPECT_FALSE(matches_all(ms, labels));
  EXPECT_TRUE(matches_all({}, labels));
}

TEST(MatcherMake, BuildsAndRejectsBadRegex) {
  std::string error;
  auto m = Matcher::make(MatchType::Regex, "a", "x+", &error);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->matches(Labels{{"a", "xxx"}}));
  EXPECT_FALSE(Matcher::make(MatchType::NotRegex, "a", "[", &error));
  EXPECT_EQ(error, "invalid regular expression \"[\": missing ]: [");
  // Non-regex types never compile their value.
  EXPECT_TRUE(Matcher::make(MatchType::Equal, "a", "[", &error));
}

TEST(MatcherToString, RoundTrips) {
  for (const char* text : {"a=\"b\"", "a!=\"b\"", "a=~\"b|c\"", "a!~\"b.*\"", "a=\"q\\\"uote\\n\""}) {
    Matcher m = parse_ok(text);
    EXPECT_EQ(m.to_string(), text);
    Matcher again = parse_ok(m.to_string());
    EXPECT_EQ(again.type(), m.type());
    EXPECT_EQ(again.name(), m.name());
    EXPECT_EQ(again.value(), m.value());
  }
  EXPECT_EQ(parse_ok("a = b").to_string(), "a=\"b\"");
}

std::vector<Matcher> selector_ok(std::string_view text) {
  std::string error;
  auto ms = parse_selector(text, &error);
  EXPECT_TRUE(ms.has_value()) << text << ": " << error;
  return ms ? *ms : std::vector<Matcher>{};
}

std::string selector_error(std::string_view text) {
  std::string error;
  auto ms = parse_selector(text, &error);
  EXPECT_FALSE(ms.has_value()) << text;
  return error;
}

TEST(Selector, Forms) {
  auto ms = selector_ok("up");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].to_string(), "__name__=\"up\"");

  ms = selector_ok("{a=\"b\", c=~\"d\"}");
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].to_string(), "a=\"b\"");
  EXPECT_EQ(ms[1].to_string(), "c=~\"d\"");

  ms = selector_ok(" node:cpu:rate5m { job != 'x' , e !~ `a\\d` , } ");
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0].to_string(), "__name__=\"node:cpu:rate5m\"");
  EXPECT_EQ(ms[1].to_string(), "job!=\"x\"");
  EXPECT_EQ(ms[2].to_string(), "e!~\"a\\\\d\"");

  ms = selector_ok("{__name__=~\"up|down\"}");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_TRUE(matches_all(ms, Labels{{"__name__", "up"}}));

  ms = selector_ok("up{}");
  ASSERT_EQ(ms.size(), 1u);
}

TEST(Selector, Errors) {
  EXPECT_EQ(selector_error(""), "empty selector");
  EXPECT_EQ(selector_error("{}"), "vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(selector_error("{a=\"\"}"), "vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(selector_error("{a=b}"), "expected a quoted string at position 4, got \"b\"");
  EXPECT_EQ(selector_error("{a=\"b\""), "expected \",\" or \"}\" at position 7, got the end");
  EXPECT_EQ(selector_error("{a=\"b\" c=\"d\"}"), "expected \",\" or \"}\" at position 8, got \"c\"");
  EXPECT_EQ(selector_error("{1=\"b\"}"), "expected a label name at position 2, got \"1\"");
  EXPECT_EQ(selector_error("{a~\"b\"}"), "expected one of =, !=, =~, !~ after label name \"a\" at position 3, got \"~\"");
  EXPECT_EQ(selector_error("1up"), "expected a metric name or \"{\" at position 1, got \"1\"");
  EXPECT_EQ(selector_error("up{a=\"b\"} x"), "unexpected \"x\" at position 11 after the selector");
  EXPECT_EQ(selector_error("up{__name__=\"x\"}"), "metric name must not be set twice: \"up\" and in the braces");
  EXPECT_EQ(selector_error("{a=~\"(\"}"), "invalid regular expression \"(\": missing ): (");
  EXPECT_EQ(selector_error("{a=\"b}"), "unterminated quoted string starting at position 4");
}

}  // namespace
}  // namespace promwatch
