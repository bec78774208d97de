"""Turn the result.json files that experiments write into what a reader sees.

Every number in the README table and in the HTML report comes from a result.json that a
command wrote (DESIGN.md, "Results are evidence"); this module reads, checks and formats
those files, and computes nothing of its own except whether each target is met.

    validate_result(d)            the schema, checked; ValueError naming the key otherwise
    check_targets(metrics, targets)   the single place where "met" is computed
    load_results(root)            every valid result.json under a folder
    write_html(results, path)     one self-contained offline page (deepnet/report/html.py)
    markdown_table(results)       the README's results table
    update_readme(path, table)    put that table between the README's markers
"""

import json
import math
import operator
import sys
from pathlib import Path

from deepnet.errors import ConfigError, DeepnetError

SCHEMA_VERSION = 1
PROFILES = ("smoke", "quick", "full")  # also the sort order of profiles
REQUIRED_KEYS = (
    "schema_version", "experiment", "claim", "section", "profile", "metrics", "series", "paper",
    "targets", "met", "seeds", "seconds", "artifacts", "config", "env", "command",
)  # fmt: skip
ENV_KEYS = ("python", "torch", "device", "cpu", "gpu", "git_commit")
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"


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


# --------------------------------------------------------------------------- loading


def load_results(root, problems=None):
    """Every valid result.json under root, each with its folder in "_dir" (a string).

    Layout: <root>/<profile>/<name>/result.json or <root>/<name>/result.json. Sorted by
    experiment, then profile (smoke, quick, full). A file that is not valid JSON or fails
    validation is skipped and reported: appended to `problems` (a list) as "path: why"
    when one is given, else printed as a warning line on stderr.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"no results folder at {root}; run `deepnet reproduce NAME` first")
    results = []
    for path in sorted(root.rglob("result.json")):
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            validate_result(d)
        except json.JSONDecodeError as e:
            _report(problems, f"{path}: not valid JSON ({e})")
        except (OSError, UnicodeDecodeError, ValueError) as e:
            _report(problems, f"{path}: {e}")
        else:
            d["_dir"] = str(path.parent)
            results.append(d)
    results.sort(key=lambda r: (r["experiment"], PROFILES.index(r["profile"]), r["_dir"]))
    return results


def _report(problems, message):
    if problems is None:
        print(f"deepnet: warning: skipped {message}", file=sys.stderr)
    else:
        problems.append(message)


# ------------------------------------------------------------------------ formatting


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


def format_ours(metrics, name):
    """The measured value, "mean ± std" when <name>_std exists; "—" when not measured."""
    if name not in metrics:
        return "—"
    text = format_number(metrics[name])
    if f"{name}_std" in metrics:
        text += f" ± {format_number(metrics[f'{name}_std'])}"
    return text


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
    rows = []
    for name in metrics:
        if name in targets or name in paper:
            rows.append((name, format_ours(metrics, name), paper.get(name), targets.get(name), met.get(name)))
    for name in paper:
        if name not in metrics:
            rows.append((name, "—", paper[name], None, None))
    return rows


# -------------------------------------------------------------------------- markdown

MARKDOWN_COLUMNS = (
    "experiment", "profile", "metric", "ours", "paper", "target", "met",
    "command", "hardware", "torch", "seeds", "wall time",
)  # fmt: skip


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(results):
    """The README's results table (GitHub markdown), one row per compared metric.

    The run's columns (command, hardware, torch, seeds, wall time) are filled on each
    result's first row only, so the table stays readable.
    """
    if not results:
        return "_No results yet: run `deepnet reproduce NAME --quick`._"
    for r in results:
        validate_result(r)
    lines = ["| " + " | ".join(MARKDOWN_COLUMNS) + " |", "|" + "---|" * len(MARKDOWN_COLUMNS)]
    for r in results:
        run = [
            f"`{r['command']}`",
            hardware(r["env"]),
            r["env"].get("torch") or "",
            ", ".join(str(s) for s in r["seeds"]),
            format_duration(r["seconds"]),
        ]
        rows = summary_rows(r) or [("—", "", None, None, None)]  # a result without comparisons still shows
        for i, (metric, ours, paper, target, met) in enumerate(rows):
            paper_text = f"{format_number(paper['value'])} ({paper['source']})" if paper else ""
            cells = [r["experiment"], r["profile"], metric, ours, paper_text, format_target(target), format_met(met)]
            cells += run if i == 0 else [""] * len(run)
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines)


def update_readme(readme_path, table):
    """Replace the text between the README's results markers by `table`; keep the markers.

    Raises ValueError when the markers are missing, repeated or out of order. Returns
    whether the file changed (it is only written when it did).
    """
    path = Path(readme_path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.strip() == README_BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == README_END]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise ValueError(f"{path}: needs one line {README_BEGIN} followed by one line {README_END}")
    begin, end = begins[0], ends[0]
    newline = "\r\n" if lines[begin].endswith("\r\n") else "\n"
    body = newline + newline.join(table.strip("\n").splitlines()) + newline + newline
    new_text = "".join(lines[: begin + 1]) + body + "".join(lines[end:])
    if new_text == text:
        return False
    path.write_text(new_text, encoding="utf-8", newline="")
    return True


# ------------------------------------------------------------------------------ html


def write_html(results, out_path, datasets=None, problems=None):
    """Write one self-contained offline HTML page of the results; return its path.

    No external CSS, JS or fonts; PNG figures are embedded as base64 data URIs (a missing
    figure gets a note). `datasets`: dicts with name, description, licence, source, shown
    as a table. `problems`: lines from load_results about files that were skipped.
    """
    from deepnet.report.html import render_page  # html.py uses the formatting above

    for r in results:
        validate_result(r)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_page(results, datasets=datasets, problems=problems), encoding="utf-8")
    return out_path
