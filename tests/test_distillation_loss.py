"""The distillation loss on hand-made logits: KL direction, T² scaling, weights, padding."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_distill.errors import ConfigError
from lightning_distill.training.distillation_loss import DistillationLoss

GOLD = torch.tensor([0])


def kl(p: list[float], q: list[float]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def softmax(logits: list[float], temperature: float = 1.0) -> list[float]:
    exps = [math.exp(value / temperature) for value in logits]
    return [value / sum(exps) for value in exps]


def loss_for(student, teacher, **settings):
    loss = DistillationLoss(**settings)
    s, t = torch.tensor([student]), torch.tensor([teacher])
    return loss(s, s, GOLD, GOLD, None, t, t)


def test_soft_loss_is_kl_teacher_to_student_by_hand():
    # teacher p = [0.75, 0.25], student q = [0.5, 0.5]
    parts = loss_for([0.0, 0.0], [math.log(3.0), 0.0], temperature=1.0)
    assert parts.soft.item() == pytest.approx(kl([0.75, 0.25], [0.5, 0.5]), rel=1e-6)
    assert parts.soft.item() == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-6)


def test_identical_logits_give_zero_soft_loss():
    assert loss_for([1.0, -2.0, 0.5], [1.0, -2.0, 0.5]).soft.item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 7.5])
def test_temperature_softens_and_scales_by_t_squared(temperature):
    student, teacher = [0.3, -1.0, 2.0], [2.0, 0.0, -1.0]
    expected = temperature**2 * kl(softmax(teacher, temperature), softmax(student, temperature))
    assert loss_for(student, teacher, temperature=temperature).soft.item() == pytest.approx(expected, rel=1e-5)


def test_start_and_end_are_averaged_and_batch_is_meaned():
    loss = DistillationLoss(temperature=1.0)
    student = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    teacher_start = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    teacher_end = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    parts = loss(student, student, torch.tensor([0, 0]), torch.tensor([0, 0]), None, teacher_start, teacher_end)
    per_example_start = [kl([0.75, 0.25], [0.5, 0.5]), 0.0]
    assert parts.soft.item() == pytest.approx(0.5 * (sum(per_example_start) / 2 + 0.0), rel=1e-6)


def test_hard_loss_and_weights():
    # uniform over 2 positions: CE = ln 2 for start and end
    parts = loss_for([0.0, 0.0], [math.log(3.0), 0.0], soft_weight=0.3, hard_weight=0.9)
    assert parts.hard.item() == pytest.approx(math.log(2.0), rel=1e-6)
    assert parts.total.item() == pytest.approx(0.3 * parts.soft.item() + 0.9 * math.log(2.0), rel=1e-6)


def test_without_teacher_the_loss_is_the_hard_loss():
    loss = DistillationLoss(soft_weight=0.5, hard_weight=0.5)
    logits = torch.tensor([[0.0, 0.0]])
    parts = loss(logits, logits, GOLD, GOLD)
    assert parts.soft is None
    assert parts.total.item() == pytest.approx(math.log(2.0), rel=1e-6)


def test_padding_positions_do_not_change_the_loss():
    """Fixed (padded) and dynamic (unpadded) batches must give the same number."""
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5), torch.randn(2, 5)
    gold = torch.tensor([1, 4])
    loss = DistillationLoss(temperature=3.0, soft_weight=0.7, hard_weight=0.4)
    unpadded = loss(student, student, gold, gold, torch.ones(2, 5), teacher, teacher)
    pad = torch.randn(2, 3) * 10  # arbitrary logits at padding
    mask = torch.cat([torch.ones(2, 5), torch.zeros(2, 3)], dim=1)
    padded = loss(
        torch.cat([student, pad], 1), torch.cat([student, pad], 1), gold, gold, mask,
        torch.cat([teacher, -pad], 1), torch.cat([teacher, -pad], 1),
    )
    for name in ("total", "soft", "hard"):
        assert getattr(padded, name).item() == pytest.approx(getattr(unpadded, name).item(), rel=1e-6)


def test_loss_is_fp32_for_half_precision_logits():
    logits = torch.tensor([[0.0, 1.0]], dtype=torch.bfloat16)
    parts = DistillationLoss()(logits, logits, GOLD, GOLD, None, logits, logits)
    assert parts.total.dtype == torch.float32


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"temperature": 0.0}, "distillation.temperature"),
        ({"temperature": -1.0}, "distillation.temperature"),
        ({"soft_weight": -0.1}, "distillation.soft_weight"),
        ({"hard_weight": -1.0}, "distillation.hard_weight"),
        ({"soft_weight": 0.0, "hard_weight": 0.0}, "distillation.soft_weight"),
    ],
)
def test_bad_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        DistillationLoss(**settings)
