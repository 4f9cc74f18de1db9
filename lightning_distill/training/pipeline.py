"""One run, from a composed Hydra config to the metrics dict that ``train.py`` returns.

The order is chosen so that mistakes surface cheapest first: pure config checks, then the
tokenizer, then models (vocabulary checks), and only then data loading and training.

With the teacher-logit cache on (``teacher.cache.enabled``, the default) the teacher is loaded
only when its cache has to be built, and it never takes part in training: train batches carry
its cached logits (:mod:`lightning_distill.data.teacher_logit_cache`). :func:`prepare` builds the features and
the cache ahead of a sweep so that every trial just reads them.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import math
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_distill.callbacks.hopeless_trial import HopelessTrialStopping
from lightning_distill.callbacks.metrics_file import MetricsFile
from lightning_distill.callbacks.resume_checkpoint import ResumeCheckpoint
from lightning_distill.config.checks import require_bool, require_integer
from lightning_distill.config.hub_access import check_hub_reachable
from lightning_distill.data.datamodule import SquadDataModule
from lightning_distill.data.teacher_logit_cache import TeacherCacheSettings, TeacherLogitCache
from lightning_distill.errors import ConfigError, LightningDistillError
from lightning_distill.loggers.sigopt_logger import SigOptLogger, require_token
from lightning_distill.models.student import StudentBuild, build_student, check_student_settings
from lightning_distill.models.teacher_fingerprint import teacher_fingerprint
from lightning_distill.models.vocabulary import check_checkpoint_tokenizer
from lightning_distill.models.vocabulary_trim import VocabularySettings, corpus_texts, trim_vocabulary
from lightning_distill.models.weight_transfer import SeedReport
from lightning_distill.portable.model_inputs import check_convention
from lightning_distill.storage.atomic_files import write_json_atomically
from lightning_distill.training.distillation_module import DistillationModule
from lightning_distill.training.precision import resolve_precision
from lightning_distill.training.quiet import quiet_down
from lightning_distill.training.teacher_score import score_teacher

log = logging.getLogger(__name__)

SEGMENT_IDS_KEY = "segment_ids"
"""``teacher.segment_ids``: a setting of how the teacher is fed, not an argument of its loader."""
SCORE_KEY = "score"
"""``teacher.score``: score the teacher on the evaluation data at the start (``training/teacher_score.py``)."""
TEACHER_SETTINGS = ("cache", SEGMENT_IDS_KEY, SCORE_KEY)
"""Keys of ``teacher`` that are settings of this project, not arguments of the teacher's loader."""

WORD_EMBEDDINGS = "distilbert.embeddings.word_embeddings.weight"
VOCAB_KEY = "vocab"


def eval_mode_warning(count: int) -> str:
    """Lightning's warning for ``count`` modules in eval mode at fit start, as a regex."""
    return rf"Found {count} module\(s\) in eval mode at the start of training"


