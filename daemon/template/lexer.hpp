#pragma once
/// \file
/// Go text/template's lexer: splits a template into text and the tokens inside `{{ }}`.
/// Trim markers (`{{- `, ` -}}`) are applied here by trimming the neighbouring text, and
/// comments are dropped, as Go does.

#include <string>
#include <string_view>
#include <vector>

namespace promwatch::tmpl {

enum class Tok {
  Text, LeftDelim, RightDelim, Space, Identifier, Field, Variable, Dot, String, RawString, Char,
  Number, Bool, Pipe, LeftParen, RightParen, Declare, Assign, Comma, Punct,
  // keywords
  Block, Break, Continue, Define, Else, End, If, Nil, Range, Template, With,
  Eof, Error,
};

struct Token {
  Tok type = Tok::Eof;
  int pos = 0;
  std::string text;  // for Text: the (trimmed) text; for Error: the message
};

/// Tokenises the whole template. The last token is Eof or Error.
std::vector<Token> lex(std::string_view input);

/// How Go's parser names a token in "unexpected X" messages.
std::string describe(const Token& t);

}  // namespace promwatch::tmpl
