"""The neural probabilistic language model of Bengio, Ducharme, Vincent & Jauvin (2003).

Review, "Distributed representations and language processing" (Figure 4): a network trained
to predict the next word from the previous ones learns, for each word, a vector of features;
words used alike get similar vectors, so the model generalises to word sequences it never
saw, which n-gram counts cannot do. The model (Bengio et al. 2003, section 2, eq. 1):

    x = (C(w_{t-1}), C(w_{t-2}), ..., C(w_{t-n+1}))     shared word vectors, concatenated  (B, (n-1) m)
    y = b + W x + U tanh(d + H x)                         W: optional direct connections      (B, |V|)
    P(w_t = i | context) = exp(y_i) / Σ_j exp(y_j)

Trained by minibatch SGD on the log-likelihood with the engine (core.train.fit): the data
are (B, n-1) context windows and (B,) next words.
"""

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepnet.core.config import config_from_dict
from deepnet.core.train import TrainConfig, evaluate as _evaluate

TRAINS_ON = ("brown", "ptb")  # word corpora `deepnet train nplm` takes
# trained by the engine on its context windows (prepare_data below; the interface: systems/__init__.py)
# `deepnet train nplm`'s recipe: nplm_brown's (AdamW, cosine decay after 2% warm-up), whose rate 3e-3 was
# chosen on Brown validation perplexity
TRAIN_CONFIG = TrainConfig(epochs=2, batch_size=256, optimizer="adamw", lr=3e-3, schedule="cosine", warmup=0.02,
                           eval_batch_size=2048, log_every=100)
fit = load_data = None


@dataclass
class Config:
    """nplm: n-1 context words -> shared m-dim vectors -> tanh layer of h units -> softmax over |V|."""

    context: int = 4  # n - 1 previous words (the paper's best Brown models use n = 5); range [1, 32]
    embed: int = 60  # m: size of the word vectors C(w); range [1, 4096]
    hidden: int = 100  # h: tanh hidden units (0: none, the model is then log-bilinear through W); range [0, 65536]
    direct: bool = False  # direct connections W from the word vectors to the outputs
    dropout: float = 0.0  # dropout on the concatenated vectors and the hidden layer (not in the paper); range [0, 1)
    cpu_bf16: bool = False  # bf16 autocast on a CPU for the matrix products (the loss stays fp32)
    embed_init: float = 0.0  # std of the initial word vectors (0: torch's N(0, 1)); range [0, 10]
    #                          (small values let the learned geometry, not the random start, dominate after a short training)


class NPLM(nn.Module):
    """(B, n-1) context ids, oldest first -> (B, |V|) next-word logits."""

    def __init__(self, vocab_size, cfg):
        super().__init__()
        self.cfg = cfg
        self.C = nn.Embedding(vocab_size, cfg.embed)  # the word feature vectors (|V|, m)
        if cfg.embed_init > 0:
            nn.init.normal_(self.C.weight, std=cfg.embed_init)
        width = cfg.context * cfg.embed
        self.H = nn.Linear(width, cfg.hidden) if cfg.hidden else None  # H and d
        self.U = nn.Linear(cfg.hidden, vocab_size) if cfg.hidden else None  # U and b
        self.W = nn.Linear(width, vocab_size, bias=not cfg.hidden) if cfg.direct or not cfg.hidden else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, y=None):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.cpu_bf16 and x.device.type == "cpu"):
            e = self.drop(self.C(x).flatten(1))  # (B, n-1, m) -> (B, (n-1) m): x = (C(w_{t-1}), ...)
            logits = 0
            if self.H is not None:
                a = self.drop(torch.tanh(self.H(e)))  # tanh(d + H x)   (B, h)
                logits = self.U(a)  # b + U tanh(d + H x)
            if self.W is not None:
                logits = logits + self.W(e)  # + W x
        logits = logits.float()
        loss = F.cross_entropy(logits, y) if y is not None else None  # -log P(w_t | context), mean nats
        return logits, loss


def build(run_config):
    cfg = config_from_dict(Config, run_config["model"], "model config")
    return NPLM(run_config["data"]["num_classes"], cfg)


def windows(x, y, context):
    """From a part's streams x = ids[:-1], y = ids[1:], the (N, context) windows before each target.

    The first context-1 targets have too short a history and are dropped (a few tokens).
    """
    ids = torch.cat([x[:1], y])  # the stream
    N = len(ids) - context
    ctx = torch.stack([ids[j:j + N] for j in range(context)], dim=1)  # (N, context), oldest first
    return ctx, ids[context:]  # (N, context), (N,)


def prepare_data(data, cfg):
    """The CLI's data hook: each part's token stream -> (N, n-1) context windows and (N,) next words."""
    parts = {}
    for name in ("train", "val", "test"):
        part = getattr(data, name)
        parts[name] = type(part)(*windows(part.x, part.y, cfg.context)) if len(part) > cfg.context else \
            type(part)(part.x.new_zeros((0, cfg.context)), part.y[:0])  # too short for one window: empty
    return dataclasses.replace(data, **parts, input_shape=(cfg.context,))


def evaluate_part(model, data, device):
    """`deepnet eval`: loss (nats per word), next-word accuracy and perplexity exp(loss) over windowed data."""
    m = _evaluate(model, data, device, batch_size=2048)
    return {**m, "perplexity": math.exp(m["loss"]), "words": len(data)}
