"""rbm_loglik: an RBM learns a probability model of handwritten digits; how well, in nats per test image.

Review, "The return of neural networks" and "Unsupervised learning": unsupervised procedures
create layers of feature detectors without labelled data, each layer modelling the activities
of the layer below; the building block is a restricted Boltzmann machine (RBM). Whether such a
layer is a good model of its data is a number: the log-probability it gives to test images. An
RBM's log-probability needs its partition function Z, which Salakhutdinov & Murray (2008)
estimate by annealed importance sampling (AIS), and with it they compare RBMs trained by
contrastive divergence with more or fewer Gibbs steps. Tieleman (2008) trained them with
persistent chains (PCD) instead.

Here: a 500-hidden Bernoulli RBM (systems/rbm.py) on MNIST's 55,000 training images, their
intensities read as probabilities, is trained three times from the same initialisation and the
same minibatch order: CD-1; CD-k with the largest k the profile's budget allows (`cd_k`; the
paper's best model is CD-25); and PCD-1 (persistent chains, one per example of a batch). The
recipe is the same for the three: minibatches of 100, rate 0.1 decayed linearly to 0 over the
training (Tieleman 2008 decayed PCD's rate linearly to zero; the same schedule is kept for CD so
that the schedule is not what differs), momentum 0.5 for 5 epochs then 0.9, weight decay 2e-4
(Hinton's practical guide, as systems/rbm.py's TRAIN_CONFIG). No rate is tuned on validation: an
AIS estimate per candidate would cost more than a quick run has. (A pilot, 10,000 images for 5
epochs scored on 2,000 test images, gave all three models lower log-probabilities at rate 0.03
than at the guide's 0.1, by 12 to 18 nats.)

Each model's log Z is estimated by AIS from the base-rate model (independent pixels with the
training data's means: Salakhutdinov & Murray section 4.2), with `ais_runs` runs and
`ais_betas` intermediate distributions spaced as the paper spaces its 14,500 (500 in [0, 0.5],
4,000 in [0.5, 0.9], 10,000 in [0.9, 1], scaled down pro rata when fewer). The test images
are binarised once, stochastically (pixel on with probability its intensity), with a fixed
seed (`binarize_seed`), as Salakhutdinov & Murray did; log p(v) = −F(v) − log Z is averaged over
them. Checks that the estimate is sane: each log Z's standard error over the AIS runs; the
log-probability of binarised training images beside the test's (a large gap would be
overfitting, or an estimate off); the base-rate model's own test log-probability (the floor
every RBM should clear); the effective number of AIS runs, (Σ w)² / (Σ w²) (`*_ais_ess`; near 1,
one run carries all the weight, the SE reads 1.0 and means nothing, and log Z is most likely too low,
the log-probability too high); and AIS against exact enumeration on a small RBM (`check_hidden`
hidden units, trained by CD-1 for one epoch) with the same betas and runs (`ais_check_error`).

Profiles. Measured on 1 thread of the 2-core development VM while other jobs ran: an epoch of the
55,000 images takes about 3.4 s for CD-1, 4.4 s for PCD-1, 9 s for CD-5 and 33-36 s for CD-25; one
AIS distribution about 5 ms (100 runs, 500 hidden units, float64). quick trains 8 epochs per model
(the paper's models trained far longer), CD-5 (the largest k whose training fits beside the other
two in the 5 minutes), and uses 2,900 AIS distributions (one fifth of the paper's 14,500): 193 s in
all on 1 thread. full-cpu trains CD-25 for 150 epochs with the paper's 14,500 distributions: about
1.9 h at those rates. full: CD-25 for 300 epochs on an accelerator; how long
Salakhutdinov & Murray trained theirs is not confirmed here.

The quick run (8 epochs, CD-5, 2,900 distributions; 193 s, 1 thread): base rate −205.97, CD-1
−178.98 (log Z SE 0.22), CD-5 −131.90 (SE 0.40), PCD-1 −92.04 with an SE of 1.000: one AIS run
carried the weight, so PCD's number is not to be trusted (an over-estimate, most likely). Its
reconstruction error jumped from 8.5 to 31.7 when the momentum rose to 0.9 after epoch 5. The
samples show why CD-1 and CD-5 score low: CD-1's chains fall into blurred blobs, CD-5's into blank
images, modes far from any digit that the short chains of CD never visit, while PCD's are digits.

The full-cpu run (150 epochs each, 14,500 distributions, 100 runs; 1 thread beside another long run and
helpers' tests, load 3-6: 8,252 s, CD-25's training 6,010 s of it): CD-1 −108.09 (ESS 63.6), CD-25 −86.01
(ESS 63.4; the paper's CD25(500) −86.34: within 2 nats, met), PCD-1 −108.62 (ESS 10.3, log Z SE 0.30):
PCD does not beat CD-25 (target missed) though its samples are digits, as CD-25's are, while CD-1's are
blobs. PCD here shares CD's rate, 0.1 decayed linearly, and momentum 0.9; its reconstruction error stayed
3-10 times CD's for most of the run, the sign of persistent chains pulled by a rate too high for them
(Tieleman 2008 tuned PCD's rate separately): a rate of its own, chosen on validation, is what to try next.
AIS on the 15-hidden RBM: 179.991 against the exact 179.968.
"""

