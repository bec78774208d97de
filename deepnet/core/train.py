"""The training engine: minibatch stochastic gradient descent with train/validation/test discipline.

The review (section "Supervised learning"): show the machine a few examples, compute the
outputs and the errors, compute the average gradient for those examples, and adjust the
weights; repeat over many small sets of examples from the training set until the average
objective stops decreasing. Generalisation is then measured on a separate test set.

This file knows no paper. A model is any nn.Module whose forward(x, y) returns
(output, loss); data are ArrayDatasets (tensors batched by slicing). `fit` keeps its run folder
through the shared lifecycle (core/run.py): config.json, checkpoint.pt (latest, every N steps
and every epoch end), best.pt (best validation score), metrics.jsonl. Validation runs every
epoch (early stopping and best.pt); the test set is evaluated once, at the end, with the best
weights. Threads are the process's (set once, by the entry point).
"""

import dataclasses
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.core.config import check_fields
from deepnet.core.progress import Progress
from deepnet.core.run import Run
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.errors import ConfigError, TrainingDiverged


@dataclass
class TrainConfig:
    """How to train: optimiser, schedule, budget, checkpoints, device."""

    epochs: int = 10  # passes over the training set; range [1, 100000]
    batch_size: int = 64  # examples per minibatch; range [1, 1048576]
    optimizer: Literal["sgd", "adamw"] = "sgd"  # sgd (with momentum/Nesterov) or adamw
    lr: float = 0.1  # peak learning rate; range (0, 100]
    momentum: float = 0.9  # SGD momentum (0 gives plain SGD); range [0, 1)
    nesterov: bool = False  # Nesterov momentum (SGD only)
    weight_decay: float = 0.0  # L2 penalty for SGD, decoupled decay for AdamW; range [0, 10]
    schedule: Literal["constant", "step", "cosine", "onecycle"] = "constant"  # learning-rate schedule
    warmup: float = 0.0  # fraction of all steps spent warming the rate up linearly from 0; range [0, 1)
    step_epochs: int = 10  # step schedule: epochs between rate drops; range [1, 100000]
    step_gamma: float = 0.1  # step schedule: factor applied at each drop; range (0, 1]
    clip_grad: float = 0.0  # clip the global gradient norm to this value (0: no clipping); range [0, inf)
    patience: int = 0  # stop after this many epochs without validation improvement (0: never); range [0, 100000]
    monitor: Literal["loss", "accuracy"] = "loss"  # validation metric for early stopping and best.pt
    eval_batch_size: int = 1024  # minibatch size for validation and test; range [1, 1048576]
    checkpoint_every: int = 0  # also write checkpoint.pt every N steps (0: only at epoch ends); range [0, 1e9]
    log_every: int = 50  # steps between train-loss records in metrics.jsonl; range [1, 1e9]
    device: str = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps
    amp: bool = True  # bf16 autocast on CUDA (no effect elsewhere)
    cpu_amp: bool = False  # bf16 autocast on a CPU too (weights stay fp32): worth it on CPUs with bf16
    #                         instructions (a (32, 64) ConvNet's steps ran 1.9x faster on 1 thread of this
    #                         AVX-512 EPYC; its MNIST time-to-99 run on 2 threads, 1.2x)
    compile: bool = False  # torch.compile the model (opt-in: compilation takes time)
    resident: bool = True  # on an accelerator, keep the whole dataset in its memory when it fits
    seed: int = 0  # seeds initialisation, shuffling and dropout; range [0, 4294967295]
    progress: bool = True  # progress bar on a terminal (a line every 30 s otherwise) and a line per epoch

    def check(self):
        check_fields(self)  # each field's own range, declared beside it
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError("--nesterov needs --optimizer sgd with a positive --momentum")


# ---------------------------------------------------------------------------------------------
# Batching, optimiser, schedule


