"""AdamW as the source trains DistilBERT, built in one place for the LightningModule and the benchmarks.

The benchmarks time the same optimizer step a trial runs, so they must not build their own: a copy
once forgot the ``requires_grad`` filter and timed a different step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lightning_distill.config.checks import require_integer, require_number

NO_DECAY_SUFFIXES = ("bias", "LayerNorm.weight", "layer_norm.weight")
"""Biases and LayerNorm gains are not decayed, as in BERT's and DistilBERT's training code."""


@dataclass(frozen=True)
class OptimizerSettings:
    """AdamW + linear warm-up/decay. beta1/beta2 are passed to AdamW (the source forgot to)."""

    learning_rate: float = 5e-5
    beta1: float = 0.9
    beta2: float = 0.999
    adam_epsilon: float = 9.98e-09
    weight_decay: float = 9e-06
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        require_number("optimizer.learning_rate", self.learning_rate, above=0)
        for key in ("beta1", "beta2"):
            require_number(f"optimizer.{key}", getattr(self, key), minimum=0, below=1)
        require_number("optimizer.adam_epsilon", self.adam_epsilon, above=0)
        require_number("optimizer.weight_decay", self.weight_decay, minimum=0)
        require_integer("optimizer.warmup_steps", self.warmup_steps, minimum=0)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups of the trainable parameters: decayed, and biases/LayerNorm gains undecayed."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if name.endswith(NO_DECAY_SUFFIXES) else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_adamw(model: nn.Module, settings: OptimizerSettings, **implementation: Any) -> torch.optim.AdamW:
    """``implementation``: AdamW's own switches (``foreach``, ``fused``), which the step profiler compares."""
    return torch.optim.AdamW(
        parameter_groups(model, settings.weight_decay),
        lr=settings.learning_rate,
        betas=(settings.beta1, settings.beta2),
        eps=settings.adam_epsilon,
        **implementation,
    )
