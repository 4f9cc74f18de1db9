"""A trial's life in records: what was suggested (``Trial``), what came back from running it
(``TrialOutcome``), what the sweep records and reports (``Observation``), and why it failed.

A failure reason is one line with a category first (``cuda_oom: ...``), so the optimizer's log
and the CSV can group failures by it.
"""

from __future__ import annotations

import errno
import math
import os
from dataclasses import dataclass, field
from typing import Any

from hydra_plugins.sigopt_sweeper._metrics import Metric, MissingMetricError, non_finite, read_values

COMPLETED = "completed"
FAILED = "failed"

CUDA_OOM = "cuda_oom"
NON_FINITE_LOSS = "non_finite_loss"
WORKER_DIED = "worker_died"
EXCEPTION = "exception"
BAD_METRICS = "bad_metrics"
TIMEOUT = "timeout"
DISK = "disk"
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG)
"""OS errors of the disk, not of a trial's settings: out of space or quota, read-only, I/O error, file too big."""
DISK_MESSAGES = tuple(os.strerror(number) for number in DISK_ERRNOS)
"""The same errors as libraries that wrap them in their own exceptions say them (safetensors: "IoError(Os {
code: 28, kind: StorageFull, message: \"No space left on device\" })")."""

CUDA_OOM_MARKERS = ("CUDA out of memory", "CUDA error: out of memory", "OutOfMemoryError")
CRASHED = "crashed"
STOPPED_EARLY = "stopped_early"
"""A task may return ``{"stopped_early": "<why>", ...}`` beside its metrics: it stopped itself early (a
hopeless trial) and its values are those at stop. Observed as completed, with that reason."""
INFRASTRUCTURE_ERRORS = (
    "WorkerCrashedError",
    "NodeDiedError",
    "ObjectLostError",
    "OutOfDiskError",
    "RuntimeEnvSetupError",
    "OutOfMemoryError",
    "ActorDiedError",
)
"""Ray's exceptions (and their subclasses) for a trial lost to the infrastructure, not to its
assignments: requeued, not observed. Matched by name, since Ray may not be importable here;
``OutOfMemoryError`` only from Ray (its OOM killer), never PyTorch's (``cuda_oom``, a real failure).
An application marks its own exceptions as infrastructure with ``INFRASTRUCTURE_MARKER`` (below)."""

INFRASTRUCTURE_MARKER = "sweep_infrastructure_failure"
"""A class attribute an application sets to True on an exception of its own that means the machine or a shared
resource failed, not the trial's settings (e.g. a shared cache damaged while the sweep runs): such a trial is
requeued like one lost to Ray, never observed as failed. The plugin knows no application's exception classes."""


RANDOM_STRATEGY = "random"
"""The strategy name of a suggestion drawn at random (lite's initialization phase, a random searcher)."""


@dataclass
class Trial:
    number: int
    suggestion_id: str
    assignments: dict[str, Any]
    overrides: list[str] = field(default_factory=list)
    strategy: str | None = None
    """What served the suggestion (``Suggestion.strategy``)."""


@dataclass
class TrialOutcome:
    trial: Trial
    ok: bool
    value: Any = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    output_dir: str | None = None
    infrastructure: bool = False
    """Lost to the infrastructure (``is_infrastructure_failure``): run it again, do not observe it."""
    node: str | None = None
    """Where the trial ran, when it returned (``_trial_pool.node_name``)."""


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
    strategy: str | None = None
    """What served the trial's suggestion (``Trial.strategy``)."""
    node: str | None = None
    """The machine (Ray node) the trial ran on, when known."""

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def to_observation(outcome: TrialOutcome, metrics: tuple[Metric, ...]) -> tuple[Observation, MissingMetricError | None]:
    """The observation of a finished trial, and the error to stop the sweep with if the task returned no metric."""
    trial = outcome.trial
    duration = None
    if outcome.started_at is not None and outcome.finished_at is not None:
        duration = outcome.finished_at - outcome.started_at
    base = {
        "trial": trial.number,
        "suggestion_id": trial.suggestion_id,
        "assignments": trial.assignments,
        "duration_s": duration,
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "output_dir": outcome.output_dir,
        "strategy": trial.strategy,
        "node": outcome.node,
    }
    if not outcome.ok:
        return Observation(status=FAILED, reason=outcome.reason, **base), None
    try:
        values = read_values(metrics, outcome.value, trial.number)
    except MissingMetricError as error:
        return Observation(status=FAILED, reason=f"{BAD_METRICS}: {error}", **base), error
    except (TypeError, ValueError) as error:  # a metric that is not a number: this trial's result, not a naming mistake
        return Observation(status=FAILED, reason=f"{BAD_METRICS}: trial {trial.number}: {error}"[:500], **base), None
    returned = {str(key): _plain(value) for key, value in outcome.value.items()}
    bad = non_finite(values)
    if bad:
        return Observation(status=FAILED, reason=f"{NON_FINITE_LOSS}: non-finite {bad}", metrics=returned, **base), None
    stopped = returned.get(STOPPED_EARLY)
    reason = stopped if isinstance(stopped, str) and stopped else None
    return Observation(status=COMPLETED, values=values, metrics=returned, reason=reason, **base), None


