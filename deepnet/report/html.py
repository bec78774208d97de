"""The HTML report: one self-contained page, readable offline (no external CSS, JS or fonts).

Every piece of text from a result.json passes through html.escape; figures are embedded
as base64 data URIs so the page can be mailed or archived on its own.
"""

import base64
import json
from html import escape
from pathlib import Path

from deepnet.report.formatting import (claim_rows, format_met, format_number, format_ours, format_run_time,
                                       format_seeds, format_target, hardware, short_source, config_drift,
                                       reproduce_command)

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; width: 100%; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr.first td { border-top: 2px solid #bbb; }
td.num { font-variant-numeric: tabular-nums; }
td { overflow-wrap: anywhere; }
.yes { color: #1a7f37; font-weight: bold; }
.no { color: #c62828; font-weight: bold; }
.muted, .source { color: #666; font-size: 0.9em; }
.note { color: #a15c00; }
blockquote { margin: 0.6em 0; padding: 0.4em 1em; border-left: 4px solid #ccc; background: #fafafa; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1em; }
dt { color: #555; }
dd { margin: 0; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.85em; }
"""


def render_page(results, datasets=None, problems=None, headlines=None, skipped=None, profiles=None):
    """The whole page as a string.

    headlines: {experiment: (claim in a few words, metric)} for the summary (default: each result's
    claim and first compared metric). skipped: {experiment: the command that fetches its data},
    listed so that what the demo could not run is not silently absent. profiles: {experiment:
    {profile: its settings}}, to flag a result whose recorded settings differ from its profile's.
    """
    if headlines is None:
        headlines = {}
        for r in results:
            shown = [m for m in list(r["targets"]) + list(r["paper"]) + list(r["metrics"]) if m in r["metrics"]]
            headlines.setdefault(r["experiment"], (r["claim"], shown[0] if shown else ""))
    n_targets = sum(len(r["met"]) for r in results)
    n_met = sum(sum(r["met"].values()) for r in results)
    parts = [
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n",
        f"<title>deepnet results</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        "<h1>deepnet: results</h1>\n",
        "<p class='muted'>Measured reproductions of the review “Deep learning” (LeCun, Bengio &amp; Hinton, "
        f"Nature 521, 2015). {len(results)} result(s); {n_met} of {n_targets} targets met. "
        "Every number below was read from a result.json written by the command shown with it.</p>\n",
    ]
    if problems:
        parts.append("<h2>Results that could not be read</h2>\n<ul>\n")
        parts += [f"<li class='note'>{escape(p)}</li>\n" for p in problems]
        parts.append("</ul>\n")
    parts.append(_summary_table(results, headlines))
    if skipped:
        parts.append("<h2>Not run here</h2>\n<p>These experiments need data this machine does not have:</p>\n<ul>\n")
        parts += [f"<li>{escape(n)}: <code>{escape(cmd)}</code></li>\n" for n, cmd in skipped.items()]
        parts.append("</ul>\n")
    parts += [_result_section(r, (profiles or {}).get(r["experiment"], {}).get(r["profile"])) for r in results]
    if datasets:
        parts.append(_datasets_table(datasets))
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def _anchor(result):
    return escape(f"{result['experiment']}-{result['profile']}")


def _met_cell(met):
    if met is None:
        return "<td></td>"
    return f"<td class='{'yes' if met else 'no'}'>{format_met(met)}</td>"


def _paper_cell(paper, short=False):
    """The published number and its source (short: author, year and table; the section has it whole)."""
    if not paper:
        return "<td></td>"
    source = short_source(paper["source"]) if short else paper["source"]
    return (
        f"<td><span class='num'>{escape(format_number(paper['value']))}</span><br>"
        f"<span class='source'>{escape(source)}</span></td>"
    )


def _summary_table(results, headlines):
    """One row per claim: ours at quick and at the largest profile run, the paper's number, target, met."""
    if not results:
        return "<p>No results yet: run <code>deepnet reproduce NAME --quick</code>.</p>\n"
    out = [
        "<h2>Summary: one row per claim</h2>\n<table>\n<tr><th>claim</th><th>metric</th><th>ours: quick</th>"
        "<th>ours: full</th><th>paper</th><th>target</th><th>met</th><th>wall time</th></tr>\n"
    ]
    present = {(r["experiment"], r["profile"]) for r in results}
    for row in claim_rows(results, headlines):
        ours, name = row["ours"], row["experiment"]
        big = next((p for p in ("full", "full-cpu") if p in ours), None)
        link = next((p for p in ("full", "full-cpu", "quick", "smoke") if (name, p) in present), None)
        title = f"<a href='#{escape(name + '-' + link)}'>{escape(name)}</a>" if link else escape(name)
        target = format_target(row["target"]) + (f" ({row['profile']})" if row["target"] else "")
        out.append(
            f"<tr><td>{escape(row['claim'])}<br><span class='muted'>{title}</span></td>"
            f"<td><code>{escape(row['metric'])}</code></td><td class='num'>{escape(ours.get('quick', '—'))}</td>"
            f"<td class='num'>{escape(ours[big] if big else '—')}{' (full-cpu)' if big == 'full-cpu' else ''}</td>"
            f"{_paper_cell(row['paper'], short=True)}<td class='num'>{escape(target)}</td>{_met_cell(row['met'])}"
            f"<td class='muted'>{escape(', '.join(f'{p} {t}' for p, t in row['times'].items()) or 'not run')}</td></tr>\n"
        )
    out.append("</table>\n")
    return "".join(out)


def _result_section(r, profile_config=None):
    env = r["env"]
    out = [
        f"<h2 id='{_anchor(r)}'>{escape(r['experiment'])} <span class='muted'>({escape(r['profile'])})</span></h2>\n",
        f"<blockquote>{escape(r['claim'])}</blockquote>\n",
        f"<p class='muted'>Review section: {escape(r['section'])}</p>\n",
    ]
    drift = config_drift(r, profile_config)
    plain = reproduce_command(r, profile_config)
    if drift:
        out.append(f"<p class='note'>This run's settings differ from the {escape(r['profile'])} profile's in: "
                   f"{escape(', '.join(drift))}; its command and config below say how.</p>\n")
    # All metrics, not only the compared ones: the _std entries are folded into "mean ± std"
    # (and left out with a single seed, where they hold no spread).
    n_seeds = len(r["seeds"])
    names = [m for m in r["metrics"] if not (m.endswith("_std") and m[: -len("_std")] in r["metrics"])]
    names += [p for p in r["paper"] if p not in r["metrics"]]  # the paper's numbers we have no metric for
    out.append("<table>\n<tr><th>metric</th><th>ours</th><th>paper</th><th>target</th><th>met</th></tr>\n")
    for name in names:
        out.append(
            f"<tr><td><code>{escape(name)}</code></td><td class='num'>{escape(format_ours(r['metrics'], name, n_seeds))}</td>"
            f"{_paper_cell(r['paper'].get(name))}<td class='num'>{escape(format_target(r['targets'].get(name)))}</td>"
            f"{_met_cell(r['met'].get(name))}</tr>\n"
        )
    out.append("</table>\n")

    folder = Path(r.get("_dir", "."))
    others = []
    for name in r["artifacts"]:
        kind = IMAGE_TYPES.get(Path(name).suffix.lower())
        if kind is None:
            others.append(name)
        else:
            out.append(_figure(folder / name, name, kind))
    if others:
        out.append(f"<p>Other artifacts: {', '.join(f'<code>{escape(a)}</code>' for a in others)}</p>\n")

    facts = [
        ("command", f"<code>{escape(r['command'])}</code>"),
        *([("reproduce with", f"<code>{escape(plain)}</code>")] if plain and plain != r["command"] else []),
        ("seeds", escape(format_seeds(r["seeds"]))),
        ("wall time", escape(format_run_time(r) + (f" ({r['seconds']:.0f} s)" if r["seconds"] >= 60 else ""))),
        ("device", escape(str(env.get("device")))),
        ("cpu", escape(hardware({**env, "device": "cpu"}))),
        ("gpu", escape(str(env.get("gpu") or "none"))),
        ("torch", escape(str(env.get("torch")))),
        ("python", escape(str(env.get("python")))),
        ("git commit", f"<code>{escape(str(env.get('git_commit') or 'unknown'))}</code>"),
    ]
    out.append("<dl>\n" + "".join(f"<dt>{k}</dt><dd>{v}</dd>\n" for k, v in facts) + "</dl>\n")
    config = json.dumps(r["config"], indent=2, sort_keys=True)
    out.append(f"<details><summary>config</summary><pre>{escape(config)}</pre></details>\n")
    return "".join(out)


def _figure(path, name, kind):
    """An <img> with the file inline, or a note when the file is missing."""
    if not path.is_file():
        return f"<p class='note'>Figure <code>{escape(name)}</code> is missing (looked for {escape(str(path))}).</p>\n"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><img src='data:{kind};base64,{data}' alt='{escape(name)}'>"
        f"<figcaption>{escape(name)}</figcaption></figure>\n"
    )


def _datasets_table(datasets):
    out = [
        "<h2 id='datasets'>Datasets</h2>\n<table>\n"
        "<tr><th>name</th><th>description</th><th>licence</th><th>source</th></tr>\n"
    ]
    for d in datasets:
        source = str(d.get("source") or "")
        url, _, rest = source.partition(" ")  # "http://... (what is there)": the address alone is the link
        if url.startswith(("http://", "https://")):  # a link only for web addresses, never javascript:
            source_html = f"<a href='{escape(url)}'>{escape(url)}</a>" + (f" {escape(rest)}" if rest else "")
        else:
            source_html = escape(source)
        licence = d.get("licence", d.get("license", ""))
        out.append(
            f"<tr><td>{escape(str(d.get('name', '')))}</td><td>{escape(str(d.get('description', '')))}</td>"
            f"<td>{escape(str(licence))}</td><td>{source_html}</td></tr>\n"
        )
    out.append("</table>\n")
    return "".join(out)
