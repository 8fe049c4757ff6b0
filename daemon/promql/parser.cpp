// A recursive-descent (Pratt) parser and the type rules of PromQL. The grammar and the messages
// are Prometheus's (promql/parser/generated_parser.y and parse.go, read for facts); the code is
// ours. Like Prometheus, syntax comes first and the type rules run only on a sound tree.
//
// Binding, as Prometheus's yacc precedences give it: `[...]`, `offset` and `@` bind to the
// operand right before them, tighter than any operator; unary `+`/`-` binds like `*` except
// that `^` binds tighter (`-2^2` is `-(2^2)`); `^` is right-associative, every other binary
// operator left-associative; or < and/unless < comparisons < +,- < *,/,%,atan2 < ^.

#include <re2/re2.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "functions.hpp"
#include "lexer.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/promql.hpp"

namespace promwatch::promql {
namespace detail {
namespace {

constexpr int kMaxDepth = 1000;

struct Failure {
  std::size_t pos;
  std::string message;
};

[[noreturn]] void fail(std::size_t pos, std::string message) { throw Failure{pos, std::move(message)}; }

enum class Kind { Number, String, Vector, Matrix, Subquery, Call, Aggregate, Binary, Unary, Paren };
enum class Card { OneToOne, ManyToOne, OneToMany, ManyToMany };

struct LabelMatcher {
  std::string name;
  bool matches_empty = false;
  std::string value;
};

struct Node {
  Kind kind;
  std::size_t start = 0;
  int depth = 1;
  double number = 0;
  // Vector selector.
  std::string name;  // set outside the braces
  bool has_name = false;
  std::vector<LabelMatcher> matchers;
  bool offset_set = false;  // a non-zero offset (Prometheus tests the value, not the presence)
  bool at_set = false;        // `@ <timestamp>`, `@ start()` or `@ end()`
  bool at_timestamp = false;  // `@ <timestamp>` only: 2.x allows `x @ start() [5m]`
  // Call and aggregation.
  const Function* function = nullptr;
  std::string function_name;
  Tok op = Tok::End;  // aggregation or binary operator
  std::vector<std::unique_ptr<Node>> args;
  // Binary.
  bool return_bool = false;
  bool on = false;
  std::vector<std::string> matching;
  std::vector<std::string> include;
  Card card = Card::OneToOne;
  std::size_t op_pos = 0;
  // Children: binary lhs/rhs; unary, paren, matrix and subquery operand in `a`.
  std::unique_ptr<Node> a;
  std::unique_ptr<Node> b;

