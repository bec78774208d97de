"""Restricted Boltzmann machines and their greedy stacks: the layer-wise pre-training two systems share.

systems/rbm.py (an RBM, or a deep belief net, as a system of its own: likelihoods by AIS,
samples) and systems/autoencoder.py (a deep autoencoder whose encoder the RBM stack initialises,
Hinton & Salakhutdinov 2006) both train RBM stacks; what they share is here, so that no system
imports the other.

An RBM has visible units v (V of them) and hidden units h (H), weights W (H × V, the layout of
nn.Linear's weight: row j holds the weights into hidden unit j), visible biases b and hidden
biases c. Its energy and joint distribution:

    Bernoulli visible units (v in {0, 1}^V):   E(v, h) = −b·v − c·h − hᵀ W v
    Gaussian visible units of unit variance:    E(v, h) = ||v − b||² / 2 − c·h − hᵀ W v
    Gaussian hidden units of unit variance add ||h||² / 2 (and h is real-valued)
    p(v, h) = exp(−E(v, h)) / Z,   Z = Σ_v Σ_h exp(−E(v, h))   (∫ for real-valued units)

Summing binary hidden units out gives the free energy F, with p(v) = exp(−F(v)) / Z:

    Bernoulli:  F(v) = −b·v − Σ_j softplus(c_j + W_j v)
    Gaussian:   F(v) = ||v − b||² / 2 − Σ_j softplus(c_j + W_j v)          softplus(x) = log(1 + eˣ)
    (Gaussian hidden units: −Σ_j (c_j + W_j v)² / 2 in place of the softplus sum, up to a constant)

No connections within a layer, so each layer is independent given the other:

    p(h_j = 1 | v) = σ(c_j + W_j v)                    (binary hidden units)
    p(h | v)       = N(c + W v, I)                     (Gaussian hidden units: a linear code)
    p(v_i = 1 | h) = σ(b_i + (Wᵀ h)_i)                 (Bernoulli visible units)
    p(v | h)       = N(b + Wᵀ h, I)                    (Gaussian visible units)

and block Gibbs sampling alternates the two. The log-likelihood gradient is the difference of
two expectations, the positive phase (data) minus the negative phase (model):

    ∂ log p(v) / ∂W_ji = <h_j v_i>_data − <h_j v_i>_model,  ∂/∂b_i = <v_i>_data − <v_i>_model,
    ∂/∂c_j = <h_j>_data − <h_j>_model

Contrastive divergence CD-k (Hinton 2002) estimates the model term with k Gibbs steps started at
the data; persistent CD (PCD-k, Tieleman 2008) with k steps of fantasy chains that carry on from
one update to the next. Positive-phase statistics use E[h|v] rather than sampled h (less noise,
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
STD_FLOOR, for pixels that are almost always blank), kept as buffers of the stack, so a loaded
model reads raw pixels.

A stack of RBMs (class DBN, a deep belief net when its layers are binary) is trained greedily, by
`greedy_loop` on a core/run.py Run: layer l is trained on E[h|v] of layer l − 1 for the training
data (probabilities, not samples), its visible biases initialised from those. `unroll` turns a
stack of binary layers into a feed-forward classifier (core/feedforward.py's MLP with logistic
units) for fine-tuning by backpropagation.
"""

import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.checkpoint import load_model_state
from deepnet.core.feedforward import MLP
from deepnet.core.progress import Progress
from deepnet.core.train import batches, lr_factor
from deepnet.errors import ConfigError, TrainingDiverged

STD_FLOOR = 0.1  # Gaussian visible units: the least per-pixel standard deviation data are divided by
RATE_EPS = 1e-3  # visible-bias init and base rates: proportions clamped to [eps, 1 - eps] (log-odds finite)

# ---------------------------------------------------------------------------------------------
# One RBM


