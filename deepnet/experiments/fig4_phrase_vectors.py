"""fig4_phrase_vectors: the encoder's thought vectors put sentences of similar meaning near each other.

Review, Figure 4 (right): a 2-D map of the representations an English-to-French encoder-decoder
learns for phrases; semantically similar phrases land close together (Cho et al. 2014). Here an
encoder-decoder without attention (so the whole sentence must pass through the thought vector)
is trained on Multi30k task 1 English -> French (systems/seq2seq.py). Its encoder then reads the
English descriptions of Multi30k task 2's test_2016 part: five descriptions of each of 1,000
images, written independently by different people, so they share meaning more than wording.

Measured: `same_image_recall_at_5` = share of the 5,000 descriptions whose 5 nearest neighbours
(cosine similarity of thought vectors, the description itself excluded) include another
description of the same image; the same for the mean of the encoder states, for a bag-of-words
baseline (word counts, cosine) and a tf-idf one, and the chance level (4 of the 4,999 others
are right). The map: t-SNE (scikit-learn) of the thought vectors of a few images' descriptions,
coloured by image.
"""

from dataclasses import dataclass

import numpy as np
import torch

from deepnet.core.runtime import seed_everything
from deepnet.data import multi30k
from deepnet.errors import ConfigError
from deepnet.experiments import _translation
from deepnet.systems import seq2seq

NAME = "fig4_phrase_vectors"
CLAIM = ("The vector an encoder-decoder's encoder computes for a sentence places sentences of similar meaning "
         "near each other (Figure 4, right).")
SECTION = "Distributed representations and language processing (Figure 4, right)"
HEADLINE = ("Sentence vectors group similar meanings (Fig. 4, right)", "same_image_recall_at_5")
DATA = ["multi30k"]
PAPER = {}
MAPPED = 12  # images whose descriptions are drawn in the t-SNE map (the first ones of test_2016)


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/fig4_phrase_vectors.md)
MISSES = """\
In the full-cpu run, 20.2% of the 5,000 test descriptions have another description of the same image among
their 5 nearest thought vectors (26.3% with the mean of the encoder states). Chance is 0.4%, so the vectors
group meaning far above chance. But word counts do better: bag-of-words 52.7%, tf-idf 66.3%.

The vectors came from the no-attention translation model of the old 5-epoch profile.

Believed missing: not established. Two candidates, neither tried:
- the 15-epoch model of today's translation profile;
- a sentence objective rather than translation: a translation encoder keeps the wording, which word counts
  already capture.
"""


@dataclass
class Config:
    """fig4_phrase_vectors: thought vectors of a plain encoder-decoder vs bag-of-words, same-image recall."""

    model_run: str = ""  # run folder of a trained seq2seq to use instead of training one
    src_vocab: int = 4000  # English subword units (Multi30k has 84 characters and special units); range [128, 32000]
    tgt_vocab: int = 4000  # French subword units (Multi30k has 102 characters and special units); range [128, 32000]
    embed: int = 128  # subword embedding size; range [1, 2048]
    hidden: int = 256  # decoder state (encoder: hidden/2 per direction), even; range [2, 4096]
    layers: int = 1  # LSTM layers; range [1, 8]
    dropout: float = 0.1  # dropout; range [0, 1)
    epochs: int = 2  # passes over the training pairs; range [1, 1000]
    batch_size: int = 64  # sentence pairs per minibatch; range [1, 4096]
    lr: float = 3e-3  # AdamW peak rate (one-cycle); range (0, 10]
    train_pairs: int = 0  # first N training pairs only (0: all); range [0, 29000]
    images: int = 0  # first N test_2016 images only (0: all 1,000); range [0, 1000]
    seed: int = 0  # range [0, 4294967295]
    device: str = "auto"

    def check(self):
        if self.hidden % 2:
            raise ConfigError(f"--hidden must be even (the encoder has hidden/2 per direction), got {self.hidden}")
        if self.images == 1:  # 5 descriptions: 4 others, fewer than the 5 neighbours looked at
            raise ConfigError("--images takes 0 (all) or at least 2 images, got 1")


