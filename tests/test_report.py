"""deepnet.report: the result.json schema, target checks, loading, HTML page, README table."""

import base64
import copy
import json

import pytest
from pathlib import Path
from matplotlib.figure import Figure

from deepnet.report import (
    README_BEGIN,
    README_END,
    check_targets,
    format_number,
    load_results,
    CLAIM_COLUMNS,
    claims_table,
    experiment_page,
    update_readme,
    validate_result,
    write_html,
)


def make_result(**changes):
    """A valid result.json as a dict; keyword arguments replace top-level keys."""
    result = {
        "schema_version": 1,
        "experiment": "convnet_digits",
        "claim": "ConvNets <beat> fully connected nets & pooling helps",
        "section": "Convolutional neural networks",
        "profile": "quick",
        "metrics": {
            "test_accuracy": 0.9812345,
            "test_accuracy_std": 0.0004,
            "mlp_test_accuracy": 0.95,
            "train_seconds": 12345.6,
        },
        "series": {"test_accuracy_vs_epoch": [[1, 0.9], [2, 0.95]]},
        "paper": {
            "test_accuracy": {"value": 0.996, "source": "Simard et al. 2003, Table 2"},
            "test_error": {"value": 0.004, "source": "LeCun et al. 1998"},
        },
        "targets": {
            "test_accuracy": {"op": ">=", "value": 0.97},
            "mlp_test_accuracy": {"op": ">", "metric": "test_accuracy"},
        },
        "met": {"test_accuracy": True, "mlp_test_accuracy": False},
        "seeds": [0, 1, 2],
        "seconds": 75.25,
        "artifacts": ["fig.png", "model/"],
        "config": {"epochs": 2, "lr": 0.1},
        "env": {
            "python": "3.11.7",
            "torch": "2.13.0+cpu",
            "device": "cpu",
            "cpu": "Intel Xeon Test CPU",
            "gpu": None,
            "git_commit": "abc1234",
        },
        "command": "deepnet reproduce convnet_digits --quick --seed 0",
    }
    result.update(changes)
    return result


def write_png(path):
    fig = Figure(figsize=(2, 2), dpi=40)
    fig.add_subplot().plot([0, 1], [0, 1])
    fig.savefig(path, format="png")


def write_result(folder, result):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(result))
    return folder


# ------------------------------------------------------------------------ validation


def test_valid_result_passes():
    assert validate_result(make_result()) is None


def test_extra_keys_are_allowed():
    validate_result(make_result(_dir="/somewhere", note="extra"))


def with_change(edit):
    result = make_result()
    edit(result)
    return result


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda r: r.pop("metrics"), "metrics"),
        (lambda r: r.pop("command"), "command"),
        (lambda r: r["metrics"].update(test_accuracy=float("nan")), "metrics['test_accuracy']"),
        (lambda r: r["metrics"].update(test_accuracy=float("inf")), "metrics['test_accuracy']"),
        (lambda r: r["metrics"].update(flag=True), "metrics['flag']"),
        (lambda r: r["metrics"].update(name="ten"), "metrics['name']"),
        (lambda r: r["targets"].update(bleu={"op": ">=", "value": 20}), "targets['bleu']"),
        (lambda r: r["targets"]["mlp_test_accuracy"].update(metric="missing"), "targets['mlp_test_accuracy']"),
        (lambda r: r["targets"]["test_accuracy"].update(op="=="), "targets['test_accuracy']"),
        (lambda r: r["met"].update(test_accuracy=False), "met['test_accuracy']"),
        (lambda r: r["met"].pop("mlp_test_accuracy"), "met"),
        (lambda r: r["met"].update(test_accuracy=1), "met['test_accuracy']"),
        (lambda r: r.update(profile="fast"), "profile"),
        (lambda r: r.update(schema_version=2), "schema_version"),
        (lambda r: r.update(seconds=-1.0), "seconds"),
        (lambda r: r.update(seeds=[]), "seeds"),
        (lambda r: r["series"].update(curve=[1, 2, 3]), "series['curve']"),
        (lambda r: r["series"].update(curve=[[1, "a"]]), "series['curve']"),
        (lambda r: r["paper"].update(bleu={"value": 20}), "paper['bleu']"),
        (lambda r: r.update(artifacts=["../elsewhere.png"]), "artifacts"),
        (lambda r: r["env"].pop("git_commit"), "env"),
    ],
)
def test_each_defect_fails_naming_the_key(edit, key):
    with pytest.raises(ValueError) as info:
        validate_result(with_change(edit))
    message = str(info.value)
    assert key in message
    assert "\n" not in message


