// Evaluator for parsed templates, following text/template/exec.go: Go's truthiness, the
// scoping of variables, method-before-key lookup on maps, the `missingkey=zero` option that
// Prometheus and Alertmanager both set, short-circuit and/or, and Go's error messages.
// Everything a template can make us do is bounded (output size, {{template}} depth, steps).

#include "exec.hpp"

namespace promwatch::tmpl {

namespace {

struct ExecAbort {
  std::string message;
};

enum class Flow { Normal, Break, Continue };

class Exec {
 public:
  Exec(const ExecInput& in, std::string& out) : in_(in), out_(out) {}

  void run() {
    tree_ = in_.main;
    vars_.emplace_back("$", in_.dot);
    for (const auto& v : in_.vars) vars_.push_back(v);
    walk_list(tree_->root, in_.dot);
  }

 private:
  // ---- errors ----
  [[noreturn]] void fail_at(int pos, const std::string& context, const std::string& msg) {
    const std::string& src = *tree_->source;
    int p = std::min<int>(pos, static_cast<int>(src.size()));
    int line = 1;
    int last_nl = -1;
    for (int k = 0; k < p; ++k)
      if (src[static_cast<std::size_t>(k)] == '\n') {
        ++line;
        last_nl = k;
      }
    // Go's ErrorContext: the column is the byte offset within the line (0-based on line 1).
    int col = last_nl < 0 ? p : p - (last_nl + 1);
    if (line == 1 && tree_->source == in_.main->source) col += in_.line1_col_offset;
    const std::string& ctx = context;
    const bool renamed = in_.main_name != nullptr;
    const std::string& parse_name = renamed && tree_->source == in_.main->source ? *in_.main_name : tree_->parse_name;
    const std::string& name = renamed && tree_ == in_.main ? *in_.main_name : tree_->name;
    throw ExecAbort{"template: " + parse_name + ":" + std::to_string(line) + ":" + std::to_string(col) +
                    ": executing \"" + name + "\" at <" + ctx + ">: " + msg};
  }

  void step(int pos) {
    if (++steps_ > kMaxSteps) fail_at(pos, "", "template execution exceeded " + std::to_string(kMaxSteps) + " steps");
  }

  void write(int pos, const std::string& s) {
    if (out_.size() + s.size() > kMaxOutputBytes)
      fail_at(pos, "", "template output exceeds " + std::to_string(kMaxOutputBytes) + " bytes");
    out_ += s;
  }

