"""RBM speed: CD-1 updates/s of deepnet's `cd_update` against a plain PyTorch loop of the same update,
and the seconds AIS takes for 100 runs over the paper's 14,500 intermediate distributions.

The reference is the update as a textbook writes it: sample h0, reconstruct, sample v1, compute
p(h|v1), form the three gradients with separate matrix products, then momentum and weight decay
as separate tensor operations. Both start from the same weights and do the same arithmetic
(with their own random draws) on a 784-500 RBM with batches of 100 MNIST-like binary vectors,
in one process on the same threads: the ratio is the speed-up of our update over the plain
one (the goal: >= 1.0).

    .venv/bin/python benchmarks/bench_rbm.py [--updates 300] [--threads N] [--ais-betas 14500]
"""

import argparse
import json
import time

import torch

from deepnet.core.runtime import environment
from deepnet.core import boltzmann as B
from deepnet.systems import rbm as R


def reference_update(W, b, c, vel, v0, lr, momentum, weight_decay, u_h0, u_v1):
    """CD-1 written plainly: W (H, V), b (V) visible bias, c (H) hidden bias; u_*: uniforms for the samples."""
    ph0 = torch.sigmoid(v0 @ W.T + c)
    h0 = (u_h0 < ph0).float()
    pv1 = torch.sigmoid(h0 @ W + b)
    v1 = (u_v1 < pv1).float()
    ph1 = torch.sigmoid(v1 @ W.T + c)
    n = v0.shape[0]
    gW = (ph0.T @ v0) / n - (ph1.T @ v1) / n - weight_decay * W
    gb = v0.mean(0) - v1.mean(0)
    gc = ph0.mean(0) - ph1.mean(0)
    for name, p, g in (("weight", W, gW), ("visible_bias", b, gb), ("hidden_bias", c, gc)):
        vel[name] = momentum * vel[name] + lr * g
        p += vel[name]
    return ((v0 - pv1) ** 2).sum()


def bench_cd(updates, batch=100, V=784, H=500):
    torch.manual_seed(0)
    data = (torch.rand(50, batch, V) < 0.13).float()  # MNIST-like sparsity of "on" pixels
    ours = B.RBM(V, H)
    W, b, c = (ours.weight.detach().clone(), ours.visible_bias.detach().clone(), ours.hidden_bias.detach().clone())
    vel_ours, vel_ref = B.zero_velocity(ours), {k: torch.zeros_like(v) for k, v in B.zero_velocity(ours).items()}

    def run_ours(n):
        for i in range(n):
            B.cd_update(ours, data[i % len(data)], vel_ours, 0.1, 0.5, 2e-4, k=1)

    def run_ref(n):
        for i in range(n):
            v0 = data[i % len(data)]
            reference_update(W, b, c, vel_ref, v0, 0.1, 0.5, 2e-4, torch.rand(batch, H), torch.rand(batch, V))

    run_ours(10)
    run_ref(10)  # warm-up
    t0 = time.perf_counter()
    run_ours(updates)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_ref(updates)
    t_ref = time.perf_counter() - t0
    return {"ours_updates_per_s": updates / t_ours, "reference_updates_per_s": updates / t_ref,
            "ratio": t_ref / t_ours}


def bench_ais(betas):
    torch.manual_seed(0)
    model = B.RBM(784, 500)
    with torch.no_grad():
        model.weight.normal_(0, 0.05)
    counts = (round(betas * 500 / 14500), round(betas * 4000 / 14500))
    schedule = R.paper_betas(counts=(counts[0], counts[1], betas - counts[0] - counts[1]))
    t0 = time.perf_counter()
    est = R.ais_log_z(model, runs=100, betas=schedule, generator=torch.Generator().manual_seed(0))
    return {"ais_seconds": time.perf_counter() - t0, "ais_betas": betas, "ais_runs": 100, "log_z": float(est.log_z)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: as set by torch)")
    p.add_argument("--ais-betas", type=int, default=14500)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = {"bench": "rbm", "threads": torch.get_num_threads(), **bench_cd(args.updates), **bench_ais(args.ais_betas),
           "env": environment("cpu")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
