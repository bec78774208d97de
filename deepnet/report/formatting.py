"""How numbers, seeds, targets, durations and hardware read in the README table and the HTML
page: shared by both (deepnet/report/__init__.py and html.py import it; it imports neither)."""

import math
import re

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
    if f"{name}_std" in metrics and n_seeds != 1:  # a spread needs 2 significant digits, not 4
        std = metrics[f"{name}_std"]
        text += f" ± {std:.2g}" if _is_number(std) and std and math.isfinite(std) else f" ± {format_number(std)}"
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


def format_run_time(r):
    """A result's wall time; where it reused trained units from a cache (the bAbI experiments), also the training
    time of all its units (metrics unit_seconds_sum, units_reused_from_cache), which the run's own time leaves out
    for the reused ones."""
    text = format_duration(r["seconds"])
    m = r.get("metrics", {})
    if m.get("units_reused_from_cache") and "unit_seconds_sum" in m:
        text += (f" (its units' training: {format_duration(m['unit_seconds_sum'])}, "
                 f"{m['units_reused_from_cache']:g} of them reused)")
    return text


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


def short_source(source):
    """'Simard et al. 2003, Table 2' from a longer source string: its first part and its first table,
    figure or page reference (the full string stays on the experiment's page)."""
    parts = source.split(";")[0].split(",")
    n = next((i + 1 for i, p in enumerate(parts) if re.search(r"\b(1[89]|20)\d\d\b", p)), 1)  # up to the year
    first = ",".join(parts[:n]).strip()
    if first.count("(") > first.count(")"):  # cut inside a parenthesis: close it
        first = first.split("(")[0].strip()
    ref = re.search(r"(\b(Table|Tab\.|Figure|Fig\.|p\.|page|section)|§)\s*[0-9IVX][\w.-]*", source)
    text = first if not ref or ref.group(0) in first else f"{first}, {ref.group(0)}"
    return text + (" (not confirmed)" if "not confirmed" in source and "not confirmed" not in text else "")


def claim_rows(results, headlines, papers=None):
    """One row per claim, in the order of `headlines` ({experiment: (claim in a few words, metric)}).

    Each row: experiment, claim, metric, ours {profile: text} for the quick and the largest
    profile run (full, else full-cpu), paper entry (or None), and the target, met, profile,
    hardware and wall times of the largest profile run. An experiment with no result gets a
    row saying so, so that the table lists every claim. `papers` ({experiment: PAPER}), when
    given, holds the published numbers as the experiments now cite them (a result records
    those of its day).
    """
    by = {}
    for r in results:  # results are sorted by profile; a later copy of the same profile wins
        by.setdefault(r["experiment"], {})[r["profile"]] = r
    rows = []
    for name, (claim, metric) in headlines.items():
        runs = by.get(name, {})
        shown = [p for p in ("quick", "full-cpu", "full") if p in runs]
        if "full" in shown and "full-cpu" in shown:
            shown.remove("full-cpu")
        top = runs[shown[-1]] if shown else None
        paper = next((runs[p]["paper"][metric] for p in reversed(shown) if metric in runs[p]["paper"]), None)
        if papers is not None and name in papers:
            paper = papers[name].get(metric)
        rows.append({
            "experiment": name, "claim": claim, "metric": metric,
            "ours": {p: format_ours(runs[p]["metrics"], metric, len(runs[p]["seeds"])) for p in shown},
            "paper": paper,
            "target": top["targets"].get(metric) if top else None,
            "met": top["met"].get(metric) if top else None,
            "profile": shown[-1] if shown else None,
            "hardware": hardware(top["env"]) if top else "",
            "times": {p: format_run_time(runs[p]) for p in shown},
        })
    return rows


# settings that do not change a result: a recorded config may differ from its profile's in these.
# model_run: an experiment reuses a trained run only when it is the model its settings would train
# (systems.load_run_matching checks), so the result is the one a fresh run gives
NEUTRAL_SETTINGS = ("threads", "workers", "device", "compile", "out", "model_run")


def config_drift(result, profile_config):
    """Names of the settings in which `result`'s recorded config differs from its profile's (neutral ones aside)."""
    if profile_config is None:
        return []
    rec = result["config"]
    return sorted(k for k in set(rec) | set(profile_config)
                  if k not in NEUTRAL_SETTINGS and _plain(rec.get(k)) != _plain(profile_config.get(k)))


def reproduce_command(result, profile_config):
    """The plain command that reproduces `result`: `deepnet reproduce NAME --PROFILE`, when the recorded
    config equals the profile's (neutral settings aside); None when it does not (then only the command
    recorded with the run says how it was made)."""
    if profile_config is None or config_drift(result, profile_config):
        return None
    return f"deepnet reproduce {result['experiment']} --{result['profile']}"


def _plain(v):
    return list(v) if isinstance(v, tuple) else v
