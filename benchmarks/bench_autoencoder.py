"""Deep autoencoder speed: fine-tuning steps/s of the 784-1000-500-250-30 autoencoder through deepnet
(systems/autoencoder.py's model trained by the engine, core/train.fit, with its run folder,
checkpoints and validation) against a plain PyTorch loop of the same model, optimiser and batches.

Both train the same net from the same weights with AdamW at rate 1e-3, minibatches of 100, on
MNIST-like uint8 images (random strokes: speed does not depend on what the pixels show), for the
same number of epochs, in one process on the same threads. The plain loop shuffles, converts the
pixels, computes the summed cross-entropy and steps; the engine does that plus its bookkeeping (a
validation pass of `--val` images and a checkpoint at each epoch end). The ratio is ours / plain
(the goal: >= 1.0, i.e. the bookkeeping costs nothing measurable).

    .venv/bin/python benchmarks/bench_autoencoder.py [--images 6000] [--epochs 2] [--threads N]
"""

import argparse
import copy
import json
import tempfile
import time

import torch
from torch.nn import functional as F

from deepnet.core.runtime import environment
from deepnet.core.train import TrainConfig, fit
from deepnet.data.common import ArrayDataset, Splits
from deepnet.systems import autoencoder as A


def plain_loop(model, x, epochs, batch=100, seed=0):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(batch):
            v = x[idx].float().flatten(1) / 255
            logits = model.decoder(model.encoder(v))
            loss = F.binary_cross_entropy_with_logits(logits, v, reduction="sum") / len(v)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=6000)
    p.add_argument("--val", type=int, default=500)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: as set by torch)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = (torch.rand(args.images + 2 * args.val, 1, 28, 28) < 0.13).to(torch.uint8) * 255  # (N, 1, 28, 28)
    y = torch.zeros(len(x), dtype=torch.long)
    n, m = args.images, args.val
    data = Splits("strokes", ArrayDataset(x[:n], y[:n]), ArrayDataset(x[n:n + m], y[n:n + m]),
                  ArrayDataset(x[n + m:], y[n + m:]), classes=["-"], input_shape=(1, 28, 28))
    model = A.DeepAutoencoder(784)
    reference = copy.deepcopy(model)
    steps = args.epochs * -(-n // 100)

    plain_loop(copy.deepcopy(model), x[:500], 1)  # warm-up
    t0 = time.perf_counter()
    plain_loop(reference, x[:n], args.epochs)
    t_ref = time.perf_counter() - t0

    cfg = TrainConfig(epochs=args.epochs, batch_size=100, optimizer="adamw", lr=1e-3, device="cpu", progress=False,
                      eval_batch_size=1000)
    run_config = {"system": "autoencoder", "model": {}, "data": data.info()}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit(model, A._as_reconstruction(data), cfg, f"{tmp}/run", run_config, metrics=A.squared_error, test=False)
        t_ours = time.perf_counter() - t0
    out = {"bench": "autoencoder", "threads": torch.get_num_threads(), "steps": steps,
           "ours_steps_per_s": steps / t_ours, "plain_steps_per_s": steps / t_ref, "ratio": t_ref / t_ours,
           "env": environment("cpu")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