import math
import shutil
import time
from dataclasses import dataclass, replace
from typing import Literal

import torch

from deepnet.core import boltzmann
from deepnet.data import mnist
from deepnet.systems import rbm

NAME = "rbm_loglik"
CLAIM = ("A restricted Boltzmann machine trained without labels learns a probability model of handwritten digits; "
         "its test log-probability (partition function by annealed importance sampling) improves over CD-1 when the "
         "negative phase runs more Gibbs steps (CD-k) or keeps persistent chains (PCD).")
SECTION = "The return of neural networks; Unsupervised learning (RBMs as layers of feature detectors)"
HEADLINE = ("An RBM learns a density of digits (log-likelihood by AIS)", "test_logprob_cd1")
DATA = ["mnist"]
PAPER = {
    "test_logprob_cdk": {
        "value": -86.34,
        "source": "Salakhutdinov & Murray 2008, Table 2, CD25(500), average test log-probability (nats): the table "
                  "itself not seen here; the value and the model name as quoted in alexhunterlang/natural_bm "
                  "examples/long_demo.py, and Salakhutdinov's AIS code loads this CD25(500) model. Compare only "
                  "when the metric cd_k is 25",
    },
    "test_logprob_cd1": {
        "value": -125.53,
        "source": "Salakhutdinov & Murray 2008, Table 2, CD1(500), as recalled: not confirmed",
    },
}

SCHEDULES = {"linear": "onecycle", "constant": "constant"}  # ours -> core.train's name (onecycle: linear to 0)
PAPER_COUNTS = (500, 4000, 10000)  # Salakhutdinov & Murray's betas per interval [0, .5], [.5, .9], [.9, 1]


@dataclass
class Config:
    """rbm_loglik: CD-1, CD-k and PCD RBMs on MNIST, test log-probability by AIS."""

    hidden: int = 500  # hidden units of each RBM (the paper's: 500); range [1, 65536]
    train_images: int = 0  # training images used (0: all 55,000); range [0, 55000]
    epochs: int = 8  # epochs of each of the three trainings; range [1, 100000]
    cd_k: int = 5  # Gibbs steps k of the CD-k model (the paper's best: 25); range [1, 1000]
    batch_size: int = 100  # minibatch size (the guide: 100); range [1, 65536]
    lr: float = 0.1  # peak learning rate, the same for the three models; range (0, 100]
    schedule: Literal["linear", "constant"] = "linear"  # learning rate: decayed linearly to 0, or constant
    momentum: float = 0.9  # momentum after each model's first 5 epochs (0.5 before them); range [0, 1)
    weight_decay: float = 2e-4  # L2 penalty on the weights (the guide: 2e-4); range [0, 10]
    ais_runs: int = 100  # AIS runs per log Z (the paper: 100); range [2, 100000]
    # AIS intermediate distributions, spaced as the paper's 14,500 (500 : 4,000 : 10,000 over [0, .5], [.5, .9],
    # [.9, 1]); range [3, 10000000]
    ais_betas: int = 2900
    test_images: int = 0  # test images scored (0: all 10,000); range [0, 10000]
    train_eval_images: int = 10000  # binarised training images also scored (a check beside the test); range [1, 55000]
    binarize_seed: int = 0  # seed of the one stochastic binarisation of the scored images; range [0, 2147483647]
    # hidden units of the small RBM on which AIS is checked against exact log Z (0: no check); range [0, 20]
    check_hidden: int = 15
    samples: int = 100  # Gibbs chains drawn from each model for samples.png; range [1, 1000]
    sample_steps: int = 1000  # block Gibbs steps of each chain; range [1, 1000000]
    seed: int = 0  # initialisation, minibatch order, chains and AIS; range [0, 2147483647]
    device: str = "cpu"  # cpu, cuda, auto


