// Recursive-descent parser for Go templates, following text/template/parse/parse.go: the same
// grammar, the same scoping of variables, the same checks at parse time (unknown functions,
// undefined variables, misplaced {{else}}/{{end}}/{{break}}), with Go's messages.
// Nesting is bounded so hostile input cannot exhaust the stack.

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "ast.hpp"
#include "funcs.hpp"
#include "lexer.hpp"
#include "promwatch/labels.hpp"
#include "promwatch/utf8.hpp"

namespace promwatch::tmpl {

namespace {

constexpr int kMaxNesting = 100;

struct Abort {
  ParseError error;
};

class Parser {
 public:
  Parser(const std::string& name, std::shared_ptr<const std::string> source, TreeMap* defines)
      : name_(name), source_(std::move(source)), defines_(defines) {
    toks_ = lex(*source_);
  }

  std::shared_ptr<const Tree> parse_main(const std::vector<std::string>& predeclared) {
    auto tree = std::make_shared<Tree>();
    tree->name = name_;
    tree->parse_name = name_;
    tree->source = source_;
    vars_ = {"$"};
    for (const auto& v : predeclared) vars_.push_back(v);
    while (peek().type != Tok::Eof) {
      if (peek().type == Tok::LeftDelim) {
        std::size_t save = p_;
        next();
        if (next_non_space().type == Tok::Define) {
          parse_definition();
          continue;
        }
        p_ = save;
      }
      auto n = text_or_action();
      if (n.marker != Marker::None) unexpected_marker(n);
      if (n.node) tree->root.push_back(std::move(n.node));
    }
    return tree;
  }

 private:
  enum class Marker { None, End, Else };
  struct Item {
    std::unique_ptr<const Node> node;
    Marker marker = Marker::None;
    int pos = 0;
    bool else_chain = false;  // {{else if}} / {{else with}}: the keyword follows
  };

  [[noreturn]] void fail(int pos, std::string msg) { throw Abort{ParseError{pos, std::move(msg)}}; }

  const Token& peek() {
    check_error(toks_[p_]);
    return toks_[p_];
  }
  const Token& next() {
    const Token& t = peek();
    if (p_ + 1 < toks_.size()) ++p_;
    return t;
  }
  void backup() { --p_; }
  const Token& next_non_space() {
    while (peek().type == Tok::Space) next();
    return next();
  }
  const Token& peek_non_space() {
    while (peek().type == Tok::Space) next();
    return peek();
  }
  void check_error(const Token& t) {
    if (t.type == Tok::Error) fail(t.pos, t.text);
  }
  const Token& expect(Tok type, const std::string& context) {
    const Token& t = next_non_space();
    if (t.type != type) unexpected(t, context);
    return t;
  }
  [[noreturn]] void unexpected(const Token& t, const std::string& context) {
    fail(t.pos, "unexpected " + describe(t) + " in " + context);
  }
  [[noreturn]] void unexpected_marker(const Item& n) {
    fail(n.pos, n.marker == Marker::End ? "unexpected {{end}}" : "unexpected {{else}}");
  }

  struct DepthGuard {
    explicit DepthGuard(Parser* p, int pos) : p_(p) {
      if (++p_->depth_ > kMaxNesting) p_->fail(pos, "max nesting depth exceeded");
    }
    ~DepthGuard() { --p_->depth_; }
    Parser* p_;
  };

  void parse_definition() {
    const Token& name_tok = next_non_space();
    std::string tname = template_name(name_tok, "define clause");
    expect(Tok::RightDelim, "define clause");
    auto saved_vars = vars_;
    vars_ = {"$"};
    auto tree = std::make_shared<Tree>();
    tree->name = tname;
    tree->parse_name = name_;
    tree->source = source_;
    Item end;
    tree->root = item_list(&end);
    if (end.marker != Marker::End) fail(end.pos, "unexpected {{else}} in define clause");
    vars_ = std::move(saved_vars);
    add_define(std::move(tree));
  }

  void add_define(std::shared_ptr<Tree> tree) {
    // Go keeps an existing definition when the new one is empty (whitespace only).
    bool empty = true;
    for (const auto& n : tree->root) {
      if (n->k != Node::K::Text || n->text.find_first_not_of(" \t\r\n") != std::string::npos) empty = false;
    }
    auto it = defines_->find(tree->name);
    if (it != defines_->end() && empty) return;
    (*defines_)[tree->name] = std::move(tree);
  }

