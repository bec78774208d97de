"""pretraining_few_labels: unsupervised pre-training helps most when labelled digits are few.

Review, "Backpropagation to train multilayer architectures": layers of feature detectors learnt
without labels, then fine-tuned by backpropagation, helped to prevent overfitting and gave markedly
better generalisation when labelled examples were few; once deep nets were rehabilitated, the
pre-training stage turned out to be needed only for small data sets (paraphrased). The claim here is
the trend: the gain from pre-training shrinks as the number of labels grows.

Protocol: MNIST, 55,000 training / 5,000 validation (carved from the 60,000 training images) /
10,000 test images.
1. Pre-training, once, without labels, on the training images (`pretrain_images` of them, 0: all
   55,000), intensities / 255:
   (rbm) a deep belief net 784-500-500-2000 (`layers`) trained greedily by CD-1 with the practical
         guide's recipe (systems/rbm.py: batches of 100, rate `pretrain_lr`, momentum 0.5 then 0.9,
         weight decay 2e-4), `pretrain_epochs` epochs per layer; unrolled into a logistic net;
   (dae) stacked denoising autoencoders of the same widths (systems/autoencoder.py pretrain_dae:
         tied weights, masking noise `noise`, the pixels' cross-entropy), each layer trained by the
         engine for `pretrain_epochs` epochs of SGD, momentum 0.9, constant rate `dae_lr`, batches of
         100, on the clean codes of the layers below; unrolled into the same logistic net;
   (random) the same 784-500-500-2000-10 logistic net from torch's default initialisation.
   The 10 softmax outputs are fresh in all three.
2. Fine-tuning, with labels, for each N of `label_counts`: N labelled training digits, the same
   number of each class (dbn_mnist.balanced_subset: each class's first ones, so the sets are nested).
   Each init is fine-tuned by the engine (core/train.fit; AdamW, no weight decay, cosine decay,
   batches of `batch_size`) with the SAME number of optimisation steps, `steps`, for every N and
   every init. So that a small N does not mean hundreds of engine epochs (each one a validation
   check and a checkpoint written to disk), the N digits are tiled into one pass of at least
   `check_every` batches (k = ceil(check_every * batch_size / N) whole copies, shuffled together),
   and the run is ceil(steps / batches per pass) such passes: its steps are `steps` rounded up to a
   whole pass (metric finetune_steps_N). Each pass holds every digit exactly k times, as k epochs
   would, in a mixed order.
3. Each init picks its own peak rate from the same grid `lrs` on validation accuracy
   (core/sweep.rate_then_seeds, first seed), then trains the further seeds (`seeds`) with it; each
   run keeps the weights of its best validation check. The validation set is no larger than the
   labelled set: the first min(N, `max_val`) of the 5,000 validation images (a practitioner with N
   labels has no 5,000 more to tune on). The test set is read once per final model.
Each number is a mean over the seeds of the one pre-training (the seeds vary the fine-tuning: the
output layer's initialisation, the random net's weights, the minibatch order).

Reported: test_error_{random,rbm,dae}_N (fractions; means over seeds, _std beside),
pretraining_gain_N = random minus the better of rbm and dae, the chosen rates, the pre-training
times; figures: test error against the number of labels (log axis) for the three inits with the
gain beside it (error_vs_labels.png), and the first-layer filters of the RBM and of the DAE side by
side (filters.png).

Published: Erhan et al. 2010 ("Why does unsupervised pre-training help deep learning?", JMLR 11)
and Vincent et al. 2010 (stacked denoising autoencoders, JMLR 11) report MNIST test errors of deep
nets with and without pre-training (RBM and denoising-autoencoder stacks). No number of theirs was
confirmed here (the search tool found their titles and abstracts, not their tables), so PAPER is
empty: the claim is judged by its own trend, not against their values. Neither paper used this
protocol (tiny labelled sets with matched step budgets and validation sets no larger than N).

Profiles (1 thread; a fine-tuning step of the 784-500-500-2000-10 net on a batch of 100 took about
21 ms, an epoch of the 55,000 images about 15 s for the three DAE layers and 19 s for the three
RBMs, with two other jobs on the 2 cores): quick pre-trains 2 epochs per layer (of each stack), runs
400 fine-tuning steps per model, a grid of 2 rates and 1 seed (no spread over seeds: the _std are 0),
on N = 100, 1,000, 3,000: 18 fine-tuning runs. full-cpu: 10 pre-training epochs, 3,000 steps,
3 rates, 3 seeds, N up to all 55,000 (75 runs). Its run (1 thread, beside another long run and
helpers' tests, load average 3-6): 6,774 s; test error random / RBM / DAE at N = 100: 0.341 / 0.221 / 0.259,
at N = 55,000: 0.0212 / 0.0118 / 0.0150; the gain from pre-training falls 12.1, 9.2, 7.8, 4.3, 1.0 points
from N = 100 to 55,000. full:
30 pre-training epochs, 10,000 steps, 4 rates, 3 seeds (for an accelerator; not yet run).

The quick run (1 thread, load average 4.2-4.8 from other jobs on the 2 cores): 229.5 s, of which RBM
pre-training 35 s, DAE pre-training 41 s, fine-tuning 148 s. Test errors, random / RBM / DAE: N=100
0.351 / 0.267 / 0.241, N=1,000 0.160 / 0.081 / 0.090, N=3,000 0.134 / 0.048 / 0.060; gains 0.110,
0.079, 0.086 (the target, gain at 100 above gain at 3,000, met; one seed, so no spread, and the gain
is not monotonic in N). The random net chose rate 0.001 at every N (at 0.01 it stayed at chance);
in 400 steps it is still on the logistic plateau at N=3,000 (0.134, hardly below its 0.160 at
1,000), so at the larger N this budget measures optimisation as much as generalisation: full-cpu's
3,000 steps are the test of "needed only for small data sets".
"""

