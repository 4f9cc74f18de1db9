"""A sweep directory read back: what an application's report, plots or notebooks need of it, typed.

The journal's and the result files' formats are the sweeper's own (``_journal.py``, ``_result_files.py``); this is
the one reader of them outside the sweep, so an application never parses their keys or event names itself and a
format change stays inside the plugin. Tolerant, as a reader of a live or crashed sweep must be: a missing file is
empty, a torn line is skipped and named in ``unreadable``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra_plugins.sigopt_sweeper._journal import JOURNAL_NAME
from hydra_plugins.sigopt_sweeper._result_files import OBSERVATIONS_JSONL, PARETO_JSON
from hydra_plugins.sigopt_sweeper._trial import COMPLETED, RANDOM_STRATEGY

SWEEP_FILE_NAMES = (OBSERVATIONS_JSONL, JOURNAL_NAME)
"""A directory holding either is a sweep directory."""
LITE_RANDOM_FACTOR, LITE_RANDOM_MINIMUM = 2, 4
"""sigoptlite serves random points while its valid observations are <= max(2 x dimensions, 4)
(``sigoptlite/broker.py``, ``is_initialization_phase``)."""
MODEL_STRATEGY = "model (gp or spe)"
"""The phase :func:`infer_lite_phases` gives a lite suggestion past the random phase (GP and SPE not told apart)."""


@dataclass(frozen=True)
class SweepFiles:
    directory: Path
    observations: list[dict[str, Any]]
    """``observations.jsonl``'s records, as written (``api.Observation`` fields, plus ``finished_at``)."""
    pareto: dict[str, Any] | None
    """``pareto.json``: metrics, frontier, counts, baseline; None before the sweep wrote one."""
    budget: int | None
    suggested: frozenset[int]
    """Trial numbers suggested (journal) or observed: more than the observations while trials are in flight."""
    inferred_strategies: dict[int, str] = field(default_factory=dict)
    """Per trial, lite's phase read off the journal where the sweep predates recorded strategies."""
    unreadable: list[str] = field(default_factory=list)
    """Lines skipped as unreadable (a crash tears at most the last line of a file)."""


def read_sweep(directory: str | Path) -> SweepFiles:
    directory = Path(directory)
    unreadable: list[str] = []
    observations = _read_jsonl(directory / OBSERVATIONS_JSONL, unreadable)
    pareto_path = directory / PARETO_JSON
    pareto = json.loads(pareto_path.read_text()) if pareto_path.is_file() else None
    journal = _read_jsonl(directory / JOURNAL_NAME, unreadable)
    header = next((record for record in journal if record.get("event") == "sweep"), {})
    suggested = {record.get("number") for record in journal if record.get("event") == "suggestion"}
    suggested |= {record.get("trial") for record in observations}
    budget = header.get("experiment", {}).get("observation_budget", header.get("budget"))
    return SweepFiles(directory, observations, pareto, budget if isinstance(budget, int) else None,
                      frozenset(number for number in suggested if isinstance(number, int)),
                      infer_lite_phases(journal, header), unreadable)  # fmt: skip


def infer_lite_phases(journal: Sequence[dict[str, Any]], header: dict[str, Any]) -> dict[int, str]:
    """Per suggested trial of a lite sweep, ``random`` or ``MODEL_STRATEGY``: the completed observations
    journaled before its suggestion against lite's rule (pending trials' lies are only added after the phase),
    silent on GP vs SPE. Exact for sweeps that suggest one trial at a time; with prefetching (Ray) a suggestion
    is computed before observations journaled ahead of it, so at the boundary the phase can read one trial
    late. Empty for other drivers."""
    if header.get("driver") != "lite":
        return {}
    limit = max(LITE_RANDOM_FACTOR * len(header.get("experiment", {}).get("parameters", [])), LITE_RANDOM_MINIMUM)
    valid, phases = 0, {}
    for record in journal:
        if record.get("event") == "observation" and record.get("status") == COMPLETED:
            valid += 1
        elif record.get("event") == "suggestion" and isinstance(record.get("number"), int):
            phases[record["number"]] = RANDOM_STRATEGY if valid <= limit else MODEL_STRATEGY
    return phases


def _read_jsonl(path: Path, unreadable: list[str]) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            unreadable.append(f"`{path}` line {number}: unreadable (torn by a crash?)")
    return records
