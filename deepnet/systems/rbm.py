"""Restricted Boltzmann machines and deep belief nets: unsupervised pre-training, layer by layer.

The review ("The return of neural networks" and "Unsupervised learning"): unsupervised learning
procedures can create layers of feature detectors without labelled data; each layer learns to
model the activities of the feature detectors (or raw inputs) in the layer below, and the
stack then initialises a deep feed-forward net that backpropagation fine-tunes. The layers are
restricted Boltzmann machines (Hinton, Osindero & Teh 2006; Hinton & Salakhutdinov 2006).

An RBM has visible units v (V of them) and binary hidden units h (H), weights W (H × V, the
layout of nn.Linear's weight: row j holds the weights into hidden unit j), visible biases b and
hidden biases c. Its energy and joint distribution:

    Bernoulli visible units (v in {0, 1}^V):   E(v, h) = −b·v − c·h − hᵀ W v
    Gaussian visible units of unit variance:    E(v, h) = ||v − b||² / 2 − c·h − hᵀ W v
    p(v, h) = exp(−E(v, h)) / Z,   Z = Σ_v Σ_h exp(−E(v, h))   (∫ dv for Gaussian units)

Summing the hidden units out gives the free energy F, with p(v) = exp(−F(v)) / Z:

    Bernoulli:  F(v) = −b·v − Σ_j softplus(c_j + W_j v)
    Gaussian:   F(v) = ||v − b||² / 2 − Σ_j softplus(c_j + W_j v)          softplus(x) = log(1 + eˣ)

No connections within a layer, so each layer is independent given the other:

    p(h_j = 1 | v) = σ(c_j + W_j v)
    p(v_i = 1 | h) = σ(b_i + (Wᵀ h)_i)                 (Bernoulli)
    p(v | h)       = N(b + Wᵀ h, I)                    (Gaussian)

and block Gibbs sampling alternates the two. The log-likelihood gradient is the difference of
two expectations, the positive phase (data) minus the negative phase (model):

    ∂ log p(v) / ∂W_ji = <h_j v_i>_data − <h_j v_i>_model,  ∂/∂b_i = <v_i>_data − <v_i>_model,
    ∂/∂c_j = <h_j>_data − <h_j>_model

Contrastive divergence CD-k (Hinton 2002) estimates the model term with k Gibbs steps started at
the data; persistent CD (PCD-k, Tieleman 2008) with k steps of fantasy chains that carry on from
one update to the next. Positive-phase statistics use p(h|v) rather than sampled h (less noise,
Hinton 2010 section 3); the chains' states are sampled (exact Gibbs steps). The updates follow
Hinton's practical guide ("A practical guide to training restricted Boltzmann machines", UTML
TR 2010-003): batch-mean gradients, momentum

    Δθ ← μ Δθ + ε (∂ log p / ∂θ − λ θ)        θ ← θ + Δθ       (λ on the weights only)

with μ = 0.5 for each layer's first 5 epochs then 0.9 (section 9), λ = 2e-4 (section 10), weights
from N(0, 0.01²), visible biases log(p_i / (1 − p_i)) with p_i the training data's mean of unit i,
hidden biases 0 (section 8). The gradient is written out here; there is no autograd and no
optimiser object (the momentum buffers are the optimiser's state, and go into the checkpoint's
`carry`).

Bernoulli visible units read image intensities in [0, 1] as probabilities (MNIST's uint8 pixels
are divided by 255). Gaussian units of unit variance want standardised data: each pixel is
standardised with the training set's mean and standard deviation (the latter floored at
STD_FLOOR, for pixels that are almost always blank), kept as buffers of the model, so a loaded
model reads raw pixels; reconstruction errors, free energies and log-densities of a Gaussian
RBM are in those standardised units.

A deep belief net (DBN) is a stack of RBMs (Config.layers: hidden widths, bottom first) trained
greedily: layer l is trained on p(h|v) of layer l − 1 for the training data (probabilities, not
samples), its visible biases initialised from those. `unroll` turns the stack into a
feed-forward classifier (core/feedforward.py's MLP with logistic units) for fine-tuning by
backpropagation with the engine; `sample` runs Gibbs chains in the top RBM and maps the result
down (the DBN's generative model); `ais_log_z` estimates an RBM's log partition function by
annealed importance sampling (Salakhutdinov & Murray 2008) and `exact_log_z` computes it by
enumeration for small RBMs.

The system interface (systems/__init__.py): forward(x, y) returns (reconstruction, loss) with the
loss the reconstruction error Σ_i (v_i − v̂_i)², summed over the visible units and averaged over
the batch, v̂ the mean-field up-down pass through the whole stack (p(h|v) up, E[v|h] down). It is
what `deepnet train` shows and `deepnet eval` reports; it is a monitor, not the objective (the
guide, section 5). `fit` is this file's own loop on core/run.py's Run.
"""

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.core.config import config_from_dict
from deepnet.core.feedforward import MLP
from deepnet.core.progress import Progress
from deepnet.core.run import Run
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.train import TrainConfig, batches, lr_factor
from deepnet.data.common import ArrayDataset
from deepnet.errors import ConfigError, TrainingDiverged

# `deepnet train rbm --data mnist` (or digits): this file's own loop (fit below) on the data as loaded
# (the interface: systems/__init__.py)
TRAINS_ON = ("mnist", "digits")
load_data = prepare_data = None

