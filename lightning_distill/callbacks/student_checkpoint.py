"""Saves the trained student (not the teacher) in Hugging Face format when training ends.

Lightning's own checkpoints would carry the frozen teacher and the optimizer state; a QA model
that users can load with ``lightning_distill.models.checkpoint.load_qa_model`` is what a sweep keeps.
The directory is written next to its final place and renamed, so it is whole or absent.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl

from lightning_distill.atomic_files import staged_directory
from lightning_distill.models.checkpoint import save_qa_model


class StudentCheckpoint(pl.Callback):
    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        with staged_directory(self.dirpath, replace=True) as staging:
            save_qa_model(pl_module.student, staging, tokenizer=getattr(trainer.datamodule, "tokenizer", None))
