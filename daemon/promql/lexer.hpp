#pragma once
// The PromQL lexer. Like Prometheus's, it does not depend on the parser's state (only on its
// own: inside braces, inside brackets, parenthesis depth), so the whole input is turned into
// tokens first; the first lexical problem becomes an Error token that ends the list, and the
// parser reports it when it reaches it (as Prometheus does, which reads tokens as it goes).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace promwatch::promql::detail {

enum class Tok {
  End,
  Error,
  // punctuation
  Comma,
  LeftParen,
  RightParen,
  LeftBrace,
  RightBrace,
  LeftBracket,
  RightBracket,
  Colon,
  Eql,  // `=` in matchers
  // operators
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Pow,
  EqlC,  // ==
  Neq,
  Lss,
  Lte,
  Gtr,
  Gte,
  EqlRegex,
  NeqRegex,
  At,
  Land,
  Lor,
  Lunless,
  Atan2,
  // aggregators
  Sum,
  Avg,
  Count,
  Min,
  Max,
  Group,
  Stddev,
  Stdvar,
  Topk,
  Bottomk,
  CountValues,
  Quantile,
  Limitk,
  LimitRatio,
  // keywords
  Offset,
  By,
  Without,
  On,
  Ignoring,
  GroupLeft,
  GroupRight,
  Bool,
  Start,
  EndKw,
  // values
  Number,
  Duration,
  String,
  Identifier,
  MetricIdentifier,  // an identifier with a `:`
};

struct Token {
  Tok kind = Tok::End;
  std::size_t pos = 0;
  std::string_view text;  // the source text; for Error, empty
  std::string message;    // Error only
};

bool is_aggregator(Tok t);
bool is_keyword(Tok t);
bool is_operator(Tok t);

/// How Prometheus names a token in "unexpected ..." messages (`Item.desc()`).
std::string describe(const Token& t);

/// The tokens of `input`, comments dropped, ending with End or Error.
std::vector<Token> lex(std::string_view input);

enum class NumberStatus { Ok, Invalid, OutOfRange };
/// Whether `text` (a Number token) holds a number Go's strconv would read, and its value.
NumberStatus number_value(std::string_view text, double* value);

/// Prometheus's duration syntax (`1y2w3d4h5m6s7ms`, units in that order, each once) in
/// milliseconds. Returns false with `*error` set on bad syntax or a zero duration.
bool duration_value(std::string_view text, double* millis, std::string* error);

/// Unquotes a String token (quotes included); the lexer has checked the escapes.
std::string unquote(std::string_view token);

bool valid_utf8(std::string_view s);

}  // namespace promwatch::promql::detail
