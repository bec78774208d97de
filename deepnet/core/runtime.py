"""Seeding, device choice, threads, and the environment record every result carries."""

import os
import platform
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from deepnet.errors import ConfigError


def make_folder(path, what="--out"):
    """mkdir -p `path`, or a one-line ConfigError saying why it cannot be made (a file there, no permission)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file, not a folder; choose another {what}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot create this folder ({e.strerror or e}); choose another {what}") from None
    return path


def copy_folder(src, dest, ignore=None):
    """Copy the folder src (a run folder an experiment keeps) to dest, replacing whatever dest holds: an
    experiment taken up after a stop may have copied it already. ignore: as shutil.copytree's."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest, ignore=ignore)


def seed_everything(seed):
    """Seed Python, NumPy and torch (all devices) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name="auto"):
    """'auto' picks cuda, then mps, then cpu; an explicit device that is absent is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"--device {name}: not a device name (use auto, cpu, cuda, cuda:N or mps)") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {name}: MPS is not available here; use --device cpu or auto")
    return device


def usable_cores():
    """The cores this process may run on (its CPU affinity; a container or taskset may allow fewer)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def set_threads(n=None):
    """Use n CPU threads for torch ops (None: every usable core). Called once per process, by the entry point."""
    torch.set_num_threads(n or usable_cores())


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit():
    """HEAD of the deepnet checkout (with '-dirty' if it has uncommitted changes), or None."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device=None):
    """What a result was measured on: python, torch, device, CPU model, GPU name, git commit."""
    device = torch.device(device) if device is not None else pick_device("auto")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(device),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "platform": platform.platform(),
        "git_commit": git_commit(),
        # other work on the machine slows wall times: the 1-minute load average when the result was written
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
