// Parser of zaya's Jinja interpreter, statements (serve/jinja_parser.h): jinja2's grammar
// (jinja2/parser.py) with for/if/set/macro/call/filter/with/autoescape/print, loopcontrols'
// break/continue and transformers' {% generation %}. Error messages follow jinja2's wording.
#include <algorithm>

#include "serve/jinja_parser.h"

namespace zaya::jinja {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Name: return t.text;
    case Tok::Op: return t.text;
    case Tok::Data: return "template data / text";
    case Tok::VarBegin: return "begin of print statement";
    case Tok::VarEnd: return "end of print statement";
    case Tok::BlockBegin: return "begin of statement block";
    case Tok::BlockEnd: return "end of statement block";
    case Tok::String: return "string";
    case Tok::Integer: return "integer";
    case Tok::Float: return "float";
    case Tok::Eof: return "end of template";
    case Tok::Error: return "error";
  }
  return "token";
}

std::string repr_q(const std::string& s) { return str_repr(s); }

Program Parser::parse() {
  Program p;
  p.body = subparse(nullptr);
  for (const auto& n : p.body) check_names(n.get(), false);
  return p;
}

void Parser::fail_ut_eof(const std::string* name, const std::vector<std::vector<std::string>>& stack) const {
  std::vector<std::string> expected;
  for (const auto& ends : stack) expected.insert(expected.end(), ends.begin(), ends.end());
  std::string looking;
  if (!stack.empty())
    for (const std::string& e : stack.back()) looking += (looking.empty() ? "" : " or ") + repr_q(e);
  std::string msg = name ? "Encountered unknown tag " + repr_q(*name) + "." : "Unexpected end of template.";
  if (!looking.empty()) {
    if (name && std::find(expected.begin(), expected.end(), *name) != expected.end())
      msg += " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for " + looking + ".";
    else
      msg += " Jinja was looking for the following tags: " + looking + ".";
  }
  if (!tag_stack_.empty()) msg += " The innermost block that needs to be closed is " + repr_q(tag_stack_.back()) + ".";
  fail(msg);
}

void Parser::check_names(const Node* n, bool soft) {
  if (!n) return;
  if (n->kind == NK::Filter && !soft && !is_known_filter(n->name)) fail_at("No filter named " + repr_q(n->name) + ".", *n);
  if (n->kind == NK::Test && !soft && !is_known_test(n->name)) fail_at("No test named " + repr_q(n->name) + ".", *n);
  bool kids_soft = soft, body_soft = false;
  switch (n->kind) {
    case NK::If: kids_soft = body_soft = true; break;
    case NK::CondExpr: kids_soft = true; break;
    case NK::For:
      check_names(n->kids[0].get(), soft);
      check_names(n->kids[1].get(), false);
      for (const auto& b : n->body) check_names(b.get(), false);
      for (const auto& b : n->else_body) check_names(b.get(), false);
      return;
    case NK::Macro:
    case NK::CallBlock:
    case NK::FilterBlock:
    case NK::SetBlock:
      kids_soft = n->kind == NK::CallBlock ? soft : false;
      break;
    case NK::With:
    case NK::Scope: kids_soft = soft; break;
    default: body_soft = soft; break;
  }
  for (const auto& k : n->kids) check_names(k.get(), kids_soft);
  for (const auto& k : n->args.pos) check_names(k.get(), kids_soft);
  for (const auto& k : n->args.kw) check_names(k.second.get(), kids_soft);
  check_names(n->args.star.get(), kids_soft);
  check_names(n->args.dstar.get(), kids_soft);
  for (const auto& k : n->defaults) check_names(k.get(), n->kind == NK::With ? soft : false);
  for (const auto& b : n->body) check_names(b.get(), body_soft);
  for (const auto& b : n->else_body) check_names(b.get(), body_soft);
}

void Parser::fail_at(const std::string& msg, const Node& n) {
  SyntaxError e;
  e.message = msg;
  e.line = n.line;
  e.col = n.col;
  throw e;
}

std::vector<NodePtr> Parser::subparse(const std::vector<std::string>* ends) {
  std::vector<NodePtr> body;
  if (ends) end_stack_.push_back(*ends);
  while (cur().type != Tok::Eof) {
    const Token& t = cur();
    if (t.type == Tok::Data) {
      NodePtr d = node(NK::Data, t);
      d->name = t.text;
      body.push_back(std::move(d));
      next();
    } else if (t.type == Tok::VarBegin) {
      NodePtr out = node(NK::Output, t);
      next();
      out->kids.push_back(parse_tuple(false, true, nullptr, false));
      expect(Tok::VarEnd);
      body.push_back(std::move(out));
    } else if (t.type == Tok::BlockBegin) {
      next();
      if (at_end_token(ends)) {
        end_stack_.pop_back();
        return body;
      }
      parse_statement(body);
      expect(Tok::BlockEnd);
    } else {
      fail("internal parsing error");
    }
  }
  if (ends) end_stack_.pop_back();
  return body;
}

