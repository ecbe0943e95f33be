// Parser of zaya's Jinja interpreter, expressions (serve/jinja_parser.h): jinja2's precedence,
// from the inline if-expression down to filters, tests, calls, subscripts and literals.
#include <algorithm>

#include "serve/jinja_parser.h"

namespace zaya::jinja {

NodePtr Parser::parse_expression(bool with_condexpr) {
  Nest nest(*this);
  return with_condexpr ? parse_condexpr() : parse_or();
}

NodePtr Parser::parse_condexpr() {
  NodePtr expr1 = parse_or();
  Nest nest(*this);
  while (is_name("if")) {
    const Token& t = next();
    NodePtr expr2 = parse_or();
    NodePtr expr3 = skip_name("else") ? parse_condexpr() : nullptr;
    NodePtr n = node(NK::CondExpr, t);
    n->kids.push_back(std::move(expr1));
    n->kids.push_back(std::move(expr2));
    n->kids.push_back(std::move(expr3));
    expr1 = std::move(n);
    nest.add();
  }
  return expr1;
}

NodePtr Parser::binary_chain(NK kind, const char* word, NodePtr (Parser::*sub)()) {
  NodePtr left = (this->*sub)();
  Nest nest(*this);
  while (is_name(word)) {
    const Token& t = next();
    NodePtr n = node(kind, t);
    n->kids.push_back(std::move(left));
    n->kids.push_back((this->*sub)());
    left = std::move(n);
    nest.add();
  }
  return left;
}

NodePtr Parser::parse_not() {
  if (is_name("not")) {
    Nest nest(*this);
    NodePtr n = node(NK::Unary, next());
    n->op = 'n';
    n->kids.push_back(parse_not());
    return n;
  }
  return parse_compare();
}

NodePtr Parser::parse_compare() {
  const Token& at = cur();
  NodePtr expr = parse_math1();
  NodePtr cmp;
  while (true) {
    int op = -1;
    if (cur().type == Tok::Op) {
      const std::string& o = cur().text;
      op = o == "==" ? CmpEq : o == "!=" ? CmpNe : o == "<" ? CmpLt : o == "<=" ? CmpLe : o == ">" ? CmpGt : o == ">=" ? CmpGe : -1;
      if (op >= 0) next();
    } else if (is_name("in")) {
      next();
      op = CmpIn;
    } else if (is_name("not") && look().type == Tok::Name && look().text == "in") {
      next();
      next();
      op = CmpNotIn;
    }
    if (op < 0) break;
    if (!cmp) {
      cmp = node(NK::Compare, at);
      cmp->kids.push_back(std::move(expr));
    }
    cmp->cmp_ops.push_back(op);
    cmp->kids.push_back(parse_math1());
  }
  return cmp ? std::move(cmp) : std::move(expr);
}

NodePtr Parser::math_chain(std::initializer_list<const char*> ops, NodePtr (Parser::*sub)()) {
  NodePtr left = (this->*sub)();
  Nest nest(*this);
  while (cur().type == Tok::Op) {
    const char* found = nullptr;
    for (const char* o : ops)
      if (cur().text == o) found = o;
    if (!found) break;
    const Token& t = next();
    NodePtr n = node(NK::Binary, t);
    const std::string o = found;
    n->op = o == "//" ? int(OpFloorDiv) : o == "**" ? int(OpPow) : int(o[0]);
    n->kids.push_back(std::move(left));
    n->kids.push_back((this->*sub)());
    left = std::move(n);
    nest.add();
  }
  return left;
}

NodePtr Parser::parse_concat() {
  const Token& at = cur();
  NodePtr first = parse_math2();
  if (!is_op("~")) return first;
  NodePtr n = node(NK::Concat, at);
  n->kids.push_back(std::move(first));
  while (skip_op("~")) n->kids.push_back(parse_math2());
  return n;
}

NodePtr Parser::parse_unary(bool with_filter) {
  Nest nest(*this);
  NodePtr n;
  if (is_op("-") || is_op("+")) {
    n = node(NK::Unary, cur());
    n->op = next().text[0];
    n->kids.push_back(parse_unary(false));
  } else {
    n = parse_primary(false);
  }
  n = parse_postfix(std::move(n));
  if (with_filter) n = parse_filter_expr(std::move(n));
  return n;
}

NodePtr Parser::parse_primary(bool with_namespace) {
  Nest nest(*this);
  const Token& t = cur();
  if (t.type == Tok::Name) {
    next();
    if (t.text == "true" || t.text == "false" || t.text == "True" || t.text == "False") {
      NodePtr n = node(NK::Const, t);
      n->value = Value::boolean(t.text == "true" || t.text == "True");
      return n;
    }
    if (t.text == "none" || t.text == "None") {
      NodePtr n = node(NK::Const, t);
      n->value = Value::none();
      return n;
    }
    if (with_namespace && is_op(".")) {
      next();
      NodePtr n = node(NK::NSRef, t);
      n->name = t.text;
      n->attr = expect_name().text;
      return n;
    }
    NodePtr n = node(NK::Name, t);
    n->name = t.text;
    return n;
  }
  if (t.type == Tok::String) {
    std::string buf;
    while (cur().type == Tok::String) buf += next().text;
    NodePtr n = node(NK::Const, t);
    n->value = Value::string(std::move(buf));
    return n;
  }
  if (t.type == Tok::Integer || t.type == Tok::Float) {
    next();
    NodePtr n = node(NK::Const, t);
    n->value = t.type == Tok::Integer ? Value::integer(t.ival) : Value::number(t.fval);
    return n;
  }
  if (is_op("(")) {
    next();
    NodePtr n = parse_tuple(false, true, nullptr, true);
    expect_op(")");
    return n;
  }
  if (is_op("[")) return parse_list();
  if (is_op("{")) return parse_dict();
  fail("unexpected " + repr_q(describe(t)));
}

bool Parser::is_tuple_end(const char* extra_end) const {
  if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_op(")")) return true;
  return extra_end && is_name(extra_end);
}