  std::string template_name(const Token& t, const std::string& context) {
    if (t.type == Tok::String || t.type == Tok::RawString) return unquote(t);
    unexpected(t, context);
  }

  NodeList item_list(Item* terminator) {
    NodeList list;
    while (peek_non_space().type != Tok::Eof) {
      Item n = text_or_action();
      if (n.marker != Marker::None) {
        *terminator = std::move(n);
        return list;
      }
      if (n.node) list.push_back(std::move(n.node));
    }
    fail(peek().pos, "unexpected EOF");
  }

  Item text_or_action() {
    const Token& t = next_non_space();
    Item item;
    item.pos = t.pos;
    if (t.type == Tok::Text) {
      auto n = std::make_unique<Node>();
      n->k = Node::K::Text;
      n->pos = t.pos;
      n->text = t.text;
      item.node = std::move(n);
      return item;
    }
    if (t.type == Tok::LeftDelim) return action();
    unexpected(t, "input");
  }

  Item action() {
    const Token& t = next_non_space();
    Item item;
    item.pos = t.pos;
    switch (t.type) {
      case Tok::Block: item.node = block_control(t.pos); return item;
      case Tok::Break:
      case Tok::Continue: {
        bool is_break = t.type == Tok::Break;
        if (range_depth_ == 0) fail(t.pos, is_break ? "{{break}} outside {{range}}" : "{{continue}} outside {{range}}");
        expect(Tok::RightDelim, is_break ? "{{break}}" : "{{continue}}");
        auto n = std::make_unique<Node>();
        n->k = is_break ? Node::K::Break : Node::K::Continue;
        n->pos = t.pos;
        item.node = std::move(n);
        return item;
      }
      case Tok::Else: {
        const Token& nx = peek_non_space();
        if (nx.type == Tok::If || nx.type == Tok::With) {
          item.marker = Marker::Else;
          item.else_chain = true;
          return item;
        }
        expect(Tok::RightDelim, "else");
        item.marker = Marker::Else;
        return item;
      }
      case Tok::End:
        expect(Tok::RightDelim, "end");
        item.marker = Marker::End;
        return item;
      case Tok::If: item.node = control(Node::K::If, "if", t.pos); return item;
      case Tok::Range: item.node = control(Node::K::Range, "range", t.pos); return item;
      case Tok::With: item.node = control(Node::K::With, "with", t.pos); return item;
      case Tok::Template: item.node = template_control(t.pos); return item;
      default: break;
    }
    backup();
    auto n = std::make_unique<Node>();
    n->k = Node::K::Action;
    n->pos = t.pos;
    n->pipe = pipeline("command", Tok::RightDelim);
    item.node = std::move(n);
    return item;
  }

  std::unique_ptr<const Node> control(Node::K kind, const std::string& context, int pos) {
    DepthGuard guard(this, pos);
    std::size_t saved_vars = vars_.size();
    auto n = std::make_unique<Node>();
    n->k = kind;
    n->pos = pos;
    n->pipe = pipeline(context, Tok::RightDelim);
    if (kind == Node::K::Range) ++range_depth_;
    Item next;
    n->list = item_list(&next);
    if (kind == Node::K::Range) --range_depth_;
    if (next.marker == Marker::Else) {
      const Token& kw = peek_non_space();
      if (next.else_chain && ((kind == Node::K::If && kw.type == Tok::If) || (kind == Node::K::With && kw.type == Tok::With))) {
        // "else if" / "else with": the nested control shares our {{end}}.
        const Token& k2 = next_non_space();
        n->else_list.push_back(control(kind, context, k2.pos));
      } else {
        if (next.else_chain) unexpected(kw, "else");
        Item end;
        n->else_list = item_list(&end);
        if (end.marker != Marker::End) fail(end.pos, "expected end; found {{else}}");
      }
    }
    vars_.resize(saved_vars);
    return n;
  }

  std::unique_ptr<const Node> template_control(int pos) {
    const Token& name_tok = next_non_space();
    auto n = std::make_unique<Node>();
    n->k = Node::K::Template;
    n->pos = pos;
    n->text = template_name(name_tok, "template clause");
    if (next_non_space().type != Tok::RightDelim) {
      backup();
      n->pipe = pipeline("template clause", Tok::RightDelim);
    }
    return n;
  }