def test_missing_keys_are_all_named():
    result = make_result()
    del result["series"], result["env"]
    with pytest.raises(ValueError, match="series, env"):
        validate_result(result)


def test_not_an_object_fails():
    with pytest.raises(ValueError, match="JSON object"):
        validate_result([1, 2])


# ---------------------------------------------------------------------- check_targets


@pytest.mark.parametrize(
    "op, value, expected",
    [
        (">=", 0.5, True), (">=", 0.6, False),
        (">", 0.4, True), (">", 0.5, False),
        ("<=", 0.5, True), ("<=", 0.4, False),
        ("<", 0.6, True), ("<", 0.5, False),
    ],
)  # fmt: skip
def test_check_targets_against_a_value(op, value, expected):
    assert check_targets({"acc": 0.5}, {"acc": {"op": op, "value": value}}) == {"acc": expected}


@pytest.mark.parametrize("op, expected", [(">=", False), (">", False), ("<=", True), ("<", True)])
def test_check_targets_against_another_metric(op, expected):
    metrics = {"nplm_test_ppl": 140.0, "kn_test_ppl": 150.0}
    targets = {"nplm_test_ppl": {"op": op, "metric": "kn_test_ppl"}}
    assert check_targets(metrics, targets) == {"nplm_test_ppl": expected}


def test_check_targets_equal_metrics_and_several_targets():
    metrics = {"a": 1.0, "b": 1.0, "c": 3}
    targets = {"a": {"op": ">=", "metric": "b"}, "b": {"op": ">", "metric": "a"}, "c": {"op": "<=", "value": 3}}
    assert check_targets(metrics, targets) == {"a": True, "b": False, "c": True}


def test_check_targets_rejects_missing_metrics_and_bad_targets():
    with pytest.raises(ValueError, match="'acc'"):
        check_targets({}, {"acc": {"op": ">=", "value": 0.5}})
    with pytest.raises(ValueError, match="'other'"):
        check_targets({"acc": 0.5}, {"acc": {"op": "<", "metric": "other"}})
    with pytest.raises(ValueError, match="exactly one"):
        check_targets({"acc": 0.5}, {"acc": {"op": "<", "value": 1, "metric": "acc"}})
    with pytest.raises(ValueError, match="value"):
        check_targets({"acc": 0.5}, {"acc": {"op": "<", "value": True}})


# ---------------------------------------------------------------------------- loading


def test_load_results_reads_both_layouts_sorted_and_reports_the_broken_one(tmp_path):
    write_result(tmp_path / "quick" / "zeta", make_result(experiment="zeta"))
    write_result(tmp_path / "full" / "alpha", make_result(experiment="alpha", profile="full"))
    write_result(tmp_path / "quick" / "alpha", make_result(experiment="alpha"))
    write_result(tmp_path / "beta", make_result(experiment="beta", profile="smoke"))
    broken = tmp_path / "quick" / "broken"
    broken.mkdir()
    (broken / "result.json").write_text('{"schema_version": 1, "experiment": ')
    invalid = write_result(tmp_path / "quick" / "invalid", make_result(profile="fast"))

    problems = []
    results = load_results(tmp_path, problems=problems)

    assert [(r["experiment"], r["profile"]) for r in results] == [
        ("alpha", "quick"),
        ("alpha", "full"),
        ("beta", "smoke"),
        ("zeta", "quick"),
    ]
    assert results[0]["_dir"] == str(tmp_path / "quick" / "alpha")
    assert len(problems) == 2
    assert any(str(broken / "result.json") in p and "not valid JSON" in p for p in problems)
    assert any(str(invalid / "result.json") in p and "profile" in p for p in problems)


