"""pretraining_transfer: features learnt without labels on some digits help to learn other digits from few labels.

Review, "Backpropagation to train multilayer architectures": unsupervised pre-training gave markedly
better generalisation when labelled examples were few, or in a transfer setting, with many
examples for some "source" tasks and very few for some "target" tasks (paraphrased). Here the
source is the images of the digits 0-4 (no labels used) and the target is telling apart the
digits 5-9, whose images the pre-training never saw.

Protocol: MNIST, 55,000 training / 5,000 validation / 10,000 test images (mnist.load(seed=0)).
1. Pre-training, without labels, on the training images of the digits 0-4 only
   (`pretrain_images` of them, 0: all, 28,046): a deep belief net 784-500-500-2000
   (`layers`), trained greedily by CD-1 with the practical guide's recipe (systems/rbm.py), as in
   pretraining_few_labels, `pretrain_epochs` epochs per layer. Its validation monitor: validation
   images of the digits 0-4. The RBM stack only (the better-known method; the denoising
   autoencoders of pretraining_few_labels are not run here).
2. The target task: the digits 5-9, labels remapped 5..9 -> 0..4, a classifier with 5 outputs.
   For each N of `label_counts`: N training digits of 5-9, the same number of each class (each
   class's first ones: the sets are nested); validation on the first min(N, `max_val`) validation
   images of 5-9; test on the test images of 5-9 (about 4,900), read once per final model.
3. The pre-trained stack unrolled into a 784-500-500-2000-5 logistic net (the outputs fresh) against
   the same net from torch's default initialisation, fine-tuned exactly as in
   pretraining_few_labels (its compare and finetune): AdamW, cosine decay, the same number of steps
   `steps` for every N and both nets (the N digits tiled into passes of at least `check_every`
   batches), each net picking its rate from `lrs` on validation with the first seed, then the
   further seeds (`seeds`) at that rate; best-validation weights.

Reported: transfer_error_pretrained_N and transfer_error_random_N (fractions; means over the seeds,
_std beside), transfer_gain_N = random minus pre-trained, the chosen rates, the pre-training time;
figures: test error on 5-9 against N for both nets (transfer.png), and 64 of the first RBM's
filters, learnt on 0-4 (filters.png).

Published: no number is compared with (PAPER is empty): the review states the transfer claim
without a figure for this split, and no published result for this protocol was found.

Profiles (1 thread, two other jobs on the 2 cores; a fine-tuning step about 21 ms, an epoch of CD-1
of the three RBMs over the 28,046 images about 8 s): quick pre-trains 3 epochs per layer, runs 400
steps per model with 2 rates and 3 seeds on N = 100 and 1,000 (16 fine-tuning runs). full-cpu: 10
pre-training epochs, 2,000 steps, 3 rates, 3 seeds, N = 100, 300, 1,000 (not yet run). full: 30
pre-training epochs, 5,000 steps, 4 rates, 3 seeds (not yet run).

The quick run (1 thread, load average about 4.3 from other jobs on the 2 cores): 150.4 s, of which
pre-training 23 s, fine-tuning 122 s. Test error on 5-9, pre-trained against random (mean ± sd over
3 seeds): N=100 0.201 ± 0.007 against 0.231 ± 0.023 (target met, by about one sd of the random
net's spread), N=1,000 0.057 ± 0.003 against 0.087 ± 0.000. The random net chose rate 0.001 at
both N (at 0.01 it stayed near chance); the pre-trained one 0.001 at N=100, 0.01 at N=1,000.
"""

import dataclasses
import math
import shutil
from dataclasses import dataclass

import torch

from deepnet.core.feedforward import MLP
from deepnet.core.runtime import pick_device
from deepnet.data import mnist
from deepnet.experiments.pretraining_few_labels import compare, filters_png, head, labelled_task, pretrain_rbm

NAME = "pretraining_transfer"
CLAIM = ("A deep belief net pre-trained without labels on images of the digits 0-4 initialises a net that, "
         "fine-tuned on few labelled images of the digits 5-9, reaches a lower test error on 5-9 than the same net "
         "from random weights: unsupervised features transfer to classes the pre-training never saw.")
SECTION = "Backpropagation to train multilayer architectures (unsupervised pre-training, transfer to new tasks)"
HEADLINE = ("Pretraining on other classes transfers", "transfer_error_pretrained_100")
DATA = ["mnist"]
PAPER = {}

SOURCE = (0, 1, 2, 3, 4)  # digits whose images (not labels) pre-train the stack
TARGET = (5, 6, 7, 8, 9)  # digits of the target task, labels remapped to 0..4


