"""Recurrent Attention Model speed: training images/s through deepnet (systems/glimpse.py's RAM trained by the
engine, core/train.fit, with its run folder, checkpoints and validation) against a plain PyTorch loop of the
same model, optimiser, clipping and batches.

Both train the same RAM (8 glimpses of three 12x12 scales, the paper's cluttered-MNIST sensor) from the same
weights with Adam at rate 1e-3, the gradient norm clipped at 5, minibatches of 64, on 60x60 cluttered canvases
made by data/translated.py from random strokes (speed does not depend on what the pixels show; no data folder
needed), for the same epochs, in one process on the same threads. The plain loop shuffles, slices, runs the
model's hybrid loss (cross-entropy + REINFORCE + baseline) and steps; the engine does that plus its bookkeeping
(a validation pass of `--val` canvases and a checkpoint at each epoch end). The ratio is plain time / ours
(the goal: >= 1.0, i.e. the bookkeeping costs nothing measurable).

    .venv/bin/python benchmarks/bench_glimpse.py [--images 4096] [--epochs 2] [--glimpses 8] [--threads N]
"""

import argparse
import copy
import json
import tempfile
import time
from dataclasses import asdict

import numpy as np
import torch

from deepnet.core.runtime import environment
from deepnet.core.train import TrainConfig, fit
from deepnet.data import translated
from deepnet.data.common import Splits
from deepnet.systems import glimpse as G


def plain_loop(model, x, y, epochs, batch=64, seed=0):
    """Shuffle, slice, forward (the model's hybrid loss), backward, clip, step."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(batch):
            _, loss = model(x[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()


def canvases(n, seed):
    """n cluttered 60x60 canvases of random strokes, with random labels."""
    rng = np.random.default_rng(seed)
    strokes = ((rng.random((n, 1, 28, 28)) < 0.15) * 255).astype(np.uint8)  # (n, 1, 28, 28)
    part, _ = translated.make(strokes, rng.integers(0, 10, n), 60, 4, seed=seed)
    return part


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=4096)
    p.add_argument("--val", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--glimpses", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: as set by torch)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train, val = canvases(args.images, 0), canvases(args.val, 1)
    data = Splits("cluttered_strokes", train, val, val, classes=[str(d) for d in range(10)], input_shape=(1, 60, 60))
    torch.manual_seed(0)
    cfg = G.Config(glimpses=args.glimpses, patch=12, scales=3)
    model = G.make(cfg, data.input_shape, 10)
    reference = copy.deepcopy(model)
    n = args.images * args.epochs

    plain_loop(copy.deepcopy(model), train.x[:256], train.y[:256], 1)  # warm-up
    torch.manual_seed(1)
    t0 = time.perf_counter()
    plain_loop(reference, train.x, train.y, args.epochs)
    t_ref = time.perf_counter() - t0

    tcfg = TrainConfig(epochs=args.epochs, batch_size=64, optimizer="adamw", lr=1e-3, weight_decay=0.0, clip_grad=5.0,
                       monitor="accuracy", device="cpu", progress=False, eval_batch_size=1000, seed=1)
    run_config = {"system": "glimpse", "model": asdict(cfg), "data": data.info()}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit(model, data, tcfg, f"{tmp}/run", run_config, test=False)
        t_ours = time.perf_counter() - t0
    out = {"bench": "glimpse", "threads": torch.get_num_threads(), "glimpses": args.glimpses,
           "images": n, "ours_images_per_s": n / t_ours, "plain_images_per_s": n / t_ref, "ratio": t_ref / t_ours,
           "parameters": G.count_parameters(model), "env": environment("cpu")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
