"""ram_glimpses: a recurrent net that looks at a few glimpses reads cluttered digits better than a ConvNet.

Review, "Image understanding with deep convolutional networks" and "The future of deep learning":
future progress in vision is expected from systems trained end to end that combine ConvNets with
RNNs using reinforcement learning to decide where to look (citing Mnih et al. 2014 and Ba et al. 2014).
Mnih, Heess, Graves & Kavukcuoglu 2014 ("Recurrent Models of Visual Attention"): the Recurrent
Attention Model (systems/glimpse.py) sees an image only through T retina-like glimpses whose
places a Gaussian location policy chooses, trained by REINFORCE, while its classifier learns by
backpropagation; on 60x60 digits with clutter it beats a fully connected net and a ConvNet of
about as many parameters, although it never sees the whole image.

Protocol: the paper's three datasets, made from MNIST (deepnet/data/translated.py): 28x28 MNIST;
60x60 translated MNIST (each digit at a random place of a blank 60x60 canvas); 60x60 cluttered
translated MNIST (plus 4 random 8x8 pieces of other digits). The 55,000 training digits are put on new
canvases every minibatch (generated on the fly: a fixed set of 55,000 cluttered canvases was learnt by heart,
the 8-glimpse RAM at training accuracy 0.93 against validation 0.64 after 60 epochs); 5,000 validation
canvases from MNIST's other training images and 10,000 test canvases from its test images, always the same. The
RAM uses the paper's sensors: one 8x8 patch on 28x28; three scales of 12x12 on 60x60; its core is the
paper's ReLU RNN in the smoke and quick profiles, an LSTM in the full ones (the RNN's policy learnt to look
away from the digit: see PROFILES). Baselines, on
the cluttered set, trained by the same engine, optimiser, rate, batches and epochs as the RAM: a
fully connected net with two hidden layers of 256 ReLUs (the paper's "FC, 2 layers (256 hiddens
each)", 990,218 parameters) and a ConvNet of three stages (16, 32 and 64 3x3 maps, each batch-normalised,
rectified and max-pooled) read by a linear softmax (54,778 parameters, against the RAM's 256,781: the
paper's two-layer ConvNet had a hidden layer, which died at chance in our short Adam runs, see `conv_fc`). Every model keeps the weights of its best validation epoch; the test set is
read once with them. The RAM is evaluated at its location means (no sampling). Reported: test
errors; the RAM's at the paper's largest glimpse count is the headline of each dataset, the
smaller counts beside it (`_g4`, `_g6`); and whether that RAM's policy has learnt where to look:
`glimpse_on_digit_cluttered60`, the fraction of its chosen glimpses (2..T) centred inside the digit's 28x28
box on the test canvases (chance 0.22; the first glimpse, at the centre, is inside it 72% of the time),
with the fraction for each glimpse as a series.

Budgets: the paper trains for millions of steps (SGD with momentum); the quick profile gives every model
the same few epochs of Adam, the full-cpu one tens of epochs on 28x28 and cluttered 60x60, the full one
the translated set too.
"""

import shutil
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from deepnet.core.config import check_fields
from deepnet.core.feedforward import MLP
from deepnet.core.runtime import copy_folder, seed_everything
from deepnet.core.train import TrainConfig, fit
from deepnet.data import mnist, translated
from deepnet.systems import convnet, glimpse

NAME = "ram_glimpses"
CLAIM = ("A recurrent net that decides where to look (a few retina-like glimpses, placed by a policy learnt with "
         "REINFORCE) classifies cluttered 60x60 digits with a lower error than a fully connected net and a ConvNet "
         "of about as many parameters that see the whole image.")
SECTION = "Image understanding with deep convolutional networks; The future of deep learning"
HEADLINE = ("Glimpses beat a ConvNet on cluttered digits", "ram_error_cluttered60")
DATA = ["mnist"]
# results recorded before the schedule setting trained at a constant rate
ADDED_SETTINGS = {"schedule": "constant"}
_SRC = ("Mnih, Heess, Graves & Kavukcuoglu 2014, 'Recurrent Models of Visual Attention' (arXiv:1406.6247 / NIPS 2014), "
        "{where}: not confirmed (the table itself was not seen; {how})")