# `deepnet train rbm`'s recipe: Hinton's practical guide (2010) and the MNIST code of Hinton &
# Salakhutdinov 2006 that it describes: minibatches of 100 (guide section 4), learning rate 0.1 for
# binary visible units (section 7; Gaussian ones want one or two orders of magnitude less, section 13.2:
# e.g. --lr 0.005), momentum 0.5 for 5 epochs then 0.9 (section 9), weight decay 2e-4 on the weights
# (section 10). 10 epochs of CD-1 for the 784-500 RBM on MNIST's 55,000 training digits took 33 s on one
# thread. Validation reconstruction error (squared, summed over the 784 pixels; 52.7 untrained) after
# those 10 epochs: 6.04 at rate 0.1, 5.27 at 0.03, 9.84 at 0.3. The guide's 0.1 is kept: a
# reconstruction error is a monitor, not the objective (section 5), and which rate gives the better
# density model is the experiments' question (AIS log-likelihoods), not this monitor's.
TRAIN_CONFIG = TrainConfig(epochs=10, batch_size=100, lr=0.1, momentum=0.9, weight_decay=2e-4,
                           eval_batch_size=1000)

STD_FLOOR = 0.1  # Gaussian visible units: the least per-pixel standard deviation data are divided by
RATE_EPS = 1e-3  # visible-bias init and base rates: proportions clamped to [eps, 1 - eps] (log-odds finite)


@dataclass
class Config:
    """A restricted Boltzmann machine, or a deep belief net (a stack of them trained greedily, bottom first)."""

    # hidden units of each RBM, bottom first (one value: a single RBM; several, e.g. 500 500 2000: a deep belief
    # net, each layer trained on the hidden probabilities of the one below); range [1, 65536], 1 to 16 values
    layers: tuple[int, ...] = (500,)
    # the bottom layer's visible units: bernoulli (intensities in [0, 1] read as probabilities) or gaussian
    # (unit variance; each pixel standardised with the training set's mean and deviation)
    visible: Literal["bernoulli", "gaussian"] = "bernoulli"
    cd_steps: int = 1  # Gibbs steps k of the negative phase (CD-k, or PCD-k with --persistent); range [1, 1000]
    persistent: bool = False  # persistent CD (Tieleman 2008): fantasy chains, one per example of a batch, kept between updates
    init_std: float = 0.01  # weights start N(0, init_std^2) (the guide: 0.01); range [0, 1]
    momentum_start: float = 0.5  # momentum of each layer's first --momentum-epochs epochs, then --momentum; range [0, 1)
    momentum_epochs: int = 5  # epochs of each layer at --momentum-start (the guide: 5); range [0, 100000]


# ---------------------------------------------------------------------------------------------
# One RBM


class RBM(nn.Module):
    """V visible units, H binary hidden units: weight W (H, V), visible_bias b (V,), hidden_bias c (H,).

    Every method takes batches: v (B, V), h (B, H). The parameters are trained by cd_update (no
    autograd), so they do not require gradients.
    """

    def __init__(self, n_visible, n_hidden, visible="bernoulli", init_std=0.01):
        super().__init__()
        if visible not in ("bernoulli", "gaussian"):
            raise ConfigError(f"visible units are bernoulli or gaussian, not {visible!r}")
        self.visible = visible
        self.weight = nn.Parameter(torch.randn(n_hidden, n_visible) * init_std, requires_grad=False)  # W ~ N(0, s²)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible), requires_grad=False)  # b
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden), requires_grad=False)  # c

    @property
    def n_visible(self):
        return self.weight.shape[1]

    @property
    def n_hidden(self):
        return self.weight.shape[0]

    def hidden_input(self, v):
        """c + W v for each example: (B, V) -> (B, H)."""
        return F.linear(v, self.weight, self.hidden_bias)  # v Wᵀ + c

    def hidden_probs(self, v):
        """p(h_j = 1 | v) = σ(c_j + W_j v): (B, V) -> (B, H)."""
        return torch.sigmoid(self.hidden_input(v))

    def visible_input(self, h):
        """b + Wᵀ h for each example: (B, H) -> (B, V)."""
        return torch.addmm(self.visible_bias, h, self.weight)  # h W + b

    def visible_mean(self, h):
        """E[v | h]: σ(b + Wᵀ h) for Bernoulli units (the probabilities), b + Wᵀ h for Gaussian ones."""
        x = self.visible_input(h)
        return torch.sigmoid(x) if self.visible == "bernoulli" else x

    def sample_hidden(self, v, generator=None):
        """(p(h|v), h ~ p(h|v))."""
        p = self.hidden_probs(v)
        return p, _bernoulli(p, generator=generator)

    def sample_visible(self, h, generator=None):
        """(E[v|h], v ~ p(v|h)): Bernoulli draws, or the mean plus N(0, I) noise."""
        mean = self.visible_mean(h)
        return mean, _draw_visible(mean, self.visible, generator)

    def energy(self, v, h):
        """E(v, h) per example: (B,). Bernoulli −b·v − c·h − hᵀWv; Gaussian ||v − b||²/2 − c·h − hᵀWv."""
        interaction = (h @ self.weight * v).sum(1)  # hᵀ W v: (B, H) @ (H, V) -> (B, V), then · v
        visible = -(v @ self.visible_bias) if self.visible == "bernoulli" else 0.5 * ((v - self.visible_bias) ** 2).sum(1)
        return visible - h @ self.hidden_bias - interaction

    def free_energy(self, v):
        """F(v) = −log Σ_h exp(−E(v, h)) per example: (B,).

        Bernoulli: −b·v − Σ_j softplus(c_j + W_j v); Gaussian: ||v − b||²/2 − Σ_j softplus(c_j + W_j v).
        """
        hidden = F.softplus(self.hidden_input(v)).sum(1)
        visible = -(v @ self.visible_bias) if self.visible == "bernoulli" else 0.5 * ((v - self.visible_bias) ** 2).sum(1)
        return visible - hidden

    def reconstruct(self, v):
        """Mean-field reconstruction E[v | h = p(h|v)]: (B, V) -> (B, V)."""
        return self.visible_mean(self.hidden_probs(v))

    @torch.no_grad()
    def gibbs(self, v, steps=1, generator=None):
        """v after `steps` block Gibbs steps v -> h ~ p(h|v) -> v ~ p(v|h)."""
        for _ in range(steps):
            _, h = self.sample_hidden(v, generator)
            _, v = self.sample_visible(h, generator)
        return v


