// The ranks of one data-parallel run and the few collective operations training needs, over
// libtorch's c10d: a TCPStore rendezvous and a Gloo process group. A world of one rank (the
// default) does every operation locally, so a single-process run takes the same code path and
// gives the same numbers as before data parallelism existed.
//
// Every operation here is collective: every rank must call it, in the same order. A rank that
// is lost (killed, its machine gone) makes the others' next operation fail with an Error naming
// the operation, or time out after `timeout_s`, never hang.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shardlab {

// Where this process sits in a data-parallel job.
struct WorldConfig {
  int64_t world_size = 1;
  int64_t rank = 0;
  std::string master_addr = "127.0.0.1";  // where rank 0 serves the rendezvous store
  int64_t master_port = 0;
  double timeout_s = 300;  // a collective operation (or the rendezvous) fails after this long

  // From the environment a launcher sets: WORLD_SIZE/RANK/MASTER_ADDR/MASTER_PORT (torchrun and
  // `shardlab train --nproc`), else SLURM_NTASKS/SLURM_PROCID in a task of an `srun` step
  // (SLURM_STEP_ID set; a batch script's own process is not a rank) (the address from
  // MASTER_ADDR or SLURM_LAUNCH_NODE_IPADDR, the port from MASTER_PORT or 20000 + the job id
  // modulo 20000). A world of one when none is set. InputError naming the variable on a bad value.
  static WorldConfig from_environment();
};

// A loopback port nobody listens on now (the kernel's pick), for a local run's rendezvous store.
int free_loopback_port();

class Collective {
 public:
  Collective();  // a world of one rank
  // Joins the process group of `world` (blocks until every rank has joined, or times out).
  static Collective join(const WorldConfig& world);

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  bool distributed() const { return world_size_ > 1; }
  // Rank 0: the one that writes the run folder, metrics, progress and checkpoints.
  bool leader() const { return rank_ == 0; }

  // Averages the gradients of `parameters` over the ranks with one all-reduce of one flat
  // bucket, which also carries whether each rank's loss was finite. Returns false (gradients
  // untouched) when any rank's was not, so that every rank skips or stops together.
  bool average_gradients(const std::vector<at::Tensor>& parameters, bool loss_finite) const;
  // Sums a tensor over the ranks, in place (one all-reduce).
  void sum(at::Tensor& values) const;
  // Sums doubles over the ranks, in place (one all-reduce).
  void sum(std::vector<double>& values) const;
  // Rank 0's bytes on every rank.
  void broadcast(std::string& bytes) const;
  // Waits for every rank.
  void barrier() const;

 private:
  struct Group;
  std::shared_ptr<Group> group_;
  int64_t rank_ = 0, world_size_ = 1;
};

}  // namespace shardlab
