// ATAC proper's continuous gradient step with its gradients written out by hand (atac.fused, the
// default): the arithmetic of AtacLearner::update's autograd path term by term, the same up to float
// rounding (tests/test_atac.cpp checks it), with less work around the matrix products:
// - no autograd graph: every backward product is one explicit GEMM into the gradient's own buffer,
//   the ReLU masks read from the kept activations, the losses' derivatives in closed form;
// - the actor's value head (unused offline) is never evaluated;
// - the work splits into halves that share no parameter slice: the actor at s' and at s, the twin
//   critics' heads (target forward, forward over the stacked (s, a), (s', a'), (s, a_pi) rows,
//   backward), and the actor's loss over two fixed halves of the batch (their weight gradients
//   added in a fixed order). With atac.threads = 2 the halves run side by side, each with one-thread
//   BLAS; with 1 they run in order. Either way the result is the same, bit for bit.
// The draws from the run's generator come in the autograd path's order (a' then a_pi).
//
// Closed forms (n rows, D = atac.entropy's divisor, c_b/c_p and c_q/c_h the weights normalized_sum
// gives the Bellman/pessimism and the Q/entropy terms):
//   critic head i, rows (s, a): c_b (2w (Q - y) + 2(1-w) (Q - y_i)) / n - c_p / n;
//     rows (s', a'): -c_b 2(1-w) (Q - y_i) gamma (1 - d) / n (0 where y_i is clipped);
//     rows (s, a_pi): c_p / n.
//   actor, u = mean + eps std, a = tanh(u), log pi = sum(-eps^2/2 - log std - log(2 pi)/2) - sum log(1 - a^2):
//     g_u = dL/da (1 - a^2) + k 2a with k = c_h / (n D), dL/da = -c_q / n dQ_2/da;
//     dL/dmean = g_u, dL/dlog_std = (g_u eps std - k) where the log-std clamp passes.
#include <torch/torch.h>

#include <cmath>
#include <exception>
#include <functional>
#include <future>

#include "agents/collective.h"
#include "agents/gradient_step.h"
#include "core/error.h"
#include "offline/atac.h"
#include "offline/step_worker.h"

namespace shardlab {
namespace {

const double kLogStdMin = std::log(1e-5);  // agents/actor_critic.cpp's tanh_gaussian clamp
const double kLogStdMax = std::log(10.0);
const double kHalfLog2Pi = 0.5 * std::log(2 * M_PI);

// finish_gradient_step (agents/gradient_step.h) without the optimizer's step: the ranks' average
// of the gradients and the stop on a non-finite loss.
void average_or_stop(const at::Tensor& loss, const LossParts& parts, torch::optim::Optimizer& optimizer,
                     const Collective& ranks) {
  std::vector<at::Tensor> parameters;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) parameters.push_back(p);
  if (!ranks.average_gradients(parameters, std::isfinite(loss.item<double>()))) {
    check_finite(loss, parts());
    throw NonFiniteLoss("non-finite loss on another rank");
  }
}

at::Tensor flat(const at::Tensor& obs) { return obs.reshape({obs.size(0), -1}); }

// The actor's fc_policy output (rows, 2 dim) before the log-std clamp; with `tape`, every layer's
// input. The products of ActorCritic::forward (Linear = addmm with the transposed weight).
at::Tensor actor_forward(const AtacFusedActor& actor, const at::Tensor& x, MlpTape* tape) {
  at::Tensor h = flat(x);
  if (tape) tape->inputs.clear();
  for (size_t l = 0; l < actor.weights.size(); ++l) {
    if (l > 0) h.relu_();
    if (tape) tape->inputs.push_back(h);
    h = torch::addmm(actor.biases[l], h, actor.weights[l].t());
  }
  return h;
}

// The gradients of the actor's layers for rows [begin, begin + rows) of `tape`, given d loss / d
// output for those rows.
void actor_backward(const AtacFusedActor& actor, const MlpTape& tape, int64_t begin, int64_t rows, at::Tensor g,
                    std::vector<at::Tensor>& dw, std::vector<at::Tensor>& db) {
  dw.assign(actor.weights.size(), at::Tensor());
  db.assign(actor.weights.size(), at::Tensor());
  for (size_t l = actor.weights.size(); l-- > 0;) {
    const at::Tensor x = tape.inputs[l].narrow(0, begin, rows);
    dw[l] = g.t().mm(x);
    db[l] = g.sum(0);
    if (l == 0) break;
    g = at::threshold_backward(g.mm(actor.weights[l]), x, 0);
  }
}

// The tanh-Gaussian sample of rsample_action (agents/actor_critic.cpp) with the given noise.
struct Squashed {
  at::Tensor log_std_raw, std, action, log_prob;  // log_prob: summed over dimensions
};

Squashed squash(const at::Tensor& out, const at::Tensor& noise, int64_t dim, bool with_log_prob) {
  Squashed s;
  const at::Tensor mean = out.narrow(1, 0, dim);
  s.log_std_raw = out.narrow(1, dim, dim);
  const at::Tensor log_std = s.log_std_raw.clamp(kLogStdMin, kLogStdMax);
  s.std = log_std.exp();
  const at::Tensor u = mean + noise * s.std;
  s.action = torch::tanh(u);
  if (with_log_prob) {
    const at::Tensor z = (u - mean) * (-log_std).exp();
    s.log_prob = (-0.5 * z.pow(2) - log_std - kHalfLog2Pi).sum(1) -
                 (2.0 * (std::log(2.0) - u - torch::softplus(-2.0 * u))).sum(1);
  }
  return s;
}

}  // namespace