class RBM(nn.Module):
    """V visible units, H binary hidden units: weight W (H, V), visible_bias b (V,), hidden_bias c (H,).

    Every method takes batches: v (B, V), h (B, H). The parameters are trained by cd_update (no
    autograd), so they do not require gradients.
    """

    def __init__(self, n_visible, n_hidden, visible="bernoulli", init_std=0.01, hidden="bernoulli"):
        super().__init__()
        for kind, name in ((visible, "visible"), (hidden, "hidden")):
            if kind not in ("bernoulli", "gaussian"):
                raise ConfigError(f"{name} units are bernoulli or gaussian, not {kind!r}")
        self.visible, self.hidden = visible, hidden
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
        """E[h | v]: p(h_j = 1 | v) = σ(c_j + W_j v) for binary units, c + W v for Gaussian ones: (B, V) -> (B, H)."""
        x = self.hidden_input(v)
        return torch.sigmoid(x) if self.hidden == "bernoulli" else x

    def visible_input(self, h):
        """b + Wᵀ h for each example: (B, H) -> (B, V)."""
        return torch.addmm(self.visible_bias, h, self.weight)  # h W + b

    def visible_mean(self, h):
        """E[v | h]: σ(b + Wᵀ h) for Bernoulli units (the probabilities), b + Wᵀ h for Gaussian ones."""
        x = self.visible_input(h)
        return torch.sigmoid(x) if self.visible == "bernoulli" else x

    def sample_hidden(self, v, generator=None):
        """(E[h|v], h ~ p(h|v)): Bernoulli draws, or the mean plus N(0, I) noise."""
        p = self.hidden_probs(v)
        return p, draw_units(p, self.hidden, generator)

    def sample_visible(self, h, generator=None):
        """(E[v|h], v ~ p(v|h)): Bernoulli draws, or the mean plus N(0, I) noise."""
        mean = self.visible_mean(h)
        return mean, draw_units(mean, self.visible, generator)

    def energy(self, v, h):
        """E(v, h) per example: (B,). Bernoulli −b·v − c·h − hᵀWv; Gaussian ||v − b||²/2 − c·h − hᵀWv."""
        interaction = (h @ self.weight * v).sum(1)  # hᵀ W v: (B, H) @ (H, V) -> (B, V), then · v
        visible = -(v @ self.visible_bias) if self.visible == "bernoulli" else 0.5 * ((v - self.visible_bias) ** 2).sum(1)
        hidden = 0.0 if self.hidden == "bernoulli" else 0.5 * (h ** 2).sum(1)
        return visible + hidden - h @ self.hidden_bias - interaction

    def free_energy(self, v):
        """F(v) = −log Σ_h exp(−E(v, h)) per example: (B,).

        Bernoulli: −b·v − Σ_j softplus(c_j + W_j v); Gaussian: ||v − b||²/2 − Σ_j softplus(c_j + W_j v).
        Gaussian hidden units: −Σ_j (c_j + W_j v)²/2 in place of the softplus sum (dropping the constant
        −(H/2) log 2π, which Z carries too).
        """
        x = self.hidden_input(v)
        hidden = F.softplus(x).sum(1) if self.hidden == "bernoulli" else 0.5 * (x ** 2).sum(1)
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


def bernoulli(p, generator=None):
    """Binary draws with probabilities p: 1 where u < p, u ~ U[0, 1) (on a CPU, 3-4x faster than torch.bernoulli)."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (u < p).to(p.dtype)


def draw_units(mean, kind, generator=None):
    """Units drawn given their mean: Bernoulli(mean) for kind "bernoulli", mean + N(0, I) for "gaussian"."""
    if kind == "bernoulli":
        return bernoulli(mean, generator=generator)
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
    return draw_units(mean.expand(n, -1).contiguous(), rbm.visible, generator)


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
        v = draw_units(mean, rbm.visible, generator)  # v_{t+1} ~ p(v | h_t)
        ph = rbm.hidden_probs(v)  # p(h | v_{t+1})
        if step < k - 1:
            mean = rbm.visible_mean(draw_units(ph, rbm.hidden, generator))
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
    Gaussian bottom layer they are standardised by the buffers data_mean, data_std (V,), which
    greedy_loop sets from the training data. top_hidden "gaussian" gives the top RBM real-valued
    hidden units (a linear code: the deep autoencoder's code layer); every other hidden layer is binary.
    """

    def __init__(self, n_visible, layers=(500,), visible="bernoulli", init_std=0.01, top_hidden="bernoulli"):
        super().__init__()
        widths = (n_visible, *layers)
        self.visible = visible
        n = len(layers)
        self.rbms = nn.ModuleList(RBM(widths[i], widths[i + 1], visible if i == 0 else "bernoulli", init_std,
                                      top_hidden if i == n - 1 else "bernoulli") for i in range(n))
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
        if any(r.hidden != "bernoulli" for r in self.rbms):
            raise ConfigError("unroll makes logistic layers: this stack has Gaussian hidden units")
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


