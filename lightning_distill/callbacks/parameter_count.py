"""Trainable-parameter count of the student: the size objective of the search."""

from __future__ import annotations

import pytorch_lightning as pl

from lightning_distill.metrics import NUM_PARAMS
from lightning_distill.models.student import count_trainable_parameters


class ParameterCount(pl.Callback):
    """Counts once (the architecture does not change while training) and logs every epoch."""

    def __init__(self) -> None:
        self.num_params: int | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.num_params = count_trainable_parameters(pl_module.student)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.num_params is None:  # validation without fitting (a saved student re-scored)
            self.num_params = count_trainable_parameters(pl_module.student)
        pl_module.log(NUM_PARAMS.name, float(self.num_params))