def batches(data, batch_size, shuffle=False, seed=0, epoch=0, start=0, min_size=1):
    """Yield (x, y) minibatches of an ArrayDataset by slicing: no Python work per example.

    The order of epoch e is a permutation drawn from a generator seeded with (seed, e), so
    it can be recomputed when a run resumes mid-epoch; `start` skips the first batches; a
    last batch smaller than `min_size` is dropped (with N processes, each needs an example).
    """
    n = len(data)
    if n % batch_size and n % batch_size < min_size:
        n -= n % batch_size
    if shuffle:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        # drawn on the CPU (the same order on every device), moved once per epoch to where the data
        # lives, so that indexing device-resident tensors needs no host-to-device copy per step
        order = torch.randperm(n, generator=g).to(data.x.device)
    else:
        order = None
    for i in range(start * batch_size, n, batch_size):
        if order is None:
            yield data.x[i:i + batch_size], data.y[i:i + batch_size]
        else:
            idx = order[i:i + batch_size]
            yield data.x[idx], data.y[idx]


def make_optimizer(params, cfg):
    """SGD: v <- mu v - lr (g + wd w); w <- w + v (Nesterov: look ahead). AdamW: Adam + decoupled decay."""
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(step, total, cfg, steps_per_epoch):
    """Multiplier of the peak rate at `step` (0-based) of `total` steps.

    warm-up (all schedules but step): lr = peak * (step + 1) / W for the first W = warmup * total steps;
    then constant: 1; step: gamma ** floor(epoch / step_epochs);
    cosine: (1 + cos(pi * p)) / 2; onecycle: 1 - p (linear decay to 0), with p the fraction of the
    post-warm-up steps done.
    """
    if cfg.schedule == "step":
        return cfg.step_gamma ** (step // (cfg.step_epochs * steps_per_epoch))
    warm = int(cfg.warmup * total)
    if step < warm:
        return (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * p))
    if cfg.schedule == "onecycle":
        return max(0.0, 1 - p)
    return 1.0


# ---------------------------------------------------------------------------------------------
# Metrics


def accuracy(output, target):
    """Fraction of examples whose largest output is the target class (for (B, C) logits)."""
    if output.ndim != 2 or target.ndim != 1:
        return {}
    return {"accuracy": (output.argmax(1) == target).float().mean()}


