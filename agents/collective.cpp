#include "agents/collective.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

// Torch's CMake config defines USE_C10D_GLOO (Debian's libtorch has Gloo); libgloo-dev provides
// the Gloo headers that ProcessGroupGloo.hpp includes.
#include <torch/torch.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "core/error.h"
#include "core/text.h"

namespace shardlab {
namespace {

// An environment variable as an integer in [min, max]; `fallback` when unset.
int64_t env_int(const char* name, int64_t fallback, int64_t min, int64_t max) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (*end != '\0' || v < min || v > max)
    throw InputError(std::string("environment variable ") + name + " = '" + text + "': expected an integer from " +
                     std::to_string(min) + " to " + std::to_string(max));
  return v;
}

std::string env_string(const char* name) {
  const char* text = std::getenv(name);
  return text ? text : "";
}

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw Error("cannot find a free loopback port: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

WorldConfig WorldConfig::from_environment() {
  WorldConfig w;
  const bool torchrun = !env_string("WORLD_SIZE").empty();
  // Only a task of an srun step is a rank: a batch script or salloc shell also sees SLURM_NTASKS
  // and SLURM_PROCID, but no SLURM_STEP_ID.
  const bool slurm = !torchrun && !env_string("SLURM_NTASKS").empty() && !env_string("SLURM_PROCID").empty() &&
                     !env_string("SLURM_STEP_ID").empty();
  if (!torchrun && !slurm) return w;
  w.world_size = env_int(torchrun ? "WORLD_SIZE" : "SLURM_NTASKS", 1, 1, 65536);
  w.rank = env_int(torchrun ? "RANK" : "SLURM_PROCID", 0, 0, w.world_size - 1);
  if (w.world_size == 1) return w;
  w.master_addr = env_string("MASTER_ADDR");
  if (w.master_addr.empty() && slurm) w.master_addr = env_string("SLURM_LAUNCH_NODE_IPADDR");
  if (w.master_addr.empty())
    throw InputError(std::string(torchrun ? "WORLD_SIZE" : "SLURM_NTASKS") + " = " + std::to_string(w.world_size) +
                     " but MASTER_ADDR is not set: set it to the address of rank 0's machine");
  // Under SLURM every task of one job derives the same port from the job id.
  const int64_t job_port = 20000 + env_int("SLURM_JOB_ID", 0, 0, INT64_MAX) % 20000;
  w.master_port = env_int("MASTER_PORT", slurm ? job_port : 0, 1, 65535);
  if (w.master_port == 0)
    throw InputError("WORLD_SIZE is set but MASTER_PORT is not: set both, with RANK and MASTER_ADDR");
  return w;
}

struct Collective::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  // Runs one collective operation; a failure (a rank lost, a timeout) becomes one Error line.
  void run(int64_t rank, int64_t world_size, const char* what, const std::function<void()>& op) const {
    // With two ranks the lost one is known; Gloo's message names only its address.
    const std::string lost = world_size == 2 ? "rank " + std::to_string(1 - rank) : "another rank";
    const std::string prefix =
        "rank " + std::to_string(rank) + ": " + what + " failed (" + lost + " stopped or is unreachable): ";
    try {
      op();
    } catch (const c10::Error& e) {
      throw Error(prefix + first_line(e.what_without_backtrace()));
    } catch (const std::exception& e) {
      throw Error(prefix + first_line(e.what()));
    }
  }
};

namespace {

// Waits for a collective operation by yielding the core instead of sleeping in wait(): a sleeping
// thread lets its virtual CPU halt, and each of the several wake-ups of one all-reduce (Gloo's I/O
// thread, its worker, this thread) then costs the hypervisor's wake-up latency
// (docs/benchmarks.md, "Data parallelism"). wait() still reports a failure or a timeout.
void finish(const c10::intrusive_ptr<c10d::Work>& work) {
  while (!work->isCompleted()) std::this_thread::yield();
  work->wait();
}

}  // namespace

Collective::Collective() = default;

Collective Collective::join(const WorldConfig& world) {
  Collective c;
  c.rank_ = world.rank;
  c.world_size_ = world.world_size;
  if (world.world_size == 1) return c;
  if (world.rank < 0 || world.rank >= world.world_size)
    throw InputError("rank " + std::to_string(world.rank) + " is outside a world of " +
                     std::to_string(world.world_size));
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(world.timeout_s * 1000.0));
  c.group_ = std::make_shared<Group>();
  c.group_->run(world.rank, world.world_size, "joining the process group", [&] {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(world.master_port);
    options.isServer = world.rank == 0;
    options.numWorkers = static_cast<size_t>(world.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    c.group_->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
    // One machine talks over loopback; across machines Gloo binds this host's address (or the
    // interface named by GLOO_SOCKET_IFNAME, as in PyTorch).
    const std::string interface = env_string("GLOO_SOCKET_IFNAME");
    gloo_options->devices.push_back(is_loopback(world.master_addr)
                                        ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                    : !interface.empty() ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                                                         : c10d::ProcessGroupGloo::createDefaultDevice());
    gloo_options->threads = 2;
    c.group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c.group_->store, static_cast<int>(world.rank),
                                                                 static_cast<int>(world.world_size), gloo_options);
  });
  return c;
}

