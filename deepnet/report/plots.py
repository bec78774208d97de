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