def _bernoulli(p, generator=None):
    """Binary draws with probabilities p: 1 where u < p, u ~ U[0, 1) (on a CPU, 3-4x faster than torch.bernoulli)."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (u < p).to(p.dtype)


def _draw_visible(mean, visible, generator=None):
    """v ~ p(v|h) given its mean: Bernoulli(mean), or mean + N(0, I)."""
    if visible == "bernoulli":
        return _bernoulli(mean, generator=generator)
    return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)


# ---------------------------------------------------------------------------------------------
# Training one RBM: contrastive divergence, persistent or not


def zero_velocity(rbm):
    """Fresh momentum buffers Δθ (the state of the update rule), one per parameter."""
    return {name: torch.zeros_like(p) for name, p in rbm.named_parameters()}


def base_rate_bias(v, visible="bernoulli", eps=RATE_EPS):
    """Visible biases of the independent model that fits the data's means: (N, V) -> (V,).

    Bernoulli: log(p_i / (1 − p_i)), p_i = mean of unit i clamped to [eps, 1 − eps] (the guide's
    initial visible biases; Salakhutdinov & Murray's base-rate model for AIS). Gaussian: the mean.
    """
    mean = _column_sums(v, lambda x: x) / max(len(v), 1)
    if visible == "gaussian":
        return mean
    p = mean.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def _column_sums(x, f, chunk=4096):
    """Σ_n f(x_n) over the rows of x (N, ...), in float64, a chunk at a time: (V,)."""
    total = 0
    for i in range(0, len(x), chunk):
        total = total + f(x[i:i + chunk]).double().sum(0)
    return total


def init_chains(rbm, n, generator=None):
    """n fantasy particles for PCD, drawn from the independent model of the visible biases: (n, V)."""
    b = rbm.visible_bias.detach()
    mean = torch.sigmoid(b) if rbm.visible == "bernoulli" else b
    return _draw_visible(mean.expand(n, -1).contiguous(), rbm.visible, generator)


@torch.no_grad()
def cd_update(rbm, v0, velocity, lr, momentum, weight_decay=0.0, k=1, chains=None, generator=None):
    """One CD-k update of `rbm` on the batch v0 (B, V), or PCD-k when `chains` (C, V) are given.

    velocity: the momentum buffers (zero_velocity), updated in place, as are the parameters:

        g_W = <p(h|v) vᵀ>_data − <p(h|v) vᵀ>_model − λ W     (batch means; g_b, g_c alike, without λ)
        Δθ ← μ Δθ + ε g_θ,   θ ← θ + Δθ

    The model term uses the chain's state after k Gibbs steps: started at the data (CD-k), or at
    the persistent chains (PCD-k), which are advanced in place (they carry on at the next update).
    Returns the batch's summed reconstruction error Σ_b Σ_i (v0 − E[v | h0])², h0 ~ p(h|v0): the
    guide's monitor, a 0-d tensor left on the device (no host sync).
    """
    ph0, h = rbm.sample_hidden(v0, generator)  # positive phase: p(h|v0) (B, H) and a sample of it
    mean0 = rbm.visible_mean(h)  # (B, V): the first reconstruction
    error = ((v0 - mean0) ** 2).sum()
    if chains is None:  # CD-k: the chain starts at the data
        mean = mean0
    else:  # PCD-k: the chains carry on from where the last update left them
        _, h = rbm.sample_hidden(chains, generator)
        mean = rbm.visible_mean(h)
    for step in range(k):
        v = _draw_visible(mean, rbm.visible, generator)  # v_{t+1} ~ p(v | h_t)
        ph = rbm.hidden_probs(v)  # p(h | v_{t+1})
        if step < k - 1:
            mean = rbm.visible_mean(_bernoulli(ph, generator=generator))
    if chains is not None:
        chains.copy_(v)
    n_pos, n_neg = v0.shape[0], v.shape[0]
    W = rbm.weight
    # <h vᵀ>_data − <h vᵀ>_model: (H, B) @ (B, V) twice, batch means, in one addmm
    grads = {"weight": torch.addmm(ph0.T @ v0, ph.T, v, beta=1 / n_pos, alpha=-1 / n_neg).sub_(W, alpha=weight_decay),
             "visible_bias": v0.mean(0) - v.mean(0),
             "hidden_bias": ph0.mean(0) - ph.mean(0)}
    for name, p in rbm.named_parameters():
        velocity[name].mul_(momentum).add_(grads[name], alpha=lr)  # Δθ ← μ Δθ + ε g
        p.add_(velocity[name])  # θ ← θ + Δθ
    return error


# ---------------------------------------------------------------------------------------------
# The stack: one RBM or a deep belief net


class DBN(nn.Module):
    """RBMs stacked bottom first (rbms[0] sees the data); one RBM is a stack of one.

    Inputs are uint8 pixels (divided by 255) or floats in [0, 1], any shape (flattened); for a
    Gaussian bottom layer they are standardised by the buffers data_mean, data_std (V,), which fit
    sets from the training data.
    """

    def __init__(self, n_visible, layers=(500,), visible="bernoulli", init_std=0.01):
        super().__init__()
        widths = (n_visible, *layers)
        self.visible = visible
        self.rbms = nn.ModuleList(RBM(widths[i], widths[i + 1], visible if i == 0 else "bernoulli", init_std)
                                  for i in range(len(layers)))
        self.register_buffer("data_mean", torch.zeros(n_visible))
        self.register_buffer("data_std", torch.ones(n_visible))

    @property
    def layers(self):
        return tuple(r.n_hidden for r in self.rbms)

    def inputs(self, x):
        """Pixels -> the bottom layer's visible vectors: (B, ...) -> (B, V)."""
        if x.dtype == torch.uint8:  # pixels 0..255 -> intensities in [0, 1]
            x = x.float() / 255
        x = x.flatten(1)  # (B, C, H, W) -> (B, C*H*W)
        if self.visible == "gaussian":
            x = (x - self.data_mean) / self.data_std
        return x

    def pixels(self, v):
        """The inverse of `inputs` for display: (B, V) -> (B, V) intensities in [0, 1]."""
        if self.visible == "gaussian":
            v = v * self.data_std + self.data_mean
        return v.clamp(0, 1)

    def up(self, v, layers=None):
        """Mean-field pass up: p(h|v) through the first `layers` RBMs (all by default): (B, V) -> (B, H_l)."""
        for rbm in self.rbms[:len(self.rbms) if layers is None else layers]:
            v = rbm.hidden_probs(v)
        return v

    def down(self, h, layers=None):
        """Mean-field pass down from the top of the first `layers` RBMs: E[v|h] through each, top first."""
        for rbm in reversed(self.rbms[:len(self.rbms) if layers is None else layers]):
            h = rbm.visible_mean(h)
        return h

    def forward(self, x, y=None):
        """(reconstruction (B, V), loss): loss the batch mean of Σ_i (v_i − v̂_i)², v̂ = down(up(v)).

        y is ignored: an RBM learns without labels (the interface passes them).
        """
        v = self.inputs(x)
        recon = self.down(self.up(v))
        return recon, ((v - recon) ** 2).sum(1).mean()

    @torch.no_grad()
    def unroll(self, num_classes, dropout=0.0):
        """A feed-forward classifier initialised by the stack (core.feedforward.MLP, logistic units).

        Hidden layer l computes σ(W_l y_{l−1} + c_l), which is p(h|v) of RBM l, so its weights and
        biases are the RBM's weight and hidden_bias; the output layer (num_classes) is fresh. It reads
        what the DBN reads (uint8 pixels / 255, flattened). For a Gaussian bottom layer the per-pixel
        standardisation is folded into the first layer: W (x − m)/s + c = (W / s) x + (c − W (m / s)).
        Fine-tune it with core.train.fit; its run config is `unrolled_config(dbn, dropout)`.
        """
        mlp = MLP(self.rbms[0].n_visible, num_classes, self.layers, "logistic", dropout)
        mlp.to(self.data_mean.device)
        for rbm, linear in zip(self.rbms, mlp.linears()):
            linear.weight.copy_(rbm.weight)
            linear.bias.copy_(rbm.hidden_bias)
        if self.visible == "gaussian":
            first, rbm = mlp.linears()[0], self.rbms[0]
            first.weight.copy_(rbm.weight / self.data_std)  # (H, V) / (V,): column i divided by s_i
            first.bias.copy_(rbm.hidden_bias - rbm.weight @ (self.data_mean / self.data_std))
        return mlp


def unrolled_config(model, dropout=0.0):
    """The `model` section of an mlp run's config.json for model.unroll(...): load_run rebuilds it."""
    return {"hidden": list(model.layers), "activation": "logistic", "dropout": dropout, "init": "default"}


def make_model(cfg, input_shape):
    """A fresh stack for inputs of `input_shape` (e.g. (1, 28, 28)), initialised as the guide says."""
    return DBN(math.prod(input_shape), cfg.layers, cfg.visible, cfg.init_std)


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    return make_model(cfg, run_config["data"]["input_shape"])


# ---------------------------------------------------------------------------------------------
# Sampling


@torch.no_grad()
def sample(model, chains=64, steps=1000, generator=None):
    """Fantasies of the model: (chains, V) intensities in [0, 1].

    Block Gibbs chains in the top RBM start from random states (Bernoulli(1/2) units, or N(0, I)
    for a Gaussian RBM) and run `steps` steps; the last step's E[v|h] is mapped down through the
    lower layers by E[v|h] (a DBN's lower layers are a directed net) and shown as pixels.
    """
    top = model.rbms[-1]
    device = top.weight.device
    shape = (chains, top.n_visible)
    if top.visible == "bernoulli":
        v = _bernoulli(torch.full(shape, 0.5, device=device), generator=generator)
    else:
        v = torch.randn(shape, generator=generator, device=device)
    mean = v
    for _ in range(steps):
        _, h = top.sample_hidden(v, generator)
        mean, v = top.sample_visible(h, generator)
    return model.pixels(model.down(mean, len(model.rbms) - 1))


def image_grid(images, cols=None, pad=1):
    """Tile images (N, C, H, W) with values in [0, 1] into one (C, rows·(H+pad)+pad, cols·(W+pad)+pad) image."""
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = torch.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5)  # grey lines between tiles
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    return grid


