"""The checkpoint an interrupted single run resumes from (``ckpt_path=last``), as Lightning users expect.

A ``ModelCheckpoint`` that keeps one ``last.ckpt`` (student, optimizer, schedule, loop state) in the run
directory, written every ``every_n_train_steps`` steps and at each epoch's end, so
``python train.py <the same overrides> hydra.run.dir=<the run's directory> ckpt_path=last`` continues where the
run stopped: the step count, learning-rate schedule and optimizer state exactly. Its limit is Lightning's: a train
DataLoader keeps no position, so a resume in the middle of an epoch draws that epoch's batches afresh (some seen
twice, some not at all); a resume at an epoch's end is exact. The frozen teacher is left out of it (``DistillationModule.on_save_checkpoint``): it is the
configured teacher, loaded again. When the run finishes the file is deleted: the trained student is saved in
Hugging Face format (``student/``), and a finished run has nothing to resume.

Single runs only (``active: ${single_run:}``): a sweep re-runs an interrupted trial in a fresh attempt folder,
and a few hundred MB per trial would fill a sweep's disk for nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_distill.config.checks import require_bool, require_integer

log = logging.getLogger(__name__)

LAST = "last"


class ResumeCheckpoint(ModelCheckpoint):
    LAST_NAME = LAST
    """``ckpt_path=last``: resume from this callback's ``last.ckpt``."""

    def __init__(self, dirpath: str, every_n_train_steps: int = 100, active: bool = True) -> None:
        require_bool("callbacks.resume_checkpoint.active", active)
        require_integer("callbacks.resume_checkpoint.every_n_train_steps", every_n_train_steps, minimum=1)
        super().__init__(dirpath=dirpath, save_last=True, save_top_k=0, every_n_train_steps=every_n_train_steps,
                         enable_version_counter=False)  # fmt: skip
        self.active = active

    @property
    def last_path(self) -> Path:
        return Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if self.active:
            super().on_train_batch_end(trainer, *args, **kwargs)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """``last.ckpt`` at every epoch's end: with ``save_top_k=0`` ModelCheckpoint's own epoch-end hook never saves
        (it writes "last" only after a top-k save at the same step), so a short run would keep none."""
        if self.active and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """No save here: the step schedule and the epoch's end cover a run (see :meth:`on_train_epoch_end`)."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A run that trained to its end has nothing to resume: free the disk (an interrupted one keeps it)."""
        if self.active and not trainer.interrupted and self.last_path.is_file():
            self.last_path.unlink()
            log.info("Training finished: removed the resume checkpoint %s", self.last_path)
