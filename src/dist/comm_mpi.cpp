// The MPI communicator (comm.h), built when CMake finds MPI (ZAYA_HAVE_MPI). Blocking MPI collectives,
// each under a watchdog::Collective so that a rank that never arrives is reported instead of hanging.
#define OMPI_SKIP_MPICXX 1  // the C API only (no deprecated C++ bindings)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "dist/comm.h"
#include "dist/watchdog.h"

namespace zaya {

namespace {

MPI_Datatype mpi_type(CommType t) {
  switch (t) {
    case CommType::F32: return MPI_FLOAT;
    case CommType::F64: return MPI_DOUBLE;
    case CommType::I64: return MPI_INT64_T;
    case CommType::U8: return MPI_BYTE;
  }
  return MPI_BYTE;
}

int as_int(int64_t n, const char* what) {
  ZAYA_CHECK(n >= 0 && n <= INT_MAX, "communicator: ", what, ": ", n, " elements in one piece is more than MPI's int "
             "counts allow");
  return int(n);
}

void check(int rc, const char* op, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw_error("communicator: ", op, " (", what, ") failed: ", std::string(msg, size_t(len)));
}

struct Counts {
  std::vector<int> n, off;
  Counts(std::span<const int64_t> c, const char* what) {
    int64_t o = 0;
    for (int64_t x : c) {
      n.push_back(as_int(x, what));
      off.push_back(as_int(o, what));
      o += x;
    }
  }
};

class MpiComm final : public Comm {
 public:
  explicit MpiComm(MPI_Comm c, bool owned) : c_(c), owned_(owned) {
    MPI_Comm_rank(c_, &rank_);
    MPI_Comm_size(c_, &size_);
    MPI_Comm_set_errhandler(c_, MPI_ERRORS_RETURN);
  }
  ~MpiComm() override {
    if (owned_) MPI_Comm_free(&c_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string kind() const override { return "mpi"; }

  void all_reduce(void* buf, int64_t count, CommType t, const char* what) override {
    watchdog::Collective w(what);
    check(MPI_Allreduce(MPI_IN_PLACE, buf, as_int(count, what), mpi_type(t), MPI_SUM, c_), "all-reduce", what);
  }
  void reduce_scatter(const void* send, void* recv, std::span<const int64_t> counts, CommType t,
                      const char* what) override {
    watchdog::Collective w(what);
    Counts k(counts, what);
    check(MPI_Reduce_scatter(send, recv, k.n.data(), mpi_type(t), MPI_SUM, c_), "reduce-scatter", what);
  }
  void all_gather(const void* send, void* recv, std::span<const int64_t> counts, CommType t,
                  const char* what) override {
    watchdog::Collective w(what);
    Counts k(counts, what);
    check(MPI_Allgatherv(send, k.n[size_t(rank_)], mpi_type(t), recv, k.n.data(), k.off.data(), mpi_type(t), c_),
          "all-gather", what);
  }
  void broadcast(void* buf, int64_t count, CommType t, int root, const char* what) override {
    watchdog::Collective w(what);
    check(MPI_Bcast(buf, as_int(count, what), mpi_type(t), root, c_), "broadcast", what);
  }
  void all_to_all(const void* send, std::span<const int64_t> sc, void* recv, std::span<const int64_t> rc, CommType t,
                  const char* what) override {
    watchdog::Collective w(what);
    Counts s(sc, what), r(rc, what);
    check(MPI_Alltoallv(send, s.n.data(), s.off.data(), mpi_type(t), recv, r.n.data(), r.off.data(), mpi_type(t), c_),
          "all-to-all", what);
  }
  void barrier(const char* what) override {
    watchdog::Collective w(what);
    check(MPI_Barrier(c_), "barrier", what);
  }
  std::unique_ptr<Comm> split(int color, int key) override {
    MPI_Comm n;
    check(MPI_Comm_split(c_, color, key, &n), "split", "process groups");
    return std::make_unique<MpiComm>(n, true);
  }

 private:
  MPI_Comm c_;
  bool owned_;
  int rank_ = 0, size_ = 1;
};

std::once_flag g_init;

void finalize_at_exit() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
}

}  // namespace

bool mpi_available() { return true; }

std::unique_ptr<Comm> make_world_comm() {
  if (!launched_by_mpi()) return make_self_comm();
  std::call_once(g_init, [] {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      std::atexit(finalize_at_exit);
    }
  });
  return std::make_unique<MpiComm>(MPI_COMM_WORLD, false);
}

void abort_world(int code) {
  int inited = 0, fin = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&fin);
  std::fflush(stdout);
  std::fflush(stderr);
  if (inited && !fin) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace zaya