def test_load_results_warns_on_stderr_without_a_problems_list(tmp_path, capsys):
    write_result(tmp_path / "good", make_result())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "result.json").write_text("not json")
    results = load_results(tmp_path)
    assert len(results) == 1
    err = capsys.readouterr().err
    assert "warning" in err and str(tmp_path / "bad" / "result.json") in err


def test_load_results_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="no results folder"):
        load_results(tmp_path / "nowhere")


# ------------------------------------------------------------------------------- html


def test_write_html_is_self_contained_with_escaped_text_and_embedded_figure(tmp_path):
    folder = write_result(tmp_path / "runs" / "quick" / "convnet_digits", make_result())
    write_png(folder / "fig.png")
    png = (folder / "fig.png").read_bytes()
    results = load_results(tmp_path / "runs")
    datasets = [{"name": "digits", "description": "8x8 <digits>", "licence": "BSD-3-Clause", "source": "https://x.org"}]

    out = write_html(results, tmp_path / "report" / "index.html", datasets=datasets, problems=["a <bad> file"])
    page = out.read_text(encoding="utf-8")

    assert out == tmp_path / "report" / "index.html"
    assert "ConvNets &lt;beat&gt; fully connected nets &amp; pooling helps" in page
    assert "<beat>" not in page
    assert "data:image/png;base64," + base64.b64encode(png).decode("ascii") in page
    assert "✓" in page and "✗" in page
    assert "0.9812 ± 0.0004" in page
    assert "Simard et al. 2003, Table 2" in page
    assert "&gt;= 0.97" in page and "&gt; test_accuracy" in page
    assert "deepnet reproduce convnet_digits --quick --seed 0" in page
    assert "Intel Xeon Test CPU" in page and "2.13.0+cpu" in page and "abc1234" in page
    assert "8x8 &lt;digits&gt;" in page and "BSD-3-Clause" in page
    assert "a &lt;bad&gt; file" in page
    assert "model/" in page
    # offline: nothing is fetched from elsewhere
    assert "<script" not in page and "<link" not in page and "src='http" not in page


def test_write_html_links_only_the_address_lists_skipped_and_shows_a_short_time_once(tmp_path):
    write_result(tmp_path / "convnet_digits", make_result(seconds=8.25))
    datasets = [{"name": "mnist", "description": "d", "licence": "l", "source": "http://x.org/mnist/ (idx .gz files)"}]
    page = write_html(load_results(tmp_path), tmp_path / "index.html", datasets=datasets,
                      skipped={"nplm_brown": "deepnet data fetch nltk_data"}).read_text(encoding="utf-8")
    assert "<a href='http://x.org/mnist/'>http://x.org/mnist/</a> (idx .gz files)" in page
    assert "nplm_brown" in page and "deepnet data fetch nltk_data" in page
    assert page.count("8.2 s") == 2  # the summary's time column and the run's facts, each once (no "8.2 s (8.2 s)")


def test_the_report_of_the_kept_results_references_only_files_that_exist(tmp_path):
    """The real page: every figure a result names is embedded (none missing), and no link leaves the page."""
    import re

    from deepnet.cli import main

    results = Path(__file__).resolve().parents[1] / "results"
    if not results.is_dir():
        pytest.skip("no results folder")
    assert main(["report", "--runs", str(results), "--out", str(tmp_path / "index.html")]) == 0
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "is missing (looked for" not in page
    for target in re.findall(r"(?:href|src)='([^']*)'", page):
        assert target.startswith(("#", "data:", "http://", "https://")), target


def test_write_html_notes_a_missing_figure(tmp_path):
    write_result(tmp_path / "convnet_digits", make_result(artifacts=["gone.png"]))
    page = write_html(load_results(tmp_path), tmp_path / "index.html").read_text(encoding="utf-8")
    assert "gone.png" in page and "missing" in page
    assert "base64" not in page


