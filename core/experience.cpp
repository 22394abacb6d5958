#include "core/experience.h"

#include "core/error.h"

namespace shardlab {

void Experience::clear() {
  observations.clear();
  next_observations.clear();
  discrete_actions.clear();
  continuous_actions.clear();
  rewards.clear();
  terminals.clear();
  timeouts.clear();
  for (auto& [name, column] : infos) column.clear();
}

void Experience::append(const Experience& other, size_t begin, size_t end) {
  const auto n = static_cast<size_t>(obs_size());
  const auto dim = static_cast<size_t>(action_spec.dim);
  auto rows = [](const auto& src, auto& dst, size_t b, size_t e, size_t width) {
    dst.insert(dst.end(), src.begin() + b * width, src.begin() + e * width);
  };
  rows(other.observations, observations, begin, end, n);
  if (other.has_next_observations()) rows(other.next_observations, next_observations, begin, end, n);
  if (action_spec.discrete)
    rows(other.discrete_actions, discrete_actions, begin, end, 1);
  else
    rows(other.continuous_actions, continuous_actions, begin, end, dim);
  rows(other.rewards, rewards, begin, end, 1);
  rows(other.terminals, terminals, begin, end, 1);
  rows(other.timeouts, timeouts, begin, end, 1);
  for (const auto& [name, column] : other.infos) rows(column, infos[name], begin, end, 1);
}

void Experience::check_consistent() const {
  const size_t n = size();
  auto expect = [n](size_t got, size_t width, const char* what) {
    if (got != n * width)
      throw Error(std::string("experience column '") + what + "' has " + std::to_string(got) + " values, expected " +
                  std::to_string(n * width));
  };
  expect(observations.size(), static_cast<size_t>(obs_size()), "observations");
  if (has_next_observations()) expect(next_observations.size(), static_cast<size_t>(obs_size()), "next_observations");
  if (action_spec.discrete)
    expect(discrete_actions.size(), 1, "actions");
  else
    expect(continuous_actions.size(), static_cast<size_t>(action_spec.dim), "actions");
  expect(terminals.size(), 1, "terminals");
  expect(timeouts.size(), 1, "timeouts");
  for (const auto& [name, column] : infos) expect(column.size(), 1, ("infos/" + name).c_str());
}

}  // namespace shardlab
