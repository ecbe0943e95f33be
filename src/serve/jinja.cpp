// zaya::jinja::Template (serve/jinja.h): parse once, render many times (render is const and
// thread-safe: each call has its own interpreter state).
#include "serve/jinja.h"

#include "core/error.h"
#include "serve/jinja_ast.h"
#include "serve/jinja_interp.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

Template::Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Template Template::parse(const std::string& source, const Options& options) {
  Template t;
  t.options_ = std::make_shared<const Options>(options);
  try {
    for (size_t i = 0, len; i < source.size(); i += len) {
      if (uni::next_cp(source, i, &len) == 0xFFFD && len == 1) {
        SyntaxError e{"the template is not valid UTF-8 (byte offset " + std::to_string(i) + ")", 1, 1};
        throw e;
      }
    }
    auto program = std::make_shared<Program>(parse_tokens(lex(source), options.limits));
    t.program_ = std::move(program);
  } catch (const SyntaxError& e) {
    throw_error(options.name, ":", e.line, ":", e.col, ": ", e.message);
  }
  return t;
}

namespace {
template <typename J>
std::string render_json(const Program& program, const Options& opt, const J& context) {
  Interp ip(opt);
  auto root = std::make_shared<Scope>();
  try {
    if (!context.is_object() && !context.is_null()) throw Error("the template context must be a JSON object");
    if (context.is_object())
      for (auto it = context.begin(); it != context.end(); ++it) root->vars.emplace_back(it.key(), from_json(it.value()));
    std::string out;
    ip.exec_body(program.body, root, out);
    return out;
  } catch (const Error& e) {
    if (ip.cur) throw_error(opt.name, ":", ip.cur->line, ":", ip.cur->col, ": ", e.what());
    throw_error(opt.name, ": ", e.what());
  }
}
}  // namespace

std::string Template::render(const nlohmann::json& context) const { return render_json(*program_, *options_, context); }
std::string Template::render(const nlohmann::ordered_json& context) const {
  return render_json(*program_, *options_, context);
}

}  // namespace zaya::jinja
