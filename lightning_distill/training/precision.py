"""``trainer.precision``: Lightning's precision setting, with ``auto`` picking per device.

``auto`` = ``bf16-mixed`` on a CUDA GPU that supports bfloat16 (Ampere and newer), ``16-mixed`` on
an older CUDA GPU (T4, V100: fp16 autocast with a gradient scaler), ``32-true`` otherwise. On CPU, bf16
autocast was measured on an avx512_bf16 CPU (docs/results/bf16-cpu/): the objective stayed within seed noise,
but a training step was ~1.6x slower, so ``auto`` keeps fp32 there. Mixed precision only
runs the models' matrix products in half precision; the weights, the optimizer and the
distillation loss stay in fp32 (``DistillationLoss`` disables autocast and upcasts the logits).
"""

from __future__ import annotations

import torch

from lightning_distill.config.checks import require_choice

AUTO = "auto"
PRECISIONS = (AUTO, "32-true", "bf16-mixed", "16-mixed")
"""What a run may ask for. Pure half precision (``bf16-true``/``16-true``) would also keep the weights
and optimizer state in half precision, which changes what is trained; it is not offered."""
CPU_ACCELERATORS = ("cpu",)


def resolve_precision(precision: object, accelerator: str = AUTO) -> str:
    """The Lightning precision string for ``trainer.precision`` on this machine."""
    value = str(precision)
    if value == "32":
        value = "32-true"
    require_choice("trainer.precision", value, PRECISIONS)
    if value != AUTO:
        return value
    if accelerator in CPU_ACCELERATORS or not torch.cuda.is_available():
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