  // {{block "name" pipeline}} T1 {{end}} = {{define "name"}} T1 {{end}}{{template "name" pipeline}}
  std::unique_ptr<const Node> block_control(int pos) {
    DepthGuard guard(this, pos);
    const Token& name_tok = next_non_space();
    std::string tname = template_name(name_tok, "block clause");
    auto n = std::make_unique<Node>();
    n->k = Node::K::Template;
    n->pos = pos;
    n->text = tname;
    n->pipe = pipeline("block clause", Tok::RightDelim);
    auto saved_vars = vars_;
    int saved_range = range_depth_;
    vars_ = {"$"};
    range_depth_ = 0;
    auto tree = std::make_shared<Tree>();
    tree->name = tname;
    tree->parse_name = name_;
    tree->source = source_;
    Item end;
    tree->root = item_list(&end);
    if (end.marker != Marker::End) fail(end.pos, "unexpected {{else}} in block clause");
    vars_ = std::move(saved_vars);
    range_depth_ = saved_range;
    add_define(std::move(tree));
    return n;
  }

  std::shared_ptr<const Pipe> pipeline(const std::string& context, Tok end) {
    auto pipe = std::make_shared<Pipe>();
    pipe->pos = peek_non_space().pos;
    // Declarations: $x := / $x = / (range) $i, $e :=
    while (peek_non_space().type == Tok::Variable) {
      std::size_t save = p_;
      const Token& v = next();
      const Token& nx = peek_non_space();
      if (nx.type == Tok::Declare || nx.type == Tok::Assign) {
        next_non_space();
        pipe->is_assign = nx.type == Tok::Assign;
        // Go declares the name even for "=": assigning an undeclared variable fails at run time.
        pipe->decl.push_back(v.text);
        vars_.push_back(v.text);
        break;
      }
      if (nx.type == Tok::Comma) {
        next_non_space();
        pipe->decl.push_back(v.text);
        vars_.push_back(v.text);
        if (context == "range" && pipe->decl.size() < 2) {
          Tok t = peek_non_space().type;
          if (t == Tok::Variable || t == Tok::RightDelim || t == Tok::RightParen) continue;
          fail(peek_non_space().pos, "range can only initialize variables");
        }
        fail(v.pos, "too many declarations in " + context);
      }
      p_ = save;  // a variable used as an operand, not declared
      break;
    }
    while (true) {
      const Token& t = next_non_space();
      if (t.type == end) {
        check_pipeline(*pipe, context, t.pos);
        return pipe;
      }
      switch (t.type) {
        case Tok::Bool: case Tok::Char: case Tok::Dot: case Tok::Field: case Tok::Identifier:
        case Tok::Number: case Tok::Nil: case Tok::RawString: case Tok::String: case Tok::Variable:
        case Tok::LeftParen:
          backup();
          pipe->cmds.push_back(command());
          break;
        default: unexpected(t, context);
      }
    }
  }

  void check_pipeline(const Pipe& pipe, const std::string& context, int pos) {
    if (pipe.cmds.empty()) fail(pos, "missing value for " + context);
    for (std::size_t i = 1; i < pipe.cmds.size(); ++i) {
      switch (pipe.cmds[i].args[0].k) {
        case Arg::K::Literal: case Arg::K::Dot: case Arg::K::Nil:
          fail(pipe.cmds[i].pos, "non executable command in pipeline stage " + std::to_string(i + 1));
        default: break;
      }
    }
  }

  Cmd command() {
    Cmd cmd;
    cmd.pos = peek_non_space().pos;
    int end_pos = cmd.pos;
    while (true) {
      peek_non_space();
      auto operand_arg = operand();
      if (operand_arg) {
        end_pos = p_ > 0 ? toks_[p_ - 1].pos + static_cast<int>(toks_[p_ - 1].text.size()) : end_pos;
        cmd.args.push_back(std::move(*operand_arg));
      }
      const Token& t = next();
      if (t.type == Tok::Space) continue;
      if (t.type == Tok::RightDelim || t.type == Tok::RightParen) {
        backup();
      } else if (t.type != Tok::Pipe) {
        unexpected(t, "operand");
      }
      break;
    }
    if (cmd.args.empty()) fail(cmd.pos, "empty command");
    cmd.text = source_->substr(static_cast<std::size_t>(cmd.pos), static_cast<std::size_t>(std::max(0, end_pos - cmd.pos)));
    return cmd;
  }

