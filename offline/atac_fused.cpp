// ATAC proper's continuous gradient step with its gradients written out by hand (atac.fused, the
// default): the arithmetic of AtacLearner::update's autograd path term by term, the same up to float
// rounding (tests/test_atac.cpp checks it), with less work around the same matrix products:
// - no autograd graph: every backward product is one explicit GEMM into the gradient's own buffer;
//   the ReLU masks are read from the kept activations, in one pass that also sums the bias
//   gradients; the losses' derivatives are closed forms, each head's in one pass over its rows;
// - Adam, the norm projection and the target's Polyak step are one or two passes over each
//   parameter slice (offline/step_worker.h) instead of a dozen tensor operations each;
// - the actor's value head (unused offline) is never evaluated;
// - the work splits into halves that share no parameter slice: the actor at s' and at s, the twin
//   critics' heads (target forward, forward over the stacked (s, a), (s', a'), (s, a_pi) rows,
//   backward, Adam, projection, Polyak), the actor's loss over two fixed halves of the batch (their
//   weight gradients added in a fixed order) and its Adam over two groups of layers. With two
//   threads (atac.threads) the halves run side by side, each with one-thread BLAS; with one they
//   run in order. Either way the result is the same, bit for bit.
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

#include <algorithm>
#include <cmath>
#include <functional>

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
// input. The products of ActorCritic::forward (Linear: x W^T + b), the bias and ReLU in one pass.
at::Tensor actor_forward(const AtacFusedActor& actor, const at::Tensor& x, MlpTape* tape) {
  at::Tensor h = flat(x);
  if (tape) tape->inputs.clear();
  for (size_t l = 0; l < actor.weights.size(); ++l) {
    if (tape) tape->inputs.push_back(h);
    h = h.mm(actor.weights[l].t());
    add_bias_(h, actor.biases[l], /*relu=*/l + 1 < actor.weights.size());
  }
  return h;
}

// The gradients of the actor's layers for rows [begin, begin + rows) of `tape`, given d loss / d
// output for those rows (the hidden layers' bias gradients summed in the ReLU masking pass).
void actor_backward(const AtacFusedActor& actor, const MlpTape& tape, int64_t begin, int64_t rows, at::Tensor g,
                    std::vector<at::Tensor>& dw, std::vector<at::Tensor>& db) {
  const size_t layers = actor.weights.size();
  dw.assign(layers, at::Tensor());
  db.assign(layers, at::Tensor());
  db[layers - 1] = g.sum(0);
  for (size_t l = layers; l-- > 0;) {
    const at::Tensor x = tape.inputs[l].narrow(0, begin, rows);
    dw[l] = g.t().mm(x);
    if (l == 0) break;
    g = g.mm(actor.weights[l]);
    db[l - 1] = at::empty({g.size(1)}, g.options());
    relu_backward_(g, x, db[l - 1].data_ptr<float>());
  }
}

// One critic head's loss terms and d loss / d Q over its stacked rows (the closed forms above) in
// one pass: q (3n) = Q(s, a), Q(s', a'), Q(s, a_pi); y the target backup (n).
struct HeadTerms {
  double bellman = 0, pessimism = 0;
  at::Tensor dq;  // (3n, 1)
};

HeadTerms head_terms(const at::Tensor& q, const at::Tensor& y, const at::Tensor& rewards, const at::Tensor& discount,
                     const AtacConfig& config, double vmin, double vmax) {
  const int64_t n = y.size(0);
  const double w = config.target_bellman_weight, beta = config.beta;
  const double c_b = beta > 1 ? 1.0 : beta, c_p = beta > 1 ? 1.0 / beta : 1.0;
  const float data_td = static_cast<float>(c_b * 2.0 * w / n),
              data_residual = static_cast<float>(c_b * 2.0 * (1 - w) / n);
  const float pess = static_cast<float>(c_p / n), next_residual = static_cast<float>(-c_b * 2.0 * (1.0 - w) / n);
  const float lo = static_cast<float>(vmin), hi = static_cast<float>(vmax);
  const at::Tensor qc = q.contiguous(), yc = y.contiguous(), rc = rewards.contiguous(), dc = discount.contiguous();
  const float *qp = qc.data_ptr<float>(), *yp = yc.data_ptr<float>(), *r = rc.data_ptr<float>();
  const float* d = dc.data_ptr<float>();
  HeadTerms out;
  out.dq = at::empty({3 * n, 1}, q.options());
  float* dq = out.dq.data_ptr<float>();
  double td_squares = 0, residual_squares = 0, pessimism = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float q_data = qp[j], q_next = qp[n + j], q_pi = qp[2 * n + j];
    const float backup = r[j] + d[j] * q_next;
    const bool clipped = config.clip_values && (backup < lo || backup > hi);
    const float td = q_data - yp[j], residual = q_data - (clipped ? std::min(std::max(backup, lo), hi) : backup);
    td_squares += static_cast<double>(td) * td;
    residual_squares += static_cast<double>(residual) * residual;
    pessimism += static_cast<double>(q_pi) - q_data;
    dq[j] = data_td * td + data_residual * residual - pess;
    dq[n + j] = clipped ? 0.0f : next_residual * residual * d[j];
    dq[2 * n + j] = pess;
  }
  out.bellman = (w * td_squares + (1 - w) * residual_squares) / n;
  out.pessimism = pessimism / n;
  return out;
}

