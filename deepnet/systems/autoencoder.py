"""Deep autoencoders: a net that squeezes an image through a narrow code and rebuilds it.

The review ("The return of neural networks", "Unsupervised learning"): unsupervised procedures
learn layers of feature detectors without labels; Hinton & Salakhutdinov (Science 2006) showed
that a deep autoencoder, pre-trained layer by layer with RBMs and then fine-tuned by
backpropagation, reduces the dimensionality of data far better than principal components.

The net (Hinton & Salakhutdinov 2006, Fig. 1; for MNIST 784-1000-500-250-30):

    encoder   y_l = σ(W_l y_{l−1} + c_l)  for the hidden layers,   code z = W_L y_{L−1} + c_L  (linear units)
    decoder   the mirror: σ(W'_l · + b'_l) up to the output  v̂ = σ(W'_1 y'_1 + b'_1)  (probabilities)
    loss      cross-entropy of the pixels:  E = −Σ_i [v_i log v̂_i + (1 − v_i) log(1 − v̂_i)]
              summed over the 784 pixels, averaged over the batch (the paper's fine-tuning objective),
              v the intensities in [0, 1]

Reported beside it (`deepnet eval`, the experiments): the squared reconstruction error per image,
Σ_i (v_i − v̂_i)², the paper's measure (Fig. 2B caption: 3.00 for this net on MNIST's test set,
13.87 for PCA with 30 components).

Pre-training (Config.pretrain), greedy, bottom first, before any fine-tuning:
- "rbm": a stack of RBMs (core/boltzmann.py, CD-1 with the practical guide's momentum and weight
  decay), each trained on the hidden probabilities of the one below; the top RBM has Gaussian
  hidden units of unit variance, so its hidden "probabilities" are the linear code c + W y
  (Hinton & Salakhutdinov's rbmhidlinear.m, whose rate is 0.001 against 0.1 for the binary layers:
  `code_lr_factor` 0.01). The autoencoder is the stack unrolled: encoder layer l gets (W_l, c_l),
  decoder layer l gets (W_lᵀ, b_l), the RBM's visible biases; fine-tuning then unties them.
- "dae": stacked denoising autoencoders (Vincent et al. 2008, JMLR 2010): layer l is a one-layer
  autoencoder with tied weights, h = f(W x̃ + c), x̂ = σ(Wᵀ h + b), trained to rebuild its clean
  input x from x̃, a copy of x with a fraction `noise` of its components set to 0 (masking noise),
  under the cross-entropy above (f = σ, or the identity for a linear code layer, whose loss is
  then the same cross-entropy of its [0, 1] inputs). Each layer is trained by the engine
  (core/train.fit, `dae_epochs` epochs of SGD at rate `dae_lr`, momentum 0.9) on the clean outputs
  of the layers below; the autoencoder is unrolled from the layers as from the RBMs.
- "none": torch's default initialisation (a deep net of logistic units from random weights, which
  Hinton & Salakhutdinov report learns little: "it is difficult to optimize the weights").

`fit` runs the pre-training (folder run_dir/pretrain, on core/run.py like every loop, so a killed
run resumes there) and then fine-tunes by the engine in run_dir; a finished pre-training is read
back, not run again. `pretrain_dae` and `unroll_classifier` are also used by the experiments that
measure what pre-training adds to a classifier (pretraining_few_labels, pretraining_transfer).
"""

import dataclasses
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core import boltzmann
from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.core.config import config_from_dict
from deepnet.core.feedforward import MLP
from deepnet.core.run import Run, continues, write_config
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.train import TrainConfig
from deepnet.core.train import fit as engine_fit
from deepnet.data.common import ArrayDataset
from deepnet.errors import CheckpointError, ConfigError

# `deepnet train autoencoder --data mnist` (or digits, cifar10): its own fit (pre-training, then the engine)
TRAINS_ON = ("mnist", "digits", "cifar10")
load_data = prepare_data = None

