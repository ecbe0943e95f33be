// zaya supervise: run a (training) command, and when it ends abnormally relaunch it — from the newest
// good checkpoint, since every attempt gets ZAYA_AUTO_RESUME=1 (zaya train resumes when run.dir holds
// a good checkpoint) — with exponential backoff and a restart budget, logging why each attempt ended.
//
//   zaya supervise --max-restarts 3 -- mpirun -np 4 zaya train --config run.toml
//
// Multi-node OpenMPI launches forward the variable with `mpirun -x ZAYA_AUTO_RESUME`; srun forwards the
// environment by default. Exit status: 0 when an attempt succeeds, else the last attempt's.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"

namespace zaya::cli {

namespace {

struct SuperviseArgs {
  int max_restarts = 3;
  double backoff = 1.0, max_backoff = 60.0;
  std::string log;
  std::vector<std::string> cmd;
};

volatile sig_atomic_t g_child_pgid = 0;
volatile sig_atomic_t g_stopping = 0;

extern "C" void forward_signal(int sig) {
  g_stopping = 1;
  if (g_child_pgid > 0) ::kill(-pid_t(g_child_pgid), sig);
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) {
    const int c = WEXITSTATUS(st);
    std::string s = "exit code " + std::to_string(c);
    if (c == 3) s += " (a rank's watchdog expired: a collective or phase timed out, or a rank died)";
    return s;
  }
  if (WIFSIGNALED(st)) return std::string("killed by signal ") + std::to_string(WTERMSIG(st)) + " (" +
                              strsignal(WTERMSIG(st)) + ")";
  return "ended with status " + std::to_string(st);
}

int run_supervisor(const SuperviseArgs& a) {
  ZAYA_CHECK(!a.cmd.empty(), "supervise: give the command after --, e.g. zaya supervise -- zaya train -c run.toml");
  std::unique_ptr<std::ofstream> log;
  if (!a.log.empty()) {
    log = std::make_unique<std::ofstream>(a.log, std::ios::app);
    ZAYA_CHECK(*log, a.log, ": cannot open the supervisor log");
  }
  std::signal(SIGINT, forward_signal);
  std::signal(SIGTERM, forward_signal);
  double wait = a.backoff;
  int last = 1;
  for (int attempt = 0;; ++attempt) {
    const auto t0 = std::chrono::steady_clock::now();
    std::fprintf(stderr, "supervise: attempt %d of at most %d: %s ...\n", attempt + 1, a.max_restarts + 1,
                 a.cmd[0].c_str());
    pid_t pid = ::fork();
    ZAYA_CHECK(pid >= 0, "supervise: fork failed: ", std::strerror(errno));
    if (pid == 0) {
      ::setpgid(0, 0);
      ::setenv("ZAYA_AUTO_RESUME", "1", 1);
      ::setenv("ZAYA_SUPERVISE_ATTEMPT", std::to_string(attempt + 1).c_str(), 1);
      std::vector<char*> argv;
      for (auto& s : a.cmd) argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      std::fprintf(stderr, "supervise: cannot run %s: %s\n", argv[0], std::strerror(errno));
      ::_exit(127);
    }
    ::setpgid(pid, pid);
    g_child_pgid = pid;
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // stragglers of the attempt's process group
    g_child_pgid = 0;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    last = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    const std::string why = ok ? "finished" : describe_status(st);
    const bool again = !ok && !g_stopping && attempt < a.max_restarts && last != 127;
    std::fprintf(stderr, "supervise: attempt %d ended after %.1f s: %s%s\n", attempt + 1, secs, why.c_str(),
                 ok ? "" : again ? "; restarting from the newest good checkpoint" : "; giving up");
    if (log)
      *log << nlohmann::json{{"attempt", attempt + 1}, {"seconds", secs}, {"ok", ok}, {"status", last},
                             {"reason", why}, {"restart", again}}.dump()
           << "\n" << std::flush;
    if (ok) return 0;
    if (!again) {
      if (attempt >= a.max_restarts && !g_stopping)
        std::fprintf(stderr, "supervise: the restart budget (%d) is spent\n", a.max_restarts);
      return last;
    }
    std::fprintf(stderr, "supervise: waiting %.1f s before restart %d of %d\n", wait, attempt + 1, a.max_restarts);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    wait = std::min(wait * 2, a.max_backoff);
  }
}

}  // namespace

void register_supervise(CLI::App& app) {
  auto a = std::make_shared<SuperviseArgs>();
  auto* c = app.add_subcommand(
      "supervise", "Run a training command and relaunch it from the newest good checkpoint when it fails");
  c->add_option("--max-restarts", a->max_restarts, "Relaunches allowed after the first attempt")
      ->check(CLI::Range(0, 1000000));
  c->add_option("--backoff", a->backoff, "Seconds before the first relaunch (doubles each time)")
      ->check(CLI::Range(0.0, 86400.0));
  c->add_option("--max-backoff", a->max_backoff, "Longest wait between relaunches, seconds")
      ->check(CLI::Range(0.0, 86400.0));
  c->add_option("--log", a->log, "Append one JSON line per attempt (attempt, seconds, ok, status, reason) here");
  c->add_option("cmd", a->cmd, "The command, after --")->required();
  c->footer("Example: zaya supervise --max-restarts 3 -- mpirun -np 4 zaya train --config run.toml");
  c->callback([a] {
    const int rc = run_supervisor(*a);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace zaya::cli
