"""One line saying why a trial failed, with a category the optimizer's log and the CSV can group by."""

from __future__ import annotations

CUDA_OOM = "cuda_oom"
NON_FINITE_LOSS = "non_finite_loss"
WORKER_DIED = "worker_died"
EXCEPTION = "exception"
BAD_METRICS = "bad_metrics"

CUDA_OOM_MARKERS = ("CUDA out of memory", "CUDA error: out of memory", "OutOfMemoryError")
WORKER_DEATH_TYPES = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "ActorDiedError", "TaskCancelledError")


def failure_reason(error: BaseException) -> str:
    kind = type(error).__name__
    message = (str(error).strip().splitlines() or [""])[0]
    return f"{failure_category(error)}: {kind}: {message}"[:500]


def failure_category(error: BaseException) -> str:
    kind = type(error).__name__
    text = f"{kind}: {error}"
    module = type(error).__module__ or ""
    if module.startswith("ray") and kind in WORKER_DEATH_TYPES:
        return WORKER_DIED
    if any(marker in text for marker in CUDA_OOM_MARKERS):
        return CUDA_OOM
    if kind == "NonFiniteLossError" or isinstance(error, FloatingPointError):
        return NON_FINITE_LOSS
    return EXCEPTION
