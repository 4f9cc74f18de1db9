"""The configured teacher as a run needs it: a logit cache to read, a live model, or nothing; and its own score.

``teacher`` in the config mixes the loader's arguments (``_target_``, ``name_or_path`` ...) with this project's
settings of how the teacher is used (``TEACHER_SETTINGS``); this module keeps them apart.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lightning_distill.config.checks import require_bool
from lightning_distill.config.instantiate import instantiate
from lightning_distill.data.datamodule import SquadDataModule
from lightning_distill.data.teacher_logit_cache import TeacherCacheSettings, TeacherLogitCache
from lightning_distill.errors import ConfigError
from lightning_distill.models.teacher_fingerprint import teacher_fingerprint
from lightning_distill.models.vocabulary import check_checkpoint_tokenizer
from lightning_distill.portable.model_inputs import check_convention
from lightning_distill.training.teacher_score import score_teacher

SEGMENT_IDS_KEY = "segment_ids"
"""``teacher.segment_ids``: a setting of how the teacher is fed, not an argument of its loader."""


SCORE_KEY = "score"
"""``teacher.score``: score the teacher on the evaluation data at the start (``training/teacher_score.py``)."""


TEACHER_SETTINGS = ("cache", SEGMENT_IDS_KEY, SCORE_KEY)
"""Keys of ``teacher`` that are settings of this project, not arguments of the teacher's loader."""


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
