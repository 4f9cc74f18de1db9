"""SQuAD 2.0 as a LightningDataModule: read, check, featurize once, cache on disk, batch.

Featurizing the full train set takes minutes and every trial of a sweep needs the same features,
so they are cached under a key made of everything that changes them (tokenizer, featurization
settings, data content, subset selection). The cache is written to a temporary directory and
renamed into place, so concurrent trials never see half a cache and a crash never leaves one; a
file lock per key makes a second trial wait for the first one's features instead of featurizing
again.

Batches carry ``feature_index`` (the row of each feature) so that cached teacher logits
(:mod:`lightning_distill.data.teacher_logit_cache`, attached with :meth:`SquadDataModule.attach_teacher_logits`)
can be looked up in the collate function, and evaluation can be batched in length order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from filelock import FileLock
from pytorch_lightning import LightningDataModule
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerFast

from lightning_distill.config.checks import require_bool, require_choice, require_integer
from lightning_distill.data.featurization import FeaturizationSettings, featurize_batch
from lightning_distill.data.heldout import check_part, records_of_part
from lightning_distill.data.samplers import LengthGroupedSampler, SortedByLengthSampler
from lightning_distill.data.squad_reader import SquadRecord, fingerprint_files, read_squad_files, records_from_hub
from lightning_distill.data.teacher_logit_cache import TeacherLogits, feature_lengths
from lightning_distill.errors import ConfigError
from lightning_distill.storage.atomic_files import remove_stale_staging, staged_directory
from lightning_distill.storage.cache_manifest import damage, write_manifest

log = logging.getLogger(__name__)

FEATURIZATION_VERSION = 3
"""Bump when featurization code changes what it produces, or the cache's layout, so old caches are not
reused (2: a manifest of sizes and hashes, lightning_distill.storage.cache_manifest; 3: the tokenizer's segment ids)."""

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")
FEATURE_INDEX = "feature_index"
TEACHER_START, TEACHER_END = "teacher_start_logits", "teacher_end_logits"
TEACHER_INPUT_IDS = "teacher_input_ids"
"""A train batch's ids in the teacher's vocabulary, when the student's is trimmed (``input_ids`` are the student's)."""
PADDING_MODES = ("max_length", "longest")


TOKENIZER_CALL_STATE = ("truncation", "padding")
"""Parts of the Rust tokenizer's serialization that the last call's arguments set (featurizing
enables truncation with our window settings): not part of what the tokenizer *is*."""


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerFast) -> str:
    """Hash of the full tokenizer definition (vocab, normalizer, special tokens), not its name.

    Stable across calls: the truncation/padding state a previous call left behind is excluded, so
    the key is the same before and after featurizing (else trials would miss each other's caches).
    """
    definition = json.loads(tokenizer.backend_tokenizer.to_str())
    for key in TOKENIZER_CALL_STATE:
        definition.pop(key, None)
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode("utf-8")).hexdigest()


def select_subset(records: list[SquadRecord], max_examples: int | None, seed: int) -> list[SquadRecord]:
    """A seeded random subset in original order: the first N would come from one or two articles."""
    if max_examples is None or max_examples >= len(records):
        return records
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(records), size=max_examples, replace=False))
    return [records[index] for index in keep]


