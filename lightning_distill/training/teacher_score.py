"""The teacher's own SQuAD scores on the evaluation data, computed once and shown beside every student.

Every soft target comes from the teacher, so a weak or mis-fed teacher (wrong segment ids, wrong checkpoint, a
tokenizer that does not match) caps every student and would otherwise show only as students that all score
low. Scoring it on the same questions, with the same answer settings, makes that visible in each run's
``metrics.json`` (``teacher``), its loggers (``teacher/*``) and the sweep report.

Computed once per (teacher fingerprint, segment-id convention, evaluation features, answer settings) and cached
as one JSON file beside the teacher-logit cache (``teacher.cache.dir``), under a file lock: the trials of a sweep
read it, the first one (or the sweep's set-up) computes it. With the cache off it is computed on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from torch import nn
from torch.utils.data import DataLoader

from lightning_distill.data.datamodule import SquadDataModule
from lightning_distill.portable.model_inputs import BASE_INPUTS, SEGMENT_IDS, qa_logits
from lightning_distill.squad.postprocess import score_logits
from lightning_distill.storage.atomic_files import write_json_atomically

log = logging.getLogger(__name__)

SCORE_VERSION = 1
REPORTED = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "best_exact", "best_f1", "total")
FEATURE_ROW = "row"


def score_key(fingerprint: str, segment_ids: str, features_key: str, answer_settings: Mapping[str, Any]) -> str:
    parts = {"version": SCORE_VERSION, "teacher": fingerprint, "segment_ids": segment_ids, "features": features_key,
             "answers": dict(answer_settings)}  # fmt: skip
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def score_teacher(
    load_teacher: Callable[[], nn.Module],
    fingerprint: str,
    segment_ids: str,
    datamodule: SquadDataModule,
    answer_settings: Mapping[str, Any],
    cache_dir: str | Path | None,
    device: torch.device,
) -> dict[str, Any]:
    """``{"metrics", "segment_ids", "questions", "seconds", "key"}``; ``load_teacher`` is called only on a miss."""
    key = score_key(fingerprint, segment_ids, datamodule.features_key("eval", datamodule.tokenizer), answer_settings)
    if cache_dir is None:
        return _compute(load_teacher(), segment_ids, datamodule, answer_settings, device, key)
    path = Path(cache_dir).expanduser() / f"eval-score-{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / f".{path.name}.lock")):
        if path.is_file():
            return json.loads(path.read_text())
        score = _compute(load_teacher(), segment_ids, datamodule, answer_settings, device, key)
        write_json_atomically(path, score)
    return score


def _compute(
    teacher: nn.Module, segment_ids: str, datamodule: SquadDataModule, answer_settings: Mapping[str, Any],
    device: torch.device, key: str,
) -> dict[str, Any]:  # fmt: skip
    start = time.perf_counter()
    examples, features = datamodule.teacher_eval_features()
    columns = [*BASE_INPUTS, SEGMENT_IDS]
    rows = features.select_columns(columns).add_column(FEATURE_ROW, np.arange(len(features)))

    def collate(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        index = torch.tensor([row.pop(FEATURE_ROW) for row in batch])
        return {**datamodule.tokenizer.pad(batch, return_tensors="pt"), FEATURE_ROW: index}

    loader = DataLoader(rows, batch_size=datamodule.batch_sizes["eval"], collate_fn=collate)
    starts: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
    ends: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
    was_training = teacher.training
    teacher.eval().to(device)
    with torch.inference_mode(), torch.autocast(device.type, enabled=False):
        for batch in loader:
            inputs = {name: batch[name].to(device) for name in columns}
            start_logits, end_logits = qa_logits(teacher, inputs, segment_ids)
            lengths = batch["attention_mask"].sum(dim=1).tolist()
            for row, (index, length) in enumerate(zip(batch[FEATURE_ROW].tolist(), lengths)):
                starts[index] = start_logits[row, :length].float().cpu().numpy()
                ends[index] = end_logits[row, :length].float().cpu().numpy()
    teacher.train(was_training)
    offsets = features.select_columns(["example_id", "offset_mapping"]).to_list()
    _, metrics = score_logits(examples, offsets, starts, ends, **answer_settings)
    seconds = time.perf_counter() - start
    score = {"key": key, "segment_ids": segment_ids, "questions": len(examples), "seconds": round(seconds, 2),
             "metrics": {name: float(metrics[name]) for name in REPORTED if name in metrics}}  # fmt: skip
    log.info("Teacher on the evaluation data (%d questions, segment ids: %s): %s (%.1f s)", len(examples), segment_ids,
             ", ".join(f"{name} {value:.2f}" for name, value in score["metrics"].items() if name != "total"), seconds)  # fmt: skip
    return score