PROFILES = {
    "smoke": Config(hidden=16, train_images=1000, epochs=1, cd_k=2, ais_runs=16, ais_betas=200, test_images=500,
                    train_eval_images=500, check_hidden=6, samples=16, sample_steps=20),
    "quick": Config(),
    # CD-25 takes ~7x a CD-1 epoch; 150 epochs of the three fit 2.5 h on 2 cores (see the module docstring)
    "full-cpu": Config(epochs=150, cd_k=25, ais_betas=14500),
    "full": Config(epochs=300, cd_k=25, ais_betas=14500, device="auto"),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    # the paper's ordering: more Gibbs steps give a better model than CD-1 (CD1 < CD3 < CD25 in its Table 2),
    # and Tieleman (2008): persistent chains beat CD-1; and every RBM should beat independent pixels
    out = {"test_logprob_cdk": {"op": ">", "metric": "test_logprob_cd1"},
           "test_logprob_pcd": {"op": ">", "metric": "test_logprob_cd1"},
           "test_logprob_cd1": {"op": ">", "metric": "test_logprob_base_rate"},
           # a log-likelihood is only evidence when its AIS estimate is: at least 10 of the runs carry the weights
           # (effective sample size; with fewer, log Z is most likely too low and the log-probability too high)
           "cdk_ais_ess": {"op": ">=", "value": 10.0},
           "pcd_ais_ess": {"op": ">=", "value": 10.0}}
    if profile in ("full", "full-cpu"):
        out["test_logprob_pcd"] = {"op": ">=", "metric": "test_logprob_cdk"}  # PCD at least as good as CD-25
        if cfg.cd_k == 25 and cfg.hidden == 500 and not cfg.train_images:
            out["test_logprob_cdk"] = {"op": ">=", "value": PAPER["test_logprob_cdk"]["value"] - 2}  # within 2 nats
    return out


def ais_schedule(k):
    """k + 1 inverse temperatures 0 .. 1: the paper's three intervals, with k split among them 500 : 4,000 : 10,000."""
    total = sum(PAPER_COUNTS)
    counts = [max(1, round(k * c / total)) for c in PAPER_COUNTS]
    counts[-1] = max(1, k - counts[0] - counts[1])
    return rbm.paper_betas(counts=tuple(counts))


def binarize(x, generator):
    """uint8 pixels (N, 1, 28, 28) -> binary (N, 784) float32: each pixel on with probability its intensity."""
    p = x.flatten(1).float() / 255
    return (torch.rand(p.shape, generator=generator) < p).float()


def run(cfg, out_dir, profile):
    data = mnist.load(seed=0)
    if cfg.train_images:
        data.train = type(data.train)(data.train.x[:cfg.train_images], data.train.y[:cfg.train_images])
    n_test = cfg.test_images or len(data.test)
    g = torch.Generator().manual_seed(cfg.binarize_seed)
    v_test = binarize(data.test.x[:n_test], g)
    pick = torch.randperm(len(data.train), generator=g)[:cfg.train_eval_images]
    v_train = binarize(data.train.x[pick], g)
    intensities = data.train.x.flatten(1).float() / 255
    base_bias = boltzmann.base_rate_bias(intensities)  # (784,): the AIS base-rate model's visible biases
    betas = ais_schedule(cfg.ais_betas)
    metrics = {"n_train": len(data.train), "n_test": n_test, "test_binarize_seed": cfg.binarize_seed,
               "ais_runs": cfg.ais_runs, "ais_intermediate": len(betas) - 1, "cd_k": cfg.cd_k,
               "test_logprob_base_rate": _base_rate_logprob(base_bias, v_test)}
    series, models = {}, {}
    tc = replace(rbm.TRAIN_CONFIG, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum,
                 weight_decay=cfg.weight_decay, schedule=SCHEDULES[cfg.schedule], device=cfg.device, seed=cfg.seed)
    scratch = out_dir / "scratch"
    trainings = (("cd1", "CD-1", 1, False), ("cdk", f"CD-{cfg.cd_k}", cfg.cd_k, False), ("pcd", "PCD-1", 1, True))
    device = None
    for i, (key, label, k, persistent) in enumerate(trainings):
        print(f"   training {label}: {cfg.hidden} hidden units, {cfg.epochs} epochs on {len(data.train)} images ...",
              flush=True)
        mcfg = rbm.Config(layers=(cfg.hidden,), cd_steps=k, persistent=persistent)
        model, r = rbm.train(mcfg, data, tc, scratch / key, test=False)
        device = r["device"]
        model.eval()
        models[key] = (label, model)
        metrics[f"{key}_train_seconds"] = r["seconds"]
        metrics[f"{key}_val_recon"] = r["history"][-1]["val_recon"]
        series[f"{key}_val_recon_vs_epoch"] = [[h["epoch"], h["val_recon"]] for h in r["history"]]

        print(f"   AIS for {label}: log Z by {cfg.ais_runs} runs through {len(betas) - 1} distributions ...",
              flush=True)
        top = model.rbms[0]
        t0 = time.perf_counter()
        gen = torch.Generator(device=top.weight.device).manual_seed(cfg.seed * 7919 + i)
        ais = rbm.ais_log_z(top, base_bias.to(top.weight.device), runs=cfg.ais_runs, betas=betas, generator=gen)
        metrics[f"{key}_ais_seconds"] = time.perf_counter() - t0
        metrics[f"{key}_log_z"] = ais.log_z
        metrics[f"{key}_log_z_se"] = ais.se
        metrics[f"{key}_ais_ess"] = _ess(ais.log_weights)
        if metrics[f"{key}_ais_ess"] < 10:
            print(f"   warning: the AIS weights of {label} rest on {metrics[f'{key}_ais_ess']:.1f} of {cfg.ais_runs} "
                  "runs: its log Z (and SE) is unreliable, most likely too low; run more distributions (--ais-betas)",
                  flush=True)
        metrics[f"test_logprob_{key}"] = _mean_logprob(top, v_test, ais.log_z)
        metrics[f"train_logprob_{key}"] = _mean_logprob(top, v_train, ais.log_z)
        print(f"   {label}: log Z {ais.log_z:.2f} (SE {ais.se:.3f}); test log-prob "
              f"{metrics[f'test_logprob_{key}']:.2f}, train {metrics[f'train_logprob_{key}']:.2f} nats per image",
              flush=True)

    if cfg.check_hidden:
        metrics.update(_ais_check(cfg, data, tc, base_bias, betas, scratch / "check"))

    print(f"   drawing {cfg.samples} samples from each model ({cfg.sample_steps} Gibbs steps) ...", flush=True)
    _draw_samples(models, cfg, out_dir / "samples.png")
    _draw_filters(models["cd1"][1].rbms[0], out_dir / "filters.png")
    shutil.rmtree(scratch, ignore_errors=True)
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed], "artifacts": ["samples.png", "filters.png"],
            "device": device}


