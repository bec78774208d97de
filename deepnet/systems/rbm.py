"""Restricted Boltzmann machines and deep belief nets: unsupervised pre-training, layer by layer.

The review ("The return of neural networks" and "Unsupervised learning"): unsupervised learning
procedures can create layers of feature detectors without labelled data; each layer learns to
model the activities of the feature detectors (or raw inputs) in the layer below, and the
stack then initialises a deep feed-forward net that backpropagation fine-tunes. The layers are
restricted Boltzmann machines (Hinton, Osindero & Teh 2006; Hinton & Salakhutdinov 2006).

The RBM itself (energy, free energy, block Gibbs sampling, the CD-k / PCD-k update with the
practical guide's momentum and weight decay) and the greedy loop that trains a stack of them live
in core/boltzmann.py, because the deep autoencoder (systems/autoencoder.py) is pre-trained by the
same stack; the equations are written out there. This file is the system: its Config and run
folder, likelihoods (exact and by AIS), samples and evaluation.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from torch.nn import functional as F

from deepnet.core.boltzmann import DBN, bernoulli, check_train_config, draw_units, greedy_loop
from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.core.config import config_from_dict
from deepnet.core.run import Run
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.train import TrainConfig
from deepnet.errors import ConfigError

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
        v = bernoulli(torch.full(shape, 0.5, device=device), generator=generator)
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
    v = draw_units(mean.contiguous(), rbm.visible, generator)  # v_1 ~ p_0: independent units
    log_w = torch.zeros(runs, dtype=torch.float64, device=W.device)
    for k in range(1, len(betas)):
        x = F.linear(v, W, c)  # W v + c: (M, V) -> (M, H)
        log_w += log_p_star(v, x, betas[k]) - log_p_star(v, x, betas[k - 1])
        if k < len(betas) - 1:  # v_{k+1} ~ T_k(v_k | ·), leaving p_k invariant
            beta = betas[k]
            h = bernoulli(torch.sigmoid(beta * x), generator=generator)
            v_mean = torch.addmm((1 - beta) * b_a + beta * b, h, W, alpha=beta)  # (1 − β) b_A + β (b + Wᵀh)
            v = draw_units(v_mean if gaussian else torch.sigmoid(v_mean), rbm.visible, generator)
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
    check_train_config(cfg)
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
        return greedy_loop(model, data, cfg, run, device, cd_steps=mcfg.cd_steps, persistent=mcfg.persistent,
                           momentum_start=mcfg.momentum_start, momentum_epochs=mcfg.momentum_epochs,
                           evaluate=evaluate_part if test else None)


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