NodePtr Parser::parse_tuple(bool simplified, bool with_condexpr, const char* extra_end, bool explicit_parens, bool with_namespace) {
  const Token& at = cur();
  std::vector<NodePtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) expect_op(",");
    if (is_tuple_end(extra_end)) break;
    args.push_back(simplified ? parse_primary(with_namespace) : parse_expression(with_condexpr));
    if (is_op(","))
      is_tuple = true;
    else
      break;
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens) fail("Expected an expression, got " + repr_q(describe(cur())));
  }
  NodePtr n = node(NK::Tuple, at);
  n->kids = std::move(args);
  return n;
}

NodePtr Parser::parse_list() {
  NodePtr n = node(NK::List, next());
  while (!is_op("]")) {
    if (!n->kids.empty()) expect_op(",");
    if (is_op("]")) break;
    n->kids.push_back(parse_expression(true));
  }
  expect_op("]");
  return n;
}

NodePtr Parser::parse_dict() {
  NodePtr n = node(NK::Dict, next());
  while (!is_op("}")) {
    if (!n->kids.empty()) expect_op(",");
    if (is_op("}")) break;
    n->kids.push_back(parse_expression(true));
    expect_op(":");
    n->kids.push_back(parse_expression(true));
  }
  expect_op("}");
  return n;
}

NodePtr Parser::parse_postfix(NodePtr n) {
  Nest nest(*this);
  while (true) {
    if (is_op(".") || is_op("["))
      n = parse_subscript(std::move(n));
    else if (is_op("("))
      n = parse_call(std::move(n));
    else
      break;
    nest.add();
  }
  return n;
}

NodePtr Parser::parse_filter_expr(NodePtr n) {
  Nest nest(*this);
  while (true) {
    if (is_op("|"))
      n = parse_filter(std::move(n), false);
    else if (is_name("is"))
      n = parse_test(std::move(n));
    else if (is_op("("))
      n = parse_call(std::move(n));
    else
      break;
    nest.add();
  }
  return n;
}

