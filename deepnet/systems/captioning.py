"""Image captioning: a ConvNet reads the pixels, an LSTM with soft attention writes the sentence.

The review (Figure 3): a deep ConvNet extracts a representation of the image; a recurrent net,
trained like the translation decoder, "translates" it into a caption; when the RNN is able to
focus its attention on a different location of the image as it generates each word (Xu et al.
2015, "Show, Attend and Tell"), it does better, and the attention shows where each word came from.

    image (B, 3, 64, 64) -> ConvNet stages (core/convnet.py) -> maps (B, D, 8, 8)
    a = maps as R = 64 region vectors (B, R, D)                 finer than the scene's 2x2 or 3x3 cells
    words y_1..y_T (then <eos>) from the soft-attention LSTM of core/decoder.py:
        h_0, c_0 = tanh(W mean_i a_i);  α_t = softmax_i f_att(a_i, h_{t-1});  z_t = σ(f_β(h_{t-1})) Σ_i α_ti a_i
        h_t = LSTM([E y_{t-1}; z_t], h_{t-1});  p(y_t) ∝ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t))
    loss = mean cross-entropy per word (teacher forcing, padding ignored) + λ Σ_i (1 - Σ_t α_ti)^2 (Xu eq. 14)

`attention none` is the baseline: z_t = mean_i a_i at every step, otherwise the same decoder
(experiments give it the hidden size that equalises the parameter counts).

The encoder is pre-trained on CIFAR-10 classification (its stages, then global average pooling
and a linear layer; `pretrain_encoder`, cached), or taken from a ConvNet run folder
(`--encoder-run`, e.g. `deepnet train convnet --data cifar10`: its stages, as they are). It is
frozen (`--no-finetune`, the default: the region features are computed once, so training reads
(N, R, D) float16 features) or fine-tuned with the decoder (training reads the pixels).

Words: the captions' own words, split on spaces (a closed vocabulary on scenes), ids 0-3 reserved
for <pad> <unk> <bos> <eos>; the vocabulary travels in the run's config.json. BLEU-1..4: sacrebleu's
corpus BLEU with n-gram orders 1..4 (cumulative: the geometric mean of the 1..n-gram precisions
times the brevity penalty, as coco-caption reports BLEU-n), 13a tokenisation, against every
reference of each image (ragged reference counts allowed), on lowercased text.
"""

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepnet.core.beam import beam_search as _beam_search
from deepnet.core.beam import pad_ids
from deepnet.core.config import check_fields, config_from_dict
from deepnet.core.convnet import Normalise, conv_stages, he_init
from deepnet.core.decoder import AttentiveLSTMDecoder, attention_penalty
from deepnet.core.train import TrainConfig
from deepnet.errors import ConfigError, DataError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
SIZE = 64  # images are read at 64x64 (the scenes' canvas)

# `deepnet train captioning --data scenes` (data generated from CIFAR-10 photos by data/scenes.py)
TRAINS_ON = ("scenes",)
# `deepnet train captioning`'s recipe: AdamW at 3e-3 with a one-cycle schedule, clipping at 1; the rate was the
# best of (1e-3, 3e-3, 1e-2) on scenes validation loss in development runs of captioning_attention's quick model
TRAIN_CONFIG = TrainConfig(epochs=6, batch_size=64, optimizer="adamw", lr=3e-3, weight_decay=0.0,
                           schedule="onecycle", warmup=0.05, clip_grad=1.0, eval_batch_size=256)
evaluate_part = None


