"""How numbers, seeds, targets, durations and hardware read in the README table and the HTML
page: shared by both (deepnet/report/__init__.py and html.py import it; it imports neither)."""

import math

from deepnet.core.results import _is_number


def format_number(x):
    """4 significant digits; fractions stay fractions (0.9952, not 99.52%); integers stay whole."""
    if not _is_number(x):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1e4:
        return f"{x:.0f}"  # 12346 rather than 1.235e+04
    return f"{x:.4g}"


def format_ours(metrics, name, n_seeds=None):
    """The measured value, "mean ± std" when <name>_std exists; "—" when not measured.

    With a single seed (n_seeds == 1) there is no spread to show: a "± 0" would read as a
    measured deviation, so the value stands alone (the seeds column says "1 seed").
    """
    if name not in metrics:
        return "—"
    text = format_number(metrics[name])
    if f"{name}_std" in metrics and n_seeds != 1:
        text += f" ± {format_number(metrics[f'{name}_std'])}"
    return text


def format_seeds(seeds):
    """'0, 1, 2' for several seeds; '1 seed (0)' for one, so that a lone '0' is not read as a count."""
    if len(seeds) == 1:
        return f"1 seed ({seeds[0]})"
    return ", ".join(str(s) for s in seeds)


def format_target(target):
    """'>= 0.97' or '< kn_test_ppl'."""
    if target is None:
        return ""
    right = format_number(target["value"]) if "value" in target else target["metric"]
    return f"{target['op']} {right}"


def format_met(met):
    return {True: "✓", False: "✗"}.get(met, "")


def format_duration(seconds):
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def hardware(env):
    """The processor that ran it: the GPU's name on a CUDA device, else the CPU's."""
    if str(env.get("device") or "").startswith("cuda") and env.get("gpu"):
        return env["gpu"]
    name = env.get("cpu") or env.get("device") or "unknown"
    extra = []
    if isinstance(env.get("cpu_count"), int):
        extra.append(f"{env['cpu_count']} cores")
    if isinstance(env.get("load_average"), (int, float)):
        extra.append(f"load {env['load_average']:.1f}")  # other work on the machine slows wall times
    return f"{name} ({', '.join(extra)})" if extra else name


def summary_rows(result):
    """(metric, ours, paper entry or None, target or None, met or None) for what is compared.

    Only metrics that have a target or a paper value; then paper values whose name is no
    metric of ours (their "ours" is "—").
    """
    metrics, paper, targets, met = result["metrics"], result["paper"], result["targets"], result["met"]
    n_seeds = len(result["seeds"])
    rows = []
    for name in metrics:
        if name in targets or name in paper:
            rows.append((name, format_ours(metrics, name, n_seeds), paper.get(name), targets.get(name), met.get(name)))
    for name in paper:
        if name not in metrics:
            rows.append((name, "—", paper[name], None, None))
    return rows
