#include "agents/online_learner.h"

#include "agents/ppo.h"
#include "agents/reinforce.h"
#include "core/error.h"
#include "core/spec.h"

namespace shardlab {

const std::vector<OnlineLearnerRegistration>& online_learners() {
  static const std::vector<OnlineLearnerRegistration> learners = {
      {"ppo", "PPO: clipped surrogate, GAE, minibatch epochs", PpoConfig::declare_keys,
       [](const Spec& spec, const TrainConfig& train, at::Device device) {
         const PpoConfig c = PpoConfig::from_spec(spec);
         return OnlineLearner{"ppo", ppo_metrics(),
                              [=](ActorCriticImpl& net, torch::optim::Adam& opt, const Rollout& r, at::Generator& gen,
                                    const Collective& ranks) {
                                return ppo_update(net, opt, r, train, c, gen, device, ranks);
                              }};
       }},
      {"reinforce", "REINFORCE: Monte-Carlo returns, optional baseline", ReinforceConfig::declare_keys,
       [](const Spec& spec, const TrainConfig& train, at::Device device) {
         const ReinforceConfig c = ReinforceConfig::from_spec(spec);
         return OnlineLearner{"reinforce", reinforce_metrics(),
                              [=](ActorCriticImpl& net, torch::optim::Adam& opt, const Rollout& r, at::Generator&,
                                    const Collective& ranks) {
                                return reinforce_update(net, opt, r, train, c, device, ranks);
                              }};
       }},
  };
  return learners;
}

void declare_online_learner_keys(SpecSchema& schema) {
  std::vector<std::string> names;
  std::string help = "online training algorithm:";
  for (const auto& l : online_learners()) {
    names.push_back(l.name);
    help += " " + l.name + " (" + l.description + ")";
  }
  schema.add_string("agent.algo", names.front(), help, names);
  for (const auto& l : online_learners()) l.declare_keys(schema);
}

OnlineLearner make_online_learner(const Spec& spec, const TrainConfig& train, at::Device device) {
  const std::string& name = spec.get_string("agent.algo");
  for (const auto& l : online_learners())
    if (l.name == name) return l.make(spec, train, device);
  throw InputError("agent.algo = '" + name + "': no such online learner");
}

}  // namespace shardlab