PAPER = {
    "ram_error_mnist28": {"value": 0.0129, "source": _SRC.format(
        where="Table 1(a), p. 6, RAM 6 glimpses 8x8 1 scale", how="1.29% as reproductions quote it; a transcription "
        "said to be of the NIPS PDF gives 1.12%")},
    "ram_error_translated60": {"value": 0.0184, "source": _SRC.format(
        where="Table 1(b), p. 6, RAM 8 glimpses 12x12 3 scales", how="1.84% as reproductions quote it; a "
        "transcription said to be of the NIPS PDF gives 1.20%")},
    "ram_error_cluttered60": {"value": 0.0523, "source": _SRC.format(
        where="Table 2(a), p. 7, RAM 8 glimpses 12x12 3 scales", how="5.23% as a summary found with the search tool "
        "quotes Table 2, p. 7; a transcription said to be of the NIPS PDF gives 4.04%")},
    "convnet_error_cluttered60": {"value": 0.0783, "source": _SRC.format(
        where="Table 2(a), p. 7, Convolutional, 2 layers", how="7.83% as the same summary quotes it; the "
        "transcription gives 8.09%")},
}


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/ram_glimpses.md)
MISSES = """\
The full-cpu run (2026-12-06; 30 epochs per model, LSTM core) gives the 8-glimpse RAM 8.6% test error on
cluttered 60x60 digits. That beats the fully connected net (18.8%), but not our ConvNet (1.4%), and misses
the paper's 5.2% by more than the point allowed. On 28x28 digits the RAM reaches 4.7% (paper 1.29%): its
validation error was flat from epoch 20 while its training loss kept falling.

Our ConvNet (three batch-normalised stages, Adam) is far stronger than the paper's two-layer one (7.8% or
8.1%); it was not weakened to fit the claim.

The policy has learnt where to look: 76% of its chosen glimpses fall on the digit (chance 22%).

Believed missing: training length (the paper trains for millions of steps; this run had 25,800 per model) and
regularisation for the 28x28 model.
"""


@dataclass
class Config:
    """ram_glimpses: RAM on 28x28, translated and cluttered 60x60 MNIST, against an MLP and a ConvNet."""

    # glimpse counts of the RAM on 28x28 MNIST, one run each (the largest gives ram_error_mnist28; none: not run);
    # range [1, 64], 0 to 8 values
    glimpses_mnist: tuple[int, ...] = (6,)
    # glimpse counts on 60x60 translated MNIST (none: not run); range [1, 64], 0 to 8 values
    glimpses_translated: tuple[int, ...] = ()
    glimpses_cluttered: tuple[int, ...] = (4, 8)  # glimpse counts on 60x60 cluttered MNIST; range [1, 64], 1 to 8 values
    epochs_mnist: int = 3  # passes over the 55,000 28x28 training digits, per RAM; range [1, 10000]
    epochs: int = 3  # passes over the 55,000 60x60 training canvases, for every RAM and both baselines; range [1, 10000]
    std: float = 0.1  # std of the RAM's location policy, in [-1, 1] image coordinates (systems/glimpse.py); range (0, 2]
    core: Literal["rnn", "lstm"] = "rnn"  # the RAM's core: the paper's ReLU RNN, or an LSTM cell
    batch_size: int = 64  # minibatch size of every model; range [1, 65536]
    lr: float = 1e-3  # Adam's rate, for every model; range (0, 1]
    # the rate over training, for every model: constant, or a cosine decay to zero over the run's epochs (28x28
    # LSTM RAM, 8 epochs, seed 0: best validation accuracy 0.937 with cosine against 0.920 constant)
    schedule: Literal["constant", "cosine"] = "constant"
    clip_grad: float = 5.0  # gradient norm clip, for every model (0: none); range [0, inf)
    mlp_hidden: tuple[int, ...] = (256, 256)  # the fully connected baseline's hidden layers; range [1, 65536], 1 to 8 values
    # the ConvNet baseline's maps per stage (3x3 convolutions, batch norm, ReLU, 2x2 max-pooling); range [1, 1024],
    # 1 to 4 values
    conv_channels: tuple[int, ...] = (16, 32, 64)
    # the ConvNet baseline's fully connected hidden layers (none: class scores straight from the last maps). With a
    # hidden layer of 32 or 64 ReLUs after two or three stages, 200-300 Adam steps on the cluttered canvases left the
    # loss at ln 10 (every output the same: the layer's units had died); without one it learned (1 thread, seed 0);
    # range [1, 8192], 0 to 4 values
    conv_fc: tuple[int, ...] = ()
    n_train: int = 0  # use only the first n training images of each dataset (0: all 55,000); range [0, 55000]
    # validate and test on the first n images of each part only (0: all; the smoke profile's shortcut); range [0, 10000]
    n_eval: int = 0
    paths: int = 6  # test images whose glimpse paths the figure draws; range [1, 32]
    seed: int = 0  # seed of every model; range [0, 2147483647]
    device: str = "cpu"  # cpu, cuda or auto

    def check(self):
        check_fields(self)


