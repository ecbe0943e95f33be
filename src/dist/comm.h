// The communicator interface of multi-process training (issue 7; spec zaya1-system.md §2–3): the
// collectives a data- and expert-parallel trainer needs, over a group of ranks. Implementations:
//   self   a world of one process (every collective is a copy); what `zaya train` uses when it was not
//          launched by an MPI launcher
//   mpi    OpenMPI / any MPI (comm_mpi.cpp), when launched by mpirun or srun
//   nccl   (issue 10) the same interface over NCCL/RCCL, bootstrapped over MPI
// Every call names what it is for (`what`, e.g. "grad reduce-scatter"): the watchdog reports it when the
// collective does not complete in time, with the ranks that never arrived (watchdog.h).
// Reductions are sums. Counts are elements of the given type; reduce_scatter / all_gather take one
// count per rank (rank r's piece lies at the sum of the counts before r).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace zaya {

enum class CommType { F32, F64, I64, U8 };
size_t comm_type_size(CommType t);

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string kind() const = 0;  // "self", "mpi"

  // In place: buf[i] = Σ over ranks of buf[i].
  virtual void all_reduce(void* buf, int64_t count, CommType t, const char* what) = 0;
  // send holds Σcounts elements; rank r receives the sum over ranks of its piece (counts[r] elements).
  virtual void reduce_scatter(const void* send, void* recv, std::span<const int64_t> counts, CommType t,
                              const char* what) = 0;
  // send holds counts[rank()] elements; recv, Σcounts, gets every rank's piece in rank order.
  virtual void all_gather(const void* send, void* recv, std::span<const int64_t> counts, CommType t,
                          const char* what) = 0;
  virtual void broadcast(void* buf, int64_t count, CommType t, int root, const char* what) = 0;
  // send_counts[r] elements go to rank r (pieces in rank order); recv_counts[r] come from rank r.
  virtual void all_to_all(const void* send, std::span<const int64_t> send_counts, void* recv,
                          std::span<const int64_t> recv_counts, CommType t, const char* what) = 0;
  virtual void barrier(const char* what) = 0;
  // Sub-groups (data-, expert-, expert-data-parallel): ranks with the same color, ordered by key.
  virtual std::unique_ptr<Comm> split(int color, int key) = 0;

  // Convenience: a sum of doubles / int64s across ranks, in place.
  void sum(std::span<double> v, const char* what) { all_reduce(v.data(), int64_t(v.size()), CommType::F64, what); }
  void sum(std::span<int64_t> v, const char* what) { all_reduce(v.data(), int64_t(v.size()), CommType::I64, what); }
};

std::unique_ptr<Comm> make_self_comm();
// A rank of `size` for computing layouts offline (zaya ckpt reshape): rank() and size() only; every
// collective throws.
std::unique_ptr<Comm> make_layout_comm(int rank, int size);

// True when an MPI launcher (mpirun/mpiexec of OpenMPI, MPICH's Hydra, Slurm's srun with PMI/PMIx)
// started this process with more than one rank, from its environment variables.
bool launched_by_mpi();
// Whether this build has the MPI implementation (CMake found MPI).
bool mpi_available();
// The world: MPI when launched_by_mpi() (an error if this build has no MPI), else self. The MPI world
// is initialized once and finalized at exit.
std::unique_ptr<Comm> make_world_comm();
// Ends every rank of the world at once (MPI_Abort) after an error on this rank; exit(code) without MPI.
[[noreturn]] void abort_world(int code);

}  // namespace zaya