  // ---- walking ----
  Flow walk_list(const NodeList& list, const Value& dot) {
    for (const auto& n : list) {
      Flow f = walk(*n, dot);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  // Bounds the evaluator's recursion (nested controls, parenthesised pipelines and
  // {{template}} calls together), so that deep templates cannot overflow a thread's stack.
  struct NestGuard {
    NestGuard(Exec* e, int pos) : e_(e) {
      if (++e_->nest_ > kMaxNesting) e_->fail_at(pos, "", "exceeded maximum nesting depth (" + std::to_string(kMaxNesting) + ")");
    }
    ~NestGuard() { --e_->nest_; }
    Exec* e_;
  };

  Flow walk(const Node& n, const Value& dot) {
    step(n.pos);
    NestGuard guard(this, n.pos);
    switch (n.k) {
      case Node::K::Text: write(n.pos, n.text); return Flow::Normal;
      case Node::K::Action: {
        Value v = eval_pipeline(dot, *n.pipe);
        if (n.pipe->decl.empty()) print(n.pos, v);
        return Flow::Normal;
      }
      case Node::K::If:
      case Node::K::With: {
        std::size_t mark = vars_.size();
        Value v = eval_pipeline(dot, *n.pipe);
        Flow f;
        if (truth(v)) f = walk_list(n.list, n.k == Node::K::With ? v : dot);
        else f = walk_list(n.else_list, dot);
        vars_.resize(mark);
        return f;
      }
      case Node::K::Range: return walk_range(n, dot);
      case Node::K::Template: return walk_template(n, dot);
      case Node::K::Break: return Flow::Break;
      case Node::K::Continue: return Flow::Continue;
    }
    return Flow::Normal;
  }

  void print(int pos, const Value& v) {
    // An absent value prints "<no value>" (text/template), everything else as fmt's %v.
    if (v.kind == Kind::Nil) {
      write(pos, "<no value>");
      return;
    }
    if (v.kind == Kind::Object && v.type == Type::Pointer) {
      // text/template prints what a pointer points to (printableValue): {..}, where fmt has &{..}.
      Value pointee = v;
      pointee.type = Type::Plain;
      write(pos, to_print_string(pointee));
      return;
    }
    write(pos, to_print_string(v));
  }

  Flow walk_range(const Node& n, const Value& dot) {
    std::size_t mark = vars_.size();
    Value v = eval_pipeline(dot, *n.pipe);
    const Pipe& pipe = *n.pipe;
    // Declared variables were pushed by eval_pipeline; each iteration sets them.
    auto one = [&](const Value& key, const Value& elem) -> Flow {
      if (!pipe.decl.empty()) {
        if (pipe.is_assign) {
          if (pipe.decl.size() > 1) set_var(n.pos, pipe.decl[0], key);
          else set_var(n.pos, pipe.decl[0], elem);
          if (pipe.decl.size() > 1) set_var(n.pos, pipe.decl[1], elem);
        } else {
          vars_[vars_.size() - 1].second = elem;
          if (pipe.decl.size() > 1) vars_[vars_.size() - 2].second = key;
        }
      }
      std::size_t inner = vars_.size();
      Flow f = walk_list(n.list, elem);
      vars_.resize(inner);
      return f;
    };
    bool any = false;
    switch (v.kind) {
      case Kind::List:
        for (std::size_t i = 0; i < v.list->size(); ++i) {
          any = true;
          step(n.pos);
          if (one(Value::integer(static_cast<std::int64_t>(i)), (*v.list)[i]) == Flow::Break) break;
        }
        break;
      case Kind::Map:
        for (const auto& [k, e] : *v.map) {
          any = true;
          step(n.pos);
          if (one(Value::string(k), e) == Flow::Break) break;
        }
        break;
      case Kind::Nil: break;
      default:
        // Go reports the node evaluated last: the final command's last operand.
        fail_at(pipe.cmds.back().args.back().pos, pipe.cmds.back().args.back().text,
                "range can't iterate over " + to_print_string(v));
    }
    if (!any) walk_list(n.else_list, dot);
    vars_.resize(mark);
    return Flow::Normal;
  }

  Flow walk_template(const Node& n, const Value& dot) {
    const Tree* target = nullptr;
    if (in_.local_defines) {
      auto it = in_.local_defines->find(n.text);
      if (it != in_.local_defines->end()) target = it->second.get();
    }
    if (!target && in_.library_defines) {
      auto it = in_.library_defines->find(n.text);
      if (it != in_.library_defines->end()) target = it->second.get();
    }
    std::string ctx = "{{template \"" + n.text + "\"}}";
    if (!target) fail_at(n.pos, ctx, "template \"" + n.text + "\" not defined");
    if (depth_ >= kMaxTemplateDepth)
      fail_at(n.pos, ctx, "exceeded maximum template depth (" + std::to_string(kMaxTemplateDepth) + ")");
    Value new_dot = n.pipe ? eval_pipeline(dot, *n.pipe) : Value{};
    auto saved_vars = std::move(vars_);
    const Tree* saved_tree = tree_;
    vars_.clear();
    vars_.emplace_back("$", new_dot);
    tree_ = target;
    ++depth_;
    walk_list(target->root, new_dot);
    --depth_;
    tree_ = saved_tree;
    vars_ = std::move(saved_vars);
    return Flow::Normal;
  }

  // ---- variables ----
  const Value& var(int pos, const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == name) return it->second;
    fail_at(pos, name, "undefined variable: " + name);
  }
  void set_var(int pos, const std::string& name, const Value& v) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == name) {
        it->second = v;
        return;
      }
    fail_at(pos, name, "undefined variable: " + name);
  }

