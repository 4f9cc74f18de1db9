"""How good is our optimizer? Hypervolume of the sweeper's lite driver against Optuna and random
search, on cheap problems in simulated time (issue 11; a benchmark, not a test).

    python -m benchmarks.search_quality                                   # the whole grid of the config
    python -m benchmarks.search_quality --budgets 100 --contenders lite nsga2 motpe random
    python -m benchmarks.search_quality --report-only                     # summary.md + PNGs from the CSVs

The grid (problems x contenders x budgets x parallelism x seeds) and the problems' settings are in
``benchmarks/conf/search_quality.yaml``; flags select part of it. Results are appended to
``OUT/cells.csv`` and ``OUT/curves.csv`` cell by cell: a rerun skips finished cells, so an
interrupted run resumes and runs with disjoint selections can share ``OUT``. The report lists the
cells of the configured grid that are missing.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from benchmarks.search.contenders import ContenderSpec, make_contender
from benchmarks.search.problems import PROBLEMS, Problem
from benchmarks.search.report import write_report
from benchmarks.search.results import CellKey, CellResult, append, finished
from benchmarks.search.scheduler import run_search
from lightning_distill.search.hypervolume import hypervolume_curve, minimized

CONFIG = Path(__file__).resolve().parent / "conf" / "search_quality.yaml"
ROOT = Path(__file__).resolve().parent.parent


def contender_spec(name: str, settings: DictConfig) -> ContenderSpec:
    entry = settings.contenders.get(name)
    if entry is None:
        raise SystemExit(f"--contenders: {name!r} is not in {CONFIG.name}'s contenders {list(settings.contenders)}")
    fields = OmegaConf.to_container(entry)
    fields.pop("budgets", None)  # where it runs, not what it is
    return ContenderSpec(**fields)


def runs_at(name: str, budget: int, settings: DictConfig) -> bool:
    """A contender may name the budgets where it differs from another (``lite_nospe`` is ``lite``
    below 200 observations), so the grid and the report's missing list leave the rest out."""
    budgets = settings.contenders[name].get("budgets")
    return budgets is None or budget in budgets


def cells(settings: DictConfig) -> list[CellKey]:
    """The grid, seed by seed (a partial run covers every contender with fewer seeds), without
    lite's redundant lies at parallelism 1 (no pending trials to lie about)."""
    grid = []
    for seed in settings.seeds:
        for problem in settings.problems:
            for budget in settings.budgets:
                for parallelism in settings.parallelism:
                    for name in settings.contenders:
                        spec = contender_spec(name, settings)
                        if spec.name == "lite" and parallelism == 1 and spec.lie != "mean":
                            continue
                        if not runs_at(name, budget, settings):
                            continue
                        grid.append(CellKey(problem, name, budget, parallelism, seed))
    return grid


def run_cell(key: CellKey, problem: Problem, settings: DictConfig) -> CellResult:
    spec = contender_spec(key.contender, settings)
    contender = make_contender(spec, problem, key.budget, key.parallelism, key.seed)
    rng = np.random.default_rng([key.seed, 11])  # the problem's noise and durations
    run = run_search(contender, problem, key.budget, key.parallelism, rng)
    points = [None if r.outcome.values is None else minimized(r.outcome.values, problem.metrics) for r in run.records]
    curve = hypervolume_curve(points, problem.reference)
    every = settings.curve_every
    sampled = [(n, curve[n - 1]) for n in range(1, len(curve) + 1) if n % every == 0 or n == len(curve)]
    return CellResult(
        key,
        hypervolume=curve[-1],
        failed_share=sum(point is None for point in points) / len(points),
        optimizer_wall_s=run.optimizer_wall_s,
        optimizer_cpu_s=run.optimizer_cpu_s,
        simulated_hours=run.records[-1].finished,
        curve=sampled,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    for name in ("problems", "contenders"):
        parser.add_argument(f"--{name}", nargs="+", help=f"subset of the config's {name}")
    for name in ("budgets", "parallelism", "seeds"):
        parser.add_argument(f"--{name}", type=int, nargs="+", help=f"override the config's {name}")
    parser.add_argument("--out", type=Path, help="results directory (default: the config's out)")
    parser.add_argument("--report-only", action="store_true", help="only write summary.md and the plots")
    args = parser.parse_args()
    full = OmegaConf.load(args.config)
    selected = full.copy()
    for name in ("problems", "budgets", "parallelism", "seeds"):
        if getattr(args, name):
            selected[name] = getattr(args, name)
    if args.contenders:
        for name in args.contenders:
            contender_spec(name, full)  # refuses unknown names
        selected.contenders = {name: full.contenders[name] for name in args.contenders}
    out = args.out or ROOT / full.out
    logging.basicConfig(level=logging.WARNING)
    if not args.report_only:
        run_grid(selected, out)
    write_report(out, cells(full), full)


def run_grid(settings: DictConfig, out: Path) -> None:
    unknown = set(settings.problems) - set(PROBLEMS)
    if unknown:
        raise SystemExit(f"--problems: {sorted(unknown)} are not among {list(PROBLEMS)}")
    problems = {name: PROBLEMS[name](settings[name]) for name in settings.problems}
    todo = [key for key in cells(settings) if key not in finished(out)]
    print(f"{len(todo)} cells to run (finished ones in {out} are skipped)", flush=True)
    for index, key in enumerate(todo, 1):
        if key in finished(out):  # another run with an overlapping selection got there first
            continue
        started = time.perf_counter()
        result = run_cell(key, problems[key.problem], settings)
        append(out, result)
        print(
            f"[{index}/{len(todo)}] {key.problem} {key.contender} budget={key.budget} p={key.parallelism} "
            f"seed={key.seed}: hypervolume {result.hypervolume:.4g}, failed {result.failed_share:.0%}, "
            f"optimizer {result.optimizer_wall_s:.1f} s ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
