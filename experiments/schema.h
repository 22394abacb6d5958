// Every key an experiment spec may hold, gathered from the modules that own them: run.* (the
// run folder), env.* (the registered environments), agent.* (the networks), train.*, ppo.*,
// reinforce.* (the online learners), eval.*, and offline.*, bc.*, iql.*, atac.*,
// dataset.*, ablate.* (offline/). The
// CLI, tests and benchmarks read specs through this one schema.
#pragma once

#include "core/spec.h"

namespace shardlab {

const SpecSchema& shardlab_schema();

}  // namespace shardlab
