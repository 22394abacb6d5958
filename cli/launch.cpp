// The data-parallel flags of `shardlab train` and `shardlab offline`. With `--nproc N`: N ranks of
// one run on this machine, as torchrun starts them: each is this executable again with WORLD_SIZE, RANK, LOCAL_RANK,
// MASTER_ADDR and MASTER_PORT set (a free loopback port), joined through c10d's TCPStore and Gloo
// (agents/collective.h). When a rank fails or is killed, the others are stopped at once, so a
// lost rank never leaves the rest waiting; the error names it. Otherwise the ranks come from
// --world-size/--rank/--master or a launcher's environment (torchrun's, SLURM's srun).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "agents/collective.h"
#include "agents/run_dir.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/folder_lock.h"

extern char** environ;

namespace shardlab::cli {
namespace {

constexpr int kMaxRanks = 256;
pid_t g_children[kMaxRanks];  // read by the signal handler
volatile sig_atomic_t g_child_count = 0;

// SIGINT/SIGTERM to the launcher reach every rank (they clean up their own temporaries).
void forward_signal(int sig) {
  for (int i = 0; i < g_child_count; ++i)
    if (g_children[i] > 0) ::kill(g_children[i], SIGTERM);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// The train arguments without --nproc (what each rank of a local data-parallel run receives).
std::vector<std::string> without_nproc(const std::vector<std::string>& args) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    kept.push_back(args[i]);
  }
  return kept;
}

// Where this process sits: --world-size/--rank/--master, else the launcher's environment.
WorldConfig world_from_flags(const po::variables_map& vm) {
  const bool any = vm.count("world-size") || vm.count("rank") || vm.count("master");
  if (!any) return WorldConfig::from_environment();
  if (!vm.count("world-size") || !vm.count("rank") || !vm.count("master"))
    throw InputError("--world-size, --rank and --master go together");
  WorldConfig w;
  w.world_size = flag_at_least(vm, "world-size", 1);
  w.rank = flag_at_least(vm, "rank", 0);
  if (w.rank >= w.world_size)
    throw InputError("--rank " + std::to_string(w.rank) + ": expected below --world-size " +
                     std::to_string(w.world_size));
  const std::string master = vm["master"].as<std::string>();
  const size_t colon = master.rfind(':');
  char* end = nullptr;
  const long port = colon == std::string::npos ? 0 : std::strtol(master.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon == 0 || *end != '\0' || port < 1 || port > 65535)
    throw InputError("--master " + master + ": expected HOST:PORT (rank 0's address and a free port)");
  w.master_addr = master.substr(0, colon);
  w.master_port = port;
  return w;
}

// At most kMaxRanks ranks; a warning when their threads are more than the machine's cores.
void check_rank_count(int64_t nproc, int64_t threads) {
  if (nproc > kMaxRanks)
    throw InputError("--nproc " + std::to_string(nproc) + ": at most " + std::to_string(kMaxRanks));
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > 0 && nproc * threads > cores)
    std::cerr << "shardlab: warning: " << nproc << " ranks x " << threads
              << " thread(s) (run.threads) = " << nproc * threads << " threads on " << cores
              << " cores: they will oversubscribe them\n";
}

// A rank's environment: this process's, with its place in the world in torchrun's variables.
std::vector<std::string> rank_environment(int64_t nproc, int64_t rank, int port, int64_t threads) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (key != "WORLD_SIZE" && key != "RANK" && key != "LOCAL_RANK" && key != "MASTER_ADDR" && key != "MASTER_PORT")
      env_strings.push_back(entry);
  }
  env_strings.push_back("WORLD_SIZE=" + std::to_string(nproc));
  env_strings.push_back("RANK=" + std::to_string(rank));
  env_strings.push_back("LOCAL_RANK=" + std::to_string(rank));
  env_strings.push_back("MASTER_ADDR=127.0.0.1");
  env_strings.push_back("MASTER_PORT=" + std::to_string(port));
  // OpenBLAS would start a thread per core in every rank; each rank gets its run.threads.
  if (!std::getenv("OPENBLAS_NUM_THREADS")) env_strings.push_back("OPENBLAS_NUM_THREADS=" + std::to_string(threads));
  return env_strings;
}

// Starts the ranks, each known to the signal handler; when one cannot start, stops those started.
std::vector<pid_t> spawn_ranks(const std::string& self, const std::vector<char*>& argv, int64_t nproc, int port,
                               int64_t threads) {
  std::vector<pid_t> pids;
  for (int64_t rank = 0; rank < nproc; ++rank) {
    std::vector<std::string> env_strings = rank_environment(nproc, rank, port, threads);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int error = ::posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (error != 0) {
      for (pid_t p : pids) ::kill(p, SIGTERM);
      throw Error("cannot start rank " + std::to_string(rank) + " (" + self + "): " + std::strerror(error));
    }
    pids.push_back(pid);
    g_children[rank] = pid;
    g_child_count = static_cast<sig_atomic_t>(rank + 1);
  }
  return pids;
}