# `deepnet train autoencoder`'s fine-tuning recipe. The paper fine-tuned by conjugate gradients on
# minibatches of 1,000 for 200 epochs (backprop.m); here AdamW at Adam's usual rate 1e-3 with cosine
# decay, minibatches of 100 (not chosen on a grid). A pilot on MNIST (the 784-1000-500-250-30 net, 2
# CD-1 epochs a layer, 3 fine-tuning epochs on the 55,000 training images, 1 thread, 77 s) reached a
# validation squared error of 11.65 per image; the experiment autoencoder_mnist trains longer.
# best.pt: the lowest validation cross-entropy.
TRAIN_CONFIG = TrainConfig(epochs=20, batch_size=100, optimizer="adamw", lr=1e-3, schedule="cosine",
                           monitor="loss", eval_batch_size=1000)


@dataclass
class Config:
    """A deep autoencoder: encoder widths (the last is the code), its pre-training."""

    # encoder widths, bottom first; the last is the code layer, the decoder mirrors them
    # (the paper's MNIST net: 1000 500 250 30); range [1, 65536], 1 to 16 values
    layers: tuple[int, ...] = (1000, 500, 250, 30)
    code: Literal["linear", "logistic"] = "linear"  # code units: linear (the paper) or logistic
    # greedy pre-training before fine-tuning: rbm (Hinton & Salakhutdinov), dae (denoising autoencoders), none
    pretrain: Literal["rbm", "dae", "none"] = "rbm"
    pretrain_epochs: int = 5  # epochs of each layer's pre-training (rbm: CD-1; dae: SGD); range [1, 100000]
    pretrain_batch_size: int = 100  # minibatch size of pre-training (the practical guide: 100); range [1, 65536]
    rbm_lr: float = 0.1  # CD-1 rate of the binary RBMs (the guide's 0.1); range (0, 100]
    # the linear code layer's RBM learns at rbm_lr times this (rbmhidlinear.m: 0.001 against 0.1); range (0, 1]
    code_lr_factor: float = 0.01
    noise: float = 0.25  # dae: fraction of each input's components set to 0 (masking noise); range [0, 1)
    dae_lr: float = 0.01  # dae: SGD rate (momentum 0.9) of each layer; range (0, 100]


# ---------------------------------------------------------------------------------------------
# The net


def _linear_stack(widths, last_linear):
    """Linear + Sigmoid layers through widths (w0 -> w1 -> ...), the last Linear bare when last_linear."""
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2 or not last_linear:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def pixels(x):
    """Images (B, ...) uint8 or floats in [0, 1] -> intensities (B, V) floats."""
    if x.dtype == torch.uint8:
        x = x.float() / 255
    return x.flatten(1)  # (B, C, H, W) -> (B, C*H*W)


class DeepAutoencoder(nn.Module):
    """(B, ...) images -> (B, V) reconstructed intensities, through a code of width layers[-1]."""

    def __init__(self, n_visible, layers=(1000, 500, 250, 30), code="linear"):
        super().__init__()
        widths = (n_visible, *layers)
        self.encoder = _linear_stack(widths, last_linear=code == "linear")  # y_l = σ(W_l y_{l−1} + c_l); z linear
        self.decoder = _linear_stack(widths[::-1], last_linear=True)  # output logits; σ applied in forward

    def encode(self, x):
        """Images -> codes: (B, ...) -> (B, layers[-1])."""
        return self.encoder(pixels(x))

    def decode_logits(self, z):
        """Codes -> the output layer's logits (B, V) (σ of them: the reconstruction)."""
        return self.decoder(z)

    def forward(self, x, y=None):
        """(reconstruction v̂ (B, V), loss): the pixels' cross-entropy, summed over V, batch mean. y is ignored."""
        v = pixels(x)
        logits = self.decode_logits(self.encoder(v))
        loss = F.binary_cross_entropy_with_logits(logits, v, reduction="sum") / len(v)
        return torch.sigmoid(logits), loss

    def encoder_linears(self):
        return [m for m in self.encoder if isinstance(m, nn.Linear)]

    def decoder_linears(self):
        return [m for m in self.decoder if isinstance(m, nn.Linear)]

    @torch.no_grad()
    def load_layers(self, layers):
        """Unroll pre-trained layers: [(W (H, V), c (H,), b (V,)), ...] bottom first.

        Encoder layer l: weight W_l, bias c_l; the mirrored decoder layer: weight W_lᵀ, bias b_l
        (tied at the start; fine-tuning unties them).
        """
        enc, dec = self.encoder_linears(), self.decoder_linears()[::-1]  # dec[l] maps layer l's output back down
        if len(layers) != len(enc):
            raise ValueError(f"{len(layers)} pre-trained layers for an autoencoder of {len(enc)}")
        for (W, c, b), e, d in zip(layers, enc, dec):
            e.weight.copy_(W)
            e.bias.copy_(c)
            d.weight.copy_(W.T)
            d.bias.copy_(b)


