// UTF-8 and the Unicode behaviour of Python's str methods, for zaya's Jinja interpreter.
// Strings are UTF-8; Python indexes them by code point, so length, indexing and slicing decode.
// Invalid UTF-8 decodes to U+FFFD one byte at a time.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace zaya::jinja::uni {

uint32_t next_cp(std::string_view s, size_t i, size_t* len);
void append_cp(std::string& out, uint32_t cp);
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view s);
size_t count_cps(std::string_view s);
bool is_ascii(std::string_view s);

// Python's str predicates for one code point.
bool is_space(uint32_t cp);
bool is_printable(uint32_t cp);
bool is_alpha(uint32_t cp);
bool is_decimal(uint32_t cp);
bool is_digit(uint32_t cp);
bool is_numeric(uint32_t cp);
bool is_cased(uint32_t cp);
bool is_upper(uint32_t cp);
bool is_lower(uint32_t cp);
bool is_word(uint32_t cp);  // re's \w: alphanumeric or '_'
bool is_id_start(uint32_t cp);     // str.isidentifier() of one character (XID_Start or '_')
bool is_id_continue(uint32_t cp);  // XID_Continue

// Full case mappings (ß.upper() == "SS"), appended to out. Python's context-dependent final-sigma
// rule of lower() is not applied.
void append_upper(std::string& out, uint32_t cp);
void append_lower(std::string& out, uint32_t cp);
void append_title(std::string& out, uint32_t cp);
std::string upper(std::string_view s);
std::string lower(std::string_view s);

}  // namespace zaya::jinja::uni