// The tanh-Gaussian sample of rsample_action (agents/actor_critic.cpp) with the given noise.
AtacFusedSample squash(const at::Tensor& out, const at::Tensor& noise, int64_t dim, bool with_log_prob) {
  AtacFusedSample s;
  s.noise = noise;
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

// d loss / d (fc_policy's output) for rows [begin, begin + rows), given d loss / d a for them (the
// closed forms above): (g_u, g_log_std) side by side, (rows, 2 dim).
at::Tensor policy_output_grad(const at::Tensor& da, const AtacFusedSample& pi, int64_t begin, int64_t rows, double k) {
  const int64_t dim = da.size(1);
  at::Tensor g = at::empty({rows, 2 * dim}, da.options());
  const auto d = da.accessor<float, 2>(), a = pi.action.accessor<float, 2>(), eps = pi.noise.accessor<float, 2>();
  const auto sd = pi.std.accessor<float, 2>(), raw = pi.log_std_raw.accessor<float, 2>();
  auto out = g.accessor<float, 2>();
  const float k2 = static_cast<float>(2 * k), kf = static_cast<float>(k);
  const float lo = static_cast<float>(kLogStdMin), hi = static_cast<float>(kLogStdMax);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dim; ++c) {
      const int64_t i = begin + r;
      const float g_u = d[r][c] * (1.0f - a[i][c] * a[i][c]) + k2 * a[i][c];
      out[r][c] = g_u;
      out[r][dim + c] = (raw[i][c] >= lo && raw[i][c] <= hi) ? g_u * eps[i][c] * sd[i][c] - kf : 0.0f;
    }
  return g;
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
  const int64_t n = batch.rewards.size(0), dim = action_spec_.dim;
  // The draws in the autograd path's order: a' ~ pi(s'), then a_pi ~ pi(s).
  const at::Tensor noise_next = at::randn({n, dim}, gen), noise = at::randn({n, dim}, gen);
  // The actor at s' (no gradient needed) and at s (its layers' inputs kept).
  at::Tensor next_action;
  AtacFusedSample pi;
  halves(
      [&] {
        next_action =
            squash(actor_forward(fused_actor_, batch.next_observations, nullptr), noise_next, dim, false).action;
      },
      [&] {
        MlpTape tape;
        const at::Tensor out = actor_forward(fused_actor_, batch.observations, &tape);
        pi = squash(out, noise, dim, true);
        pi.tape = std::move(tape);
      });

  // 1-2. Critic, its projection and the target's Polyak step.
  const AtacCriticLoss critic = fused_critic_step(batch, next_action, pi.action);

  // 3. Temperature: d/d log_alpha of log_alpha (entropy - target) is (entropy - target).
  const at::Tensor entropy = -pi.log_prob.mean() / density_dims_;
  const at::Tensor excess = entropy - target_entropy_;
  const at::Tensor alpha_loss = (log_alpha.detach() * excess).sum();
  log_alpha.mutable_grad() = excess.reshape({1});
  average_or_stop(
      alpha_loss,
      [&] {
        return std::map<std::string, double>{{"alpha_loss", alpha_loss.item<double>()}};
      },
      *alpha_optimizer_, ranks_);
  for (const AdamPart& part : prepare_adam_step(*alpha_optimizer_)) apply_adam_step(part, 0, 1);
  const double alpha = log_alpha.exp().item<double>();

  // 4. Actor.
  at::Tensor lower_bound;
  const at::Tensor actor_loss = fused_actor_step(batch, pi, entropy, alpha, &lower_bound);
  return step_metrics(critic, actor_loss, entropy, alpha_loss, lower_bound, alpha, false);
}