class SquadDataModule(LightningDataModule):
    """Train/eval features for extractive QA with the raw eval questions kept for post-processing."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerFast,
        *,
        train_files: Sequence[str] | None = None,
        eval_files: Sequence[str] | None = None,
        hub_dataset: str | None = None,
        hub_train_split: str = "train",
        hub_eval_split: str = "validation",
        max_train_examples: int | None = None,
        max_eval_examples: int | None = None,
        eval_part: str | None = None,
        subset_seed: int = 0,
        max_seq_length: int = 384,
        doc_stride: int = 128,
        max_query_length: int = 64,
        padding: str = "max_length",
        group_by_length: bool = False,
        mega_batch_mult: int | None = None,
        sort_eval_by_length: bool = False,
        train_batch_size: int = 8,
        eval_batch_size: int = 8,
        num_workers: int = 0,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.student_tokenizer = tokenizer
        """What the student reads at evaluation and ships with; another one only when the student's
        vocabulary is trimmed (:meth:`use_student_vocabulary`)."""
        self.student_id_map: torch.Tensor | None = None
        self.eval_part = eval_part
        self.settings = FeaturizationSettings(max_seq_length, doc_stride, max_query_length)
        self.sources = {
            "train": (_as_list(train_files), hub_train_split, "data.train_files"),
            "eval": (_as_list(eval_files), hub_eval_split, "data.eval_files"),
        }
        self.hub_dataset = hub_dataset
        self.max_examples = {"train": max_train_examples, "eval": max_eval_examples}
        self.subset_seed = subset_seed
        self.padding = padding
        self.group_by_length = group_by_length
        self.mega_batch_mult = mega_batch_mult
        self.sort_eval_by_length = sort_eval_by_length
        self.batch_sizes = {"train": train_batch_size, "eval": eval_batch_size}
        self.num_workers = num_workers
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self._validate()
        self.train_features: datasets.Dataset | None = None
        self.eval_features: datasets.Dataset | None = None
        self.eval_examples: list[SquadRecord] = []
        self.teacher_logits: TeacherLogits | None = None
        self._read_cache: dict[str, tuple[list[SquadRecord], str]] = {}
        self._lengths: dict[str, np.ndarray] = {}

    def _validate(self) -> None:
        self.settings.validate("data")
        if not getattr(self.tokenizer, "is_fast", False):
            raise ConfigError("tokenizer: a fast (Rust) tokenizer is required for answer offsets.")
        for split, size in self.batch_sizes.items():
            require_integer(f"data.{split}_batch_size", size, minimum=1)
        for split, limit in self.max_examples.items():
            require_integer(f"data.max_{split}_examples", limit, minimum=1, null_means="all")
        require_choice("data.padding", self.padding, PADDING_MODES)
        for key in ("group_by_length", "sort_eval_by_length"):
            require_bool(f"data.{key}", getattr(self, key))
        require_integer("data.mega_batch_mult", self.mega_batch_mult, minimum=1, null_means="transformers' default")
        require_integer("data.num_workers", self.num_workers, minimum=0)
        check_part(self.eval_part)
        for files, _, key in self.sources.values():
            if not files and not self.hub_dataset:
                raise ConfigError(f"{key} is not set and data.hub_dataset is null: give one of them.")
            for path in files:
                if not Path(path).is_file():
                    raise ConfigError(
                        f"{key}: data file {path!r} does not exist. Point it at SQuAD 2.0 JSON files "
                        "(set LIGHTNING_DISTILL_SQUAD_DIR for the shipped presets) or use data.hub_dataset."
                    )

    # -- loading ---------------------------------------------------------------------------

    def _read(self, split: str) -> tuple[list[SquadRecord], str]:
        if split not in self._read_cache:
            files, hub_split, key = self.sources[split]
            if files:
                records, fingerprint = read_squad_files(files, key), fingerprint_files(files)
            else:
                records, fingerprint = records_from_hub(self.hub_dataset, hub_split, f"data.hub_dataset ({split})")
            if split == "eval":  # the part first, then the subset: a subset of select never reaches into test
                records = records_of_part(records, self.eval_part, key)
            self._read_cache[split] = select_subset(records, self.max_examples[split], self.subset_seed), fingerprint
        return self._read_cache[split]

    def records(self, split: str) -> list[SquadRecord]:
        """The questions a split trains or evaluates on (after the part and the subset)."""
        return self._read(split)[0]

    def use_student_vocabulary(self, student_tokenizer: PreTrainedTokenizerFast, id_map: torch.Tensor) -> None:
        """The student has its own (trimmed) vocabulary: evaluate with its tokenizer, as it will be
        deployed, and give it the train features' ids translated through ``id_map`` (teacher id ->
        student id). Train features stay the teacher's tokenization, so the cached teacher logits
        keep lining up token by token. Call before :meth:`setup`."""
        if self.eval_features is not None:
            raise RuntimeError("use_student_vocabulary must be called before setup()")
        self.student_tokenizer = student_tokenizer
        self.student_id_map = id_map

    def _tokenizer_of(self, split: str) -> PreTrainedTokenizerFast:
        return self.student_tokenizer if split == "eval" else self.tokenizer

    def teacher_eval_features(self) -> tuple[list[SquadRecord], datasets.Dataset]:
        """The evaluation questions and their features in the shared (teacher's) tokenization: the eval features
        themselves, unless the student's vocabulary is trimmed (then featurized, and cached, apart)."""
        if self.student_tokenizer is self.tokenizer:
            self.setup("validate")
            return self.eval_examples, self.eval_features
        features, records = self._features("eval", self.tokenizer)
        return records, features

    def features_key(self, split: str, tokenizer: PreTrainedTokenizerFast | None = None) -> str:
        """The content key of a split's features (tokenizer, settings, data, subset); reads the data."""
        return self._cache_key(split, self._read(split)[1], tokenizer)

    def _cache_key(self, split: str, data_fingerprint: str, tokenizer: PreTrainedTokenizerFast | None = None) -> str:
        key = {
            "version": FEATURIZATION_VERSION,
            "tokenizer": tokenizer_fingerprint(tokenizer or self._tokenizer_of(split)),
            "settings": self.settings.as_dict(),
            "data": data_fingerprint,
            "max_examples": self.max_examples[split],
            "subset_seed": self.subset_seed,
        }
        if split == "eval" and self.eval_part is not None:
            key["part"] = self.eval_part
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]

    def _featurize(
        self, records: list[SquadRecord], split: str, tokenizer: PreTrainedTokenizerFast | None = None
    ) -> datasets.Dataset:
        return datasets.Dataset.from_list(records).map(
            featurize_batch,
            batched=True,
            remove_columns=list(records[0].keys()),
            fn_kwargs={"tokenizer": tokenizer or self._tokenizer_of(split), "settings": self.settings},
            desc=f"Featurizing {split}",
            new_fingerprint=f"featurize-{split}",
        )

    def _features(
        self, split: str, tokenizer: PreTrainedTokenizerFast | None = None
    ) -> tuple[datasets.Dataset, list[SquadRecord]]:
        records, fingerprint = self._read(split)
        if self.cache_dir is None:
            return self._featurize(records, split, tokenizer), records
        path = self.cache_dir / f"{split}-{self._cache_key(split, fingerprint, tokenizer)}"
        if not path.exists() or damage(path) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path.parent / f".{path.name}.lock")):
                problem = damage(path) if path.exists() else None
                if problem is not None:
                    log.warning("Cached %s features %s are damaged (%s); featurizing again", split, path, problem)
                    shutil.rmtree(path)
                if not path.exists():  # else another trial featurized (or repaired) while we waited
                    if removed := remove_stale_staging(path):
                        log.warning("Removed %d unfinished build(s) of %s left by a killed process", removed, path)
                    _save_atomically(self._featurize(records, split, tokenizer), path)
        else:
            log.info("Reusing cached %s features from %s", split, path)
        return datasets.load_from_disk(str(path)), records

    def setup(self, stage: str | None = None) -> None:
        """Featurize (or load cached features); idempotent."""
        loaded = False
        if self.eval_features is None:
            self.eval_features, self.eval_examples = self._features("eval")
            loaded = True
        if stage in (None, "fit") and self.train_features is None:
            self.train_features, _ = self._features("train")
            loaded = True
        if not loaded:  # Lightning calls setup again for each stage: say it once per split loaded
            return
        log.info(
            "SQuAD features: %s train, %d eval (%d questions)",
            "-" if self.train_features is None else len(self.train_features),
            len(self.eval_features),
            len(self.eval_examples),
        )

    # -- batching ----------------------------------------------------------------------------

    def attach_teacher_logits(self, teacher_logits: TeacherLogits | None) -> None:
        """Train batches will carry the cached teacher logits of their features (None: they won't)."""
        self.teacher_logits = teacher_logits

    def lengths(self, split: str) -> np.ndarray:
        """Token count of every feature of a split (after :meth:`setup`)."""
        if split not in self._lengths:
            self._lengths[split] = feature_lengths(self.train_features if split == "train" else self.eval_features)
        return self._lengths[split]

    def collate(self, rows: list[dict[str, Any]], split: str = "eval") -> dict[str, torch.Tensor]:
        """Pad to ``max_seq_length`` (the paper's fixed shapes) or to the batch's longest feature;
        train batches also get their cached teacher logits, padded the same way."""
        indices = [row.pop(FEATURE_INDEX) for row in rows] if rows and FEATURE_INDEX in rows[0] else None
        batch = self._tokenizer_of(split).pad(
            rows, padding=self.padding, max_length=self.settings.max_seq_length, return_tensors="pt"
        )
        if split == "train" and self.student_id_map is not None:
            batch[TEACHER_INPUT_IDS] = batch["input_ids"]
            batch["input_ids"] = self.student_id_map[batch["input_ids"]]
        if indices is not None:
            batch[FEATURE_INDEX] = torch.tensor(indices, dtype=torch.long)
            if split == "train" and self.teacher_logits is not None:
                batch[TEACHER_START], batch[TEACHER_END] = self.teacher_logits.batch(indices, batch["input_ids"].shape[1])
        return batch

    def _loader(self, features: datasets.Dataset, split: str, sampler: Any = None, shuffle: bool = False) -> DataLoader:
        indexed = features.select_columns(list(MODEL_INPUTS)).add_column(FEATURE_INDEX, np.arange(len(features)))
        return DataLoader(
            indexed,
            batch_size=self.batch_sizes[split],
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=partial(self.collate, split=split),
        )

    def train_dataloader(self) -> DataLoader:
        if self.group_by_length:
            sampler = LengthGroupedSampler(self.lengths("train"), self.batch_sizes["train"], self.mega_batch_mult)
            return self._loader(self.train_features, "train", sampler=sampler)
        return self._loader(self.train_features, "train", shuffle=True)

    def eval_subset(self, questions: int) -> tuple[list[SquadRecord], datasets.Dataset, DataLoader]:
        """The first ``questions`` evaluation questions, their features and a loader over them (in feature
        order, ``feature_index`` counting within the subset): a cheap probe of a student mid-training."""
        examples = self.eval_examples[:questions]
        wanted = {example["id"] for example in examples}
        rows = [index for index, example_id in enumerate(self.eval_features["example_id"]) if example_id in wanted]
        features = self.eval_features.select(rows)
        return examples, features, self._loader(features, "eval")

    def val_dataloader(self) -> DataLoader:
        sampler = SortedByLengthSampler(self.lengths("eval")) if self.sort_eval_by_length else None
        return self._loader(self.eval_features, "eval", sampler=sampler)


def _as_list(files: Sequence[str] | str | None) -> list[str]:
    if files is None:
        return []
    return [str(files)] if isinstance(files, (str, Path)) else [str(path) for path in files]


def _save_atomically(dataset: datasets.Dataset, path: Path) -> None:
    """Build in a sibling temp dir and rename: readers see the whole cache or none of it."""
    with staged_directory(path) as staging:
        dataset.save_to_disk(str(staging))
        write_manifest(staging)  # checked on every open (lightning_distill.storage.cache_manifest)
    log.info("Cached features at %s", path)
