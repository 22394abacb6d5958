#include "agents/learner.h"

#include "core/error.h"
#include "core/spec.h"

namespace shardlab {

const Rollout& rollout_of(const Batch& batch, const std::string& learner) {
  if (const Rollout* r = std::get_if<Rollout>(&batch)) return *r;
  throw Error(learner + " learns from rollouts of an environment, not from a dataset's transitions");
}

const Transitions& transitions_of(const Batch& batch, const std::string& learner) {
  if (const Transitions* t = std::get_if<Transitions>(&batch)) return *t;
  throw Error(learner + " learns from a dataset's transitions, not from rollouts of an environment");
}

void declare_learner_keys(SpecSchema& schema, const std::string& key, const std::string& what,
                          const std::vector<LearnerRegistration>& learners) {
  std::vector<std::string> names;
  std::string help = what + ":";
  for (const auto& l : learners) {
    names.push_back(l.name);
    help += " " + l.name + " (" + l.description + ")";
  }
  schema.add_string(key, names.front(), help, names);
  for (const auto& l : learners) l.declare_keys(schema);
}

const LearnerRegistration& find_learner(const std::vector<LearnerRegistration>& learners, const Spec& spec,
                                        const std::string& key) {
  const std::string& name = spec.get_string(key);
  for (const auto& l : learners)
    if (l.name == name) return l;
  throw InputError(key + " = '" + name + "': no such learner");
}

}  // namespace shardlab
