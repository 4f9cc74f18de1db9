"""Append-only journal of a sweep: the single source of truth for resuming after a crash.

Every suggestion is written (and fsynced) before its trial starts, and every observation before it
is reported to SigOpt. On restart the journal tells which trials finished (never re-run), which
were in flight (re-run with the same assignments) and which observations the service may not have
seen yet. A line torn by a crash (not JSON) is skipped with a warning: losing one record costs at
most one trial, refusing the whole journal would cost the sweep. A record that is JSON but of the
wrong shape (hand-edited, or written by something else) is one clear error naming the line, since
guessing what it meant could resume a different sweep; a repeated observation of a trial keeps the
first and warns.

A trial's ``started`` records count its attempts; one that ended because the user stopped the
sweep (``interrupted``: Ctrl-C, SIGTERM) or because the infrastructure lost it (``requeued``) was
no attempt of the trial's own, so neither counts towards ``max_attempts``.
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
from hydra_plugins.sigopt_sweeper._warm_start import WarmStart

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
    interrupted: Counter[int] = field(default_factory=Counter)
    """Times each trial was in flight when the user stopped the sweep (SIGINT/SIGTERM)."""
    skipped_lines: int = 0
    warm: WarmStart | None = None
    """The warm start the sweep began with (its header's ``warm_start``), None if it had none."""

    @property
    def pending(self) -> list[Trial]:
        """Suggested but never observed: in flight when the sweep stopped."""
        return [trial for number, trial in sorted(self.trials.items()) if number not in self.observations]

    def unfinished_starts(self, trial: int) -> int:
        """Starts that ended with no record: the trial was in flight when the sweep process died."""
        return self.starts[trial] - self.requeued[trial] - self.interrupted[trial]

    @property
    def next_trial_number(self) -> int:
        return max(self.trials, default=-1) + 1


def sweep_header(driver: str, experiment_id: str, spec: ExperimentSpec, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a resumed sweep must agree with: the driver, the experiment, the fixed overrides and the inputs."""
    return {
        "driver": driver,
        "experiment_id": experiment_id,
        "experiment": spec.to_sigopt(),
        "fixed": [list(entry) for entry in spec.space.fixed],
        "inputs": dict(inputs or {}),
    }


def _by_name(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(entry.get("name")): entry for entry in entries}


def _differences(recorded: dict[str, Any], current: dict[str, Any], key: str) -> str:
    """Which named parameters or metrics a resume changed: added, removed, or changed (old -> new)."""
    old, new = _by_name(recorded.get(key, [])), _by_name(current.get(key, []))
    parts = [f"{name}: {'added' if name not in old else 'removed' if name not in new else f'{old[name]} -> {new[name]}'}"
             for name in sorted({*old, *new}) if old.get(name) != new.get(name)]  # fmt: skip
    if not parts and recorded.get(key) != current.get(key):
        parts = ["their order"]
    return "; ".join(parts)


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

    def record_interrupted(self, trial: int, signal_name: str) -> None:
        self._append({"event": "interrupted", "trial": trial, "signal": signal_name})

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
                    record = json.loads(line)
                except ValueError as error:
                    state.skipped_lines += 1
                    log.warning("%s:%d: skipping unreadable journal line (%s): %.120s", self.path, number, error, line)
                    continue
                try:
                    _apply(state, check_record(record))
                except BadRecordError as error:
                    raise SweepConfigError(
                        f"{self.path}:{number}: {error}. The journal was edited or written by something else; fix or "
                        "delete that line (a deleted observation's trial runs again), or start a new sweep in "
                        "another hydra.sweep.dir."
                    ) from None
                except DuplicateRecordError as error:
                    log.warning("%s:%d: %s; keeping the first", self.path, number, error)
        return state

    def state_to_resume(
        self, spec: ExperimentSpec, driver: str, *, resume: bool, inputs: dict[str, Any] | None = None
    ) -> JournalState:
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
        header = state.header
        if header is None:  # the same answer with or without resume=true: no circle between the two messages
            raise SweepConfigError(
                f"{self.path} has no readable sweep header (its first line), so no run can tell which experiment, "
                f"driver and settings it would continue, and this sweep cannot be resumed. Keep its "
                f"{len(state.observations)} observations by starting a new sweep in another hydra.sweep.dir with "
                f"hydra.sweeper.warm_start=[{self.path.parent}] (nothing here was overwritten)."
            )
        if not resume:
            raise SweepConfigError(
                f"{self.path.parent} already holds a sweep journal ({len(state.observations)} observations). Pass "
                "hydra.sweeper.resume=true to continue it, or choose another hydra.sweep.dir; nothing was overwritten."
            )
        if header["driver"] != driver:
            raise SweepConfigError(
                f"{self.path} was written by the {header['driver']} driver, this run uses {driver}; "
                f"set hydra.sweeper.driver={header['driver']} to resume it."
            )
        recorded, current = header["experiment"], spec.to_sigopt()
        for key, setting in (("parameters", "params"), ("metrics", "metrics")):
            if recorded[key] != current[key]:
                raise SweepConfigError(
                    f"hydra.sweeper.{setting} differ from the journaled sweep in {self.path} "
                    f"({_differences(recorded, current, key)}); resume with the same search space and metrics, or "
                    "start a new sweep in another hydra.sweep.dir."
                )
        self._check_inputs(header.get("inputs"), dict(inputs or {}))
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

    def _check_inputs(self, recorded: dict[str, Any] | None, current: dict[str, Any]) -> None:
        """The trials of one sweep read the same inputs (``hydra.sweeper.inputs``); a journal from before they were
        recorded is resumed with a warning."""
        if recorded is None:
            if current:
                log.warning("%s predates hydra.sweeper.inputs: its trials' inputs cannot be checked on resume", self.path)
            return
        changed = [f"hydra.sweeper.inputs.{key}: journaled {recorded.get(key)!r}, now {current.get(key)!r}"
                   for key in sorted({*recorded, *current}) if recorded.get(key) != current.get(key)]  # fmt: skip
        if changed:
            raise SweepConfigError(
                f"what the trials read changed since the sweep in {self.path} started ({'; '.join(changed)}): resumed, "
                "its front would mix trials trained or scored on different inputs. Restore them (e.g. the data "
                "directory or teacher it started with), or start a new sweep in another hydra.sweep.dir."
            )


class BadRecordError(ValueError):
    """A journal record of the wrong shape."""


class DuplicateRecordError(ValueError):
    """A second observation of an observed trial: ignorable, the first stands."""


NUMBER = (int, float)
RECORD_FIELDS: dict[str, dict[str, tuple[type, ...] | str]] = {
    "sweep": {"driver": (str,), "experiment_id": (str,), "experiment": (dict,), "fixed": (list,), "warm_start": (dict,),
              "inputs": (dict,)},
    "suggestion": {"number": "trial", "suggestion_id": (str,), "assignments": (dict,), "overrides": (list,),
                   "strategy": (str, type(None))},
    "observation": {
        "trial": "trial", "suggestion_id": (str,), "assignments": (dict,), "status": (str,), "values": "numbers",
        "reason": (str, type(None)), "duration_s": (*NUMBER, type(None)), "started_at": (*NUMBER, type(None)),
        "finished_at": (*NUMBER, type(None)), "output_dir": (str, type(None)), "metrics": (dict,),
        "strategy": (str, type(None)), "node": (str, type(None)),
    },
    "reported": {"trial": "trial", "observation_id": (str, type(None))},
    "started": {"trial": "trial"},
    "requeued": {"trial": "trial", "reason": (str,)},
    "interrupted": {"trial": "trial", "signal": (str,)},
}  # fmt: skip
"""Per event, its fields and their types; "trial": an integer >= 0, "numbers": {name: number}."""
OPTIONAL_FIELDS = {"overrides", "values", "reason", "duration_s", "started_at", "finished_at", "output_dir", "metrics",
                   "observation_id", "fixed", "signal", "strategy", "warm_start", "inputs", "node"}  # fmt: skip


def check_record(record: Any) -> dict[str, Any]:
    """``record`` if every field has its type; a ``BadRecordError`` naming the first that does not."""
    if not isinstance(record, dict) or record.get("event") not in RECORD_FIELDS:
        event = record.get("event") if isinstance(record, dict) else None
        raise BadRecordError(f"not a journal record (event {event!r}; known: {sorted(RECORD_FIELDS)})")
    event = record["event"]
    fields = RECORD_FIELDS[event]
    unknown = sorted(set(record) - set(fields) - {"event"})
    if unknown:
        raise BadRecordError(f"{event} record has unknown fields {unknown}")
    for name, kind in fields.items():
        if name not in record:
            if name in OPTIONAL_FIELDS:
                continue
            raise BadRecordError(f"{event} record lacks {name!r}")
        _check_field(event, name, record[name], kind)
    if event == "observation" and record["status"] not in (COMPLETED, FAILED):
        raise BadRecordError(f"observation status={record['status']!r} must be {COMPLETED!r} or {FAILED!r}")
    return record


def _check_field(event: str, name: str, value: Any, kind: tuple[type, ...] | str) -> None:
    if kind == "trial":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadRecordError(f"{event} field {name}={value!r} must be an integer trial number >= 0")
    elif kind == "numbers":
        if not isinstance(value, dict):
            raise BadRecordError(f"{event} field {name}={value!r} must map metric names to numbers")
        for metric, number in value.items():
            if not isinstance(number, NUMBER) or isinstance(number, bool):
                raise BadRecordError(f"{event} field {name}.{metric}={number!r} must be a number")
    elif not isinstance(value, kind) or (isinstance(value, bool) and bool not in kind):
        expected = " or ".join("null" if k is type(None) else k.__name__ for k in kind)
        raise BadRecordError(f"{event} field {name}={value!r} must be {expected}")


def _apply(state: JournalState, record: dict[str, Any]) -> None:
    record = dict(record)
    event = record.pop("event")
    if event == "sweep":
        state.header = record
        if "warm_start" in record:
            try:
                state.warm = WarmStart.from_record(record["warm_start"])
            except (TypeError, KeyError) as error:
                raise BadRecordError(f"sweep record's warm_start is of the wrong shape ({error})") from None
    elif event == "suggestion":
        trial = Trial(**record)
        state.trials[trial.number] = trial
    elif event == "observation":
        observation = Observation(**record)
        if observation.trial in state.observations:
            raise DuplicateRecordError(f"a second observation of trial {observation.trial}")
        suggested = state.trials.setdefault(
            observation.trial,
            Trial(observation.trial, observation.suggestion_id, observation.assignments, strategy=observation.strategy),
        )
        if observation.strategy is None:
            observation.strategy = suggested.strategy
        state.observations[observation.trial] = observation
    elif event == "reported":
        state.reported.add(record["trial"])
    elif event == "started":
        state.starts[record["trial"]] += 1
    elif event == "requeued":
        state.requeued[record["trial"]] += 1
    elif event == "interrupted":
        state.interrupted[record["trial"]] += 1

