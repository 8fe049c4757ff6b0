#pragma once
/// \file
/// The parse tree of a Go template, as text/template/parse builds it (the parts we support).
/// Immutable once built, so compiled templates can be rendered from many threads.
/// Positions are byte offsets into the tree's source text; the evaluator turns them into
/// Go's "name:line:col" error locations.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "value.hpp"

namespace promwatch::tmpl {

struct Pipe;

/// One operand of a command: `.A.B`, `$x.A`, `humanize`, `"str"`, `1.5`, `(pipeline).A`, ...
struct Arg {
  enum class K { Dot, Field, Var, Func, Literal, Nil, SubPipe };
  K k = K::Nil;
  int pos = 0;
  std::string name;                // Var: "$x"; Func: the function name
  std::vector<std::string> chain;  // Field: the fields; Var/SubPipe: fields after the term
  Value literal;                   // Literal
  std::shared_ptr<const Pipe> pipe;  // SubPipe
  std::string text;                // source text, for error context
};

/// `f a b` or `.Field a b` — a stage of a pipeline.
struct Cmd {
  int pos = 0;
  std::vector<Arg> args;
  std::string text;
};

/// `$x := cmd | cmd`.
struct Pipe {
  int pos = 0;
  bool is_assign = false;          // `=` rather than `:=`
  std::vector<std::string> decl;   // declared (or assigned) variables
  std::vector<Cmd> cmds;
};

struct Node;
using NodeList = std::vector<std::unique_ptr<const Node>>;

struct Node {
  enum class K { Text, Action, If, Range, With, Template, Break, Continue };
  K k = K::Text;
  int pos = 0;
  std::string text;                  // Text: the literal text; Template: the template name
  std::shared_ptr<const Pipe> pipe;  // Action, If, Range, With; Template (may be null)
  NodeList list;                     // If, Range, With
  NodeList else_list;
};

/// A parsed template body: the main text or one `{{define}}`.
struct Tree {
  std::string name;        ///< the template's name ("__alert_X", or the define's name)
  std::string parse_name;  ///< the name of the text it was parsed from (Go's ParseName)
  std::shared_ptr<const std::string> source;
  NodeList root;
};

using TreeMap = std::map<std::string, std::shared_ptr<const Tree>, std::less<>>;

struct ParseError {
  int pos = 0;
  std::string message;
};

/// Parses `source` (named `name`) into its main tree and `{{define}}`/`{{block}}` trees.
/// `predeclared` are variables visible in the main tree besides `$` (Prometheus's `$labels`...).
/// Returns false with `*error` set on a syntax error.
bool parse_template(const std::string& name, std::shared_ptr<const std::string> source,
                    const std::vector<std::string>& predeclared, std::shared_ptr<const Tree>* main,
                    TreeMap* defines, ParseError* error);

/// (line, column) of a byte offset, both 1-based.
std::pair<int, int> line_col(const std::string& source, int pos);

}  // namespace promwatch::tmpl
