"""One run, from a composed Hydra config to the metrics dict that ``train.py`` returns.

The order is chosen so that mistakes surface cheapest first: pure config checks, then the
tokenizer, then models (vocabulary checks), and only then data loading and training.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig

from lightning_distill.callbacks import MetricsFile
from lightning_distill.distillation_module import DistillationModule
from lightning_distill.errors import ConfigError, LightningDistillError
from lightning_distill.student import StudentBuild
from lightning_distill.vocabulary import check_checkpoint_tokenizer

log = logging.getLogger(__name__)

WORD_EMBEDDINGS = "distilbert.embeddings.word_embeddings.weight"
TEACHER_EVAL_MODE_WARNING = r"Found \d+ module\(s\) in eval mode at the start of training"


def instantiate(config: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that lets our own errors through unwrapped.

    Hydra wraps every exception raised by a ``_target_`` in an InstantiationException whose text
    is a repr plus a stack; a user-fixable error must reach the user as its own clear message.
    """
    try:
        return hydra_instantiate(config, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, LightningDistillError):
            raise error.__cause__ from None
        raise


def _instantiate_group(cfg: DictConfig | None, key: str) -> list[Any]:
    if not cfg:
        return []
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{key} must be a mapping of name -> {{_target_: ...}}, got {cfg!r}.")
    return [instantiate(entry) for entry in cfg.values() if entry is not None and "_target_" in entry]


def _build_student(cfg: DictConfig, vocab_size: int, output_dir: Path) -> StudentBuild:
    build = instantiate(cfg.student, vocab_size=vocab_size)
    if build.report is not None:
        if any(entry.student_key == WORD_EMBEDDINGS for entry in build.report.shape_mismatch):
            raise ConfigError(
                f"Vocabulary mismatch: student.seed_from={cfg.student.get('seed_from')!r} has word embeddings "
                f"of another shape than the tokenizer's {vocab_size} tokens x student.dim. Choose a seed "
                "checkpoint with the teacher's vocabulary and hidden size (or student.seed_from=null)."
            )
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "seeding_report.json").write_text(json.dumps(build.report.as_dict(), indent=2))
    return build


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one distillation (or hard-label training) and return its final metrics."""
    output_dir = Path(cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    loss = instantiate(cfg.distillation)
    optimizer = instantiate(cfg.optimizer)
    tokenizer = instantiate(cfg.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    callbacks = _instantiate_group(cfg.get("callbacks"), "callbacks")
    loggers = _instantiate_group(cfg.get("logger"), "logger")

    teacher = None
    if cfg.get("teacher") is not None:
        check_checkpoint_tokenizer(cfg.teacher.get("name_or_path"), tokenizer, "teacher.name_or_path")
        teacher = instantiate(cfg.teacher, vocab_size=len(tokenizer))
    seed_key = "seed_from" if "seed_from" in cfg.student else "name_or_path"
    check_checkpoint_tokenizer(cfg.student.get(seed_key), tokenizer, f"student.{seed_key}")
    student = _build_student(cfg, len(tokenizer), output_dir)

    module = DistillationModule(student.model, teacher, loss, optimizer)
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    log.info("Run directory: %s", output_dir)
    with warnings.catch_warnings():
        # The frozen teacher is in eval mode on purpose (DistillationModule.train keeps it there).
        warnings.filterwarnings("ignore", message=TEACHER_EVAL_MODE_WARNING)
        trainer.fit(module, datamodule=datamodule)
    return _final_metrics(callbacks)


def _final_metrics(callbacks: list[Any]) -> dict[str, float]:
    for callback in callbacks:
        if isinstance(callback, MetricsFile):
            return dict(callback.final)
    return {}
