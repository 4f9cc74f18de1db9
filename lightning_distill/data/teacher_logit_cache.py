"""Teacher start/end logits computed once per (teacher, tokenizer, featurization, data) and reused.

The teacher is frozen and in eval mode and featurization is deterministic, so every trial of a
sweep would recompute exactly the same teacher logits over the same train features. Instead they
are computed once (fp32, batches of similar length, dynamic padding) and stored on disk:

    <teacher.cache.dir>/train-<key>/
        logits.npy    (total_tokens, 2)  start/end logits of the *real* tokens of every feature,
                                          features concatenated in dataset order; memory-mapped
        offsets.npy   (n_features + 1,)  feature i owns rows offsets[i]:offsets[i + 1]
        meta.json     the key's ingredients, storage dtype, sizes
        manifest.json every file's size and SHA-256 (lightning_distill.storage.cache_manifest), written last

``key`` hashes the cache format version, the teacher fingerprint
(:mod:`lightning_distill.models.teacher_fingerprint`), the segment-id convention the teacher is fed with
(``teacher.segment_ids``, :mod:`lightning_distill.portable.model_inputs`), the train-features key
(tokenizer fingerprint, featurization settings and version, data fingerprint, subset selection) and the
storage dtype.
Nothing a sweep varies per trial (student, optimizer, loss weights, temperature, batch sizes,
padding, precision) is in it, so all trials share one cache; any change of teacher, tokenizer,
featurization or data gives another key, so a stale cache is never read. On open, every file is
checked against the manifest (a zeroed, truncated or overwritten cache is one clear error naming
the file; ``build``, which a sweep runs before its first trial, rebuilds it instead) and the stored
per-feature lengths against the features.

Concurrency: builders take a file lock per key (a second trial waits, then finds the cache built
instead of computing it again) and write into a temporary sibling directory that is renamed into
place, so readers see a whole cache or none and a crashed build leaves nothing behind.

Storage dtype (``teacher.cache.dtype``): float16 by default. Teacher QA logits are O(10), where
fp16 keeps 11 significant bits (absolute error <= 2^-8 at |x| < 16), far below what moves a
softmax; on the smoke preset the soft loss moved by ~1e-6 relative (README "Fast trials").
bfloat16 keeps only 8 bits and is offered for logits beyond fp16's range; float32 stores them
exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from filelock import FileLock
from torch import nn

from lightning_distill.config.checks import require_bool, require_choice, require_integer
from lightning_distill.errors import ConfigError, DataError
from lightning_distill.portable.model_inputs import SEGMENT_IDS, forward_inputs
from lightning_distill.storage.atomic_files import remove_stale_staging, staged_directory
from lightning_distill.storage.cache_manifest import CacheDamagedError, damage, verify, write_manifest

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 3
"""Bump when the stored layout or how logits are computed changes (2: a manifest of sizes and hashes;
3: BERT-layout teachers are fed segment ids, issue 34)."""

STORAGE_DTYPES = {"float16": np.float16, "bfloat16": np.int16, "float32": np.float32}
"""numpy has no bfloat16: its bits are stored as int16 and viewed back as torch.bfloat16."""
BUILD_DEVICES = ("auto", "cpu", "cuda")
LOGITS_FILE, OFFSETS_FILE, META_FILE = "logits.npy", "offsets.npy", "meta.json"
MODEL_INPUT_COLUMNS = ("input_ids", "attention_mask", SEGMENT_IDS)


@dataclass(frozen=True)
class TeacherCacheSettings:
    """``teacher.cache.*``: whether to cache, where, in what dtype, and how to build it."""

    enabled: bool = True
    dir: str | None = None
    dtype: str = "float16"
    build_batch_size: int = 32
    build_device: str = "auto"

    def __post_init__(self) -> None:
        require_bool("teacher.cache.enabled", self.enabled)
        if self.enabled and not self.dir:
            raise ConfigError("teacher.cache.dir is not set: give a directory (or teacher.cache.enabled=false).")
        require_choice("teacher.cache.dtype", self.dtype, STORAGE_DTYPES)
        require_integer("teacher.cache.build_batch_size", self.build_batch_size, minimum=1)
        require_choice("teacher.cache.build_device", self.build_device, BUILD_DEVICES)
        if self.build_device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("teacher.cache.build_device=cuda but no CUDA device is available: use auto or cpu.")

    def device(self) -> torch.device:
        if self.build_device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.build_device)


def cache_key(teacher_fingerprint: str, features_key: str, dtype: str, segment_ids: str = "tokenizer") -> str:
    parts = {"version": CACHE_FORMAT_VERSION, "teacher": teacher_fingerprint, "features": features_key, "dtype": dtype,
             "segment_ids": segment_ids}  # fmt: skip
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


class TeacherLogitCache:
    """One cache directory: build it (once, under a lock) and open it for reading."""

    def __init__(
        self, settings: TeacherCacheSettings, teacher_fingerprint: str, features_key: str, segment_ids: str = "tokenizer"
    ) -> None:
        self.settings = settings
        self.segment_ids = segment_ids
        self.key = cache_key(teacher_fingerprint, features_key, settings.dtype, segment_ids)
        self.meta = {
            "version": CACHE_FORMAT_VERSION,
            "key": self.key,
            "teacher": teacher_fingerprint,
            "features": features_key,
            "segment_ids": segment_ids,
            "dtype": settings.dtype,
            "compute_dtype": "float32",
        }
        self.path = Path(settings.dir).expanduser() / f"train-{self.key}"
        self.last_build_seconds: float | None = None

    def is_built(self) -> bool:
        return (self.path / META_FILE).is_file()

    def build(self, load_teacher: Callable[[], nn.Module], features: datasets.Dataset) -> bool:
        """Compute and store the logits unless already there; True if this call computed them.

        ``load_teacher`` is only called when the cache really has to be built, so a trial that finds
        it built never loads the teacher.
        """
        if self.is_built() and self.problem(features) is None:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path.parent / f".{self.path.name}.lock")):
            if self.is_built():
                problem = self.problem(features)
                if problem is None:  # another trial built (or repaired) it while we waited for the lock
                    log.info("Teacher-logit cache %s was built by another process", self.path)
                    return False
                log.warning("Teacher-logit cache %s is not this teacher's (%s); rebuilding it", self.path, problem)
                shutil.rmtree(self.path)
            if removed := remove_stale_staging(self.path):
                log.warning("Removed %d unfinished build(s) of %s left by a killed process", removed, self.path)
            start = time.perf_counter()
            teacher = load_teacher()
            with staged_directory(self.path) as staging:
                self._write(teacher, features, staging)
            self.last_build_seconds = time.perf_counter() - start
            log.info("Built teacher-logit cache %s (%d features) in %.1f s", self.path, len(features), self.last_build_seconds)
            return True

    def _write(self, teacher: nn.Module, features: datasets.Dataset, directory: Path) -> None:
        lengths = feature_lengths(features)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        storage = STORAGE_DTYPES[self.settings.dtype]
        logits = np.lib.format.open_memmap(directory / LOGITS_FILE, mode="w+", dtype=storage, shape=(int(offsets[-1]), 2))
        device = self.settings.device()
        was_training = teacher.training
        teacher.eval()
        teacher.to(device)
        # Longest first, in batches of similar length: the least padding, and an OOM shows at once.
        order = np.argsort(-lengths, kind="stable")
        inputs = features.select_columns(list(MODEL_INPUT_COLUMNS))
        batch_size = self.settings.build_batch_size
        with torch.inference_mode(), torch.autocast(device.type, enabled=False):
            for first in range(0, len(order), batch_size):
                indices = order[first : first + batch_size]
                rows = inputs[indices.tolist()]
                width = int(lengths[indices].max())
                batch = {name: torch.zeros(len(indices), width, dtype=torch.long) for name in MODEL_INPUT_COLUMNS}
                for name, padded in batch.items():
                    for row, values in enumerate(rows[name]):
                        padded[row, : len(values)] = torch.tensor(values)
                batch = {name: padded.to(device) for name, padded in batch.items()}
                output = teacher(**forward_inputs(getattr(teacher, "config", None), batch, self.segment_ids))
                pair = torch.stack([output.start_logits, output.end_logits], dim=-1).float().cpu()
                stored = to_storage(pair, self.settings.dtype)
                for row, index in enumerate(indices):
                    logits[offsets[index] : offsets[index + 1]] = stored[row, : lengths[index]]
        teacher.train(was_training)
        logits.flush()
        del logits
        np.save(directory / OFFSETS_FILE, offsets)
        meta = {**self.meta, "n_features": len(lengths), "n_tokens": int(offsets[-1]), "created": time.time()}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        write_manifest(directory)

    def problem(self, features: datasets.Dataset) -> str | None:
        """Why the built cache cannot serve these features (damaged files, another key or dtype, other feature
        lengths), or None. A cache replaced while a sweep runs (another teacher's copied in) is such a case."""
        damaged = damage(self.path)
        if damaged is not None:
            return damaged
        meta = json.loads((self.path / META_FILE).read_text())
        if meta.get("key") != self.key or meta.get("dtype") != self.settings.dtype:
            return f"it holds key {meta.get('key')!r} ({meta.get('dtype')}), not {self.key!r} ({self.settings.dtype})"
        stored = np.diff(np.load(self.path / OFFSETS_FILE))
        if len(stored) != len(features) or not np.array_equal(stored, feature_lengths(features)):
            return f"its {len(stored)} features' lengths are not those of the {len(features)} train features"
        return None

    def open(self, features: datasets.Dataset) -> TeacherLogits:
        """Read access; checks that the cache belongs to these features.

        A cache that does not (``problem``) raises ``CacheDamagedError``: a search re-runs the trial as an
        infrastructure failure, and that run's ``build`` rebuilds the cache, instead of observing every later trial
        as failed on a cache someone replaced."""
        if not self.is_built():
            raise DataError(f"teacher-logit cache {self.path} is missing: build it first.")
        verify(self.path, "teacher-logit cache")
        problem = self.problem(features)
        if problem is not None:
            raise CacheDamagedError(
                f"teacher-logit cache {self.path} cannot serve this run: {problem}. The next run rebuilds it (or "
                "delete the directory)."
            )
        return TeacherLogits(self.path, self.settings.dtype)


class TeacherLogits:
    """Memory-mapped read side: per-feature logits padded to a batch's width, as float32."""

    def __init__(self, path: Path, dtype: str) -> None:
        self.path = Path(path)
        self.dtype = dtype
        self.offsets = np.load(self.path / OFFSETS_FILE)
        self._logits: np.ndarray | None = None  # opened lazily: cheap to send to DataLoader workers

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_logits": None}

    @property
    def logits(self) -> np.ndarray:
        if self._logits is None:
            self._logits = np.load(self.path / LOGITS_FILE, mmap_mode="r")
        return self._logits

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def feature(self, index: int) -> torch.Tensor:
        """(length, 2) float32 start/end logits of one feature's real tokens."""
        return from_storage(np.asarray(self.logits[self.offsets[index] : self.offsets[index + 1]]), self.dtype)

    def batch(self, indices: Sequence[int], width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(start, end) logits, each (len(indices), width) float32; zeros past a feature's end.

        The padding value is irrelevant: the loss masks padding positions out of every softmax.
        """
        padded = torch.zeros(len(indices), width, 2, dtype=torch.float32)
        for row, index in enumerate(indices):
            values = self.feature(int(index))
            padded[row, : len(values)] = values
        return padded[..., 0], padded[..., 1]


def to_storage(logits: torch.Tensor, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        return logits.to(torch.bfloat16).view(torch.int16).numpy()
    stored = logits.numpy().astype(STORAGE_DTYPES[dtype])
    if not np.isfinite(stored).all():
        raise DataError(
            f"teacher logits overflow teacher.cache.dtype={dtype} (max |logit| = {logits.abs().max().item():.3g}): "
            "set teacher.cache.dtype=float32."
        )
    return stored


def from_storage(values: np.ndarray, dtype: str) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(values))
    if dtype == "bfloat16":
        return tensor.view(torch.bfloat16).float()
    return tensor.float()


def feature_lengths(features: datasets.Dataset) -> np.ndarray:
    """Token count of every (unpadded) feature, from the Arrow list lengths without decoding rows."""
    import pyarrow.compute as pc

    column = features.with_format("arrow")["input_ids"]
    return pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
