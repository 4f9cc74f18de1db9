"""``TrialMemoryProbe``: does a sweep trial that failed (CUDA OOM) leave memory behind for the next one?

With the basic launcher every trial of a sweep runs in the sweep's process, on the same GPU. A failed
trial's exception carries its traceback, whose frames hold the trial's tensors (activations of the
forward pass that ran out of memory); while anything keeps that exception (or a reference cycle through
its frames) alive, the memory stays allocated and the next trial may fail for want of it. The probe
records, per trial: device memory when the trial starts (Lightning ``setup``, before the model moves to
the device) and when it fails, and whether the previous failed trial's LightningModule and Trainer
are still alive (weak references, no garbage collection forced), one JSON line per event in ``path``.

``simulated_oom_min_batch_size`` is for the CPU dry run only (no CUDA there): a trial whose train
batch is at least that large raises ``torch.cuda.OutOfMemoryError`` just before its first backward,
while its graph and activations are alive, as a real OOM would leave them.
"""

from __future__ import annotations

import gc
import json
import time
import weakref
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

_failed_trial_objects: list[weakref.ref] = []
"""Weak references to the last failed trial's LightningModule and Trainer (same process: basic launcher)."""


def live_tensor_bytes() -> int:
    """Bytes of the distinct tensor storages that Python objects still reach (gc-tracked, not collected)."""
    storages: dict[tuple[str, int], int] = {}
    for item in gc.get_objects():
        if isinstance(item, torch.Tensor) and not item.is_meta:
            storage = item.untyped_storage()
            storages[(str(item.device), storage.data_ptr())] = storage.nbytes()
    return sum(storages.values())


def device_memory(device: torch.device | None = None) -> dict[str, Any]:
    cuda = torch.cuda.is_available() and (device is None or device.type == "cuda")
    return {
        "cuda_allocated_bytes": torch.cuda.memory_allocated() if cuda else None,
        "cuda_reserved_bytes": torch.cuda.memory_reserved() if cuda else None,
        "cuda_max_allocated_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "live_tensor_bytes": live_tensor_bytes(),
    }


class TrialMemoryProbe(pl.Callback):
    def __init__(self, path: str, trial: int, simulated_oom_min_batch_size: int | None = None) -> None:
        self.path = Path(path)
        self.trial = int(trial)
        self.simulated_oom_min_batch_size = simulated_oom_min_batch_size
        self._batch_size = 0

    def _record(self, event: str, **values: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps({"trial": self.trial, "event": event, "time": time.time(), **values}) + "\n")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        alive = sum(ref() is not None for ref in _failed_trial_objects)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._record("start", previous_failed_trial_objects_alive=alive, **device_memory())

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self._batch_size = int(batch["input_ids"].shape[0])

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        limit = self.simulated_oom_min_batch_size
        if limit is not None and self._batch_size >= limit:
            raise torch.cuda.OutOfMemoryError(
                f"CUDA out of memory (simulated by TrialMemoryProbe: train batch {self._batch_size} >= "
                f"simulated_oom_min_batch_size={limit}; CPU dry run)"
            )

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        _failed_trial_objects[:] = [weakref.ref(pl_module), weakref.ref(trainer)]
        self._record("failed", exception=type(exception).__name__, batch_size=self._batch_size,
                     **device_memory(pl_module.device))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record("finished", batch_size=self._batch_size, **device_memory(pl_module.device))
