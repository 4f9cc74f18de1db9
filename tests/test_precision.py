"""``trainer.precision``: auto per device, validated early, and the loss always in fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_teacher_cache import smoke_cfg
from test_train import compose_config

from lightning_distill.errors import ConfigError
from lightning_distill.training.distillation_loss import DistillationLoss
from lightning_distill.training.pipeline import train
from lightning_distill.training.precision import resolve_precision


def test_default_precision_is_auto_and_32_on_cpu(monkeypatch):
    cfg = compose_config([])
    assert cfg.trainer.precision == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("auto") == "32-true"


def test_auto_picks_mixed_precision_on_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert resolve_precision("auto") == "bf16-mixed"
    assert resolve_precision("auto", "cpu") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)  # T4, V100
    assert resolve_precision("auto", "gpu") == "16-mixed"
    for explicit in ("32-true", "bf16-mixed", "16-mixed"):
        assert resolve_precision(explicit) == explicit
    assert resolve_precision(32) == "32-true"


@pytest.mark.parametrize("value", ["16", "bf16-true", "fp8", "64-true"])
def test_unsupported_precision_fails_early_naming_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match=r"trainer\.precision"):
        train(smoke_cfg(tmp_path, f"trainer.precision={value}"))
    assert not (tmp_path / "cache").exists()


def test_loss_stays_fp32_under_autocast():
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(4, 50, generator=generator) * 5
    teacher = torch.randn(4, 50, generator=generator) * 5
    mask = torch.ones(4, 50, dtype=torch.long)
    mask[:, 40:] = 0
    positions = torch.tensor([0, 3, 7, 39])
    loss = DistillationLoss(temperature=2.0, soft_weight=0.7, hard_weight=0.3)
    half = student.to(torch.bfloat16)
    reference = loss(half.float(), half.float(), positions, positions, mask, teacher, teacher)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss(half, half, positions, positions, mask, teacher, teacher)
    for part in ("total", "soft", "hard"):
        assert getattr(mixed, part).dtype == torch.float32
        torch.testing.assert_close(getattr(mixed, part), getattr(reference, part), rtol=0, atol=0)


def test_bf16_mixed_smoke_run(tmp_path):
    metrics = train(smoke_cfg(tmp_path, "trainer.precision=bf16-mixed"))
    assert np.isfinite(metrics["train/loss"]) and np.isfinite(metrics["val_loss"])