def save_png(grid, path):
    """Write a (C, H, W) image in [0, 1] (C = 1 or 3) as a PNG file."""
    from PIL import Image

    array = (grid.clamp(0, 1) * 255).round().to(torch.uint8)
    array = array[0] if array.shape[0] == 1 else array.permute(1, 2, 0)  # (1, H, W) -> (H, W); (3, H, W) -> (H, W, 3)
    Image.fromarray(array.numpy()).save(path, format="PNG")
    return path


# ---------------------------------------------------------------------------------------------
# The partition function: exactly for small RBMs, by annealed importance sampling otherwise


MAX_EXACT_HIDDEN = 20


@torch.no_grad()
def exact_log_z(rbm, chunk=4096):
    """log Z of an RBM with at most 20 hidden units, in float64: the 2^H hidden states enumerated,
    the visible units summed (or integrated) out analytically for each:

        Bernoulli:  Σ_v exp(−E(v, h)) = exp(c·h) Π_i (1 + exp(b_i + (Wᵀh)_i))
        Gaussian:   ∫ exp(−E(v, h)) dv = exp(c·h + b·Wᵀh + ||Wᵀh||²/2) (2π)^{V/2}

    and log Z = logsumexp over h of their logs.
    """
    H, V = rbm.weight.shape
    if H > MAX_EXACT_HIDDEN:
        raise ValueError(f"exact_log_z enumerates the 2^H hidden states: at most {MAX_EXACT_HIDDEN} hidden units, "
                         f"this RBM has {H}; estimate log Z with ais_log_z")
    W, b, c = (t.detach().double() for t in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    bits = torch.arange(H, device=W.device)
    parts = []
    for start in range(0, 2 ** H, chunk):
        idx = torch.arange(start, min(start + chunk, 2 ** H), device=W.device)
        h = ((idx[:, None] >> bits) & 1).double()  # (n, H): the binary expansions of idx
        a = h @ W  # Wᵀh for each state: (n, H) @ (H, V) -> (n, V)
        if rbm.visible == "bernoulli":
            parts.append(h @ c + F.softplus(a + b).sum(1))
        else:
            parts.append(h @ c + a @ b + 0.5 * (a * a).sum(1))
    log_z = torch.logsumexp(torch.cat(parts), 0).item()
    return log_z + (0.5 * V * math.log(2 * math.pi) if rbm.visible == "gaussian" else 0.0)


def log_prob(rbm, v, log_z):
    """log p(v) = −F(v) − log Z per example, in float64: (B, V) -> (B,).

    For a Gaussian RBM a log-density of the standardised vector (DBN.inputs).
    """
    W, b, c = (t.detach().double() for t in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    hidden = F.softplus(v.double() @ W.T + c).sum(1)  # Σ_j softplus(c_j + W_j v): (B, V) @ (V, H) -> (B, H), summed
    if rbm.visible == "bernoulli":
        free = -(v.double() @ b) - hidden
    else:
        free = 0.5 * ((v.double() - b) ** 2).sum(1) - hidden
    return -free - log_z


def paper_betas(counts=(500, 4000, 10000), edges=(0.0, 0.5, 0.9, 1.0)):
    """Inverse temperatures 0 = β_0 < β_1 < ... < β_K = 1, counts[i] equal steps from edges[i] to edges[i+1].

    The default is Salakhutdinov & Murray 2008's schedule (section 4.2): 500 steps in [0, 0.5],
    4,000 in [0.5, 0.9], 10,000 in [0.9, 1], K = 14,500 intermediate distributions.
    """
    if len(edges) != len(counts) + 1 or any(n < 1 for n in counts):
        raise ValueError("paper_betas: one count (at least 1) per interval between consecutive edges")
    pieces = [torch.linspace(edges[i], edges[i + 1], n + 1, dtype=torch.float64)[:-1] for i, n in enumerate(counts)]
    return torch.cat(pieces + [torch.tensor([float(edges[-1])], dtype=torch.float64)])


class AIS(NamedTuple):
    """ais_log_z's estimate of log Z, with its standard error and the spread of the weights."""

    log_z: float  # log Z_A + log mean_m w_m
    se: float  # standard error of log_z: sd(w) / (√M mean(w)) (delta method on the mean of the weights)
    lower: float  # log(Ẑ − 3 SE(Ẑ)) (−inf when that is not positive), as the paper reports
    upper: float  # log(Ẑ + 3 SE(Ẑ))
    log_z_base: float  # log Z_A of the base-rate model
    log_weights: torch.Tensor  # (M,) log importance weights log w_m


@torch.no_grad()
def ais_log_z(rbm, base_bias=None, runs=100, betas=None, generator=None):
    """Estimate log Z of `rbm` by annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008), in float64.

    The base model A has no weights, visible biases `base_bias` (base_rate_bias of the training
    data: the paper's base-rate model; None: zeros, the uniform distribution) and the same H
    hidden units with zero biases. The intermediate distributions, for β from 0 to 1 (betas; by
    default paper_betas()), have unnormalised marginals

        Bernoulli:  p*_β(v) = exp((1 − β) b_A·v + β b·v) Π_j (1 + exp(β (c_j + W_j v)))
        Gaussian:   p*_β(v) = exp(−(1 − β)||v − b_A||²/2 − β||v − b||²/2) Π_j (1 + exp(β (c_j + W_j v)))

    so p*_0 = 2^H p*_A and p*_1 = exp(−F). Z_0 = 2^H Π_i (1 + exp(b_A,i)), or 2^H (2π)^{V/2}.
    Each of the M = `runs` runs draws v_1 ~ p_0, then for k = 1..K adds log p*_k(v_k) − log p*_{k−1}(v_k)
    to its log weight and moves v_k -> v_{k+1} by one Gibbs step that leaves p_k invariant:

        h ~ σ(β_k (W v + c)),   v ~ σ((1 − β_k) b_A + β_k (b + Wᵀ h))   (or N(that mean, I) for Gaussian units)

    E[w] = Z_1 / Z_0, so log Z = log Z_0 + log mean_m w_m (a log-mean-exp). Its standard error is
    from the spread of the M weights, sd(w) / (√M mean(w)): the delta method applied to
    the standard error sd(w)/√M of the mean weight.
    """
    W, b, c = (t.detach().double() for t in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    H, V = W.shape
    b_a = torch.zeros_like(b) if base_bias is None else base_bias.detach().double().to(b.device)
    betas = (paper_betas() if betas is None else torch.as_tensor(betas, dtype=torch.float64)).tolist()
    if betas[0] != 0 or betas[-1] != 1 or any(q <= p for p, q in zip(betas, betas[1:])):
        raise ValueError("ais_log_z: betas must increase from 0 to 1")
    gaussian = rbm.visible == "gaussian"
    if gaussian:
        log_z0 = H * math.log(2) + 0.5 * V * math.log(2 * math.pi)
    else:
        log_z0 = H * math.log(2) + F.softplus(b_a).sum().item()

    def log_p_star(v, x, beta):
        """log p*_β(v) for each run, given x = W v + c: (M,)."""
        hidden = F.softplus(beta * x).sum(1)
        if gaussian:
            return -0.5 * (1 - beta) * ((v - b_a) ** 2).sum(1) - 0.5 * beta * ((v - b) ** 2).sum(1) + hidden
        return v @ ((1 - beta) * b_a + beta * b) + hidden

    mean = b_a.expand(runs, V) if gaussian else torch.sigmoid(b_a).expand(runs, V)
    v = _draw_visible(mean.contiguous(), rbm.visible, generator)  # v_1 ~ p_0: independent units
    log_w = torch.zeros(runs, dtype=torch.float64, device=W.device)
    for k in range(1, len(betas)):
        x = F.linear(v, W, c)  # W v + c: (M, V) -> (M, H)
        log_w += log_p_star(v, x, betas[k]) - log_p_star(v, x, betas[k - 1])
        if k < len(betas) - 1:  # v_{k+1} ~ T_k(v_k | ·), leaving p_k invariant
            beta = betas[k]
            h = _bernoulli(torch.sigmoid(beta * x), generator=generator)
            v_mean = torch.addmm((1 - beta) * b_a + beta * b, h, W, alpha=beta)  # (1 − β) b_A + β (b + Wᵀh)
            v = _draw_visible(v_mean if gaussian else torch.sigmoid(v_mean), rbm.visible, generator)
    log_mean_w = (torch.logsumexp(log_w, 0) - math.log(runs)).item()
    rel = torch.exp(log_w - log_mean_w)  # w_m / mean(w): (M,)
    sd = rel.std().item() if runs > 1 else float("inf")
    se = sd / math.sqrt(runs)  # SE(Ẑ) / Ẑ, which is the standard error of log Ẑ
    log_z = log_z0 + log_mean_w
    lower = log_z + math.log(1 - 3 * se) if 3 * se < 1 else float("-inf")
    return AIS(log_z, se, lower, log_z + math.log1p(3 * se), log_z0, log_w.cpu())


# ---------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def evaluate_part(model, part, device, batch_size=1000):
    """`deepnet eval`: mean reconstruction error and free energy over a part (per example).

    recon_error: Σ_i (v_i − v̂_i)² through the whole stack (the loss of forward); recon_error_bottom:
    the bottom RBM's own one-layer reconstruction (only for a DBN); free_energy: mean F(v) of the
    bottom RBM (lower for data the model likes; comparable between parts, not between models, as log Z
    is not subtracted). No log-likelihood: that needs log Z (ais_log_z, exact_log_z) and binary
    data, which the experiments choose.
    """
    device = torch.device(device)
    was = model.training
    model.eval()
    sums, n = {"recon_error": 0.0, "recon_error_bottom": 0.0, "free_energy": 0.0}, 0
    for i in range(0, len(part), batch_size):
        v = model.inputs(part.x[i:i + batch_size].to(device))
        sums["recon_error"] += ((v - model.down(model.up(v))) ** 2).sum().item()
        sums["recon_error_bottom"] += ((v - model.rbms[0].reconstruct(v)) ** 2).sum().item()
        sums["free_energy"] += model.rbms[0].free_energy(v).double().sum().item()
        n += len(v)
    model.train(was)
    out = {k: s / max(n, 1) for k, s in sums.items()}
    if len(model.rbms) == 1:
        del out["recon_error_bottom"]
    return {**out, "examples": n}


@torch.no_grad()
def _recon_error(rbm, x, batch_size, prep=lambda x: x):
    """Mean over examples of Σ_i (v_i − E[v | p(h|v)]_i)² for one RBM on its inputs prep(x) (N, V)."""
    total = 0.0
    for i in range(0, len(x), batch_size):
        v = prep(x[i:i + batch_size])
        total += ((v - rbm.reconstruct(v)) ** 2).sum().item()
    return total / max(len(x), 1)


# ---------------------------------------------------------------------------------------------
# Training: greedy, layer by layer, on the run lifecycle


def _check_train_config(cfg):
    """The TrainConfig fields this loop does not use, refused when set, in one line each."""
    cfg.check()
    if cfg.optimizer != "sgd":
        raise ConfigError("rbm updates its weights by the guide's momentum rule (no optimiser object): "
                          "drop --optimizer adamw")
    if cfg.nesterov:
        raise ConfigError("rbm uses plain momentum: drop --nesterov")
    if cfg.clip_grad > 0:
        raise ConfigError("rbm's CD gradient is not clipped: set --clip-grad 0")
    if cfg.patience > 0:
        raise ConfigError("rbm trains each layer for --epochs (no early stopping): set --patience 0")


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """Train a stack of RBMs greedily, bottom first, by CD-k or PCD-k; the result as core.train.fit gives it.

    Each layer trains for cfg.epochs epochs of minibatches (cfg.batch_size; shuffled as the engine
    shuffles, a fresh order per layer and epoch) at rate cfg.lr (times cfg.schedule's factor, over the
    layer's steps), momentum Config.momentum_start for the layer's first Config.momentum_epochs epochs
    then cfg.momentum, weight decay cfg.weight_decay on the weights. The loss shown is the guide's
    reconstruction error; each epoch ends with the layer's validation reconstruction error.

    The run folder (core/run.py): checkpoint.pt every cfg.checkpoint_every steps and at every epoch
    end, with the layer, epoch and batch reached, the momentum buffers and the PCD chains (carry),
    and every RNG: a killed run resumes exactly. best.pt holds the weights at the last epoch end (a
    reconstruction error is no criterion to choose an RBM's weights by, so there is no selection).
    --epochs may grow on resume while the first layer trains, or for a single RBM; a DBN's lower
    layers are fixed once the next one has started. The test part's evaluate_part is run once, at the end.
    cfg.amp, cpu_amp, compile, resident and monitor do not apply (float32 throughout).
    """
    if augment is not None:
        raise ConfigError("rbm learns the training images as they are: drop --augment")
    _check_train_config(cfg)
    mcfg = config_from_dict(Config, run_config["model"], "model config")
    run_config = {**run_config, "train": asdict(cfg)}
    device = pick_device(cfg.device)
    run_dir = Path(run_dir)
    if resume and len(mcfg.layers) > 1 and (run_dir / "checkpoint.pt").exists():
        saved = load_checkpoint(run_dir / "checkpoint.pt", system="rbm")
        if saved["sampler_state"].get("layer", 0) > 0 and cfg.epochs != saved["config"]["train"]["epochs"]:
            raise ConfigError(f"{run_dir}: this deep belief net is past its first layer, whose {saved['config']['train']['epochs']} "
                              "epochs shaped the layers above: resume with the same --epochs")
    seed_everything(cfg.seed)
    run = Run(run_dir, run_config, resume=resume, grows=("train.epochs",))
    with run:
        return _greedy_loop(model, data, cfg, mcfg, run, device, test)


def _layer_data(model, data, layer, device, batch_size):
    """(train, val) ArrayDatasets of layer `layer`'s inputs on `device`.

    Layer 0: the raw examples (converted by model.inputs per batch); above: p(h|v) of the layer
    below for every example, (N, H_{l−1}) floats, computed once per layer.
    """
    parts = []
    for part in (data.train, data.val):
        x = part.x.to(device)
        if layer > 0:
            x = torch.cat([model.up(model.inputs(x[i:i + batch_size]), layer) for i in range(0, len(x), batch_size)]) \
                if len(x) else torch.zeros(0, model.rbms[layer].n_visible, device=device)
        parts.append(ArrayDataset(x, part.y.to(device)))
    return parts


class _Mapped:
    """The rows of x seen through f, sliced lazily (for statistics of converted inputs a chunk at a time)."""

    def __init__(self, x, f):
        self.x, self.f = x, f

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return self.f(self.x[idx])


def _inputs_of(model, layer):
    return model.inputs if layer == 0 else (lambda x: x)


@torch.no_grad()
def _start_layer(model, layer, train, prep, cfg, mcfg):
    """What the guide sets before layer `layer` trains: data statistics, visible biases; PCD chains.

    Returns (velocity, chains).
    """
    rbm = model.rbms[layer]
    if layer == 0 and model.visible == "gaussian":  # per-pixel mean and deviation of the intensities
        def intensities(x):
            return x.float().flatten(1) / 255 if x.dtype == torch.uint8 else x.float().flatten(1)  # (n, V)
        n = max(len(train), 1)
        mean = _column_sums(train.x, intensities) / n
        var = (_column_sums(train.x, lambda x: intensities(x) ** 2) / n - mean ** 2).clamp_min(0)
        model.data_mean.copy_(mean)
        model.data_std.copy_(var.sqrt().clamp_min(STD_FLOOR))
    rbm.visible_bias.copy_(base_rate_bias(_Mapped(train.x, prep), rbm.visible).float())
    rbm.hidden_bias.zero_()
    chains = init_chains(rbm, cfg.batch_size) if mcfg.persistent else None
    return zero_velocity(rbm), chains


def _greedy_loop(model, data, cfg, mcfg, run, device, test):
    model.to(device)
    n_layers = len(model.rbms)
    layer, epoch, batch = 0, 0, 0  # where training is: the layer, its epochs done, the batches done in this epoch
    step, history, best, carry, elapsed = 0, [], None, None, 0.0
    if run.state is not None:
        state = run.state
        load_model_state(model, state["model"], str(run.ckpt_path))
        layer, epoch, batch = (state["sampler_state"][k] for k in ("layer", "epoch", "batch"))
        step, history, best = state["step"], state["metrics"].get("history", []), state["metrics"].get("best")
        carry = state["carry"]
        elapsed = carry["seconds"]
        run.restore_rng()
        run.log({"event": "resume", "step": step, "layer": layer + 1, "epoch": epoch,
                 **({"epochs": cfg.epochs} if run.grown else {})})
    t0 = time.perf_counter() - elapsed

    while True:
        if epoch >= cfg.epochs:  # this layer is done: the next one
            layer, epoch, batch, carry = layer + 1, 0, 0, None
        if layer >= n_layers:
            break
        rbm = model.rbms[layer]
        train, val = _layer_data(model, data, layer, device, cfg.eval_batch_size)
        prep = _inputs_of(model, layer)
        if carry is None:  # the layer starts
            velocity, chains = _start_layer(model, layer, train, prep, cfg, mcfg)
            epoch_sum, epoch_n = 0.0, 0
        else:  # resumed part-way through the layer
            velocity = {k: t.to(device) for k, t in carry["velocity"].items()}
            chains = carry["chains"].to(device) if carry["chains"] is not None else None
            epoch_sum, epoch_n = carry["recon_sum"], carry["recon_n"]
        n_train = len(train)
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        total = cfg.epochs * steps_per_epoch  # the layer's steps: the schedule's horizon

        def checkpoint(finished=None):
            run.checkpoint(model=model, step=step, epoch=epoch,
                           sampler_state={"layer": layer, "epoch": epoch, "batch": batch, "seed": cfg.seed},
                           carry={"velocity": velocity, "chains": chains, "recon_sum": epoch_sum, "recon_n": epoch_n,
                                  "seconds": time.perf_counter() - t0},
                           metrics={"history": history, "best": best}, finished=finished)

        while epoch < cfg.epochs:
            momentum = mcfg.momentum_start if epoch < mcfg.momentum_epochs else cfg.momentum
            lr = cfg.lr
            desc = f"rbm layer {layer + 1}/{n_layers} epoch {epoch + 1}/{cfg.epochs}"
            bar = Progress(steps_per_epoch, batch, desc, "batch", enabled=cfg.progress)
            err = torch.zeros((), dtype=torch.float64, device=device)  # summed since the last sync
            seen, t_log, t_epoch, seen_epoch = 0, time.perf_counter(), time.perf_counter(), 0
            # a fresh order for every layer and epoch, recomputable on resume (core.train.batches)
            for x, _ in batches(train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=layer * 1_000_003 + epoch,
                                start=batch):
                v = prep(x)
                lr = cfg.lr * lr_factor(epoch * steps_per_epoch + batch, total, cfg, steps_per_epoch)
                err += cd_update(rbm, v, velocity, lr, momentum, cfg.weight_decay, mcfg.cd_steps, chains)
                step, batch = step + 1, batch + 1
                seen += len(v)
                seen_epoch += len(v)
                due_ckpt = cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and batch < steps_per_epoch
                if step % cfg.log_every == 0 or due_ckpt or batch == steps_per_epoch:
                    total_err = err.item()  # one host sync per log interval
                    if not math.isfinite(total_err):
                        bar.close()
                        run.log({"event": "diverged", "step": step, "layer": layer + 1})
                        kept = (f"the last good checkpoint is kept at {run.ckpt_path}" if run.ckpt_path.exists()
                                else "no checkpoint was written")
                        raise TrainingDiverged(f"the reconstruction error became {total_err} by step {step} "
                                               f"(layer {layer + 1}); {kept}; lower --lr")
                    rate = seen / max(time.perf_counter() - t_log, 1e-9)
                    run.log({"event": "train", "step": step, "layer": layer + 1, "epoch": epoch,
                             "recon": total_err / seen, "lr": lr, "momentum": momentum, "examples_per_s": rate})
                    bar.update(0, recon=total_err / seen, examples_per_s=rate)
                    epoch_sum, epoch_n = epoch_sum + total_err, epoch_n + seen
                    err.zero_()
                    seen, t_log = 0, time.perf_counter()
                    if due_ckpt:
                        checkpoint()
                bar.update(1)
            bar.close()
            epoch_rate = seen_epoch / max(time.perf_counter() - t_epoch, 1e-9)
            val_recon = _recon_error(rbm, val.x, cfg.eval_batch_size, prep) if len(val) else float("nan")
            rec = {"layer": layer + 1, "epoch": epoch + 1, "step": step, "train_recon": epoch_sum / max(epoch_n, 1),
                   "val_recon": val_recon, "lr": lr, "momentum": momentum, "seconds": time.perf_counter() - t0}
            history.append(rec)
            run.log({"event": "epoch", **rec})
            epoch, batch, epoch_sum, epoch_n = epoch + 1, 0, 0.0, 0
            best = rec
            run.save_best(model=model, step=step, epoch=epoch, metrics={"best": best})
            last = layer == n_layers - 1 and epoch >= cfg.epochs
            checkpoint(finished="budget" if last else None)
            if cfg.progress:
                print(f"layer {layer + 1}/{n_layers} epoch {epoch}/{cfg.epochs}  train_recon {rec['train_recon']:.4f}  "
                      f"val_recon {val_recon:.4f}  {epoch_rate:.0f} examples/s  {rec['seconds']:.1f} s", flush=True)
        carry = None

    result_test = None
    if test and len(data.test):  # once, with the final weights (which best.pt holds)
        result_test = {k: v for k, v in evaluate_part(model, data.test, device, cfg.eval_batch_size).items()
                       if k != "examples"}
        run.log({"event": "test", "step": step, **{f"test_{k}": v for k, v in result_test.items()}})
    return {"history": history, "best": best, "test": result_test, "steps": step,
            "seconds": time.perf_counter() - t0, "device": str(device), "run_dir": str(run.dir)}


def train(model_cfg, data, tc, run_dir, resume=False, test=True, record=None):
    """Train a fresh stack (or resume run_dir) without the CLI: returns (model, fit's result).

    model_cfg: Config; data: Splits (images or feature vectors); tc: core.train.TrainConfig (e.g.
    dataclasses.replace(TRAIN_CONFIG, epochs=...)); record: more keys for config.json.
    """
    seed_everything(tc.seed)
    model = make_model(model_cfg, data.input_shape)
    run_config = {**(record or {}), "system": "rbm", "model": asdict(model_cfg),
                  "data": {**data.info(), **(record or {}).get("data", {})}}
    return model, fit(model, data, tc, run_dir, run_config, resume=resume, test=test)


def load_trained(run_dir, which="best", device="cpu"):
    """The stack of a run folder with its best.pt (= last epoch end) or checkpoint.pt weights."""
    state = load_checkpoint(Path(run_dir) / ("best.pt" if which == "best" else "checkpoint.pt"), system="rbm")
    model = build(state["config"]).to(device)
    load_model_state(model, state["model"])
    return model.eval()