  std::optional<Arg> operand() {
    auto a = term();
    if (!a) return a;
    int term_pos = a->pos;
    if (peek().type == Tok::Field) {
      std::vector<std::string> chain;
      int end = 0;
      int chain_pos = peek().pos;  // Go positions a chained operand at its first '.field'
      if (a->k == Arg::K::Field || a->k == Arg::K::Var || a->k == Arg::K::SubPipe) a->pos = chain_pos;
      while (peek().type == Tok::Field) {
        const Token& f = next();
        chain.push_back(f.text.substr(1));
        end = f.pos + static_cast<int>(f.text.size());
      }
      switch (a->k) {
        case Arg::K::Field: case Arg::K::Var: case Arg::K::SubPipe:
          for (auto& c : chain) a->chain.push_back(std::move(c));
          break;
        default: fail(a->pos, "unexpected . after term " + go_quote(a->text));
      }
      a->text = source_->substr(static_cast<std::size_t>(term_pos), static_cast<std::size_t>(end - term_pos));
    }
    return a;
  }

  std::optional<Arg> term() {
    const Token& t = next_non_space();
    Arg a;
    a.pos = t.pos;
    a.text = t.text;
    switch (t.type) {
      case Tok::Identifier:
        if (!find_function(t.text)) fail(t.pos, "function \"" + t.text + "\" not defined");
        a.k = Arg::K::Func;
        a.name = t.text;
        return a;
      case Tok::Dot: a.k = Arg::K::Dot; return a;
      case Tok::Nil: a.k = Arg::K::Nil; return a;
      case Tok::Variable:
        use_var(t.text, t.pos);
        a.k = Arg::K::Var;
        a.name = t.text;
        return a;
      case Tok::Field:
        a.k = Arg::K::Field;
        a.chain.push_back(t.text.substr(1));
        return a;
      case Tok::Bool:
        a.k = Arg::K::Literal;
        a.literal = Value::boolean(t.text == "true");
        return a;
      case Tok::Char: case Tok::Number:
        a.k = Arg::K::Literal;
        a.literal = number(t);
        return a;
      case Tok::String: case Tok::RawString:
        a.k = Arg::K::Literal;
        a.literal = Value::string(unquote(t));
        return a;
      case Tok::LeftParen: {
        DepthGuard guard(this, t.pos);
        a.k = Arg::K::SubPipe;
        a.pipe = pipeline("parenthesized pipeline", Tok::RightParen);
        const Token& close = toks_[p_ - 1];
        a.text = source_->substr(static_cast<std::size_t>(t.pos), static_cast<std::size_t>(close.pos + 1 - t.pos));
        return a;
      }
      default:
        backup();
        return std::nullopt;
    }
  }

  void use_var(const std::string& name, int pos) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (*it == name) return;
    fail(pos, "undefined variable \"" + name + "\"");
  }

