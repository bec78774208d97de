"""Synthetic algorithmic tasks of the Neural Turing Machine paper (Graves, Wayne & Danihelka 2014, section 4).

These tasks are synthetic by definition: the paper draws fresh random sequences for every
training example. Each generator here takes a `torch.Generator`, so a batch is fully fixed by
its seed; `sampler(task, seed)` gives the batch of training step s from a generator seeded
with (seed, s), which lets a killed run resume on exactly the batches it would have seen.

Every task returns a `Batch(x, y, mask)`:
    x     (B, T, in_size)   inputs, one vector per time step (data bits plus flag channels)
    y     (B, T, out_size)  targets (zeros where no output is expected)
    mask  (B, T)            True on the steps whose outputs are scored
All sequences of one batch share their length (one length is drawn per batch), so a batch
is a plain tensor with no padding.

Tasks (section numbers of the paper):
    copy (4.1)               a sequence of random binary vectors, a delimiter, then the copy is output
    repeat_copy (4.2)        the sequence, then a repeat count; output the sequence that many times and an end marker
    associative_recall (4.3) items of 3 vectors; given one item as a query, output the item that followed it
    priority_sort (4.5)      20 vectors each with a scalar priority in [-1, 1]; output the 16 of highest
                             priority, highest first

This is not an entry of deepnet.data.DATASETS: there are no files to find, fetch or verify.
"""

from typing import NamedTuple

import torch


class Batch(NamedTuple):
    x: torch.Tensor  # (B, T, in_size)
    y: torch.Tensor  # (B, T, out_size)
    mask: torch.Tensor  # (B, T) bool


def _bits(batch, length, bits, g):
    """(B, length, bits) random binary vectors, each bit 0 or 1 with probability 1/2."""
    return torch.randint(0, 2, (batch, length, bits), generator=g).float()


def copy(batch, length, bits=8, generator=None):
    """Copy (section 4.1). in_size bits + 1 (delimiter channel), out_size bits, T = 2 * length + 1.

    Steps 0..L-1 show the sequence, step L raises the delimiter, steps L+1..2L have no input and
    must output the sequence again.
    """
    L = length
    seq = _bits(batch, L, bits, generator)  # (B, L, bits)
    x = torch.zeros(batch, 2 * L + 1, bits + 1)
    x[:, :L, :bits] = seq
    x[:, L, bits] = 1.0  # the delimiter flag
    y = torch.zeros(batch, 2 * L + 1, bits)
    y[:, L + 1:] = seq
    mask = torch.zeros(batch, 2 * L + 1, dtype=torch.bool)
    mask[:, L + 1:] = True
    return Batch(x, y, mask)


def repeat_copy(batch, length, repeats, bits=8, max_repeats=10, generator=None):
    """Repeat copy (section 4.2). in_size bits + 2, out_size bits + 1, T = L + 2 + repeats * L + 1.

    After the sequence, channel bits+1 carries the repeat count, normalised by max_repeats (the
    paper normalises the count to keep it in a range the network sees in training). The output
    is the sequence `repeats` times, then an end marker on channel bits.
    """
    L, R = length, repeats
    seq = _bits(batch, L, bits, generator)
    T = L + 2 + R * L + 1
    x = torch.zeros(batch, T, bits + 2)
    x[:, :L, :bits] = seq
    x[:, L, bits] = 1.0  # delimiter
    x[:, L + 1, bits + 1] = R / max_repeats  # the repeat count
    y = torch.zeros(batch, T, bits + 1)
    y[:, L + 2:L + 2 + R * L, :bits] = seq.repeat(1, R, 1)  # (B, R*L, bits)
    y[:, -1, bits] = 1.0  # end marker
    mask = torch.zeros(batch, T, dtype=torch.bool)
    mask[:, L + 2:] = True
    return Batch(x, y, mask)