@dataclass
class Config:
    """captioning: ConvNet region features -> LSTM decoder with soft attention (or the pooled image)."""

    attention: Literal["soft", "none"] = "soft"  # attend over regions (Xu et al. 2015) or read their mean
    # the LSTM's initial state: tanh(W mean_i a_i) as Xu et al., or zeros (the image then reaches the decoder only
    # through z_t). Zeros by default: from the mean feature the decoder named the objects without looking (development
    # runs on 6,000 scenes, seed 0: object words' attention in their cell 0.02 of the time, below chance, against 0.48
    # from zeros, at equal validation loss, 0.456 and 0.452)
    init: Literal["mean", "zero"] = "zero"
    # feature maps of the encoder's stages; 3 stages give 8x8 regions on a 64x64 image; range [1, 1024], 1 to 5 values
    channels: tuple[int, ...] = (32, 64, 64)
    embed: int = 64  # word embedding size (and the deep output layer's); range [1, 65536]
    hidden: int = 192  # LSTM state size; range [1, 65536]
    attn_size: int = 64  # additive attention's hidden size; range [1, 65536]
    dropout: float = 0.1  # dropout on word embeddings and before the output layer; range [0, 1)
    # λ of the doubly stochastic attention penalty λ Σ_i (1 - Σ_t α_ti)^2 (Xu et al. eq. 14). Off by default: with
    # fewer words than regions (about 12 against 64) it is smallest for uniform attention; at 0.002 the development
    # run's validation loss was 0.541 against 0.456 without it; range [0, 100]
    alpha_c: float = 0.0
    max_len: int = 32  # training captions are cut to this many words, <eos> included; range [2, 512]
    # a ConvNet run folder whose stages become the encoder (same --channels; "": pre-train one here on CIFAR-10)
    encoder_run: str = ""
    pretrain_epochs: int = 2  # epochs of CIFAR-10 classification pre-training of the encoder; range [1, 1000]
    # CIFAR-10 training images the encoder pre-trains on (0: all 45,000); range [0, 45000]
    pretrain_images: int = 20000
    finetune: bool = False  # train the encoder with the decoder (else frozen: features computed once)
    train_scenes: int = 10000  # scenes generated for training (from CIFAR-10 training photos); range [1, 1000000]
    val_scenes: int = 1000  # scenes for validation (from the 5,000 held-out training photos); range [1, 1000000]
    test_scenes: int = 1000  # scenes for testing (from the CIFAR-10 test photos); range [1, 1000000]
    grids: tuple[int, ...] = (2, 3)  # grid sizes the scenes are drawn from; range [2, 3], 1 to 2 values
    max_objects: int = 3  # most photos on one canvas; range [1, 9]

    def check(self):
        check_fields(self)


# ---------------------------------------------------------------------------------------------
# Words


def make_vocab(captions):
    """Sorted words of the training captions after the four reserved ids."""
    return SPECIALS + sorted({w for c in captions for w in c.lower().split()})


def encode(caption, index):
    return [index.get(w, UNK) for w in caption.lower().split()] + [EOS]


def decode(ids, vocab):
    ids = list(ids)
    if EOS in ids:
        ids = ids[:ids.index(EOS)]
    return " ".join(vocab[i] for i in ids if i > EOS or i == UNK)


def pad_batch(seqs, max_len=None):
    """Lists of ids -> (N, L) int64 padded with PAD; longer than max_len: the first max_len - 1 ids and <eos>."""
    return pad_ids(seqs, PAD, EOS, max_len)


# ---------------------------------------------------------------------------------------------
# Model


