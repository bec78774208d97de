"""Interpolated modified Kneser-Ney n-gram counts and probabilities (Chen & Goodman 1998).

Shared by systems/ngram.py (the review's n-gram baseline) and systems/ctc.py (a word language
model for CTC beam search). For an order-k history h (k-1 words) and word w:

    P_k(w | h) = max(c_k(hw) - D_k(c_k(hw)), 0) / c_k(h•)  +  γ_k(h) P_{k-1}(w | h')
    γ_k(h)     = (D_k1 N_1(h•) + D_k2 N_2(h•) + D_k3+ N_3+(h•)) / c_k(h•)

h' is h without its first word; c_n are the counts of the highest order, and for lower
orders c_k(hw) = N_1+(•hw), the number of distinct words seen before hw (continuation
counts: a word that follows many contexts is a likely novel continuation); N_j(h•) is the
number of words following h with count j. A history never seen (c_k(h•) = 0) gives P_k = P_{k-1}.
The discounts come from the count-of-counts n_j of each order:

    Y = n_1 / (n_1 + 2 n_2),  D_1 = 1 - 2Y n_2/n_1,  D_2 = 2 - 3Y n_3/n_2,  D_3+ = 3 - 4Y n_4/n_3

and the recursion ends with the uniform distribution over the vocabulary: P_0(w) = 1/|V|.

Fast enough for millions of tokens: an n-gram is one int64 key Σ_j w_j |V|^(k-1-j), counts are
np.unique over all keys at once, and look-ups are np.searchsorted, for all positions together.
"""

import numpy as np
import torch
from torch import nn


def _keys(ids, k, V):
    """int64 keys of the k-grams ending at positions k-1 .. N-1 of ids ((N-k+1,))."""
    key = np.zeros(len(ids) - k + 1, dtype=np.int64)
    for j in range(k):
        key = key * V + ids[j:len(ids) - k + 1 + j]
    return key


def _discounts(counts):
    n = [int((counts == j).sum()) for j in (1, 2, 3, 4)]
    if min(n) == 0:  # too little data for count-of-counts: plain absolute discounting
        return np.array([0.0, 0.5, 0.75, 0.9])
    Y = n[0] / (n[0] + 2 * n[1])
    return np.array([0.0, 1 - 2 * Y * n[1] / n[0], 2 - 3 * Y * n[2] / n[1], 3 - 4 * Y * n[3] / n[2]])


class _Order:
    """Counts of one order: sorted gram keys and their counts, sorted history keys and their stats."""

    def __init__(self, keys, counts, V):
        self.keys, self.counts = keys, counts.astype(np.float64)  # sorted (G,)
        self.D = _discounts(counts)
        hist = keys // V  # history key of each gram (k-1 words)
        self.hist, inverse = np.unique(hist, return_inverse=True)  # (Hn,)
        self.total = np.bincount(inverse, weights=self.counts)  # c(h•)
        bucket = np.minimum(counts, 3)  # 1, 2, 3+
        # γ numerator: Σ over words after h of D(count bucket)
        self.gamma_num = np.bincount(inverse, weights=self.D[bucket])

    def lookup(self, sorted_keys, values, query):
        i = np.searchsorted(sorted_keys, query)
        i = np.minimum(i, len(sorted_keys) - 1)
        hit = sorted_keys[i] == query
        return np.where(hit, values[i], 0.0), hit


class KneserNey(nn.Module):
    """An n-gram model with the interface of the other language models: forward(x, y) -> (log p, loss).

    x holds (B, n-1) histories (ids), y (B,) next words; loss is the mean -log P(y | x) in nats.
    It has no trainable weights: `fit_counts(ids)` estimates it from a training stream.
    """

    def __init__(self, vocab_size, order=3):
        super().__init__()
        self.V, self.n = vocab_size, order
        if float(vocab_size) ** order >= 2**63:
            raise ValueError(f"order {order} with {vocab_size:,} words overflows int64 n-gram keys")
        self.orders = None

    def fit_counts(self, ids):
        """Count the n-grams of a training stream (ids: 1-D array or tensor)."""
        ids = np.asarray(ids, dtype=np.int64)
        V, n = self.V, self.n
        self.orders = [None] * (n + 1)
        top = np.unique(_keys(ids, n, V), return_counts=True)
        self.orders[n] = _Order(*top, V)
        for k in range(n - 1, 0, -1):
            # continuation counts: distinct (k+1)-grams, drop their first word, count the k-gram suffixes
            longer = self.orders[k + 1].keys
            self.orders[k] = _Order(*np.unique(longer % (V ** k), return_counts=True), V)
        return self

    def probs(self, hist, w):
        """P(w | hist) for arrays hist (N, n-1) and w (N,), positions in parallel (numpy float64)."""
        hist, w = np.asarray(hist, dtype=np.int64).reshape(len(w), self.n - 1), np.asarray(w, dtype=np.int64)
        V = self.V
        p = np.full(len(w), 1.0 / V)  # P_0: uniform
        for k in range(1, self.n + 1):
            o = self.orders[k]
            h = np.zeros(len(w), dtype=np.int64)
            for j in range(self.n - k, self.n - 1):  # the last k-1 history words
                h = h * V + hist[:, j]
            c, _ = o.lookup(o.keys, o.counts, h * V + w)
            total, seen = o.lookup(o.hist, o.total, h)
            gnum, _ = o.lookup(o.hist, o.gamma_num, h)
            d = o.D[np.minimum(c, 3).astype(np.int64)]
            safe = np.where(seen, total, 1.0)
            # P_k = max(c - D(c), 0) / c(h•) + γ(h) P_{k-1};  unseen history: P_k = P_{k-1}
            p = np.where(seen, np.maximum(c - d, 0.0) / safe + gnum / safe * p, p)
        return p

    def forward(self, x, y=None):
        p = torch.from_numpy(self.probs(x.cpu().numpy(), y.cpu().numpy()))
        logp = p.log()
        return logp, -logp.mean()


def contexts(ids, n):
    """(histories (N, n-1), targets (N,)) for every position of a stream with n-1 words before it."""
    ids = np.asarray(ids, dtype=np.int64)
    N = len(ids) - n + 1
    hist = np.stack([ids[j:j + N] for j in range(n - 1)], axis=1) if n > 1 else np.zeros((N, 0), np.int64)
    return hist, ids[n - 1:]  # (N, n-1), (N,)


def perplexity(model, ids, context=()):
    """exp(mean -log P) over every token of `ids`, each with the n-1 tokens before it (from `context` at the start)."""
    full = np.concatenate([np.asarray(context, dtype=np.int64)[-(model.n - 1):] if model.n > 1 else [],
                           np.asarray(ids, dtype=np.int64)]).astype(np.int64)
    hist, w = contexts(full, model.n)
    return float(np.exp(-np.log(model.probs(hist, w)).mean()))
