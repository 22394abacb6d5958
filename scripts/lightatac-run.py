#!/usr/bin/python3
"""Runs microsoft/lightATAC's own ATAC (and, with --warmup-steps, its BehaviorPretraining) on a
shardlab experience file, outside shardlab, as lightATAC's main.py does, and writes the learning
curve as CSV: one row per --log-every updates, each metric averaged over the row's updates (as
`shardlab offline` averages its metrics.csv rows).

  /usr/bin/python3 scripts/lightatac-run.py --repo /tmp/lightatac --dataset LL.h5 --seed 0 \
      --steps 2000 --beta 1 --actor-lr 5e-5 --csv out.csv

--repo is lightATAC's source tree (git archive of github.com/microsoft/lightATAC). Only its
lightATAC/ package is imported; main.py (gym, d4rl) is not. Its util.py imports torchaudio and
scipy at module level for a function ATAC never calls: they are stubbed when absent.

Columns: step, q_data = mean over both heads and the batch of Q_i(s, a) (qf1/qf2_pred_mean),
q_policy = mean Q_2(s, a_pi) after the critic step (lower_bound, the actor's objective),
entropy = lightATAC's estimate -mean log pi(a_pi|s) (policy_entropy), alpha (after its step).
With --time, prints the ATAC updates/s (steps after the first 20) on stdout.
"""
import argparse
import copy
import csv
import sys
import time
import types

import h5py
import numpy as np
import torch


def stub_missing(name, attrs):
    try:
        __import__(name)
    except ImportError:
        module = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(module, key, value)
        sys.modules[name] = module


def import_lightatac(repo):
    stub_missing("torchaudio", {})
    stub_missing("scipy", {})
    if "scipy.signal" not in sys.modules:
        try:
            import scipy.signal  # noqa: F401
        except ImportError:
            sys.modules["scipy"].signal = types.ModuleType("scipy.signal")
            sys.modules["scipy.signal"] = sys.modules["scipy"].signal
    stub_missing("tqdm", {"trange": lambda n, disable=False: range(n)})
    sys.path.insert(0, repo)
    from lightATAC import atac, bp, policy, util, value_functions
    return atac, bp, policy, util, value_functions


def load_dataset(path):
    with h5py.File(path, "r") as f:
        data = {
            "observations": np.asarray(f["observations"], dtype=np.float32),
            "actions": np.asarray(f["actions"], dtype=np.float32),
            "next_observations": np.asarray(f["next_observations"], dtype=np.float32),
            "rewards": np.asarray(f["rewards"], dtype=np.float32).reshape(-1),
            "terminals": np.asarray(f["terminals"]).astype(np.float32).reshape(-1),
            "timeouts": np.asarray(f["timeouts"]).astype(np.float32).reshape(-1),
        }
    return data


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--actor-lr", type=float, default=5e-7)
    p.add_argument("--critic-lr", type=float, default=5e-4)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--csv")
    p.add_argument("--time", action="store_true")
    args = p.parse_args()

    atac, bp, policy_module, util, value_functions = import_lightatac(args.repo)
    # As lightATAC's main.py: one torch thread, the seed, the networks, the action clip, ATAC
    # constructed (and its target copied) before the warm start.
    torch.set_num_threads(args.threads)
    util.set_seed(args.seed)
    dataset = load_dataset(args.dataset)
    obs_dim, act_dim = dataset["observations"].shape[1], dataset["actions"].shape[1]
    qf = value_functions.TwinQ(obs_dim, act_dim, hidden_dim=args.hidden, n_hidden=args.layers)
    target_qf = copy.deepcopy(qf).requires_grad_(False)
    policy = policy_module.GaussianPolicy(obs_dim, act_dim, hidden_dim=args.hidden, n_hidden=args.layers,
                                          use_tanh=True, std_type="diagonal")
    dataset["actions"] = np.clip(dataset["actions"], -1 + 1e-6, 1 - 1e-6)
    rl = atac.ATAC(policy=policy, qf=qf, optimizer=torch.optim.Adam, discount=0.99, action_shape=act_dim,
                   buffer_batch_size=args.batch, policy_lr=args.actor_lr, qf_lr=args.critic_lr, beta=args.beta)
    if args.warmup_steps > 0:
        pretraining = bp.BehaviorPretraining(qf=qf, target_qf=target_qf, policy=policy, lr=args.critic_lr,
                                             discount=0.99, td_weight=0.5, rs_weight=0.5, fixed_alpha=None,
                                             action_shape=act_dim)
        dataset = pretraining.train(dataset, args.warmup_steps, silence=True)

    names = ("q_data", "q_policy", "entropy", "alpha")
    sums = dict.fromkeys(names, 0.0)
    rows, count = [], 0
    start = None
    for step in range(1, args.steps + 1):
        if step == 21:
            start = time.perf_counter()
        m = rl.update(**util.sample_batch(dataset, args.batch))
        values = {"q_data": 0.5 * (m["qf1_pred_mean"] + m["qf2_pred_mean"]), "q_policy": m["lower_bound"],
                  "entropy": m["policy_entropy"], "alpha": m["alpha"]}
        for k in names:
            sums[k] += values[k]
        count += 1
        if step % args.log_every == 0:
            rows.append({"step": step, **{k: sums[k] / count for k in names}})
            sums, count = dict.fromkeys(names, 0.0), 0
    if args.time and args.steps > 20:
        print(f"{(args.steps - 20) / (time.perf_counter() - start):.2f} updates/s")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, ["step", *names])
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