@torch.no_grad()
def evaluate(model, data, device, batch_size=1024, metrics=accuracy, amp=True, dist=None, cpu_amp=False):
    """Mean loss and metrics of `model` over a whole dataset (weighted by batch size).

    With several processes (dist), each evaluates every world-th example and the sums are added up.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    if dist is not None and dist.on:
        data = type(data)(data.x[dist.rank::dist.world], data.y[dist.rank::dist.world])
    totals, n = {}, 0
    for x, y in batches(data, batch_size):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device, amp, cpu_amp):
            out, loss = model(x, y)
        vals = {"loss": loss.float(), **(metrics(out.float(), y) if metrics else {})}
        for k, v in vals.items():
            totals[k] = totals.get(k, 0.0) + v.detach().to(torch.float32 if device.type == "mps" else torch.float64) * len(x)
        n += len(x)
    model.train(was_training)
    if dist is not None and dist.on:
        keys = sorted(totals)
        summed = dist.sum(torch.tensor([float(totals[k]) for k in keys] + [n], dtype=torch.float64, device=device))
        totals, n = dict(zip(keys, summed[:-1].tolist())), summed[-1].item()
    return {k: float(v) / max(n, 1) for k, v in totals.items()}


def _resident(data, device, budget=0.5):
    """Move train/val/test tensors to the accelerator once, if they take under `budget` of its free memory.

    Then minibatches are sliced on the device: no host-to-device copy per step.
    """
    parts = [data.train, data.val, data.test]
    nbytes = sum(t.numel() * t.element_size() for p in parts for t in (p.x, p.y))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if nbytes > budget * free:
            return data
    moved = [type(p)(p.x.to(device), p.y.to(device)) for p in parts]
    return dataclasses.replace(data, train=moved[0], val=moved[1], test=moved[2])


def _autocast(device, amp, cpu_amp=False):
    on = (amp and device.type == "cuda") or (cpu_amp and device.type == "cpu")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on)


# ---------------------------------------------------------------------------------------------
# Several processes (torchrun / DistributedDataParallel)


class Dist:
    """The process group this run is part of; a single process is a group of one.

    Under `torchrun` (WORLD_SIZE > 1 in the environment) the group is created here: gloo on
    CPU, nccl on CUDA, one GPU per process (LOCAL_RANK). A group the caller created already
    (e.g. init_method="file://...") is used as it is.
    """

    def __init__(self, device_name):
        import torch.distributed as td

        self.td, self.created = td, False
        if td.is_available() and not td.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
            td.init_process_group("nccl" if cuda else "gloo")
            self.created = True
        self.on = td.is_available() and td.is_initialized()
        self.rank = td.get_rank() if self.on else 0
        self.world = td.get_world_size() if self.on else 1
        self.main = self.rank == 0

    def device(self, name):
        device = pick_device(name)
        if self.on and device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank % torch.cuda.device_count())))
            torch.cuda.set_device(device)
        return device

    def sum(self, t):
        """Sum a tensor over all processes (in place), for losses and metric totals."""
        if self.on:
            self.td.all_reduce(t)
        return t

    def barrier(self):
        if self.on:
            self.td.barrier()

    def close(self):
        if self.created:
            self.td.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# The loop


def fit(model, data, cfg, run_dir, run_config, resume=False, metrics=accuracy, augment=None, test=True):
    """Train `model` on data.train, validate every epoch on data.val, test once on data.test.

    Args:
        model: nn.Module with forward(x, y) -> (output, loss).
        data: a Splits (train/val/test ArrayDatasets).
        cfg: TrainConfig.
        run_dir: folder for config.json, checkpoint.pt, best.pt, metrics.jsonl.
        run_config: plain dict saved as config.json and in checkpoints; it must name the
            "system" and hold all that is needed to rebuild the model (see systems.load_run).
        resume: continue from run_dir/checkpoint.pt (same config; --epochs may grow) instead of starting afresh.
        metrics: (output, target) -> dict of batch-mean tensors, besides the loss.
        augment: optional (x, y) -> (x, y) applied to each training minibatch on the device
            (random deformations of the training examples); never to validation or test data.
        test: evaluate the best weights on the test set at the end. Runs that only choose
            hyperparameters on validation pass False: the test set is read once per final model.

    Under torchrun every process calls fit alike: each computes the gradient on its share of
    every global minibatch of cfg.batch_size examples, DistributedDataParallel averages them,
    and only process 0 writes files and shows progress. All processes resume from the same
    checkpoint.

    Returns a dict: history (one record per epoch), best (validation record of best.pt),
    test (metrics of the best weights on the test set, or None), steps, seconds, device, run_dir.
    """
    cfg.check()
    dist = Dist(cfg.device)
    try:
        return _fit(model, data, cfg, Path(run_dir), run_config, resume, metrics, augment, test, dist)
    finally:
        dist.close()


def _fit(model, data, cfg, run_dir, run_config, resume, metrics, augment, run_test, dist):
    run_config = {**run_config, "train": asdict(cfg)}
    device = dist.device(cfg.device)
    seed_everything(cfg.seed)
    if cfg.batch_size < dist.world:
        raise ConfigError(f"--batch-size {cfg.batch_size} is smaller than the {dist.world} processes sharing it")
    # every process checks the folder and reads the checkpoint; process 0 alone writes
    run = Run(run_dir, run_config, resume=resume, grows=("train.epochs",), main=dist.main)
    dist.barrier()
    with run:
        return _loop(model, data, cfg, run, metrics, augment, run_test, dist, device)


def _loop(model, data, cfg, run, metrics, augment, run_test, dist, device):
    model.to(device)
    if cfg.resident and device.type != "cpu":
        data = _resident(data, device)
    optimizer = make_optimizer(model.parameters(), cfg)
    n_train = len(data.train)
    steps_per_epoch = n_train // cfg.batch_size + (n_train % cfg.batch_size >= dist.world)
    # A schedule is a function of the step and of the planned total: a run resumed with a larger
    # --epochs follows, from where it stopped, the schedule of a run planned that long from the start.
    total_steps = cfg.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, cfg, steps_per_epoch))

    step, epoch, start_batch = 0, 0, 0
    history, best, stale_epochs = [], None, 0
    state = run.state
    if state is not None:
        load_model_state(model, state["model"], str(run.ckpt_path))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch = state["step"], state["epoch"]
        start_batch = state["sampler_state"]["batch"]
        history = state["metrics"].get("history", [])
        best = state["metrics"].get("best")
        stale_epochs = state["metrics"].get("stale_epochs", 0)
        if run.grown:  # the rate of this step under the extended schedule
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * lr_factor(step, total_steps, cfg, steps_per_epoch)
        run.restore_rng()

    train_model = model
    if dist.on:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        train_model = torch.compile(train_model)
    if state is not None:
        run.log({"event": "resume", "step": step, "epoch": epoch,
                 **({"epochs": cfg.epochs} if run.grown else {})})

    def checkpoint(batch_in_epoch, finished=None, carry=None):
        run.checkpoint(model=model, optimizer=optimizer, scheduler=scheduler, step=step, epoch=epoch,
                       sampler_state={"epoch": epoch, "batch": batch_in_epoch, "seed": cfg.seed}, carry=carry,
                       metrics={"history": history, "best": best, "stale_epochs": stale_epochs,
                                "seconds": time.perf_counter() - t_start}, finished=finished)

    def better(rec):
        if best is None:
            return True
        key = "val_" + cfg.monitor
        return rec[key] < best[key] if cfg.monitor == "loss" else rec[key] > best[key]

    t_start = time.perf_counter() - (state["metrics"].get("seconds", 0.0) if state is not None else 0.0)  # before a stop
    stopped_early = state is not None and state.get("finished") == "early_stop"  # (only inside continue_runs)
    while epoch < cfg.epochs and not stopped_early:
        model.train()
        bar = Progress(steps_per_epoch, start_batch, f"epoch {epoch + 1}/{cfg.epochs}", "batch",
                       enabled=cfg.progress and dist.main)
        t_epoch, seen_epoch = time.perf_counter(), 0
        acc_dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        loss_sum = torch.zeros((), device=device, dtype=acc_dtype)  # sum of loss * examples since the last check
        seen, epoch_loss, epoch_n = 0, 0.0, 0
        if start_batch and state is not None and state.get("carry"):  # the epoch's loss so far, before the stop
            epoch_loss, epoch_n = state["carry"]["epoch_loss"], state["carry"]["epoch_n"]
        t_log = time.perf_counter()
        batch_in_epoch = start_batch
        for x, y in batches(data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch, start=start_batch,
                            min_size=dist.world):
            n_global = len(x)
            if dist.on:  # this process's share of the global minibatch
                x, y = x[dist.rank::dist.world], y[dist.rank::dist.world]
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if augment is not None:
                x, y = augment(x, y)
            with _autocast(device, cfg.amp, cfg.cpu_amp):
                _, loss = train_model(x, y)
            # DDP averages gradients over processes; weighting each share by its size makes the
            # result the gradient of the mean loss over the global minibatch, even when shares differ
            scaled = loss * (len(x) * dist.world / n_global) if dist.on else loss
            optimizer.zero_grad(set_to_none=True)
            scaled.backward()
            if cfg.clip_grad > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            optimizer.step()
            scheduler.step()
            step += 1
            batch_in_epoch += 1
            loss_sum += loss.detach().to(acc_dtype) * len(x)
            seen += len(x)
            seen_epoch += n_global
            due_ckpt = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
            if step % cfg.log_every == 0 or due_ckpt or batch_in_epoch == steps_per_epoch:
                # one host sync per log interval, not per step
                loss_total, seen = dist.sum(torch.stack([loss_sum, loss_sum.new_tensor(seen)])).tolist()
                mean = loss_total / max(seen, 1)
                if not math.isfinite(mean):
                    bar.close()
                    run.log({"event": "diverged", "step": step, "epoch": epoch})
                    kept = (f"the last good checkpoint is kept at {run.ckpt_path}" if run.ckpt_path.exists()
                            else "no checkpoint was written")
                    raise TrainingDiverged(
                        f"loss became {mean} by step {step} (epoch {epoch + 1}); {kept}; "
                        "lower --lr or set --clip-grad, then rerun")
                rate = seen / max(time.perf_counter() - t_log, 1e-9)
                lr = optimizer.param_groups[0]["lr"]
                run.log({"event": "train", "step": step, "epoch": epoch, "loss": mean, "lr": lr, "examples_per_s": rate})
                bar.update(0, loss=mean, lr=lr, examples_per_s=rate)
                epoch_loss += loss_total
                epoch_n += seen
                loss_sum.zero_()
                seen, t_log = 0, time.perf_counter()
                if due_ckpt and batch_in_epoch < steps_per_epoch:
                    checkpoint(batch_in_epoch, carry={"epoch_loss": epoch_loss, "epoch_n": epoch_n})
            bar.update(1)
        bar.close()
        epoch_rate = seen_epoch / max(time.perf_counter() - t_epoch, 1e-9)

        val = evaluate(model, data.val, device, cfg.eval_batch_size, metrics, cfg.amp, dist, cfg.cpu_amp)
        rec = {"epoch": epoch + 1, "step": step, "train_loss": epoch_loss / max(epoch_n, 1),
               **{f"val_{k}": v for k, v in val.items()}, "lr": optimizer.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t_start}
        if not math.isfinite(rec["val_loss"]):
            raise TrainingDiverged(f"validation loss is {rec['val_loss']} after epoch {epoch + 1}; "
                                   f"the last good checkpoint is kept at {run.ckpt_path}; lower --lr or set --clip-grad")
        history.append(rec)
        run.log({"event": "epoch", **rec})
        if better(rec):
            best, stale_epochs = rec, 0
            run.save_best(model=model, step=step, epoch=epoch + 1, metrics={"best": best})
        else:
            stale_epochs += 1
        epoch, start_batch = epoch + 1, 0
        stopped_early = cfg.patience > 0 and stale_epochs >= cfg.patience
        checkpoint(0, finished="early_stop" if stopped_early else "budget" if epoch >= cfg.epochs else None)
        dist.barrier()  # best.pt and checkpoint.pt are on disk for every process
        if cfg.progress and dist.main:
            parts = [f"epoch {rec['epoch']}/{cfg.epochs}", f"train_loss {rec['train_loss']:.4f}"]
            parts += [f"{k} {v:.4f}" for k, v in rec.items() if k.startswith("val_")]
            print("  ".join(parts + [f"{epoch_rate:.0f} examples/s", f"{rec['seconds']:.1f} s"]), flush=True)

    test = None
    if run_test:  # the test set is read once, with the weights chosen on validation
        best_state = load_checkpoint(run.best_path, system=run.config.get("system"))
        final_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        load_model_state(model, best_state["model"], str(run.best_path))
        test = evaluate(model, data.test, device, cfg.eval_batch_size, metrics, cfg.amp, dist, cfg.cpu_amp)
        load_model_state(model, final_state)
        run.log({"event": "test", "step": step, "best_epoch": best["epoch"], **{f"test_{k}": v for k, v in test.items()}})
    seconds = time.perf_counter() - t_start
    return {"history": history, "best": best, "test": test, "steps": step, "seconds": seconds,
            "stopped_early": stopped_early, "device": str(device), "run_dir": str(run.dir),
            "world_size": dist.world}