  Node(Kind k, std::size_t s) : kind(k), start(s) {}
};
using NodePtr = std::unique_ptr<Node>;

NodePtr make(Kind kind, std::size_t start) { return std::make_unique<Node>(kind, start); }

void set_depth(Node& n, int child_depth) {
  n.depth = std::max(n.depth, child_depth + 1);
  if (n.depth > kMaxDepth) fail(n.start, "expression nested more than " + std::to_string(kMaxDepth) + " levels deep");
}

bool is_label_name(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

int precedence(Tok t) {
  switch (t) {
    case Tok::Lor: return 1;
    case Tok::Land:
    case Tok::Lunless: return 2;
    case Tok::EqlC:
    case Tok::Neq:
    case Tok::Lss:
    case Tok::Lte:
    case Tok::Gtr:
    case Tok::Gte: return 3;
    case Tok::Add:
    case Tok::Sub: return 4;
    case Tok::Mul:
    case Tok::Div:
    case Tok::Mod:
    case Tok::Atan2: return 5;
    case Tok::Pow: return 6;
    default: return 0;
  }
}
constexpr int kPowPrecedence = 6;

bool is_comparison(Tok t) { return precedence(t) == 3; }
bool is_set_operator(Tok t) { return t == Tok::Land || t == Tok::Lor || t == Tok::Lunless; }
bool takes_parameter(Tok t) {
  return t == Tok::Topk || t == Tok::Bottomk || t == Tok::Quantile || t == Tok::CountValues || t == Tok::Limitk ||
         t == Tok::LimitRatio;
}

std::string operator_name(Tok t) {
  switch (t) {
    case Tok::Land: return "and";
    case Tok::Lor: return "or";
    case Tok::Lunless: return "unless";
    default: return "?";
  }
}

// Tokens that may stand for a metric name where an expression starts (Prometheus's
// `metric_identifier`: keywords that are not operators in that place).
bool is_metric_identifier(Tok t) {
  switch (t) {
    case Tok::Identifier:
    case Tok::MetricIdentifier:
    case Tok::By:
    case Tok::Without:
    case Tok::Offset:
    case Tok::Land:
    case Tok::Lor:
    case Tok::Lunless:
    case Tok::Start:
    case Tok::EndKw: return true;
    default: return is_aggregator(t);
  }
}

// Tokens that may name a label in `by (...)`, `on (...)` and the like (`maybe_label`).
bool is_maybe_label(Tok t) {
  return t == Tok::Identifier || t == Tok::MetricIdentifier || (is_keyword(t) && t != Tok::Without) ||
         is_aggregator(t) || t == Tok::Land || t == Tok::Lor || t == Tok::Lunless || t == Tok::Atan2;
}

std::string format_fixed(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  std::snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

// RE2's complaint in the words of Go's regexp package, which Prometheus uses.
std::string regex_error(const RE2& re) {
  std::string_view what;
  switch (re.error_code()) {
    case RE2::ErrorBadEscape: what = "invalid escape sequence"; break;
    case RE2::ErrorBadCharClass: what = "invalid character class"; break;
    case RE2::ErrorBadCharRange: what = "invalid character class range"; break;
    case RE2::ErrorMissingBracket: what = "missing closing ]"; break;
    case RE2::ErrorMissingParen: what = "missing closing )"; break;
    case RE2::ErrorUnexpectedParen: what = "unexpected )"; break;
    case RE2::ErrorTrailingBackslash: what = "trailing backslash at end of expression"; break;
    case RE2::ErrorRepeatArgument: what = "missing argument to repetition operator"; break;
    case RE2::ErrorRepeatSize: what = "invalid repeat count"; break;
    case RE2::ErrorRepeatOp: what = "invalid nested repetition operator"; break;
    case RE2::ErrorBadPerlOp: what = "invalid or unsupported Perl syntax"; break;
    case RE2::ErrorBadUTF8: what = "invalid UTF-8"; break;
    case RE2::ErrorBadNamedCapture: what = "invalid named capture"; break;
    case RE2::ErrorPatternTooLarge: return "error parsing regexp: expression too large";
    default: return "error parsing regexp: " + re.error();
  }
  return "error parsing regexp: " + std::string(what) + ": `" + re.error_arg() + "`";
}

// What RE2 accepts but Go's regexp does not: `\C` (any byte).
std::string go_regex_problem(std::string_view re) {
  for (std::size_t i = 0; i + 1 < re.size(); ++i) {
    if (re[i] != '\\') continue;
    if (re[i + 1] == 'Q') {  // literal text up to \E
      const std::size_t end = re.find("\\E", i + 2);
      if (end == std::string_view::npos) break;
      i = end + 1;
      continue;
    }
    if (re[i + 1] == 'C') return "error parsing regexp: invalid escape sequence: `\\C`";
    ++i;
  }
  return "";
}

class Parser {
 public:
  explicit Parser(std::string_view input) : toks_(lex(input)) {}

  NodePtr parse() {
    if (peek().kind == Tok::End) fail(0, "no expression found in input");
    NodePtr e = expr(0, 0);
    if (peek().kind != Tok::End) unexpected("", "");
    return e;
  }

 private:
  // The current token; reaching a lexical error reports it.
  const Token& peek() {
    const Token& t = toks_[i_];
    if (t.kind == Tok::Error) fail(t.pos, t.message);
    return t;
  }
  Tok peek_kind_after() const { return i_ + 1 < toks_.size() ? toks_[i_ + 1].kind : Tok::End; }
  const Token& take() {
    const Token& t = peek();
    if (t.kind != Tok::End) ++i_;
    return t;
  }

  [[noreturn]] void unexpected(std::string_view context, std::string_view expected) {
    const Token& t = peek();
    std::string m = "unexpected " + describe(t);
    if (!context.empty()) m += " in " + std::string(context);
    if (!expected.empty()) m += ", expected " + std::string(expected);
    fail(t.pos, std::move(m));
  }

  void enter(int depth, std::size_t pos) {
    if (depth > kMaxDepth) fail(pos, "expression nested more than " + std::to_string(kMaxDepth) + " levels deep");
  }

  NodePtr expr(int min_precedence, int depth) {
    enter(depth, peek().pos);
    NodePtr lhs = unary(depth);
    for (;;) {
      const Tok op = peek().kind;
      const int p = precedence(op);
      if (p == 0 || p < min_precedence) return lhs;
      auto node = make(Kind::Binary, lhs->start);
      node->op = op;
      node->op_pos = take().pos;
      modifiers(*node);
      node->b = expr(op == Tok::Pow ? p : p + 1, depth + 1);
      set_depth(*node, std::max(lhs->depth, node->b->depth));
      node->a = std::move(lhs);
      lhs = std::move(node);
    }
  }

  void modifiers(Node& n) {
    if (peek().kind == Tok::Bool) {
      take();
      n.return_bool = true;
    }
    const Tok t = peek().kind;
    if (t != Tok::On && t != Tok::Ignoring) return;
    take();
    n.on = t == Tok::On;
    n.matching = grouping_labels();
    const Tok g = peek().kind;
    if (g != Tok::GroupLeft && g != Tok::GroupRight) return;
    take();
    n.card = g == Tok::GroupLeft ? Card::ManyToOne : Card::OneToMany;
    if (peek().kind == Tok::LeftParen) n.include = grouping_labels();
  }

  NodePtr unary(int depth) {
    const Token& t = peek();
    if (t.kind != Tok::Add && t.kind != Tok::Sub) return postfix(primary(depth));
    const bool negative = t.kind == Tok::Sub;
    const std::size_t pos = take().pos;
    NodePtr operand = expr(kPowPrecedence, depth + 1);
    if (operand->kind == Kind::Number) {  // Prometheus folds the sign into the literal
      if (negative) operand->number = -operand->number;
      operand->start = pos;
      return operand;
    }
    auto node = make(Kind::Unary, pos);
    set_depth(*node, operand->depth);
    node->a = std::move(operand);
    return node;
  }

  NodePtr number_literal(const Token& t) {
    auto node = make(Kind::Number, t.pos);
    node->number = number_of(t);
    return node;
  }

  // The value of a Number (as is) or Duration (in seconds, as 3.x reads one) token.
  double number_of(const Token& t) {
    double v = 0;
    if (t.kind == Tok::Duration) {
      std::string error;
      if (!duration_value(t.text, &v, &error)) fail(t.pos, error);
      return v / 1000;
    }
    const NumberStatus status = number_value(t.text, &v);
    if (status != NumberStatus::Ok) {
      fail(t.pos, "error parsing number: strconv.ParseFloat: parsing " + go_quote(t.text) + ": " +
                      (status == NumberStatus::OutOfRange ? "value out of range" : "invalid syntax"));
    }
    return v;
  }

  // A range, subquery range or step: a duration, or (3.x) a number of seconds.
  double duration_of(const Token& t) {
    const double seconds = number_of(t);
    if (t.kind == Tok::Number && !(seconds > 0)) fail(t.pos, "duration must be greater than 0");
    return seconds;
  }

  NodePtr primary(int depth) {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Number:
      case Tok::Duration:
        return number_literal(take());
      case Tok::String: {
        auto node = make(Kind::String, take().pos);
        return node;
      }
      case Tok::LeftParen: {
        const std::size_t pos = take().pos;
        NodePtr inner = expr(0, depth + 1);
        if (peek().kind != Tok::RightParen) unexpected("", "");
        take();
        auto node = make(Kind::Paren, pos);
        set_depth(*node, inner->depth);
        node->a = std::move(inner);
        return node;
      }
      case Tok::LeftBrace:
        return selector(nullptr);
      case Tok::Identifier:
        if (peek_kind_after() == Tok::LeftParen) return call(depth);
        return selector(&take());
      default:
        break;
    }
    if (is_aggregator(t.kind)) {
      const Tok after = peek_kind_after();
      if (after == Tok::LeftParen || after == Tok::By || after == Tok::Without) return aggregation(depth);
    }
    if (is_metric_identifier(t.kind)) return selector(&take());
    unexpected("", "");
  }

  NodePtr postfix(NodePtr node) {
    for (;;) {
      const Tok t = peek().kind;
      if (t == Tok::LeftBracket) {
        node = range_or_subquery(std::move(node));
      } else if (t == Tok::Offset) {
        offset(*node);
      } else if (t == Tok::At) {
        at(*node);
      } else {
        return node;
      }
    }
  }

  NodePtr range_or_subquery(NodePtr operand) {
    const std::size_t bracket = take().pos;
    const Token& range = peek();
    if (range.kind != Tok::Number && range.kind != Tok::Duration) unexpected("subquery selector", "duration");
    duration_of(take());
    const Tok t = peek().kind;
    if (t == Tok::RightBracket) {
      take();
      if (operand->kind != Kind::Vector) fail(bracket, "ranges only allowed for vector selectors");
      if (operand->offset_set) fail(bracket, "no offset modifiers allowed before range");
      if (operand->at_timestamp) fail(bracket, "no @ modifiers allowed before range");
      auto node = make(Kind::Matrix, operand->start);
      set_depth(*node, operand->depth);
      node->a = std::move(operand);
      return node;
    }
    if (t != Tok::Colon) unexpected("subquery or range", "\":\" or \"]\"");
    take();
    const Token& step = peek();
    if (step.kind == Tok::Number || step.kind == Tok::Duration) {
      if (step.kind == Tok::Duration) {
        duration_of(take());
      } else {
        number_of(take());
      }
      if (peek().kind != Tok::RightBracket) unexpected("subquery selector", "\"]\"");
    } else if (step.kind != Tok::RightBracket) {
      unexpected("subquery selector", "duration or \"]\"");
    }
    take();
    auto node = make(Kind::Subquery, operand->start);
    set_depth(*node, operand->depth);
    node->a = std::move(operand);
    return node;
  }

  // The node that carries offset and @ for `n`, or a failure naming what may carry them.
  Node& modifier_target(Node& n, std::string_view what) {
    if (n.kind == Kind::Vector || n.kind == Kind::Subquery) return n;
    if (n.kind == Kind::Matrix) return *n.a;
    fail(n.start, std::string(what) +
                      " modifier must be preceded by an instant vector selector or range vector selector or a subquery");
  }

  void offset(Node& n) {
    take();
    if (peek().kind == Tok::Sub) take();  // a negative offset looks ahead in time
    const Token& t = peek();
    if (t.kind != Tok::Duration && t.kind != Tok::Number) unexpected("offset", "duration");
    const double seconds = number_of(take());
    Node& target = modifier_target(n, "offset");
    if (target.offset_set) fail(n.start, "offset may not be set multiple times");
    target.offset_set = seconds != 0;
  }

  void at(Node& n) {
    take();
    const Token& t = peek();
    double ts = 0;
    const bool preprocessor = t.kind == Tok::Start || t.kind == Tok::EndKw;
    if (preprocessor) {
      take();
      if (peek().kind != Tok::LeftParen) unexpected("@", "timestamp");
      take();
      if (peek().kind != Tok::RightParen) unexpected("@", "timestamp");
      take();
    } else {
      bool negative = false;
      if (t.kind == Tok::Add || t.kind == Tok::Sub) {
        negative = t.kind == Tok::Sub;
        take();
      }
      const Token& v = peek();
      if (v.kind != Tok::Number && v.kind != Tok::Duration) unexpected("@", "timestamp");
      ts = number_of(take());
      if (negative) ts = -ts;
      if (std::isnan(ts) || std::isinf(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0) {
        fail(n.start, "timestamp out of bounds for @ modifier: " + format_fixed(ts));
      }
    }
    Node& target = modifier_target(n, "@");
    if (target.at_set) fail(n.start, "@ <timestamp> may not be set multiple times");
    target.at_set = true;
    target.at_timestamp = !preprocessor;
  }

  std::vector<NodePtr> call_body(int depth, Node& owner) {
    std::vector<NodePtr> args;
    take();  // (
    if (peek().kind == Tok::RightParen) {
      take();
      return args;
    }
    for (;;) {
      args.push_back(expr(0, depth + 1));
      set_depth(owner, args.back()->depth);
      const Token& t = peek();
      if (t.kind == Tok::Comma) {
        const std::size_t comma = take().pos;
        if (peek().kind == Tok::RightParen) fail(comma, "trailing commas not allowed in function call args");
        continue;
      }
      if (t.kind != Tok::RightParen) unexpected("", "");
      take();
      return args;
    }
  }

  NodePtr call(int depth) {
    const Token& name = take();
    auto node = make(Kind::Call, name.pos);
    node->function_name = std::string(name.text);
    node->args = call_body(depth, *node);
    node->function = find_function(name.text);
    if (!node->function) fail(name.pos, "unknown function with name " + go_quote(name.text));
    return node;
  }

  NodePtr aggregation(int depth) {
    const Token& op = take();
    auto node = make(Kind::Aggregate, op.pos);
    node->op = op.kind;
    bool modifier = false;
    if (peek().kind == Tok::By || peek().kind == Tok::Without) {
      take();
      grouping_labels();
      modifier = true;
    }
    if (peek().kind != Tok::LeftParen) unexpected("aggregation", "");
    node->args = call_body(depth, *node);
    if (!modifier && (peek().kind == Tok::By || peek().kind == Tok::Without)) {
      take();
      grouping_labels();
    }
    if (node->args.empty()) fail(op.pos, "no arguments for aggregate expression provided");
    const std::size_t want = takes_parameter(op.kind) ? 2 : 1;
    if (node->args.size() != want) {
      fail(op.pos, "wrong number of arguments for aggregate expression provided, expected " + std::to_string(want) +
                       ", got " + std::to_string(node->args.size()));
    }
    return node;
  }

  std::vector<std::string> grouping_labels() {
    std::vector<std::string> labels;
    if (peek().kind != Tok::LeftParen) unexpected("grouping opts", "\"(\"");
    take();
    if (peek().kind == Tok::RightParen) {
      take();
      return labels;
    }
    for (;;) {
      const Token& t = peek();
      if (t.kind == Tok::String) {  // 3.x: any UTF-8 label name, quoted
        std::string name = unquote(t.text);
        if (name.empty() || !valid_utf8(name)) fail(t.pos, "invalid label name for grouping: " + go_quote(name));
        labels.push_back(std::move(name));
        take();
      } else if (is_maybe_label(t.kind)) {
        if (!is_label_name(t.text)) unexpected("grouping opts", "label");
        labels.emplace_back(t.text);
        take();
      } else {
        unexpected("grouping opts", "label");
      }
      const Tok next = peek().kind;
      if (next == Tok::Comma) {
        take();
        if (peek().kind == Tok::RightParen) {
          take();
          return labels;
        }
        continue;
      }
      if (next != Tok::RightParen) unexpected("grouping opts", "\",\" or \")\"");
      take();
      return labels;
    }
  }

  static bool is_match_op(Tok t) { return t == Tok::Eql || t == Tok::Neq || t == Tok::EqlRegex || t == Tok::NeqRegex; }

  LabelMatcher make_matcher(std::size_t pos, std::string name, Tok op, std::string value) {
    LabelMatcher m;
    m.name = std::move(name);
    switch (op) {
      case Tok::Eql: m.matches_empty = value.empty(); break;
      case Tok::Neq: m.matches_empty = !value.empty(); break;
      default: {
        if (std::string problem = go_regex_problem(value); !problem.empty()) fail(pos, problem);
        RE2::Options options;
        options.set_log_errors(false);
        RE2 re("^(?:" + value + ")$", options);
        if (!re.ok()) fail(pos, regex_error(re));
        const bool empty_matches = RE2::FullMatch("", re);
        m.matches_empty = op == Tok::EqlRegex ? empty_matches : !empty_matches;
      }
    }
    m.value = std::move(value);
    return m;
  }

  NodePtr selector(const Token* name) {
    auto node = make(Kind::Vector, name ? name->pos : peek().pos);
    if (name) {
      node->has_name = true;
      node->name = std::string(name->text);
    }
    if (peek().kind != Tok::LeftBrace) return node;
    take();
    if (peek().kind == Tok::RightBrace) {
      take();
      return node;
    }
    for (;;) {
      const Token& t = peek();
      if (t.kind == Tok::Identifier || t.kind == Tok::String) {
        const std::size_t pos = t.pos;
        std::string label = t.kind == Tok::String ? unquote(t.text) : std::string(t.text);
        const bool quoted = t.kind == Tok::String;
        take();
        const Tok op = peek().kind;
        if (is_match_op(op)) {
          take();
          if (peek().kind != Tok::String) unexpected("label matching", "string");
          std::string value = unquote(take().text);
          node->matchers.push_back(make_matcher(pos, std::move(label), op, std::move(value)));
        } else if (quoted) {  // 3.x: a quoted metric name alone
          node->matchers.push_back(make_matcher(pos, "__name__", Tok::Eql, std::move(label)));
        } else {
          unexpected("label matching", "label matching operator");
        }
      } else {
        unexpected("label matching", "identifier or \"}\"");
      }
      const Tok next = peek().kind;
      if (next == Tok::Comma) {
        take();
        if (peek().kind == Tok::RightBrace) {
          take();
          return node;
        }
        continue;
      }
      if (next != Tok::RightBrace) unexpected("label matching", "\",\" or \"}\"");
      take();
      return node;
    }
  }

  std::vector<Token> toks_;
  std::size_t i_ = 0;
};

// The type rules (Prometheus's checkAST), first failure thrown.
ValueType check_node(const Node& n);

void expect_type(const Node& n, ValueType want, const std::string& context) {
  const ValueType got = check_node(n);
  if (got != want) {
    fail(n.start, "expected type " + std::string(documented_type(want)) + " in " + context + ", got " +
                      std::string(documented_type(got)));
  }
}

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::Scalar: return "scalar";
    case ValueType::Vector: return "vector";
    case ValueType::Matrix: return "matrix";
    case ValueType::String: return "string";
    case ValueType::None: break;
  }
  return "none";
}

ValueType check_node(const Node& n) {
  switch (n.kind) {
    case Kind::Number: return ValueType::Scalar;
    case Kind::String: return ValueType::String;
    case Kind::Paren: return check_node(*n.a);
    case Kind::Vector: {
      if (n.has_name) {
        for (const auto& m : n.matchers) {
          if (m.name == "__name__") {
            fail(n.start, "metric name must not be set twice: " + go_quote(n.name) + " or " + go_quote(m.value));
          }
        }
        return ValueType::Vector;
      }
      bool non_empty = false;
      for (const auto& m : n.matchers) non_empty = non_empty || !m.matches_empty;
      if (!non_empty) fail(n.start, "vector selector must contain at least one non-empty matcher");
      return ValueType::Vector;
    }
    case Kind::Matrix:
      check_node(*n.a);
      return ValueType::Matrix;
    case Kind::Subquery: {
      const ValueType t = check_node(*n.a);
      if (t != ValueType::Vector) {
        fail(n.start, "subquery is only allowed on instant vector, got " + std::string(value_type_name(t)) + " instead");
      }
      return ValueType::Matrix;
    }
    case Kind::Unary: {
      const ValueType t = check_node(*n.a);
      if (t != ValueType::Scalar && t != ValueType::Vector) {
        fail(n.start, "unary expression only allowed on expressions of type scalar or instant vector, got \"" +
                          std::string(documented_type(t)) + "\"");
      }
      return t;
    }
    case Kind::Call: {
      const Function& f = *n.function;
      const std::size_t declared = f.args.size();
      const std::size_t given = n.args.size();
      const std::string quoted = go_quote(f.name);
      if (f.variadic == 0) {
        if (declared != given) {
          fail(n.start, "expected " + std::to_string(declared) + " argument(s) in call to " + quoted + ", got " +
                            std::to_string(given));
        }
      } else {
        const std::size_t least = declared - 1;
        if (least > given) {
          fail(n.start, "expected at least " + std::to_string(least) + " argument(s) in call to " + quoted + ", got " +
                            std::to_string(given));
        }
        if (f.variadic > 0 && least + static_cast<std::size_t>(f.variadic) < given) {
          fail(n.start, "expected at most " + std::to_string(least + static_cast<std::size_t>(f.variadic)) +
                            " argument(s) in call to " + quoted + ", got " + std::to_string(given));
        }
      }
      for (std::size_t i = 0; i < given; ++i) {
        std::size_t k = i;
        if (k >= declared) {
          if (f.variadic == 0) break;
          k = declared - 1;
        }
        expect_type(*n.args[i], f.args[k], "call to function " + quoted);
      }
      return f.result;
    }
    case Kind::Aggregate: {
      const bool param = takes_parameter(n.op);
      expect_type(*n.args[param ? 1 : 0], ValueType::Vector, "aggregation expression");
      if (param) {
        expect_type(*n.args[0], n.op == Tok::CountValues ? ValueType::String : ValueType::Scalar,
                    "aggregation parameter");
      }
      return ValueType::Vector;
    }
    case Kind::Binary: {
      const ValueType lt = check_node(*n.a);
      const ValueType rt = check_node(*n.b);
      const bool comparison = is_comparison(n.op);
      const bool set = is_set_operator(n.op);
      if (n.return_bool && !comparison) fail(n.op_pos, "bool modifier can only be used on comparison operators");
      if (comparison && !n.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar) {
        fail(n.op_pos, "comparisons between scalars must use BOOL modifier");
      }
      Card card = n.card;
      if (set && card == Card::OneToOne) card = Card::ManyToMany;
      if (n.on) {
        for (const auto& l : n.matching) {
          for (const auto& g : n.include) {
            if (l == g) fail(n.op_pos, "label " + go_quote(l) + " must not occur in ON and GROUP clause at once");
          }
        }
      }
      if (lt != ValueType::Scalar && lt != ValueType::Vector) {
        fail(n.a->start, "binary expression must contain only scalar and instant vector types");
      }
      if (rt != ValueType::Scalar && rt != ValueType::Vector) {
        fail(n.b->start, "binary expression must contain only scalar and instant vector types");
      }
      if (lt != ValueType::Vector || rt != ValueType::Vector) {
        if (!n.matching.empty()) fail(n.start, "vector matching only allowed between instant vectors");
      } else if (set && (card == Card::OneToMany || card == Card::ManyToOne)) {
        fail(n.start, "no grouping allowed for \"" + operator_name(n.op) + "\" operation");
      }
      if ((lt == ValueType::Scalar || rt == ValueType::Scalar) && set) {
        fail(n.start, "set operator \"" + operator_name(n.op) + "\" not allowed in binary scalar expression");
      }
      return lt == ValueType::Scalar && rt == ValueType::Scalar ? ValueType::Scalar : ValueType::Vector;
    }
  }
  return ValueType::None;
}

}  // namespace
}  // namespace detail

std::string_view documented_type(ValueType type) {
  switch (type) {
    case ValueType::Scalar: return "scalar";
    case ValueType::Vector: return "instant vector";
    case ValueType::Matrix: return "range vector";
    case ValueType::String: return "string";
    case ValueType::None: break;
  }
  return "none";
}

CheckResult check(std::string_view expr) {
  CheckResult result;
  try {
    detail::Parser parser(expr);
    const detail::NodePtr root = parser.parse();
    result.type = detail::check_node(*root);
  } catch (const detail::Failure& f) {
    result.type = ValueType::None;
    result.error = SyntaxError{f.pos, f.message};
  }
  return result;
}

LineColumn line_column(std::string_view text, std::size_t offset) {
  LineColumn lc;
  if (offset > text.size()) offset = text.size();
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      line_start = i + 1;
    }
  }
  lc.column = static_cast<int>(offset - line_start) + 1;
  return lc;
}

}  // namespace promwatch::promql
