"""fig4_word_vectors: word vectors learned by predicting the next word group words by meaning (Figure 4, left).

Review, "Distributed representations and language processing", Figure 4 (left): a
two-dimensional t-SNE map of the vectors a neural language model learned for each word;
semantically similar words or sequences of words are mapped to nearby representations.

We train the NPLM (Bengio et al. 2003) on the Brown training part (first 800,000 words), take
its word vectors C(w), and measure how well they group words of the categories written
below, fixed in this file before any training run: for each category word, the share of its
k nearest category words (cosine) that belong to its own category (`category_knn_purity`),
and the mean cosine similarity within categories minus between categories. The same numbers
for a count-based baseline on the same corpus and dimension (positive pointwise mutual
information of a ±2-word window, reduced by truncated SVD) and for random vectors tell what
the learned geometry adds. Figures: a t-SNE map (scikit-learn) of the category words, and
nearest-neighbour lists for probe words (neighbours.txt).

`--model-run DIR` takes the vectors of an NPLM already trained on the same Brown vocabulary
(e.g. the model/ folder nplm_brown leaves) instead of training one here.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from deepnet.core.runtime import seed_everything
from deepnet.core.train import TrainConfig, fit
from deepnet.data import text
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import ConfigError
from deepnet.systems import load_run, load_run_matching, nplm

NAME = "fig4_word_vectors"
CLAIM = ("A network trained to predict the next word learns word vectors in which semantically related words are "
         "close to each other.")
SECTION = "Distributed representations and language processing (Figure 4, left)"
HEADLINE = ("Word vectors group related words (Fig. 4, left)", "category_knn_purity")
DATA = ["brown"]
PAPER = {}  # the figure is qualitative; no number to compare with
TRAIN_WORDS = 800_000  # the Brown training part (Bengio et al.'s split)
MAX_STEPS = 200_000  # the most NPLM training steps a run may take

# Written before any training run; words absent from the vocabulary are skipped (and counted).
CATEGORIES = {
    "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "months": ["january", "february", "march", "april", "june", "july", "august", "september", "october",
               "november", "december"],
    "numbers": ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "hundred"],
    "family": ["father", "mother", "brother", "sister", "son", "daughter", "wife", "husband", "uncle", "aunt"],
    "colours": ["red", "blue", "green", "white", "black", "yellow", "brown", "gray", "pink"],
    "body": ["head", "hand", "hands", "face", "eyes", "arm", "arms", "feet", "legs", "shoulder"],
    "pronouns": ["he", "she", "they", "we", "i", "you", "it"],
    "speech_verbs": ["said", "asked", "told", "replied", "answered", "explained"],
}
PROBES = ["monday", "january", "three", "mother", "red", "hand", "she", "said", "city", "war", "money", "church"]


@dataclass
class Config:
    """fig4_word_vectors: NPLM vectors vs PPMI+SVD vs random on fixed word categories."""

    context: int = 4  # NPLM: n-1 context words; range [1, 32]
    # word vector size (NPLM m; PPMI+SVD and random vectors use the same; below the vocabulary size);
    # range [1, 1024]
    embed: int = 60
    hidden: int = 100  # NPLM tanh units (0: none, log-bilinear); range [0, 8192]
    lr: float = 2e-3  # NPLM AdamW rate; range (0, 10]
    batch_size: int = 512  # NPLM minibatch; range [1, 1048576]
    epochs: int = 1  # NPLM passes over the training words; range [1, 1000]
    window: int = 2  # PPMI: co-occurrence window (words each side); range [1, 100]
    k: int = 5  # neighbours for the purity score (fewer than the category words found); range [1, 50]
    train_words: int = 0  # first N training words only (0: all 800,000); range [0, 800000]
    min_count: int = 4  # words seen fewer times become <unk> (Bengio et al.); range [1, 1000]
    cpu_bf16: bool = True  # bf16 autocast on a CPU for the NPLM
    # std of the initial word vectors (0: torch's N(0, 1), which one epoch left mostly random: kNN purity 0.20
    # against 0.12 for random vectors); range [0, 10]
    embed_init: float = 0.01
    # run folder of the NPLM these settings train (a kept fig4_word_vectors model/), to use instead of training
    # it again; a run trained otherwise is refused
    model_run: str = ""
    seed: int = 0  # range [0, 4294967295]

    def check(self):
        if 0 < self.train_words < 1000:
            raise ConfigError(f"--train-words takes 0 (all) or at least 1000 words, got {self.train_words}")
        words = self.train_words or TRAIN_WORDS
        steps = self.epochs * math.ceil((words - self.context) / self.batch_size)
        if steps > MAX_STEPS:
            raise ConfigError(f"--epochs {self.epochs} of {words:,} words in minibatches of {self.batch_size} are "
                              f"{steps:,} NPLM steps, more than {MAX_STEPS:,}: raise --batch-size or cut --train-words")


PROFILES = {
    "smoke": Config(embed=8, hidden=16, train_words=20_000, min_count=40, k=3),
    "quick": Config(),
    # its run (1 thread, load 3.6): 1,758 s, nearly all the NPLM's 10 epochs (validation perplexity 183); 5-nearest
    # category purity 0.831 (PPMI+SVD 0.932, random vectors 0.104)
    "full": Config(embed=100, hidden=200, epochs=10),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"category_knn_purity": {"op": ">", "metric": "random_category_knn_purity"}}


def ppmi_svd(ids, V, dim, window, seed=0):
    """Count-based vectors: PPMI of a ±window co-occurrence matrix, truncated SVD to `dim` (rows scaled by √σ)."""
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD

    rows, cols = [], []
    for d in range(1, window + 1):
        rows += [ids[:-d], ids[d:]]
        cols += [ids[d:], ids[:-d]]
    r, c = np.concatenate(rows), np.concatenate(cols)
    M = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(V, V)).tocsr()  # (V, V) co-occurrence counts
    M.sum_duplicates()
    total = M.sum()
    pr = np.asarray(M.sum(1)).ravel() / total
    pc = np.asarray(M.sum(0)).ravel() / total
    M = M.tocoo()
    pmi = np.log(M.data / total / (pr[M.row] * pc[M.col]))  # PMI(w, c) = log p(w, c) / (p(w) p(c))
    keep = pmi > 0
    P = sparse.csr_matrix((pmi[keep], (M.row[keep], M.col[keep])), shape=(V, V))
    svd = TruncatedSVD(dim, random_state=seed)
    U = svd.fit_transform(P)  # (V, dim) = U Σ
    return U / np.sqrt(np.maximum(svd.singular_values_, 1e-12))  # U √Σ


def category_scores(vectors, index, k):
    """(purity, within - between cosine, within, between) over the category words found in `index`."""
    words, labels = [], []
    for cat, ws in CATEGORIES.items():
        for w in ws:
            if w in index:
                words.append(index[w])
                labels.append(cat)
    X = vectors[words]
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    S = X @ X.T  # cosine similarities
    labels = np.array(labels)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(S, -np.inf)
    nn_idx = np.argsort(-S, axis=1)[:, :k]  # k nearest other category words
    purity = float(same[np.arange(len(words))[:, None], nn_idx].mean())
    off = ~np.eye(len(words), dtype=bool)
    within = float(S[same & off].mean())
    between = float(S[~same].mean())
    return purity, within - between, within, between, len(words)


def run(cfg, out_dir, profile):
    seed_everything(cfg.seed)
    data = text.brown.load(min_count=cfg.min_count)
    cut = lambda p: ArrayDataset(p.x[:cfg.train_words], p.y[:cfg.train_words]) if cfg.train_words else p  # noqa: E731
    train = cut(data.train)
    V, vocab = len(data.classes), data.classes
    index = {w: i for i, w in enumerate(vocab)}
    found = [sum(w in index for w in ws) for ws in CATEGORIES.values()]
    if sum(found) <= cfg.k or sum(n > 0 for n in found) < 2:
        raise ConfigError(f"--min-count {cfg.min_count} leaves {sum(found)} category word(s) of "
                          f"{sum(n > 0 for n in found)} categor(ies) in the vocabulary: too few to compare, or for "
                          f"--k {cfg.k} neighbours (lower --min-count or --k)")
    if cfg.embed >= V:
        raise ConfigError(f"--embed {cfg.embed} must be below the {V:,} words of the vocabulary (--min-count "
                          f"{cfg.min_count}): the PPMI+SVD baseline has as many dimensions")

    # 1. NPLM word vectors (checkpoint chosen on validation; the test part is not needed here)
    ncfg = nplm.Config(context=cfg.context, embed=cfg.embed, hidden=cfg.hidden, cpu_bf16=cfg.cpu_bf16,
                       embed_init=cfg.embed_init)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                       schedule="cosine", warmup=0.02, eval_batch_size=2048, device="cpu", seed=cfg.seed,
                       log_every=100)
    run_config = {"system": "nplm", "model": asdict(ncfg), "data": {**data.info(), "seed": 0}}
    if cfg.model_run:  # only the NPLM these settings would train (checked), so the result is a fresh run's
        model = load_run_matching(cfg.model_run, {**run_config, "train": asdict(tcfg)})
        metrics, artifacts = {}, []
    else:
        win = {p: ArrayDataset(*nplm.windows(part.x, part.y, cfg.context))
               for p, part in (("train", train), ("val", cut(data.val)), ("test", cut(data.test)))}
        model = nplm.NPLM(V, ncfg)
        print(f"   training the NPLM whose word vectors are mapped: {cfg.epochs} epoch(s) ...", flush=True)
        r = fit(model, Splits(data.name, win["train"], win["val"], win["test"], classes=vocab), tcfg,
                out_dir / "model", run_config, metrics=None, test=False)
        model = load_run(out_dir / "model")  # its weights of the lowest validation loss
        metrics = {"nplm_val_ppl": math.exp(r["best"]["val_loss"]), "nplm_seconds": r["seconds"]}
        artifacts = ["model/"]
    neural = model.C.weight.detach().float().numpy()  # (V, m): the word vectors C
    dim = neural.shape[1]  # the baselines get the NPLM's dimension

    # 2. baselines of the same dimension
    ids = np.concatenate([train.x[:1].numpy(), train.y.numpy()])
    counted = ppmi_svd(ids, V, dim, cfg.window, cfg.seed)
    rand = np.random.default_rng(cfg.seed).standard_normal((V, dim))

    metrics["vector_size"] = dim
    for name, vecs in (("", neural), ("ppmi_", counted), ("random_", rand)):
        purity, gap, within, between, n_words = category_scores(vecs, index, cfg.k)
        metrics.update({f"{name}category_knn_purity": purity, f"{name}within_minus_between_cosine": gap,
                        f"{name}within_cosine": within, f"{name}between_cosine": between})
    metrics["category_words_found"] = n_words
    metrics["category_words_missing"] = sum(len(ws) for ws in CATEGORIES.values()) - n_words

    _neighbours(neural, counted, vocab, index, out_dir / "neighbours.txt")
    _tsne(neural, index, cfg.seed, out_dir / "word_vectors_tsne.png")
    return {"metrics": metrics, "series": {}, "seeds": [cfg.seed],
            "artifacts": ["word_vectors_tsne.png", "neighbours.txt"] + artifacts, "device": "cpu"}


def _neighbours(neural, counted, vocab, index, path, n=8):
    lines = []
    for name, vecs in (("NPLM", neural), ("PPMI+SVD", counted)):
        X = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        lines.append(f"== {name}: {n} nearest words by cosine (whole vocabulary)")
        for w in PROBES:
            if w not in index:
                lines.append(f"{w}: (not in the vocabulary)")
                continue
            s = X @ X[index[w]]
            s[index[w]] = -np.inf
            lines.append(f"{w}: " + ", ".join(vocab[i] for i in np.argsort(-s)[:n]))
    path.write_text("\n".join(lines) + "\n")


def _tsne(vectors, index, seed, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    words, cats = [], []
    for cat, ws in CATEGORIES.items():
        for w in ws:
            if w in index:
                words.append(w)
                cats.append(cat)
    X = vectors[[index[w] for w in words]]
    Y = TSNE(2, perplexity=min(15, len(words) - 1), metric="cosine", init="random", random_state=seed).fit_transform(X)
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = dict(zip(CATEGORIES, plt.cm.tab10.colors))
    for (x, y), w, c in zip(Y, words, cats):
        ax.scatter(x, y, color=colours[c], s=12)
        ax.annotate(w, (x, y), fontsize=7, color=colours[c])
    for c in CATEGORIES:
        ax.scatter([], [], color=colours[c], label=c)
    ax.legend(fontsize=7, loc="best")
    ax.set(title="t-SNE of NPLM word vectors (Brown), category words", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
