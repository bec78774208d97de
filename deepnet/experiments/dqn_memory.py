"""dqn_memory: a replay memory that stores each Atari frame once needs about a quarter of the bytes of one
that stores each transition's two stacks of frames.

Mnih et al. 2015 keep the last million transitions; a state is a stack of 4 greyscale 84×84
frames. Stored naively, a transition (s, s') is 2 × 4 × 84 × 84 = 56,448 bytes: 56 GB for a
million (28 GB with s' shared with the next s). systems/dqn.py's `Replay` stores every frame
once (uint8) and rebuilds the stacks by index, so a transition costs one frame (7,056 bytes)
plus its action, reward, flag and two frame numbers. Measured here: the bytes of the arrays the
memory actually allocates (memory-mapped files, created sparse: nothing is filled), divided by
its capacity, at 100k and 1M transitions; with the spare slots a training run adds for exact
resume (one checkpoint interval plus the longest game, systems/dqn.py) and without. Also
measured: how fast a batch of 32 stacks is sampled (transitions per second).
"""

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepnet.systems import dqn

NAME = "dqn_memory"
CLAIM = ("Experience replay over a million Atari transitions fits in memory when each frame is stored once "
         "and the stacks of 4 frames are rebuilt by index.")
SECTION = "The future of deep learning (reinforcement learning: DQN on Atari games)"
HEADLINE = ("A DQN replay memory stores each frame once (bytes per transition)", "bytes_per_transition")
DATA = []  # nothing to read: the buffers are allocated and filled with generated frames
PAPER = {}  # the paper states the capacity (1M, Extended Data Table 1), not a memory size

NAIVE = 2 * 4 * 84 * 84  # s and s' each a 4x84x84 uint8 stack: 56,448 bytes


@dataclass
class Config:
    """dqn_memory: bytes per transition of the replay memory, measured at the capacities given."""

    # replay capacities measured, in transitions (the paper: 1M); range [1, 1e8], 1 to 4 values
    capacities: tuple[int, ...] = (100_000, 1_000_000)
    slack: int = 37_001  # spare slots a training run adds (checkpoint interval + longest game); range [0, 1e8]
    fill: int = 20_000  # transitions written before timing the sampling; range [1, 1e7]
    batch_size: int = 32  # transitions per sampled batch (the paper: 32); range [1, 65536]
    batches: int = 200  # batches timed; range [1, 1e7]
    seed: int = 0  # the generated frames; range [0, 4294967295]


PROFILES = {
    "smoke": Config(capacities=(1000, 10_000), slack=100, fill=500, batches=10),
    "quick": Config(),
    "full": Config(),
}


def targets(profile, cfg):
    # one frame of 7,056 bytes plus 29 bytes of bookkeeping and a few spare frames: under an eighth of 56,448
    return {"bytes_per_transition": {"op": "<=", "value": NAIVE / 7.5}}


def measure(capacity, slack, folder):
    """Bytes of the files a memory-mapped Replay of `capacity` allocates, per transition."""
    buf = dqn.Replay(capacity, (84, 84), np.uint8, 4, slack=slack, folder=folder)
    size = sum(p.stat().st_size for p in Path(folder).iterdir())
    assert size == buf.nbytes  # the files are the arrays, nothing more
    del buf
    for p in Path(folder).iterdir():
        p.unlink()
    return size / capacity


def _tag(C):
    """100000 -> 100k, 1000000 -> 1m, 1234 -> 1234."""
    if C % 1_000_000 == 0:
        return f"{C // 1_000_000}m"
    return f"{C // 1000}k" if C % 1000 == 0 else str(C)


def run(cfg, out_dir, profile):
    metrics, series = {}, {"bytes_per_transition_vs_capacity": []}
    for stale in Path(out_dir).glob("tmp*"):  # left by a killed attempt (an experiment is taken up in its folder)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for C in cfg.capacities:
            bare = measure(C, 0, Path(tmp) / "bare")
            trained = measure(C, cfg.slack, Path(tmp) / "run")
            tag = _tag(C)
            metrics[f"bytes_per_transition_{tag}"] = bare
            metrics[f"bytes_per_transition_{tag}_with_resume_slack"] = trained
            metrics[f"gigabytes_{tag}"] = bare * C / 1e9
            series["bytes_per_transition_vs_capacity"].append([C, bare])
    C = max(cfg.capacities)
    metrics["bytes_per_transition"] = metrics[f"bytes_per_transition_{_tag(C)}"]  # at the largest capacity
    metrics["naive_bytes_per_transition"] = float(NAIVE)
    metrics["saving_factor"] = NAIVE / metrics["bytes_per_transition"]

    # sampling speed, in RAM, after filling with episodes of 100 random frames
    rng = np.random.default_rng(cfg.seed)
    buf = dqn.Replay(cfg.fill, (84, 84), np.uint8, 4)
    frames = rng.integers(0, 256, (256, 84, 84), dtype=np.uint8)
    for t in range(cfg.fill):
        if t % 100 == 0:
            buf.start_episode(frames[t % 256])
        buf.add(t % 6, 1.0, t % 100 == 99, frames[(t * 7 + 1) % 256])
    g = torch.Generator().manual_seed(cfg.seed)
    buf.sample(cfg.batch_size, g)
    t0 = time.perf_counter()
    for _ in range(cfg.batches):
        buf.sample(cfg.batch_size, g)
    metrics["sampled_transitions_per_s"] = cfg.batch_size * cfg.batches / (time.perf_counter() - t0)
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed], "artifacts": [], "device": "cpu"}