class Captioner(nn.Module):
    """Images (B, 3, H, W) uint8 or region features (B, R, D) float, captions (B, T) -> (logits (B, T', V), loss)."""

    def __init__(self, cfg, vocab_size):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.norm = Normalise((0.5,), (0.25,), 3)
        self.encoder = nn.Sequential(conv_stages(3, cfg.channels))  # (B, 3, H, W) -> (B, D, H/2^S, W/2^S)
        he_init(self.encoder)
        self.decoder = AttentiveLSTMDecoder(cfg.channels[-1], vocab_size, cfg.embed, cfg.hidden, cfg.attn_size,
                                            attention=cfg.attention == "soft", dropout=cfg.dropout, pad=PAD,
                                            mean_init=cfg.init == "mean")

    def train(self, mode=True):
        super().train(mode)
        if not self.cfg.finetune:
            self.encoder.eval()  # a frozen encoder keeps its batch-norm statistics
        return self

    def features(self, x):
        """Region vectors a (B, R, D): computed from pixels, or given (precomputed, any float dtype)."""
        if x.is_floating_point() and x.ndim == 3:
            return x.float()
        with torch.set_grad_enabled(self.cfg.finetune and torch.is_grad_enabled()):
            m = self.encoder(self.norm(x))  # (B, D, h, w)
        return m.flatten(2).transpose(1, 2)  # (B, h*w, D): regions in row-major order

    def forward(self, x, y):
        feats = self.features(x)
        T = int((y != PAD).sum(1).max())
        y = y[:, :T]
        inp = torch.cat([torch.full_like(y[:, :1], BOS), y[:, :-1]], dim=1)  # (B, T): <bos> y_1 .. y_{T-1}
        logits, alphas = self.decoder(feats, None, inp)  # (B, T, V), (B, T, R)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=PAD)
        if alphas is not None and self.cfg.alpha_c > 0:
            loss = loss + self.cfg.alpha_c * attention_penalty(alphas.float(), y != PAD)
        return logits, loss

    @torch.no_grad()
    def teacher_attention(self, x, y):
        """α (B, T, R) while reading the given captions y (B, T): where each word was looked for."""
        feats = self.features(x)
        inp = torch.cat([torch.full_like(y[:, :1], BOS), y[:, :-1]], dim=1)
        return self.decoder(feats, None, inp)[1]

    @torch.no_grad()
    def greedy(self, x, max_len=24):
        """The most likely word at each step -> (id lists without <eos>, attention (T+1, R) per image or None)."""
        feats = self.features(x)
        B = feats.shape[0]
        state, memo = self.decoder.start(feats)
        y = torch.full((B,), BOS, dtype=torch.long, device=feats.device)
        done = torch.zeros(B, dtype=torch.bool, device=feats.device)
        words, attns = [], []
        for _ in range(max_len):
            logits, state, a = self.decoder.step(y, state, feats, None, memo)
            y = logits.float().argmax(-1)  # (B,)
            words.append(y)
            if a is not None:
                attns.append(a)
            done |= y == EOS
            if bool(done.all()):
                break
        words = torch.stack(words, 1).tolist()
        att = torch.stack(attns, 1).float().cpu() if attns else None  # (B, T, R)
        out, out_att = [], []
        for b, ids in enumerate(words):
            n = ids.index(EOS) if EOS in ids else len(ids)
            out.append(ids[:n])
            out_att.append(att[b, :min(n + 1, len(ids))] if att is not None else None)
        return out, out_att

    @torch.no_grad()
    def beam_search(self, x, beam=3, alpha=0.0, max_len=24):
        """Beam search (core/beam.py) -> (id lists, attention list) like greedy; beam 1 is greedy."""
        feats = self.features(x)
        B, K = feats.shape[0], beam
        feats = feats.repeat_interleave(K, 0)  # (B*K, R, D), beams of an image adjacent
        state, memo = self.decoder.start(feats)

        def step(y, st):
            logits, (h, c), a = self.decoder.step(y, st, feats, None, memo)
            return torch.log_softmax(logits.float(), -1), (h, c), a

        return _beam_search(step, lambda st, rows: tuple(s[rows] for s in st), state, B, K, [max_len] * B,
                            BOS, EOS, alpha, feats.device)


def build(run_config):
    cfg = config_from_dict(Config, run_config["model"], "model config")
    vocab = run_config["data"]["vocab"]
    model = Captioner(cfg, len(vocab))
    model.vocab = list(vocab)
    return model


# ---------------------------------------------------------------------------------------------
# The encoder's pre-training on CIFAR-10 classification


