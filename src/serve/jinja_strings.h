// Python str operations shared by the methods and filters of zaya's Jinja interpreter. Positions
// and lengths are in code points, as in Python.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "serve/jinja_value.h"

namespace zaya::jinja::pystr {

std::u32string u(std::string_view s);
std::string s8(std::u32string_view s);

// strip/lstrip/rstrip: `chars` null strips whitespace.
std::string strip(const std::string& s, const std::string* chars, bool left, bool right);
std::vector<std::string> split(const std::string& s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> rsplit(const std::string& s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> splitlines(const std::string& s, bool keepends);
std::string replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count);
std::string title(const std::string& s);       // str.title()
std::string capitalize(const std::string& s);  // str.capitalize()
std::string swapcase(const std::string& s);
std::string center(const std::string& s, int64_t width, uint32_t fill);
std::string ljust(const std::string& s, int64_t width, uint32_t fill);
std::string rjust(const std::string& s, int64_t width, uint32_t fill);

}  // namespace zaya::jinja::pystr
