"""Speech speed: training utterances/s of the BLSTM-CTC through deepnet against a plain PyTorch loop of the same
model, and the decoding real-time factor (seconds of compute per second of audio) for greedy and beam search.

Both sides train the same 2x128 bidirectional LSTM over 4 stacked 39-dimensional frames (systems/ctc.py's
defaults) with AdamW at 3e-3, gradients clipped at 5, batches of 8, on synthetic utterances of 200-600
frames (2-6 s at 100 frames/s) with 10-40-character targets: speed does not depend on what the frames say.
deepnet: the engine (core/train.fit: run folder, checkpoint and validation at the epoch end) on the
system's CTCModel. Plain: the loop a PyTorch user would write with nn.LSTM on packed sequences and
nn.CTCLoss, same sizes, threads and order. The ratio is plain time / ours (the goal: >= 1.0).
Decoding: the model's posteriors for 20 utterances, then ctc.greedy_decode and ctc.prefix_beam_search
(beam 8), without and with a word language model (a Kneser-Ney trigram over 2,000 seeded sentences of a
200-word vocabulary, scored as an4_ctc scores its LM); RTF = decoding seconds / audio seconds (posteriors
included). An untrained net's near-uniform posteriors make the beam search try every character at every
step, the slow end of decoding.

    .venv/bin/python benchmarks/bench_ctc.py [--utterances 64] [--epochs 1] [--threads N]
"""

import argparse
import copy
import json
import tempfile
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepnet.core.runtime import environment
from deepnet.core.train import TrainConfig, fit
from deepnet.data.audio import pad_utterances
from deepnet.data.common import ArrayDataset, Splits
from deepnet.systems import ctc

FEATURES, CLASSES = 39, 29  # 13 MFCC + deltas + delta-deltas; blank + 28 characters


def word_lm(seed=0):
    """A Kneser-Ney trigram over 2,000 sentences of 3-8 words drawn from 200 random lowercase words."""
    g = torch.Generator().manual_seed(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(letters[int(i)] for i in torch.randint(0, 26, (int(n),), generator=g))
             for n in torch.randint(2, 9, (200,), generator=g)]
    sentences = [" ".join(words[int(i)] for i in torch.randint(0, 200, (int(n),), generator=g))
                 for n in torch.randint(3, 9, (2000,), generator=g)]
    return ctc.KneserNeyWordLM(sentences, 3)


def synthetic(n, seed=0):
    """n utterances: x (n, T_max, 1 + 39) as pad_utterances lays them out, y (n, L_max) character ids, -1 padded."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(200, 601, (n,), generator=g)
    x = pad_utterances([torch.randn(int(t), FEATURES, generator=g) for t in lengths])
    chars = torch.randint(10, 41, (n,), generator=g)
    y = torch.full((n, int(chars.max())), -1, dtype=torch.long)
    for i, c in enumerate(chars.tolist()):
        y[i, :c] = torch.randint(1, CLASSES, (c,), generator=g)
    return x, y, float(lengths.sum()) / 100  # seconds of audio at 100 frames/s


class Plain(nn.Module):
    """The same net written as a PyTorch user would: stack frames, packed BLSTM, linear, log-softmax."""

    def __init__(self, stack=4, hidden=128, layers=2):
        super().__init__()
        self.stack = stack
        self.lstm = nn.LSTM(FEATURES * stack, hidden, layers, batch_first=True, bidirectional=True, dropout=0.2)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(2 * hidden, CLASSES)

    def forward(self, x):
        frames = x[..., 0].sum(1).long()
        T = -(-int(frames.max()) // self.stack) * self.stack
        f = x[:, :T, 1:]
        if f.shape[1] < T:
            f = torch.cat([f, f.new_zeros(f.shape[0], T - f.shape[1], f.shape[2])], 1)
        f = f.reshape(len(x), T // self.stack, -1)  # (B, T', stack*F)
        lengths = (frames + self.stack - 1) // self.stack
        h, _ = self.lstm(pack_padded_sequence(f, lengths, batch_first=True, enforce_sorted=False))
        h, _ = pad_packed_sequence(h, batch_first=True)
        return torch.log_softmax(self.out(self.drop(h)), -1), lengths


def plain_train(model, x, y, epochs, batch=8, seed=0):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    loss_fn = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(batch):
            logp, lengths = model(x[idx])
            t = y[idx]
            keep = t >= 0
            loss = loss_fn(logp.transpose(0, 1), t[keep], lengths, keep.sum(1)) / len(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--utterances", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: as set by torch)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y, _ = synthetic(args.utterances)
    xv, yv, _ = synthetic(8, seed=1)
    data = Splits("synthetic", ArrayDataset(x, y), ArrayDataset(xv, yv), ArrayDataset(xv[:0], yv[:0]),
                  classes=[""] * CLASSES, input_shape=(1 + FEATURES,))
    torch.manual_seed(0)
    ours = ctc.CTCModel(ctc.Config(), FEATURES, CLASSES)
    plain = Plain()

    plain_train(copy.deepcopy(plain), x[:8], y[:8], 1)  # warm-up
    t0 = time.perf_counter()
    plain_train(plain, x, y, args.epochs)
    t_plain = time.perf_counter() - t0
    cfg = TrainConfig(epochs=args.epochs, batch_size=8, optimizer="adamw", lr=3e-3, clip_grad=5.0, device="cpu",
                      progress=False, eval_batch_size=64)
    run_config = {"system": "ctc", "model": {}, "data": data.info()}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit(ours, data, cfg, f"{tmp}/run", run_config, metrics=None, test=False)
        t_ours = time.perf_counter() - t0

    xd, _, audio_seconds = synthetic(20, seed=2)
    ours.alphabet = " abcdefghijklmnopqrstuvwxyz'"
    with torch.no_grad():
        t0 = time.perf_counter()
        logps, _ = ctc.posteriors(ours, ArrayDataset(xd, torch.full((20, 1), -1)))
        t_post = time.perf_counter() - t0
        t0 = time.perf_counter()
        ctc.decode(ours, logps)
        t_greedy = time.perf_counter() - t0
        t0 = time.perf_counter()
        ctc.decode(ours, logps, beam=8)
        t_beam = time.perf_counter() - t0
        scorer = ctc.WordScorer(word_lm(), ours.alphabet, 1.0, 1.5)
        t0 = time.perf_counter()
        ctc.decode(ours, logps, beam=8, scorer=scorer)
        t_beam_lm = time.perf_counter() - t0
    n = args.utterances * args.epochs
    out = {"bench": "ctc", "threads": torch.get_num_threads(), "utterances": n,
           "ours_utterances_per_s": n / t_ours, "plain_utterances_per_s": n / t_plain, "ratio": t_plain / t_ours,
           "rtf_greedy": (t_post + t_greedy) / audio_seconds, "rtf_beam8": (t_post + t_beam) / audio_seconds,
           "rtf_beam8_lm": (t_post + t_beam_lm) / audio_seconds,
           "decode_audio_seconds": audio_seconds, "env": environment("cpu")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
