"""The distillation objective for extractive QA (DistilBERT / ``run_squad_w_distillation`` form).

``soft = T² · ½ [KL(p_t^start ‖ p_s^start) + KL(p_t^end ‖ p_s^end)]`` with ``p = softmax(logits / T)``
and batch-mean KL; ``hard = ½ [CE(start) + CE(end)]`` against the gold span; the loss is
``soft_weight · soft + hard_weight · hard``. The T² factor keeps soft-target gradients on the same
scale as the hard ones when T changes (Hinton et al. 2015).

Padding positions are removed from every softmax. With fixed 384-token padding they only add a
little probability mass, but they make the loss depend on how a batch is padded; masking them
makes fixed and dynamic padding compute the same number. The loss is always computed in fp32,
even under mixed precision (autocast is disabled inside it and the logits are upcast).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lightning_distill.config.checks import require_number
from lightning_distill.errors import ConfigError

MASKED_LOGIT = -1e9
"""Stands in for -inf at padding: exp() underflows to exactly 0 without the NaNs of 0·inf in KL."""


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor
    soft: torch.Tensor | None
    hard: torch.Tensor


def mask_padding(logits: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    logits = logits.float()
    if attention_mask is None:
        return logits
    return logits.masked_fill(attention_mask == 0, MASKED_LOGIT)


def soft_target_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """T²-scaled batch-mean KL(teacher ‖ student) of temperature-softened distributions."""
    log_p_student = F.log_softmax(student / temperature, dim=-1)
    p_teacher = F.softmax(teacher / temperature, dim=-1)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature**2


@dataclass(frozen=True)
class DistillationLoss:
    """Combined soft/hard QA loss; ``soft_weight`` is ignored when there is no teacher."""

    temperature: float = 1.0
    soft_weight: float = 0.5
    hard_weight: float = 0.5

    def __post_init__(self) -> None:
        require_number("distillation.temperature", self.temperature, above=0, hint="1 = plain softmax")
        for key in ("soft_weight", "hard_weight"):
            require_number(f"distillation.{key}", getattr(self, key), minimum=0)
        if self.soft_weight == 0 and self.hard_weight == 0:
            raise ConfigError("distillation.soft_weight and distillation.hard_weight are both 0: nothing to learn.")

    def __call__(
        self,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        start_positions: torch.Tensor,
        end_positions: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        teacher_start_logits: torch.Tensor | None = None,
        teacher_end_logits: torch.Tensor | None = None,
    ) -> LossParts:
        # Under mixed precision the logits arrive in bf16/fp16: upcast, and keep autocast from
        # running the softmaxes / KL / CE in half precision again.
        with torch.autocast(start_logits.device.type, enabled=False):
            return self._fp32_loss(
                start_logits, end_logits, start_positions, end_positions, attention_mask,
                teacher_start_logits, teacher_end_logits,
            )

    def _fp32_loss(
        self,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        start_positions: torch.Tensor,
        end_positions: torch.Tensor,
        attention_mask: torch.Tensor | None,
        teacher_start_logits: torch.Tensor | None,
        teacher_end_logits: torch.Tensor | None,
    ) -> LossParts:
        start = mask_padding(start_logits, attention_mask)
        end = mask_padding(end_logits, attention_mask)
        hard = 0.5 * (F.cross_entropy(start, start_positions) + F.cross_entropy(end, end_positions))
        if teacher_start_logits is None or teacher_end_logits is None:
            return LossParts(total=hard, soft=None, hard=hard)
        teacher_start = mask_padding(teacher_start_logits, attention_mask)
        teacher_end = mask_padding(teacher_end_logits, attention_mask)
        soft = 0.5 * (
            soft_target_loss(start, teacher_start, self.temperature)
            + soft_target_loss(end, teacher_end, self.temperature)
        )
        return LossParts(total=self.soft_weight * soft + self.hard_weight * hard, soft=soft, hard=hard)
