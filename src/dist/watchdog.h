// The per-rank watchdog of multi-process training (issue 7 §5). A thread checks two nested deadlines:
// the phase (a training step, a checkpoint save, a checkpoint load) and, inside it, the collective in
// flight. When one expires, or a stop was requested (SIGTERM from the launcher after another rank died)
// while a collective waits, this rank prints one line naming the phase or collective and the ranks that
// never arrived, and exits with code 3 — without calling into MPI, which may hang. Every rank runs one, so
// every rank ends within its timeout.
//
// Which ranks never arrived: each rank writes a heartbeat record (rank, pid, host, collective number and
// name) into <heartbeat_dir>/rank-NNNNN when it enters a collective; ranks whose number is behind this
// rank's are named, and a rank whose process is gone (same host) is said to be gone. The directory is the
// run directory's .ranks/ (shared between nodes when the run directory is).
#pragma once
#include <functional>
#include <string>

namespace zaya::watchdog {

struct Config {
  double collective_s = 300;  // one collective
  double step_s = 3600;       // one optimizer step (forward, backward, reduction, update)
  double save_s = 1800, load_s = 1800;
  std::string heartbeat_dir;            // "" = no records (the report cannot name ranks)
  std::function<bool()> stop_requested;  // optional: e.g. SIGTERM received
};

// Starts the thread (idempotent per process; a second start replaces the config). stop() joins it.
void start(int rank, int world, const Config& cfg);
void stop();
bool running();

// A phase of the step loop: "step 12", "save step 12", "load". Nested phases replace the outer name
// for their duration.
class Phase {
 public:
  Phase(std::string name, double timeout_s);
  ~Phase();
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;

 private:
  std::string prev_name_;
  double prev_timeout_;
  double prev_start_;
};

// A collective in flight (used by the communicators): writes the heartbeat, arms the collective deadline.
class Collective {
 public:
  explicit Collective(const char* what);
  ~Collective();
};

const Config& config();
// Wall seconds spent inside collectives by this process so far (communication time in the metrics).
double collective_seconds();

}  // namespace zaya::watchdog