def associative_recall(batch, items, bits=6, item_len=3, generator=None):
    """Associative recall (section 4.3). in_size bits + 2, out_size bits.

    `items` items of `item_len` vectors, each item preceded by a delimiter on channel bits; then a
    query delimiter (channel bits+1), one of the items but the last as the query, a second query
    delimiter, and the item that followed the query in the sequence is the target.
    """
    n, k = items, item_len
    seq = _bits(batch, n * k, bits, generator).view(batch, n, k, bits)  # (B, items, item_len, bits)
    q = torch.randint(0, n - 1, (batch,), generator=generator)  # query index; its successor is the answer
    T = n * (k + 1) + 1 + k + 1 + k
    x = torch.zeros(batch, T, bits + 2)
    for i in range(n):  # a handful of items: a Python loop over them is cheap
        x[:, i * (k + 1), bits] = 1.0
        x[:, i * (k + 1) + 1:(i + 1) * (k + 1), :bits] = seq[:, i]
    rows = torch.arange(batch)
    start = n * (k + 1)
    x[:, start, bits + 1] = 1.0
    x[:, start + 1:start + 1 + k, :bits] = seq[rows, q]
    x[:, start + 1 + k, bits + 1] = 1.0
    y = torch.zeros(batch, T, bits)
    y[:, T - k:] = seq[rows, q + 1]
    mask = torch.zeros(batch, T, dtype=torch.bool)
    mask[:, T - k:] = True
    return Batch(x, y, mask)


def priority_sort(batch, n_in=20, n_out=16, bits=8, generator=None):
    """Priority sort (section 4.5). in_size bits + 2, out_size bits, T = n_in + 1 + n_out.

    Each of the n_in input vectors comes with a priority drawn uniformly from [-1, 1] on channel
    bits; a delimiter (channel bits+1) follows; the target is the n_out vectors of highest
    priority, sorted from highest to lowest.
    """
    seq = _bits(batch, n_in, bits, generator)  # (B, n_in, bits)
    prio = torch.rand(batch, n_in, generator=generator) * 2 - 1  # U[-1, 1]
    T = n_in + 1 + n_out
    x = torch.zeros(batch, T, bits + 2)
    x[:, :n_in, :bits] = seq
    x[:, :n_in, bits] = prio
    x[:, n_in, bits + 1] = 1.0
    order = prio.argsort(dim=1, descending=True)[:, :n_out]  # (B, n_out) indices, highest priority first
    y = torch.zeros(batch, T, bits)
    y[:, n_in + 1:] = torch.gather(seq, 1, order[..., None].expand(-1, -1, bits))
    mask = torch.zeros(batch, T, dtype=torch.bool)
    mask[:, n_in + 1:] = True
    return Batch(x, y, mask)


def sizes(task, bits=8):
    """(in_size, out_size) of a task's vectors."""
    return {"copy": (bits + 1, bits), "repeat_copy": (bits + 2, bits + 1),
            "associative_recall": (bits + 2, bits), "priority_sort": (bits + 2, bits)}[task]


def make(task, batch, length, bits, generator, **opts):
    """One batch of `task`; `length` is the copy length, the number of items (recall) or of inputs (sort)."""
    if task == "copy":
        return copy(batch, length, bits, generator)
    if task == "repeat_copy":
        return repeat_copy(batch, length, opts.get("repeats", 3), bits, opts.get("max_repeats", 10), generator)
    if task == "associative_recall":
        return associative_recall(batch, length, bits, opts.get("item_len", 3), generator)
    if task == "priority_sort":
        return priority_sort(batch, length, opts.get("n_out", 16), bits, generator)
    raise ValueError(f"unknown algorithmic task {task!r}")


def generator(seed, index=0):
    """A torch.Generator fixed by (seed, index): the same batch every time it is asked for."""
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


def sampler(task, seed, batch, min_len, max_len, bits=8, **opts):
    """step -> Batch: the training batch of that step, its length drawn uniformly in [min_len, max_len].

    draw(step, longest) draws in [min_len, longest] instead (a length curriculum, see systems/ntm.py).
    """

    def draw(step, longest=None):
        g = generator(seed, step)
        hi = max_len if longest is None else max(min_len, min(longest, max_len))
        length = int(torch.randint(min_len, hi + 1, (1,), generator=g))
        return make(task, batch, length, bits, g, **opts)

    return draw


def fixed_set(task, lengths, n, seed, bits=8, **opts):
    """{length: Batch of n sequences}: a validation or test set, fixed by its seed."""
    return {L: make(task, n, L, bits, generator(seed, 10_000 + L), **opts) for L in lengths}
