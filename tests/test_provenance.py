"""Every published number an experiment compares with says where it was read, and is a number.

An experiment's PAPER maps a metric to {"value", "source"}. The source must point at the place the
number was checked (a table, figure, page or section of the paper, or a file of a repository),
or say plainly that it was "not confirmed".
"""

import math
import pkgutil
import re
from importlib import import_module

import pytest

import deepnet.experiments as experiments_pkg

MODULES = sorted(m.name for m in pkgutil.iter_modules(experiments_pkg.__path__) if not m.name.startswith("_"))

# A place in a paper (Table 1, Fig. 9, Figure 3, p. 1149, pp. 2-3, page, section 4.5, §4.5), a
# file (README, *.md, *.conf, *.py), or the explicit admission that it could not be checked.
WHERE = re.compile(
    r"\b(tables?|fig\.|figs\.|figures?|pp?\.\s*\d|pages?|sections?)|§|\breadme\b|\.(md|conf|py)\b|not confirmed",
    re.IGNORECASE,
)


def _paper(name):
    module = import_module(f"deepnet.experiments.{name}")
    assert isinstance(getattr(module, "PAPER", None), dict), f"{name}: PAPER must be a dict"
    return module.PAPER


def test_every_experiment_module_is_checked():
    assert len(MODULES) >= 23, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_paper_values_are_numbers(name):
    for metric, entry in _paper(name).items():
        assert isinstance(entry, dict) and set(entry) >= {"value", "source"}, f"{name}: PAPER[{metric!r}]"
        value = entry["value"]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (
            f"{name}: PAPER[{metric!r}] value {value!r} is not a number")
        assert math.isfinite(value), f"{name}: PAPER[{metric!r}] value {value!r} is not finite"


@pytest.mark.parametrize("name", MODULES)
def test_paper_sources_say_where_the_number_is(name):
    for metric, entry in _paper(name).items():
        source = entry["source"]
        assert isinstance(source, str) and source.strip(), f"{name}: PAPER[{metric!r}] has no source"
        assert WHERE.search(source), (
            f"{name}: PAPER[{metric!r}] source names no table, figure, page, section or file, and does not "
            f"say 'not confirmed': {source!r}")


@pytest.mark.parametrize("source, ok", [
    ("Bengio et al. 2003, Table 1, p. 1149: MLP1", True),
    ("LeCun et al. 1998, Fig. 9", True),
    ("Graves et al. 2014, section 4.5", True),
    ("lium-lst/wmt17-mmt README.md, Results", True),
    ("config/monomodal-en-fr.conf", True),
    ("as recalled: not confirmed", True),
    ("Krizhevsky et al. 2012", False),
    ("nanoGPT, as quoted in an issue", False),
])
def test_the_rule_itself(source, ok):
    assert bool(WHERE.search(source)) is ok


def test_every_claim_the_kept_results_miss_says_what_was_tried_and_what_is_missing():
    """The README promises that a missed claim's page opens with the experiment's MISSES."""
    from pathlib import Path

    from deepnet.report import load_results
    from deepnet.report.formatting import claim_rows

    root = Path(__file__).resolve().parents[1] / "results"
    modules = {name: import_module(f"deepnet.experiments.{name}") for name in MODULES}
    rows = claim_rows(load_results(root), {n: m.HEADLINE for n, m in modules.items()})
    missed = [row["experiment"] for row in rows if row["met"] is False]
    silent = [name for name in missed if not getattr(modules[name], "MISSES", "").strip()]
    assert not silent, f"missed claims with no MISSES text: {silent}"
