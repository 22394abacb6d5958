#!/usr/bin/python3
"""lightATAC's own ATAC.update started from a shardlab run's untrained weights and batch generator,
fed the batch indices and normal draws shardlab drew from that generator (in its order: the batch's
rows, then a' ~ pi(s'), then a_pi ~ pi(s)), and its weights compared with the run's milestones:
the two implementations compute the same step when the difference stays at float rounding (the
size of shardlab's own fused-against-autograd difference, printed with --autograd-run).

  shardlab offline --out RUNS --set run.name=x --set run.seed=0 --set run.threads=1 \\
      --set run.milestone_every=10 --set offline.steps=20 --set offline.log_every=10 ... (the
      side-by-side's settings, docs/offline-atac.md)
  /usr/bin/python3 scripts/atac-step-check.py --repo /tmp/lightatac --dataset LL.h5 --run RUNS/x \\
      [--autograd-run RUNS2/x] --steps 10 20

The run's dataset must be the one given (batch rows index it); the sizes are the reference's
(3 x 256 actor and critics); beta and the step sizes are read from the run's spec.ini.
"""
import argparse
import configparser
import importlib.util
import io
import os

import numpy as np
import torch

ACTOR = ["embedder.fc1", "embedder.fc2", "embedder.fc3", "fc_policy"]
LINEAR = [0, 2, 4, 6]  # lightATAC's mlp: Linear, ReLU, Linear, ReLU, ...


def load_checkpoint(path):
    """A shardlab checkpoint's tensors by name (its two-line header, then a libtorch archive)."""
    raw = open(path, "rb").read()
    start = raw.index(b"\n", raw.index(b"\n") + 1) + 1
    return {k: v.detach() for k, v in torch.jit.load(io.BytesIO(raw[start:])).named_parameters()}


def milestone(run, step):
    return load_checkpoint(os.path.join(run, "milestones", f"step_{step:011d}.pt"))


def copy_actor(policy, ck):
    with torch.no_grad():
        for name, layer in zip(ACTOR, LINEAR):
            policy.net[layer].weight.copy_(ck[f"model.{name}.weight"])
            policy.net[layer].bias.copy_(ck[f"model.{name}.bias"])


def copy_critic(twin, ck, prefix):
    """shardlab stacks the twins: weight{l} (2, in, out), bias{l} (2, 1, out)."""
    with torch.no_grad():
        for head, q in enumerate([twin.q1, twin.q2]):
            for l, layer in enumerate(LINEAR):
                q[layer].weight.copy_(ck[f"{prefix}.mlp.weight{l}"][head].t())
                q[layer].bias.copy_(ck[f"{prefix}.mlp.bias{l}"][head].reshape(-1))


def differences(policy, qf, target, log_alpha, ck):
    """Largest ||lightATAC - shardlab|| / ||shardlab|| over each group's tensors."""
    def rel(a, b):
        return ((a - b).norm() / b.norm()).item()
    out = {"actor": max(max(rel(policy.net[l].weight, ck[f"model.{n}.weight"]), rel(policy.net[l].bias, ck[f"model.{n}.bias"]))
                        for n, l in zip(ACTOR, LINEAR))}
    for prefix, twin in (("critic", qf), ("critic_target", target)):
        out[prefix] = max(max(rel(q[layer].weight, ck[f"{prefix}.mlp.weight{l}"][h].t()),
                              rel(q[layer].bias, ck[f"{prefix}.mlp.bias{l}"][h].reshape(-1)))
                          for h, q in enumerate([twin.q1, twin.q2]) for l, layer in enumerate(LINEAR))
    out["log_alpha"] = abs(log_alpha - ck["temperature.log_alpha"].item())
    return out


def shardlab_differences(a, b):
    """The same figures between two shardlab runs' checkpoints (fused against autograd)."""
    groups = {"actor": "model.", "critic": "critic.", "critic_target": "critic_target."}
    out = {}
    for group, prefix in groups.items():
        out[group] = max(((a[k] - b[k]).norm() / b[k].norm()).item() for k in b
                         if k.startswith(prefix) and "fc_value" not in k)
    out["log_alpha"] = abs(a["temperature.log_alpha"].item() - b["temperature.log_alpha"].item())
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--autograd-run")
    p.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    args = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("lightatac_run", os.path.join(here, "lightatac-run.py"))
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    atac, _, policy_module, _, value_functions = runner.import_lightatac(args.repo)
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(args.run, "spec.ini"))
    torch.set_num_threads(1)

    data = runner.load_dataset(args.dataset)
    data["actions"] = np.clip(data["actions"], -1 + 1e-6, 1 - 1e-6)  # as main.py
    obs_dim, act_dim = data["observations"].shape[1], data["actions"].shape[1]
    rows = {k: torch.from_numpy(v) for k, v in data.items()}
    start = milestone(args.run, 0)
    qf = value_functions.TwinQ(obs_dim, act_dim, hidden_dim=256, n_hidden=3)
    policy = policy_module.GaussianPolicy(obs_dim, act_dim, hidden_dim=256, n_hidden=3, use_tanh=True,
                                          std_type="diagonal")
    copy_actor(policy, start)
    copy_critic(qf, start, "critic")
    rl = atac.ATAC(policy=policy, qf=qf, optimizer=torch.optim.Adam, discount=float(cfg["atac"]["gamma"]),
                   action_shape=act_dim, policy_lr=float(cfg["atac"]["actor_lr"]),
                   qf_lr=float(cfg["atac"]["critic_lr"]), beta=float(cfg["atac"]["beta"]))
    copy_critic(rl._target_qf, start, "critic_target")

    # shardlab's generator, and lightATAC's Normal drawing from it (rsample = loc + eps scale).
    gen = torch.Generator()
    gen.set_state(start["batch_generator"].to(torch.uint8))

    def rsample(self, sample_shape=torch.Size()):
        return self.loc + torch.randn(self._extended_shape(sample_shape), generator=gen) * self.scale

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return rsample(self, sample_shape)

    torch.distributions.Normal.rsample = rsample
    torch.distributions.Normal.sample = sample
    batch_size = int(cfg["offline"]["batch_size"])
    n = len(data["observations"])
    print("largest relative weight difference per group (log_alpha: absolute)")
    for step in range(1, max(args.steps) + 1):
        pick = torch.randint(n, (batch_size,), generator=gen)
        rl.update(**{k: v[pick] for k, v in rows.items()})
        if step in args.steps:
            ck = milestone(args.run, step)
            d = differences(policy, qf, rl._target_qf, rl._log_alpha.item(), ck)
            moved = max(((ck[k] - start[k]).norm() / start[k].norm()).item() for k in ck
                        if k.startswith("critic.") or (k.startswith("model.") and "fc_value" not in k))
            line = " ".join(f"{k} {v:.2e}" for k, v in d.items())
            print(f"step {step}: lightATAC - shardlab: {line} (largest move since step 0: {moved:.2e})")
            if args.autograd_run:
                s = shardlab_differences(ck, milestone(args.autograd_run, step))
                print(f"step {step}: shardlab fused - autograd: " + " ".join(f"{k} {v:.2e}" for k, v in s.items()))


if __name__ == "__main__":
    main()
