"""Soft attention: a query looks at a set of vectors and takes their weighted average.

The review ("Recurrent neural networks"; Figure 3): RNNs do better when they learn to focus on
one part of the input at a time, e.g. the source words being translated, or an image region
while a caption word is produced. Given queries q_i (decoder states) and keys/values k_j
(encoder states of source words or image regions):

    e_ij = score(q_i, k_j)                   how well position j matches query i
    a_ij = exp(e_ij) / Σ_j' exp(e_ij')       attention weights over the positions (rows sum to 1)
    c_i  = Σ_j a_ij k_j                      context vector handed back to the decoder

Two scores are provided:
    additive (Bahdanau et al. 2015):         e_ij = v^T tanh(W q_i + U k_j)
    dot-product, "general" (Luong et al. 2015): e_ij = q_i^T W k_j
Positions where `mask` is False (padding) get weight exactly 0, so padding never changes a result.

Shapes: queries (B, T, Dq), keys (B, S, Dk), mask (B, S) bool -> context (B, T, Dk), weights (B, T, S).
Used by systems/seq2seq.py (translation); image captioning reuses it over image regions.
"""

import torch
from torch import nn


def _masked_softmax(scores, mask):
    """softmax over the last axis of scores (B, T, S), positions with mask (B, S) False set to weight 0."""
    if mask is not None:
        if not bool(mask.any(dim=1).all()):
            raise ValueError("attention mask: every sequence needs at least one unmasked position")
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))  # (B, 1, S) broadcast over T
    return torch.softmax(scores.float(), dim=-1).to(scores.dtype)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. 2015: e_ij = v^T tanh(W q_i + U k_j), a one-hidden-layer net scoring each pair."""

    def __init__(self, query_size, key_size, attn_size):
        super().__init__()
        self.W = nn.Linear(query_size, attn_size, bias=False)
        self.U = nn.Linear(key_size, attn_size, bias=True)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def project_keys(self, keys):
        """U k_j for every position (B, S, A): computed once per source sentence, reused at every step."""
        return self.U(keys)

    def forward(self, queries, keys, mask=None, projected=None):
        """queries (B, T, Dq), keys (B, S, Dk), mask (B, S) -> (context (B, T, Dk), weights (B, T, S))."""
        uk = self.project_keys(keys) if projected is None else projected  # (B, S, A)
        wq = self.W(queries)  # (B, T, A)
        e = self.v(torch.tanh(wq[:, :, None, :] + uk[:, None, :, :])).squeeze(-1)  # (B, T, S, A) -> (B, T, S)
        a = _masked_softmax(e, mask)  # (B, T, S)
        return a @ keys, a  # (B, T, S) @ (B, S, Dk) -> (B, T, Dk)


class DotAttention(nn.Module):
    """Luong et al. 2015, "general": e_ij = q_i^T W k_j (scaled by 1/sqrt(Dk) when `scaled`)."""

    def __init__(self, query_size, key_size, scaled=False):
        super().__init__()
        self.W = nn.Linear(key_size, query_size, bias=False)
        self.scale = key_size ** -0.5 if scaled else 1.0

    def project_keys(self, keys):
        return self.W(keys)  # (B, S, Dq)

    def forward(self, queries, keys, mask=None, projected=None):
        """queries (B, T, Dq), keys (B, S, Dk), mask (B, S) -> (context (B, T, Dk), weights (B, T, S))."""
        wk = self.project_keys(keys) if projected is None else projected  # (B, S, Dq)
        e = (queries @ wk.transpose(1, 2)) * self.scale  # (B, T, Dq) @ (B, Dq, S) -> (B, T, S)
        a = _masked_softmax(e, mask)
        return a @ keys, a