  // ---- pipelines and commands ----
  Value eval_pipeline(const Value& dot, const Pipe& pipe) {
    Value value;
    bool has_final = false;
    for (const auto& c : pipe.cmds) {
      value = eval_command(dot, c, has_final ? &value : nullptr);
      has_final = true;
    }
    for (const auto& name : pipe.decl) {
      if (pipe.is_assign) set_var(pipe.pos, name, value);
      else vars_.emplace_back(name, value);
    }
    return value;
  }

  Value eval_command(const Value& dot, const Cmd& cmd, const Value* final) {
    step(cmd.pos);
    const Arg& first = cmd.args[0];
    switch (first.k) {
      case Arg::K::Field: return eval_field_chain(dot, dot, first, first.chain, &cmd, final);
      case Arg::K::Var: {
        const Value& v = var(first.pos, first.name);
        if (first.chain.empty()) {
          not_a_function(cmd, final);
          return v;
        }
        return eval_field_chain(dot, v, first, first.chain, &cmd, final);
      }
      case Arg::K::SubPipe: {
        NestGuard guard(this, first.pos);
        Value v = eval_pipeline(dot, *first.pipe);
        if (first.chain.empty()) {
          not_a_function(cmd, final);
          return v;
        }
        return eval_field_chain(dot, v, first, first.chain, &cmd, final);
      }
      case Arg::K::Func: return eval_function(dot, first, cmd, final);
      case Arg::K::Nil: fail_at(cmd.pos, cmd.text, "nil is not a command");
      case Arg::K::Dot:
        not_a_function(cmd, final);
        return dot;
      case Arg::K::Literal:
        not_a_function(cmd, final);
        return first.literal;
    }
    return {};
  }

  void not_a_function(const Cmd& cmd, const Value* final) {
    if (cmd.args.size() > 1 || final)
      fail_at(cmd.args[0].pos, cmd.args[0].text, "can't give argument to non-function " + cmd.args[0].text);
  }

  // Evaluates an operand used as an argument.
  Value eval_arg(const Value& dot, const Arg& a) {
    switch (a.k) {
      case Arg::K::Dot: return dot;
      case Arg::K::Nil: return {};
      case Arg::K::Literal: return a.literal;
      case Arg::K::Field: return eval_field_chain(dot, dot, a, a.chain, nullptr, nullptr);
      case Arg::K::Var: {
        const Value& v = var(a.pos, a.name);
        if (a.chain.empty()) return v;
        return eval_field_chain(dot, v, a, a.chain, nullptr, nullptr);
      }
      case Arg::K::SubPipe: {
        NestGuard guard(this, a.pos);
        Value v = eval_pipeline(dot, *a.pipe);
        if (a.chain.empty()) return v;
        return eval_field_chain(dot, v, a, a.chain, nullptr, nullptr);
      }
      case Arg::K::Func: {
        Cmd c;
        c.pos = a.pos;
        c.text = a.text;
        c.args.push_back(a);
        return eval_function(dot, a, c, nullptr);
      }
    }
    return {};
  }

  // `.A.B.C args`: all but the last are plain lookups; the last gets the arguments.
  Value eval_field_chain(const Value& dot, Value receiver, const Arg& node, const std::vector<std::string>& chain,
                         const Cmd* cmd, const Value* final) {
    for (std::size_t k = 0; k + 1 < chain.size(); ++k) receiver = eval_field(dot, chain[k], node, nullptr, nullptr, receiver);
    return eval_field(dot, chain.back(), node, cmd, final, receiver);
  }

