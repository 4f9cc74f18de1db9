"""``python -m lightning_distill.search.report`` on run and sweep directories made by real (tiny) runs and sweeps."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from test_sigopt_sweeper import smoke_sweep

from lightning_distill.search.report import main as report_main

SMOKE = ["experiment=smoke", "trainer.val_check_interval=3"]


def train_run(run_dir, *overrides):
    """A real `python train.py` run (its .hydra/ config and overrides are what the report groups by)."""
    result = subprocess.run(
        [sys.executable, "train.py", *SMOKE, *overrides, f"hydra.run.dir={run_dir}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """Two seeds of a distilled tiny student, one hard-label run: the shape of the offline study."""
    root = tmp_path_factory.mktemp("study")
    for seed in (1, 2):
        train_run(root / "distilled" / f"seed{seed}", f"seed={seed}")
    train_run(root / "hard" / "seed1", "teacher=none", "seed=1")
    return root


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A real smoke sweep with an injected CUDA OOM (trial 1) and a NaN loss (trial 2)."""
    directory = tmp_path_factory.mktemp("sweep") / "sweep"
    result = smoke_sweep(directory, tmp_path_factory.mktemp("cache"), "hydra.sweeper.budget=4")
    assert result.returncode == 0, result.stderr[-2000:]
    return directory


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_runs_grouped_by_seed_with_mean_sd_and_curves(study_dir, tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "curves-09-from-an-earlier-report.png").write_bytes(b"stale")
    assert report_main([str(study_dir), "--out", str(out)]) == 0
    groups = {row["configuration"]: row for row in read_csv(out / "groups.csv")}
    assert set(groups) == {"teacher=none", "distilled"}  # no telling override: the common directory names it
    hard = groups["teacher=none"]
    distilled = next(row for label, row in groups.items() if label != "teacher=none")
    assert distilled["runs"] == "2" and hard["runs"] == "1"
    runs = [row for row in read_csv(out / "runs.csv") if row["configuration"] == distilled["configuration"]]
    exact = [float(row["exact"]) for row in runs]
    assert float(distilled["exact_mean"]) == pytest.approx(sum(exact) / 2)
    assert float(distilled["exact_sd"]) == pytest.approx(abs(exact[0] - exact[1]) / 2 ** 0.5)
    assert hard["exact_sd"] == ""  # one seed: no sd
    assert {row["status"] for row in read_csv(out / "runs.csv")} == {"finished"}
    assert all(float(row["minutes"]) > 0 for row in read_csv(out / "runs.csv"))
    report = (out / "report.md").read_text()
    assert "| `teacher=none` | 1 |" in report
    curves = sorted(out.glob("curves-*.png"))
    assert len(curves) == 2 and all(path.stat().st_size > 10_000 for path in curves)
    assert (out / "evaluations.png").stat().st_size > 10_000 and "![evaluations](evaluations.png)" in report
    assert "## Skipped\n\nNothing." in report


def test_sweep_front_parameters_frontier_and_failures(sweep_dir, tmp_path):
    out = tmp_path / "report"
    assert report_main([str(sweep_dir), str(sweep_dir), "--out", str(out)]) == 0  # the same sweep twice: overlaid
    report = (out / "report.md").read_text()
    assert (out / "pareto.png").stat().st_size > 10_000
    assert (out / "parameters.png").stat().st_size > 10_000
    pareto = json.loads((sweep_dir / "pareto.json").read_text())
    observations = [json.loads(line) for line in (sweep_dir / "observations.jsonl").read_text().splitlines()]
    assert "4 observations of a budget of 4: 2 completed, 2 failed." in report
    assert f"Frontier ({len(pareto['frontier'])} students" in report
    for failed in (o for o in observations if o["status"] == "failed"):
        assert f"| {failed['trial']} | {failed['reason'][:40]}" in report
    assert "cuda_oom" in report and "non_finite_loss" in report
    searched = json.loads((sweep_dir / "observations.jsonl").read_text().splitlines()[0])["assignments"]
    assert f"Each searched parameter ({len(searched)})" in report


def with_full_search_settings(sweep_dir, copy, *, threshold):
    """A copy of the smoke sweep whose pareto.json has the full search's threshold (given) and Table 1
    baseline, as hparams_search=sigopt writes them; returns its score metric."""
    shutil.copytree(sweep_dir, copy)
    pareto = json.loads((copy / "pareto.json").read_text())
    score = next(m for m in pareto["metrics"] if m["objective"] == "maximize" and m.get("strategy", "optimize") == "optimize")
    size = next(m for m in pareto["metrics"] if m["objective"] == "minimize" and m.get("strategy", "optimize") == "optimize")
    score["threshold"] = threshold
    pareto["baseline"] = {"label": "DistilBERT baseline (Table 1)", "values": {score["name"]: 67.07, size["name"]: 66364418}}
    (copy / "pareto.json").write_text(json.dumps(pareto))
    return score