def check_train_config(cfg):
    """The TrainConfig fields greedy_loop does not use, refused when set, in one line each."""
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


def _layer_data(model, data, layer, device, batch_size):
    """(train, val) parts (x, y) of layer `layer`'s inputs on `device`.

    Layer 0: the raw examples (converted by model.inputs per batch); above: p(h|v) of the layer
    below for every example, (N, H_{l−1}) floats, computed once per layer.
    """
    parts = []
    for part in (data.train, data.val):
        x = part.x.to(device)
        if layer > 0:
            x = torch.cat([model.up(model.inputs(x[i:i + batch_size]), layer) for i in range(0, len(x), batch_size)]) \
                if len(x) else torch.zeros(0, model.rbms[layer].n_visible, device=device)
        parts.append(_Part(x, part.y.to(device)))
    return parts


class _Part:
    """A layer's inputs x (N, V) and the labels y (N,) beside them, batched by core.train.batches (which slices x, y)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)


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
def _start_layer(model, layer, train, prep, cfg, persistent):
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
    chains = init_chains(rbm, cfg.batch_size) if persistent else None
    return zero_velocity(rbm), chains


def greedy_loop(model, data, cfg, run, device, *, cd_steps=1, persistent=False, momentum_start=0.5,
                momentum_epochs=5, layer_lr=None, evaluate=None):
    """Train the stack `model` (a DBN) greedily, bottom first, by CD-k or PCD-k, inside `run` (core/run.py).

    cfg: core.train.TrainConfig (epochs per layer, batch_size, lr, schedule, momentum after the first
    momentum_epochs epochs of each layer (momentum_start before), weight_decay, checkpoint_every,
    log_every, progress, seed). layer_lr: a factor on cfg.lr per layer (e.g. 0.01 for a layer of
    Gaussian units; None: 1 for all). Each layer's minibatches are shuffled as the engine shuffles,
    a fresh order per layer and epoch, at rate cfg.lr × layer factor × cfg.schedule's factor over
    the layer's steps. The loss shown is the guide's reconstruction error; each epoch ends with the
    layer's validation reconstruction error.

    checkpoint.pt every cfg.checkpoint_every steps and at every epoch end, with the layer, epoch and
    batch reached, the momentum buffers and the PCD chains (carry), and every RNG: a killed run
    resumes exactly. best.pt holds the weights at the last epoch end (a reconstruction error is no
    criterion to choose an RBM's weights by). evaluate(model, part, device, batch_size) -> metrics,
    if given, is run once on data.test at the end. Returns the dict core.train.fit returns.
    """
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
            velocity, chains = _start_layer(model, layer, train, prep, cfg, persistent)
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
            momentum = momentum_start if epoch < momentum_epochs else cfg.momentum
            peak = cfg.lr * (layer_lr[layer] if layer_lr is not None else 1.0)
            lr = peak
            desc = f"rbm layer {layer + 1}/{n_layers} epoch {epoch + 1}/{cfg.epochs}"
            bar = Progress(steps_per_epoch, batch, desc, "batch", enabled=cfg.progress)
            err = torch.zeros((), dtype=torch.float64, device=device)  # summed since the last sync
            seen, t_log, t_epoch, seen_epoch = 0, time.perf_counter(), time.perf_counter(), 0
            # a fresh order for every layer and epoch, recomputable on resume (core.train.batches)
            for x, _ in batches(train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=layer * 1_000_003 + epoch,
                                start=batch):
                v = prep(x)
                lr = peak * lr_factor(epoch * steps_per_epoch + batch, total, cfg, steps_per_epoch)
                err += cd_update(rbm, v, velocity, lr, momentum, cfg.weight_decay, cd_steps, chains)
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
    if evaluate is not None and len(data.test):  # once, with the final weights (which best.pt holds)
        result_test = {k: v for k, v in evaluate(model, data.test, device, cfg.eval_batch_size).items()
                       if k != "examples"}
        run.log({"event": "test", "step": step, **{f"test_{k}": v for k, v in result_test.items()}})
    return {"history": history, "best": best, "test": result_test, "steps": step,
            "seconds": time.perf_counter() - t0, "device": str(device), "run_dir": str(run.dir)}