  Value eval_field(const Value& dot, const std::string& field, const Arg& node, const Cmd* cmd, const Value* final,
                   const Value& receiver) {
    bool has_args = (cmd && cmd->args.size() > 1) || final;
    if (receiver.kind == Kind::Nil) return {};  // missingkey=zero: nothing to look into
    if (has_method(receiver, field)) {
      std::vector<Value> args;
      if (cmd)
        for (std::size_t k = 1; k < cmd->args.size(); ++k) args.push_back(eval_arg(dot, cmd->args[k]));
      if (final) args.push_back(*final);
      try {
        return call_method(in_.ctx, receiver, field, args);
      } catch (const FuncError& e) {
        fail_at(node.pos, node.text, e.wrap ? "error calling " + field + ": " + e.message : e.message);
      }
    }
    if (receiver.kind == Kind::Object) {
      if (const Value* v = receiver.obj->field(field)) {
        if (has_args) fail_at(node.pos, node.text, field + " has arguments but cannot be invoked as function");
        return *v;
      }
      fail_at(node.pos, node.text, "can't evaluate field " + field + " in type " + type_name(receiver));
    }
    if (receiver.kind == Kind::Map) {
      if (has_args) fail_at(node.pos, node.text, field + " is not a method but has arguments");
      if (const Value* v = map_find(*receiver.map, field)) return *v;
      // missingkey=zero: the zero value of the map's element type.
      if (receiver.type == Type::StringMap || receiver.type == Type::KV) return Value::string("");
      return {};
    }
    fail_at(node.pos, node.text, "can't evaluate field " + field + " in type " + type_name(receiver));
  }

  Value eval_function(const Value& dot, const Arg& fn_arg, const Cmd& cmd, const Value* final) {
    const FuncInfo* fn = find_function(fn_arg.name);
    if (!fn) fail_at(fn_arg.pos, fn_arg.name, "\"" + fn_arg.name + "\" is not a defined function");
    int nargs = static_cast<int>(cmd.args.size()) - 1 + (final ? 1 : 0);
    if (nargs < fn->min_args || (fn->max_args >= 0 && nargs > fn->max_args)) {
      std::string want = fn->max_args < 0 ? "at least " + std::to_string(fn->min_args) : std::to_string(fn->min_args);
      fail_at(cmd.pos, cmd.text,
              "wrong number of args for " + fn_arg.name + ": want " + want + " got " + std::to_string(nargs));
    }
    if (!fn->impl && fn_arg.name == "tmpl") {
      std::vector<Value> args;
      for (std::size_t k = 1; k < cmd.args.size(); ++k) args.push_back(eval_arg(dot, cmd.args[k]));
      if (final) args.push_back(*final);
      return call_tmpl(cmd, args);
    }
    if (!fn->impl) {
      // and/or: evaluate lazily and return the deciding value (Go 1.18+).
      bool is_or = fn_arg.name == "or";
      Value v;
      for (std::size_t k = 1; k < cmd.args.size(); ++k) {
        v = eval_arg(dot, cmd.args[k]);
        if (truth(v) == is_or) return v;
      }
      if (final) v = *final;
      return v;
    }
    std::vector<Value> args;
    args.reserve(static_cast<std::size_t>(nargs));
    for (std::size_t k = 1; k < cmd.args.size(); ++k) args.push_back(eval_arg(dot, cmd.args[k]));
    if (final) args.push_back(*final);
    // Functions cost time in proportion to the strings they read (regexps, escaping) and
    // build; bound that total as well, so loops over big strings end.
    for (const auto& a : args)
      if (a.kind == Kind::String) work_bytes_ += a.s.size();
    try {
      Value result = fn->impl(in_.ctx, args);
      if (result.kind == Kind::String) {
        if (result.s.size() > kMaxStringBytes)
          throw FuncError{"string exceeds " + std::to_string(kMaxStringBytes) + " bytes", true};
        work_bytes_ += result.s.size();
        if (work_bytes_ > kMaxWorkBytes)
          fail_at(cmd.pos, cmd.text, "template execution processed more than " + std::to_string(kMaxWorkBytes) + " bytes of strings");
      }
      return result;
    } catch (const FuncError& e) {
      constant_argument_error(cmd, args, e);
      fail_at(cmd.pos, cmd.text, e.wrap ? "error calling " + fn_arg.name + ": " + e.message : e.message);
    }
  }