bool Collective::average_gradients(const std::vector<at::Tensor>& parameters, bool loss_finite) const {
  if (!distributed()) return loss_finite;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> pieces;
  pieces.reserve(parameters.size() + 1);
  for (const at::Tensor& p : parameters) {
    // A parameter the loss did not reach still takes part, as zeros, so every bucket matches.
    if (!p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad() = torch::zeros_like(p);
    pieces.push_back(p.grad().reshape(-1));
  }
  pieces.push_back(torch::full({1}, loss_finite ? 0.0f : 1.0f, pieces.front().options()));
  std::vector<at::Tensor> bucket = {torch::cat(pieces)};
  group_->run(rank_, world_size_, "the gradient all-reduce", [&] { finish(group_->gloo->allreduce(bucket)); });
  const at::Tensor flat = bucket.front();
  if (flat[-1].item<float>() > 0) return false;
  flat.div_(static_cast<double>(world_size_));
  int64_t offset = 0;
  for (const at::Tensor& p : parameters) {
    const int64_t n = p.numel();
    p.grad().copy_(flat.slice(0, offset, offset + n).view_as(p.grad()));
    offset += n;
  }
  return true;
}

void Collective::sum(at::Tensor& values) const {
  if (!distributed()) return;
  std::vector<at::Tensor> tensors = {values.contiguous()};
  group_->run(rank_, world_size_, "an all-reduce", [&] { finish(group_->gloo->allreduce(tensors)); });
  if (!tensors.front().is_same(values)) values.copy_(tensors.front());
}

void Collective::sum(std::vector<double>& values) const {
  if (!distributed() || values.empty()) return;
  at::Tensor t = torch::tensor(values, torch::kFloat64);
  sum(t);
  std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), values.begin());
}

void Collective::broadcast(std::string& bytes) const {
  if (!distributed()) return;
  std::vector<at::Tensor> size = {torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64)};
  group_->run(rank_, world_size_, "a broadcast", [&] { finish(group_->gloo->broadcast(size)); });
  const int64_t n = size.front().item<int64_t>();
  std::vector<at::Tensor> data = {leader() ? torch::from_blob(bytes.data(), {n}, torch::kUInt8).clone()
                                           : torch::empty({n}, torch::kUInt8)};
  group_->run(rank_, world_size_, "a broadcast", [&] { finish(group_->gloo->broadcast(data)); });
  bytes.assign(reinterpret_cast<const char*>(data.front().data_ptr<uint8_t>()), static_cast<size_t>(n));
}

void Collective::barrier() const {
  if (!distributed()) return;
  group_->run(rank_, world_size_, "a barrier", [&] { finish(group_->gloo->barrier()); });
}

}  // namespace shardlab