def test_write_html_rejects_an_invalid_result(tmp_path):
    with pytest.raises(ValueError, match="profile"):
        write_html([make_result(profile="fast")], tmp_path / "index.html")


# --------------------------------------------------------------------------- markdown


@pytest.mark.parametrize(
    "x, text",
    [
        (0.9952, "0.9952"), (0.99523456, "0.9952"), (0.0004, "0.0004"), (812.4, "812.4"),
        (12345.6, "12346"), (3, "3"), (60000, "60000"), (5.0, "5"), (0.0, "0"), (1.23456e-6, "1.235e-06"),
    ],
)  # fmt: skip
def test_format_number(x, text):
    assert format_number(x) == text


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


HEADS = {"convnet_digits": ("ConvNets read digits", "test_accuracy"), "other": ("Not run", "x")}


def test_claims_table_has_one_row_per_claim_quick_and_full_side_by_side():
    full = make_result(profile="full", seconds=7200.0, metrics={"test_accuracy": 0.9951, "test_accuracy_std": 0.0002},
                       targets={"test_accuracy": {"op": ">=", "value": 0.995}}, met={"test_accuracy": True})
    table = claims_table([make_result(), full], HEADS)
    lines = table.splitlines()
    assert _cells(lines[0]) == list(CLAIM_COLUMNS)
    assert len(lines) == 4  # header, rule, one row per claim (the claim with no result included)
    row = _cells(lines[2])
    assert row[:5] == ["ConvNets read digits", "[convnet_digits](results/convnet_digits.md)", "`test_accuracy`",
                       "0.9812 ± 0.0004", "0.9951 ± 0.0002"]
    assert row[5] == "0.996 (Simard et al. 2003, Table 2)"
    assert row[6:9] == [">= 0.995 (full)", "✓", "quick 1.3 min, full 2.0 h"]
    assert _cells(lines[3])[3:5] == ["—", "—"] and "not run yet" in lines[3]


def test_claims_table_takes_the_current_citations_and_names_the_gpu():
    env = dict(make_result()["env"], device="cuda", gpu="NVIDIA H100 80GB HBM3")
    papers = {"convnet_digits": {"test_accuracy": {"value": 0.5, "source": "Someone 2020, Fig. 3 | p. 4"}}}
    table = claims_table([make_result(env=env)], HEADS, papers=papers)
    assert "NVIDIA H100 80GB HBM3" in table and "Intel Xeon" not in table
    assert "0.5 (Someone 2020, Fig. 3)" in table  # the short citation; the full source is on the page


def test_experiment_page_lists_every_metric_source_and_flags_a_drifted_config():
    r = make_result(config={"epochs": 3, "lr": 0.1, "threads": 1})
    page = experiment_page("convnet_digits", "ConvNets read digits", [r], {"quick": {"epochs": 2, "lr": 0.1}})
    assert "## quick profile" in page and "`deepnet reproduce convnet_digits --quick --seed 0`" in page
    assert "Simard et al. 2003, Table 2" in page and "`train_seconds`" in page
    assert "differ from the quick profile's in: epochs" in page and "threads" not in page.split("Note")[1].split("\n")[0]
    assert "![fig.png](quick/convnet_digits/fig.png)" in page
    assert "differ" not in experiment_page("convnet_digits", "c", [r], {"quick": {"epochs": 3, "lr": 0.1}})
    assert "Reproduce:" not in page  # a drifted run has no plain command that reproduces it