  // text/template checks arguments against the parameter's type before the call (exec.go
  // evalArg, validateType) and reports it at the argument: constants of the text in their own
  // words ("expected string; found 1", "can't handle 1 for arg of type template.queryResult",
  // "cannot assign nil to string"), other values as "wrong type for value; ...". A piped value
  // is reported at the command's last operand, the node Go evaluated last.
  void constant_argument_error(const Cmd& cmd, const std::vector<Value>& args, const FuncError& e) {
    if (!e.bad_arg || args.empty() || e.bad_arg < args.data() || e.bad_arg >= args.data() + args.size()) return;
    std::size_t k = static_cast<std::size_t>(e.bad_arg - args.data());
    if (k + 1 >= cmd.args.size()) fail_at(cmd.args.back().pos, cmd.args.back().text, e.message);
    const Arg& a = cmd.args[k + 1];
    if (a.k == Arg::K::Nil) {
      if (e.expected == "string" || e.expected == "float64" || e.expected == "int" || e.expected == "bool")
        fail_at(a.pos, a.text, "cannot assign nil to " + e.expected);
      return;
    }
    if (a.k != Arg::K::Literal) fail_at(a.pos, a.text, e.message);
    if (e.expected == "string") fail_at(a.pos, a.text, "expected string; found " + a.text);
    if (e.expected == "float64") fail_at(a.pos, a.text, "expected float; found " + a.text);
    if (e.expected == "int") fail_at(a.pos, a.text, "expected integer; found " + a.text);
    if (e.expected == "bool") fail_at(a.pos, a.text, "expected bool; found " + a.text);
    fail_at(a.pos, a.text, "can't handle " + a.text + " for arg of type " + e.expected);
  }

  // Prometheus's `tmpl NAME DATA`: executes a definition as ExecuteTemplate does (a fresh
  // execution: `$` is DATA, no variables of the caller) and returns its output as
  // html/template.HTML. Its errors are the function's error ("error calling tmpl: ...").
  Value call_tmpl(const Cmd& cmd, const std::vector<Value>& args) {
    if (args[0].kind != Kind::String)
      fail_at(cmd.pos, cmd.text, "wrong type for value; expected string; got " + type_name(args[0]));
    const std::string& name = args[0].s;
    const Tree* target = nullptr;
    if (in_.local_defines) {
      if (auto it = in_.local_defines->find(name); it != in_.local_defines->end()) target = it->second.get();
    }
    if (!target && in_.library_defines) {
      if (auto it = in_.library_defines->find(name); it != in_.library_defines->end()) target = it->second.get();
    }
    const std::string& main_name = in_.main_name ? *in_.main_name : in_.main->name;
    if (!target)
      fail_at(cmd.pos, cmd.text,
              "error calling tmpl: template: no template " + go_quote(name) + " associated with template " +
                  go_quote(main_name));
    if (depth_ >= kMaxTemplateDepth)
      fail_at(cmd.pos, cmd.text, "exceeded maximum template depth (" + std::to_string(kMaxTemplateDepth) + ")");
    std::string saved_out;
    saved_out.swap(out_);
    auto saved_vars = std::move(vars_);
    const Tree* saved_tree = tree_;
    vars_.clear();
    vars_.emplace_back("$", args[1]);
    tree_ = target;
    ++depth_;
    std::string error;
    try {
      walk_list(target->root, args[1]);
    } catch (const ExecAbort& e) {
      error = e.message;
    }
    --depth_;
    tree_ = saved_tree;
    vars_ = std::move(saved_vars);
    std::string result;
    result.swap(out_);
    out_.swap(saved_out);
    if (!error.empty()) fail_at(cmd.pos, cmd.text, "error calling tmpl: " + error);
    return Value::string(std::move(result), Type::Html);
  }

  const ExecInput& in_;
  std::string& out_;
  const Tree* tree_ = nullptr;
  std::vector<std::pair<std::string, Value>> vars_;
  int depth_ = 0;
  int nest_ = 0;
  std::size_t work_bytes_ = 0;
  std::uint64_t steps_ = 0;
};

}  // namespace

bool execute(const ExecInput& in, std::string* out, std::string* error) {
  std::string buf;
  try {
    Exec(in, buf).run();
  } catch (const ExecAbort& e) {
    if (error) *error = e.message;
    return false;
  }
  *out = std::move(buf);
  return true;
}

}  // namespace promwatch::tmpl
