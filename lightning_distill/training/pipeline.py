"""One run, from a composed Hydra config to the metrics dict that ``train.py`` returns.

The order is chosen so that mistakes surface cheapest first: pure config checks, then the
tokenizer, then models (vocabulary checks), and only then data loading and training.

With the teacher-logit cache on (``teacher.cache.enabled``, the default) the teacher is loaded
only when its cache has to be built, and it never takes part in training: train batches carry
its cached logits (:mod:`lightning_distill.data.teacher_logit_cache`). :func:`prepare` builds the features and
the cache ahead of a sweep so that every trial just reads them.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_distill.callbacks.hopeless_trial import HopelessTrialStopping
from lightning_distill.callbacks.metrics_file import MetricsFile
from lightning_distill.callbacks.resume_checkpoint import ResumeCheckpoint
from lightning_distill.config.hub_access import check_hub_reachable
from lightning_distill.config.instantiate import instantiate, instantiate_group
from lightning_distill.data.datamodule import SquadDataModule
from lightning_distill.errors import ConfigError
from lightning_distill.loggers.sigopt_logger import SigOptLogger
from lightning_distill.metrics import INFERENCE_TIME, NUM_PARAMS, SUMMARY
from lightning_distill.models.vocabulary import check_checkpoint_tokenizer
from lightning_distill.models.vocabulary_trim import VocabularySettings
from lightning_distill.training.distillation_module import DistillationModule
from lightning_distill.training.precision import resolve_precision
from lightning_distill.training.quiet import quiet_down
from lightning_distill.training.run_checks import (
    check_before_trials,
    check_deployment_measured,
    check_evaluation_schedule,
    check_interval_fits_epoch,
    check_objectives,
    check_student,
)
from lightning_distill.training.student_setup import VOCAB_KEY, build_configured_student
from lightning_distill.training.teacher_setup import TeacherSetup

log = logging.getLogger(__name__)


def eval_mode_warning(count: int) -> str:
    """Lightning's warning for ``count`` modules in eval mode at fit start, as a regex."""
    return rf"Found {count} module\(s\) in eval mode at the start of training"


