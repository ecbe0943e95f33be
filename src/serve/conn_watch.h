// Client-disconnect detection for HTTP handlers (docs/serving.md "Disconnects").
// cpp-httplib 0.11 gives a handler no socket and no way to learn that the client has gone, so a
// vanished client would keep its engine slot busy (spec interfaces §1: llama.cpp #24496, vLLM
// #10806). ConnWatch finds the connection's own socket by scanning /proc/self/fd for the TCP socket
// whose local and peer addresses equal the request's (local_addr:local_port, remote_addr:remote_port),
// then polls it without consuming data: an orderly close (recv peek == 0), a reset or a hang-up means
// the client is gone. It only reads the state of this one connection; it never closes the socket
// (httplib owns it) and never touches another request.
#pragma once
#include <atomic>
#include <chrono>
#include <string>

namespace zaya {

// The fd of the connected TCP socket with these endpoints, or -1. Addresses are numeric
// (as httplib writes them: getnameinfo NI_NUMERICHOST).
int find_connection_fd(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);

// True if the peer of this connected socket has closed or reset it (non-blocking, data not consumed).
bool socket_peer_gone(int fd);

class ConnWatch {
 public:
  ConnWatch() = default;
  // `stopping` (optional): a server-wide shutdown flag; once set, gone() is true for every request.
  ConnWatch(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port,
            const std::atomic<bool>* stopping = nullptr);
  // Whether the socket was found; without it gone() is always false (the write failures of a
  // streaming response still detect a vanished client).
  bool watching() const { return fd_ >= 0; }
  // Checks at most once per `interval` (cheap to call in a loop); once gone, stays gone. Also true
  // once the server is stopping.
  bool gone(std::chrono::milliseconds interval = std::chrono::milliseconds(50));

 private:
  int fd_ = -1;
  const std::atomic<bool>* stopping_ = nullptr;
  bool gone_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace zaya
