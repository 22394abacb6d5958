#include "agents/online_learner.h"

#include <torch/torch.h>

#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "agents/reinforce.h"
#include "core/spec.h"

namespace shardlab {
namespace {

ActorCritic on_device(ActorCritic net, at::Device device) {
  net->to(device);
  return net;
}

template <class L>
std::unique_ptr<Learner> make(const LearnerContext& context) {
  return std::make_unique<L>(context);
}

}  // namespace

RolloutLearner::RolloutLearner(const LearnerContext& context, std::string name)
    : name_(std::move(name)),
      train_(TrainConfig::from_spec(context.spec)),
      device_(context.device),
      ranks_(context.ranks),
      total_updates_(context.total_updates),
      net_(on_device(ActorCritic(NetworkConfig::from_spec(context.spec), context.observation_spec, context.action_spec,
                                 context.init),
                     device_)),
      optimizer_(net_->parameters(), torch::optim::AdamOptions(train_.learning_rate).eps(1e-5)) {}

std::vector<std::string> RolloutLearner::metrics() const {
  std::vector<std::string> columns = {"charts/learning_rate"};
  for (const std::string& l : losses()) columns.push_back(l);
  return columns;
}

void RolloutLearner::add_parts(Checkpoint& checkpoint) {
  checkpoint.add("model", *net_);
  checkpoint.add("optimizer", optimizer_);
}

std::map<std::string, double> RolloutLearner::update(const Batch& batch, int64_t step, at::Generator& gen) {
  const double lr =
      train_.anneal_lr ? train_.learning_rate * (1.0 - (step - 1.0) / total_updates_) : train_.learning_rate;
  for (auto& group : optimizer_.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  std::map<std::string, double> row = learn(rollout_of(batch, name_), gen);
  row["charts/learning_rate"] = lr;
  return row;
}

const std::vector<LearnerRegistration>& online_learners() {
  static const std::vector<LearnerRegistration> learners = {
      {"ppo", "PPO: clipped surrogate, GAE, minibatch epochs", PpoConfig::declare_keys, PpoLearner::load,
       make<PpoLearner>},
      {"reinforce", "REINFORCE: Monte-Carlo returns, optional baseline", ReinforceConfig::declare_keys,
       ReinforceLearner::load, make<ReinforceLearner>},
  };
  return learners;
}

void declare_online_learner_keys(SpecSchema& schema) {
  declare_learner_keys(schema, "agent.algo", "online training algorithm", online_learners());
}

}  // namespace shardlab
