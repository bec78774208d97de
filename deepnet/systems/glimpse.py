"""The Recurrent Attention Model: a recurrent net that reads an image through a few small glimpses.

Mnih, Heess, Graves & Kavukcuoglu 2014 ("Recurrent Models of Visual Attention"; review, "Image
understanding with deep convolutional networks" and "The future of deep learning": future vision
systems will be trained end to end and combine ConvNets with RNNs that use reinforcement learning
to decide where to look). At each step t = 1..T the model
  - senses a retina-like glimpse rho(x, l_{t-1}) around location l_{t-1}: k square patches centred
    there, the first g x g pixels, each next one twice as wide, every one averaged down to g x g;
  - encodes it with the location (the glimpse network, Section 4):
        h_g = ReLU(Linear(rho))      h_l = ReLU(Linear(l))      g_t = ReLU(Linear(h_g) + Linear(h_l))
  - updates its state (the core network): h_t = ReLU(Linear(h_{t-1}) + Linear(g_t))   (or an LSTM cell)
  - chooses where to look next: l_t ~ N(mu_t, sigma^2 I), mu_t = tanh(Linear(h_t)), sigma fixed (`std`)
    (the paper's mean is Linear(h_t); the tanh keeps it inside the image).
After the T-th glimpse a linear softmax classifier reads h_T.

Locations are (row, column) in [-1, 1]^2: (0, 0) the image centre, (-1, -1) its top-left corner. The
first glimpse is at the centre (a summary of the paper says its first glimpse is random; a fixed start
keeps evaluation deterministic, and a random one while training did worse: MNIST validation accuracy 0.914
against 0.931 after 10 epochs, seed 0). A location drawn outside [-1, 1] is clipped for the sensor; patches that
reach past the border read zeros.

Training (Section 3.2) is the hybrid loss: the classifier, core and glimpse networks learn by
backpropagating the cross-entropy of the final classification, and the location network by
REINFORCE (Williams 1992) with reward R = 1 for a correct final classification, 0 otherwise:

    grad J ~ sum_t grad log pi(l_t | h_t) (R - b_t),      log pi(l | mu) = -||l - mu||^2 / (2 sigma^2) + const

where the baseline b_t = Linear(h_t) is regressed on R by squared error and enters the policy gradient
detached. Both location and baseline networks read h_t detached, so that only the cross-entropy shapes
the core (as the paper trains the location network alone by REINFORCE). The model's loss is the sum:

    loss = CE(scores, y) - mean_batch sum_t log pi(l_t | h_t) (R - b_t).detach() + mean_batch sum_t (b_t - R)^2 / (T - 1)

Evaluation (model.eval()) looks at the location means mu_t, with no sampling (the paper does not say
which; this choice is deterministic). Trained by the engine (core/train.py) like any classifier: the
location draws use torch's generator, whose state every checkpoint saves, so runs resume exactly.

The paper's settings, by task: 28x28 MNIST, one 8x8 patch (`--patch 8 --scales 1`, the defaults);
60x60 translated and cluttered MNIST, three scales of 12x12 (`--patch 12 --scales 3`).
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.config import config_from_dict
from deepnet.core.recurrent import LSTMCell
from deepnet.core.train import TrainConfig
from deepnet.errors import ConfigError, DataError

# Datasets `deepnet train glimpse` accepts: MNIST and the paper's 60x60 canvases (deepnet/data/translated.py)
TRAINS_ON = ("mnist", "mnist_translated60", "mnist_cluttered60")
# `deepnet train glimpse`'s recipe: Adam (AdamW without decay) at 1e-3, batches of 64, the gradient norm
# clipped at 5, best.pt by validation accuracy. Compared on MNIST validation (6 glimpses, 400 steps, seed 0,
# 1 thread): batches of 64 0.729, of 32 0.658; rate 3e-3 no better than 1e-3 (0.707 against 0.703 at 600
# steps). The paper used SGD with momentum 0.9 for far longer; Adam learns faster in the few epochs a CPU allows
TRAIN_CONFIG = TrainConfig(epochs=10, batch_size=64, optimizer="adamw", lr=1e-3, momentum=0.9, weight_decay=0.0,
                           clip_grad=5.0, monitor="accuracy", eval_batch_size=1000)
fit = prepare_data = evaluate_part = None  # the engine trains and evaluates it


@dataclass
class Config:
    """The Recurrent Attention Model: glimpse sensor, glimpse network, core RNN, location and classifier."""

    glimpses: int = 6  # glimpses T before the classification (the paper: 6 on 28x28, 4 to 8 on 60x60); range [1, 64]
    patch: int = 8  # side g of the smallest (sharpest) patch, in pixels (the paper: 8 on 28x28, 12 on 60x60); range [1, 128]
    scales: int = 1  # patches k per glimpse, each twice as wide as the one before (the paper: 1 on 28x28, 3 on 60x60); range [1, 6]
    what: int = 128  # units of h_g (what was seen) and of h_l (where); the paper's 128; range [1, 8192]
    glimpse: int = 256  # units of the glimpse feature g_t; the paper's 256; range [1, 8192]
    hidden: int = 256  # units of the core state h_t; the paper's 256; range [1, 8192]
    core: Literal["rnn", "lstm"] = "rnn"  # core network: ReLU RNN (the paper's for MNIST) or an LSTM cell
    # std sigma of the Gaussian location policy, in the [-1, 1] coordinates (fixed, not learnt): 0.1 is 1.4
    # pixels of a 28x28 image, 3 of a 60x60 one. Chosen on validation after 10 epochs of the recipe (seed 0,
    # 1 thread): MNIST, 6 glimpses: 0.05 -> best accuracy 0.931, 0.1 -> 0.944, 0.2 -> 0.931; cluttered 60x60
    # (new canvases every minibatch), 8 glimpses: 0.05 -> 0.663, 0.1 -> 0.751. After 600 steps only, 0.05 had
    # led (0.809, against 0.742 for 0.1): narrow draws help early, but give REINFORCE too little to learn
    # from (a 0.7-pixel move of an 8x8 patch hardly changes what it sees); range (0, 2]
    std: float = 0.1


def glimpse_sensor(x, l, patch, scales, padded=None):
    """rho(x, l): `scales` square patches centred at l, sides patch * 2^i, each averaged down to patch x patch.

    x: (B, C, H, W) float; l: (B, 2) (row, col) in [-1, 1] (clipped). The centre pixel is
    floor((l + 1) / 2 * size) (clamped into the image); patch i covers rows and columns
    [centre - s_i // 2, centre - s_i // 2 + s_i), s_i = patch * 2^i, and reads 0 outside the image.
    padded: `pad_image(x, patch, scales)`, when the caller looks at the same images several times.
    Returns (B, scales, C, patch, patch). No loop over images: one gather of the largest window per batch.
    """
    B, C, H, W = x.shape
    S = patch << (scales - 1)  # the largest side
    xp, pad = padded if padded is not None else pad_image(x, patch, scales)
    Wp = xp.shape[3]
    centre = pixel_centre(l, H, W)  # (B, 2) pixel (row, col)
    top = centre - S // 2 + pad  # (B, 2) top-left of the largest window in the padded image
    ar = torch.arange(S, device=x.device)
    rows = top[:, 0, None] + ar  # (B, S)
    cols = top[:, 1, None] + ar  # (B, S)
    flat = (rows[:, :, None] * Wp + cols[:, None, :]).view(B, 1, S * S)  # (B, 1, S*S) indices into the padded image
    window = xp.flatten(2).gather(2, flat.expand(B, C, S * S)).view(B, C, S, S)  # (B, C, S, S)
    out = []
    for i in range(scales):  # a loop over the k scales, not over images
        s = patch << i
        o = S // 2 - s // 2  # patch i's top-left inside the window: same centre pixel
        p = window[:, :, o:o + s, o:o + s]  # (B, C, s, s)
        out.append(F.avg_pool2d(p, 1 << i) if i else p)  # (B, C, patch, patch): mean of 2^i x 2^i blocks
    return torch.stack(out, 1)  # (B, scales, C, patch, patch)


def pixel_centre(l, H, W):
    """The pixel (row, col) a location l (..., 2) in [-1, 1] (clipped) centres on in an H x W image:
    floor((l + 1) / 2 * size), kept inside the image. Returns int64 (..., 2)."""
    size = torch.tensor([H, W], device=l.device)
    return torch.minimum(((l.clamp(-1, 1) + 1) / 2 * size).floor().long(), size - 1)


def pad_image(x, patch, scales):
    """(x zero-padded by half the largest patch and one pixel on every side, that padding)."""
    pad = (patch << (scales - 1)) // 2 + 1
    return F.pad(x, (pad, pad, pad, pad)), pad  # (B, C, H + 2 pad, W + 2 pad)


def log_prob(l, mu, std):
    """log N(l; mu, std^2 I) summed over the 2 coordinates: (B, 2), (B, 2) -> (B,)."""
    return (-((l - mu) ** 2) / (2 * std ** 2)).sum(-1) - 2 * (math.log(std) + 0.5 * math.log(2 * math.pi))


class RAM(nn.Module):
    """uint8 or [0, 1] pixels (B, C, H, W) -> (class scores (B, K), hybrid loss when given targets (B,))."""

    def __init__(self, cfg, in_shape, num_classes):
        super().__init__()
        self.cfg = cfg
        self.in_shape = tuple(in_shape)  # (C, H, W): locations are relative, so the size is checked, not implied
        c = in_shape[0]
        self.fc_what = nn.Linear(cfg.scales * c * cfg.patch ** 2, cfg.what)  # h_g = ReLU(W rho + b)
        self.fc_where = nn.Linear(2, cfg.what)  # h_l = ReLU(W l + b)
        self.what_to_g = nn.Linear(cfg.what, cfg.glimpse)  # g = ReLU(Linear(h_g) + Linear(h_l))
        self.where_to_g = nn.Linear(cfg.what, cfg.glimpse)
        if cfg.core == "lstm":
            self.cell = LSTMCell(cfg.glimpse, cfg.hidden)
        else:
            self.core_h = nn.Linear(cfg.hidden, cfg.hidden)  # h_t = ReLU(Linear(h_{t-1}) + Linear(g_t))
            self.core_g = nn.Linear(cfg.glimpse, cfg.hidden)
        self.locator = nn.Linear(cfg.hidden, 2)  # mu_t = tanh(Linear(h_t))
        self.baseline = nn.Linear(cfg.hidden, 1)  # b_t = Linear(h_t)
        self.classifier = nn.Linear(cfg.hidden, num_classes)  # softmax(Linear(h_T))

    def glimpse_features(self, x, l, padded=None):
        """g_t from the image (B, C, H, W) and location l (B, 2): (B, glimpse)."""
        rho = glimpse_sensor(x, l, self.cfg.patch, self.cfg.scales, padded).flatten(1)  # (B, k, C, g, g) -> (B, k*C*g*g)
        h_g = F.relu(self.fc_what(rho))
        h_l = F.relu(self.fc_where(l))
        return F.relu(self.what_to_g(h_g) + self.where_to_g(h_l))

    def run(self, x, sample):
        """The T glimpses. Returns scores (B, K), locations (B, T, 2) (where each glimpse looked), and,
        over the T - 1 chosen locations, log_pi (B, T - 1) and baselines (B, T - 1)."""
        if tuple(x.shape[1:]) != self.in_shape:
            # e.g. 28x28 training digits reaching a 60x60 canvas model without translated.Canvases as the augment hook
            raise DataError(f"the glimpse model was built for images {self.in_shape}, got {tuple(x.shape[1:])}: "
                            "give it images of that size (60x60 canvas training puts its 28x28 digits on canvases "
                            "through the data's augment hook, deepnet/data/translated.py)")
        if x.dtype == torch.uint8:
            x = x.float() / 255
        B = x.shape[0]
        T, std = self.cfg.glimpses, self.cfg.std
        h = x.new_zeros(B, self.cfg.hidden)
        state = (h, x.new_zeros(B, self.cfg.hidden)) if self.cfg.core == "lstm" else None
        l = x.new_zeros(B, 2)  # l_0: the centre
        locations, log_pi, baselines = [l], [], []
        padded = pad_image(x, self.cfg.patch, self.cfg.scales)  # once for the T glimpses
        for t in range(T):
            g = self.glimpse_features(x, l, padded)
            if state is not None:
                state = self.cell(g, state)
                h = state[0]
            else:
                h = F.relu(self.core_h(h) + self.core_g(g))  # h_t = ReLU(Linear(h_{t-1}) + Linear(g_t))
            if t == T - 1:
                break  # the last state is classified; no further location
            mu = torch.tanh(self.locator(h.detach()))  # (B, 2)
            if sample:
                l = (mu + std * torch.randn_like(mu)).detach()  # l_t ~ N(mu_t, std^2 I): an action, not differentiated
                log_pi.append(log_prob(l, mu, std))  # (B,)
            else:
                l = mu.detach()
            baselines.append(self.baseline(h.detach()).squeeze(1))  # (B,)
            l = l.clamp(-1, 1)
            locations.append(l)
        scores = self.classifier(h)  # (B, K)
        empty = x.new_zeros(B, 0)
        return {"scores": scores, "locations": torch.stack(locations, 1),
                "log_pi": torch.stack(log_pi, 1) if log_pi else empty,
                "baselines": torch.stack(baselines, 1) if baselines else empty}

    def forward(self, x, y=None):
        out = self.run(x, sample=self.training)
        scores = out["scores"]
        if y is None:
            return scores, None
        ce = F.cross_entropy(scores, y)
        if not self.training:  # evaluation: the classification loss alone
            return scores, ce
        return scores, ce + hybrid_terms(scores, y, out["log_pi"], out["baselines"])

    @torch.no_grad()
    def trace(self, x):
        """Where each glimpse looks, by the location means: (locations (B, T, 2), predicted classes (B,))."""
        was = self.training
        self.eval()
        out = self.run(x, sample=False)
        self.train(was)
        return out["locations"], out["scores"].argmax(1)


def hybrid_terms(scores, y, log_pi, baselines):
    """REINFORCE with a learnt baseline, plus the baseline's regression on the reward.

    R = 1[argmax scores = y] (B,); log_pi, baselines (B, T - 1). The policy term's gradient is
    -sum_t grad log pi(l_t) (R - b_t), averaged over the batch; the baseline term is the squared error
    (b_t - R)^2 averaged over steps and batch.
    """
    R = (scores.detach().argmax(1) == y).float()[:, None]  # (B, 1)
    steps = max(baselines.shape[1], 1)
    reinforce = -(log_pi * (R - baselines).detach()).sum(1).mean()
    regression = ((baselines - R) ** 2).sum(1).mean() / steps
    return reinforce + regression


def make(cfg, in_shape, num_classes):
    """The model a Config describes for inputs (C, H, W) and `num_classes` classes."""
    if len(in_shape) != 3:
        raise ConfigError(f"the glimpse model reads images (C, H, W), not inputs of shape {tuple(in_shape)}")
    return RAM(cfg, tuple(in_shape), num_classes)


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return make(cfg, data["input_shape"], data["num_classes"])


def load_data(name, seed, train_cfg=None):
    """MNIST, or one of its 60x60 canvases (deepnet/data/translated.py), as Splits."""
    from deepnet.data import mnist, translated

    if name == "mnist":
        return mnist.load(seed=seed)
    if name in translated.VARIANTS:
        return translated.load(name, seed=seed)
    raise ConfigError(f"system 'glimpse' cannot be trained on '{name}'; it takes: {', '.join(TRAINS_ON)}")


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
