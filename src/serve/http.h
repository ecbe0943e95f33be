// cpp-httplib, included the way Debian's compiled libcpp-httplib was built (its pkg-config Cflags:
// OpenSSL, zlib and brotli support). These macros change the layout of httplib::Request and friends,
// so every file of zaya that includes httplib must include it through this header; without them the
// library and zaya disagree on the structures and the first request crashes.
#pragma once
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <httplib.h>