import dataclasses
import math
import shutil
import statistics
import time
from dataclasses import dataclass

import torch

from deepnet.core.feedforward import MLP
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.sweep import rate_then_seeds
from deepnet.core.train import TrainConfig, evaluate, fit
from deepnet.data import mnist
from deepnet.experiments.dbn_mnist import balanced_subset
from deepnet.systems import autoencoder, load_run, rbm

NAME = "pretraining_few_labels"
CLAIM = ("Unsupervised pre-training (a deep belief net of RBMs, or stacked denoising autoencoders, trained on the "
         "images without labels) lowers the test error of a deep net fine-tuned by backpropagation most when "
         "labelled digits are few; the gain over random initialisation shrinks as the labels grow.")
SECTION = "Backpropagation to train multilayer architectures (unsupervised pre-training and small data sets)"
HEADLINE = ("Pretraining helps most with few labels", "pretraining_gain_100")
DATA = ["mnist"]
# No published number was confirmed (see the module docstring): nothing to compare with.
PAPER = {}

CLASSES = 10
PRETRAIN_BATCH = 100  # minibatch of both pre-trainings (the practical guide's 100)
# (key, label, colour) of each initialisation, in the figures' order
INITS = (("random", "random weights", "tab:orange"), ("rbm", "RBM stack (DBN)", "tab:blue"),
         ("dae", "denoising autoencoders", "tab:green"))


