"""The LightningModule: a frozen teacher, a trainable student, the combined loss, AdamW.

The module only trains and produces logits. Turning logits into SQuAD answers and metrics is the
job of callbacks (``lightning_distill.callbacks``), so the same module serves distillation,
hard-label training (no teacher) and fine-tuning a teacher.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from lightning_distill.data.datamodule import FEATURE_INDEX, TEACHER_END, TEACHER_INPUT_IDS, TEACHER_START
from lightning_distill.errors import ConfigError, NonFiniteLossError
from lightning_distill.metrics import VAL_LOSS
from lightning_distill.portable.model_inputs import qa_logits
from lightning_distill.training.distillation_loss import DistillationLoss, LossParts
from lightning_distill.training.optimizer import OptimizerSettings, build_adamw

TEACHER_PREFIX = "teacher."



class DistillationModule(pl.LightningModule):
    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module | None,
        loss: DistillationLoss,
        optimizer: OptimizerSettings,
        teacher_segment_ids: str = "tokenizer",
    ) -> None:
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.teacher_segment_ids = teacher_segment_ids
        """How the live teacher is fed segment ids (``teacher.segment_ids``: as it was fine-tuned)."""
        if teacher is not None:
            teacher.requires_grad_(False)
            teacher.eval()
        self.loss = loss
        self.optimizer_settings = optimizer
        self.last_evaluated_step: int | None = None
        """Training step of the latest evaluation: the pipeline evaluates the final model if it is older."""

    def train(self, mode: bool = True) -> DistillationModule:
        """Train mode for the student (dropout on) and the loss; the frozen teacher always stays in eval."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def on_fit_start(self) -> None:
        """Lightning >= 2.2 keeps each module in the mode it arrives in, and ``from_pretrained``
        returns models in eval mode: without this a student (or a teacher being fine-tuned) loaded
        from a checkpoint trains with dropout off. Evaluation loops restore this mode afterwards."""
        self.train()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """The frozen teacher is the configured one, loaded again on resume: not hundreds of MB in every checkpoint."""
        state = checkpoint["state_dict"]
        for key in [key for key in state if key.startswith(TEACHER_PREFIX)]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self.teacher is not None:  # a live teacher: its current (identical, frozen) weights fill the strict load
            checkpoint["state_dict"].update({f"{TEACHER_PREFIX}{key}": value for key, value in self.teacher.state_dict().items()})

    def teacher_module_count(self) -> int:
        """How many modules are in eval mode on purpose (Lightning's eval-mode warning counts them)."""
        return 0 if self.teacher is None else sum(1 for _ in self.teacher.modules())

    def loss_parts(self, batch: dict[str, torch.Tensor]) -> LossParts:
        """Student forward + loss. Teacher logits come from the batch (the teacher-logit cache,
        see ``lightning_distill.data.teacher_logit_cache``) when it carries them, else from the live teacher."""
        start, end = qa_logits(self.student, batch)
        teacher_start = batch.get(TEACHER_START)
        teacher_end = batch.get(TEACHER_END)
        if teacher_start is None and self.teacher is not None:
            teacher_batch = {**batch, "input_ids": batch.get(TEACHER_INPUT_IDS, batch["input_ids"])}  # trimmed student vocabulary
            with torch.no_grad():
                teacher_start, teacher_end = qa_logits(self.teacher, teacher_batch, self.teacher_segment_ids)
        return self.loss(
            start,
            end,
            batch["start_positions"],
            batch["end_positions"],
            batch["attention_mask"],
            teacher_start,
            teacher_end,
        )

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> torch.Tensor:
        parts = self.loss_parts(batch)
        if not torch.isfinite(parts.total):
            raise NonFiniteLossError(
                f"training loss is {parts.total.item()} at epoch {self.current_epoch}, step "
                f"{self.global_step}: the run diverged (learning rate or temperature too high?)."
            )
        batch_size = batch["input_ids"].shape[0]
        self.log("train/loss", parts.total, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch_size)
        self.log("train/hard_loss", parts.hard, on_step=True, on_epoch=True, batch_size=batch_size)
        if parts.soft is not None:
            self.log("train/soft_loss", parts.soft, on_step=True, on_epoch=True, batch_size=batch_size)
        self.log("train/lr", self.lr_schedulers().get_last_lr()[0], on_step=True, on_epoch=False)
        return parts.total

    def validation_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> dict[str, torch.Tensor]:
        """Eval loss is the hard (gold-span) loss: comparable across students with or without a teacher."""
        start, end = qa_logits(self.student, batch)
        parts = self.loss(start, end, batch["start_positions"], batch["end_positions"], batch["attention_mask"])
        self.log(VAL_LOSS.name, parts.hard, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        outputs = {"start_logits": start.detach(), "end_logits": end.detach()}
        if FEATURE_INDEX in batch:  # batches may come sorted by length: lets the evaluation restore order
            outputs[FEATURE_INDEX] = batch[FEATURE_INDEX]
        return outputs

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.last_evaluated_step = self.trainer.global_step

    def configure_optimizers(self):
        settings = self.optimizer_settings
        optimizer = build_adamw(self.student, settings)
        total_steps = self.trainer.estimated_stepping_batches
        if not math.isfinite(total_steps):
            raise ConfigError("trainer.max_epochs or trainer.max_steps must be set for the linear schedule.")
        scheduler = get_linear_schedule_with_warmup(optimizer, settings.warmup_steps, int(total_steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
