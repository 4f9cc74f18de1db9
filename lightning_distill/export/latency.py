"""Batch-1 CPU latency of a logit function: what one request costs a deployed student.

Timed with ``time.perf_counter`` after warm-up runs (first calls allocate and pick kernels), and
summarized as median and p90 rather than a mean: a busy machine adds a long tail that the median
ignores and the p90 shows.
"""

from __future__ import annotations

import time

import numpy as np

from lightning_distill.export.onnx_model import LogitFunction
from lightning_distill.portable.model_inputs import SEGMENT_IDS

MS_PER_S = 1000.0
P90 = 90


def measure_latency(run: LogitFunction, batch: dict[str, np.ndarray], *, warmup: int, runs: int) -> dict[str, float]:
    """Milliseconds per call: ``{"median_ms", "p90_ms", "runs"}``."""
    for _ in range(warmup):
        run(batch)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(batch)
        times.append((time.perf_counter() - started) * MS_PER_S)
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, P90)), "runs": runs}


def single_input(input_ids: np.ndarray) -> dict[str, np.ndarray]:
    """A batch of one sequence, every token attended, one segment (a model without segment ids ignores them)."""
    ids = np.asarray(input_ids, dtype=np.int64)[None, :]
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), SEGMENT_IDS: np.zeros_like(ids)}
