"""The model being trained is in train mode at every step (dropout on); the frozen teacher never is.

Lightning >= 2.2 keeps each module in the mode it arrives in and ``from_pretrained`` returns models
in eval mode, so both ways of building the trained model are covered through real tiny runs.
"""

from __future__ import annotations

import re
import warnings

import pytest
import pytorch_lightning as pl
from test_train import compose_config
from transformers import BertConfig, BertForQuestionAnswering

from lightning_distill.training.pipeline import eval_mode_warning, train

STEPS_SEEN: list[dict[str, list[str]]] = []
"""One entry per training step of the probed run: the names of the modules in the wrong mode."""


class ModeProbe(pl.Callback):
    """Records, at every training step, student modules in eval mode and teacher modules in train mode."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        teacher = pl_module.teacher
        STEPS_SEEN.append(
            {
                "student_in_eval": [name for name, module in pl_module.student.named_modules() if not module.training],
                "teacher_in_train": [] if teacher is None else [name for name, module in teacher.named_modules() if module.training],
                "has_teacher": teacher is not None,
            }
        )


def _tiny_qa_checkpoint(path, tokenizer):
    """A tiny BERT QA checkpoint with the shared tokenizer, loaded back through ``from_pretrained``."""
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    BertForQuestionAnswering(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize("student_path", ["build_student", "from_pretrained"])
def test_trained_model_is_in_train_mode_at_every_step(tmp_path, tokenizer, student_path):
    overrides = [
        "experiment=smoke",
        "teacher.cache.enabled=false",  # a live teacher inside the LightningModule, to check its mode too
        "logger=[]",
        "trainer.max_epochs=2",  # the second epoch starts after an evaluation, which switches modes
        "+callbacks.mode_probe._target_=test_train_mode.ModeProbe",
    ]
    if student_path == "from_pretrained":
        checkpoint = _tiny_qa_checkpoint(tmp_path / "encoder", tokenizer)
        overrides += ["~student", "+teacher_finetune=minilm", f"student.name_or_path={checkpoint}"]
    STEPS_SEEN.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = train(compose_config(overrides, tmp_path / "run"))

    assert len(STEPS_SEEN) == metrics["global_step"] == 14  # 52 features of 48 questions, batch 8, 2 epochs
    assert all(step["has_teacher"] for step in STEPS_SEEN)
    assert [step["student_in_eval"] for step in STEPS_SEEN] == [[]] * len(STEPS_SEEN)
    assert [step["teacher_in_train"] for step in STEPS_SEEN] == [[]] * len(STEPS_SEEN)
    # The teacher's eval mode is intentional: Lightning's eval-mode warning is silenced for it alone.
    assert not [w for w in caught if "eval mode at the start of training" in str(w.message)]


def test_eval_mode_warning_filter_matches_only_the_teacher_count():
    """Only the teacher's modules are exempt: the filter is for exactly their count."""
    assert re.match(eval_mode_warning(7), "Found 7 module(s) in eval mode at the start of training. This ...")
    assert not re.match(eval_mode_warning(7), "Found 70 module(s) in eval mode at the start of training. This ...")
    assert not re.match(eval_mode_warning(7), "Found 9 module(s) in eval mode at the start of training. This ...")
