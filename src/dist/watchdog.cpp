#include "dist/watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace zaya::watchdog {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr size_t kRecord = 256;

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::thread th;
  bool quit = false, on = false;
  int rank = 0, world = 1;
  Config cfg;
  int fd = -1;
  char host[64] = "?";
  // phase
  std::string phase = "start";
  double phase_start = 0, phase_timeout = 0;  // 0: no deadline
  // collective
  int64_t seq = 0;
  double coll_total = 0;
  const char* coll = nullptr;
  double coll_start = 0;
};

State& st() {
  static State s;
  return s;
}

std::string record_path(int r) {
  char b[32];
  std::snprintf(b, sizeof b, "rank-%05d", r);
  return (std::filesystem::path(st().cfg.heartbeat_dir) / b).string();
}

std::string token(const char* x) {  // one whitespace-free field of the record
  std::string t = x && *x ? x : "-";
  for (char& c : t)
    if (c == ' ' || c == '\n' || c == '\t') c = '_';
  return t.substr(0, 90);
}

void write_record(State& s) {
  if (s.fd < 0) return;
  char b[kRecord];
  std::memset(b, ' ', sizeof b);
  int n = std::snprintf(b, sizeof b, "rank %d pid %d host %s seq %lld coll %s phase %s", s.rank, int(getpid()), s.host,
                        (long long)s.seq, token(s.coll).c_str(), token(s.phase.c_str()).c_str());
  if (n > 0 && size_t(n) < sizeof b) b[n] = ' ';
  b[kRecord - 1] = '\n';
  ssize_t w = ::pwrite(s.fd, b, sizeof b, 0);
  (void)w;
}

struct Peer {
  bool seen = false;
  int pid = 0;
  char host[64] = "";
  long long seq = -1;
  char coll[96] = "";
};

Peer read_peer(int r) {
  Peer p;
  FILE* f = std::fopen(record_path(r).c_str(), "r");
  if (!f) return p;
  int rr = -1;
  char phase[96];
  if (std::fscanf(f, "rank %d pid %d host %63s seq %lld coll %95s phase %95s", &rr, &p.pid, p.host, &p.seq, p.coll,
                  phase) >= 5)
    p.seen = true;
  std::fclose(f);
  return p;
}

// "rank(s) 1, 3 never arrived (rank 1 pid 42: process gone; last in 'loss all-reduce' #12)"
std::string who_is_missing(const State& s) {
  if (s.cfg.heartbeat_dir.empty()) return "the other ranks cannot be named (no heartbeat directory)";
  std::string list, detail;
  for (int r = 0; r < s.world; ++r) {
    if (r == s.rank) continue;
    Peer p = read_peer(r);
    if (p.seen && p.seq >= s.seq) continue;
    list += (list.empty() ? "" : ", ") + std::to_string(r);
    char b[256];
    if (!p.seen) {
      std::snprintf(b, sizeof b, "rank %d: no heartbeat", r);
    } else {
      bool gone = std::strcmp(p.host, s.host) == 0 && p.pid > 0 && ::kill(p.pid, 0) != 0 && errno == ESRCH;
      std::snprintf(b, sizeof b, "rank %d pid %d on %s%s, last in '%s' #%lld", r, p.pid, p.host,
                    gone ? ": process gone" : "", p.coll, p.seq);
    }
    detail += (detail.empty() ? "" : "; ") + std::string(b);
  }
  if (list.empty()) return "every rank reached it (a slow or stuck collective)";
  return "rank(s) " + list + " never arrived (" + detail + ")";
}

[[noreturn]] void fire(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "\nerror: rank %d: watchdog: %s\n", st().rank, msg.c_str());
  std::fflush(stderr);
  ::_exit(3);
}

void loop() {
  State& s = st();
  std::unique_lock<std::mutex> lk(s.mu);
  while (!s.quit) {
    s.cv.wait_for(lk, std::chrono::milliseconds(50));
    if (s.quit) break;
    const double t = now_s();
    char b[512];
    if (s.coll) {
      const double waited = t - s.coll_start;
      const bool stop = s.cfg.stop_requested && s.cfg.stop_requested() && waited > 0.25 && s.world > 1;
      if (waited > s.cfg.collective_s || stop) {
        std::snprintf(b, sizeof b, "collective '%s' (#%lld, in %s) %s after %.1f s; ", s.coll, (long long)s.seq,
                      s.phase.c_str(), stop ? "abandoned: stop requested (signal)" : "timed out", waited);
        fire(b + who_is_missing(s));
      }
    }
    if (s.phase_timeout > 0 && t - s.phase_start > s.phase_timeout) {
      std::snprintf(b, sizeof b, "phase '%s' exceeded its %.0f s timeout; ", s.phase.c_str(), s.phase_timeout);
      fire(b + (s.world > 1 ? who_is_missing(s) : std::string("single process")));
    }
  }
}

}  // namespace

void start(int rank, int world, const Config& cfg) {
  State& s = st();
  stop();
  std::lock_guard<std::mutex> lk(s.mu);
  s.rank = rank;
  s.world = world;
  s.cfg = cfg;
  ::gethostname(s.host, sizeof s.host - 1);
  for (char& c : s.host)
    if (c == ' ') c = '_';
  if (!cfg.heartbeat_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cfg.heartbeat_dir, ec);
    s.fd = ::open(record_path(rank).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    write_record(s);
  }
  s.quit = false;
  s.on = true;
  s.th = std::thread(loop);
}

void stop() {
  State& s = st();
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.on) return;
    s.quit = true;
  }
  s.cv.notify_all();
  s.th.join();
  std::lock_guard<std::mutex> lk(s.mu);
  s.on = false;
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
}

bool running() { return st().on; }
const Config& config() { return st().cfg; }

Phase::Phase(std::string name, double timeout_s) {
  State& s = st();
  std::lock_guard<std::mutex> lk(s.mu);
  prev_name_ = s.phase;
  prev_timeout_ = s.phase_timeout;
  prev_start_ = s.phase_start;
  s.phase = std::move(name);
  s.phase_timeout = timeout_s;
  s.phase_start = now_s();
}

Phase::~Phase() {
  State& s = st();
  std::lock_guard<std::mutex> lk(s.mu);
  s.phase = prev_name_;
  s.phase_timeout = prev_timeout_;
  s.phase_start = prev_start_;
}

Collective::Collective(const char* what) {
  State& s = st();
  std::lock_guard<std::mutex> lk(s.mu);
  ++s.seq;
  s.coll = what;
  s.coll_start = now_s();
  write_record(s);
}

Collective::~Collective() {
  State& s = st();
  std::lock_guard<std::mutex> lk(s.mu);
  s.coll = nullptr;
  s.coll_total += now_s() - s.coll_start;
}

double collective_seconds() {
  State& s = st();
  std::lock_guard<std::mutex> lk(s.mu);
  return s.coll_total;
}

}  // namespace zaya::watchdog
