"""Caption training speed and beam-search speed of the soft-attention captioner, against a plain PyTorch loop.

deepnet side: `captioning.fit` (the engine: batching, clipping, schedule, checkpoints, metrics) training the
Captioner on frozen region features (synthetic: 64 regions of 64 features, captions of 12 words plus <eos>
over 40 words), timed from the engine's returned seconds. Reference: the loop a PyTorch user would write for
the same model (the same Captioner module, AdamW, clipping at 1, the same batches, threads and sizes), in the
same process, once before and once after ours. Also beam search (width 3) captions per second and greedy's.

    .venv/bin/python benchmarks/bench_captioning.py [--steps 40] [--threads 1]
"""

import argparse
import json
import tempfile
import time
from dataclasses import asdict

import torch
from torch import nn

from deepnet.core.runtime import environment
from deepnet.core.train import TrainConfig
from deepnet.data.common import ArrayDataset, Splits
from deepnet.systems import captioning

V, R, D, T, B = 44, 64, 64, 12, 64


def _data(n):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, R, D, generator=g).half()
    y = torch.randint(4, V, (n, T + 1), generator=g)
    y[:, -1] = captioning.EOS
    return ArrayDataset(x, y)


def _model():
    torch.manual_seed(0)
    cfg = captioning.Config(channels=(D,), embed=64, hidden=192, attn_size=64, dropout=0.1)
    return cfg, captioning.Captioner(cfg, V)


def ours(args):
    tr = _data(args.steps * B)
    data = Splits("synthetic", tr, _data(B), _data(0), extra={"vocab": [str(i) for i in range(V)]})
    cfg, model = _model()
    tcfg = TrainConfig(epochs=1, batch_size=B, optimizer="adamw", lr=3e-3, clip_grad=1.0, device="cpu",
                       progress=False, log_every=10**9, eval_batch_size=256)
    with tempfile.TemporaryDirectory() as d:
        r = captioning.fit(model, data, tcfg, d, {"system": "captioning", "model": asdict(cfg), "data": data.info()},
                           test=False)
    return r["steps"] * B * (T + 1) / r["seconds"]


def reference(args):
    tr = _data(args.steps * B)
    _, model = _model()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    perm = torch.randperm(len(tr))
    t0 = time.perf_counter()
    for s in range(args.steps):
        idx = perm[s * B:(s + 1) * B]
        _, loss = model(tr.x[idx], tr.y[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        float(loss.detach())
    return args.steps * B * (T + 1) / (time.perf_counter() - t0)


def decoding(beam, n=256):
    _, model = _model()
    model.eval()
    x = _data(n).x
    t0 = time.perf_counter()
    captioning.generate(model, x, beam=beam, max_len=T + 1)
    return n / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ref1 = reference(args)
    mine = ours(args)
    ref2 = reference(args)
    out = {"caption_training": {"ours_tok_s": mine, "reference_tok_s": (ref1 + ref2) / 2,
                                "ratio": mine / ((ref1 + ref2) / 2)},
           "beam3_captions_per_s": decoding(3), "greedy_captions_per_s": decoding(1),
           "threads": args.threads, "env": environment("cpu")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
