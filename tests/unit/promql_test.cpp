// The PromQL checker: positions, messages (Prometheus's words, checked against promtool 2.42
// where it knows the syntax), precedence and the type rules.

#include <gtest/gtest.h>

#include <string>

#include "promwatch/promql.hpp"

namespace promwatch::promql {
namespace {

// "line:col: message" as Prometheus prints a parse error, or "" when valid.
std::string error_of(std::string_view expr) {
  const CheckResult r = check(expr);
  if (r.ok()) return "";
  const LineColumn lc = line_column(expr, r.error->offset);
  return std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": " + r.error->message;
}

ValueType type_of(std::string_view expr) {
  const CheckResult r = check(expr);
  EXPECT_TRUE(r.ok()) << expr << ": " << (r.error ? r.error->message : "");
  return r.type;
}

TEST(PromqlTest, ResultTypes) {
  EXPECT_EQ(type_of("1"), ValueType::Scalar);
  EXPECT_EQ(type_of("-1 + 2 * 3"), ValueType::Scalar);
  EXPECT_EQ(type_of("\"s\""), ValueType::String);
  EXPECT_EQ(type_of("up"), ValueType::Vector);
  EXPECT_EQ(type_of("up[5m]"), ValueType::Matrix);
  EXPECT_EQ(type_of("rate(up[5m])[30m:1m]"), ValueType::Matrix);
  EXPECT_EQ(type_of("scalar(up)"), ValueType::Scalar);
  EXPECT_EQ(type_of("time() > bool 1"), ValueType::Scalar);
  EXPECT_EQ(type_of("up > 1"), ValueType::Vector);
  EXPECT_EQ(type_of("(1)"), ValueType::Scalar);
  EXPECT_EQ(type_of("-up"), ValueType::Vector);
  EXPECT_EQ(type_of("sum by (job) (up)"), ValueType::Vector);
}

TEST(PromqlTest, MessagesAndPositionsAsPrometheus) {
  // Each expected text is what promtool 2.42 prints after "could not parse expression: ".
  EXPECT_EQ(error_of("rat(x[5m])"), "1:1: unknown function with name \"rat\"");
  EXPECT_EQ(error_of("sum by (job) (x) > on("), "1:23: unclosed left parenthesis");
  EXPECT_EQ(error_of("1 > 2"), "1:3: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(error_of("x + bool 1"), "1:3: bool modifier can only be used on comparison operators");
  EXPECT_EQ(error_of("{a=\"\"}"), "1:1: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(error_of("round(x, 1, 2)"), "1:1: expected at most 2 argument(s) in call to \"round\", got 3");
  EXPECT_EQ(error_of("label_join(x, \"a\")"), "1:1: expected at least 3 argument(s) in call to \"label_join\", got 2");
  EXPECT_EQ(error_of("rate(x)"), "1:6: expected type range vector in call to function \"rate\", got instant vector");
  EXPECT_EQ(error_of("abs(x[5m])"), "1:5: expected type instant vector in call to function \"abs\", got range vector");
  EXPECT_EQ(error_of("count_values(1, x)"), "1:14: expected type string in aggregation parameter, got scalar");
  EXPECT_EQ(error_of("topk(x)"), "1:1: wrong number of arguments for aggregate expression provided, expected 2, got 1");
  EXPECT_EQ(error_of("sum()"), "1:1: no arguments for aggregate expression provided");
  EXPECT_EQ(error_of("sum(x,)"), "1:6: trailing commas not allowed in function call args");
  EXPECT_EQ(error_of("x offset 1m [5m]"), "1:13: no offset modifiers allowed before range");
  EXPECT_EQ(error_of("rate(x[5m])[5m]"), "1:12: ranges only allowed for vector selectors");
  EXPECT_EQ(error_of("x[5m][5m:1m]"), "1:1: subquery is only allowed on instant vector, got matrix instead");
  EXPECT_EQ(error_of("-x[5m]"),
            "1:1: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"");
  EXPECT_EQ(error_of("x == \"a\""), "1:6: binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(error_of("x[30m1h]"), "1:3: not a valid duration string: \"30m1h\"");
  EXPECT_EQ(error_of("x[0s]"), "1:3: duration must be greater than 0");
  EXPECT_EQ(error_of("0x1Fg"), "1:1: bad number or duration syntax: \"0x1F\"");
  EXPECT_EQ(error_of("1e"), "1:1: error parsing number: strconv.ParseFloat: parsing \"1e\": invalid syntax");
  EXPECT_EQ(error_of("x @ 1e20"), "1:1: timestamp out of bounds for @ modifier: 100000000000000000000.000000");
  EXPECT_EQ(error_of("sum by (a:b) (x)"), "1:9: unexpected metric identifier \"a:b\" in grouping opts, expected label");
  EXPECT_EQ(error_of("on"), "1:1: unexpected <on>");
  EXPECT_EQ(error_of("start()"), "1:6: unexpected \"(\"");
  EXPECT_EQ(error_of("x)"), "1:3: unexpected right parenthesis ')'");
  EXPECT_EQ(error_of("foo{job=~\"(a\"}"), "1:5: error parsing regexp: missing closing ): `^(?:(a)$`");
  EXPECT_EQ(error_of("x and 1"), "1:1: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(error_of("x and on(a) group_left y"), "1:1: no grouping allowed for \"and\" operation");
  EXPECT_EQ(error_of("1 + on(a) x"), "1:1: vector matching only allowed between instant vectors");
  EXPECT_EQ(error_of("x * on(a) group_left(a) y"), "1:3: label \"a\" must not occur in ON and GROUP clause at once");
  EXPECT_EQ(error_of("x offset 1m offset 2m"), "1:1: offset may not be set multiple times");
  EXPECT_EQ(error_of("x @ 1 @ 2"), "1:1: @ <timestamp> may not be set multiple times");
  EXPECT_EQ(error_of("sum(x) offset 5m"),
            "1:1: offset modifier must be preceded by an instant vector selector or range vector selector or a "
            "subquery");
  EXPECT_EQ(error_of("foo{__name__=\"bar\"}"), "1:1: metric name must not be set twice: \"foo\" or \"bar\"");
  EXPECT_EQ(error_of(""), "1:1: no expression found in input");
  EXPECT_EQ(error_of("  # just a comment"), "1:1: no expression found in input");
  EXPECT_EQ(error_of("x offset"), "1:9: unexpected end of input in offset, expected duration");
  EXPECT_EQ(error_of("x @ bar"), "1:5: unexpected identifier \"bar\" in @, expected timestamp");
  EXPECT_EQ(error_of("foo{job}"), "1:8: unexpected \"}\" in label matching, expected label matching operator");
  EXPECT_EQ(error_of("foo{job=}"), "1:9: unexpected \"}\" in label matching, expected string");
  EXPECT_EQ(error_of("foo{job=\"a\" env=\"b\"}"), "1:13: unexpected identifier \"env\" in label matching, expected \",\" or \"}\"");
  EXPECT_EQ(error_of("\"bad \\q\""), "1:1: unknown escape sequence U+0071 'q'");
  EXPECT_EQ(error_of("foo $ bar"), "1:5: unexpected character: '$'");
  // RE2 knows \C, Go's regexp (Prometheus's) does not.
  EXPECT_EQ(error_of("foo{a=~\"\\\\C\"}"), "1:5: error parsing regexp: invalid escape sequence: `\\C`");
  EXPECT_EQ(error_of("foo{a=~\"a{2}{3}\"}"), "1:5: error parsing regexp: invalid nested repetition operator: `{2}{3}`");
}

TEST(PromqlTest, PositionsInMultiLineExpressions) {
  EXPECT_EQ(error_of("sum by (job) (\n  rate(x)\n)"), "2:8: expected type range vector in call to function \"rate\", got instant vector");
  EXPECT_EQ(error_of("up\n  # comment )\n  and on(job) foo +"), "3:20: unexpected end of input");
  const LineColumn lc = line_column("a\nbé c", 6);  // bytes, as Prometheus counts them
  EXPECT_EQ(lc.line, 2);
  EXPECT_EQ(lc.column, 5);
}

TEST(PromqlTest, PrecedenceAndAssociativity) {
  // Types show where operators bind: a string or range vector in the wrong place is refused.
  EXPECT_EQ(error_of("2 ^ 3 ^ 2"), "");
  // `^` is right-associative: in `x[5m] ^ 2 ^ 3` the left operand is the range vector itself.
  EXPECT_EQ(error_of("x[5m] ^ 2 ^ 3"), "1:1: binary expression must contain only scalar and instant vector types");
  // `-` binds looser than `^`: -(x ^ 2), a vector, so no "unary on range" complaint.
  EXPECT_EQ(type_of("-x ^ 2"), ValueType::Vector);
  // Unary minus binds tighter than `*`: (-1) * 2 is a scalar; 1 > -1 needs bool.
  EXPECT_EQ(error_of("1 > -1"), "1:3: comparisons between scalars must use BOOL modifier");
  // `and` binds tighter than `or`, comparisons tighter than `and`: the scalar lands in a
  // comparison, not in a set operation.
  EXPECT_EQ(error_of("x or y and z > 1"), "");
  EXPECT_EQ(error_of("x > 1 and 2"), "1:1: set operator \"and\" not allowed in binary scalar expression");
  // offset, @ and [...] bind to the operand right before them.
  EXPECT_EQ(error_of("x + y offset 5m"), "");
  EXPECT_EQ(error_of("-x offset 5m"), "");
  EXPECT_EQ(error_of("x + y[5m]"), "1:5: binary expression must contain only scalar and instant vector types");
  // `*` and `/` bind tighter than `+`: 1 + 2 * "a" puts the string under `*`.
  EXPECT_EQ(error_of("1 + 2 * \"a\""), "1:9: binary expression must contain only scalar and instant vector types");
  // Comparisons are left-associative: (1 > bool 2) > 3 needs bool on the outer one.
  EXPECT_EQ(error_of("1 > bool 2 > 3"), "1:12: comparisons between scalars must use BOOL modifier");
}

TEST(PromqlTest, ModifiersAndGrouping) {
  EXPECT_EQ(error_of("sum by (job) (x)"), "");
  EXPECT_EQ(error_of("sum(x) without (job)"), "");
  EXPECT_EQ(error_of("topk by (job) (5, x)"), "");
  EXPECT_EQ(error_of("x / on(a, b) group_left(c) y"), "");
  EXPECT_EQ(error_of("x / ignoring(a) group_right y"), "");
  EXPECT_EQ(error_of("x > bool on(a) y"), "");
  EXPECT_EQ(error_of("x @ start()"), "");
  EXPECT_EQ(error_of("x[5m] @ end() offset -5m"), "");
  EXPECT_EQ(error_of("x[5m:]"), "");
  EXPECT_EQ(error_of("x @ start() [5m]"), "");  // only a timestamp is refused before a range
  EXPECT_EQ(error_of("x @ 100 [5m]"), "1:9: no @ modifiers allowed before range");
  EXPECT_EQ(error_of("sum by (offset, on, bool) (x)"), "");  // keywords are label names here
  EXPECT_EQ(error_of("sum by (without) (x)"), "1:9: unexpected <without> in grouping opts, expected label");
  EXPECT_EQ(error_of("x * group_left y"), "1:5: unexpected <group_left>");
  EXPECT_EQ(error_of("sum by (a) (x) by (b)"), "1:16: unexpected <by>");
}

TEST(PromqlTest, Literals) {
  for (const char* ok : {"0x1F", "1e3", ".5", "5.", "Inf", "-NaN", "017", "08", "'single'", "`raw \\ text`",
                         "\"\\u00e9 \\U0001F600 \\x41 \\101\"", "1_000", "5m", "1h30m"}) {
    EXPECT_EQ(error_of(ok), "") << ok;
  }
  EXPECT_EQ(error_of("1e400"), "1:1: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_EQ(error_of("\"\\uD800\""), "1:1: escape sequence is an invalid Unicode code point");
  EXPECT_EQ(error_of("\"a\nb\""), "1:1: unterminated quoted string");
  EXPECT_EQ(error_of("`open"), "1:1: unterminated raw string");
  EXPECT_EQ(error_of("\"\xff\""), "1:1: invalid UTF-8 rune");
  EXPECT_EQ(error_of("1.5h"), "1:1: not a valid duration string: \"1.5h\"");
}

TEST(PromqlTest, Prometheus3Syntax) {
  EXPECT_EQ(error_of("{\"my.metric\", \"label.x\"=\"v\"}"), "");
  EXPECT_EQ(type_of("rate({\"my.metric\"}[5m])"), ValueType::Vector);
  EXPECT_EQ(error_of("sum by (\"label.x\") (x)"), "");
  EXPECT_EQ(error_of("foo{\"bar\"}"), "1:1: metric name must not be set twice: \"foo\" or \"bar\"");
  EXPECT_EQ(error_of("sum by (\"\") (x)"), "1:9: invalid label name for grouping: \"\"");
  EXPECT_EQ(error_of("x[300]"), "");
  EXPECT_EQ(error_of("x offset 60"), "");
  EXPECT_EQ(type_of("time() - 1h"), ValueType::Scalar);
  EXPECT_EQ(error_of("limitk(2, x)"), "");
  EXPECT_EQ(error_of("limit_ratio(\"a\", x)"), "1:13: expected type scalar in aggregation parameter, got string");
  EXPECT_EQ(error_of("info(x, {a=\"b\"})"), "");
  EXPECT_EQ(error_of("double_exponential_smoothing(x[1h], 0.5, 0.5)"), "");
  EXPECT_EQ(error_of("holt_winters(x[1h], 0.5, 0.5)"), "");  // 2.x's name, still accepted
  EXPECT_EQ(error_of("sort_by_label(x, \"a\", \"b\")"), "");
}

TEST(PromqlTest, NestingIsBounded) {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  const CheckResult r = check(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("nested more than"), std::string::npos) << r.error->message;
  std::string chain = "x";
  for (int i = 0; i < 3000; ++i) chain += " + x";
  EXPECT_FALSE(check(chain).ok());
  std::string fine = "x";
  for (int i = 0; i < 500; ++i) fine += " + x";
  EXPECT_TRUE(check(fine).ok());
}

}  // namespace
}  // namespace promwatch::promql
