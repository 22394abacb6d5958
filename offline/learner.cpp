#include "offline/learner.h"

#include <dlfcn.h>
#include <malloc.h>

#include "core/error.h"
#include "core/spec.h"
#include "offline/atac.h"
#include "offline/bc.h"
#include "offline/iql.h"

namespace shardlab {

namespace {

template <class L, class Config>
std::unique_ptr<Learner> make(const LearnerContext& context) {
  return std::make_unique<L>(context, Config::from_spec(context.spec));
}

// One gradient step holds offline.batch_size transitions through `networks` networks of the
// policy's size (the actor; critics and their targets).
template <class Config, int networks>
GradientLoad load(const Spec& spec, int64_t batch_rows) {
  Config::from_spec(spec);
  return {batch_rows, networks, "offline.batch_size"};
}

}  // namespace

const std::vector<LearnerRegistration>& offline_learners() {
  static const std::vector<LearnerRegistration> learners = {
      {"atac", "ATAC: adversarially trained actor critic, relative pessimism (Cheng et al. 2022)",
       AtacConfig::declare_keys, load<AtacConfig, 4>, make<AtacLearner, AtacConfig>},
      {"iql", "IQL: expectile value, advantage-weighted policy extraction (Kostrikov et al. 2022)",
       IqlConfig::declare_keys, load<IqlConfig, 4>, make<IqlLearner, IqlConfig>},
      {"bc", "behaviour cloning: maximum likelihood of the dataset's actions", BcConfig::declare_keys,
       load<BcConfig, 1>, make<BcLearner, BcConfig>},
  };
  return learners;
}

void declare_offline_learner_keys(SpecSchema& schema) {
  declare_learner_keys(schema, "offline.algo", "offline learning algorithm", offline_learners());
}

std::unique_ptr<Learner> make_offline_learner(const LearnerContext& context) {
  return find_learner(offline_learners(), context.spec, "offline.algo").make(context);
}

void keep_freed_memory_for_reuse() {
#ifdef M_TRIM_THRESHOLD
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum; buffers below it come from the heap
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(threads);
}

}  // namespace shardlab