def test_sweep_plot_draws_the_threshold_line_and_the_baseline_point(sweep_dir, tmp_path, monkeypatch):
    """The smoke preset has neither (tiny models never reach 50): a copy of its sweep gets the full
    search's threshold and Table 1 baseline in pareto.json, as hparams_search=sigopt writes them."""
    import matplotlib.figure

    sweep = tmp_path / "sweep-with-threshold"
    score = with_full_search_settings(sweep_dir, sweep, threshold=1.5)
    legends = {}
    original = matplotlib.figure.Figure.savefig

    def recording_savefig(figure, path, *args, **kwargs):
        legends[Path(path).name] = [label for axes in figure.axes for label in axes.get_legend_handles_labels()[1]]
        return original(figure, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", recording_savefig)
    assert report_main([str(sweep), "--out", str(tmp_path / "report")]) == 0
    assert f"{score['name']} threshold 1.5" in legends["pareto.png"]
    assert "DistilBERT baseline (Table 1)" in legends["pareto.png"]


def test_partial_sweep_and_runs_are_marked_and_skips_are_listed(study_dir, sweep_dir, tmp_path):
    partial_sweep = tmp_path / "partial-sweep"
    shutil.copytree(sweep_dir, partial_sweep)
    lines = (partial_sweep / "observations.jsonl").read_text().splitlines()
    (partial_sweep / "observations.jsonl").write_text("\n".join(lines[:2]) + "\n{torn line")
    running = tmp_path / "running-run"
    shutil.copytree(study_dir / "hard" / "seed1", running)
    document = json.loads((running / "metrics.json").read_text())
    (running / "metrics.json").write_text(json.dumps({**document, "status": "running"}))
    empty = tmp_path / "just-started"
    shutil.copytree(study_dir / "hard" / "seed1" / ".hydra", empty / ".hydra")
    out = tmp_path / "report"

    assert report_main([str(partial_sweep), str(running), str(empty), str(tmp_path / "missing"), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "**In progress / partial.** 2 observations of a budget of 4" in report
    assert "2 in flight" in report
    assert "(partial)" in report and "(running)" in report
    skipped = report.split("## Skipped", 1)[1]
    assert "line 3: unreadable" in skipped
    assert "just-started" in skipped and "without any evaluation" in skipped
    assert "missing" in skipped and "does not exist" in skipped


def test_nothing_to_report_is_said_not_raised(tmp_path):
    (tmp_path / "empty").mkdir()
    assert report_main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Nothing to report" in report and "no run" in report


def test_non_finite_and_unreadable_inputs_do_not_stop_the_report(study_dir, tmp_path):
    """A diverged seed (NaN metric) is left out of the mean; a foreign metrics.json is skipped, named."""
    for name in ("a", "b"):
        shutil.copytree(study_dir / "hard" / "seed1", tmp_path / "runs" / name)
    diverged = tmp_path / "runs" / "b" / "metrics.json"
    document = json.loads(diverged.read_text())
    document["final"]["exact"] = float("nan")
    diverged.write_text(json.dumps(document))
    (tmp_path / "runs" / "foreign").mkdir()
    (tmp_path / "runs" / "foreign" / "metrics.json").write_text("accuracy: 0.9\n")
    out = tmp_path / "report"

    assert report_main([str(tmp_path / "runs"), "--out", str(out)]) == 0
    group = read_csv(out / "groups.csv")[0]
    good = json.loads((tmp_path / "runs" / "a" / "metrics.json").read_text())["final"]["exact"]
    assert group["runs"] == "2" and float(group["exact_mean"]) == pytest.approx(good) and group["exact_sd"] == ""
    skipped = (out / "report.md").read_text().split("## Skipped", 1)[1]
    assert "foreign" in skipped and "unreadable run files" in skipped


def test_sweeps_of_different_presets_get_their_own_panels_and_a_log_axis(sweep_dir, tmp_path, monkeypatch):
    """A smoke sweep beside one carrying the 66 M Table 1 baseline: two panels, the baseline's on a log
    x-axis; parameters.png names the sweeps in a legend; the frontier line states the threshold."""
    import matplotlib.figure

    full = tmp_path / "full-preset"
    score = with_full_search_settings(sweep_dir, full, threshold=0.5)
    figures = {}
    original = matplotlib.figure.Figure.savefig

    def recording_savefig(figure, path, *args, **kwargs):
        figures[Path(path).name] = {
            "scales": [axes.get_xscale() for axes in figure.axes if axes.get_visible()],
            "figure_legend": [text.get_text() for legend in figure.legends for text in legend.get_texts()],
        }
        return original(figure, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", recording_savefig)
    out = tmp_path / "report"
    assert report_main([str(sweep_dir), str(full), "--out", str(out)]) == 0
    assert sorted(figures["pareto.png"]["scales"]) == ["linear", "log"], "one panel per preset, the 66 M one on log x"
    assert {sweep_dir.name, full.name} <= set(figures["parameters.png"]["figure_legend"])
    report = (out / "report.md").read_text()
    assert f"{score['name']} >= 0.5 (its threshold), not dominated" in report
    assert f"{score['name']} (no threshold), not dominated" in report


def test_a_sweep_whose_front_is_empty_says_so_and_names_its_best_trial(sweep_dir, tmp_path):
    """NSGA-II's offline sweep ended with no trial above the threshold: an empty front is a result."""
    sweep = tmp_path / "sweep-nothing-feasible"
    score = with_full_search_settings(sweep_dir, sweep, threshold=1e9)
    pareto = json.loads((sweep / "pareto.json").read_text())
    pareto["frontier"] = []
    (sweep / "pareto.json").write_text(json.dumps(pareto))
    observations = [json.loads(line) for line in (sweep / "observations.jsonl").read_text().splitlines()]
    completed = [o for o in observations if o["status"] == "completed"]
    best = max(completed, key=lambda o: o["values"][score["name"]])
    out = tmp_path / "report"
    assert report_main([str(sweep), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "Frontier (0 students" in report
    assert f"None: no completed trial reached the threshold (best: trial {best['trial']}, {score['name']} " in report
    assert "| trial | num_params |" not in report.split("Frontier (0 students")[1].split("Failed trials")[0]
