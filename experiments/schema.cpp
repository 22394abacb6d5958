#include "experiments/schema.h"

#include "agents/evaluate.h"
#include "agents/online_learner.h"
#include "agents/run_dir.h"
#include "agents/torso.h"
#include "agents/train_config.h"
#include "agents/video.h"
#include "envs/registry.h"
#include "experiments/ablation.h"
#include "offline/dataset_maker.h"
#include "offline/offline_run.h"

namespace shardlab {

const SpecSchema& shardlab_schema() {
  static const SpecSchema schema = [] {
    SpecSchema s;
    RunConfig::declare_keys(s);
    VideoConfig::declare_keys(s);
    declare_env_keys(s);
    NetworkConfig::declare_keys(s);
    TrainConfig::declare_keys(s);
    declare_online_learner_keys(s);
    declare_eval_keys(s);
    declare_offline_keys(s);
    DatasetConfig::declare_keys(s);
    AblationConfig::declare_keys(s);
    return s;
  }();
  return schema;
}

}  // namespace shardlab