@dataclass
class Config:
    """pretraining_few_labels: random, RBM and DAE initialisations fine-tuned on N labels, for several N."""

    # hidden units of the pre-trained stacks and of the net, bottom first: the net is 784-layers-10;
    # range [1, 65536], 1 to 8 values
    layers: tuple[int, ...] = (500, 500, 2000)
    # unlabelled training images both stacks learn from (0: all 55,000); range [0, 55000]
    pretrain_images: int = 0
    pretrain_epochs: int = 2  # epochs of each layer's pre-training, RBM (CD-1) and DAE (SGD) alike; range [1, 10000]
    pretrain_lr: float = 0.1  # CD-1 learning rate of the RBMs (the practical guide's 0.1); range (0, 100]
    dae_lr: float = 0.01  # SGD rate (momentum 0.9) of each denoising autoencoder layer; range (0, 100]
    noise: float = 0.25  # fraction of each DAE input's components set to 0 (masking noise); range [0, 1)
    # numbers of labelled training digits N, the same number of each class (55000: all); range [10, 55000],
    # 1 to 8 values
    label_counts: tuple[int, ...] = (100, 1000, 3000)
    # validation images that choose rates and weights: the first min(N, max_val) of the 5,000; range [10, 5000]
    max_val: int = 1000
    # fine-tuning steps (minibatches) of every run, whatever N and init (rounded up to a whole pass);
    # range [1, 10000000]
    steps: int = 400
    # the N digits are tiled into passes of at least this many steps, each ending in a validation check;
    # range [1, 100000]
    check_every: int = 50
    batch_size: int = 100  # fine-tuning minibatch size; range [1, 65536]
    # fine-tuning peak learning rates (AdamW, cosine decay), the same grid for every init, each picking its own on
    # validation; range (0, 100], 1 to 32 values
    lrs: tuple[float, ...] = (0.001, 0.01)
    seeds: int = 1  # fine-tuning seeds trained with each init's chosen rate; range [1, 100]
    seed: int = 0  # first seed (pre-training and the rate sweep use it); range [0, 2147483647]
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(layers=(32, 32, 64), pretrain_images=1000, pretrain_epochs=1, label_counts=(20, 100), max_val=100,
                    steps=20, check_every=10, lrs=(0.003,)),
    # sized to under 5 minutes on 1 thread (its run: 229.5 s; see the module docstring): 2 rates, 1 seed,
    # 2 pre-training epochs
    "quick": Config(),
    "full-cpu": Config(pretrain_epochs=10, label_counts=(100, 300, 1000, 3000, 55000), max_val=5000, steps=3000,
                       lrs=(0.001, 0.003, 0.01), seeds=3),
    "full": Config(pretrain_epochs=30, label_counts=(100, 300, 1000, 3000, 55000), max_val=5000, steps=10000,
                   check_every=100, lrs=(0.0003, 0.001, 0.003, 0.01), seeds=3),
}


def targets(profile, cfg):
    counts = sorted(cfg.label_counts)
    if profile == "smoke" or len(counts) < 2:
        return {}
    # the gain from pre-training is larger with the fewest labels than with the most
    return {f"pretraining_gain_{counts[0]}": {"op": ">", "metric": f"pretraining_gain_{counts[-1]}"}}


def head(part, n):
    """The first n examples of an ArrayDataset (0 or n >= len: all)."""
    return part if n == 0 or n >= len(part) else type(part)(part.x[:n], part.y[:n])


def budget(n, cfg):
    """(copies, epochs) for n labelled examples: the engine's pass is `copies` whole copies of them (at least
    cfg.check_every batches), and `epochs` passes make at least cfg.steps steps."""
    copies = max(1, math.ceil(cfg.check_every * cfg.batch_size / n))
    per_pass = math.ceil(copies * n / cfg.batch_size)  # the engine's steps per epoch (one process)
    return copies, max(1, math.ceil(cfg.steps / per_pass))


def tiled(part, copies):
    """An ArrayDataset repeated `copies` times, copy after copy (the engine shuffles each pass)."""
    if copies == 1:
        return part
    idx = torch.arange(len(part)).repeat(copies)  # (copies * N,)
    return type(part)(part.x[idx], part.y[idx])


def pretrain_rbm(cfg, unlabelled, run_dir):
    """The deep belief net, trained greedily by CD-1 without labels: (dbn, seconds)."""
    print(f"   pre-training the RBM stack 784-{'-'.join(map(str, cfg.layers))} without labels: "
          f"{cfg.pretrain_epochs} epoch(s) of CD-1 per layer on {len(unlabelled.train)} images ...", flush=True)
    tc = dataclasses.replace(rbm.TRAIN_CONFIG, epochs=cfg.pretrain_epochs, batch_size=PRETRAIN_BATCH,
                             lr=cfg.pretrain_lr, seed=cfg.seed, device=cfg.device, progress=True)
    dbn, result = rbm.train(rbm.Config(layers=cfg.layers), unlabelled, tc, run_dir, test=False)
    dbn.eval()
    print(f"   RBM pre-training done: {result['seconds']:.1f} s", flush=True)
    return dbn, result["seconds"]