@torch.no_grad()
def _mean_logprob(top, v, log_z, chunk=2000):
    """Mean log p(v) over the rows of v (binary, (N, V)), in nats."""
    total = 0.0
    for i in range(0, len(v), chunk):
        total += rbm.log_prob(top, v[i:i + chunk].to(top.weight.device), log_z).sum().item()
    return total / len(v)


def _ess(log_w):
    """Effective number of AIS runs, (Σ w)² / Σ w²: M when the weights are equal, 1 when one run carries them all.

    The delta-method SE (ais_log_z's) is meaningless near 1: it reads exactly 1.0 nats when one run has all
    the weight, and the estimate of log Z is then one run's, which AIS tends to put too low.
    """
    log_w = log_w.double()
    return math.exp(2 * torch.logsumexp(log_w, 0).item() - torch.logsumexp(2 * log_w, 0).item())


def _base_rate_logprob(bias, v):
    """Mean log-probability of v under independent pixels with log-odds `bias`: Σ_i v_i b_i − softplus(b_i)."""
    b = bias.double()
    return (v.double() @ b - torch.nn.functional.softplus(b).sum()).mean().item()


def _ais_check(cfg, data, tc, base_bias, betas, run_dir):
    """A small RBM (check_hidden units, one epoch of CD-1): AIS with these betas and runs against exact log Z."""
    print(f"   checking AIS on a {cfg.check_hidden}-hidden RBM against its exact log Z ...", flush=True)
    mcfg = rbm.Config(layers=(cfg.check_hidden,))
    model, _ = rbm.train(mcfg, data, replace(tc, epochs=1, schedule="constant", progress=False), run_dir, test=False)
    small = model.rbms[0]
    exact = rbm.exact_log_z(small)
    gen = torch.Generator(device=small.weight.device).manual_seed(cfg.seed * 7919 + 99)
    ais = rbm.ais_log_z(small, base_bias.to(small.weight.device), runs=cfg.ais_runs, betas=betas, generator=gen)
    return {"ais_check_log_z_exact": exact, "ais_check_log_z": ais.log_z, "ais_check_log_z_se": ais.se,
            "ais_check_error": abs(ais.log_z - exact)}


def _draw_samples(models, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 4.3))
    for i, (ax, (key, (label, model))) in enumerate(zip(axes, models.items())):
        device = model.rbms[0].weight.device
        gen = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + 200 + i)
        pixels = rbm.sample(model, chains=cfg.samples, steps=cfg.sample_steps, generator=gen).cpu()
        grid = rbm.image_grid(pixels.view(-1, 1, 28, 28))
        ax.imshow(grid[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{label}: {cfg.samples} chains, {cfg.sample_steps} Gibbs steps", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_filters(top, path, n=100):
    """The weights into the first n hidden units as 28x28 images, each scaled to its own range (white: positive)."""
    w = top.weight.detach().cpu()[:n]
    lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
    w = (w - lo) / (hi - lo).clamp_min(1e-12)
    grid = rbm.image_grid(w.view(-1, 1, 28, 28), cols=math.ceil(math.sqrt(len(w))))
    rbm.save_png(grid.repeat_interleave(3, 1).repeat_interleave(3, 2), path)  # 3x larger, pixels kept sharp