std::vector<NodePtr> Parser::parse_statements(std::vector<std::string> ends, bool drop_needle) {
  skip_op(":");
  expect(Tok::BlockEnd);
  std::vector<NodePtr> body = subparse(&ends);
  if (cur().type == Tok::Eof) {
    auto stack = end_stack_;
    stack.push_back(ends);
    fail_ut_eof(nullptr, stack);
  }
  if (drop_needle) next();
  return body;
}

void Parser::parse_statement(std::vector<NodePtr>& body) {
  Nest nest(*this);
  const Token& t = cur();
  if (t.type != Tok::Name) fail("tag name expected");
  const std::string tag = t.text;
  if (tag == "block") fail("the 'block' tag is not supported by zaya's template interpreter");
  static const char* const kLoader[] = {"extends", "include", "import", "from"};
  for (const char* u : kLoader) {
    if (tag != u) continue;
    // jinja2 parses these and fails when they run: chat templates have no template loader
    NodePtr n = node(NK::Fail, next());
    n->name = "no loader for this environment specified";
    while (cur().type != Tok::BlockEnd && cur().type != Tok::Eof) next();
    body.push_back(std::move(n));
    return;
  }
  static const char* const kKnown[] = {"for", "if", "set", "macro", "call", "filter", "with", "autoescape",
                                       "print", "break", "continue", "generation"};
  if (std::find_if(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return tag == k; }) == std::end(kKnown))
    fail_ut_eof(&tag, end_stack_);
  tag_stack_.push_back(tag);
  if (tag == "for") body.push_back(parse_for());
  else if (tag == "if") body.push_back(parse_if());
  else if (tag == "set") body.push_back(parse_set());
  else if (tag == "macro") body.push_back(parse_macro());
  else if (tag == "call") body.push_back(parse_call_block());
  else if (tag == "filter") body.push_back(parse_filter_block());
  else if (tag == "with") body.push_back(parse_with());
  else if (tag == "autoescape" || tag == "generation") body.push_back(parse_scope(tag));
  else if (tag == "print") parse_print(body);
  else body.push_back(parse_loop_control(tag));
  tag_stack_.pop_back();
}

NodePtr Parser::parse_loop_control(const std::string& tag) {
  const Token& t = next();
  if (loop_depth_ == 0) fail_at("'" + tag + "' outside loop", t);
  return node(tag == "break" ? NK::Break : NK::Continue, t);
}

NodePtr Parser::parse_for() {
  NodePtr n = node(NK::For, next());
  n->target = parse_assign_target(true, false, "in", false);
  expect_name("in");
  n->kids.push_back(parse_tuple(false, false, "recursive", false));
  n->kids.push_back(skip_name("if") ? parse_expression(true) : nullptr);
  if (is_name("recursive")) fail("recursive for loops are not supported by this interpreter");
  ++loop_depth_;
  n->body = parse_statements({"endfor", "else"}, false);
  --loop_depth_;
  if (next().text != "endfor") n->else_body = parse_statements({"endfor"}, true);
  return n;
}

NodePtr Parser::parse_if() {
  NodePtr root = node(NK::If, next());
  Node* n = root.get();
  while (true) {
    n->kids.push_back(parse_tuple(false, false, nullptr, false));
    n->body = parse_statements({"elif", "else", "endif"}, false);
    const Token& t = next();
    if (t.text == "elif") {
      NodePtr e = node(NK::If, t);
      Node* raw = e.get();
      n->else_body.push_back(std::move(e));
      n = raw;
      continue;
    }
    if (t.text == "else") n->else_body = parse_statements({"endif"}, true);
    break;
  }
  return root;
}

NodePtr Parser::parse_set() {
  const Token& t = next();
  NodePtr target = parse_assign_target(true, false, nullptr, true);
  if (skip_op("=")) {
    NodePtr n = node(NK::Set, t);
    n->target = std::move(target);
    n->kids.push_back(parse_tuple(false, true, nullptr, false));
    return n;
  }
  NodePtr n = node(NK::SetBlock, t);
  n->target = std::move(target);
  n->kids.push_back(parse_filter(nullptr, false));
  n->body = parse_statements({"endset"}, true);
  return n;
}