PROFILES = {
    "smoke": Config(src_vocab=300, tgt_vocab=300, embed=16, hidden=32, epochs=1, batch_size=32, train_pairs=600,
                    images=40),
    "quick": Config(),
    # the model of translation_multi30k's earlier full-cpu profile (5 epochs, dropout 0.2; that profile now trains
    # 15 epochs with dropout 0.3, whose run `--model-run` refuses here as another model); `--model-run
    # runs/full-cpu/translation_multi30k/no_attention/` reused that run's model instead of training it again (its
    # kept run did: 23-31 s, against about 25 minutes more to train the model here): same-image recall@5 0.202 against bag-of-words 0.527 (missed)
    "full-cpu": Config(dropout=0.2, epochs=5, lr=3e-3),
    "full": Config(src_vocab=8000, tgt_vocab=8000, embed=256, hidden=512, layers=2, dropout=0.3, epochs=12, lr=2e-3),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"same_image_recall_at_5": {"op": ">", "metric": "bow_same_image_recall_at_5"}}


def recall_at_k(vectors, groups, k=5):
    """Share of rows whose k nearest other rows (cosine) include a row of the same group."""
    v = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
    v = v / v.norm(dim=1, keepdim=True).clamp(min=1e-8)
    sim = v @ v.T  # (N, N)
    sim.fill_diagonal_(float("-inf"))
    nn_idx = sim.topk(k, dim=1).indices  # (N, k)
    g = torch.as_tensor(groups)
    return float((g[nn_idx] == g[:, None]).any(1).float().mean())


def run(cfg, out_dir, profile):
    seed_everything(cfg.seed)
    caps = multi30k.load_captions("test_2016", "en")  # caps[k][i]: description k of image i
    n_img = cfg.images or len(caps[0])
    sentences = [caps[k][i] for i in range(n_img) for k in range(5)]  # image-major: 5 rows per image
    groups = np.repeat(np.arange(n_img), 5)
    bitext = multi30k.load("en", "fr").head(cfg.train_pairs, 200 if cfg.train_pairs else 0)
    mcfg = seq2seq.Config(attention="none", embed=cfg.embed, hidden=cfg.hidden, layers=cfg.layers,
                          dropout=cfg.dropout)
    tcfg = _translation.recipe(cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed, cfg.device)
    model, device, artifacts = _translation.train_or_reuse(mcfg, bitext, cfg.src_vocab, cfg.tgt_vocab, tcfg,
                                                           out_dir / "model", cfg.model_run)

    final, mean = [], []
    ids = [model.src_tok.encode(s) for s in sentences]
    dev = next(model.parameters()).device
    for start in range(0, len(ids), 256):
        x = seq2seq.pad_batch(ids[start:start + 256]).to(dev)
        final.append(model.sentence_vectors(x, "final").float().cpu())
        mean.append(model.sentence_vectors(x, "mean").float().cpu())
    final, mean = torch.cat(final).numpy(), torch.cat(mean).numpy()  # (5N, H) each

    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    bow = CountVectorizer(lowercase=True).fit_transform(sentences).toarray()
    tfidf = TfidfVectorizer(lowercase=True).fit_transform(sentences).toarray()
    n = len(sentences)
    metrics = {
        "same_image_recall_at_5": recall_at_k(final, groups),
        "same_image_recall_at_5_mean_states": recall_at_k(mean, groups),
        "bow_same_image_recall_at_5": recall_at_k(bow, groups),
        "tfidf_same_image_recall_at_5": recall_at_k(tfidf, groups),
        "chance_recall_at_5": 1 - float(np.prod([(n - 1 - 4 - j) / (n - 1 - j) for j in range(5)])),
        "descriptions": n,
    }
    _plot(final[:5 * MAPPED], sentences[:5 * MAPPED], groups[:5 * MAPPED], cfg.seed, out_dir / "phrase_map.png")
    return {"metrics": metrics, "series": {}, "seeds": [cfg.seed], "device": device,
            "artifacts": ["phrase_map.png", *artifacts]}


def _plot(vectors, sentences, groups, seed, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    xy = TSNE(n_components=2, perplexity=min(10, len(vectors) - 1), init="pca", random_state=seed,
              metric="cosine").fit_transform(vectors)
    fig, ax = plt.subplots(figsize=(10, 8))
    cmap = plt.get_cmap("tab20")
    for g in np.unique(groups):
        pts = xy[groups == g]
        ax.scatter(pts[:, 0], pts[:, 1], color=cmap(int(g) % 20), s=30)
    for (x, y), s, g in zip(xy, sentences, groups):
        ax.annotate(s if len(s) < 40 else s[:37] + "...", (x, y), fontsize=5.5, color=cmap(int(g) % 20))
    ax.set(title="t-SNE of encoder thought vectors: 5 descriptions per image, one colour per image",
           xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