def instantiate(config: Any, key: str | None = None, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that lets our own errors through unwrapped.

    Hydra wraps every exception raised by a ``_target_`` in an InstantiationException whose text
    is a repr plus a stack; a user-fixable error must reach the user as its own clear message. A key
    the target does not take (``+student.n_layer=4``, Hydra's own hint for a key that is not in the
    config) becomes one line naming ``key.<name>``, what the target takes and the nearest spelling.
    """
    try:
        return hydra_instantiate(config, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, LightningDistillError):
            raise error.__cause__ from None
        unknown = _unexpected_keyword(error.__cause__)
        if unknown is not None and isinstance(config, DictConfig) and "_target_" in config:
            raise _unknown_key_error(config, key, unknown) from None
        raise


def _unexpected_keyword(error: BaseException | None) -> str | None:
    match = re.search(r"unexpected keyword argument '(\w+)'", str(error)) if isinstance(error, TypeError) else None
    return match.group(1) if match else None


def _unknown_key_error(config: DictConfig, key: str | None, unknown: str) -> ConfigError:
    from hydra.utils import get_method

    where = key or config._get_full_key(None) or "the config"
    target = str(config._target_)
    try:
        taken = [name for name in inspect.signature(get_method(target)).parameters if name not in ("self", "kwargs")]
    except (ImportError, ValueError, TypeError):
        taken = [name for name in config if name != "_target_"]
    near = difflib.get_close_matches(unknown, taken, n=1)
    hint = f" Did you mean {where}.{near[0]}?" if near else ""
    return ConfigError(f"{where}.{unknown}: {target} takes no {unknown!r} (it takes {', '.join(taken)}).{hint}")


def _instantiate_group(cfg: DictConfig | None, key: str) -> list[Any]:
    if not cfg:
        return []
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{key} must be a mapping of name -> {{_target_: ...}}, got {cfg!r}.")
    return [instantiate(entry) for entry in cfg.values() if entry is not None and "_target_" in entry]


def student_build_config(cfg: DictConfig) -> DictConfig:
    """``cfg.student`` as ``build_student`` takes it: without ``vocab`` (trimming needs the data, done after the build)."""
    return OmegaConf.create({key: value for key, value in OmegaConf.to_container(cfg.student, resolve=True).items() if key != VOCAB_KEY})


def _build_student(cfg: DictConfig, tokenizer: Any, datamodule: SquadDataModule, output_dir: Path) -> StudentBuild:
    """Build, seed and prune the student; trim its vocabulary to the training texts when ``student.vocab`` asks
    (the data module then evaluates with the student's tokenizer); write ``seeding_report.json``."""
    vocab_size = len(tokenizer)
    build = instantiate(student_build_config(cfg), key="student", vocab_size=vocab_size)
    report = build.report
    if report is not None and any(entry.student_key == WORD_EMBEDDINGS for entry in report.shape_mismatch):
        raise ConfigError(
            f"Vocabulary mismatch: student.seed_from={cfg.student.get('seed_from')!r} has word embeddings "
            f"of another shape than the tokenizer's {vocab_size} tokens x student.dim. Choose a seed "
            "checkpoint with the teacher's vocabulary and hidden size (or student.seed_from=null)."
        )
    if report is None:  # seed_from: null, or a student loaded whole: nothing seeded, said as plainly
        report = SeedReport(source=None, layer_seeding=None, initialized=list(build.model.state_dict()))
    document = report.as_dict()
    document["ffn_pruning"] = None if build.ffn_pruning is None else build.ffn_pruning.as_dict()
    document["vocabulary"] = None
    vocabulary = VocabularySettings.from_config(cfg.student.get(VOCAB_KEY))
    if vocabulary is not None and vocabulary.trims:
        trim = trim_vocabulary(build.model, tokenizer, corpus_texts(datamodule.records("train")), vocabulary)
        datamodule.use_student_vocabulary(trim.tokenizer, trim.id_map)
        document["vocabulary"] = trim.report
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(output_dir / "seeding_report.json", document)
    return build


class TeacherSetup:
    """The configured teacher as a trial needs it: a cache to read, or a live model, or nothing.

    Construction checks the teacher's settings and vocabulary; with the cache on it also computes
    the cache key (teacher fingerprint + train-features key, which reads the data files) and loads
    the teacher only if that cache is not built yet (so a broken checkpoint still fails before any
    featurization, and a trial with a built cache never loads it).
    """

    def __init__(self, cfg: DictConfig, tokenizer: Any, datamodule: SquadDataModule) -> None:
        self.cache: TeacherLogitCache | None = None
        self.model: torch.nn.Module | None = None
        self._config = teacher_loader_config(cfg)
        self._vocab_size = len(tokenizer)
        self.segment_ids = "tokenizer"
        self.score: dict[str, Any] | None = None
        """The teacher's own scores on the evaluation data (``teacher_score.py``), once :meth:`prepare` ran."""
        if self._config is None:
            return
        self.segment_ids = _segment_ids(cfg.teacher)
        self._score = cfg.teacher.get(SCORE_KEY, True)
        require_bool(f"teacher.{SCORE_KEY}", self._score)
        self._answer_settings = _answer_settings(cfg)
        check_checkpoint_tokenizer(self._config.get("name_or_path"), tokenizer, "teacher.name_or_path")
        settings = self._settings = _cache_settings(cfg)
        self.fingerprint = teacher_fingerprint(self._config)
        if settings.enabled:
            self.cache = TeacherLogitCache(settings, self.fingerprint, datamodule.features_key("train"), self.segment_ids)
        if self.cache is None or not self.cache.is_built():
            self.model = self._load()

    def _load(self) -> torch.nn.Module:
        # The teacher's loading must not move the global RNG: the student is initialized from it
        # next, and must start the same whether or not the teacher was loaded.
        with torch.random.fork_rng():
            return instantiate(self._config, vocab_size=self._vocab_size)

    def prepare(self, datamodule: SquadDataModule) -> None:
        """Build the features and the logit cache if missing, attach the cached logits to the data, and score the
        teacher on the evaluation data (cached: a teacher loaded for either is loaded once)."""
        if self._config is None:
            return
        datamodule.setup("fit")
        if self.cache is not None:
            self.cache.build(self._model, datamodule.train_features)
            datamodule.attach_teacher_logits(self.cache.open(datamodule.train_features))
        if self._score:
            cache_dir = self._settings.dir if self._settings.enabled else None  # cache off: computed in every run
            self.score = score_teacher(self._model, self.fingerprint, self.segment_ids, datamodule,
                                       self._answer_settings, cache_dir, self._settings.device())  # fmt: skip
        if self.cache is not None:
            self.model = None  # training reads the cache; free the teacher

    def _model(self) -> torch.nn.Module:
        if self.model is None:
            self.model = self._load()
        return self.model


def teacher_loader_config(cfg: DictConfig) -> DictConfig | None:
    """``cfg.teacher`` without this project's settings (``TEACHER_SETTINGS``): what instantiating the teacher takes."""
    teacher = cfg.get("teacher")
    if teacher is None:
        return None
    settings = OmegaConf.to_container(teacher, resolve=True)
    return OmegaConf.create({key: value for key, value in settings.items() if key not in TEACHER_SETTINGS})


def _segment_ids(teacher: DictConfig) -> str:
    """``teacher.segment_ids``: how the teacher was fine-tuned, so it is fed alike (``portable/model_inputs.py``)."""
    try:
        return check_convention(teacher.get(SEGMENT_IDS_KEY, "tokenizer"), f"teacher.{SEGMENT_IDS_KEY}")
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _answer_settings(cfg: DictConfig) -> dict[str, Any]:
    """How the run's evaluation turns logits into answers (``callbacks.squad_evaluation``), so the teacher is
    scored exactly as the students are; postprocessing's defaults where the run has no such callback."""
    evaluation = OmegaConf.select(cfg, "callbacks.squad_evaluation")
    if evaluation is None:
        return {}
    keys = ("n_best_size", "max_answer_length", "null_score_diff_threshold")
    return {key: evaluation[key] for key in keys if key in evaluation}


def _cache_settings(cfg: DictConfig) -> TeacherCacheSettings:
    cache = cfg.teacher.get("cache")
    if cache is None:
        return TeacherCacheSettings(enabled=False)
    if not isinstance(cache, DictConfig):
        raise ConfigError(f"teacher.cache must be a mapping of cache settings, got {cache!r}.")
    known = set(TeacherCacheSettings.__dataclass_fields__)
    unknown = sorted(set(cache) - known)
    if unknown:
        raise ConfigError(f"teacher.cache.{unknown[0]} is not a setting; use {sorted(known)}.")
    return TeacherCacheSettings(**OmegaConf.to_container(cache, resolve=True))


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


def check_before_trials(cfg: DictConfig) -> None:
    """What every trial of a search would fail on, checked once before the first: the precision setting and a
    SigOpt logger's token (read without resolving the loggers' per-trial values, such as the run directory)."""
    resolve_precision(cfg.trainer.get("precision", "32-true"), str(cfg.trainer.get("accelerator", "auto")))
    require_bool("quiet", cfg.get("quiet", False))
    for entry in (cfg.get("logger") or {}).values():
        if entry is not None and str(entry.get("_target_", "")).endswith(".SigOptLogger"):
            require_token(OmegaConf.select(entry, "token_env", default="SIGOPT_API_TOKEN"),
                          OmegaConf.select(entry, "api_url_env", default="SIGOPT_API_URL"))  # fmt: skip


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one distillation (or hard-label training) and return its final metrics."""
    _check_objectives(cfg.get("objectives"))
    VocabularySettings.from_config(cfg.student.get(VOCAB_KEY))  # a bad student.vocab fails before any loading
    _check_deployment_measured(cfg)
    _check_evaluation_schedule(cfg.trainer)
    check_hub_reachable(cfg)
    check_before_trials(cfg)
    quiet_trainer = quiet_down() if cfg.get("quiet") else {}
    output_dir = Path(cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    loss = instantiate(cfg.distillation)
    optimizer = instantiate(cfg.optimizer)
    precision = resolve_precision(cfg.trainer.get("precision", "32-true"), str(cfg.trainer.get("accelerator", "auto")))
    tokenizer = instantiate(cfg.tokenizer)
    _check_student(cfg, len(tokenizer))  # before a teacher loads or data is read
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    callbacks = _instantiate_group(cfg.get("callbacks"), "callbacks")
    resume_from = _resume_from(cfg.get("ckpt_path"), callbacks)  # before hours of data set-up, not after
    loggers = _instantiate_group(cfg.get("logger"), "logger")
    for logger in loggers:
        logger.log_hyperparams(run_parameters(cfg))

    start = time.perf_counter()
    teacher = TeacherSetup(cfg, tokenizer, datamodule)
    data_seconds = time.perf_counter() - start
    seed_key = "seed_from" if "seed_from" in cfg.student else "name_or_path"
    check_checkpoint_tokenizer(cfg.student.get(seed_key), tokenizer, f"student.{seed_key}")
    student = _build_student(cfg, tokenizer, datamodule, output_dir)
    start = time.perf_counter()
    teacher.prepare(datamodule)
    datamodule.setup("fit")
    data_seconds += time.perf_counter() - start
    log.info("Data set-up (features + teacher-logit cache, incl. any teacher loading): %.2f s", data_seconds)

    _check_interval_fits_epoch(cfg.trainer, math.ceil(len(datamodule.train_features) / datamodule.batch_sizes["train"]))
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


SUMMARY_METRICS = ("exact", "f1", "HasAns_f1", "NoAns_exact", "best_f1")


def summary_line(output_dir: Path, metrics: dict[str, float]) -> str:
    """The end of a run in one line: where it is and its headline numbers (those it has)."""
    parts = [f"{name} {metrics[name]:.2f}" for name in SUMMARY_METRICS if name in metrics]
    if "num_params" in metrics:
        parts.append(f"{metrics['num_params'] / 1e6:.2f} M parameters")
    if "inference_time" in metrics:
        parts.append(f"inference {metrics['inference_time']:.1f} ms/example")
    return f"Run finished in {output_dir}: " + (", ".join(parts) if parts else "no evaluation metrics")


def _evaluate_final_model(trainer: pl.Trainer, module: DistillationModule, datamodule: SquadDataModule) -> bool:
    """Final metrics must describe the final model: step intervals need not end on the last step."""
    if trainer.limit_val_batches == 0 or trainer.interrupted or module.last_evaluated_step == trainer.global_step:
        return False
    log.info("Evaluating the final model (step %d; the last evaluation was at step %s)", trainer.global_step, module.last_evaluated_step)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    return True


def _check_student(cfg: DictConfig, vocab_size: int) -> None:
    """The student's settings, checked as ``build_student`` checks them, when the target is ours."""
    settings = student_build_config(cfg)
    if str(settings.get("_target_", "")) == f"{build_student.__module__}.{build_student.__name__}":
        check_student_settings(vocab_size, **{k: v for k, v in settings.items() if k != "_target_"})


def _check_evaluation_schedule(trainer: DictConfig) -> None:
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


def _check_interval_fits_epoch(trainer: DictConfig, batches_per_epoch: int) -> None:
    interval = trainer.get("val_check_interval")
    if isinstance(interval, int) and trainer.get("check_val_every_n_epoch", 1) is not None and interval > batches_per_epoch:
        raise ConfigError(
            f"trainer.val_check_interval={interval} steps is more than the {batches_per_epoch} training steps of an "
            "epoch: lower it, or set trainer.check_val_every_n_epoch=null to count steps across epochs."
        )


def _check_objectives(objectives: Any) -> None:
    """Before training: a malformed ``objectives`` would otherwise surface only after the run."""
    if objectives is None:
        return
    if not isinstance(objectives, Sequence) or isinstance(objectives, str) or not objectives or not all(
        isinstance(name, str) and name for name in objectives
    ):
        raise ConfigError(f"objectives={objectives!r} must be null or a non-empty list of metric names, e.g. [exact, num_params].")


def _check_deployment_measured(cfg: DictConfig) -> None:
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
