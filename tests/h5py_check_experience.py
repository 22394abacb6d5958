"""Checks a maze experience file written by `shardlab collect`, the way a D4RL/h5py user reads it.

usage: h5py_check_experience.py FILE.h5 EXPECTED_ROWS
Exits non-zero with a message on the first inconsistency; prints OK and the episode count.
"""
import sys

import h5py
import numpy as np


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


path, expected = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "r") as f:
    for key in ("observations", "actions", "rewards", "terminals", "timeouts"):
        if key not in f:
            fail("missing dataset " + key)
    obs = f["observations"][:]
    actions = f["actions"][:]
    rewards = f["rewards"][:]
    terminals = f["terminals"][:]
    timeouts = f["timeouts"][:]
    seeds = f["infos/level_seed"][:]
    meta = dict(f["metadata"].attrs)

if obs.dtype != np.float32 or obs.shape[1:] != (3, 25, 25):
    fail("observations %s %s" % (obs.dtype, obs.shape))
if actions.dtype != np.int64 or actions.ndim != 1:
    fail("actions %s %s" % (actions.dtype, actions.shape))
if rewards.dtype != np.float32 or terminals.dtype != np.bool_ or timeouts.dtype != np.bool_:
    fail("dtypes %s %s %s" % (rewards.dtype, terminals.dtype, timeouts.dtype))
n = len(rewards)
if not (n == expected == len(obs) == len(actions) == len(terminals) == len(timeouts) == len(seeds)):
    fail("row counts differ: %d rewards, %d expected" % (n, expected))
for key in ("spec", "seed", "policy", "shardlab_version", "env_name"):
    if key not in meta:
        fail("metadata attribute %s missing" % key)
if not (timeouts[-1] or terminals[-1]):
    fail("the last row does not end an episode")
if np.any(terminals & timeouts):
    fail("a row is both terminal and timeout")
if not np.array_equal(terminals, rewards == 10.0) or np.any((rewards != 0) & (rewards != 10)):
    fail("rewards are not 10 exactly at terminals and 0 elsewhere")

ends = np.flatnonzero(terminals | timeouts)
start = 0
for end in ends:
    ep = slice(start, end + 1)
    if len(set(seeds[ep].tolist())) != 1:
        fail("level seed changes inside the episode at rows %d..%d" % (start, end))
    if end + 1 - start > 500:
        fail("episode longer than 500 steps at row %d" % start)
    walls = obs[start, 0]
    rows, cols = np.nonzero(walls == 0)
    mouse = np.argwhere(obs[start, 2] == 1)
    if mouse.tolist() != [[rows.max(), cols.min()]]:
        fail("episode at row %d does not start on the maze's bottom-left cell" % start)
    pos = np.array([np.argwhere(o == 1)[0] for o in obs[ep, 2]])
    if np.any(np.abs(np.diff(pos, axis=0)).sum(axis=1) > 1):
        fail("the mouse jumps inside the episode at row %d" % start)
    if np.any(obs[ep, 0] != walls):
        fail("walls change inside the episode at row %d" % start)
    start = end + 1
print("OK episodes", len(ends))
