#!/usr/bin/python3
"""The Python peer of BM_PpoUpdate (bench/bench_ppo.cpp): the same PPO update, CleanRL-style, in
Debian's python3-torch (the same libtorch 1.13 kernels), so that shardlab's figure has a
like-for-like neighbour measured in the same run on the same machine.

Same network (IMPALA 16/32/32, hidden 256, 15 actions, channels-last), same rollout size (64 envs x
256 steps of 3x25x25 grids), same update (8 minibatches x 3 epochs, clipped surrogate and value
losses, entropy bonus, gradient-norm clip 0.5, Adam with eps 1e-5), one torch thread.

Run:  /usr/bin/python3 bench/ppo_update_peer.py [--updates N] [--threads T]
Prints one line: update samples per second (rollout rows x epochs / wall time of the updates).
Run it with and without the allocator settings of core/malloc_settings.cpp:
  GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864
"""
import argparse
import math
import time

import torch
from torch import nn


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv0 = nn.Conv2d(c, c, 3, padding=1)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class Stage(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.res0 = Residual(cout)
        self.res1 = Residual(cout)

    def forward(self, x):
        x = nn.functional.max_pool2d(self.conv(x), 3, 2, 1)
        return self.res1(self.res0(x))


class Agent(nn.Module):
    def __init__(self, side, widths=(16, 32, 32), hidden=256, actions=15):
        super().__init__()
        stages, cin, h = [], 3, side
        for w in widths:
            stages.append(Stage(cin, w))
            cin, h = w, (h + 1) // 2
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(cin * h * h, hidden)
        self.actor = nn.Linear(hidden, actions)
        self.critic = nn.Linear(hidden, 1)

    def forward(self, x):
        x = torch.relu(self.stages(x.contiguous(memory_format=torch.channels_last)))
        x = torch.relu(self.fc(torch.flatten(x, 1)))
        return self.actor(x), self.critic(x).squeeze(-1)


def update(agent, optimizer, b, minibatches, epochs, clip=0.2):
    n = b["obs"].shape[0]
    size = n // minibatches
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, size):
            idx = order[start:start + size]
            logits, value = agent(b["obs"][idx])
            dist = torch.distributions.Categorical(logits=logits)
            log_ratio = dist.log_prob(b["actions"][idx]) - b["logprobs"][idx]
            ratio = log_ratio.exp()
            adv = b["advantages"][idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
            old_v, ret = b["values"][idx], b["returns"][idx]
            v_clipped = old_v + (value - old_v).clamp(-clip, clip)
            v_loss = 0.5 * torch.max((value - ret) ** 2, (v_clipped - ret) ** 2).mean()
            loss = pg_loss - 0.01 * dist.entropy().mean() + 0.5 * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            optimizer.step()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--updates", type=int, default=2, help="timed updates (after one warm-up update)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--side", type=int, default=25)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    rows = a.envs * a.steps
    b = {
        "obs": (torch.rand(rows, 3, a.side, a.side) < 0.3).float(),
        "actions": torch.randint(15, (rows,)),
        "logprobs": torch.full((rows,), -math.log(15.0)),
        "advantages": torch.randn(rows),
        "values": torch.rand(rows),
        "returns": torch.rand(rows),
    }
    agent = Agent(a.side).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(agent.parameters(), lr=5e-4, eps=1e-5)
    update(agent, optimizer, b, 8, 3)  # warm-up
    start = time.perf_counter()
    for _ in range(a.updates):
        update(agent, optimizer, b, 8, 3)
    seconds = time.perf_counter() - start
    print(f"python peer: {rows * 3 * a.updates / seconds:.0f} update samples/s "
          f"({a.updates} updates of {rows} rows x 3 epochs in {seconds:.1f} s, {a.threads} thread(s))")


if __name__ == "__main__":
    main()
