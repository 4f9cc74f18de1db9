"""Seconds spent in training steps: what a trial cost, beside what it scored.

Summed over the optimizer's batches only (no data set-up, teacher scoring or evaluation), so two trials' costs
compare whatever their evaluation schedules; a search can store it (``strategy: store``) to weigh a front
student's score against its training cost, or to measure what early stopping saved.
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl

from lightning_distill.metrics import TRAIN_TIME


class TrainingTime(pl.Callback):
    def __init__(self) -> None:
        self.seconds = 0.0
        self._batch_start: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._batch_start is not None:
            self.seconds += time.perf_counter() - self._batch_start
            self._batch_start = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        pl_module.log(TRAIN_TIME.name, self.seconds)

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds}  # a resumed run goes on counting

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.seconds = float(state_dict.get("seconds", 0.0))