PROFILES = {
    "smoke": Config(glimpses_mnist=(2,), glimpses_cluttered=(2, 3), epochs_mnist=1, epochs=1, n_train=512, n_eval=256,
                    mlp_hidden=(32, 32), conv_channels=(4, 8), paths=2),
    # quick: every model 3 epochs of Adam (28x28 RAM: 2,580 steps; each 60x60 model: 2,580 steps), about 1/1000 of
    # the paper's training. Not yet timed on quiet cores. A first run (1 thread, nice 10, load 4-5 from other jobs,
    # so ~25 min wall) gave: RAM 28x28 6 glimpses test error 0.125 (val 0.76, 0.86, 0.86 by epoch); cluttered 60x60
    # RAM 4 glimpses 0.517 (val 0.25, 0.34, 0.47), 8 glimpses 0.664 (val 0.24, 0.28, 0.33); the ConvNet baseline
    # had validation accuracy 0.837 after its first epoch (the run was stopped there, out of time): the RAM learns
    # far more slowly than the ConvNet at this budget, and 8 glimpses more slowly than 4, so the quick targets are
    # not expected to be met. The kept run (1 thread on a quiet core, the other core running one 1-thread job: 528 s,
    # over the 5 minutes, most of it the 60x60 ConvNet baseline) gave the same RAM numbers, the ConvNet 0.062 and the
    # MLP 0.399: targets missed; its glimpse paths drift towards the bottom-left corner (the location policy has not
    # learnt yet). To fit the 5 minutes, quick's ConvNet baseline has half the maps per stage (8, 16, 32): a
    # quarter of the multiply-adds of the (16, 32, 64) that took 354 of those 528 s. Its run (1 thread, load 3.4:
    # every part 1.5-1.7 times its quiet time) took 443 s, the ConvNet 182 s of it, so about 4.5-5 minutes on a
    # quiet core (not measured); the ConvNet's error 0.098 (21,634 parameters), the RAM's and MLP's unchanged.
    # With new training canvases every minibatch and std 0.1 (1 thread, load 3.0: 727 s): RAM 28x28 0.086,
    # cluttered 0.432 (4 glimpses) and 0.582 (8), ConvNet 0.115, MLP 0.356; the 8-glimpse RAM's chosen glimpses
    # are centred on the digit's box 15% of the time (chance 0.22): its paths run to the top-left corner.
    # Timed alone on the machine with 2 threads (`deepnet --threads 2 reproduce ram_glimpses --quick`): 234 s,
    # within the 5 minutes; errors as before within noise (RAM 0.082, 0.436, 0.575; ConvNet 0.119; MLP 0.358)
    "quick": Config(conv_channels=(8, 16, 32)),
    # full-cpu: 28x28 and cluttered 60x60 only, 40 and 60 epochs, with an LSTM core. Attempts (1 thread, load 3):
    # - fixed training canvases, std 0.05, the paper's ReLU RNN core (stopped in the ConvNet's 26th epoch):
    #   validation errors 0.081 (28x28), 0.383 (cluttered, 4 glimpses), 0.361 (8 glimpses; training accuracy
    #   0.93 against validation 0.64: the fixed canvases learnt by heart), the ConvNet 0.038 at epoch 25;
    # - new canvases every minibatch, std 0.1, ReLU RNN core (stopped in the ConvNet's 6th epoch, 130 s an
    #   epoch): test errors 0.042 (28x28, 544 s), 0.173 (4 glimpses, 1,036 s), 0.154 (8 glimpses, 1,916 s);
    #   the ConvNet at validation error 0.051 after 5 epochs. The RNN's policy looked away from the digit:
    #   the fraction of test glimpses centred on the digit's box fell from 0.72 (the first, central glimpse)
    #   to 0.17 by the 8th (chance 0.22; with std 0.05, after 10 epochs, to 0.02). A glimpse of the digit
    #   rewrites the ReLU RNN's state, so looking at nothing keeps what the first glimpse saw; an LSTM core
    #   (gated memory) kept its glimpses on the digit (0.72 to 0.56 after 8 epochs, validation accuracy 0.778
    #   against the RNN's 0.743 after 9), at about twice the time per epoch.
    # - LSTM core, new canvases every minibatch, std 0.1, 40 (28x28) and 60 epochs at a constant rate (1 thread,
    #   load 3-4): test errors 0.047 (28x28), 0.100 (cluttered, 4 glimpses), 0.089 (8 glimpses); the ConvNet
    #   baseline reached validation accuracy 0.982 by its 40th epoch at about 100 s an epoch. That run took more
    #   than 5 hours and was lost with its session (runs/ does not outlive one) before the ConvNet finished.
    # So the profile is sized to one 2.5-hour sitting: 30 epochs for every model, the rate decayed by a cosine
    # (measured better on 28x28, see `schedule`). Run (1 thread pinned, a 1-thread job on the other core, load
    # 1.3-2): 7,545 s over two attempts (the first stopped with its session and was taken up from its checkpoints;
    # its time includes about 10 minutes paused while CI ran): the RAMs 58 min (the pause among them), the
    # ConvNet 49, the MLP 4. Test errors: 28x28 0.047 (validation flat at 0.05 from epoch 20 while the training
    # loss kept falling: the paper's 1.29% is not reached); cluttered 0.096 (4 glimpses) and 0.086 (8: the
    # target 0.062 missed), the MLP 0.188, the ConvNet 0.014. The RAM beats the MLP but not this ConvNet: ours
    # (batch norm, three stages, Adam, its best of 30 epochs) is far stronger than the paper's two-layer one
    # (7.83% or 8.09%, see PAPER). The 8-glimpse RAM's glimpses 2-8 land on the digit's box 76% of the time
    # (chance 0.22); its paths, looked at, go from the centre onto the digit's strokes (the 28x28 RAM's to the
    # top of a 7 or a 1, the stem of a 4)
    "full-cpu": Config(epochs_mnist=30, epochs=30, core="lstm", schedule="cosine"),
    # full: the paper's three datasets and glimpse counts, long training (a GPU, or days of CPU): not yet run
    "full": Config(glimpses_mnist=(6,), glimpses_translated=(6, 8), glimpses_cluttered=(4, 8), epochs_mnist=200,
                   epochs=200, core="lstm"),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    # the comparison the paper makes, on the same canvases and budget (not loosened when it fails)
    out = {"convnet_error_cluttered60": {"op": ">", "metric": "ram_error_cluttered60"},
           "mlp_error_cluttered60": {"op": ">", "metric": "ram_error_cluttered60"}}
    if profile in ("full-cpu", "full") and max(cfg.glimpses_cluttered) >= 8:
        out["ram_error_cluttered60"] = {"op": "<=", "value": PAPER["ram_error_cluttered60"]["value"] + 0.01}
    if profile == "full" and cfg.glimpses_translated and max(cfg.glimpses_translated) >= 8:
        out["ram_error_translated60"] = {"op": "<=", "value": PAPER["ram_error_translated60"]["value"] + 0.01}
    return out


# ---------------------------------------------------------------------------------------------


def load_data(name, cfg):
    """The Splits of `name` (mnist or a translated variant), cut to the profile's sizes."""
    data = mnist.load(seed=0) if name == "mnist" else translated.load(name, seed=0)
    parts = {"train": cfg.n_train, "val": cfg.n_eval, "test": cfg.n_eval}
    for part, n in parts.items():
        if n:
            p = getattr(data, part)
            setattr(data, part, type(p)(p.x[:n], p.y[:n]))
    return data


def train_config(cfg, epochs):
    return TrainConfig(epochs=epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr, weight_decay=0.0,
                       schedule=cfg.schedule, clip_grad=cfg.clip_grad, monitor="accuracy", eval_batch_size=1000,
                       device=cfg.device, seed=cfg.seed, progress=False)


def ram_config(cfg, data, glimpses):
    big = data.input_shape[1] > 28  # the paper's sensors: 8x8 on 28x28, three scales of 12x12 on 60x60
    return glimpse.Config(glimpses=glimpses, patch=12 if big else 8, scales=3 if big else 1, core=cfg.core,
                          std=cfg.std)


def train_ram(cfg, data, glimpses, epochs, run_dir):
    seed_everything(cfg.seed)
    mcfg = ram_config(cfg, data, glimpses)
    model = glimpse.make(mcfg, data.input_shape, len(data.classes))
    run_config = {"system": "glimpse", "model": asdict(mcfg), "data": {**data.info(), "seed": 0}}
    print(f"   RAM, {glimpses} glimpses, on {data.name} ({glimpse.count_parameters(model):,} parameters)", flush=True)
    r = fit(model, data, train_config(cfg, epochs), run_dir, run_config, augment=getattr(data, "augment", None))
    return r, model


def train_baseline(cfg, data, kind, run_dir):
    seed_everything(cfg.seed)
    if kind == "mlp":
        mcfg = {"hidden": list(cfg.mlp_hidden), "activation": "relu", "dropout": 0.0, "init": "he"}
        model = MLP(data.input_shape[0] * data.input_shape[1] * data.input_shape[2], len(data.classes),
                    cfg.mlp_hidden, "relu", 0.0, "he")
    else:
        c = convnet.Config(channels=cfg.conv_channels, fc=cfg.conv_fc, mean=(CANVAS_MEAN,), std=(CANVAS_STD,))
        mcfg = asdict(c)
        model = convnet.make(c, data.input_shape, len(data.classes))
    n = sum(p.numel() for p in model.parameters())
    print(f"   {kind} baseline on {data.name} ({n:,} parameters)", flush=True)
    run_config = {"system": kind, "model": mcfg, "data": {**data.info(), "seed": 0}}
    return fit(model, data, train_config(cfg, cfg.epochs), run_dir, run_config,
               augment=getattr(data, "augment", None)), n


# mean and std of the cluttered 60x60 canvases' [0, 1] pixels (measured on the training canvases)
CANVAS_MEAN, CANVAS_STD = 0.045, 0.19


def run(cfg, out_dir, profile):
    scratch = out_dir / "scratch"
    metrics, series, params = {}, {}, {}
    kept = None  # the run folder worth keeping: the cluttered RAM with the most glimpses
    traced = {}  # dataset -> (model, data) for the figure
    plan = [("mnist", "mnist28", cfg.glimpses_mnist, cfg.epochs_mnist),
            ("mnist_translated60", "translated60", cfg.glimpses_translated, cfg.epochs),
            ("mnist_cluttered60", "cluttered60", cfg.glimpses_cluttered, cfg.epochs)]
    seconds = {}
    for name, short, counts, epochs in plan:
        if not counts:
            continue
        data = load_data(name, cfg)
        top = max(counts)
        for T in sorted(set(counts)):
            run_dir = scratch / f"ram_{short}_g{T}"
            r, model = train_ram(cfg, data, T, epochs, run_dir)
            err = 1 - r["test"]["accuracy"]
            metrics[f"ram_error_{short}" if T == top else f"ram_error_{short}_g{T}"] = err
            metrics[f"ram_val_error_{short}_g{T}"] = 1 - r["best"]["val_accuracy"]
            series[f"ram_val_error_vs_epoch_{short}_g{T}"] = [[h["epoch"], 1 - h["val_accuracy"]] for h in r["history"]]
            seconds[f"ram_{short}_g{T}"] = r["seconds"]
            params["ram_" + short] = glimpse.count_parameters(model)
            if T == top:
                model.load_state_dict(torch.load(run_dir / "best.pt", weights_only=True)["model"])
                traced[short] = (model, data)
                if short != "mnist28":  # where the chosen glimpses land, against where the digit is
                    by_step = on_digit(model, data)
                    series[f"glimpse_on_digit_by_step_{short}"] = [[t + 1, v] for t, v in enumerate(by_step)]
                    metrics[f"glimpse_on_digit_{short}"] = sum(by_step[1:]) / max(len(by_step) - 1, 1)
                if short == "cluttered60" or kept is None:
                    kept = run_dir
        if short == "cluttered60":
            for kind in ("convnet", "mlp"):
                r, n = train_baseline(cfg, data, kind, scratch / f"{kind}_{short}")
                metrics[f"{kind}_error_{short}"] = 1 - r["test"]["accuracy"]
                metrics[f"{kind}_val_error_{short}"] = 1 - r["best"]["val_accuracy"]
                series[f"{kind}_val_error_vs_epoch_{short}"] = [[h["epoch"], 1 - h["val_accuracy"]] for h in r["history"]]
                seconds[f"{kind}_{short}"] = r["seconds"]
                params[kind] = n
    for k, v in params.items():
        metrics[f"parameters_{k}"] = v
    for k, v in seconds.items():
        metrics[f"train_seconds_{k}"] = v
    metrics["train_seconds_all"] = sum(seconds.values())
    metrics["threads"] = torch.get_num_threads()
    artifacts = []
    if traced:
        draw_paths(traced, cfg.paths, out_dir / "glimpse_paths.png")
        artifacts.append("glimpse_paths.png")
    if kept is not None:
        copy_folder(kept, out_dir / "model")
        artifacts.append("model/")
    shutil.rmtree(scratch, ignore_errors=True)
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed], "artifacts": artifacts, "device": cfg.device}