NodePtr Parser::parse_subscript(NodePtr obj) {
  const Token& t = next();
  if (t.text == ".") {
    const Token& a = cur();
    if (a.type == Tok::Name) {
      next();
      NodePtr n = node(NK::GetAttr, t);
      n->kids.push_back(std::move(obj));
      n->name = a.text;
      return n;
    }
    if (a.type != Tok::Integer) fail("expected name or number");
    next();
    NodePtr k = node(NK::Const, a);
    k->value = Value::integer(a.ival);
    NodePtr n = node(NK::GetItem, t);
    n->kids.push_back(std::move(obj));
    n->kids.push_back(std::move(k));
    return n;
  }
  std::vector<NodePtr> subs;
  while (!is_op("]")) {
    if (!subs.empty()) expect_op(",");
    subs.push_back(parse_subscribed());
  }
  expect_op("]");
  NodePtr n = node(NK::GetItem, t);
  n->kids.push_back(std::move(obj));
  if (subs.size() == 1) {
    n->kids.push_back(std::move(subs[0]));
  } else {
    NodePtr tup = node(NK::Tuple, t);
    tup->kids = std::move(subs);
    n->kids.push_back(std::move(tup));
  }
  return n;
}

NodePtr Parser::parse_subscribed() {
  const Token& at = cur();
  std::vector<NodePtr> parts;
  if (is_op(":")) {
    next();
    parts.push_back(nullptr);
  } else {
    NodePtr e = parse_expression(true);
    if (!is_op(":")) return e;
    next();
    parts.push_back(std::move(e));
  }
  if (is_op(":") || is_op("]") || is_op(","))
    parts.push_back(nullptr);
  else
    parts.push_back(parse_expression(true));
  if (skip_op(":")) {
    if (is_op("]") || is_op(","))
      parts.push_back(nullptr);
    else
      parts.push_back(parse_expression(true));
  } else {
    parts.push_back(nullptr);
  }
  NodePtr n = node(NK::Slice, at);
  n->kids = std::move(parts);
  return n;
}

void Parser::parse_call_args(Args& a) {
  const Token& open = expect_op("(");
  bool require_comma = false;
  auto ensure = [&](bool ok) {
    if (!ok) fail_at("invalid syntax for function call expression", open);
  };
  while (!is_op(")")) {
    if (require_comma) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (is_op("*")) {
      ensure(!a.star && !a.dstar);
      next();
      a.star = parse_expression(true);
    } else if (is_op("**")) {
      ensure(!a.dstar);
      next();
      a.dstar = parse_expression(true);
    } else if (cur().type == Tok::Name && look().type == Tok::Op && look().text == "=") {
      ensure(!a.dstar);
      std::string key = next().text;
      next();
      a.kw.emplace_back(std::move(key), parse_expression(true));
    } else {
      ensure(!a.star && !a.dstar && a.kw.empty());
      a.pos.push_back(parse_expression(true));
    }
    require_comma = true;
  }
  expect_op(")");
}

NodePtr Parser::parse_call(NodePtr callee) {
  NodePtr n = node(NK::Call, cur());
  n->kids.push_back(std::move(callee));
  parse_call_args(n->args);
  return n;
}

std::string Parser::dotted_name() {
  std::string name = expect_name().text;
  while (is_op(".")) {
    next();
    name += "." + expect_name().text;
  }
  return name;
}

NodePtr Parser::parse_filter(NodePtr input, bool start_inline) {
  Nest nest(*this);
  while (is_op("|") || start_inline) {
    if (!start_inline) next();
    const Token& t = cur();
    NodePtr n = node(NK::Filter, t);
    n->name = dotted_name();
    if (is_op("(")) parse_call_args(n->args);
    n->kids.push_back(std::move(input));
    input = std::move(n);
    start_inline = false;
    nest.add();
  }
  return input;
}

NodePtr Parser::parse_test(NodePtr input) {
  const Token& t = next();
  const bool negated = skip_name("not");
  NodePtr n = node(NK::Test, t);
  n->name = dotted_name();
  n->kids.push_back(std::move(input));
  const Token& c = cur();
  if (is_op("(")) {
    parse_call_args(n->args);
  } else if ((c.type == Tok::Name || c.type == Tok::String || c.type == Tok::Integer || c.type == Tok::Float ||
              is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail("You cannot chain multiple tests with is");
    n->args.pos.push_back(parse_postfix(parse_primary(false)));
  }
  if (!negated) return n;
  NodePtr no = node(NK::Unary, t);
  no->op = 'n';
  no->kids.push_back(std::move(n));
  return no;
}

}  // namespace zaya::jinja