def make_model(cfg, input_shape):
    return DeepAutoencoder(math.prod(input_shape), cfg.layers, cfg.code)


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    return make_model(cfg, run_config["data"]["input_shape"])


# ---------------------------------------------------------------------------------------------
# Measures


def squared_error(recon, target):
    """{"squared_error": batch mean of Σ_i (v_i − v̂_i)²}, target the images (the engine's metrics hook)."""
    return {"squared_error": ((pixels(target) - recon) ** 2).sum(1).mean()}


@torch.no_grad()
def evaluate_part(model, part, device, batch_size=1000):
    """`deepnet eval`: per image, the squared error Σ_i (v_i − v̂_i)² and the cross-entropy (the loss)."""
    device = torch.device(device)
    was = model.training
    model.eval()
    se = ce = 0.0
    for i in range(0, len(part), batch_size):
        x = part.x[i:i + batch_size].to(device)
        recon, loss = model(x)
        se += ((pixels(x) - recon) ** 2).sum().item()
        ce += loss.item() * len(x)
    model.train(was)
    n = max(len(part), 1)
    return {"squared_error": se / n, "cross_entropy": ce / n, "examples": len(part)}


# ---------------------------------------------------------------------------------------------
# Denoising autoencoders, one layer at a time


class DenoisingLayer(nn.Module):
    """One tied-weight denoising autoencoder: x (B, V) in [0, 1] -> (x̂ (B, V), loss).

    h = f(W x̃ + c), x̂ = σ(Wᵀ h + b), x̃ = x with a fraction `noise` of its components zeroed (in
    training only); loss = −Σ_i [x_i log x̂_i + (1 − x_i) log(1 − x̂_i)], batch mean.
    """

    def __init__(self, n_visible, n_hidden, noise=0.25, linear=False):
        super().__init__()
        self.noise, self.linear = noise, linear
        bound = 4 * math.sqrt(6 / (n_visible + n_hidden))  # Glorot's range, ×4 for logistic units (Vincent's code)
        self.weight = nn.Parameter(torch.empty(n_hidden, n_visible).uniform_(-bound, bound))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))

    def hidden(self, x):
        a = F.linear(x, self.weight, self.hidden_bias)  # W x + c: (B, V) -> (B, H)
        return a if self.linear else torch.sigmoid(a)

    def forward(self, x, y=None):
        x = pixels(x)
        corrupted = x
        if self.training and self.noise > 0:
            corrupted = x * (torch.rand_like(x) >= self.noise)  # masking noise
        logits = F.linear(self.hidden(corrupted), self.weight.T, self.visible_bias)  # Wᵀ h + b: (B, H) -> (B, V)
        return torch.sigmoid(logits), F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


def _finished_state(run_dir, system):
    """The final checkpoint of a finished run folder, or None."""
    ckpt = Path(run_dir) / "checkpoint.pt"
    if not ckpt.exists():
        return None
    state = load_checkpoint(ckpt, system=system)
    return state if state.get("finished") else None


def _as_reconstruction(data):
    """The Splits with each part's targets replaced by its inputs (an autoencoder's targets)."""
    return dataclasses.replace(data, train=ArrayDataset(data.train.x, data.train.x),
                               val=ArrayDataset(data.val.x, data.val.x), test=ArrayDataset(data.test.x, data.test.x))


