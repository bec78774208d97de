"""Figures that more than one command draws (an experiment and the CLI), from plain results."""


def plot_attention(result, path, ax=None):
    """Heatmap of a translation's attention weights (rows: output subwords, columns: source subwords).

    result: one of seq2seq.translate's dicts (attention (T+1, S), src_pieces, tgt_pieces). With `ax`,
    draws there and writes nothing; else writes `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = result["attention"].float().numpy()  # (T+1, S)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(0.35 * a.shape[1] + 2, 0.3 * a.shape[0] + 1.5))
    ax.imshow(a, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(a.shape[1]), result["src_pieces"], rotation=90, fontsize=7)
    ax.set_yticks(range(a.shape[0]), result["tgt_pieces"], fontsize=7)
    if own:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def plot_caption_attention(image, words, attention, path, marks=None, title=None):
    """Figure 3: the image once per word of its caption, with that word's attention over the regions laid on it.

    image: (3, H, W) uint8; words: the caption's words (and "</s>"); attention: (len(words), R) weights over a
    square grid of R regions (row-major); marks: {word index: True/False} for object words, whose attention peak
    is marked (green: in the object's cell, red: elsewhere). Writes `path` (PNG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    img = np.asarray(image).transpose(1, 2, 0)  # (H, W, 3)
    H, W = img.shape[:2]
    a = np.asarray(attention, dtype=np.float32)
    n = int(round(a.shape[1] ** 0.5))
    cols = min(6, len(words) + 1)
    rows = -(-(len(words) + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(img)
    axes.flat[0].set_title(title or "image", fontsize=7)
    marks = marks or {}
    for t, w in enumerate(words[:len(a)]):
        ax = axes.flat[t + 1]
        ax.imshow(img)
        m = a[t].reshape(n, n)  # (regions, regions)
        ax.imshow(m / max(float(m.max()), 1e-8), cmap="magma", alpha=0.6, extent=(0, W, H, 0), interpolation="bilinear")
        ax.set_title(w, fontsize=8)
        if t in marks:
            r, c = divmod(int(a[t].argmax()), n)
            ax.plot((c + 0.5) * W / n, (r + 0.5) * H / n, marker="x", markersize=9, mew=2,
                    color="lime" if marks[t] else "red")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