def _state_to_numpy(state):
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def pretrain_encoder(channels, epochs, images, seed=0, log=print):
    """Stages of `channels` trained on CIFAR-10 classification (global average pooling and a linear layer on top;
    AdamW 2e-3, batches of 128, mirror flips) -> (state dict of the stages, validation accuracy). Cached by settings."""
    from deepnet.data import cifar10, store

    key = hashlib.sha256(json.dumps([list(channels), epochs, images, seed, 2]).encode()).hexdigest()[:12]
    root = cifar10.find_root()
    sources = [root / f for layout in cifar10.LAYOUTS for f in layout if root is not None and (root / f).exists()]

    def build_arrays():
        data = cifar10.load(seed=seed)
        x, y = data.train.x, data.train.y
        if images:  # a random subset: the training part is ordered by class
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:images]
            x, y = x[keep], y[keep]
        with torch.random.fork_rng():  # leaves the caller's random state as it was
            torch.manual_seed(seed)
            stages = nn.Sequential(conv_stages(3, channels))
            he_init(stages)
            net = nn.Sequential(Normalise((0.5,), (0.25,), 3), stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                nn.Linear(channels[-1], 10))
            opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
            g = torch.Generator().manual_seed(seed)
            for epoch in range(epochs):
                net.train()
                order = torch.randperm(len(x), generator=g)
                for i in range(0, len(x), 128):
                    idx = order[i:i + 128]
                    xb, yb = x[idx], y[idx]
                    flip = torch.rand(len(idx), generator=g) < 0.5
                    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)  # mirror half the photos
                    loss = F.cross_entropy(net(xb), yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            net.eval()
            with torch.no_grad():
                hit = sum(int((net(data.val.x[i:i + 500]).argmax(1) == data.val.y[i:i + 500]).sum())
                          for i in range(0, len(data.val), 500))
        arrays = _state_to_numpy(stages.state_dict())
        arrays["__val_accuracy"] = np.array(hit / len(data.val))
        return arrays

    arrays = store.cached(f"caption-encoder-{key}", sources, build_arrays)
    acc = float(arrays.pop("__val_accuracy"))
    log(f"captioning: encoder {list(channels)} pre-trained on CIFAR-10 ({epochs} epoch(s), "
        f"{images or 45000} images): validation accuracy {acc:.3f}")
    return {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}, acc


def encoder_from_run(run_dir, channels):
    """The stages of a ConvNet run folder (`deepnet train convnet`), as a state dict for Captioner.encoder."""
    from deepnet.core.checkpoint import load_checkpoint
    from deepnet.systems import read_run_config

    config = read_run_config(run_dir)
    if config.get("system") != "convnet" or config["model"].get("arch", "stages") != "stages":
        raise ConfigError(f"--encoder-run {run_dir}: not a stage-based convnet run")
    if tuple(config["model"]["channels"]) != tuple(channels) or config["model"].get("convs_per_stage", 1) != 1 \
            or config["model"].get("first_kernel", 3) != 3 or not config["model"].get("batchnorm", True) \
            or config["model"].get("pool_early", False):
        raise ConfigError(f"--encoder-run {run_dir}: its stages ({config['model']['channels']}, "
                          f"convs_per_stage/first_kernel/batchnorm/pool_early) differ from --channels {list(channels)} "
                          "with one 3x3 convolution, batch norm and late pooling per stage")
    from pathlib import Path

    best = Path(run_dir) / "best.pt"
    state = load_checkpoint(best if best.exists() else Path(run_dir) / "checkpoint.pt", system="convnet")["model"]
    return {k[len("layers."):]: v for k, v in state.items()
            if k.startswith("layers.") and k.split(".")[1].startswith(("conv", "bn"))}, None


# ---------------------------------------------------------------------------------------------
# The data as the model reads it


@dataclass
class SceneSource:
    """What load_data gives: the scenes are generated in prepare_data, at the sizes the Config asks for."""

    name: str
    seed: int


def load_data(name, seed, train_cfg=None):
    """`scenes` (generated in prepare_data), or the user's Karpathy-split caption JSON: `--data dataset_x.json`
    with its pictures in an images/ folder beside it (or beside the JSON itself), or a folder holding both."""
    from deepnet.data import scenes as scenes_data
    from deepnet.data import user

    if not user.is_path(name):
        return SceneSource(name, seed)
    path = Path(name)
    if path.is_dir():
        found = sorted(path.glob("dataset_*.json"))
        if len(found) != 1:
            raise DataError(f"{path}: expected one Karpathy-split dataset_*.json in it (found {len(found)})")
        path = found[0]
    images = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    return scenes_data.read_karpathy(path, images)


@torch.no_grad()
def region_features(model, images, batch=256):
    """(N, R, D) float16 features of (N, 3, H, W) uint8 images under the model's (frozen) encoder."""
    model.eval()
    return torch.cat([model.features(images[i:i + batch]).half() for i in range(0, len(images), batch)])


def prepare_data(source, cfg, log=print):
    """Generate the scenes, learn the vocabulary on the training captions, get the encoder (pre-trained or from a
    run), and turn each part into (pixels or frozen features, one reference caption per scene drawn with the seed).
    The Splits keep the scenes (`.scenes`, for BLEU against every reference) and the encoder's weights
    (`.encoder_state`, which fit loads into the model)."""
    from deepnet.data import scenes as scenes_data
    from deepnet.data.common import ArrayDataset, Splits

    sc = source if isinstance(source, scenes_data.Scenes) else scenes_data.load(
        seed=source.seed, n_train=cfg.train_scenes, n_val=cfg.val_scenes, n_test=cfg.test_scenes,
        grids=cfg.grids, max_objects=cfg.max_objects)
    seed = getattr(source, "seed", 0)
    vocab = make_vocab([r for refs in sc.train.refs for r in refs])
    index = {w: i for i, w in enumerate(vocab)}
    if cfg.encoder_run:
        state, acc = encoder_from_run(cfg.encoder_run, cfg.channels)
    else:
        state, acc = pretrain_encoder(cfg.channels, cfg.pretrain_epochs, cfg.pretrain_images, seed, log=log)
    frozen = None
    if not cfg.finetune:
        frozen = Captioner(dataclasses.replace(cfg, attention="none"), len(vocab))
        frozen.encoder.load_state_dict(state)
    g = np.random.default_rng(seed)

    def part(p):
        pick = [refs[int(g.integers(len(refs)))] for refs in p.refs]  # one reference per scene
        y = pad_batch([encode(c, index) for c in pick], cfg.max_len)
        x = region_features(frozen, p.images) if frozen is not None else p.images
        return ArrayDataset(x, y)

    splits = Splits(name=sc.name, train=part(sc.train), val=part(sc.val), test=part(sc.test), classes=[],
                    input_shape=(3, SIZE, SIZE), licence=sc.licence, notes=sc.notes,
                    extra={"vocab": vocab, "encoder_val_accuracy": acc,
                           "encoder": cfg.encoder_run or "pre-trained on CIFAR-10",
                           **({"path": sc.path, "format": "karpathy json"} if getattr(sc, "path", "") else {})})
    splits.scenes = sc
    splits.encoder_state = state
    return splits


def token_accuracy(logits, tgt):
    tgt = tgt[:, :logits.shape[1]]
    keep = tgt != PAD
    return {"accuracy": ((logits.argmax(-1) == tgt) & keep).sum().float() / keep.sum().clamp(min=1)}


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """The engine's fit (core/train.py), after loading the pre-trained encoder (a resumed run then loads its own)."""
    from deepnet.core import train

    if augment is not None:
        raise ConfigError("captioning takes no --augment (the scenes are made of whole photos)")
    state = getattr(data, "encoder_state", None)
    if state is not None:
        model.encoder.load_state_dict(state)
    return train.fit(model, data, cfg, run_dir, run_config, resume=resume, metrics=token_accuracy, test=test)


def run_config_for(cfg, splits, seed=0):
    return {"system": "captioning", "model": asdict(cfg), "data": {**splits.info(), "seed": seed, "subset": 0},
            "augment": "none"}


# ---------------------------------------------------------------------------------------------
# Captions in, captions out; scores


def generate(model, x, beam=1, max_len=24, batch=256):
    """Captions (id lists) and attention of images or features x (N, ...), in batches."""
    ids, att = [], []
    model.eval()
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        out = model.greedy(xb, max_len) if beam == 1 else model.beam_search(xb, beam, 0.0, max_len)
        ids += out[0]
        att += out[1]
    return ids, att


def bleu(hypotheses, references):
    """{bleu1..bleu4} on a 0-100 scale: sacrebleu corpus BLEU of order n, every reference of each image."""
    from sacrebleu.metrics import BLEU

    n_refs = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(n_refs)]
    return {f"bleu{n}": BLEU(max_ngram_order=n, lowercase=True).corpus_score(hypotheses, streams).score
            for n in range(1, 5)}


