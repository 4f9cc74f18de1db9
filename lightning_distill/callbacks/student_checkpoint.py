"""Saves the trained student (not the teacher) in Hugging Face format when training ends.

Lightning's own checkpoints would carry the frozen teacher and the optimizer state; a QA model
that plain transformers loads (and answers questions with, through the pipeline it carries) is
what a sweep keeps. The pipeline gets the run's window and answer settings, so it answers as the
run's evaluation did. The directory is written next to its final place and renamed, so it is
whole or absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn

from lightning_distill.callbacks.squad_evaluation import SquadEvaluation
from lightning_distill.models.checkpoint import save_qa_model
from lightning_distill.storage.atomic_files import staged_directory


class StudentCheckpoint(pl.Callback):
    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A run that never trains (``trainer.max_steps=0``: e.g. a pruned or trimmed teacher, untrained) is
        evaluated stand-alone and gets no ``on_train_end``: its student is saved here, once."""
        if trainer.state.fn == TrainerFn.VALIDATING and not self.dirpath.exists():
            self._save(trainer, pl_module)

    def _save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        with staged_directory(self.dirpath, replace=True) as staging:
            save_qa_model(
                pl_module.student,
                staging,
                tokenizer=getattr(datamodule, "student_tokenizer", getattr(datamodule, "tokenizer", None)),
                question_answering=_evaluation_settings(trainer),
            )


def _evaluation_settings(trainer: pl.Trainer) -> dict[str, Any]:
    """Window settings of the data and answer settings of the SQuAD evaluation, where present."""
    settings = getattr(trainer.datamodule, "settings", None)
    found = settings.as_dict() if settings is not None else {}
    for callback in trainer.callbacks:
        if isinstance(callback, SquadEvaluation):
            found.update(callback.answer_settings())
    return found
