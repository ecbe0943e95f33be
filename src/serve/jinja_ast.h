// Tokens and syntax tree of zaya's Jinja interpreter (serve/jinja.h). The grammar is jinja2's
// (jinja2/parser.py): the same operator precedence, statements and whitespace control.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "serve/jinja.h"
#include "serve/jinja_value.h"

namespace zaya::jinja {

// A syntax error at a source position (1-based line and column).
struct SyntaxError {
  std::string message;
  int line = 0, col = 0;
};

enum class Tok : uint8_t {
  Data,        // template text (whitespace control already applied)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,
  Integer,
  Float,
  Op,  // text holds the operator: + - * / // % ** ~ [ ] ( ) { } == != < <= > >= = . : | , ;
  Eof,
  Error,  // a lexing error, raised when the parser reaches it (jinja2 lexes on demand)
};

struct Token {
  Tok type = Tok::Eof;
  std::string text;  // Data/Name/Op text; String value (unescaped)
  int64_t ival = 0;
  double fval = 0;
  int line = 1, col = 1;
};

// trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, as transformers configures
// jinja2. A lexing error ends the tokens with a Tok::Error token holding the message.
std::vector<Token> lex(const std::string& source);

enum class NK : uint8_t {
  // expressions
  Const,     // value
  Name,      // name
  NSRef,     // name.attr as an assignment target: name, attr in `attr`
  List,      // kids
  Tuple,     // kids
  Dict,      // kids: key, value, key, value, ...
  GetAttr,   // kids[0] . name
  GetItem,   // kids[0] [ kids[1] ]
  Slice,     // kids[0..2]: start, stop, step (null when absent)
  Call,      // kids[0] ( args )
  Filter,    // kids[0] (null in filter blocks) | name ( args )
  Test,      // kids[0] is name ( args )
  Unary,     // op: '-', '+', or 'n' (not); kids[0]
  Binary,    // op; kids[0], kids[1]
  And,       // kids[0], kids[1]
  Or,        // kids[0], kids[1]
  Compare,   // kids[0] then (cmp_ops[i], kids[i + 1])
  Concat,    // kids joined with ~
  CondExpr,  // kids: then, test, else (null when absent)
  // statements
  Data,         // name: the text
  Output,       // kids[0]: the expression printed
  If,           // kids[0]: test; body; else_body (an elif is a nested If)
  For,          // target; kids[0]: iterable; kids[1]: filter test or null; body; else_body
  Set,          // target; kids[0]: value
  SetBlock,     // target; kids[0]: filter chain or null; body
  Macro,        // name; params; defaults; body
  CallBlock,    // kids[0]: the call; params; defaults; body (the caller)
  FilterBlock,  // kids[0]: filter chain; body
  With,         // targets in kids[0..n), values in defaults; body
  Scope,        // body in a new scope ({% generation %}, {% autoescape %})
  Break,
  Continue,
  Fail,  // name: the error raised when executed ({% include %} etc. have no template loader)
};

// Binary operator codes (Node::op).
enum : int {
  OpAdd = '+',
  OpSub = '-',
  OpMul = '*',
  OpDiv = '/',
  OpFloorDiv = 'F',
  OpMod = '%',
  OpPow = 'P',
};
// Comparison codes (Node::cmp_ops).
enum : int { CmpEq, CmpNe, CmpLt, CmpLe, CmpGt, CmpGe, CmpIn, CmpNotIn };

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Args {
  std::vector<NodePtr> pos;
  std::vector<std::pair<std::string, NodePtr>> kw;
  NodePtr star, dstar;  // *args, **kwargs
};

struct Node {
  NK kind;
  int op = 0;
  int line = 0, col = 0;
  std::string name, attr;
  Value value;
  std::vector<NodePtr> kids;
  std::vector<int> cmp_ops;
  Args args;
  NodePtr target;
  std::vector<NodePtr> body, else_body;
  std::vector<std::string> params;
  std::vector<NodePtr> defaults;
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;  // macros

  Node(NK k, int l, int c) : kind(k), line(l), col(c) {}
};

struct Program {
  std::vector<NodePtr> body;
};

// Filter and test names jinja2 knows (jinja_filters.cpp, jinja_tests.cpp). An unknown one is a
// syntax error, except inside an if-block or an inline if-expression, where jinja2 defers the
// error to the moment it is used.
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

// Throws SyntaxError (messages in jinja2's wording).
Program parse_tokens(std::vector<Token> tokens, const Limits& limits);

}  // namespace zaya::jinja