@torch.no_grad()
def _codes(layer, x, batch_size=1000):
    layer.eval()
    return torch.cat([layer.hidden(pixels(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]) \
        if len(x) else x


def pretrain_dae(widths, data, tc, run_dir, noise=0.25, linear_top=False, resume=False, record=None):
    """Greedy stacked denoising autoencoders over widths (V, H_1, ..., H_L): [(W, c, b), ...] bottom first.

    Layer l trains by the engine (tc: a core.train.TrainConfig) in run_dir/layer<l>, on the clean
    codes of the layers below (validation on the same codes of data.val; data.test is never read).
    A layer whose folder holds a finished run is read back, so a killed stack resumes at its layer.
    """
    run_dir = Path(run_dir)
    train_x, val_x = data.train.x, data.val.x
    out = []
    for l in range(1, len(widths)):
        layer_dir = run_dir / f"layer{l}"
        seed_everything(tc.seed + l)
        layer = DenoisingLayer(widths[l - 1], widths[l], noise, linear=linear_top and l == len(widths) - 1)
        part = dataclasses.replace(data, train=ArrayDataset(train_x, data.train.y[:len(train_x)]),
                                   val=ArrayDataset(val_x, data.val.y[:len(val_x)]), test=ArrayDataset(val_x[:0], data.val.y[:0]),
                                   input_shape=(widths[l - 1],))
        done = _finished_state(layer_dir, "autoencoder")
        if done is not None:
            load_model_state(layer, done["model"], str(layer_dir / "checkpoint.pt"))
        else:
            run_config = {**(record or {}), "system": "autoencoder", "phase": f"dae layer {l}",
                          "model": {"n_visible": widths[l - 1], "n_hidden": widths[l], "noise": noise},
                          "data": {**part.info(), **(record or {}).get("data", {})}}
            resumable = resume and (layer_dir / "checkpoint.pt").exists()
            engine_fit(layer, _as_reconstruction(part), dataclasses.replace(tc, seed=tc.seed + l, monitor="loss"),
                       layer_dir, run_config, resume=resumable, metrics=None, test=False)
        out.append((layer.weight.detach().clone(), layer.hidden_bias.detach().clone(),
                    layer.visible_bias.detach().clone()))
        train_x, val_x = _codes(layer, train_x), _codes(layer, val_x)  # (N, H_l): the next layer's inputs
    return out


def unroll_classifier(layers, num_classes, dropout=0.0):
    """A logistic MLP (core.feedforward) whose hidden layers are pre-trained encoder layers [(W, c, ...)], output fresh."""
    mlp = MLP(layers[0][0].shape[1], num_classes, tuple(W.shape[0] for W, *_ in layers), "logistic", dropout)
    with torch.no_grad():
        for (W, c, *_), linear in zip(layers, mlp.linears()):
            linear.weight.copy_(W)
            linear.bias.copy_(c)
    return mlp


def stack_layers(dbn):
    """[(W, c, b), ...] of a core.boltzmann.DBN, bottom first (what load_layers and unroll_classifier read)."""
    return [(r.weight.detach().clone(), r.hidden_bias.detach().clone(), r.visible_bias.detach().clone())
            for r in dbn.rbms]


# ---------------------------------------------------------------------------------------------
# Training: pre-training, then fine-tuning by the engine


def _pretrain(model, mcfg, data, cfg, pre_dir, resume, record):
    """Greedy pre-training of model's layers in pre_dir (resumable); the layers are loaded into the model."""
    widths = (model.encoder_linears()[0].in_features, *mcfg.layers)
    tc = dataclasses.replace(cfg, epochs=mcfg.pretrain_epochs, batch_size=mcfg.pretrain_batch_size,
                             checkpoint_every=cfg.checkpoint_every)
    linear_code = mcfg.code == "linear"
    if mcfg.pretrain == "dae":
        tc = dataclasses.replace(tc, optimizer="sgd", lr=mcfg.dae_lr, momentum=0.9, nesterov=False,
                                 schedule="constant", warmup=0.0, weight_decay=0.0, patience=0, clip_grad=0.0)
        layers = pretrain_dae(widths, data, tc, pre_dir, mcfg.noise, linear_top=linear_code, resume=resume,
                              record=record)
        model.load_layers(layers)
        return
    # RBM stack: core/boltzmann.py's greedy loop on its own run folder
    tc = dataclasses.replace(tc, optimizer="sgd", lr=mcfg.rbm_lr, momentum=0.9, nesterov=False, schedule="constant",
                             warmup=0.0, weight_decay=2e-4, patience=0, clip_grad=0.0)
    boltzmann.check_train_config(tc)
    dbn = boltzmann.DBN(widths[0], mcfg.layers, top_hidden="gaussian" if linear_code else "bernoulli")
    layer_lr = [1.0] * (len(mcfg.layers) - 1) + [mcfg.code_lr_factor if linear_code else 1.0]
    done = _finished_state(pre_dir, "autoencoder")
    if done is not None:
        load_model_state(dbn, done["model"], str(pre_dir / "checkpoint.pt"))
    else:
        run_config = {**(record or {}), "system": "autoencoder", "phase": "rbm pre-training",
                      "model": {"layers": list(mcfg.layers), "code": mcfg.code}, "train": asdict(tc),
                      "data": {**data.info(), **(record or {}).get("data", {})}}
        run = Run(pre_dir, run_config, resume=resume and (pre_dir / "checkpoint.pt").exists(), grows=())
        with run:
            boltzmann.greedy_loop(dbn, data, tc, run, pick_device(tc.device), layer_lr=layer_lr)
    model.load_layers(stack_layers(dbn))


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """Pre-train (run_dir/pretrain), then fine-tune by the engine (run_dir); the engine's result.

    cfg (core.train.TrainConfig) is the fine-tuning recipe; pre-training takes its device, seed,
    checkpoint_every and progress, and the model config's pretrain_* settings. best.pt: the lowest
    validation cross-entropy; the test part is read once, at the end.
    """
    if augment is not None:
        raise ConfigError("autoencoder rebuilds the images as they are: drop --augment")
    cfg.check()
    mcfg = config_from_dict(Config, run_config["model"], "model config")
    run_dir = Path(run_dir)
    pre_dir, main_ckpt = run_dir / "pretrain", run_dir / "checkpoint.pt"
    resume = resume or continues(run_dir)  # an experiment taken up again (core/run.py's continue_runs)
    if not resume and (main_ckpt.exists() or pre_dir.exists()):
        raise CheckpointError(f"{run_dir} already holds a run: resume it with --resume {run_dir} or choose another --out")
    seed_everything(cfg.seed)
    model = model.to(pick_device(cfg.device))
    if mcfg.pretrain != "none" and not main_ckpt.exists():
        made = not run_dir.exists()
        if not resume:  # config.json from the start, so that a run killed while pre-training resumes by its folder
            write_config(run_dir, {**run_config, "train": asdict(cfg)})
        try:
            _pretrain(model, mcfg, data, cfg, pre_dir, resume, {k: v for k, v in run_config.items()
                                                                 if k not in ("system", "model", "train")})
        except BaseException:
            if made and not any(pre_dir.rglob("checkpoint.pt")):  # nothing kept: leave nothing behind
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
    return engine_fit(model, _as_reconstruction(data), cfg, run_dir, run_config, resume=main_ckpt.exists(),
                      metrics=squared_error, test=test)


def train(model_cfg, data, tc, run_dir, resume=False, test=True, record=None):
    """Build and train (or resume) an autoencoder without the CLI: (model, fit's result)."""
    seed_everything(tc.seed)
    model = make_model(model_cfg, data.input_shape)
    run_config = {**(record or {}), "system": "autoencoder", "model": asdict(model_cfg),
                  "data": {**data.info(), **(record or {}).get("data", {})}}
    return model, fit(model, data, tc, run_dir, run_config, resume=resume, test=test)


def load_trained(run_dir, which="best", device="cpu"):
    state = load_checkpoint(Path(run_dir) / ("best.pt" if which == "best" else "checkpoint.pt"), system="autoencoder")
    model = build(state["config"]).to(device)
    load_model_state(model, state["model"])
    return model.eval()
