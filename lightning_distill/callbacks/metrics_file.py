"""``metrics.json``: the last value of every logged metric plus the per-epoch history.

Written after each validation and again when training ends (the epoch's mean training loss is
only known then), atomically, so a crashed run still leaves its last complete epoch on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytorch_lightning as pl


class MetricsFile(pl.Callback):
    def __init__(self, output_dir: str, filename: str = "metrics.json") -> None:
        self.path = Path(output_dir) / filename
        self.history: list[dict[str, float]] = []
        self.final: dict[str, float] = {}

    @staticmethod
    def _current(trainer: pl.Trainer) -> dict[str, float]:
        return {name: float(value) for name, value in trainer.callback_metrics.items()}

    def _write(self, trainer: pl.Trainer) -> None:
        self.final = {**self.final, **self._current(trainer), "epoch": trainer.current_epoch, "global_step": trainer.global_step}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".json.tmp")
        staging.write_text(json.dumps({"final": self.final, "history": self.history}, indent=2))
        os.replace(staging, self.path)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.history.append({"epoch": trainer.current_epoch, **self._current(trainer)})
        self._write(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer)