def attention_hits(model, x, part, regions, batch=256):
    """Teacher-forced on every reference of each scene: for each word naming an object (grounded to cells),
    is the attention peak of the step that writes it in a cell holding that object? -> (hits, total, misses),
    misses: {word: count of peaks elsewhere}. x: the part's pixels or features, regions: regions per side."""
    from deepnet.data.scenes import region_cells

    index = {w: i for i, w in enumerate(model.vocab)}
    cell_of = {g: region_cells(g, regions) for g in (2, 3)}
    hits = total = 0
    misses = {}
    jobs = [(i, k) for i in range(len(part)) for k in range(len(part.refs[i]))]
    for s in range(0, len(jobs), batch):
        chunk = jobs[s:s + batch]
        y = pad_batch([encode(part.refs[i][k], index) for i, k in chunk])
        a = model.teacher_attention(x[[i for i, _ in chunk]], y)  # (B, T, R)
        peaks = a.argmax(-1).tolist()  # (B, T)
        for b, (i, k) in enumerate(chunk):
            words = part.refs[i][k].split()
            grid = int(part.grids[i])
            for t, cells in enumerate(part.grounding[i][k]):
                if not cells or words[t] in ("one", "it"):
                    continue  # object words are the nouns
                total += 1
                if int(cell_of[grid][peaks[b][t]]) in cells:
                    hits += 1
                else:
                    misses[words[t]] = misses.get(words[t], 0) + 1
    return hits, total, misses


def prepare_image(rgb):
    """(H, W, 3) uint8 picture of any size -> (3, 64, 64) uint8, the whole picture resized (antialiased)."""
    from PIL import Image

    a = np.asarray(Image.fromarray(rgb).convert("RGB").resize((SIZE, SIZE), Image.LANCZOS))
    return torch.from_numpy(np.array(a.transpose(2, 0, 1)))
