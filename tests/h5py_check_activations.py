"""Checks an activation log written by `shardlab analyze record`, the way an h5py user reads it.

usage: h5py_check_activations.py FILE.h5 EXPECTED_ROWS LAYER
Exits non-zero with a message on the first inconsistency; prints OK.
"""
import sys

import h5py
import numpy as np


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


path, expected, layer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with h5py.File(path, "r") as f:
    # String attributes are fixed-length (checksummed in the object header): h5py gives bytes.
    if f.attrs["format"].decode() != "shardlab activation log":
        fail("format attribute is %r" % f.attrs["format"])
    layers = f.attrs["layers"].decode().split(",")
    if layer not in layers:
        fail("layer %s not in the layers attribute %r" % (layer, layers))
    grid = f["mazes/grid"][:]
    cheese = f["mazes/cheese"][:]
    mouse = f["mazes/mouse"][:]
    acts = f["activations/" + layer]
    probs = f["policy/probs"][:]
    world = int(f.attrs["world_size"])
    if grid.dtype != np.uint8 or grid.shape != (expected, world, world):
        fail("grid %s %s" % (grid.dtype, grid.shape))
    if acts.dtype != np.float32 or acts.ndim != 4 or acts.shape[0] != expected:
        fail("activations %s %s" % (acts.dtype, acts.shape))
    if acts.chunks[1] != 1:
        fail("activations are not chunked one channel at a time: %s" % (acts.chunks,))
    if probs.shape != (expected, 5) or not np.allclose(probs.sum(1), 1.0, atol=1e-5):
        fail("policy probabilities do not sum to 1")
    for i in range(expected):
        # Row 0 of the grid is the top of the world; cells are (x, y) with y up.
        x, y = cheese[i]
        if grid[i, world - 1 - y, x] != 2:
            fail("row %d: the cheese is not where /mazes/cheese says" % i)
        x, y = mouse[i]
        if grid[i, world - 1 - y, x] != 3:
            fail("row %d: the mouse is not where /mazes/mouse says" % i)
    channel = acts[:, 0, :, :]
    if not np.all(np.isfinite(channel)):
        fail("non-finite activations")
print("OK")
