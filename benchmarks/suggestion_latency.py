"""How long the lite driver takes to suggest, at a given history size (a benchmark, not a test).

    python -m benchmarks.suggestion_latency --observations 50 200 479 --pending 19   (from the repository root)
    python -m benchmarks.suggestion_latency --observations 479 --refit-every 1 --spe-beyond none --profile 25


Uses the real Table 2 space and metrics of ``conf/`` (``hparams_search=sigopt``: 18 parameters,
exact maximized with threshold 50, parameters minimized, f1 and inference time stored) and a
synthetic history: the point is the optimizer's cost, which depends on the number and shape of
observations, not on their meaning. Each size is timed cold (the first suggestion after a restart:
history replayed into lite, GP hyperparameters fit from scratch) and then ``--warm`` times as during
a sweep (one new observation before each; the GP refit only on every ``refit_every``-th), reported
as their mean and max. ``refit_every`` and ``spe_beyond`` default to the sweeper's config
(``hparams_search=sigopt``); ``--profile N`` prints the N costliest calls (cProfile, cumulative) of
the warm suggestions at the largest size.
``--pending`` trials are in flight, as with 20 parallel workers. Only the plugin's public surface
(``hydra_plugins.sigopt_sweeper.api``) is used.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from hydra_plugins.sigopt_sweeper.api import (
    COMPLETED,
    FAILED,
    ExperimentSpec,
    LiteDriver,
    Observation,
    SearchSpace,
    parse_metrics,
    parse_search_space,
)

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
FAILED_FRACTION = 0.05
"""Share of synthetic trials recorded as failed (OOM/NaN happen in the real space too)."""


def synthetic_assignments(space: SearchSpace, rng: np.random.Generator) -> dict[str, object]:
    assignments: dict[str, object] = {}
    for parameter in space.parameters:
        if parameter.grid is not None:
            assignments[parameter.name] = parameter.grid[rng.integers(len(parameter.grid))]
        elif parameter.categorical_values is not None:
            assignments[parameter.name] = parameter.categorical_values[rng.integers(len(parameter.categorical_values))]
        elif parameter.type == "int":
            assignments[parameter.name] = int(rng.integers(parameter.bounds[0], parameter.bounds[1] + 1))
        elif parameter.log:
            low, high = (math.log(bound) for bound in parameter.bounds)
            assignments[parameter.name] = float(math.exp(rng.uniform(low, high)))
        else:
            assignments[parameter.name] = float(rng.uniform(*parameter.bounds))
    return assignments


def synthetic_values(assignments: dict[str, object], rng: np.random.Generator) -> dict[str, float]:
    """Bigger students score higher, with noise; sizes follow SPEC's parameter arithmetic."""
    layers, heads = int(assignments["student.n_layers"]), int(assignments["student.n_heads"])
    params = 30_925_058 + (layers - 1) * 7_087_872 - layers * (12 - heads) * 196_800
    exact = 50 + 20 * (1 - math.exp(-layers * heads / 30)) + rng.normal(0, 3)
    return {"exact": exact, "num_params": float(params), "f1": exact + 3, "inference_time": 0.1 * layers}


def history(space: SearchSpace, size: int, rng: np.random.Generator) -> list[Observation]:
    observations = []
    for trial in range(size):
        assignments = synthetic_assignments(space, rng)
        if rng.uniform() < FAILED_FRACTION:
            observations.append(Observation(trial, str(trial), assignments, FAILED, reason="synthetic"))
        else:
            observations.append(
                Observation(trial, str(trial), assignments, COMPLETED, synthetic_values(assignments, rng))
            )
    return observations


def measure(
    sizes: Sequence[int], pending: int, seed: int, warm: int, overrides: Sequence[str], profile: int | None
) -> None:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hparams_search=sigopt", *overrides], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    space = parse_search_space(OmegaConf.to_container(cfg.search_space))
    metrics = parse_metrics([OmegaConf.to_container(metric, resolve=True) for metric in sweeper.metrics])
    spec = ExperimentSpec("latency", space, metrics, budget=max(sizes), parallel_bandwidth=pending + 1)
    rng = np.random.default_rng(seed)
    print(
        f"lite driver, {len(space.parameters)} parameters, {pending} pending trials (constant liar), "
        f"refit_every={sweeper.refit_every}, spe_beyond={sweeper.spe_beyond}"
    )
    print(f"{'observations':>12} {'cold s':>8} {'warm s':>8} {'warm max s':>10}")
    for size in sizes:
        driver = LiteDriver(
            spec,
            seed=seed,
            blas_threads=sweeper.blas_threads,
            refit_every=sweeper.refit_every,
            spe_beyond=sweeper.spe_beyond,
        )
        driver.start(None)  # imports and validates outside the timing
        observations = history(space, size + warm, rng)
        driver.restore(observations[:size], set())
        in_flight = [synthetic_assignments(space, rng) for _ in range(pending)]
        cold = timed(driver, in_flight)
        profiler = cProfile.Profile() if profile and size == max(sizes) else None
        timings = []
        for observation in observations[size:]:
            driver.observe(observation)
            timings.append(timed(driver, in_flight, profiler))
        print(f"{size:>12} {cold:>8.2f} {np.mean(timings):>8.2f} {max(timings):>10.2f}", flush=True)
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)


def timed(driver: LiteDriver, in_flight: list[dict[str, object]], profiler: cProfile.Profile | None = None) -> float:
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    driver.suggest(in_flight)
    if profiler is not None:
        profiler.disable()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observations", type=int, nargs="+", default=[50, 200, 479])
    parser.add_argument("--pending", type=int, default=19, help="trials in flight (parallelism - 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm", type=int, default=5, help="warm suggestions timed per size (>= 1)")
    parser.add_argument("--refit-every", help="override hydra.sweeper.refit_every (default: the config's)")
    parser.add_argument("--spe-beyond", help="override hydra.sweeper.spe_beyond; 'none' = lite's own rule")
    parser.add_argument("--profile", type=int, metavar="N", help="print the N costliest calls at the largest size")
    args = parser.parse_args()
    if args.warm < 1:
        parser.error(f"--warm={args.warm} must be >= 1")
    overrides = [f"hydra.sweeper.refit_every={args.refit_every}"] if args.refit_every else []
    if args.spe_beyond:
        overrides.append(f"hydra.sweeper.spe_beyond={'null' if args.spe_beyond == 'none' else args.spe_beyond}")
    measure(args.observations, args.pending, args.seed, args.warm, overrides, args.profile)


if __name__ == "__main__":
    main()
