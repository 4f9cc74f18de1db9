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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"
COMPLETED = "completed"
FAILED = "failed"


@dataclass
class Trial:
    number: int
    suggestion_id: str
    assignments: dict[str, Any]
    overrides: list[str] = field(default_factory=list)


@dataclass
class Observation:
    trial: int
    suggestion_id: str
    assignments: dict[str, Any]
    status: str
    values: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    duration_s: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    output_dir: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    """Everything the task returned (the configured metrics are in ``values``)."""

    @property
    def failed(self) -> bool:
        return self.status == FAILED


@dataclass
class JournalState:
    header: dict[str, Any] | None = None
    trials: dict[int, Trial] = field(default_factory=dict)
    observations: dict[int, Observation] = field(default_factory=dict)
    reported: set[int] = field(default_factory=set)
    skipped_lines: int = 0

    @property
    def pending(self) -> list[Trial]:
        """Suggested but never observed: in flight when the sweep stopped."""
        return [trial for number, trial in sorted(self.trials.items()) if number not in self.observations]

    @property
    def next_trial_number(self) -> int:
        return max(self.trials, default=-1) + 1


class Journal:
    def __init__(self, sweep_dir: Path) -> None:
        self.path = Path(sweep_dir) / JOURNAL_NAME

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def write_header(self, header: dict[str, Any]) -> None:
        self._append({"event": "sweep", **header})

    def record_suggestion(self, trial: Trial) -> None:
        self._append({"event": "suggestion", **asdict(trial)})

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
    else:
        raise ValueError(f"unknown event {event!r}")