def first_line(error: BaseException) -> str:
    """The gist of an exception for a one-line message (library errors run to many lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def failure_reason(error: BaseException) -> str:
    if isinstance(error, TrialTimeoutError):
        return str(error)
    category = failure_category(error)
    shown = disk_error(error) or error  # the OS error itself names the path, a wrapper often does not
    kind = type(shown).__name__
    message = (str(shown).strip().splitlines() or [""])[0]
    return f"{category}: {kind}: {message}"[:500]


class TrialTimeoutError(Exception):
    """A trial ran past ``hydra.sweeper.trial_timeout_s``."""


def timeout_reason(timeout_s: float) -> str:
    return f"{TIMEOUT}: the trial ran past hydra.sweeper.trial_timeout_s={timeout_s:g} s and was cancelled"


def failure_category(error: BaseException) -> str:
    kind = type(error).__name__
    if kind == TrialTimeoutError.__name__:
        return TIMEOUT
    text = f"{kind}: {error}"
    if disk_error(error) is not None:
        return DISK
    if is_infrastructure_failure(error) or kind == "TaskCancelledError":
        return WORKER_DIED
    if any(marker in text for marker in CUDA_OOM_MARKERS):
        return CUDA_OOM
    if kind == "NonFiniteLossError" or isinstance(error, FloatingPointError):
        return NON_FINITE_LOSS
    return EXCEPTION


def is_infrastructure_failure(error: BaseException) -> bool:
    """Whether ``error`` or any exception in its chain (``__cause__``, ``__context__``, Ray's
    ``cause``) is one of Ray's ``INFRASTRUCTURE_ERRORS``, matched by class name along its bases, marked by the
    application (``INFRASTRUCTURE_MARKER``), or a disk error (``disk_error``): the machine's fault, not the
    trial's settings."""
    if disk_error(error) is not None:
        return True
    for current in _chain(error):
        if getattr(current, INFRASTRUCTURE_MARKER, False) is True:
            return True
        for kind in type(current).__mro__:
            if kind.__name__ in INFRASTRUCTURE_ERRORS and (
                kind.__name__ != "OutOfMemoryError" or (kind.__module__ or "").startswith("ray")
            ):
                return True
    return False


def disk_error(error: BaseException) -> BaseException | None:
    """The exception in ``error``'s chain that says the disk failed (``DISK_ERRNOS``), if any."""
    for current in _chain(error):
        if isinstance(current, OSError) and current.errno in DISK_ERRNOS:
            return current
        if any(message in str(current) for message in DISK_MESSAGES):
            return current
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception behind it (``__cause__``, ``__context__``, Ray's ``cause``)."""
    seen: dict[int, BaseException] = {}
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen[id(current)] = current
        cause = getattr(current, "cause", None)
        todo += [current.__cause__, current.__context__, cause if isinstance(cause, BaseException) else None]
    return list(seen.values())


def _plain(value: Any) -> Any:
    """JSON-ready metric values (tensors and numpy scalars from a task become floats; a non-finite one its name,
    ``"nan"``/``"inf"``, since the journal is strict JSON and a diverged trial's unused ``val_loss`` must not stop
    the sweep)."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else str(number)
