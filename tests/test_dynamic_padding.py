"""Dynamic padding and length-grouped batching change how much is padded, never the results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from test_teacher_cache import smoke_cfg

from lightning_distill.callbacks import SquadEvaluation
from lightning_distill.config.instantiate import instantiate
from lightning_distill.data.datamodule import FEATURE_INDEX, MODEL_INPUTS
from lightning_distill.data.samplers import LengthGroupedSampler, SortedByLengthSampler
from lightning_distill.errors import ConfigError
from lightning_distill.models.student import build_student
from lightning_distill.models.teacher import build_random_teacher
from lightning_distill.training.distillation_loss import DistillationLoss
from lightning_distill.training.distillation_module import DistillationModule
from lightning_distill.training.optimizer import OptimizerSettings
from lightning_distill.training.pipeline import train


def _datamodule(tmp_path, tokenizer, *overrides):
    cfg = smoke_cfg(tmp_path, "data.max_eval_examples=40", "data.max_train_examples=24", *overrides)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    datamodule.setup("fit")
    return cfg, datamodule


def _student(tokenizer):
    return build_student(vocab_size=len(tokenizer), n_layers=2, n_heads=2, base_n_heads=2, dim=32, hidden_dim=64,
                         seed_from=None, init_seed=0).model


def _predictions(tmp_path, tokenizer, student, *overrides):
    _, datamodule = _datamodule(tmp_path, tokenizer, *overrides)
    evaluation = SquadEvaluation(output_dir=str(tmp_path / "out"))
    module = DistillationModule(student, None, DistillationLoss(), OptimizerSettings())
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[evaluation])
    trainer.validate(module, datamodule=datamodule, verbose=False)
    predictions = json.loads((tmp_path / "out" / "predictions.json").read_text())
    null_odds = json.loads((tmp_path / "out" / "null_odds.json").read_text())
    return predictions, null_odds, evaluation.metrics, datamodule


def test_dynamic_padding_gives_identical_eval_predictions(tmp_path, tokenizer):
    student = _student(tokenizer)
    fixed = _predictions(tmp_path / "fixed", tokenizer, student, "data.padding=max_length",
                         "data.sort_eval_by_length=false", "data.eval_batch_size=8")
    dynamic = _predictions(tmp_path / "dynamic", tokenizer, student, "data.padding=longest",
                           "data.sort_eval_by_length=true", "data.eval_batch_size=8")
    assert dynamic[0] == fixed[0]
    assert dynamic[1].keys() == fixed[1].keys()
    for qid, odds in fixed[1].items():
        assert dynamic[1][qid] == pytest.approx(odds, rel=1e-5, abs=1e-5), qid
    assert dynamic[2] == pytest.approx(fixed[2])
    widths = [batch["input_ids"].shape[1] for batch in dynamic[3].val_dataloader()]
    assert max(widths) <= dynamic[3].settings.max_seq_length and min(widths) < max(widths)
    assert widths == sorted(widths, reverse=True)  # evaluated longest first


def test_dynamic_padding_gives_the_same_training_loss(tmp_path, tokenizer):
    student = _student(tokenizer).eval()  # no dropout: the same function of the batch
    teacher = build_random_teacher(vocab_size=len(tokenizer), seed=1)
    module = DistillationModule(student, teacher, DistillationLoss(temperature=2.0), OptimizerSettings())
    losses = {}
    for padding in ("max_length", "longest"):
        _, datamodule = _datamodule(tmp_path, tokenizer, f"data.padding={padding}", "teacher.cache.enabled=false")
        rows = [datamodule.train_features.select_columns(list(MODEL_INPUTS))[i] | {FEATURE_INDEX: i} for i in range(6)]
        batch = datamodule.collate(rows, split="train")
        assert batch["input_ids"].shape[1] == (384 if padding == "max_length" else max(len(r["input_ids"]) for r in rows))
        with torch.no_grad():
            losses[padding] = module.loss_parts(batch)
    for part in ("total", "soft", "hard"):
        torch.testing.assert_close(getattr(losses["longest"], part), getattr(losses["max_length"], part),
                                   rtol=1e-5, atol=1e-6)


def test_length_grouped_sampler_is_seeded_and_groups_similar_lengths():
    lengths = np.random.default_rng(0).integers(20, 384, size=400)
    orders = [list(LengthGroupedSampler(lengths, 8, 4, generator=torch.Generator().manual_seed(5))) for _ in range(2)]
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == list(range(400))
    other = list(LengthGroupedSampler(lengths, 8, 4, generator=torch.Generator().manual_seed(6)))
    assert other != orders[0]

    def mean_width(order):
        return np.mean([lengths[order[i : i + 8]].max() for i in range(0, 400, 8)])

    shuffled = np.random.default_rng(1).permutation(400)
    assert mean_width(orders[0]) < 0.8 * mean_width(shuffled)
    assert list(SortedByLengthSampler([3, 9, 3, 7])) == [1, 3, 0, 2]


def test_group_by_length_train_loader_covers_every_feature_once(tmp_path, tokenizer):
    _, datamodule = _datamodule(tmp_path, tokenizer, "data.group_by_length=true", "data.mega_batch_mult=2",
                                "data.train_batch_size=4")
    torch.manual_seed(0)
    first = [batch[FEATURE_INDEX].tolist() for batch in datamodule.train_dataloader()]
    torch.manual_seed(0)
    again = [batch[FEATURE_INDEX].tolist() for batch in datamodule.train_dataloader()]
    assert first == again  # seeded by the run's seed
    assert sorted(index for batch in first for index in batch) == list(range(len(datamodule.train_features)))


def test_length_grouped_run_end_to_end(tmp_path):
    metrics = train(smoke_cfg(tmp_path, "data.group_by_length=true", "data.mega_batch_mult=2"))
    assert np.isfinite(metrics["train/loss"]) and metrics["total"] == 32


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.group_by_length=sometimes", "data.group_by_length"),
        ("data.mega_batch_mult=0", "data.mega_batch_mult"),
        ("data.sort_eval_by_length=1", "data.sort_eval_by_length"),
    ],
)
def test_bad_batching_settings_fail_early_naming_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        train(smoke_cfg(tmp_path, override))
