"""Append-only journal of a sweep: the single source of truth for resuming after a crash.

Every suggestion is written (and fsynced) before its trial starts, and every observation before it
is reported to SigOpt. On restart the journal tells which trials finished (never re-run), which
were in flight (re-run with the same assignments) and which observations the service may not have
seen yet. A line torn by a crash, or otherwise unreadable, is skipped with a warning: losing one
record costs at most one trial, refusing the whole journal would cost the sweep.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._trial import COMPLETED, FAILED, Observation, Trial

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"


@dataclass
class JournalState:
    header: dict[str, Any] | None = None
    trials: dict[int, Trial] = field(default_factory=dict)
    observations: dict[int, Observation] = field(default_factory=dict)
    reported: set[int] = field(default_factory=set)
    starts: Counter[int] = field(default_factory=Counter)
    """Times each trial was started (submitted to the pool)."""
    requeued: Counter[int] = field(default_factory=Counter)
    """Times each trial was lost to an infrastructure failure and put back to run again."""
    skipped_lines: int = 0

    @property
    def pending(self) -> list[Trial]:
        """Suggested but never observed: in flight when the sweep stopped."""
        return [trial for number, trial in sorted(self.trials.items()) if number not in self.observations]

    def unfinished_starts(self, trial: int) -> int:
        """Starts that ended with no record: the trial was in flight when the sweep process died."""
        return self.starts[trial] - self.requeued[trial]

    @property
    def next_trial_number(self) -> int:
        return max(self.trials, default=-1) + 1


def sweep_header(driver: str, experiment_id: str, spec: ExperimentSpec) -> dict[str, Any]:
    """What a resumed sweep must agree with: the driver, the experiment and the fixed overrides."""
    return {
        "driver": driver,
        "experiment_id": experiment_id,
        "experiment": spec.to_sigopt(),
        "fixed": [list(entry) for entry in spec.space.fixed],
    }


class Journal:
    def __init__(self, sweep_dir: Path) -> None:
        self.path = Path(sweep_dir) / JOURNAL_NAME
        self._terminated = False

    def _terminate_torn_line(self) -> None:
        """End a last line torn by a crash, so the next record starts a line of its own (once per run)."""
        if self.path.is_file() and self.path.stat().st_size:
            with self.path.open("rb+") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    log.warning("%s: its last line was torn by a crash; ending it before appending", self.path)
                    handle.write(b"\n")
        self._terminated = True

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        if not self._terminated:
            self._terminate_torn_line()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def write_header(self, header: dict[str, Any]) -> None:
        self._append({"event": "sweep", **header})

    def record_suggestion(self, trial: Trial) -> None:
        self._append({"event": "suggestion", **asdict(trial)})

    def record_started(self, trial: int) -> None:
        self._append({"event": "started", "trial": trial})

    def record_requeued(self, trial: int, reason: str) -> None:
        self._append({"event": "requeued", "trial": trial, "reason": reason})

    def record_observation(self, observation: Observation) -> None:
        self._append({"event": "observation", **asdict(observation)})

    def record_reported(self, trial: int, observation_id: str | None = None) -> None:
        self._append({"event": "reported", "trial": trial, "observation_id": observation_id})

    def load(self) -> JournalState:
        state = JournalState()
        if not self.path.is_file():
            return state
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    _apply(state, json.loads(line))
                except (ValueError, KeyError, TypeError) as error:
                    state.skipped_lines += 1
                    log.warning("%s:%d: skipping unreadable journal line (%s): %.120s", self.path, number, error, line)
        return state

    def state_to_resume(self, spec: ExperimentSpec, driver: str, *, resume: bool) -> JournalState:
        """What a sweep of ``spec`` in this directory starts from: nothing, or (with ``resume``) the journal.

        A journal is never overwritten, nor resumed by another driver or with other parameters or metrics.
        """
        if not self.exists():
            if resume:
                raise SweepConfigError(
                    f"hydra.sweeper.resume=true, but {self.path.parent} holds no sweep journal ({JOURNAL_NAME}): set "
                    "hydra.sweep.dir to the directory of the sweep to continue (the default one is new each run), "
                    "or drop resume=true to start a new sweep."
                )
            return JournalState()
        state = self.load()
        if not resume:
            raise SweepConfigError(
                f"{self.path.parent} already holds a sweep journal ({len(state.observations)} observations). Pass "
                "hydra.sweeper.resume=true to continue it, or choose another hydra.sweep.dir; nothing was overwritten."
            )
        header = state.header
        if header is None:
            raise SweepConfigError(
                f"{self.path} has no readable sweep header (its first line), so this run cannot tell which "
                "experiment, driver and settings it continues; resuming would start a second experiment. Restore "
                "the line from a backup, or start a new sweep in another hydra.sweep.dir."
            )
        if header["driver"] != driver:
            raise SweepConfigError(
                f"{self.path} was written by the {header['driver']} driver, this run uses {driver}; "
                f"set hydra.sweeper.driver={header['driver']} to resume it."
            )
        recorded, current = header["experiment"], spec.to_sigopt()
        for key in ("parameters", "metrics"):
            if recorded[key] != current[key]:
                raise SweepConfigError(
                    f"hydra.sweeper {key} differ from the journaled sweep in {self.path}; resume with the same "
                    "search space and metrics, or start a new sweep in another hydra.sweep.dir."
                )
        fixed, now = dict(map(tuple, header.get("fixed", []))), dict(spec.space.fixed)
        changed = {
            key: (fixed.get(key), now.get(key)) for key in sorted({*fixed, *now}) if fixed.get(key) != now.get(key)
        }
        if changed:
            listed = ", ".join(f"{key}: journaled {old!r}, now {new!r}" for key, (old, new) in changed.items())
            raise SweepConfigError(
                f"the fixed overrides differ from the journaled sweep in {self.path} ({listed}); trials of one sweep "
                "must share them. Resume with the same overrides, or start a new sweep in another hydra.sweep.dir."
            )
        return state


def _apply(state: JournalState, record: dict[str, Any]) -> None:
    event = record.pop("event")
    if event == "sweep":
        state.header = record
    elif event == "suggestion":
        trial = Trial(**record)
        state.trials[trial.number] = trial
    elif event == "observation":
        observation = Observation(**record)
        if observation.status not in (COMPLETED, FAILED):
            raise ValueError(f"unknown status {observation.status!r}")
        state.trials.setdefault(
            observation.trial, Trial(observation.trial, observation.suggestion_id, observation.assignments)
        )
        state.observations[observation.trial] = observation
    elif event == "reported":
        state.reported.add(int(record["trial"]))
    elif event == "started":
        state.starts[int(record["trial"])] += 1
    elif event == "requeued":
        state.requeued[int(record["trial"])] += 1
    else:
        raise ValueError(f"unknown event {event!r}")
