// zaya::Error — the one exception type of the library.
// Every failure caused by input (files, configs, network, command-line values) throws zaya::Error
// with a message that names the file, tensor or field at fault. The command-line front end catches
// it, prints "error: <message>" and exits non-zero; nothing prints a stack dump.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace zaya {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// throw_error("tensor ", name, ": expected shape ", ...)
template <typename... Args>
[[noreturn]] void throw_error(Args&&... args) {
  throw Error(detail::concat(std::forward<Args>(args)...));
}

}  // namespace zaya

// ZAYA_CHECK(cond, parts...): throw zaya::Error(parts...) when cond is false.
#define ZAYA_CHECK(cond, ...)                                   \
  do {                                                          \
    if (!(cond)) ::zaya::throw_error(__VA_ARGS__);              \
  } while (0)
