"""procgen-tools' maze network in Python torch, saved as the files `shardlab import procgen-tools` reads.

Used by tests/test_import.cpp (Debian's python3-torch):

    procgen_tools_model.py OUT_DIR --channels 8,16,16 [--frames N] [--bad]

writes into OUT_DIR
  wrapped.pth    {'model_state_dict': ..., 'optimizer_state_dict': ...}  (procgen-tools)
  upstream.pth   {'state_dict': ..., 'optimizer': ...}                   (train-procgen-pytorch)
  bare.pth       the state dict itself (an OrderedDict of name -> tensor)
  frames.f32     N frames (N, 3, 64, 64) in [0, 1], float32 little-endian, C order
  logits.f32     (N, 15) logits of the network on them
  values.f32     (N,) values
and with --bad the broken files: missing.pth (no embedder.block2.res1.conv2.bias), unexpected.pth (an
extra tensor), wrong_shape.pth (fc_value.weight (1, 255)), legacy.pth (torch's pre-1.6 format).

The classes follow procgen-tools' `procgen_tools/models.py` (InterpretableImpalaModel, ImpalaBlock,
InterpretableResidualBlock, CategoricalPolicy) with the widths as arguments: their module names are
the names of the published checkpoints' tensors.
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn


class InterpretableResidualBlock(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x):
        out = self.relu1(x)
        out = self.conv1(out)
        out = self.relu2(out)
        out = self.conv2(out)
        return out + x


class ImpalaBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res1 = InterpretableResidualBlock(out_channels)
        self.res2 = InterpretableResidualBlock(out_channels)

    def forward(self, x):
        x = self.conv(x)
        x = self.maxpool(x)
        x = self.res1(x)
        return self.res2(x)


class InterpretableImpalaModel(nn.Module):
    def __init__(self, channels, hidden=256):
        super().__init__()
        self.block1 = ImpalaBlock(3, channels[0])
        self.block2 = ImpalaBlock(channels[0], channels[1])
        self.block3 = ImpalaBlock(channels[1], channels[2])
        self.relu3 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels[2] * 8 * 8, hidden)
        self.relufc = nn.ReLU()

    def forward(self, x):
        x = self.block3(self.block2(self.block1(x)))
        return self.relufc(self.fc(self.flatten(self.relu3(x))))


class CategoricalPolicy(nn.Module):
    def __init__(self, embedder, action_size=15):
        super().__init__()
        self.embedder = embedder
        self.fc_policy = nn.Linear(256, action_size)
        self.fc_value = nn.Linear(256, 1)

    def forward(self, x):
        hidden = self.embedder(x)
        return self.fc_policy(hidden), self.fc_value(hidden).reshape(-1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--channels", default="8,16,16")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad", action="store_true")
    parser.add_argument("--forms", default="wrapped,upstream,bare")
    args = parser.parse_args()
    channels = [int(c) for c in args.channels.split(",")]

    torch.manual_seed(args.seed)
    net = CategoricalPolicy(InterpretableImpalaModel(channels))
    # Default initialisation gives small logits; larger weights make a disagreement in any layer show.
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.5)
    # One Adam step, so the wrapped forms carry an optimizer state with tensors in it (as a trained
    # model's file does); the file's weights are the ones after it.
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)
    logits, values = net(torch.rand(2, 3, 64, 64))
    (logits.logsumexp(1).mean() + values.pow(2).mean()).backward()
    optimizer.step()
    net.eval()
    state = net.state_dict()
    os.makedirs(args.out, exist_ok=True)
    path = lambda name: os.path.join(args.out, name)

    forms = args.forms.split(",")
    if "wrapped" in forms:
        torch.save({"model_state_dict": state, "optimizer_state_dict": optimizer.state_dict()}, path("wrapped.pth"))
    if "upstream" in forms:
        torch.save({"state_dict": state, "optimizer": optimizer.state_dict()}, path("upstream.pth"))
    if "bare" in forms:
        torch.save(state, path("bare.pth"))

    if args.frames > 0:
        g = torch.Generator().manual_seed(args.seed + 100)
        frames = torch.rand(args.frames, 3, 64, 64, generator=g)
        with torch.no_grad():
            logits, values = net(frames)
        frames.numpy().astype("<f4").tofile(path("frames.f32"))
        logits.numpy().astype("<f4").tofile(path("logits.f32"))
        values.numpy().astype("<f4").tofile(path("values.f32"))

    if args.bad:
        missing = OrderedDict((k, v) for k, v in state.items() if k != "embedder.block2.res1.conv2.bias")
        torch.save({"model_state_dict": missing}, path("missing.pth"))
        unexpected = OrderedDict(state)
        unexpected["embedder.fc2.weight"] = torch.zeros(3, 3)
        torch.save({"model_state_dict": unexpected}, path("unexpected.pth"))
        wrong = OrderedDict(state)
        wrong["fc_value.weight"] = torch.zeros(1, 255)
        torch.save({"model_state_dict": wrong}, path("wrong_shape.pth"))
        torch.save({"model_state_dict": state}, path("legacy.pth"), _use_new_zipfile_serialization=False)
    print("OK", torch.__version__)


if __name__ == "__main__":
    sys.exit(main())
