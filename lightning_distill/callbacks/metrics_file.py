"""``metrics.json`` and ``metrics.csv``: the final value of every metric, and one row per evaluation.

Evaluation runs every epoch or every N training steps (``trainer.val_check_interval``), so a run
has a curve of exact/f1/HasAns/NoAns and losses; ``metrics.csv`` holds that curve (one row per
evaluation, columns ``step`` (training steps done), ``epoch`` (fractional: 0.5 = half-way through
the first epoch) and every metric; every Lightning logger gets the evaluation under the same step
and epoch), ``metrics.json`` the last values (``final``) plus the same rows (``history``) and
``status`` (``running`` until training ends and the final model is evaluated, then ``finished``;
``interrupted`` after Ctrl-C, ``failed: <exception>`` when the run raised),
so that a report can tell a partial run from a finished one.
Both are written after each evaluation and again when training ends (the epoch's mean training
loss is only known then), atomically, so a crashed run still leaves its last evaluation on disk.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn

from lightning_distill.callbacks.hopeless_trial import STOPPED_EARLY, HopelessTrialStopping
from lightning_distill.storage.atomic_files import write_json_atomically, write_text_atomically

CURVE_INDEX = ("step", "epoch")
FINISHED = "finished"
AWAITING_FINAL_EVALUATION = "evaluating the final model"
ERROR_CHARACTERS = 500
"""A failure's message is kept in metrics.json up to this length (an OOM message can run to pages)."""


class MetricsFile(pl.Callback):
    def __init__(self, output_dir: str, filename: str = "metrics.json", curve_filename: str = "metrics.csv") -> None:
        self.path = Path(output_dir) / filename
        self.curve_path = Path(output_dir) / curve_filename
        self.history: list[dict[str, float]] = []
        self.final: dict[str, float] = {}
        self._steps_per_epoch: float | None = None
        self.status = "running"
        self.error: str | None = None
        self.teacher: dict[str, object] | None = None
        """The teacher's own scores on the same evaluation data (set by the pipeline; ``training/teacher_score.py``)."""

    @staticmethod
    def _current(trainer: pl.Trainer) -> dict[str, float]:
        return {name: float(value) for name, value in trainer.callback_metrics.items()}

    def last_evaluated_step(self) -> int | None:
        """Training step of the latest evaluation (None before the first)."""
        return int(self.history[-1]["step"]) if self.history else None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        batches = trainer.num_training_batches
        if batches and batches != float("inf"):
            self._steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        if trainer.ckpt_path and self.path.is_file():  # resumed (ckpt_path): the evaluations before the stop stay
            earlier = json.loads(self.path.read_text()).get("history", [])
            self.history = [row for row in earlier if row.get("step", 0) <= trainer.global_step]

    def _epochs_done(self, trainer: pl.Trainer) -> float:
        if not self._steps_per_epoch:
            return float(trainer.current_epoch)
        return round(trainer.global_step / self._steps_per_epoch, 4)

    def _write(self, trainer: pl.Trainer) -> None:
        self.final = {**self.final, **self._current(trainer), "epoch": trainer.current_epoch, "global_step": trainer.global_step}
        stopped = next((c for c in trainer.callbacks if isinstance(c, HopelessTrialStopping) and c.reason), None)
        if stopped:  # a search trial stopped as hopeless says so on disk too (Optuna's export reads it)
            self.final.update(stopped.details)
        document: dict[str, object] = {"status": self.status, "final": self.final, "history": self.history}
        if stopped:
            document[STOPPED_EARLY] = stopped.reason
        if self.teacher is not None:  # beside the student, so a weak or mis-fed teacher shows in every run
            document["teacher"] = self.teacher
        if self.error:  # what failed, for readers without the sweep's log (an exported Optuna study, the report)
            document["error"] = self.error
        write_json_atomically(self.path, document, allow_nan=True)  # a diverged run logs NaN: keep it visible
        write_text_atomically(self.curve_path, _as_csv(self.history))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Number the evaluation for every logger as this file does: Lightning uses a logged ``step``
        as the logger step (else its own count, one less: csv/metrics.csv said step 6, epoch 0 where
        this file says step 7, epoch 1.0), and the logged ``epoch`` replaces its epoch index."""
        if trainer.sanity_checking:
            return
        pl_module.log("step", float(trainer.global_step))
        pl_module.log("epoch", self._epochs_done(trainer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.history.append({**self._current(trainer), "step": trainer.global_step, "epoch": self._epochs_done(trainer)})
        if self.status == AWAITING_FINAL_EVALUATION or trainer.state.fn == TrainerFn.VALIDATING:
            self.status = FINISHED  # a stand-alone evaluation is the pipeline's last (e.g. trainer.max_steps=0: no training)
        self._write(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Lightning skips ``on_train_end`` when training stops on an exception: say so on disk."""
        self.status = "interrupted" if isinstance(exception, KeyboardInterrupt) else f"failed: {type(exception).__name__}"
        self.error = str(exception)[:ERROR_CHARACTERS] or None
        self._write(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.last_evaluated_step() == trainer.global_step or trainer.limit_val_batches == 0:
            self.status = FINISHED
        else:  # the pipeline evaluates the final model next (a step interval need not end on the last step)
            self.status = AWAITING_FINAL_EVALUATION
        self._write(trainer)


def _as_csv(rows: list[dict[str, float]]) -> str:
    columns = list(CURVE_INDEX) + sorted({key for row in rows for key in row} - set(CURVE_INDEX))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()

