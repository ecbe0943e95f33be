// Finding and polling a handler's own connection socket (conn_watch.h).
#include "serve/conn_watch.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace zaya {

namespace {
// Numeric host and port of a socket address, as httplib formats them.
bool endpoint(const sockaddr_storage& ss, socklen_t len, std::string& host, int& port) {
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return false;
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  host = h;
  port = std::atoi(s);
  return true;
}
}  // namespace

int find_connection_fd(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port) {
  if (local_port <= 0 || remote_port <= 0) return -1;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  const int dir_fd = dirfd(d);
  int found = -1;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dir_fd) continue;
    struct stat st;
    if (fstat(int(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage a{}, b{};
    socklen_t la = sizeof a, lb = sizeof b;
    if (getsockname(int(fd), reinterpret_cast<sockaddr*>(&a), &la) != 0) continue;
    std::string host;
    int port = -1;
    if (!endpoint(a, la, host, port) || port != local_port || host != local_addr) continue;
    if (getpeername(int(fd), reinterpret_cast<sockaddr*>(&b), &lb) != 0) continue;  // listening socket
    if (!endpoint(b, lb, host, port) || port != remote_port || host != remote_addr) continue;
    found = int(fd);
    break;
  }
  closedir(d);
  return found;
}

bool socket_peer_gone(int fd) {
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN | POLLRDHUP;
  int r = ::poll(&p, 1, 0);
  if (r < 0) return false;  // EINTR and the like: decide next time
  if (r == 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & (POLLIN | POLLRDHUP)) {
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;  // orderly shutdown by the peer
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return false;  // data waiting (a pipelined request): the client is there
  }
  return false;
}

ConnWatch::ConnWatch(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port,
                     const std::atomic<bool>* stopping)
    : fd_(find_connection_fd(local_addr, local_port, remote_addr, remote_port)), stopping_(stopping) {}

bool ConnWatch::gone(std::chrono::milliseconds interval) {
  if (stopping_ && stopping_->load()) gone_ = true;
  if (gone_ || fd_ < 0) return gone_;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < interval) return false;
  last_ = now;
  gone_ = socket_peer_gone(fd_);
  return gone_;
}

}  // namespace zaya