def on_digit(model, data, chunk=1000):
    """For each glimpse t = 1..T, the fraction of test canvases whose glimpse is centred inside the digit's
    28x28 box (data.offsets). The first glimpse is the centre; a policy that has learnt where to look puts
    the later ones on the digit, while a centre drawn uniformly over a 60x60 canvas lands there with
    probability (28/60)^2 = 0.22."""
    x = data.test.x
    off = data.offsets["test"][:len(x)]  # (N, 2) top-left (row, col) of each digit
    H, W = data.input_shape[1:]
    locs = torch.cat([model.trace(x[i:i + chunk])[0] for i in range(0, len(x), chunk)])  # (N, T, 2) in [-1, 1]
    centre = glimpse.pixel_centre(locs, H, W)  # (N, T, 2) pixels, as the sensor reads
    inside = ((centre >= off[:, None]) & (centre < off[:, None] + 28)).all(-1)  # (N, T)
    return inside.float().mean(0).tolist()


def draw_paths(traced, n, path):
    """The paper's Figure 2 style: on `n` test images per dataset, each glimpse's patch boxes and the path
    joining the glimpse centres (numbered 1..T; the first at the centre), the true and predicted class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = list(traced.items())
    fig, axes = plt.subplots(len(rows), n, figsize=(2.1 * n, 2.3 * len(rows)), squeeze=False)
    for r, (short, (model, data)) in enumerate(rows):
        x, y = data.test.x[:n], data.test.y[:n]
        locs, pred = model.trace(x)  # (n, T, 2) (row, col) in [-1, 1], (n,)
        H, W = data.input_shape[1:]
        cfg = model.cfg
        for i in range(n):
            ax = axes[r][i]
            ax.imshow(x[i, 0].numpy(), cmap="gray", vmin=0, vmax=255)
            centre = glimpse.pixel_centre(locs[i], H, W)  # (T, 2) pixels, as the sensor reads
            colours = plt.cm.autumn(torch.linspace(0, 1, len(centre)).numpy())
            for t, (cy, cx) in enumerate(centre.tolist()):
                for k in range(cfg.scales):
                    s = cfg.patch << k
                    ax.add_patch(Rectangle((cx - s // 2 - 0.5, cy - s // 2 - 0.5), s, s, fill=False, lw=0.8,
                                           ec=colours[t], alpha=1.0 if k == 0 else 0.5))
                ax.text(cx, cy, str(t + 1), color="cyan", fontsize=7, ha="center", va="center", clip_on=True)
            ax.plot(centre[:, 1].numpy(), centre[:, 0].numpy(), "-", color="cyan", lw=0.8)
            ax.set(xlim=(-0.5, W - 0.5), ylim=(H - 0.5, -0.5), xticks=[], yticks=[])
            ax.set_title(f"{short}: {int(y[i])} -> {int(pred[i])}", fontsize=8,
                         color="k" if int(pred[i]) == int(y[i]) else "r")
    fig.suptitle("RAM glimpse paths on test images\n(boxes: each glimpse's patches; 1 = first; title: true -> predicted)",
                 fontsize=8)
    fig.tight_layout(h_pad=1.5)
    fig.savefig(path, dpi=110)
    plt.close(fig)