def test_a_run_whose_config_equals_its_profile_names_the_plain_command_that_reproduces_it():
    r = make_result(config={"epochs": 3, "lr": 0.1, "threads": 1, "out": "/tmp/dev"},
                    command="deepnet --threads 1 reproduce convnet_digits other --quick --out /tmp/dev")
    page = experiment_page("convnet_digits", "c", [r], {"quick": {"epochs": 3, "lr": 0.1}})
    assert ("Reproduce: `deepnet reproduce convnet_digits --quick` (recorded: "
            "`deepnet --threads 1 reproduce convnet_digits other --quick --out /tmp/dev`)") in page
    plain = make_result(config={"epochs": 3, "lr": 0.1}, command="deepnet reproduce convnet_digits --quick")
    page = experiment_page("convnet_digits", "c", [plain], {"quick": {"epochs": 3, "lr": 0.1}})
    assert "Reproduce:" not in page and "`deepnet reproduce convnet_digits --quick`" in page
    assert "Reproduce:" not in experiment_page("convnet_digits", "c", [r], None)  # no profile known: no claim


def test_a_run_taken_up_after_a_stop_says_its_time_sums_the_attempts():
    r = make_result()
    assert "attempts" not in experiment_page("convnet_digits", "c", [r], None)
    r["attempts"] = 2
    assert "(the sum of 2 attempts: taken up after a stop)" in experiment_page("convnet_digits", "c", [r], None)


def test_a_run_that_reused_cached_units_also_gives_their_training_time():
    r = make_result()
    r["seconds"] = 3.3
    r["metrics"].update(unit_seconds_sum=1740.0, units_reused_from_cache=0)
    assert "units' training" not in experiment_page("convnet_digits", "c", [r], None)
    r["metrics"]["units_reused_from_cache"] = 144
    assert "3.3 s (its units' training: 29.0 min, 144 of them reused) on" in experiment_page("convnet_digits", "c",
                                                                                             [r], None)
    assert "quick 3.3 s (its units' training: 29.0 min, 144 of them reused)" in claims_table([r], HEADS)


def test_an_experiments_misses_are_shown_once_before_its_runs():
    quick, full = make_result(), make_result(profile="full")
    page = experiment_page("convnet_digits", "c", [quick, full], None, None, """
        Tried: more epochs.
        Believed missing: elastic distortions.""")
    assert page.count("## Where it falls short") == 1
    assert page.index("Believed missing: elastic distortions.") < page.index("## quick profile")
    assert "\nTried: more epochs.\n" in page  # the module's indentation is taken off
    assert "falls short" not in experiment_page("convnet_digits", "c", [quick], None, None, "  ")


def test_a_single_seed_shows_no_plus_minus_and_says_1_seed(tmp_path):
    one = make_result(seeds=[0])
    one["metrics"]["test_accuracy_std"] = 0.0  # what an experiment writes for one seed
    first = _cells(claims_table([one], HEADS).splitlines()[2])
    assert first[3] == "0.9812"
    write_result(tmp_path / "convnet_digits", one)
    page = write_html(load_results(tmp_path), tmp_path / "index.html").read_text(encoding="utf-8")
    assert "±" not in page and "1 seed (0)" in page
    assert "test_accuracy_std" not in page  # no spread to show: not listed on its own either


# ----------------------------------------------------------------------------- readme


def test_update_readme_replaces_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    before = f"# deepnet\n\nIntro.\n\n{README_BEGIN}\nold table\nmore old\n{README_END}\n\n## After\nkept\n"
    readme.write_text(before)

    assert update_readme(readme, "| a |\n|---|\n| 1 |\n") is True
    text = readme.read_text()
    assert text.startswith("# deepnet\n\nIntro.\n\n" + README_BEGIN + "\n")
    assert text.endswith(README_END + "\n\n## After\nkept\n")
    assert "old table" not in text and "more old" not in text
    assert "| a |\n|---|\n| 1 |" in text

    assert update_readme(readme, "| a |\n|---|\n| 1 |\n") is False  # same table: unchanged
    assert readme.read_text() == text


def test_update_readme_without_markers_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# deepnet\nno markers here\n")
    with pytest.raises(ValueError, match="results:begin"):
        update_readme(readme, "| a |")
    readme.write_text(f"{README_END}\n{README_BEGIN}\n")
    with pytest.raises(ValueError):
        update_readme(readme, "| a |")
    assert readme.read_text() == f"{README_END}\n{README_BEGIN}\n"