def prepare(cfg: DictConfig) -> None:
    """Build what every trial of a sweep with this config reads, once, before the first trial.

    Featurizes the train and eval splits into the features cache and, when a teacher is configured
    with its cache enabled, runs it once over the train features into the teacher-logit cache.
    Idempotent and cheap when both exist (reads the data files to compute the keys, loads nothing
    else). Safe to run concurrently (file locks + build-then-rename). Trial-varying settings
    (student, optimizer, distillation weights/temperature, batch sizes, padding, precision) are
    not part of either cache key.
    """
    check_hub_reachable(cfg)
    check_before_trials(cfg)
    if cfg.get("quiet"):
        quiet_down()
    tokenizer = instantiate(cfg.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    teacher = TeacherSetup(cfg, tokenizer, datamodule)
    datamodule.setup("fit")
    teacher.prepare(datamodule)


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one distillation (or hard-label training) and return its final metrics."""
    check_objectives(cfg.get("objectives"))
    VocabularySettings.from_config(cfg.student.get(VOCAB_KEY))  # a bad student.vocab fails before any loading
    check_deployment_measured(cfg)
    check_evaluation_schedule(cfg.trainer)
    check_hub_reachable(cfg)
    check_before_trials(cfg)
    quiet_trainer = quiet_down() if cfg.get("quiet") else {}
    output_dir = Path(cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    loss = instantiate(cfg.distillation)
    optimizer = instantiate(cfg.optimizer)
    precision = resolve_precision(cfg.trainer.get("precision", "32-true"), str(cfg.trainer.get("accelerator", "auto")))
    tokenizer = instantiate(cfg.tokenizer)
    check_student(cfg, len(tokenizer))  # before a teacher loads or data is read
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    callbacks = instantiate_group(cfg.get("callbacks"), "callbacks")
    resume_from = _resume_from(cfg.get("ckpt_path"), callbacks)  # before hours of data set-up, not after
    loggers = instantiate_group(cfg.get("logger"), "logger")
    for logger in loggers:
        logger.log_hyperparams(run_parameters(cfg))

    start = time.perf_counter()
    teacher = TeacherSetup(cfg, tokenizer, datamodule)
    data_seconds = time.perf_counter() - start
    seed_key = "seed_from" if "seed_from" in cfg.student else "name_or_path"
    check_checkpoint_tokenizer(cfg.student.get(seed_key), tokenizer, f"student.{seed_key}")
    student = build_configured_student(cfg, tokenizer, datamodule, output_dir)
    start = time.perf_counter()
    teacher.prepare(datamodule)
    datamodule.setup("fit")
    data_seconds += time.perf_counter() - start
    log.info("Data set-up (features + teacher-logit cache, incl. any teacher loading): %.2f s", data_seconds)

    check_interval_fits_epoch(cfg.trainer, math.ceil(len(datamodule.train_features) / datamodule.batch_sizes["train"]))
    _log_teacher_score(teacher.score, callbacks, loggers)
    module = DistillationModule(student.model, teacher.model, loss, optimizer, teacher.segment_ids)
    # Lightning checkpoints only through callbacks.resume_checkpoint: never Lightning's own default one per epoch
    checkpointing = any(isinstance(callback, ModelCheckpoint) for callback in callbacks)
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=precision,
                                      enable_checkpointing=checkpointing, **quiet_trainer)  # fmt: skip
    log.info("Run directory: %s", output_dir)
    with warnings.catch_warnings():
        # The frozen teacher is in eval mode on purpose; any other module in eval mode still warns.
        if module.teacher_module_count():
            warnings.filterwarnings("ignore", message=eval_mode_warning(module.teacher_module_count()))
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
    metrics = logged_metrics(trainer)
    if _evaluate_final_model(trainer, module, datamodule):
        metrics.update(logged_metrics(trainer))  # a new Lightning run starts from an empty record
    log.info("%s", summary_line(output_dir, metrics))
    result: dict[str, Any] = {**metrics, "epoch": trainer.current_epoch, "global_step": trainer.global_step}
    for callback in callbacks:
        if isinstance(callback, HopelessTrialStopping):
            result.update(callback.result())
    if teacher.score is not None:
        result.update({f"{TEACHER_PREFIX}{name}": value for name, value in teacher.score["metrics"].items()})
    run_ids = [logger.version for logger in loggers if isinstance(logger, SigOptLogger) and logger.version]
    if run_ids:  # journaled with the trial's observation (Observation.metrics): which SigOpt run it was
        result["sigopt_run_id"] = run_ids[0]
    return result


TEACHER_PREFIX = "teacher/"


def _resume_from(ckpt_path: Any, callbacks: Sequence[Any]) -> str | None:
    """``ckpt_path``: null (start from the seeded student), ``last`` (this run directory's resume checkpoint) or a
    Lightning checkpoint file; anything else is an error naming the key and the fix, before training starts."""
    if ckpt_path is None:
        return None
    if ckpt_path == ResumeCheckpoint.LAST_NAME:
        resume = next((c for c in callbacks if isinstance(c, ResumeCheckpoint) and c.active), None)
        if resume is None:
            raise ConfigError("ckpt_path=last needs the resume checkpoint (callbacks.resume_checkpoint, single runs only).")
        if not resume.last_path.is_file():
            raise ConfigError(
                f"ckpt_path=last: there is no {resume.last_path}. Resume in the interrupted run's own directory: "
                "the same overrides plus hydra.run.dir=<that directory> ckpt_path=last (a finished run removed it)."
            )
        return str(resume.last_path)
    if not isinstance(ckpt_path, str) or not Path(ckpt_path).expanduser().is_file():
        raise ConfigError(f"ckpt_path={ckpt_path!r} is not a checkpoint file: give null, 'last', or a .ckpt file's path.")
    return str(Path(ckpt_path).expanduser())


def _log_teacher_score(score: dict[str, Any] | None, callbacks: Sequence[Any], loggers: Sequence[Any]) -> None:
    """The teacher's scores into metrics.json (``teacher``) and every logger (``teacher/<metric>``, step 0)."""
    if score is None:
        return
    for callback in callbacks:
        if isinstance(callback, MetricsFile):
            callback.teacher = score
    for logger in loggers:
        logger.log_metrics({f"{TEACHER_PREFIX}{name}": value for name, value in score["metrics"].items()}, step=0)


PARAMETER_GROUPS = ("student", "optimizer", "distillation", "data", "trainer", "seed")
"""What a run's loggers record as its parameters: everything a trial's settings can vary."""


def run_parameters(cfg: DictConfig) -> dict[str, Any]:
    """The run's settings, resolved, without instantiation targets (``hparams.yaml``, SigOpt assignments)."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key != "_target_"}
        return value

    return {key: strip(OmegaConf.to_container(cfg[key], resolve=True)) if isinstance(cfg[key], DictConfig) else cfg[key]
            for key in PARAMETER_GROUPS if key in cfg}  # fmt: skip


SUMMARY_METRICS = SUMMARY


def summary_line(output_dir: Path, metrics: dict[str, float]) -> str:
    """The end of a run in one line: where it is and its headline numbers (those it has)."""
    parts = [f"{name} {metrics[name]:.2f}" for name in SUMMARY_METRICS if name in metrics]
    if NUM_PARAMS.name in metrics:
        parts.append(f"{metrics[NUM_PARAMS.name] / 1e6:.2f} M parameters")
    if INFERENCE_TIME.name in metrics:
        parts.append(f"inference {metrics[INFERENCE_TIME.name]:.1f} ms/example")
    return f"Run finished in {output_dir}: " + (", ".join(parts) if parts else "no evaluation metrics")


def _evaluate_final_model(trainer: pl.Trainer, module: DistillationModule, datamodule: SquadDataModule) -> bool:
    """Final metrics must describe the final model: step intervals need not end on the last step."""
    if trainer.limit_val_batches == 0 or trainer.interrupted or module.last_evaluated_step == trainer.global_step:
        return False
    log.info("Evaluating the final model (step %d; the last evaluation was at step %s)", trainer.global_step, module.last_evaluated_step)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    return True


def select_objectives(metrics: dict[str, float], objectives: Sequence[str] | None) -> dict[str, float] | list[float]:
    """The whole dict, or the named metrics in order for sweepers that optimize a sequence of floats."""
    if not objectives:
        return metrics
    missing = [name for name in objectives if name not in metrics]
    if missing:
        raise ConfigError(f"objectives={list(objectives)}: the run logged no {missing}; available: {sorted(metrics)}.")
    return [float(metrics[name]) for name in objectives]


def logged_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The last value of every metric logged, from Lightning's own record, whichever callbacks ran.

    The result a sweeper reads must not depend on a file-writing callback being configured.
    """
    return {name: float(value) for name, value in trainer.callback_metrics.items()}
