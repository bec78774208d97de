"""Engine overhead: examples/s of deepnet's `fit` against a bare PyTorch loop, same model and data.

Both train the same MLP (784-256-256-10 on MNIST when the data folder is present, else a
64-256-256-10 net on scikit-learn digits) for the same number of epochs at the same batch
size, on the same device, in this one process. The ratio (fit / bare) is the number that
matters: 1.0 means the engine's validation, logging, checkpoints and progress cost nothing.

    .venv/bin/python benchmarks/bench_engine.py [--epochs 2] [--batch-size 128] [--device cpu]
"""

import argparse
import json
import math
import os
import shutil
import tempfile
import time

import torch
from torch.nn import functional as F

from deepnet import data as datasets
from deepnet.core.runtime import environment, pick_device, seed_everything, usable_cores
from deepnet.core.train import TrainConfig, fit
from deepnet.systems.mlp import MLP


def bare_loop(model, train, epochs, batch_size, lr, device):
    """The reference: shuffle, slice, forward, backward, step. Nothing else."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x_all, y_all = train.x, train.y
    for epoch in range(epochs):
        order = torch.randperm(len(x_all))
        for i in range(0, len(x_all), batch_size):
            idx = order[i:i + batch_size]
            x, y = x_all[idx].to(device), y_all[idx].to(device)
            z = model(x)[0]
            loss = F.cross_entropy(z, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: every usable core)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or usable_cores())
    device = pick_device(args.device)
    name = "mnist" if datasets.available("mnist") else "digits"
    data = datasets.get(name).load(seed=0)
    n_in = math.prod(data.input_shape)
    n = len(data.train) * args.epochs

    def model():
        seed_everything(0)
        return MLP(n_in, 10, (256, 256)).to(device)

    # warm-up: first calls pay for lazy initialisation (allocator, kernels, imports) on both sides
    small = type(data.train)(data.train.x[:2048], data.train.y[:2048])
    bare_loop(model(), small, 1, args.batch_size, 0.05, device)

    times = {"bare": [], "fit": []}
    for _ in range(args.repeats):  # interleaved, best of N: the machine's noise hits both sides alike
        m = model()
        t = time.perf_counter()
        bare_loop(m, data.train, args.epochs, args.batch_size, 0.05, device)
        times["bare"].append(time.perf_counter() - t)

        tmp = tempfile.mkdtemp()
        m = model()
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=0.05, device=str(device), progress=False)
        t = time.perf_counter()
        fit(m, data, cfg, tmp + "/run", {"system": "mlp", "data": data.info()})
        times["fit"].append(time.perf_counter() - t)
        shutil.rmtree(tmp)

    best = {k: min(v) for k, v in times.items()}
    env = environment(device)
    report = {
        "benchmark": "engine_overhead", "data": name, "train_examples": len(data.train), "epochs": args.epochs,
        "batch_size": args.batch_size, "bare_examples_per_s": n / best["bare"], "fit_examples_per_s": n / best["fit"],
        "fit_over_bare_time": best["fit"] / best["bare"], "repeats": args.repeats,
        "device": env["device"], "cpu": env["cpu"], "gpu": env["gpu"], "torch": env["torch"],
        "threads": torch.get_num_threads(), "load_average_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=2))
    print(f"fit takes {report['fit_over_bare_time']:.2f}x the bare loop's time "
          f"(includes a validation pass and a checkpoint per epoch, and the test pass)")


if __name__ == "__main__":
    main()
