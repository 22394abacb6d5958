#include "offline/learner.h"

#include <dlfcn.h>
#include <malloc.h>

#include "core/error.h"
#include "core/spec.h"
#include "offline/atac.h"
#include "offline/bc.h"
#include "offline/iql.h"

namespace shardlab {

const std::vector<OfflineLearnerRegistration>& offline_learners() {
  static const std::vector<OfflineLearnerRegistration> learners = {
      {"atac", "ATAC: adversarially trained actor critic, relative pessimism (Cheng et al. 2022)",
       AtacConfig::declare_keys,
       [](const OfflineLearnerContext& c) { return std::make_unique<AtacLearner>(c, AtacConfig::from_spec(c.spec)); }},
      {"iql", "IQL: expectile value, advantage-weighted policy extraction (Kostrikov et al. 2022)",
       IqlConfig::declare_keys,
       [](const OfflineLearnerContext& c) { return std::make_unique<IqlLearner>(c, IqlConfig::from_spec(c.spec)); }},
      {"bc", "behaviour cloning: maximum likelihood of the dataset's actions", BcConfig::declare_keys,
       [](const OfflineLearnerContext& c) { return std::make_unique<BcLearner>(c, BcConfig::from_spec(c.spec)); }},
  };
  return learners;
}

void declare_offline_learner_keys(SpecSchema& schema) {
  std::vector<std::string> names;
  std::string help = "offline learning algorithm:";
  for (const auto& l : offline_learners()) {
    names.push_back(l.name);
    help += " " + l.name + " (" + l.description + ")";
  }
  schema.add_string("offline.algo", "atac", help, names);
  for (const auto& l : offline_learners()) l.declare_keys(schema);
}

std::unique_ptr<OfflineLearner> make_offline_learner(const OfflineLearnerContext& context) {
  const std::string& name = context.spec.get_string("offline.algo");
  for (const auto& l : offline_learners())
    if (l.name == name) return l.make(context);
  throw InputError("offline.algo = '" + name + "': no such offline learner");
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
