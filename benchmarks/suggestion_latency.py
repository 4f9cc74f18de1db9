"""How long the lite driver takes to suggest, at a given history size (a benchmark, not a test).

    python -m benchmarks.suggestion_latency --observations 50 200 479 --pending 19   (from the repository root)

Uses the real Table 2 space and metrics of ``conf/`` (``hparams_search=sigopt``: 18 parameters,
exact maximized with threshold 50, parameters minimized, f1 and inference time stored) and a
synthetic history: the point is the optimizer's cost, which depends on the number and shape of
observations, not on their meaning. Each size is timed twice: cold (GP hyperparameters fit from
scratch, as after a restart) and warm (the previous fit carried over, as during a sweep).
``--pending`` trials are in flight, as with 20 parallel workers. Only the plugin's public surface
(``hydra_plugins.sigopt_sweeper.api``) is used.
"""

from __future__ import annotations

import argparse
import math
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


def measure(sizes: Sequence[int], pending: int, seed: int) -> None:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hparams_search=sigopt"], return_hydra_config=True)
    space = parse_search_space(OmegaConf.to_container(cfg.search_space))
    metrics = parse_metrics([OmegaConf.to_container(metric) for metric in cfg.hydra.sweeper.metrics])
    spec = ExperimentSpec("latency", space, metrics, budget=max(sizes), parallel_bandwidth=pending + 1)
    rng = np.random.default_rng(seed)
    print(f"lite driver, {len(space.parameters)} parameters, {pending} pending trials (constant liar)")
    print(f"{'observations':>12} {'cold s':>8} {'warm s':>8}")
    for size in sizes:
        driver = LiteDriver(spec, seed=seed)
        driver.start(None)  # imports and validates outside the timing
        driver.restore(history(space, size, rng), set())
        in_flight = [synthetic_assignments(space, rng) for _ in range(pending)]
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            driver.suggest(in_flight)
            timings.append(time.perf_counter() - started)
        print(f"{size:>12} {timings[0]:>8.2f} {timings[1]:>8.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observations", type=int, nargs="+", default=[50, 200, 479])
    parser.add_argument("--pending", type=int, default=19, help="trials in flight (parallelism - 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    measure(args.observations, args.pending, args.seed)


if __name__ == "__main__":
    main()
