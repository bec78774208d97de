"""Language-model training speed: tokens/s of deepnet's LSTM LM and NPLM against plain PyTorch loops.

deepnet side: `rnn_lm.fit` (truncated BPTT, state carried, clipping, checkpoints, metrics) and
the engine `core.train.fit` for the NPLM, each timed from its own returned seconds on
synthetic token streams. Reference: the loop a PyTorch user would write for the same model
(nn.Embedding -> nn.LSTM -> nn.Linear with AdamW, clipping, state detached between windows;
for the NPLM: embedding, tanh layer, softmax), same sizes, batch, threads and precision, in
the same process. Also the written-out LSTM cell (fused=False), to show what the fused kernel buys.

    .venv/bin/python benchmarks/bench_lm.py [--steps 30] [--threads 1] [--bf16]
"""

import argparse
import json
import tempfile
import time
from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from deepnet.core.runtime import environment
from deepnet.core.train import TrainConfig, fit
from deepnet.data.common import ArrayDataset, Splits
from deepnet.systems import nplm, rnn_lm


def _splits(n_train, V, make):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (n_train + 2000,), generator=g)
    tr, va = make(ids[:n_train]), make(ids[n_train:])
    return Splits("synthetic", tr, va, ArrayDataset(va.x[:0], va.y[:0]), classes=[str(i) for i in range(V)])


def lstm_ours(args, fused=True):
    V, B, T, H = 65, 64, 64, 512
    data = _splits(args.steps * B * T + B, V, lambda s: ArrayDataset(s[:-1], s[1:]))
    mcfg = rnn_lm.Config(embed=64, hidden=H, bptt=T, max_steps=args.steps, cpu_bf16=args.bf16, fused=fused)
    tcfg = TrainConfig(epochs=1, batch_size=B, optimizer="adamw", lr=2e-3, clip_grad=1.0, device="cpu",
                       progress=False, log_every=10**9)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        r = rnn_lm.fit(rnn_lm.RNNLM(V, mcfg), data, tcfg, d, {"system": "rnn_lm", "model": asdict(mcfg),
                                                               "data": data.info()}, test=False)
    return r["tokens_per_s"]


def lstm_reference(args):
    V, B, T, H = 65, 64, 64, 512
    torch.manual_seed(0)
    emb, lstm, head = nn.Embedding(V, 64), nn.LSTM(64, H, batch_first=True), nn.Linear(H, V)
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=2e-3)
    stream = torch.randint(0, V, (B, args.steps * T + 1))
    state = None
    t0 = time.perf_counter()
    for s in range(args.steps):
        x, y = stream[:, s * T:(s + 1) * T], stream[:, s * T + 1:(s + 1) * T + 1]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            h, state = lstm(emb(x), state)
            logits = head(h)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        state = tuple(z.detach() for z in state)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        float(loss.detach())
    return args.steps * B * T / (time.perf_counter() - t0)


def nplm_ours(args):
    V, B = 13189, 512
    data = _splits(args.steps * B + 4, V, lambda s: ArrayDataset(*nplm.windows(s[:-1], s[1:], 4)))
    data = Splits("synthetic", data.train, ArrayDataset(data.val.x[:512], data.val.y[:512]), data.test,
                  classes=data.classes)
    ncfg = nplm.Config(cpu_bf16=args.bf16)
    tcfg = TrainConfig(epochs=1, batch_size=B, optimizer="adamw", lr=2e-3, device="cpu", progress=False,
                       log_every=10**9)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        r = fit(nplm.NPLM(V, ncfg), data, tcfg, d, {"system": "nplm", "model": asdict(ncfg), "data": data.info()},
                metrics=None, test=False)
    return r["steps"] * B / r["seconds"]


def nplm_reference(args):
    V, B = 13189, 512
    torch.manual_seed(0)
    C, Hl, U = nn.Embedding(V, 60), nn.Linear(240, 100), nn.Linear(100, V)
    opt = torch.optim.AdamW([*C.parameters(), *Hl.parameters(), *U.parameters()], lr=2e-3)
    x, y = torch.randint(0, V, (args.steps * B, 4)), torch.randint(0, V, (args.steps * B,))
    perm = torch.randperm(len(y))
    t0 = time.perf_counter()
    for s in range(args.steps):
        idx = perm[s * B:(s + 1) * B]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = U(torch.tanh(Hl(C(x[idx]).flatten(1))))
        loss = F.cross_entropy(logits.float(), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss.detach())
    return args.steps * B / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU for both sides")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = {}
    # reference first and last would be fairer under varying load; alternate once each way
    ref1 = lstm_reference(args)
    ours = lstm_ours(args)
    ref2 = lstm_reference(args)
    out["lstm_lm"] = {"ours_tok_s": ours, "reference_tok_s": (ref1 + ref2) / 2, "ratio": ours / ((ref1 + ref2) / 2)}
    out["lstm_lm_written_out_cell_tok_s"] = lstm_ours(args, fused=False)
    ref1 = nplm_reference(args)
    ours = nplm_ours(args)
    ref2 = nplm_reference(args)
    out["nplm"] = {"ours_tok_s": ours, "reference_tok_s": (ref1 + ref2) / 2, "ratio": ours / ((ref1 + ref2) / 2)}
    env = environment("cpu")
    print(json.dumps({"bench": "lm", "threads": args.threads, "bf16": args.bf16, "steps": args.steps, **out,
                      "cpu": env.get("cpu"), "torch": env.get("torch")}, indent=1))


if __name__ == "__main__":
    main()
