"""An LSTM decoder that writes a sequence from a set of feature vectors, looking at them through soft attention.

Xu et al. 2015 ("Show, Attend and Tell", Section 3.1.2 and 4.2), over annotation vectors a_1..a_R
(the regions of an image, (B, R, D)) and the previous word y_{t-1}:

    h_0 = tanh(W_h mean_i a_i),  c_0 = tanh(W_c mean_i a_i)      initial state from the mean feature
    e_ti = f_att(a_i, h_{t-1}) = v^T tanh(W h_{t-1} + U a_i)       additive score (core/attention.py)
    α_ti = exp(e_ti) / Σ_k exp(e_tk)                                where to look for word t
    β_t  = σ(f_β(h_{t-1}))                                          gating scalar: how much to look
    z_t  = β_t Σ_i α_ti a_i                                         context vector
    (h_t, c_t) = LSTM([E y_{t-1}; z_t], (h_{t-1}, c_{t-1}))
    p(y_t | a, y_<t) ∝ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t))      deep output layer

Without attention (`attention=False`) z_t = mean_i a_i at every step, otherwise the same decoder:
the baseline that sees the image only as one pooled vector. The doubly stochastic penalty
λ Σ_i (1 - Σ_t α_ti)^2 (Xu et al. eq. 14) is computed by `attention_penalty`.

Shapes: feats (B, R, D), mask (B, R) bool or None, words (B,) or (B, T) int64 ids -> logits (B, [T,] V).
Used by systems/captioning.py; the translation decoder (systems/seq2seq.py) attends after its LSTM
instead (Luong et al.'s placement), which lets it run one fused LSTM kernel over a whole sentence.
"""

import torch
from torch import nn

from deepnet.core.attention import AdditiveAttention


def masked_mean(feats, mask):
    """mean over the R axis of feats (B, R, D), positions with mask (B, R) False left out."""
    if mask is None:
        return feats.mean(1)
    m = mask[..., None].to(feats.dtype)  # (B, R, 1)
    return (feats * m).sum(1) / m.sum(1).clamp(min=1)


class AttentiveLSTMDecoder(nn.Module):
    """feats (B, R, D) + previous words -> next-word logits, one step at a time (or a teacher-forced sequence)."""

    def __init__(self, feat_size, vocab, embed, hidden, attn_size, attention=True, dropout=0.0, pad=0, mean_init=True):
        super().__init__()
        self.mean_init = mean_init  # False: (h_0, c_0) = 0, so that the image is seen only through z_t
        D, E, H = feat_size, embed, hidden
        self.init_h, self.init_c = nn.Linear(D, H), nn.Linear(D, H)  # W_h, W_c
        self.embed = nn.Embedding(vocab, E, padding_idx=pad)  # E
        self.attn = AdditiveAttention(H, D, attn_size) if attention else None  # f_att
        self.gate = nn.Linear(H, 1) if attention else None  # f_β
        self.cell = nn.LSTMCell(E + D, H)
        self.L_h, self.L_z = nn.Linear(H, E), nn.Linear(D, E, bias=False)
        self.L_o = nn.Linear(E, vocab)
        self.drop = nn.Dropout(dropout)

    def start(self, feats, mask=None):
        """-> (state (h_0, c_0) each (B, H), memo): memo holds what every step reuses (U a_i, or the mean)."""
        mean = masked_mean(feats, mask)  # (B, D)
        if self.mean_init:
            state = (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))
        else:
            zero = feats.new_zeros(feats.shape[0], self.cell.hidden_size)
            state = (zero, zero)
        memo = self.attn.project_keys(feats) if self.attn is not None else mean  # (B, R, A) or (B, D)
        return state, memo

    def step(self, y_prev, state, feats, mask, memo):
        """y_prev (B,) -> (logits (B, V), state, α (B, R) or None)."""
        h, c = state
        if self.attn is not None:
            ctx, a = self.attn(h[:, None], feats, mask, memo)  # (B, 1, D), (B, 1, R): looks from h_{t-1}
            beta = torch.sigmoid(self.gate(h))  # (B, 1): β_t
            z, a = beta * ctx[:, 0], a[:, 0]  # z_t = β_t Σ_i α_ti a_i
        else:
            z, a = memo, None  # the pooled image at every step
        e = self.embed(y_prev)  # (B, E)
        h, c = self.cell(torch.cat([self.drop(e), z], dim=-1), (h, c))
        logits = self.L_o(self.drop(e + self.L_h(h) + self.L_z(z)))  # deep output layer
        return logits, (h, c), a

    def forward(self, feats, mask, inp):
        """Teacher forcing: inp (B, T) = y_0 .. y_{T-1} -> (logits (B, T, V), α (B, T, R) or None)."""
        state, memo = self.start(feats, mask)
        logits, alphas = [], []
        for t in range(inp.shape[1]):
            lt, state, a = self.step(inp[:, t], state, feats, mask, memo)
            logits.append(lt)
            if a is not None:
                alphas.append(a)
        return torch.stack(logits, 1), (torch.stack(alphas, 1) if alphas else None)


def attention_penalty(alphas, keep):
    """Xu et al. eq. 14, Σ_i (1 - Σ_t α_ti)^2 averaged over the batch: pushes every region to be looked at
    about once over the caption. alphas (B, T, R), keep (B, T) bool: the steps that are words, not padding."""
    total = (alphas * keep[..., None].to(alphas.dtype)).sum(1)  # (B, R): Σ_t α_ti
    return ((1 - total) ** 2).sum(1).mean()