def test_validation_and_formatting_do_not_change_the_result():
    result = make_result()
    snapshot = copy.deepcopy(result)
    validate_result(result)
    claims_table([result], HEADS)
    assert result == snapshot


def test_hardware_names_cores_and_load_when_known():
    from deepnet.report import hardware

    assert hardware({"device": "cpu", "cpu": "AMD EPYC"}) == "AMD EPYC"
    assert hardware({"device": "cpu", "cpu": "AMD EPYC", "cpu_count": 2, "load_average": 7.94}) == \
        "AMD EPYC (2 cores, load 7.9)"
    assert hardware({"device": "cuda", "cpu": "x", "gpu": "NVIDIA H100", "load_average": 3.0}) == "NVIDIA H100"


def test_report_modules_import_downward_only():
    """html.py and the package share formatting.py; html.py never imports the package (no cycle)."""
    import ast
    from pathlib import Path

    import deepnet.report
    from deepnet.report import formatting, html

    def imported(module):
        tree = ast.parse(Path(module.__file__).read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "deepnet.report" not in imported(html)
    assert not [m for m in imported(formatting) if m.startswith("deepnet.report")]
    assert {"deepnet.report.formatting", "deepnet.report.html"} <= imported(deepnet.report)
    assert deepnet.report.format_number is formatting.format_number  # the name other code imports still works


def test_the_html_report_flags_a_run_whose_settings_differ_from_its_profile(tmp_path):
    write_result(tmp_path / "convnet_digits", make_result(config={"epochs": 3, "lr": 0.1, "workers": 4}))
    profiles = {"convnet_digits": {"quick": {"epochs": 2, "lr": 0.1, "workers": 1}}}
    page = write_html(load_results(tmp_path), tmp_path / "index.html", profiles=profiles).read_text(encoding="utf-8")
    assert "differ from the quick profile's in: epochs;" in page  # workers cannot change a result: not named
    same = {"convnet_digits": {"quick": {"epochs": 3, "lr": 0.1}}}
    assert "reproduce with" not in page
    assert "differ from" not in write_html(load_results(tmp_path), tmp_path / "b.html", profiles=same).read_text()
    assert "<code>deepnet reproduce convnet_digits --quick</code>" in (tmp_path / "b.html").read_text()


def test_a_setting_added_after_a_run_reads_as_the_value_that_run_had():
    import dataclasses

    from deepnet.cli import _with_added_settings
    from deepnet.experiments import babi_memn2n
    from deepnet.report.formatting import config_drift

    masked = dataclasses.asdict(dataclasses.replace(babi_memn2n.PROFILES["quick"], empty_slots="masked"))
    older = {k: v for k, v in masked.items() if k != "empty_slots"}  # recorded before empty_slots existed
    r = make_result(config=older)
    r["experiment"] = "babi_memn2n"
    assert config_drift(r, masked) == ["empty_slots"]
    r = _with_added_settings([r])[0]
    assert config_drift(r, masked) == []  # those runs masked the empty slots
    sink = dataclasses.replace(babi_memn2n.PROFILES["quick"], empty_slots="sink")
    assert config_drift(r, dataclasses.asdict(sink)) == ["empty_slots"]  # a profile that changes it still differs


def test_a_single_setting_that_became_a_grid_reads_as_a_grid_of_one():
    import dataclasses

    from deepnet.cli import _with_added_settings
    from deepnet.experiments import translation_multi30k as T
    from deepnet.report.formatting import config_drift

    quick = dataclasses.asdict(T.PROFILES["quick"])
    older = {k: v for k, v in quick.items() if k not in ("beams", "alphas")}
    older.update(beam=5, alpha=1.0)  # recorded before the grid: one beam and alpha
    r = make_result(config=older)
    r["experiment"] = "translation_multi30k"
    assert config_drift(r, quick) == ["alpha", "alphas", "beam", "beams"]
    r = _with_added_settings([r])[0]
    assert config_drift(r, quick) == []
    r["config"]["beams"] = [10]  # another beam recorded: still a difference
    assert config_drift(r, quick) == ["beams"]
