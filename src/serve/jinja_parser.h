// The parser class of zaya's Jinja interpreter (internal to jinja_parse*.cpp): jinja2's grammar
// (jinja2/parser.py). Statements are in jinja_parse.cpp, expressions in jinja_parse_expr.cpp.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "serve/jinja_ast.h"

namespace zaya::jinja {

std::string describe(const Token& t);   // jinja2's describe_token
std::string repr_q(const std::string& s);  // Python repr() of a str

class Parser {
 public:
  Parser(std::vector<Token> toks, const Limits& lim) : t_(std::move(toks)), lim_(lim) {}

  Program parse();

 private:
  std::vector<Token> t_;
  const Limits& lim_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::string> tag_stack_;
  std::vector<std::vector<std::string>> end_stack_;

  struct Nest {
    Parser& p;
    int n = 0;
    explicit Nest(Parser& parser) : p(parser) { add(); }
    void add() {
      ++n;
      if (++p.depth_ > p.lim_.max_parse_depth) p.fail("template nested too deeply (more than " + std::to_string(p.lim_.max_parse_depth) + " levels)");
    }
    ~Nest() { p.depth_ -= n; }
  };

  // A lexing error surfaces when the parser reaches it, as with jinja2's on-demand lexer.
  static const Token& checked(const Token& t) {
    if (t.type == Tok::Error) fail_at(t.text, t);
    return t;
  }
  const Token& cur() const { return checked(t_[i_]); }
  const Token& look() const { return checked(t_[std::min(i_ + 1, t_.size() - 1)]); }
  const Token& next() {  // like jinja2's TokenStream, moving on lexes (and checks) the next token
    const Token& t = cur();
    if (i_ + 1 < t_.size()) ++i_;
    checked(t_[i_]);
    return t;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const std::string& msg) const { fail_at(msg, cur()); }
  [[noreturn]] static void fail_at(const std::string& msg, const Token& t) {
    SyntaxError e;
    e.message = msg;
    e.line = t.line;
    e.col = t.col;
    throw e;
  }
  [[noreturn]] void fail_expected(const std::string& what) const {
    if (cur().type == Tok::Eof) fail("unexpected end of template, expected " + repr_q(what) + ".");
    fail("expected token " + repr_q(what) + ", got " + repr_q(describe(cur())));
  }
  const Token& expect_op(const char* op) {
    if (!is_op(op)) fail_expected(op);
    return next();
  }
  const Token& expect_name() {
    if (cur().type != Tok::Name) fail_expected("name");
    return next();
  }
  void expect_name(const char* n) {
    if (!is_name(n)) fail_expected(n);
    next();
  }
  void expect(Tok type) {
    if (cur().type != type) {
      Token t;
      t.type = type;
      fail_expected(describe(t));
    }
    next();
  }

  NodePtr node(NK k, const Token& at) { return std::make_unique<Node>(k, at.line, at.col); }

  bool at_end_token(const std::vector<std::string>* ends) const {
    if (!ends || cur().type != Tok::Name) return false;
    return std::find(ends->begin(), ends->end(), cur().text) != ends->end();
  }

  [[noreturn]] void fail_ut_eof(const std::string* name, const std::vector<std::vector<std::string>>& stack) const;

  // jinja2's compiler rejects unknown filters and tests unless the frame is "soft" (the test,
  // body and else of an if, or an inline if-expression); constructs with their own frame
  // (for bodies, macros, call/filter/set blocks, with) are not soft.
  static void check_names(const Node* n, bool soft);
  [[noreturn]] static void fail_at(const std::string& msg, const Node& n);

  // ------------------------------------------------------------------------------ statements

  std::vector<NodePtr> subparse(const std::vector<std::string>* ends);

  std::vector<NodePtr> parse_statements(std::vector<std::string> ends, bool drop_needle);

  void parse_statement(std::vector<NodePtr>& body);

  NodePtr parse_loop_control(const std::string& tag);

  NodePtr parse_for();

  NodePtr parse_if();

  NodePtr parse_set();

  NodePtr parse_with();

  NodePtr parse_scope(const std::string& tag);

  void parse_print(std::vector<NodePtr>& body);

  void parse_signature(Node& n);

  static void scan_names(const Node* n, Node& macro);

  NodePtr parse_macro();

  NodePtr parse_call_block();

  NodePtr parse_filter_block();

  // Assignment targets: a name, a tuple of names, or (in set) namespace.attr.
  NodePtr parse_assign_target(bool with_tuple, bool name_only, const char* extra_end, bool with_namespace);

  // ----------------------------------------------------------------------------- expressions

  NodePtr parse_expression(bool with_condexpr);

  NodePtr parse_condexpr();

  NodePtr binary_chain(NK kind, const char* word, NodePtr (Parser::*sub)());
  NodePtr parse_or() { return binary_chain(NK::Or, "or", &Parser::parse_and); }
  NodePtr parse_and() { return binary_chain(NK::And, "and", &Parser::parse_not); }

  NodePtr parse_not();

  NodePtr parse_compare();

  NodePtr math_chain(std::initializer_list<const char*> ops, NodePtr (Parser::*sub)());
  NodePtr parse_math1() { return math_chain({"+", "-"}, &Parser::parse_concat); }
  NodePtr parse_math2() { return math_chain({"*", "/", "//", "%"}, &Parser::parse_pow); }
  NodePtr parse_pow() { return math_chain({"**"}, &Parser::parse_unary_f); }
  NodePtr parse_unary_f() { return parse_unary(true); }

  NodePtr parse_concat();

  NodePtr parse_unary(bool with_filter);

  NodePtr parse_primary(bool with_namespace);

  bool is_tuple_end(const char* extra_end) const;

  NodePtr parse_tuple(bool simplified, bool with_condexpr, const char* extra_end, bool explicit_parens,
                      bool with_namespace = false);

  NodePtr parse_list();

  NodePtr parse_dict();

  NodePtr parse_postfix(NodePtr n);

  NodePtr parse_filter_expr(NodePtr n);

  NodePtr parse_subscript(NodePtr obj);

  NodePtr parse_subscribed();

  void parse_call_args(Args& a);

  NodePtr parse_call(NodePtr callee);

  std::string dotted_name();

  NodePtr parse_filter(NodePtr input, bool start_inline);

  NodePtr parse_test(NodePtr input);
};

}  // namespace zaya::jinja
