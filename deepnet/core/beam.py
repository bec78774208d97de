"""Token sequences of the decoders (translation, captioning): padding them into a batch, and beam search.

pad_ids pads lists of ids into one (N, L) tensor, cutting any longer than max_len to its first
max_len - 1 ids and the end-of-sequence id. Beam search keeps the K best partial outputs:

A hypothesis that emits <eos> is finished with score log P / length^alpha (length normalisation;
alpha = 0: none). A sequence stops when K hypotheses are finished and the best live one, normalised
at the current length, scores no better than the K-th best finished one (exact for alpha = 0, where
scores only fall; the usual heuristic otherwise), or at its length limit (live hypotheses are then
finished as they are). Each sequence's result depends on that sequence alone, never on its batch-mates.

The decoder is given as two functions over the B*K rows (the K beams of a sequence adjacent):
    step(y (B*K,) previous word ids, state) -> (log-probabilities (B*K, V), state, weights (B*K, S) or None)
    reorder(state, rows (B*K,)) -> state whose row i is row rows[i] of the given one
`weights` (e.g. attention) are kept along each hypothesis and returned with it.
"""

import torch


def pad_ids(seqs, pad, eos, max_len=None):
    """Lists of ids -> (N, L) int64 filled with `pad`; a list longer than max_len keeps max_len - 1 ids and `eos`."""
    if max_len is not None:
        seqs = [s if len(s) <= max_len else s[:max_len - 1] + [eos] for s in seqs]
    out = torch.full((len(seqs), max(len(s) for s in seqs)), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def _settled(finished, live, K, norm):
    if len(finished) < K:
        return False
    kth = sorted((f[0] for f in finished), reverse=True)[K - 1]
    return not live or live[0][0] / norm <= kth


@torch.no_grad()
def beam_search(step, reorder, state, batch, beam, limits, bos, eos, alpha=1.0, device="cpu"):
    """-> (list of B id lists without <eos>, list of B (T, S) weight tensors or None). state: rows already
    repeated K times (B*K); limits: B per-sequence maximum lengths."""
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    B, K, dev = batch, beam, device
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # at the start only one hypothesis per sequence is live
    y = torch.full((B * K,), bos, dtype=torch.long, device=dev)
    hist = torch.zeros((B * K, 0), dtype=torch.long, device=dev)  # words so far of each live hypothesis
    ahist = None  # (B*K, t, S) weights so far
    finished = [[] for _ in range(B)]  # (normalised score, ids, weights) per sequence
    done = [False] * B
    for t in range(max(limits)):
        logp, state, a = step(y, state)  # (B*K, V)
        logp = logp.float()
        V = logp.shape[1]
        if a is not None:
            a = a.float()[:, None]  # (B*K, 1, S)
            ahist = a if ahist is None else torch.cat([ahist, a], dim=1)  # (B*K, t+1, S)
        total = (scores.reshape(-1, 1) + logp).view(B, K * V)  # (B, K*V): score of every extension
        top, idx = total.topk(min(2 * K, K * V), dim=1)  # (B, 2K): enough to find K that do not end
        top_l, beam_l, tok_l = top.tolist(), (idx // V).tolist(), (idx % V).tolist()
        new_scores = torch.full((B, K), float("-inf"), device=dev)
        src_beam = torch.zeros((B, K), dtype=torch.long)
        new_tok = torch.full((B, K), eos, dtype=torch.long)
        for b in range(B):
            if done[b]:
                continue
            live = []
            for s, k, w in zip(top_l[b], beam_l[b], tok_l[b]):
                if s == float("-inf"):
                    break
                row = b * K + k
                if w == eos or t + 1 >= limits[b]:  # ended, or cut at the limit (then kept as it is)
                    ids = hist[row].tolist() + ([] if w == eos else [w])
                    att = ahist[row].cpu() if ahist is not None else None
                    finished[b].append((s / (t + 1) ** alpha, ids, att))
                else:
                    live.append((s, k, w))
                    if len(live) == K:
                        break
            if t + 1 >= limits[b] or _settled(finished[b], live, K, (t + 1) ** alpha):
                done[b] = True
                continue
            for j, (s, k, w) in enumerate(live):
                new_scores[b, j], src_beam[b, j], new_tok[b, j] = s, k, w
        if all(done):
            break
        sel = (torch.arange(B)[:, None] * K + src_beam).view(-1).to(dev)  # (B*K,) rows the new beams extend
        y = new_tok.view(-1).to(dev)
        hist = torch.cat([hist[sel], y[:, None]], dim=1)
        ahist = ahist[sel] if ahist is not None else None
        state = reorder(state, sel)
        scores = new_scores
    out, out_att = [], []
    for b in range(B):
        best = max(finished[b], key=lambda f: f[0])
        out.append(best[1])
        out_att.append(best[2])
    return out, out_att
