"""The tested core of benchmarks/search_quality.py (issue 11): problems, hypervolume, the
simulated asynchronous scheduler, resumable results. Fast: no optimizer beyond a few cheap asks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.search.problems import Outcome, dtlz2, num_params, synthetic, synthetic_exact
from benchmarks.search.results import CellKey, CellResult, append, finished, read_curves
from benchmarks.search.scheduler import run_search
from benchmarks.search_quality import cells
from benchmarks.suggestion_latency import synthetic_assignments
from hydra_plugins.sigopt_sweeper.config import SigOptSweeperConf
from lightning_distill.search.hypervolume import hypervolume, hypervolume_curve, minimized

SETTINGS = OmegaConf.load("benchmarks/conf/search_quality.yaml")
BASELINE = {
    "optimizer.learning_rate": 5e-5, "distillation.temperature": 1.0, "distillation.soft_weight": 0.5,
    "distillation.hard_weight": 0.5, "student.n_layers": 6, "student.n_heads": 12, "student.dropout": 0.1,
    "student.attention_dropout": 0.1, "student.qa_dropout": 0.1, "student.initializer_range": 0.02,
    "optimizer.beta2": 0.999, "optimizer.weight_decay": 9e-6, "data.train_batch_size": 8,
}  # fmt: skip


@pytest.fixture(scope="module")
def problem():
    return synthetic(SETTINGS.synthetic)


def test_num_params_follows_spec_arithmetic():
    assert num_params(6, 12) == 66_364_418
    assert num_params(6, 12) - num_params(6, 11) == 6 * 196_800
    assert round(num_params(1, 1) / 1e6, 2) == 28.76 and round(num_params(20, 12) / 1e6, 1) == 165.6


def test_synthetic_problem_reads_table2_and_the_sweeper_metrics_from_conf(problem):
    assert len(problem.space.parameters) == 18
    assert problem.params["optimizer.learning_rate"] == "tag(log, interval(2e-06, 0.1))"
    assert [m.name for m in problem.metrics if m.optimized] == ["exact", "num_params"]
    assert problem.reference == (-50.0, float(num_params(20, 12))), "threshold and the largest model"


def test_synthetic_exact_has_diminishing_returns_optima_and_failure_regions(problem):
    a = {name.rsplit(".", 1)[-1]: value for name, value in BASELINE.items()}
    baseline = synthetic_exact(a)
    assert 60 < baseline < 70, "Table 1's baseline: 67.07 in the source"
    deeper = [synthetic_exact({**a, "n_layers": n}) for n in (6, 9, 12)]
    assert deeper[0] < deeper[1] < deeper[2] and deeper[2] - deeper[1] < deeper[1] - deeper[0]
    assert synthetic_exact({**a, "learning_rate": 5e-3}) < baseline
    assert synthetic_exact({**a, "dropout": 0.9}) < synthetic_exact({**a, "dropout": 0.5})
    assert synthetic_exact({**a, "soft_weight": 0.9, "hard_weight": 0.9}) < baseline, "weights interact"
    rng = np.random.default_rng(0)
    ok = problem.evaluate(dict(BASELINE, **_irrelevant()), rng)
    assert ok.values["num_params"] == 66_364_418 and ok.reason is None
    diverged = problem.evaluate({**BASELINE, **_irrelevant(), "optimizer.learning_rate": 0.05,
                                 "distillation.temperature": 9.0}, rng)  # fmt: skip
    oom = problem.evaluate({**BASELINE, **_irrelevant(), "student.n_layers": 20, "data.train_batch_size": 32}, rng)
    assert diverged.values is None and diverged.reason.startswith("non_finite_loss")
    assert oom.values is None and oom.reason.startswith("cuda_oom")
    big = problem.evaluate({**BASELINE, **_irrelevant(), "student.n_layers": 12}, rng)
    assert 1.5 < big.duration / ok.duration < 2.5, "duration in proportion to model size"


def test_synthetic_random_search_sees_both_failures_and_a_minority_above_the_threshold(problem):
    rng = np.random.default_rng(1)
    outcomes = [problem.evaluate(synthetic_assignments(problem.space, rng), rng) for _ in range(400)]
    failed = sum(o.values is None for o in outcomes) / len(outcomes)
    above = sum(o.values is not None and o.values["exact"] > 50 for o in outcomes) / len(outcomes)
    assert 0.1 < failed < 0.4 and 0.02 < above < 0.3


def test_dtlz2_front_is_the_quarter_circle():
    problem = dtlz2(SETTINGS.dtlz2)
    assert len(problem.space.parameters) == 18
    on_front = {f"x{i:02d}": 0.5 for i in range(18)} | {"x00": 1 / 3}
    values = problem.evaluate(on_front, np.random.default_rng(0)).values
    assert math.hypot(values["f1"], values["f2"]) == pytest.approx(1.0)


def test_hypervolume_of_a_staircase_and_its_curve():
    reference = (4.0, 4.0)
    assert hypervolume([], reference) == 0.0
    assert hypervolume([(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)], reference) == pytest.approx(3 + 2 + 1)
    assert hypervolume([(1.0, 3.0), (2.0, 3.5), (5.0, 0.0)], reference) == pytest.approx(3), "dominated, outside"
    assert hypervolume_curve([None, (2.0, 2.0), (3.0, 3.0), (1.0, 1.0)], reference) == [0, 4, 4, 9]


def test_hypervolume_costs_negate_maximized_metrics(problem):
    point = minimized({"exact": 60.0, "num_params": 1e8, "f1": 1.0, "inference_time": 1.0}, problem.metrics)
    assert point == (-60.0, 1e8)
    assert hypervolume([point], problem.reference) == pytest.approx(10 * (num_params(20, 12) - 1e8))


class Recorder:
    """A contender that records what the scheduler shows it."""

    def __init__(self):
        self.asks, self.tells, self.count = [], [], 0

    def ask(self, pending):
        self.asks.append([p["n"] for p in pending])
        self.count += 1
        return {"n": self.count - 1}

    def tell(self, assignments, outcome):
        self.tells.append(assignments["n"])


class Timed:
    """Trial n takes durations[n] simulated hours."""

    name, reference, metrics = "timed", (0.0, 0.0), ()

    def __init__(self, durations):
        self.durations = durations

    def evaluate(self, assignments, rng):
        return Outcome({"v": 1.0}, None, self.durations[assignments["n"]])


def test_scheduler_is_asynchronous_in_simulated_time_and_shows_pending_trials_like_the_sweeper():
    recorder = Recorder()
    run = run_search(recorder, Timed([5.0, 1.0, 3.0, 1.0, 1.0]), budget=5, parallelism=2, rng=None)
    assert recorder.asks == [[], [0], [0], [0], [3]], "each ask knows every trial in flight as pending"
    assert recorder.tells == [1, 2, 0, 3, 4], "trials are observed as they finish, not in batches"
    assert [(r.trial, r.started, r.finished) for r in run.records] == [
        (1, 0.0, 1.0), (2, 1.0, 4.0), (0, 0.0, 5.0), (3, 4.0, 5.0), (4, 5.0, 6.0)]  # fmt: skip


def test_scheduler_with_one_worker_is_sequential():
    recorder = Recorder()
    run = run_search(recorder, Timed([2.0, 1.0, 3.0]), budget=3, parallelism=1, rng=None)
    assert recorder.asks == [[], [], []] and recorder.tells == [0, 1, 2]
    assert run.records[-1].finished == 6.0


def test_results_resume_skips_finished_cells_and_drops_curves_of_unfinished_ones(tmp_path):
    key = CellKey("synthetic", "lite", 100, 20, 0)
    append(tmp_path, CellResult(key, 1.0, 0.1, 2.0, 1.5, 9.0, [(5, 0.5), (10, 1.0)]))
    (tmp_path / "curves.csv").open("a").write("synthetic,random,100,20,0,5,0.2\n")  # a cell cut short
    assert finished(tmp_path) == {key}
    assert [(row["contender"], row["trials"]) for row in read_curves(tmp_path)] == [("lite", 5), ("lite", 10)]


def test_grid_leaves_out_redundant_lite_cells():
    grid = set(cells(SETTINGS))
    assert CellKey("synthetic", "lite_nospe", 479, 1, 0) in grid
    assert CellKey("synthetic", "lite_nospe", 100, 1, 0) not in grid  # = lite below 200 observations
    assert CellKey("synthetic", "lite_best", 100, 1, 0) not in grid  # no pending trials to lie about
    assert CellKey("synthetic", "lite_best", 100, 20, 0) in grid
    assert CellKey("synthetic", "lite_default", 479, 20, 0) in grid
    assert CellKey("synthetic", "lite_default", 100, 20, 0) not in grid  # = lite_gp below 200 observations
    assert CellKey("dtlz2", "lite_gp", 479, 1, 0) not in grid  # GP all the way at 479 is lite_nospe


def test_lite_default_contender_is_the_sweepers_defaults():
    """The headline "what users get" cells must measure the settings the sweeper actually ships."""
    shipped = SigOptSweeperConf()
    preset = OmegaConf.load("conf/hydra/sweeper/sigopt.yaml")
    contender = SETTINGS.contenders.lite_default
    measured = (contender.lie, contender.refit_every, contender.spe_beyond)
    assert measured == (shipped.lie.name, shipped.refit_every, shipped.spe_beyond)
    assert measured == (preset.get("lie", shipped.lie.name), preset.refit_every, preset.spe_beyond)


def _irrelevant():
    return {"optimizer.adam_epsilon": 1e-8, "optimizer.beta1": 0.9, "optimizer.warmup_steps": 0,
            "student.pruning_seed": 42, "data.eval_batch_size": 8}  # fmt: skip


def test_suggestion_latency_readme_command_runs():
    """README's `python -m benchmarks.suggestion_latency --observations 50` (its metrics resolve ${size_objective})."""
    import subprocess
    import sys

    from conftest import REPO_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.suggestion_latency", "--observations", "50"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "observations   cold s" in result.stdout and "\n          50 " in result.stdout


