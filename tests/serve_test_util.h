// Helpers of the server tests (tests/test_serve*.cpp): an in-process `zaya serve` on a free port
// over the tiny served model (test_util.h make_tiny_serving_model), JSON requests, SSE parsing, and
// raw sockets for clients that vanish.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serve/http.h"
#include "serve/server.h"
#include "test_util.h"

namespace zaya::test {

using nlohmann::json;

// The tiny model directory, made once per test binary.
inline const std::string& serve_model_dir() {
  static std::string dir = [] {
    std::string d = (std::filesystem::temp_directory_path() / ("zaya_test_serve_" + std::to_string(::getpid()))).string();
    std::string err = make_tiny_serving_model(d);
    EXPECT_EQ(err, "");
    static std::string to_remove = d;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return d;
  }();
  return dir;
}

inline ServeOptions serve_options() {
  ServeOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.model_dir = serve_model_dir();
  o.model_id = "tiny";
  o.engine.slots = 4;
  o.engine.ctx = 1024;
  o.engine.prefill_chunk = 16;
  o.engine.max_batch_tokens = 64;
  o.max_body_bytes = size_t(1) << 20;
  o.http_threads = 32;
  return o;
}

inline Server::Loader default_loader(const ServeOptions& o) {
  return [o] {
    LoadOptions lo;
    lo.quiet = true;
    return load_served_model(o, make_backend("cpu-f32"), lo);
  };
}

// A started server; ready unless the loader is held back.
struct TestServer {
  std::unique_ptr<Server> srv;
  int port = 0;
  explicit TestServer(const ServeOptions& o, Server::Loader loader = {}, bool wait = true) {
    srv = std::make_unique<Server>(o);
    port = srv->bind();
    srv->start(loader ? loader : default_loader(o));
    if (wait) {
      EXPECT_EQ(srv->wait_loaded(), "");
    }
  }
  httplib::Client client(const std::string& key = "") const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120, 0);
    if (!key.empty()) c.set_bearer_token_auth(key.c_str());
    return c;
  }
};

struct Reply {
  int status = -1;
  std::string body;
  json j;  // parsed body (null if not JSON)
};

inline Reply to_reply(const httplib::Result& r) {
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.j = json::parse(r->body, nullptr, false);
  if (out.j.is_discarded()) out.j = nullptr;
  return out;
}

inline Reply post(const TestServer& s, const std::string& path, const std::string& body, const std::string& key = "") {
  auto c = s.client(key);
  return to_reply(c.Post(path.c_str(), body, "application/json"));
}
inline Reply post(const TestServer& s, const std::string& path, const json& body, const std::string& key = "") {
  return post(s, path, body.dump(), key);
}
inline Reply get(const TestServer& s, const std::string& path, const std::string& key = "") {
  auto c = s.client(key);
  return to_reply(c.Get(path.c_str()));
}

// The events of an SSE body: the JSON of every "data:" line, and whether the last one was [DONE].
struct Sse {
  std::vector<json> events;
  bool done_last = false;
  int done_count = 0;
  std::vector<std::string> raw;  // the data payloads as sent
};
inline Sse parse_sse(const std::string& body) {
  Sse s;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    if (ev.empty() || ev[0] == ':') continue;
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << "not a data event: " << ev;
    std::string data = ev.substr(6);
    s.raw.push_back(data);
    s.done_last = data == "[DONE]";
    if (s.done_last) {
      s.done_count++;
      continue;
    }
    json j = json::parse(data, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << data;
    s.events.push_back(j);
  }
  return s;
}

// Valid UTF-8 (complete characters only).
inline bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 99;
    if (n == 99 || i + n >= s.size() + (n == 0 ? 1 : 0)) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

// The value of a Prometheus sample line "name{labels} value" (labels matched as a substring); -1 if absent.
inline double metric(const std::string& text, const std::string& name, const std::string& label_part = "") {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(name + "{", 0) != 0) continue;
    if (!label_part.empty() && line.find(label_part) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// A raw TCP client that can leave at any moment.
struct RawClient {
  int fd = -1;
  explicit RawClient(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "connect failed";
  }
  ~RawClient() { close(); }
  void send_post(const std::string& path, const std::string& body) {
    std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  }
  // Reads until `needle` appears (or timeout); returns what was read.
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout) {
    std::string got;
    auto end = std::chrono::steady_clock::now() + timeout;
    timeval tv{0, 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < end) {
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n > 0) got.append(buf, size_t(n));
    }
    return got;
  }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Polls /metrics until `pred(text)` holds (or timeout); returns the last text.
template <typename P>
std::string wait_metrics(const TestServer& s, P pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  std::string text;
  do {
    text = get(s, "/metrics").body;
    if (pred(text)) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < end);
  return text;
}

}  // namespace zaya::test