AtacFusedActor fused_actor_of(ActorCriticImpl& net) {
  AtacFusedActor actor;
  for (const auto& p : net.named_parameters()) {
    const std::string& name = p.key();
    if (name.rfind("fc_value.", 0) == 0) continue;  // the value head: unused offline
    const bool weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    (weight ? actor.weights : actor.biases).push_back(p.value());
  }
  if (actor.weights.size() != actor.biases.size() || actor.weights.empty())
    throw Error("atac.fused: the actor is not an MLP of linear layers");
  return actor;
}

void AtacLearner::halves(const std::function<void()>& first, const std::function<void()>& second) {
  if (worker_) return worker_->side_by_side(first, second);
  first();
  second();
}

std::map<std::string, double> AtacLearner::fused_update(const Transitions& batch, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const int64_t n = batch.rewards.size(0), dim = action_spec_.dim, obs = flat(batch.observations).size(1);
  StackedMlpImpl& critic = *continuous_q->mlp;
  StackedMlpImpl& target = *continuous_q_target->mlp;
  critic.make_grads();
  // The draws in the autograd path's order: a' ~ pi(s'), then a_pi ~ pi(s).
  const at::Tensor noise_next = at::randn({n, dim}, gen), noise = at::randn({n, dim}, gen);

  // The actor at s' (no gradient needed) and at s (its layers' inputs kept).
  at::Tensor next_action;
  Squashed pi;
  MlpTape actor_tape;
  halves(
      [&] {
        next_action =
            squash(actor_forward(fused_actor_, batch.next_observations, nullptr), noise_next, dim, false).action;
      },
      [&] { pi = squash(actor_forward(fused_actor_, batch.observations, &actor_tape), noise, dim, true); });

  // 1. Critic: per head, the target at (s', a') and the forward over the stacked rows; then per
  // head its loss terms and backward.
  const at::Tensor x_next = torch::cat({flat(batch.next_observations), next_action}, 1);
  const at::Tensor x =
      torch::cat({torch::cat({flat(batch.observations), flat(batch.next_observations), flat(batch.observations)}, 0),
                  torch::cat({batch.actions, next_action, pi.action}, 0)},
                 1);
  at::Tensor q_target[2], q[2];
  MlpTape tapes[2];
  auto forward_head = [&](int64_t h) {
    MlpTape scratch;
    q_target[h] = target.forward_taped(h, x_next, scratch).squeeze(1);
    q[h] = critic.forward_taped(h, x, tapes[h]).squeeze(1);
  };
  halves([&] { forward_head(0); }, [&] { forward_head(1); });
  const at::Tensor discount = config_.gamma * (1.0 - batch.terminals);
  const at::Tensor y = clip(batch.rewards + discount * torch::min(q_target[0], q_target[1]));
  const double w = config_.target_bellman_weight, beta = config_.beta;
  const double c_b = beta > 1 ? 1.0 : beta, c_p = beta > 1 ? 1.0 / beta : 1.0;
  at::Tensor bellman[2], pessimism[2], loss[2];
  auto backward_head = [&](int64_t h) {
    const at::Tensor q_data = q[h].narrow(0, 0, n), q_next = q[h].narrow(0, n, n), q_pi = q[h].narrow(0, 2 * n, n);
    const at::Tensor backup = batch.rewards + discount * q_next;
    const at::Tensor td = q_data - y, residual = q_data - clip(backup);
    bellman[h] = w * td.pow(2).mean() + (1.0 - w) * residual.pow(2).mean();
    pessimism[h] = (q_pi - q_data).mean();
    loss[h] = normalized_sum(pessimism[h], bellman[h], beta);
    at::Tensor d_next = (-c_b * 2.0 * (1.0 - w) / n) * residual * discount;
    if (config_.clip_values) d_next = d_next * ((backup >= vmin_) & (backup <= vmax_));
    const at::Tensor dq = torch::cat({(c_b * 2.0 / n) * (w * td + (1.0 - w) * residual) - c_p / n, d_next,
                                      torch::full({n}, c_p / n, q_data.options())});
    critic.backward_taped(h, tapes[h], dq.unsqueeze(1), /*weight_grads=*/true, /*input_grad=*/false);
  };
  halves([&] { backward_head(0); }, [&] { backward_head(1); });
  AtacCriticLoss critic_terms;
  critic_terms.loss = loss[0] + loss[1];
  critic_terms.bellman = torch::stack({bellman[0], bellman[1]});
  critic_terms.pessimism = torch::stack({pessimism[0], pessimism[1]});
  critic_terms.q_data = torch::stack({q[0].narrow(0, 0, n), q[1].narrow(0, 0, n)});
  average_or_stop(
      critic_terms.loss,
      [&] {
        return std::map<std::string, double>{{"critic_loss", critic_terms.loss.item<double>()}};
      },
      *critic_optimizer_, ranks_);

  // Adam, the norm projection (after the step) and 2. the target's Polyak step, per head.
  const std::vector<AdamPart> critic_adam = prepare_adam_step(*critic_optimizer_);
  auto finish_head = [&](int64_t h) {
    for (const AdamPart& part : critic_adam) apply_adam_step(part, h, 1);
    if (config_.norm_constraint > 0)
      for (const at::Tensor& weight : critic.weights)
        project_weight_norms({weight.narrow(0, h, 1)}, config_.norm_constraint);
    for (size_t l = 0; l < critic.weights.size(); ++l) {
      target.weights[l][h].lerp_(critic.weights[l][h], config_.tau);
      target.biases[l][h].lerp_(critic.biases[l][h], config_.tau);
    }
  };
  halves([&] { finish_head(0); }, [&] { finish_head(1); });

  // 3. Temperature (a scalar: autograd is cheap here).
  const at::Tensor entropy = -pi.log_prob.mean() / density_dims_;
  at::Tensor alpha_loss;
  {
    torch::AutoGradMode enable(true);
    alpha_loss = (log_alpha * (entropy - target_entropy_)).sum();
    gradient_step(
        alpha_loss,
        [&] {
          return std::map<std::string, double>{{"alpha_loss", alpha_loss.item<double>()}};
        },
        *alpha_optimizer_, ranks_);
  }
  const double alpha = log_alpha.exp().item<double>();

  // 4. Actor: normalized_sum(-mean Q_2(s, a_pi), -entropy, alpha) through the updated second head,
  // over two fixed halves of the batch.
  const double c_q = alpha > 1 ? 1.0 / alpha : 1.0, c_h = alpha > 1 ? 1.0 : alpha;
  const double k = c_h / (n * density_dims_);
  const at::Tensor x_pi = torch::cat({flat(batch.observations), pi.action}, 1);
  const int64_t half = n / 2;
  at::Tensor q_policy[2];
  std::vector<at::Tensor> dw[2], db[2];
  auto actor_half = [&](int part) {
    const int64_t begin = part == 0 ? 0 : half, rows = part == 0 ? half : n - half;
    MlpTape tape;
    q_policy[part] = critic.forward_taped(1, x_pi.narrow(0, begin, rows), tape);
    const at::Tensor dq = torch::full({rows, 1}, -c_q / n, x_pi.options());
    const at::Tensor da = critic.backward_taped(1, tape, dq, false, true).narrow(1, obs, dim);
    const at::Tensor a = pi.action.narrow(0, begin, rows), eps = noise.narrow(0, begin, rows);
    const at::Tensor g_u = da * (1.0 - a * a) + (2.0 * k) * a;
    const at::Tensor raw = pi.log_std_raw.narrow(0, begin, rows);
    const at::Tensor passes = (raw >= kLogStdMin) & (raw <= kLogStdMax);
    const at::Tensor g_log_std = (g_u * eps * pi.std.narrow(0, begin, rows) - k) * passes;
    actor_backward(fused_actor_, actor_tape, begin, rows, torch::cat({g_u, g_log_std}, 1), dw[part], db[part]);
  };
  halves([&] { actor_half(0); }, [&] { actor_half(1); });
  for (size_t l = 0; l < fused_actor_.weights.size(); ++l) {
    fused_actor_.weights[l].mutable_grad() = dw[0][l] + dw[1][l];
    fused_actor_.biases[l].mutable_grad() = db[0][l] + db[1][l];
  }
  const at::Tensor lower_bound = torch::cat({q_policy[0], q_policy[1]}).mean();
  const at::Tensor actor_loss = normalized_sum(-lower_bound, -entropy, alpha);
  average_or_stop(
      actor_loss,
      [&] {
        return std::map<std::string, double>{{"actor_loss", actor_loss.item<double>()}};
      },
      *actor_optimizer_, ranks_);
  // Adam over the actor's layers, in two groups of about equal size.
  const std::vector<AdamPart> actor_adam = prepare_adam_step(*actor_optimizer_);
  int64_t total = 0, first_group = 0;
  for (const AdamPart& part : actor_adam) total += part.param.numel();
  for (int64_t sum = 0; first_group < static_cast<int64_t>(actor_adam.size()) && 2 * sum < total; ++first_group)
    sum += actor_adam[first_group].param.numel();
  auto actor_adam_group = [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < to; ++i) apply_adam_step(actor_adam[i], 0, actor_adam[i].param.size(0));
  };
  halves([&] { actor_adam_group(0, first_group); },
         [&] { actor_adam_group(first_group, static_cast<int64_t>(actor_adam.size())); });
  return step_metrics(critic_terms, actor_loss, entropy, alpha_loss, lower_bound, alpha, false);
}

}  // namespace shardlab
