"""A sweep in simulated time: ``parallelism`` asynchronous workers, no sleeping.

It drives a contender as the sweeper drives a driver (``hydra_plugins.sigopt_sweeper._sweep``):
the first ``parallelism`` suggestions are asked one after another, each knowing the ones before it
as pending; from then on, whenever the trial that finishes first (in simulated time) is observed,
its worker is given the next suggestion, asked with every trial still in flight as pending (the
constant liar's input). Suggestions are computed at the moment a worker frees up; the sweeper's
prefetch computes them while trials run, which saves wall time but sees the same pending trials.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from benchmarks.search.problems import Outcome, Problem


class Contender(Protocol):
    """A search strategy behind the sweeper's ask/observe cycle."""

    def ask(self, pending: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Assignments for a free worker; ``pending``: those of the trials in flight, oldest first."""

    def tell(self, assignments: dict[str, Any], outcome: Outcome) -> None:
        """A trial of ``assignments`` (asked earlier) finished with ``outcome``."""


@dataclass
class Record:
    """One trial, in the order trials finished."""

    trial: int
    assignments: dict[str, Any]
    outcome: Outcome
    started: float
    finished: float


@dataclass
class SearchRun:
    records: list[Record] = field(default_factory=list)
    optimizer_wall_s: float = 0.0
    """Wall time spent in the contender's ask and tell."""
    optimizer_cpu_s: float = 0.0
    """CPU time of this process spent there (robust to other load on the machine)."""


def run_search(
    contender: Contender, problem: Problem, budget: int, parallelism: int, rng: np.random.Generator
) -> SearchRun:
    """``budget`` trials of ``problem``, at most ``parallelism`` at once; ``rng`` draws the noise."""
    if budget < 1 or parallelism < 1:
        raise ValueError(f"budget={budget} and parallelism={parallelism} must be >= 1")
    run = SearchRun()
    in_flight: list[tuple[float, int, dict[str, Any], Outcome, float]] = []  # heap on finish time
    started = 0
    clock = 0.0

    def launch() -> None:
        nonlocal started
        pending = [assignments for *_, assignments, _, _ in sorted(in_flight, key=lambda item: item[1])]
        assignments = _timed(run, contender.ask, pending)
        outcome = problem.evaluate(assignments, rng)
        heapq.heappush(in_flight, (clock + outcome.duration, started, assignments, outcome, clock))
        started += 1

    while started < min(parallelism, budget):
        launch()
    while in_flight:
        clock, trial, assignments, outcome, began = heapq.heappop(in_flight)
        _timed(run, contender.tell, assignments, outcome)
        run.records.append(Record(trial, assignments, outcome, began, clock))
        if started < budget:
            launch()
    return run


def _timed(run: SearchRun, call: Callable[..., Any], *args: Any) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return call(*args)
    finally:
        run.optimizer_wall_s += time.perf_counter() - wall
        run.optimizer_cpu_s += time.process_time() - cpu