NodePtr Parser::parse_with() {
  NodePtr n = node(NK::With, next());
  while (cur().type != Tok::BlockEnd) {
    if (!n->kids.empty()) expect_op(",");
    n->kids.push_back(parse_assign_target(true, false, nullptr, false));
    expect_op("=");
    n->defaults.push_back(parse_expression(true));
  }
  n->body = parse_statements({"endwith"}, true);
  return n;
}

NodePtr Parser::parse_scope(const std::string& tag) {
  NodePtr n = node(NK::Scope, next());
  if (tag == "autoescape") {
    n->name = "autoescape";
    n->kids.push_back(parse_expression(true));
  }
  n->body = parse_statements({"end" + tag}, true);
  return n;
}

void Parser::parse_print(std::vector<NodePtr>& body) {
  next();
  bool first = true;
  while (cur().type != Tok::BlockEnd) {
    if (!first) expect_op(",");
    first = false;
    NodePtr out = node(NK::Output, cur());
    out->kids.push_back(parse_expression(true));
    body.push_back(std::move(out));
  }
}

void Parser::parse_signature(Node& n) {
  expect_op("(");
  while (!is_op(")")) {
    if (!n.params.empty()) expect_op(",");
    n.params.push_back(expect_name().text);
    if (skip_op("="))
      n.defaults.push_back(parse_expression(true));
    else if (!n.defaults.empty())
      fail("non-default argument follows default argument");
  }
  expect_op(")");
}

void Parser::scan_names(const Node* n, Node& macro) {
  if (!n) return;
  if (n->kind == NK::Name) {
    if (n->name == "varargs") macro.uses_varargs = true;
    if (n->name == "kwargs") macro.uses_kwargs = true;
    if (n->name == "caller") macro.uses_caller = true;
  }
  for (const auto& k : n->kids) scan_names(k.get(), macro);
  for (const auto& k : n->args.pos) scan_names(k.get(), macro);
  for (const auto& k : n->args.kw) scan_names(k.second.get(), macro);
  scan_names(n->args.star.get(), macro);
  scan_names(n->args.dstar.get(), macro);
  scan_names(n->target.get(), macro);
  for (const auto& k : n->body) scan_names(k.get(), macro);
  for (const auto& k : n->else_body) scan_names(k.get(), macro);
  for (const auto& k : n->defaults) scan_names(k.get(), macro);
}

NodePtr Parser::parse_macro() {
  NodePtr n = node(NK::Macro, next());
  n->name = expect_name().text;
  parse_signature(*n);
  const int saved = loop_depth_;
  loop_depth_ = 0;
  n->body = parse_statements({"endmacro"}, true);
  loop_depth_ = saved;
  for (const auto& b : n->body) scan_names(b.get(), *n);
  return n;
}

NodePtr Parser::parse_call_block() {
  NodePtr n = node(NK::CallBlock, next());
  if (is_op("(")) parse_signature(*n);
  const Token& at = cur();
  NodePtr call = parse_expression(true);
  if (call->kind != NK::Call) fail_at("expected call", at);
  n->kids.push_back(std::move(call));
  const int saved = loop_depth_;
  loop_depth_ = 0;
  n->body = parse_statements({"endcall"}, true);
  loop_depth_ = saved;
  for (const auto& b : n->body) scan_names(b.get(), *n);
  return n;
}

NodePtr Parser::parse_filter_block() {
  NodePtr n = node(NK::FilterBlock, next());
  n->kids.push_back(parse_filter(nullptr, true));
  n->body = parse_statements({"endfilter"}, true);
  return n;
}

NodePtr Parser::parse_assign_target(bool with_tuple, bool name_only, const char* extra_end, bool with_namespace) {
  const Token& at = cur();
  NodePtr target;
  if (name_only) {
    target = node(NK::Name, at);
    target->name = expect_name().text;
    return target;
  }
  target = with_tuple ? parse_tuple(true, true, extra_end, false, with_namespace) : parse_primary(with_namespace);
  auto can_assign = [](const Node& n) { return n.kind == NK::Name || n.kind == NK::NSRef; };
  bool ok = can_assign(*target);
  if (target->kind == NK::Tuple) {
    ok = true;
    for (const auto& k : target->kids) ok = ok && k->kind == NK::Name;
  }
  if (target->kind == NK::Name && (target->name == "true" || target->name == "false" || target->name == "none")) ok = false;
  if (!ok) {
    std::string what = target->kind == NK::Const ? "const" : target->kind == NK::Tuple ? "tuple" : "expression";
    fail_at("can't assign to " + repr_q(what), at);
  }
  return target;
}

Program parse_tokens(std::vector<Token> tokens, const Limits& limits) { return Parser(std::move(tokens), limits).parse(); }

}  // namespace zaya::jinja
