"""The result.json contract (DESIGN "Experiment output"): what a valid result is, and how `met` is decided.

Experiments write results and the report reads them; both check them here, below either.
"""

import math
import operator
import statistics
from pathlib import Path

from deepnet.errors import DeepnetError

SCHEMA_VERSION = 1
PROFILES = ("smoke", "quick", "full-cpu", "full")  # also the sort order of profiles (full-cpu: the largest CPU run)
REQUIRED_KEYS = (
    "schema_version", "experiment", "claim", "section", "profile", "metrics", "series", "paper",
    "targets", "met", "seeds", "seconds", "artifacts", "config", "env", "command",
)  # fmt: skip
ENV_KEYS = ("python", "torch", "device", "cpu", "gpu", "git_commit")
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class ResultError(DeepnetError, ValueError):
    """A result.json that does not follow the schema; the message names the key."""


# ---------------------------------------------------------------------------- schema


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)  # JSON true is not a number


def _is_finite(x):
    return _is_number(x) and math.isfinite(x)


def _short(x):
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _need(ok, message):
    if not ok:
        raise ResultError(message)


def check_targets(metrics, targets):
    """Whether each target is met: {metric: bool}.

    A target is {"op": ">=", "value": 0.97} (compare with a number) or {"op": "<", "metric":
    "kn_test_ppl"} (compare with another metric of the same result); ops are >=, >, <=, <.
    Raises ValueError naming the target when it is malformed or names a missing metric.
    """
    met = {}
    for name, target in targets.items():
        key = f"targets[{name!r}]"
        _need(isinstance(target, dict), f"{key}: expected an object like {{'op': '>=', 'value': 0.9}}")
        _need(target.get("op") in OPS, f"{key}: op {_short(target.get('op'))} is not one of {', '.join(OPS)}")
        _need(("value" in target) != ("metric" in target), f"{key}: give exactly one of 'value' or 'metric'")
        _need(name in metrics, f"{key}: metric {name!r} is not in metrics")
        if "value" in target:
            right = target["value"]
            _need(_is_finite(right), f"{key}: value {_short(right)} is not a finite number")
        else:
            other = target["metric"]
            _need(other in metrics, f"{key}: compares with metric {_short(other)}, which is not in metrics")
            right = metrics[other]
        met[name] = bool(OPS[target["op"]](metrics[name], right))
    return met


def validate_result(d):
    """Check one result.json (as a dict) against the schema in DESIGN.md, "Contracts".

    Returns None; raises ResultError (a ValueError) with a one-line message naming the key.
    Keys beyond the schema are allowed (load_results adds "_dir").
    """
    _need(isinstance(d, dict), f"result: expected a JSON object, got {type(d).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in d]
    _need(not missing, f"missing required key{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")

    v = d["schema_version"]
    _need(v == SCHEMA_VERSION and _is_number(v), f"schema_version: expected {SCHEMA_VERSION}, got {_short(v)}")
    for key in ("experiment", "claim", "section", "command"):
        _need(isinstance(d[key], str) and d[key].strip(), f"{key}: expected a non-empty string")
    _need(d["profile"] in PROFILES, f"profile: {_short(d['profile'])} is not one of {', '.join(PROFILES)}")
    for key in ("metrics", "series", "paper", "targets", "met", "config", "env"):
        _need(isinstance(d[key], dict), f"{key}: expected an object, got {type(d[key]).__name__}")

    for name, value in d["metrics"].items():
        _need(_is_finite(value), f"metrics[{name!r}]: expected a finite number, got {_short(value)}")

    for name, rows in d["series"].items():
        key = f"series[{name!r}]"
        _need(isinstance(rows, list), f"{key}: expected a list of [x, y] pairs")
        for i, row in enumerate(rows):
            ok = isinstance(row, list) and row and all(_is_finite(x) for x in row)
            _need(ok, f"{key}[{i}]: expected a list of finite numbers, got {_short(row)}")

    for name, entry in d["paper"].items():
        key = f"paper[{name!r}]"
        _need(isinstance(entry, dict), f"{key}: expected {{'value': number, 'source': citation}}")
        _need(_is_finite(entry.get("value")), f"{key}: value {_short(entry.get('value'))} is not a finite number")
        source = entry.get("source")
        _need(isinstance(source, str) and source.strip(), f"{key}: source must be a non-empty citation")

    computed = check_targets(d["metrics"], d["targets"])
    met = d["met"]
    if set(met) != set(computed):
        raise ResultError(f"met: keys {sorted(met)} must equal targets' keys {sorted(computed)}")
    for name, value in met.items():
        _need(isinstance(value, bool), f"met[{name!r}]: expected true or false, got {_short(value)}")
        _need(value == computed[name], f"met[{name!r}]: says {value} but metrics and targets give {computed[name]}")

    seeds = d["seeds"]
    ok = isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    _need(ok, f"seeds: expected a non-empty list of integers, got {_short(seeds)}")
    seconds = d["seconds"]
    _need(_is_finite(seconds) and seconds >= 0, f"seconds: expected a number >= 0, got {_short(seconds)}")

    artifacts = d["artifacts"]
    _need(isinstance(artifacts, list), "artifacts: expected a list of file names")
    for name in artifacts:
        # Relative to the result's folder, and inside it: the report embeds these files.
        ok = isinstance(name, str) and name and not Path(name).is_absolute() and ".." not in Path(name).parts
        _need(ok, f"artifacts: {_short(name)} is not a file name relative to the result's folder")

    env = d["env"]
    absent = [k for k in ENV_KEYS if k not in env]
    _need(not absent, f"env: missing {', '.join(absent)}")
    for k in ENV_KEYS:
        _need(env[k] is None or isinstance(env[k], str), f"env[{k!r}]: expected a string or null")


# ----------------------------------------------------------------------------- seeds


def mean_std(values):
    """(mean, sample standard deviation) of one metric over seeds; the deviation is 0.0 for a single value.

    DESIGN: with several seeds a metric is the mean, with <name>_std beside it.
    """
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


# --------------------------------------------------------------------------- loading