AtacCriticLoss AtacLearner::fused_critic_step(const Transitions& batch, const at::Tensor& next_action,
                                              const at::Tensor& policy_action) {
  const int64_t n = batch.rewards.size(0);
  StackedMlpImpl& critic = *continuous_q->mlp;
  StackedMlpImpl& target = *continuous_q_target->mlp;
  critic.make_grads();
  // Per head: the target at (s', a') and the forward over the stacked rows; then per head its loss
  // terms and backward.
  const at::Tensor x_next = torch::cat({flat(batch.next_observations), next_action}, 1);
  const at::Tensor x =
      torch::cat({torch::cat({flat(batch.observations), flat(batch.next_observations), flat(batch.observations)}, 0),
                  torch::cat({batch.actions, next_action, policy_action}, 0)},
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
  HeadTerms terms[2];
  auto backward_head = [&](int64_t h) {
    terms[h] = head_terms(q[h], y, batch.rewards, discount, config_, vmin_, vmax_);
    critic.backward_taped(h, tapes[h], terms[h].dq, /*weight_grads=*/true, /*input_grad=*/false);
  };
  halves([&] { backward_head(0); }, [&] { backward_head(1); });
  AtacCriticLoss out;
  const double beta = config_.beta;
  auto loss_of = [&](const HeadTerms& t) {
    return beta > 1 ? t.pessimism / beta + t.bellman : t.pessimism + beta * t.bellman;
  };
  out.loss = torch::tensor(static_cast<float>(loss_of(terms[0]) + loss_of(terms[1])));
  out.bellman = torch::tensor({static_cast<float>(terms[0].bellman), static_cast<float>(terms[1].bellman)});
  out.pessimism = torch::tensor({static_cast<float>(terms[0].pessimism), static_cast<float>(terms[1].pessimism)});
  out.q_data = torch::stack({q[0].narrow(0, 0, n), q[1].narrow(0, 0, n)});
  average_or_stop(
      out.loss,
      [&] {
        return std::map<std::string, double>{{"critic_loss", out.loss.item<double>()}};
      },
      *critic_optimizer_, ranks_);

  // Per head: Adam, the weight matrices' norm projection, the target's Polyak step.
  const std::vector<AdamPart> adam = prepare_adam_step(*critic_optimizer_);
  const std::vector<at::Tensor> params = continuous_q->parameters(), targets = continuous_q_target->parameters();
  std::vector<const at::Tensor*> target_of(adam.size());
  std::vector<double> max_norm(adam.size(), 0.0);
  for (size_t a = 0; a < adam.size(); ++a)
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].is_same(adam[a].param)) {
        target_of[a] = &targets[i];
        for (const at::Tensor& weight : critic.weights)
          if (weight.is_same(params[i])) max_norm[a] = config_.norm_constraint;
      }
  auto finish_head = [&](int64_t h) {
    for (size_t a = 0; a < adam.size(); ++a) apply_adam_step(adam[a], h, 1, max_norm[a], target_of[a], config_.tau);
  };
  halves([&] { finish_head(0); }, [&] { finish_head(1); });
  return out;
}

at::Tensor AtacLearner::fused_actor_step(const Transitions& batch, const AtacFusedSample& pi, const at::Tensor& entropy,
                                         double alpha, at::Tensor* lower_bound) {
  // normalized_sum(-mean Q_2(s, a_pi), -entropy, alpha) through the updated second head, over two
  // fixed halves of the batch.
  StackedMlpImpl& critic = *continuous_q->mlp;
  const int64_t n = batch.rewards.size(0), dim = action_spec_.dim, obs = flat(batch.observations).size(1);
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
    actor_backward(fused_actor_, pi.tape, begin, rows, policy_output_grad(da, pi, begin, rows, k), dw[part], db[part]);
  };
  halves([&] { actor_half(0); }, [&] { actor_half(1); });
  for (size_t l = 0; l < fused_actor_.weights.size(); ++l) {
    fused_actor_.weights[l].mutable_grad() = dw[0][l] + dw[1][l];
    fused_actor_.biases[l].mutable_grad() = db[0][l] + db[1][l];
  }
  *lower_bound = torch::cat({q_policy[0], q_policy[1]}).mean();
  const at::Tensor actor_loss = normalized_sum(-*lower_bound, -entropy, alpha);
  average_or_stop(
      actor_loss,
      [&] {
        return std::map<std::string, double>{{"actor_loss", actor_loss.item<double>()}};
      },
      *actor_optimizer_, ranks_);
  // Adam over the actor's layers, in two groups of about equal size.
  const std::vector<AdamPart> adam = prepare_adam_step(*actor_optimizer_);
  int64_t total = 0, first_group = 0;
  for (const AdamPart& part : adam) total += part.param.numel();
  for (int64_t sum = 0; first_group < static_cast<int64_t>(adam.size()) && 2 * sum < total; ++first_group)
    sum += adam[first_group].param.numel();
  auto adam_group = [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < to; ++i) apply_adam_step(adam[i], 0, adam[i].param.size(0));
  };
  halves([&] { adam_group(0, first_group); }, [&] { adam_group(first_group, static_cast<int64_t>(adam.size())); });
  return actor_loss;
}

}  // namespace shardlab
