"""A deep neural net acoustic model: frame class posteriors from a window of stacked frames.

The review ("Deep learning", introduction and "Recurrent neural networks"; Hinton et al. 2012,
"Deep neural networks for acoustic modeling in speech recognition"): speech recognisers long
modelled each short frame of sound with Gaussian mixtures; deep nets fed a window of several
frames predict, better, the probability of each sound class at the centre frame.

For each frame t of an utterance, the input is the frame with its k neighbours either side,
(2k + 1) frames of F features (the ends of the utterance repeated), and the net computes

    h_l = ReLU(W_l h_{l-1} + b_l)  (dropout after each)      p(c | window_t) = softmax(W_L h_{L-1} + b_L)

Trained by frame-level cross-entropy, every frame's target being its utterance's label (an
isolated word: every frame belongs to the word). An utterance is scored by its frames' summed
log posteriors, score_c = sum_t log p(c | window_t), over its real frames only (hybrid systems
divide by the class priors; the classes here are balanced, so they would change nothing).

Input: the padded-utterance tensor of data/audio.py, x (B, T, 1 + F), channel 0 the valid-frame
mask. forward(x, y) returns (utterance scores (B, classes), mean frame cross-entropy over the
valid frames); padding frames change neither, so the engine's accuracy is utterance accuracy.
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.config import config_from_dict
from deepnet.core.train import TrainConfig
from deepnet.data import audio

# Datasets `deepnet train acoustic_dnn` accepts (padded utterances of frames: data/audio.py).
TRAINS_ON = ("fsdd",)
# `deepnet train acoustic_dnn`'s recipe: AdamW with cosine decay, 8 epochs of 32 utterances, as in
# speech_dnn_vs_gmm's quick profile, whose validation grid on FSDD's official split (this Config's net, rates
# 1e-3 and 3e-3) picked 3e-3 (validation utterance accuracy 1.00 against 0.99); validation accuracy chooses best.pt
TRAIN_CONFIG = TrainConfig(epochs=8, batch_size=32, optimizer="adamw", lr=3e-3, momentum=0.0,
                           schedule="cosine", monitor="accuracy", eval_batch_size=256)
fit = load_data = prepare_data = evaluate_part = None  # the engine trains and evaluates it on the data as loaded


@dataclass
class Config:
    """A frame classifier over (2 * context + 1) stacked frames: ReLU hidden layers with dropout."""

    context: int = 5  # frames stacked either side of the centre frame (5: 110 ms windows); range [0, 50]
    hidden: tuple[int, ...] = (256, 256)  # units of each ReLU hidden layer; range [1, 65536], 1 to 16 values
    dropout: float = 0.2  # dropout probability after each hidden layer; range [0, 1)


def stack_frames(feats, lengths, k):
    """(B, T, F) -> (B, T, (2k + 1) F): frame t with frames t-k..t+k, clamped to the utterance's real frames."""
    B, T, Fd = feats.shape
    offsets = torch.arange(-k, k + 1, device=feats.device)  # (2k + 1,)
    idx = torch.arange(T, device=feats.device)[None, :, None] + offsets[None, None]  # (1, T, 2k + 1)
    last = (lengths - 1).clamp(min=0)[:, None, None]  # (B, 1, 1)
    idx = torch.minimum(idx.clamp(min=0), last)  # (B, T, 2k + 1): never a padding frame
    gathered = torch.gather(feats[:, :, None, :].expand(B, T, 2 * k + 1, Fd), 1,
                            idx[..., None].expand(B, T, 2 * k + 1, Fd))  # (B, T, 2k + 1, F)
    return gathered.reshape(B, T, (2 * k + 1) * Fd)


class AcousticDNN(nn.Module):
    """x (B, T, 1 + F) padded utterances -> (utterance scores (B, classes), mean frame cross-entropy)."""

    def __init__(self, n_features, num_classes=10, context=5, hidden=(256, 256), dropout=0.2):
        super().__init__()
        self.context = context
        layers, width = [], (2 * context + 1) * n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]  # h_l = ReLU(W_l h_{l-1} + b_l)
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))  # frame class scores
        self.net = nn.Sequential(*layers)

    def frame_log_posteriors(self, x):
        """(log p(c | window) of each valid frame (n, classes), the utterance each belongs to (n,), B)."""
        mask = x[..., 0] > 0.5  # (B, T)
        lengths = mask.sum(1)  # (B,)
        T = max(int(lengths.max()), 1) if len(x) else 1
        x, mask = x[:, :T], mask[:, :T]  # padding comes last: the batch's longest utterance bounds it
        windows = stack_frames(x[..., 1:], lengths, self.context)  # (B, T, (2k + 1) F)
        logp = F.log_softmax(self.net(windows[mask]), dim=-1)  # (n, classes): real frames only
        owner = mask.nonzero()[:, 0]  # (n,) utterance of each frame
        return logp, owner, len(x)

    def forward(self, x, y=None):
        logp, owner, B = self.frame_log_posteriors(x)
        scores = logp.new_zeros(B, logp.shape[1]).index_add_(0, owner, logp)  # sum_t log p(c | window_t)
        loss = F.nll_loss(logp, y[owner]) if y is not None else None  # mean over valid frames
        return scores, loss


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    n_features = data["input_shape"][-1] - 1  # channel 0 is the mask
    return AcousticDNN(n_features, data["num_classes"], cfg.context, cfg.hidden, cfg.dropout)


@torch.no_grad()
def transcribe(model, samples, rate):
    """[(digit, probability)] for one recording, most probable first, with the features the run trained on.

    The probability normalises the geometric mean of the frame posteriors, exp(score_c / T) (the
    plain product, exp(score_c), treats frames as independent and is nearly always 0 or 1).
    """
    from deepnet.data import fsdd

    info = model.run_config["data"]
    settings = info["features"]
    feats = fsdd.features_of(samples, rate, settings)  # (T, F)
    if settings.get("context"):
        feats = fsdd.stack_context(feats, settings["context"])
    if feats.shape[1] != info["input_shape"][-1] - 1:
        raise ValueError(f"features of {feats.shape[1]} values per frame, the model takes {info['input_shape'][-1] - 1}")
    device = next(model.parameters()).device
    x = audio.pad_utterances([feats]).to(device)  # (1, T, 1 + F)
    was_training = model.training
    model.eval()
    scores, _ = model(x)
    model.train(was_training)
    probs = torch.softmax(scores[0] / max(len(feats), 1), dim=0).cpu()
    classes = info.get("classes") or [str(c) for c in range(len(probs))]
    order = probs.argsort(descending=True).tolist()
    return [(classes[i], float(probs[i])) for i in order]


def n_parameters(cfg, n_features, num_classes=10):
    """Weights and biases of the net a Config describes (for sizing comparisons)."""
    widths = [(2 * cfg.context + 1) * n_features, *cfg.hidden, num_classes]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))

