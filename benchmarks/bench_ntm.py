"""NTM training speed: sequences/s of deepnet's batched NTM against a straightforward reference loop.

The per-step Python overhead is the known pain point of NTM code: every time step runs the
addressing pipeline, and public implementations often do it head by head and, for the
circular shift, sample by sample. The reference here is such a loop, written plainly: heads one
at a time, cosine similarity with F.cosine_similarity, the shift as a circular-padded conv1d per
sample. It uses the very same parameters as the model (its outputs are checked equal), so the
ratio measures only the way the step is computed. Both train the paper's copy model (LSTM
controller of 100 units, 128 x 20 memory, one read and one write head) on copy sequences of
length 20 (41 steps), at batch 1 and at a larger batch, on the same device in one process.

    .venv/bin/python benchmarks/bench_ntm.py [--batches 1 64] [--device cpu] [--threads 1]
"""

import argparse
import json
import time

import torch
from torch.nn import functional as F

from deepnet.core.runtime import environment, pick_device
from deepnet.data import algorithmic
from deepnet.systems import ntm


def reference_step(model, x_t, state):
    """One NTM step computed head by head and sample by sample (same parameters as model.step)."""
    ctrl, r, w_prev, memory = state
    B = x_t.shape[0]
    ctrl = model.cell(torch.cat([x_t, r.flatten(1)], 1), ctrl)
    h = ctrl[0]
    p = model.heads(h)
    M, P, S2 = model.M, model.P, 2 * model.S + 1
    ws = []
    for i in range(model.H):
        q = p[:, i * P:(i + 1) * P]
        k, beta = q[:, :M], F.softplus(q[:, M])
        g, gamma = torch.sigmoid(q[:, M + 1]), 1 + F.softplus(q[:, M + 2])
        s = torch.softmax(q[:, M + 3:M + 3 + S2], -1)
        K = F.cosine_similarity(k[:, None, :], memory, dim=-1, eps=1e-8)  # (B, N)
        w_c = torch.softmax(beta[:, None] * K, -1)
        w_g = g[:, None] * w_c + (1 - g[:, None]) * w_prev[:, i]
        shifted = []
        for b in range(B):  # circular convolution, one sample at a time
            padded = torch.cat([w_g[b, -model.S:], w_g[b], w_g[b, :model.S]])[None, None]
            shifted.append(F.conv1d(padded, s[b].flip(0)[None, None])[0, 0])
        w_s = torch.stack(shifted)
        w = torch.softmax(gamma[:, None] * torch.log(w_s + 1e-12), -1)
        ws.append(w)
    w = torch.stack(ws, 1)
    ea = p[:, model.H * P:].view(B, model.W, 2, M)
    for j in range(model.W):  # write heads one after another
        wj, e, a = w[:, model.R + j], torch.sigmoid(ea[:, j, 0]), ea[:, j, 1]
        memory = memory * (1 - wj[:, :, None] * e[:, None, :]) + wj[:, :, None] * a[:, None, :]
    r = torch.stack([torch.einsum("bn,bnm->bm", w[:, i], memory) for i in range(model.R)], 1)  # (B, R, M)
    logits = model.out(torch.cat([h, r.flatten(1)], 1))
    return logits, (ctrl, r, w, memory), w


def reference_forward(model, x, y, mask):
    state = model.initial_state(x.shape[0], x.device)
    outs = []
    for t in range(x.shape[1]):
        z, state, _ = reference_step(model, x[:, t], state)
        outs.append(z)
    z = torch.stack(outs, 1)
    return z, ntm.sequence_cost(z, y, mask)


def timed(fn, model, batch, steps, device):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, y, m = (t.to(device) for t in batch)

    def one():
        _, loss = fn(model, x, y, m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    one()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, nargs="*", default=[1, 64])
    ap.add_argument("--length", type=int, default=20)
    ap.add_argument("--steps", type=int, default=5, help="timed updates per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    rows = []
    for B in args.batches:
        batch = algorithmic.copy(B, args.length, 8, algorithmic.generator(0))
        torch.manual_seed(0)
        model = ntm.NTM(ntm.Config(), 9, 8).to(device)
        ref_model = ntm.NTM(ntm.Config(), 9, 8).to(device)
        ref_model.load_state_dict(model.state_dict())
        with torch.no_grad():  # the reference computes the same function
            x, y, m = (t.to(device) for t in batch)
            diff = (model(x, y, m)[0] - reference_forward(ref_model, x, y, m)[0]).abs().max().item()
        lstm = ntm.LSTMBaseline(ntm.Config(kind="lstm"), 9, 8).to(device)
        best = {"ntm": [], "reference": [], "lstm": []}
        for _ in range(args.repeats):  # interleaved, best of N: the shared machine's noise hits all alike
            best["ntm"].append(timed(lambda mdl, *a: mdl(*a), model, batch, args.steps, device))
            best["reference"].append(timed(reference_forward, ref_model, batch, args.steps, device))
            best["lstm"].append(timed(lambda mdl, *a: mdl(*a), lstm, batch, args.steps, device))
        t = {k: min(v) for k, v in best.items()}
        rows.append({"batch": B, "ntm_seq_per_s": B / t["ntm"], "reference_seq_per_s": B / t["reference"],
                     "lstm_baseline_seq_per_s": B / t["lstm"], "ntm_speedup_over_reference": t["reference"] / t["ntm"],
                     "max_abs_output_diff": diff})
    env = environment(device)
    report = {"benchmark": "ntm_training_speed", "task": f"copy, length {args.length} ({2 * args.length + 1} steps)",
              "rows": rows, "threads": torch.get_num_threads(), "device": env["device"], "cpu": env["cpu"],
              "gpu": env["gpu"], "torch": env["torch"]}
    if device.type != "cuda":
        report["gpu_note"] = "no GPU measured in this run" + ("" if torch.cuda.is_available() else " (none present)")
    print(json.dumps(report, indent=2))
    for r in rows:
        print(f"batch {r['batch']}: NTM {r['ntm_seq_per_s']:.1f} seq/s, reference loop {r['reference_seq_per_s']:.1f} seq/s "
              f"({r['ntm_speedup_over_reference']:.2f}x), LSTM baseline {r['lstm_baseline_seq_per_s']:.1f} seq/s")


if __name__ == "__main__":
    main()
