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

How each value reads (format_number, hardware, ...) is in formatting.py, shared with html.py.
"""

import json
import sys
from pathlib import Path

from deepnet.errors import ConfigError

from deepnet.core.results import PROFILES, SCHEMA_VERSION, ResultError, check_targets, validate_result  # noqa: F401 (re-exported)
from deepnet.report.formatting import (format_duration, format_met, format_number, format_seeds, format_target,
                                       hardware, summary_rows)
from deepnet.report.html import render_page

README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"


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
            format_seeds(r["seeds"]),
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
    for r in results:
        validate_result(r)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_page(results, datasets=datasets, problems=problems), encoding="utf-8")
    return out_path
