// The self communicator, launcher detection and the world factory (comm.h).
#include "dist/comm.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace zaya {

size_t comm_type_size(CommType t) {
  switch (t) {
    case CommType::F32: return 4;
    case CommType::F64: return 8;
    case CommType::I64: return 8;
    case CommType::U8: return 1;
  }
  return 1;
}

namespace {

class SelfComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string kind() const override { return "self"; }
  void all_reduce(void*, int64_t, CommType, const char*) override {}
  void reduce_scatter(const void* send, void* recv, std::span<const int64_t> counts, CommType t,
                      const char*) override {
    copy(send, recv, counts[0], t);
  }
  void all_gather(const void* send, void* recv, std::span<const int64_t> counts, CommType t, const char*) override {
    copy(send, recv, counts[0], t);
  }
  void broadcast(void*, int64_t, CommType, int, const char*) override {}
  void all_to_all(const void* send, std::span<const int64_t> sc, void* recv, std::span<const int64_t>, CommType t,
                  const char*) override {
    copy(send, recv, sc[0], t);
  }
  void barrier(const char*) override {}
  std::unique_ptr<Comm> split(int, int) override { return std::make_unique<SelfComm>(); }

 private:
  static void copy(const void* s, void* d, int64_t n, CommType t) {
    if (s != d && n > 0) std::memmove(d, s, size_t(n) * comm_type_size(t));
  }
};

class LayoutComm final : public Comm {
 public:
  LayoutComm(int r, int n) : r_(r), n_(n) {}
  int rank() const override { return r_; }
  int size() const override { return n_; }
  std::string kind() const override { return "layout"; }
  void all_reduce(void*, int64_t, CommType, const char* w) override { no(w); }
  void reduce_scatter(const void*, void*, std::span<const int64_t>, CommType, const char* w) override { no(w); }
  void all_gather(const void*, void*, std::span<const int64_t>, CommType, const char* w) override { no(w); }
  void broadcast(void*, int64_t, CommType, int, const char* w) override { no(w); }
  void all_to_all(const void*, std::span<const int64_t>, void*, std::span<const int64_t>, CommType,
                  const char* w) override {
    no(w);
  }
  void barrier(const char* w) override { no(w); }
  std::unique_ptr<Comm> split(int, int) override { no("split"); }

 private:
  [[noreturn]] static void no(const char* w) { throw_error("communicator: '", w, "' on a layout-only communicator"); }
  int r_, n_;
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : 0;
}

}  // namespace

std::unique_ptr<Comm> make_self_comm() { return std::make_unique<SelfComm>(); }
std::unique_ptr<Comm> make_layout_comm(int rank, int size) {
  ZAYA_CHECK(size >= 1 && rank >= 0 && rank < size, "layout communicator: rank ", rank, " of ", size);
  return std::make_unique<LayoutComm>(rank, size);
}

bool launched_by_mpi() {
  // OpenMPI, MPICH/Hydra (PMI_SIZE), PMIx launchers (srun --mpi=pmix), Slurm's own task count.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (env_int(v) > 1) return true;
  if (std::getenv("PMIX_RANK") && env_int("SLURM_NTASKS") > 1) return true;
  return false;
}

#ifndef ZAYA_HAVE_MPI
bool mpi_available() { return false; }
std::unique_ptr<Comm> make_world_comm() {
  ZAYA_CHECK(!launched_by_mpi(), "this process was started by an MPI launcher, but this zaya was built without MPI "
             "(install libopenmpi-dev and rebuild)");
  return make_self_comm();
}
void abort_world(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}
#endif

}  // namespace zaya
