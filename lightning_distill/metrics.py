"""Every metric a run reports, once: its name, which way is better, its unit and what logs it.

The callbacks log under these names, the loggers, the report, the held-out scores and the run's summary line read
them from here, and a search's ``metrics`` list (``conf/search/``) is checked against them before any trial runs
(an unknown name, or an objective against the metric's direction, names the key). Adding an objective metric is
therefore: an entry here, the callback that logs it, and a line in the search's file (README, "Where a change goes").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightning_distill.errors import ConfigError

MAXIMIZE, MINIMIZE = "maximize", "minimize"


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str  # MAXIMIZE or MINIMIZE: which way is better
    unit: str
    logged_by: str  # the module that logs it, for a reader looking for where a value comes from


def _squad(name: str, direction: str = MAXIMIZE, unit: str = "%") -> Metric:
    return Metric(name, direction, unit, "callbacks.squad_evaluation (squad.squad_metrics)")


EXACT = _squad("exact")
F1 = _squad("f1")
HAS_ANS_EXACT = _squad("HasAns_exact")
HAS_ANS_F1 = _squad("HasAns_f1")
NO_ANS_EXACT = _squad("NoAns_exact")
NO_ANS_F1 = _squad("NoAns_f1")
BEST_EXACT = _squad("best_exact")
BEST_F1 = _squad("best_f1")
VAL_LOSS = Metric("val_loss", MINIMIZE, "nats", "training.distillation_module")
NUM_PARAMS = Metric("num_params", MINIMIZE, "parameters", "callbacks.parameter_count")
INFERENCE_TIME = Metric("inference_time", MINIMIZE, "ms/example", "callbacks.inference_time")
INFERENCE_TIME_ONNX = Metric("inference_time_onnx", MINIMIZE, "ms", "callbacks.onnx_deployment")
ONNX_INT8_SIZE_MB = Metric("onnx_int8_size_mb", MINIMIZE, "MB", "callbacks.onnx_deployment")
TRAIN_TIME = Metric("train_time", MINIMIZE, "s", "callbacks.training_time")

REGISTRY: Mapping[str, Metric] = {
    metric.name: metric
    for metric in (
        EXACT, F1, HAS_ANS_EXACT, HAS_ANS_F1, NO_ANS_EXACT, NO_ANS_F1, BEST_EXACT, BEST_F1,
        VAL_LOSS, NUM_PARAMS, INFERENCE_TIME, INFERENCE_TIME_ONNX, ONNX_INT8_SIZE_MB, TRAIN_TIME,
    )
}  # fmt: skip

HEADLINE = (EXACT.name, F1.name, HAS_ANS_F1.name, NO_ANS_EXACT.name)
"""The SQuAD 2.0 numbers every table shows (the official script's headline plus the answerable/unanswerable split)."""
SUMMARY = (*HEADLINE, BEST_F1.name)
"""The run's one-line summary and the teacher's line."""
EVALUATION = frozenset({EXACT.name, F1.name, BEST_F1.name, HAS_ANS_F1.name, NO_ANS_EXACT.name, VAL_LOSS.name})
"""A logged dict holding any of these is an evaluation (the SigOpt logger keeps every one as a checkpoint)."""
SIZES = (NUM_PARAMS.name, ONNX_INT8_SIZE_MB.name, INFERENCE_TIME_ONNX.name)
"""What ``size_objective`` may name (``conf/size_objective/``)."""


def check_search_metrics(entries: Sequence[Any] | None, key: str = "search.metrics") -> None:
    """A search's metrics name known metrics, each optimized one in its own direction.

    A stored metric may be any name the task returns; an optimized one steers the optimizer, so a typo or a
    reversed objective there would spend the whole budget optimizing the wrong thing.
    """
    for index, entry in enumerate(entries or []):
        where = f"{key}[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{where}={entry!r} must be a mapping with a metric name, e.g. {{name: best_f1, ...}}.")
        metric = REGISTRY.get(entry["name"])
        if entry.get("strategy", "optimize") != "optimize":
            continue
        if metric is None:
            raise ConfigError(
                f"{where}.name={entry['name']!r} is not a metric this project reports; optimize one of "
                f"{sorted(REGISTRY)} (or add it to lightning_distill/metrics.py with the callback that logs it)."
            )
        if entry.get("objective") != metric.direction:
            raise ConfigError(
                f"{where}.objective={entry.get('objective')!r}: {metric.name} is better when it is "
                f"{'larger' if metric.direction == MAXIMIZE else 'smaller'}; set objective: {metric.direction}."
            )


def optimized(entries: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The entries the optimizer sees, in order (the first is the primary objective)."""
    return [entry for entry in entries if entry.get("strategy", "optimize") == "optimize"]