// How the ranks ended: `what` empty when all succeeded, else the failed rank and how it ended.
struct RankFailure {
  std::string what;
  int status = 0;
};

// Wait for every rank; on the first failure stop the others (SIGTERM, then SIGKILL after a grace).
RankFailure wait_for_ranks(std::vector<pid_t>& pids) {
  constexpr auto kGrace = std::chrono::seconds(10);
  RankFailure failure;
  size_t running = pids.size();
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, failure.what.empty() ? 0 : WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == 0) {  // stopping the others: wait a little, then insist
      if (std::chrono::steady_clock::now() > deadline) {
        for (size_t i = 0; i < pids.size(); ++i)
          if (pids[i] > 0) ::kill(pids[i], SIGKILL);
        deadline = std::chrono::steady_clock::time_point::max();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    // Forgets a rank that ended; its rank (pids.size() for a process not ours).
    auto reap = [&](pid_t ended) {
      size_t rank = 0;
      while (rank < pids.size() && pids[rank] != ended) ++rank;
      if (rank == pids.size()) return pids.size();
      pids[rank] = -1;
      g_children[rank] = -1;
      --running;
      return rank;
    };
    const size_t rank = reap(pid);
    if (rank == pids.size()) continue;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && failure.what.empty()) {
      // A rank killed by a signal is the cause; the others then fail their next collective
      // operation. If one of those was reaped first, the killed one has ended already: look.
      size_t cause = rank;
      int cause_status = status;
      for (pid_t other; !WIFSIGNALED(cause_status) && (other = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        const size_t r = reap(other);
        if (r != pids.size() && WIFSIGNALED(status)) {
          cause = r;
          cause_status = status;
        }
      }
      failure.what = "rank " + std::to_string(cause) + " " + describe_exit(cause_status);
      failure.status = cause_status;
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGTERM);
      deadline = std::chrono::steady_clock::now() + kGrace;
    }
  }
  return failure;
}

// Starts `nproc` ranks of `shardlab COMMAND ARGS` and waits for them; returns the exit status (the
// failed rank's, after stopping the others).
int launch_ranks(const std::string& command, const std::vector<std::string>& args, int64_t nproc, int64_t threads) {
  check_rank_count(nproc, threads);
  const std::string self = self_executable();
  const int port = free_loopback_port();
  std::vector<std::string> argv_strings = {self, command};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  ::signal(SIGINT, forward_signal);
  ::signal(SIGTERM, forward_signal);
  std::vector<pid_t> pids = spawn_ranks(self, argv, nproc, port, threads);
  const RankFailure failure = wait_for_ranks(pids);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  if (failure.what.empty()) return 0;
  // A rank that exited on its own said why on its own line; this line names the rank.
  std::cerr << "shardlab: error: data-parallel run stopped: " << failure.what << "; the other ranks were stopped\n";
  return WIFEXITED(failure.status) ? WEXITSTATUS(failure.status) : 1;
}

}  // namespace

void add_parallel_flags(po::options_description& flags) {
  flags.add_options()("nproc", po::value<int64_t>(),
                      "data-parallel: start N ranks on this machine (c10d/Gloo over loopback)")(
      "world-size", po::value<int64_t>(), "data-parallel across machines: the number of ranks")(
      "rank", po::value<int64_t>(), "data-parallel across machines: this process's rank (0 writes the run folder)")(
      "master", po::value<std::string>(), "data-parallel across machines: HOST:PORT of rank 0's rendezvous store")(
      "timeout", po::value<double>()->default_value(300.0),
      "data-parallel: seconds a rendezvous or collective operation may wait before failing");
}

std::optional<int> launch_or_join(const std::string& command, const std::vector<std::string>& args,
                                  const po::variables_map& vm, const Spec& spec, TrainOptions& options,
                                  const std::function<void(int64_t)>& check) {
  const double timeout = vm["timeout"].as<double>();
  if (timeout <= 0)
    throw InputError("--timeout " + std::to_string(timeout) + ": expected a positive number of seconds");
  if (vm.count("nproc") && flag_at_least(vm, "nproc", 1) > 1) {
    const int64_t nproc = vm["nproc"].as<int64_t>();
    if (vm.count("world-size") || std::getenv("WORLD_SIZE"))
      throw InputError("shardlab " + command +
                       ": --nproc starts its own ranks; it does not go with --world-size or WORLD_SIZE");
    // What the ranks would refuse is refused here, once, before any starts.
    check(nproc);
    // The launcher holds the run folder's lock while its ranks run; rank 0 works under it.
    const auto held = RunDir::lock(options.out_root, options.run_name, spec, options.resume);
    held->pass_to_children();
    return launch_ranks(command, without_nproc(args), nproc, spec.get_int("run.threads"));
  }
  WorldConfig world = world_from_flags(vm);
  world.timeout_s = timeout;
  if (world.world_size > 1) check(world.world_size);
  options.ranks = Collective::join(world);
  return std::nullopt;
}

}  // namespace shardlab::cli