def pretrain_dae(cfg, unlabelled, run_dir):
    """Stacked denoising autoencoders, greedily, without labels: ([(W, c, b), ...] bottom first, seconds)."""
    print(f"   pre-training the denoising autoencoders 784-{'-'.join(map(str, cfg.layers))} without labels: "
          f"{cfg.pretrain_epochs} epoch(s) of SGD per layer, noise {cfg.noise:g} ...", flush=True)
    tc = TrainConfig(epochs=cfg.pretrain_epochs, batch_size=PRETRAIN_BATCH, optimizer="sgd", lr=cfg.dae_lr,
                     momentum=0.9, schedule="constant", device=cfg.device, seed=cfg.seed, progress=False,
                     eval_batch_size=1000)
    t0 = time.perf_counter()
    widths = (math.prod(unlabelled.input_shape), *cfg.layers)
    layers = autoencoder.pretrain_dae(widths, unlabelled, tc, run_dir, noise=cfg.noise)
    seconds = time.perf_counter() - t0
    print(f"   DAE pre-training done: {seconds:.1f} s", flush=True)
    return layers, seconds


def labelled_task(data, n, cfg, classes=CLASSES):
    """The Splits for fine-tuning on n labels: n class-balanced training digits, the first min(n, max_val) validation
    images; the test part as given."""
    return dataclasses.replace(data, train=balanced_subset(data.train, n, classes),
                               val=head(data.val, min(n, cfg.max_val)))


def finetune(cfg, data, make_model, lr, seed, epochs, run_dir):
    """Train make_model() on data.train by backprop, validation only (no test read); returns fit's result."""
    seed_everything(seed)
    model = make_model()
    tcfg = TrainConfig(epochs=epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=lr, schedule="cosine",
                       monitor="accuracy", device=cfg.device, seed=seed, progress=False, eval_batch_size=1000)
    section = {"hidden": list(cfg.layers), "activation": "logistic", "dropout": 0.0, "init": "default"}
    run_config = {"system": "mlp", "model": section, "data": {**data.info(), "seed": 0}}
    return fit(model, data, tcfg, run_dir, run_config, test=False)


def compare(cfg, labelled, makers, scratch, device, what):
    """Fine-tune every init of `makers` ({name: () -> model}) on `labelled` with the same budget and grid; the test
    part read once per final model. Returns ({name: summary}, steps of each run)."""
    copies, epochs = budget(len(labelled.train), cfg)
    task = dataclasses.replace(labelled, train=tiled(labelled.train, copies))
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    out, steps = {}, 0
    for name, make in makers.items():
        print(f"   {what}: fine-tuning the {name} init on {len(labelled.train)} labels ({copies} copies a pass, "
              f"{epochs} passes), {len(labelled.val)} validation images, rates {list(cfg.lrs)} ...", flush=True)

        def train(lr, seed, name=name, make=make):
            r = finetune(cfg, task, make, lr, seed, epochs, scratch / f"{name}_lr{lr}_seed{seed}")
            return r["best"]["val_accuracy"], r

        sweep = rate_then_seeds(train, cfg.lrs, seeds, maximize=True, label=f"{name}, {what}")
        errs = [1 - evaluate(load_run(r["run_dir"], device=device), labelled.test, device, 1000)["accuracy"]
                for r in sweep.runs]
        tried = [r for r in sweep.tried if r is not None] + sweep.runs[1:]  # every run: the grid and further seeds
        out[name] = {"errors": errs, "mean": statistics.mean(errs),
                     "std": statistics.stdev(errs) if len(errs) > 1 else 0.0,
                     "val_error": statistics.mean(1 - r["best"]["val_accuracy"] for r in sweep.runs),
                     "lr": sweep.lr, "grid": sweep.grid, "seconds": sum(r["seconds"] for r in tried)}
        steps = sweep.runs[0]["steps"]
    return out, steps  # the runs stay in scratch until the experiment ends (a take-up after a stop reads them back)


