"""Which of the given directories are runs and which are sweeps (searched recursively, not descending into
either), and what could not be used, with the reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hydra_plugins.sigopt_sweeper.api import SWEEP_FILE_NAMES
from lightning_distill.search.report.readers import UNREADABLE
from lightning_distill.search.report.runs import RUN_FILES, Run, load_run
from lightning_distill.search.report.sweeps import Sweep, load_sweep


@dataclass
class Discovery:
    runs: list[Run] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> Discovery:
    found = Discovery()
    for root in paths:
        if not root.exists():
            found.skipped.append(f"`{root}`: does not exist")
            continue
        before = len(found.runs) + len(found.sweeps)
        for directory in _candidate_dirs(root):
            if any((directory / name).is_file() for name in SWEEP_FILE_NAMES):
                _add_sweep(found, directory)
            else:
                _add_run(found, directory)
        if len(found.runs) + len(found.sweeps) == before:
            found.skipped.append(f"`{root}`: no run (metrics.json, metrics.csv) or sweep (observations.jsonl) found in it")
    return found


def _candidate_dirs(root: Path) -> Iterable[Path]:
    """Run and sweep directories at or below ``root``, not descending into either."""
    if not root.is_dir():
        return
    if any((root / name).is_file() for name in SWEEP_FILE_NAMES + RUN_FILES) or (root / ".hydra").is_dir():
        yield root
        return
    for child in sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")):
        yield from _candidate_dirs(child)


def _add_run(found: Discovery, directory: Path) -> None:
    try:
        run = load_run(directory)
    except UNREADABLE as error:
        found.skipped.append(f"`{directory}`: unreadable run files ({type(error).__name__}: {error})")
        return
    if not run.evaluations and not run.final:
        found.skipped.append(f"`{directory}`: run without any evaluation yet (status {run.status})")
        return
    found.runs.append(run)


def _add_sweep(found: Discovery, directory: Path) -> None:
    try:
        sweep = load_sweep(directory, found.skipped)
    except UNREADABLE as error:
        found.skipped.append(f"`{directory}`: unreadable sweep files ({type(error).__name__}: {error})")
        return
    if not sweep.observations:
        found.skipped.append(f"`{directory}`: sweep without observations yet ({sweep.in_flight} trial(s) in flight)")
        return
    found.sweeps.append(sweep)
