"""Recurrent cells written out gate by gate, and a multi-layer wrapper.

A recurrent net reads a sequence one element at a time and keeps a state vector that
summarises what it has seen; unfolded in time it is a deep feed-forward net whose layers
share their weights (the review's Figure 5). The cells below compute one step each; the
parameter names and gate orders are those of torch.nn.RNN/LSTM/GRU (weight_ih, weight_hh,
bias_ih, bias_hh), so weights can be copied either way and the cells tested equal to the
fused kernels (tests/test_recurrent.py). `Recurrent(fused=True)` runs the same maths through
torch's fused kernels (cuDNN on a GPU, oneDNN on a CPU) where the written-out loop is not needed.

Shapes: inputs (B, T, D), outputs (B, T, H); states (L, B, H) for L layers (an LSTM's state
is the pair (h, c)). A mask (B, T) of 1/0 keeps the state unchanged at padded steps.
"""

import math

import torch
from torch import nn

MODES = ("rnn", "lstm", "gru")
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class _Cell(nn.Module):
    def __init__(self, input_size, hidden_size, gates):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(gates * hidden_size))
        self.reset_parameters()

    def reset_parameters(self):
        # torch's default for its recurrent layers: U(-1/sqrt(H), 1/sqrt(H)) for every weight
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)


class RNNCell(_Cell):
    """Elman tanh unit: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size, 1)

    def forward(self, x, h):
        """x (B, D), h (B, H) -> h_t (B, H)."""
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)


class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)  candidate
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    memory cell: an additive path through time
        h_t = o_t ⊙ tanh(c_t)
    """

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size, 4)

    def forward(self, x, state):
        """x (B, D), state (h, c) each (B, H) -> (h_t, c_t)."""
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        zi, zf, zg, zo = z.chunk(4, dim=1)  # four (B, H) blocks, torch's gate order i, f, g, o
        i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
        c = f * c + i * g  # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h = o * torch.tanh(c)  # h_t = o_t ⊙ tanh(c_t)
        return h, c


class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014), in torch's form:

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)              reset gate
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)              update gate
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))   candidate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    """

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size, 3)

    def forward(self, x, h):
        """x (B, D), h (B, H) -> h_t (B, H)."""
        gx = x @ self.weight_ih.T + self.bias_ih  # (B, 3H)
        gh = h @ self.weight_hh.T + self.bias_hh  # (B, 3H)
        xr, xz, xn = gx.chunk(3, dim=1)  # (B, H) each, torch's gate order r, z, n
        hr, hz, hn = gh.chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)  # the reset gate scales the recurrent part only
        return (1 - z) * n + z * h  # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
_FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(nn.Module):
    """A stack of `num_layers` recurrent layers, dropout between layers (not after the last).

    fused=False: the written-out cells above, one Python step per time step (any mask, every
    state inspectable). fused=True: torch's nn.RNN/LSTM/GRU with the same parameters, much
    faster; a mask is then not supported (language models over a running text need none).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, dropout=0.0, fused=False):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode, self.hidden_size, self.num_layers, self.fused = mode, hidden_size, num_layers, fused
        self.dropout = dropout
        if fused:
            self.net = _FUSED[mode](input_size, hidden_size, num_layers, batch_first=True,
                                    dropout=dropout if num_layers > 1 else 0.0)
        else:
            self.cells = nn.ModuleList(
                CELLS[mode](input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers))
            self.drop = nn.Dropout(dropout)

    def initial_state(self, batch, device=None, dtype=None):
        h = torch.zeros(self.num_layers, batch, self.hidden_size, device=device, dtype=dtype)  # (L, B, H)
        return (h, h.clone()) if self.mode == "lstm" else h

    def forward(self, x, state=None, mask=None):
        """x (B, T, D), state (L, B, H) or LSTM pair, mask (B, T) -> (out (B, T, H), last state)."""
        B, T, _ = x.shape
        if state is None:
            state = self.initial_state(B, x.device, x.dtype)
        if self.fused:
            if mask is not None:
                raise ValueError("the fused path takes no mask; use fused=False")
            return self.net(x, state)
        lstm = self.mode == "lstm"
        hs, cs = (list(state[0].unbind(0)), list(state[1].unbind(0))) if lstm else (list(state.unbind(0)), None)
        layer_in = x
        for k, cell in enumerate(self.cells):
            if k > 0:
                layer_in = self.drop(layer_in)
            outs = []
            for t in range(T):
                if lstm:
                    h, c = cell(layer_in[:, t], (hs[k], cs[k]))
                else:
                    h = cell(layer_in[:, t], hs[k])
                if mask is not None:
                    m = mask[:, t, None].to(h.dtype)  # (B, 1): padded steps keep the old state
                    h = m * h + (1 - m) * hs[k]
                    if lstm:
                        c = m * c + (1 - m) * cs[k]
                hs[k] = h
                if lstm:
                    cs[k] = c
                outs.append(h)
            layer_in = torch.stack(outs, dim=1)  # (B, T, H)
        last = (torch.stack(hs), torch.stack(cs)) if lstm else torch.stack(hs)  # (L, B, H)
        return layer_in, last


def copy_weights(src, dst):
    """Copy the parameters of one Recurrent (or torch nn.RNN/LSTM/GRU) into another of the same shape."""
    def layers(m):
        if isinstance(m, Recurrent):
            m = m.net if m.fused else m.cells
        if isinstance(m, nn.ModuleList):
            return [{n: getattr(c, n) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")} for c in m]
        return [{n: getattr(m, f"{n}_l{k}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
                for k in range(m.num_layers)]

    with torch.no_grad():
        for a, b in zip(layers(src), layers(dst), strict=True):
            for n in a:
                b[n].copy_(a[n])
    return dst


def detach_state(state):
    """Cut the graph at a state (truncated backprop through time), keeping its values."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