@dataclass
class Config:
    """pretraining_transfer: an RBM stack pre-trained on digits 0-4, fine-tuned on N labels of 5-9, against random."""

    # hidden units of the pre-trained stack and of the net, bottom first: the net is 784-layers-5;
    # range [1, 65536], 1 to 8 values
    layers: tuple[int, ...] = (500, 500, 2000)
    # unlabelled training images of the digits 0-4 the RBMs learn from (0: all 28,046); range [0, 55000]
    pretrain_images: int = 0
    pretrain_epochs: int = 3  # CD-1 epochs of each RBM; range [1, 10000]
    pretrain_lr: float = 0.1  # CD-1 learning rate (the practical guide's 0.1); range (0, 100]
    # labelled training digits of 5-9 for fine-tuning, the same number of each class (26,954 there are);
    # range [5, 27000],
    # 1 to 8 values
    label_counts: tuple[int, ...] = (100, 1000)
    # validation images of 5-9 that choose rates and weights: the first min(N, max_val); range [5, 2500]
    max_val: int = 1000
    # fine-tuning steps (minibatches) of every run, whatever N and init (rounded up to a whole pass);
    # range [1, 10000000]
    steps: int = 400
    # the N digits are tiled into passes of at least this many steps, each ending in a validation check;
    # range [1, 100000]
    check_every: int = 50
    batch_size: int = 100  # fine-tuning minibatch size; range [1, 65536]
    # fine-tuning peak learning rates (AdamW, cosine decay), the same grid for both nets, each picking its own on
    # validation; range (0, 100], 1 to 32 values
    lrs: tuple[float, ...] = (0.001, 0.01)
    seeds: int = 3  # fine-tuning seeds trained with each net's chosen rate; range [1, 100]
    seed: int = 0  # first seed (pre-training and the rate sweep use it); range [0, 2147483647]
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(layers=(32, 32, 64), pretrain_images=1000, pretrain_epochs=1, label_counts=(100,), max_val=100,
                    steps=20, check_every=10, lrs=(0.003,), seeds=1),
    # sized to under 5 minutes on 1 thread (its run: 150.4 s; see the module docstring)
    "quick": Config(),
    "full-cpu": Config(pretrain_epochs=10, label_counts=(100, 300, 1000), steps=2000, lrs=(0.001, 0.003, 0.01)),
    "full": Config(pretrain_epochs=30, label_counts=(100, 300, 1000), max_val=2500, steps=5000, check_every=100,
                   lrs=(0.0003, 0.001, 0.003, 0.01)),
}


def targets(profile, cfg):
    if profile == "smoke" or 100 not in cfg.label_counts:
        return {}
    return {"transfer_error_pretrained_100": {"op": "<", "metric": "transfer_error_random_100"}}


def digits(part, keep, shift=0):
    """The examples of an ArrayDataset whose label is in `keep`, order kept, labels minus `shift`."""
    mask = torch.isin(part.y, torch.tensor(keep))  # (N,) bool
    return type(part)(part.x[mask], part.y[mask] - shift)


def run(cfg, out_dir, profile):
    data = mnist.load(seed=0)
    device = pick_device(cfg.device)
    source = dataclasses.replace(data, train=head(digits(data.train, SOURCE), cfg.pretrain_images),
                                 val=head(digits(data.val, SOURCE), cfg.max_val))  # its test part is never read
    target = dataclasses.replace(data, train=digits(data.train, TARGET, 5), val=digits(data.val, TARGET, 5),
                                 test=digits(data.test, TARGET, 5), classes=[str(d) for d in TARGET])
    dbn, pretrain_seconds = pretrain_rbm(cfg, source, out_dir / "dbn")
    n_out = len(TARGET)
    makers = {
        "random": lambda: MLP(math.prod(data.input_shape), n_out, tuple(cfg.layers), "logistic"),
        "pretrained": lambda: dbn.unroll(n_out),
    }

    metrics, series, results = {}, {}, {}
    finetune_seconds = 0.0
    for n in cfg.label_counts:
        labelled = labelled_task(target, n, cfg, classes=n_out)
        res, steps = compare(cfg, labelled, makers, out_dir / "scratch" / f"n{n}", device, f"digits 5-9, N={n}")
        results[n] = res
        for name, s in res.items():
            metrics[f"transfer_error_{name}_{n}"] = s["mean"]
            metrics[f"transfer_error_{name}_{n}_std"] = s["std"]
            metrics[f"val_error_{name}_{n}"] = s["val_error"]
            metrics[f"chosen_lr_{name}_{n}"] = s["lr"]
            series[f"val_error_vs_lr_{name}_{n}"] = [[lr, 1 - a] for lr, a in s["grid"] if a is not None]
            series[f"transfer_error_{name}_{n}_by_seed"] = [[cfg.seed + i, e] for i, e in enumerate(s["errors"])]
            finetune_seconds += s["seconds"]
        metrics[f"transfer_gain_{n}"] = res["random"]["mean"] - res["pretrained"]["mean"]
        metrics[f"finetune_steps_{n}"] = steps
        metrics[f"n_val_{n}"] = len(labelled.val)
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)

    counts = sorted(cfg.label_counts)
    for name in makers:
        series[f"transfer_error_{name}_vs_labels"] = [[n, results[n][name]["mean"]] for n in counts]
    metrics.update({
        "pretrain_seconds": pretrain_seconds, "finetune_seconds": finetune_seconds,
        "n_source_images": len(source.train), "n_target_test": len(target.test), "threads": torch.get_num_threads(),
    })
    filters_png(dbn.rbms[0].weight, path=out_dir / "filters.png")
    _plot(results, cfg, out_dir / "transfer.png")
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed + i for i in range(cfg.seeds)],
            "artifacts": ["transfer.png", "filters.png", "dbn/"], "device": str(device)}


def _plot(results, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    counts = sorted(cfg.label_counts)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, label, colour in (("random", "random weights", "tab:orange"),
                                ("pretrained", "RBM stack pre-trained on 0-4", "tab:blue")):
        means = [results[n][name]["mean"] for n in counts]
        stds = [results[n][name]["std"] for n in counts]
        ax.errorbar(counts, means, yerr=stds, marker="o", capsize=3, color=colour, label=label)
    ax.set(xscale="log", yscale="log", xlabel="labelled training digits of 5-9, N", ylabel="test error on 5-9",
           title=f"transfer: {cfg.steps} fine-tuning steps whatever N ({cfg.seeds} seed(s))")
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
