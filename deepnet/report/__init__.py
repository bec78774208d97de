"""Turn the result.json files that experiments write into what a reader sees.

Every number in the README table and in the HTML report comes from a result.json that a
command wrote (DESIGN.md, "Results are evidence"); this module reads, checks and formats
those files, and computes nothing of its own except whether each target is met.

    validate_result(d)            the schema, checked; ValueError naming the key otherwise
    check_targets(metrics, targets)   the single place where "met" is computed
    load_results(root)            every valid result.json under a folder
    write_html(results, path)     one self-contained offline page (deepnet/report/html.py)
    claims_table(results, heads)  the README's results table, one row per claim
    experiment_page(...)          everything else of one experiment, as a markdown page
    update_readme(path, table)    put that table between the README's markers

How each value reads (format_number, hardware, ...) is in formatting.py, shared with html.py.
"""

import json
import sys
import textwrap
from pathlib import Path

from deepnet.errors import ConfigError

from deepnet.core.results import PROFILES, SCHEMA_VERSION, ResultError, check_targets, validate_result  # noqa: F401 (re-exported)
from deepnet.report.formatting import (claim_rows, format_met, format_number, format_ours, format_run_time,
                                       format_seeds, format_target, hardware, short_source, config_drift,
                                       reproduce_command)
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

def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


CLAIM_COLUMNS = ("claim", "experiment", "metric", "ours: quick", "ours: full", "paper", "target", "met", "wall time",
                 "hardware")


def claims_table(results, headlines, pages="results", papers=None):
    """The README's results table: one row per claim (`headlines`: {experiment: (claim, metric)}).

    Ours at the quick profile and at the largest one run (full, or full-cpu, named when so);
    the paper's number with a short citation; target and met of the largest run. The
    experiment links to its generated page (<pages>/<NAME>.md) holding everything else.
    """
    for r in results:
        validate_result(r)
    lines = ["| " + " | ".join(CLAIM_COLUMNS) + " |", "|" + "---|" * len(CLAIM_COLUMNS)]
    for row in claim_rows(results, headlines, papers):
        ours = row["ours"]
        big = next((p for p in ("full", "full-cpu") if p in ours), None)
        paper = row["paper"]
        cells = [
            row["claim"], f"[{row['experiment']}]({pages}/{row['experiment']}.md)", f"`{row['metric']}`",
            ours.get("quick", "—"), (ours[big] + (" (full-cpu)" if big == "full-cpu" else "")) if big else "—",
            f"{format_number(paper['value'])} ({short_source(paper['source'])})" if paper else "—",
            format_target(row["target"]) + (f" ({row['profile']})" if row["target"] else ""),
            format_met(row["met"]),
            ", ".join(f"{p} {t}" for p, t in row["times"].items()) or "not run yet",
            row["hardware"],
        ]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines)


def experiment_page(name, claim, results, profiles=None, paper=None, misses=""):
    """Markdown page of one experiment: every profile's metrics, the paper's numbers with their full
    sources, targets, figures, command, hardware and wall time. `results`: that experiment's results
    (from results/<profile>/<name>/); figure links are relative to the results folder. `paper`: the
    experiment's PAPER as it now stands (corrected citations win over those a result recorded).
    `misses`: the experiment's MISSES, where its runs fall short of the paper or a target: what was
    tried and what is believed missing (markdown), shown before the runs."""
    out = [f"# {name}", "", f"**{claim}**", ""]
    if not results:
        out += [f"_Not run yet: `deepnet reproduce {name} --quick --keep`._", ""]
    for r in results:
        validate_result(r)
        out += [f"> {r['claim']}", "", f"Review section: {r['section']}.", ""] if r is results[0] else []
        if r is results[0] and misses.strip():
            out += ["## Where it falls short", "", textwrap.dedent(misses).strip(), ""]
        out += [f"## {r['profile']} profile", ""]
        plain = reproduce_command(r, (profiles or {}).get(r["profile"]))
        if plain and plain != r["command"]:
            # the recorded command named other experiments too, or settings that do not change the result
            out += [f"Reproduce: `{plain}` (recorded: `{r['command']}`)", ""]
        else:
            out += [f"`{r['command']}`", ""]
        drift = config_drift(r, (profiles or {}).get(r["profile"]))
        if drift:
            out += [f"**Note:** this run's settings differ from the {r['profile']} profile's in: "
                    f"{', '.join(drift)} (see its config in result.json).", ""]
        env = r["env"]
        parts = f" (the sum of {r['attempts']} attempts: taken up after a stop)" if r.get("attempts", 1) > 1 else ""
        out += [f"{format_run_time(r)}{parts} on {hardware(env)}, torch {env.get('torch')}, "
                f"{env.get('torch_threads', '?')} thread(s), seeds {format_seeds(r['seeds'])}, "
                f"git {str(env.get('git_commit') or 'unknown')[:10]}.", ""]
        out += ["| metric | ours | paper | source | target | met |", "|---|---|---|---|---|---|"]
        n = len(r["seeds"])
        names = [m for m in r["metrics"] if not (m.endswith("_std") and m[:-4] in r["metrics"])]
        cited = r["paper"] if paper is None else paper
        names += [m for m in cited if m not in r["metrics"]]
        for m in names:
            entry = cited.get(m)
            cells = [f"`{m}`", format_ours(r["metrics"], m, n), format_number(entry["value"]) if entry else "",
                     entry["source"] if entry else "", format_target(r["targets"].get(m)), format_met(r["met"].get(m))]
            out.append("| " + " | ".join(_md(c) for c in cells) + " |")
        out.append("")
        for a in r["artifacts"]:
            if a.lower().endswith((".png", ".jpg", ".svg")):
                out += [f"![{a}]({r['profile']}/{name}/{a})", ""]
    return "\n".join(out) + "\n"


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


def write_html(results, out_path, datasets=None, problems=None, headlines=None, skipped=None, profiles=None):
    """Write one self-contained offline HTML page of the results; return its path.

    No external CSS, JS or fonts; PNG figures are embedded as base64 data URIs (a missing
    figure gets a note). `datasets`: dicts with name, description, licence, source, shown
    as a table. `problems`: lines from load_results about files that were skipped.
    """
    for r in results:
        validate_result(r)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_page(results, datasets=datasets, problems=problems, headlines=headlines,
                                          skipped=skipped, profiles=profiles), encoding="utf-8")
    return out_path