  // Go's NumberNode plus idealConstant: integers stay int, anything written with '.', an
  // exponent or 'p' is a float64; character constants are ints (runes).
  Value number(const Token& t) {
    const std::string& s = t.text;
    if (t.type == Tok::Char) {
      std::string body = unquote_body(s.substr(1, s.size() - 2), '\'', t.pos);
      // decode one UTF-8 rune
      std::size_t runes = 0;
      for (char ch : body)
        if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++runes;
      if (runes != 1) fail(t.pos, "malformed character constant: " + s);
      auto u = static_cast<unsigned char>(body[0]);
      std::int64_t r = u;
      if (u >= 0xC0) {
        int len = u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : 2;
        r = u & (0x3F >> (len - 1));
        for (int k = 1; k < len && k < static_cast<int>(body.size()); ++k) r = (r << 6) | (body[static_cast<std::size_t>(k)] & 0x3F);
      }
      return Value::integer(r);
    }
    if (!s.empty() && s.back() == 'i') fail(t.pos, "complex numbers are not supported: " + s);
    std::string clean;
    for (char c : s)
      if (c != '_') clean += c;
    bool hex = clean.find("0x") != std::string::npos || clean.find("0X") != std::string::npos;
    bool floaty = hex ? clean.find_first_of("pP") != std::string::npos : clean.find_first_of(".eE") != std::string::npos;
    if (!floaty) {
      std::string digits = clean;
      bool neg = false;
      if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
        neg = digits[0] == '-';
        digits.erase(0, 1);
      }
      int base = 10;
      if (digits.size() > 1 && digits[0] == '0') {
        char p = static_cast<char>(digits[1] | 0x20);
        if (p == 'x') { base = 16; digits.erase(0, 2); }
        else if (p == 'o') { base = 8; digits.erase(0, 2); }
        else if (p == 'b') { base = 2; digits.erase(0, 2); }
        else { base = 8; digits.erase(0, 1); }
      }
      if (digits.empty() && base != 8) fail(t.pos, "illegal number syntax: \"" + s + "\"");
      if (digits.empty()) digits = "0";
      errno = 0;
      char* endp = nullptr;
      unsigned long long u = std::strtoull(digits.c_str(), &endp, base);
      if (*endp != '\0') fail(t.pos, "illegal number syntax: \"" + s + "\"");
      if (errno == ERANGE || u > static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max()) + (neg ? 1ULL : 0ULL))
        fail(t.pos, "integer overflow: \"" + s + "\"");
      return Value::integer(neg ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u));
    }
    errno = 0;
    char* endp = nullptr;
    double d = std::strtod(clean.c_str(), &endp);
    if (*endp != '\0' || clean.empty()) fail(t.pos, "illegal number syntax: \"" + s + "\"");
    if (std::isinf(d)) fail(t.pos, "illegal number syntax: \"" + s + "\"");
    return Value::number(d);
  }

  std::string unquote(const Token& t) {
    const std::string& s = t.text;
    if (t.type == Tok::RawString) {
      std::string r = s.substr(1, s.size() - 2);
      std::string out;
      for (char c : r)
        if (c != '\r') out += c;  // Go drops carriage returns from raw strings
      return out;
    }
    return unquote_body(s.substr(1, s.size() - 2), '"', t.pos);
  }

  // Go's strconv.Unquote escapes.
  std::string unquote_body(const std::string& s, char quote, int pos) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (++i >= s.size()) fail(pos, "invalid syntax");
      char e = s[i];
      auto hexval = [&](std::size_t n) -> std::uint32_t {
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < n; ++k) {
          if (i + 1 >= s.size()) fail(pos, "invalid syntax");
          char h = s[++i];
          int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (d < 0) fail(pos, "invalid syntax");
          v = v * 16 + static_cast<std::uint32_t>(d);
        }
        return v;
      };
      switch (e) {
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '\'': case '"':
          if (e != quote) fail(pos, "invalid syntax");
          out += e;
          break;
        case 'x': out += static_cast<char>(hexval(2)); break;
        case 'u': append_utf8(out, hexval(4)); break;
        case 'U': append_utf8(out, hexval(8)); break;
        default:
          if (e >= '0' && e <= '7') {
            if (i + 2 >= s.size()) fail(pos, "invalid syntax");
            int v = 0;
            for (int k = 0; k < 3; ++k, ++i) {
              if (s[i] < '0' || s[i] > '7') fail(pos, "invalid syntax");
              v = v * 8 + (s[i] - '0');
            }
            --i;
            if (v > 255) fail(pos, "invalid syntax");
            out += static_cast<char>(v);
            break;
          }
          fail(pos, "invalid syntax");
      }
    }
    return out;
  }

  std::string name_;
  std::shared_ptr<const std::string> source_;
  TreeMap* defines_;
  std::vector<Token> toks_;
  std::size_t p_ = 0;
  std::vector<std::string> vars_;
  int range_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

bool parse_template(const std::string& name, std::shared_ptr<const std::string> source,
                    const std::vector<std::string>& predeclared, std::shared_ptr<const Tree>* main,
                    TreeMap* defines, ParseError* error) {
  try {
    Parser p(name, std::move(source), defines);
    *main = p.parse_main(predeclared);
    return true;
  } catch (const Abort& a) {
    if (error) *error = a.error;
    return false;
  }
}

std::pair<int, int> line_col(const std::string& source, int pos) {
  int line = 1, col = 1;
  for (int k = 0; k < pos && k < static_cast<int>(source.size()); ++k) {
    if (source[static_cast<std::size_t>(k)] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

}  // namespace promwatch::tmpl
