"""What the three NTM experiments share: training the NTM and the LSTM alike, their summary, the weightings figure."""

import dataclasses
import statistics
from pathlib import Path

import torch

from deepnet.core.runtime import copy_folder
from deepnet.core.sweep import rate_then_seeds
from deepnet.systems import ntm


def train_models(models, tc, seeds, out_dir, log=print, pilot_steps=0):
    """Train every model of `models` ({name: (ntm.Config, rate grid)}) on the same batches, steps and seeds.

    The first seed chooses each model's rate on validation cost; further seeds reuse it. With
    pilot_steps (below tc.steps), every rate of the grid first trains pilot_steps updates only, and
    a copy of the run of the rate with the lowest validation cost then resumes to tc.steps (the same
    batches an uninterrupted run sees): a grid of long runs at the price of one. Every run keeps its
    folder in out_dir/scratch, which the experiment removes when it has done all else, so that one
    taken up after a stop continues each (core/run.py's continue_runs). The "ntm" model of the first
    seed is copied to out_dir/model (a run folder deepnet.load_run reads).
    Returns (runs, grids): runs {name: [(model with its best weights, summary), ...] one per seed},
    grids {name: [[lr, val_cost_bits], ...]} (diverged rates left out; after pilot_steps when piloted).
    """
    scratch = Path(out_dir) / "scratch"
    runs, grids = {}, {}
    pilot = 0 < pilot_steps < tc.steps
    for name, (mcfg, lrs) in models.items():
        def train(lr, seed, steps=tc.steps, pilot_of=None):
            run_dir = scratch / f"{mcfg.kind}_lr{lr:g}_seed{seed}{'_pilot' if steps < tc.steps else ''}"
            if pilot_of is not None and not run_dir.exists():  # the pilot's run, to be continued, copied whole
                part = run_dir.with_name(run_dir.name + ".copying")
                copy_folder(pilot_of, part)
                part.rename(run_dir)
            _, summary = ntm.train(mcfg, dataclasses.replace(tc, lr=lr, seed=seed, steps=steps), run_dir,
                                   resume=pilot_of is not None)  # validations shown
            return summary["best"]["val_cost_bits"], {**summary, "lr": lr}

        if pilot and len(lrs) > 1:
            chosen = rate_then_seeds(lambda lr, seed: train(lr, seed, pilot_steps), lrs, seeds[:1], log=log,
                                     label=f"{mcfg.kind} ({pilot_steps} pilot steps)")
            log(f"   {mcfg.kind}: lr {chosen.lr:g} chosen after {pilot_steps} steps; its run goes on to {tc.steps}")
            first = chosen.runs[0]["run_dir"]
            sweep = rate_then_seeds(lambda lr, seed: train(lr, seed, pilot_of=first if seed == seeds[0] else None),
                                    [chosen.lr], seeds, log=log, label=mcfg.kind)
            sweep = dataclasses.replace(sweep, grid=chosen.grid)  # the grid as the pilots scored it
        else:
            sweep = rate_then_seeds(train, lrs, seeds, log=log, label=mcfg.kind)
        runs[name] = [(ntm.load_best(s["run_dir"]), s) for s in sweep.runs]
        grids[name] = [[lr, cost] for lr, cost in sweep.grid if cost is not None]
    if "ntm" in runs:
        kept = runs["ntm"][0][1]
        copy_folder(kept["run_dir"], Path(out_dir) / "model")
        kept["run_dir"] = str(Path(out_dir) / "model")
    return runs, grids


def training_summary(kind, runs, grid):
    """Metrics and series every NTM experiment reports for one model kind ("ntm" or "lstm").

    runs: [(model, summary), ...] over the seeds (train_models); grid: [[lr, validation cost], ...].
    """
    first = runs[0][1]
    metrics = {f"{kind}_val_cost_bits": statistics.mean(r["best"]["val_cost_bits"] for _, r in runs),
               f"{kind}_lr": first["lr"],
               f"{kind}_train_seconds": statistics.mean(r["seconds"] for _, r in runs),
               f"{kind}_params": sum(p.numel() for p in runs[0][0].parameters()),
               f"{kind}_train_sequences": first["sequences"]}
    series = {f"{kind}_val_cost_vs_sequences": [[h["sequences"], h["val_cost_bits"]]
                                                 for h in first["history"] if "sequences" in h],
              f"{kind}_val_cost_by_lr": grid}
    return metrics, series


def plot_weightings(model, batch, title, path):
    """The paper's Figure 6: inputs, outputs, and the write and read weightings over time (one sequence)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.no_grad():
        z, _, ws = model(batch.x[:1], batch.y[:1], batch.mask[:1], record=True)  # ws (1, T, H, N)
    out = torch.sigmoid(z[0]) * batch.mask[0, :, None]
    R = model.R
    w_read, w_write = ws[0, :, 0], ws[0, :, R]  # the first read head and the first write head, (T, N)
    used = (torch.maximum(w_read.max(0).values, w_write.max(0).values) > 0.05).nonzero().flatten()
    lo, hi = (int(used.min()), int(used.max()) + 1) if len(used) else (0, model.N)
    lo, hi = max(0, lo - 2), min(model.N, hi + 2)  # the rows the heads visited, with a margin
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), gridspec_kw={"height_ratios": [1, 2]})
    panels = [(batch.x[0].T, "inputs", "channel"), (out.T, "outputs", "bit"),
              (w_write[:, lo:hi].T, "write weighting", "location"), (w_read[:, lo:hi].T, "read weighting", "location")]
    for ax, (img, name, ylab) in zip(axes.flat, panels):
        ax.imshow(img.numpy(), aspect="auto", cmap="gray_r", interpolation="nearest",
                  extent=None if ylab != "location" else (-0.5, img.shape[1] - 0.5, hi - 0.5, lo - 0.5))
        ax.set(title=name, xlabel="time step", ylabel=ylab)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