def test_offline_surrogate_sizes_its_students_exactly_and_never_scores_below_the_floor():
    """The surrogate of the offline search (issue 33): MiniLM-scale size arithmetic, and one random tree's
    prediction per trial, never below the lowest real value (answering nothing)."""
    pytest.importorskip("sklearn", reason="the dev extra: scikit-learn fits the surrogate")
    from pathlib import Path

    from benchmarks.search import surrogate

    assert surrogate.num_params(6, 12) == 22_565_378 and surrogate.num_params(4, 4) == 17_440_514
    config = OmegaConf.load(Path(surrogate.ROOT, "benchmarks", "conf", "search_quality_offline.yaml"))
    problem = surrogate.offline_surrogate(config.offline_surrogate)
    assert len(problem.space.parameters) == 15 and problem.reference == (-48.35, 22_565_378.0)
    real = surrogate.read_real_trials(config.offline_surrogate.sources, "best_f1")
    assert len(real.sweeps) == 127 and real.objective.min() == pytest.approx(47.35, abs=0.01)
    rng = np.random.default_rng(0)
    for assignments in real.assignments[:20]:
        outcome = problem.evaluate({k: v for k, v in assignments.items() if k in problem.params}, rng)
        layers, heads = assignments["student.n_layers"], assignments["student.n_heads"]
        assert outcome.values["num_params"] == surrogate.num_params(layers, heads)
        assert outcome.values["best_f1"] >= real.objective.min() and outcome.duration > 0
