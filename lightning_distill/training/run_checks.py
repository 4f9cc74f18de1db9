"""Checks of a run's config that need no data or model: run before anything is loaded, and once before a search's
first trial (``check_before_trials``), so a mistake every trial would hit costs one line, not a budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_distill.config.checks import require_bool, require_integer
from lightning_distill.errors import ConfigError
from lightning_distill.loggers.sigopt_logger import require_token
from lightning_distill.metrics import check_search_metrics
from lightning_distill.models.student import build_student, check_student_settings
from lightning_distill.training.precision import resolve_precision
from lightning_distill.training.student_setup import student_build_config


def check_before_trials(cfg: DictConfig) -> None:
    """What every trial of a search would fail on, checked once before the first: the precision setting and a
    SigOpt logger's token (read without resolving the loggers' per-trial values, such as the run directory)."""
    resolve_precision(cfg.trainer.get("precision", "32-true"), str(cfg.trainer.get("accelerator", "auto")))
    require_bool("quiet", cfg.get("quiet", False))
    if cfg.get("search") is not None:
        check_search_metrics(OmegaConf.to_container(cfg.search, resolve=True).get("metrics"))
    for entry in (cfg.get("logger") or {}).values():
        if entry is not None and str(entry.get("_target_", "")).endswith(".SigOptLogger"):
            require_token(OmegaConf.select(entry, "token_env", default="SIGOPT_API_TOKEN"),
                          OmegaConf.select(entry, "api_url_env", default="SIGOPT_API_URL"))  # fmt: skip


def check_student(cfg: DictConfig, vocab_size: int) -> None:
    """The student's settings, checked as ``build_student`` checks them, when the target is ours."""
    settings = student_build_config(cfg)
    if str(settings.get("_target_", "")) == f"{build_student.__module__}.{build_student.__name__}":
        check_student_settings(vocab_size, **{k: v for k, v in settings.items() if k != "_target_"})


def check_evaluation_schedule(trainer: DictConfig) -> None:
    """Lightning's own messages for these do not name our config keys."""
    interval = trainer.get("val_check_interval")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or (isinstance(interval, int) and interval < 1)
        or (isinstance(interval, float) and not 0 < interval <= 1)
    ):
        raise ConfigError(
            f"trainer.val_check_interval={interval!r} must be null (end of epoch), an integer >= 1 "
            "(every N training steps) or a float in (0, 1] (a fraction of an epoch)."
        )
    every = trainer.get("check_val_every_n_epoch", 1)
    require_integer("trainer.check_val_every_n_epoch", every, minimum=1, null_means="count steps across epochs")
    if every is None and not isinstance(interval, int):
        raise ConfigError(
            "trainer.check_val_every_n_epoch=null counts trainer.val_check_interval steps across epochs: "
            f"set trainer.val_check_interval to an integer number of steps (got {interval!r})."
        )


def check_interval_fits_epoch(trainer: DictConfig, batches_per_epoch: int) -> None:
    interval = trainer.get("val_check_interval")
    if isinstance(interval, int) and trainer.get("check_val_every_n_epoch", 1) is not None and interval > batches_per_epoch:
        raise ConfigError(
            f"trainer.val_check_interval={interval} steps is more than the {batches_per_epoch} training steps of an "
            "epoch: lower it, or set trainer.check_val_every_n_epoch=null to count steps across epochs."
        )


def check_objectives(objectives: Any) -> None:
    """Before training: a malformed ``objectives`` would otherwise surface only after the run."""
    if objectives is None:
        return
    if not isinstance(objectives, Sequence) or isinstance(objectives, str) or not objectives or not all(
        isinstance(name, str) and name for name in objectives
    ):
        raise ConfigError(f"objectives={objectives!r} must be null or a non-empty list of metric names, e.g. [exact, num_params].")


def check_deployment_measured(cfg: DictConfig) -> None:
    """An ONNX metric the sweep optimizes or stores needs the callback that measures it; without it every
    trial would fail only after training."""
    from lightning_distill.callbacks.onnx_deployment import LATENCY_METRIC, SIZE_METRIC

    wanted = [cfg.get("size_objective"), *(cfg.get("stored_metrics") or [])]
    needed = [name for name in wanted if name in (LATENCY_METRIC, SIZE_METRIC)]
    if needed and (cfg.get("callbacks") or {}).get("onnx_deployment") is None:
        raise ConfigError(
            f"size_objective / stored_metrics ask for {needed}, measured by callbacks.onnx_deployment, which is off: "
            "drop deployment_metrics=none (size_objective=inference_time_onnx / onnx_int8_size_mb and "
            "deployment_metrics=onnx turn it on)."
        )