def run(cfg, out_dir, profile):
    data = mnist.load(seed=0)
    device = pick_device(cfg.device)
    unlabelled = dataclasses.replace(data, train=head(data.train, cfg.pretrain_images), val=head(data.val, cfg.max_val))
    dbn, rbm_seconds = pretrain_rbm(cfg, unlabelled, out_dir / "dbn")
    dae_layers, dae_seconds = pretrain_dae(cfg, unlabelled, out_dir / "dae")
    in_features = math.prod(data.input_shape)
    makers = {
        "random": lambda: MLP(in_features, CLASSES, tuple(cfg.layers), "logistic"),
        "rbm": lambda: dbn.unroll(CLASSES),
        "dae": lambda: autoencoder.unroll_classifier(dae_layers, CLASSES),
    }

    metrics, series, results = {}, {}, {}
    finetune_seconds = 0.0
    for n in cfg.label_counts:
        labelled = labelled_task(data, n, cfg)
        res, steps = compare(cfg, labelled, makers, out_dir / "scratch" / f"n{n}", device, f"N={n}")
        results[n] = res
        for name, s in res.items():
            metrics[f"test_error_{name}_{n}"] = s["mean"]
            metrics[f"test_error_{name}_{n}_std"] = s["std"]
            metrics[f"val_error_{name}_{n}"] = s["val_error"]
            metrics[f"chosen_lr_{name}_{n}"] = s["lr"]
            series[f"val_error_vs_lr_{name}_{n}"] = [[lr, 1 - a] for lr, a in s["grid"] if a is not None]
            finetune_seconds += s["seconds"]
        metrics[f"pretraining_gain_{n}"] = res["random"]["mean"] - min(res["rbm"]["mean"], res["dae"]["mean"])
        metrics[f"finetune_steps_{n}"] = steps
        metrics[f"n_val_{n}"] = len(labelled.val)
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)

    counts = sorted(cfg.label_counts)
    for name, _, _ in INITS:
        series[f"test_error_{name}_vs_labels"] = [[n, results[n][name]["mean"]] for n in counts]
    series["pretraining_gain_vs_labels"] = [[n, metrics[f"pretraining_gain_{n}"]] for n in counts]
    metrics.update({
        "pretrain_rbm_seconds": rbm_seconds, "pretrain_dae_seconds": dae_seconds, "finetune_seconds": finetune_seconds,
        "n_unlabelled": len(unlabelled.train), "n_test": len(data.test), "threads": torch.get_num_threads(),
    })
    filters_png(dbn.rbms[0].weight, dae_layers[0][0], path=out_dir / "filters.png")  # RBM left, DAE right
    _plot(results, metrics, cfg, out_dir / "error_vs_labels.png")
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed + i for i in range(cfg.seeds)],
            "artifacts": ["error_vs_labels.png", "filters.png", "dbn/", "dae/"], "device": str(device)}


def _filter_grid(weight, n, cols):
    """The weights into the first n hidden units as 28x28 images, each scaled to its own largest magnitude (grey 0,
    white positive, black negative): a (1, H, W) grid."""
    w = weight[:n].detach().float().cpu()  # (n, 784)
    w = w / w.abs().amax(1, keepdim=True).clamp_min(1e-12)
    return rbm.image_grid((0.5 + 0.5 * w).reshape(-1, 1, 28, 28), cols=cols)  # (n, 784) -> (n, 1, 28, 28)


@torch.no_grad()
def filters_png(*weights, path, n=64, cols=8, scale=2):
    """First-layer filters of each weight matrix (H, 784), grids side by side (left to right), white gaps between."""
    n = min([n, *(w.shape[0] for w in weights)])
    grids = [_filter_grid(w, n, cols) for w in weights]
    gap = torch.ones(1, grids[0].shape[1], 6)  # (1, H, 6): a white column
    grid = torch.cat([t for g in grids for t in (g, gap)][:-1], dim=2)  # side by side along the width
    grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)  # each pixel a scale x scale block
    rbm.save_png(grid, path)


def _plot(results, metrics, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    counts = sorted(cfg.label_counts)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, label, colour in INITS:
        means = [results[n][name]["mean"] for n in counts]
        stds = [results[n][name]["std"] for n in counts]
        a.errorbar(counts, means, yerr=stds, marker="o", capsize=3, color=colour, label=label)
    a.set(xscale="log", yscale="log", xlabel="labelled training digits N", ylabel="test error",
          title=f"fine-tuned for {cfg.steps} steps whatever N ({cfg.seeds} seed(s))")
    a.legend(fontsize=8)
    b.plot(counts, [metrics[f"pretraining_gain_{n}"] for n in counts], marker="o", color="tab:purple")
    b.axhline(0, color="grey", lw=1)
    b.set(xscale="log", xlabel="labelled training digits N", ylabel="test error: random − best pre-trained",
          title="the gain from pre-training")
    for ax in (a, b):
        ax.set_xticks(counts, [str(n) for n in counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
