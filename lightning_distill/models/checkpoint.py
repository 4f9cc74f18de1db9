"""QA checkpoints on disk: ours (pruned or not) and any Hugging Face QA model, loaded in float32.

Pruned students cannot be loaded by ``from_pretrained`` (their q/k/v/out_lin shapes differ from
what the DistilBERT config describes), so :func:`load_qa_model` rebuilds them from the
``kept_heads`` their config records and loads the weights strictly. Errors name the config key
the path came from (``role``), so a wrong path reads as a config mistake, not a library trace.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForQuestionAnswering, DistilBertForQuestionAnswering, PreTrainedModel
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, cached_file

from lightning_distill.errors import CheckpointError, first_line
from lightning_distill.models.pruning import prune_heads

log = logging.getLogger(__name__)

QA_HEAD_PREFIX = "qa_outputs."
LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError)
"""What transformers raises for a missing path, an unknown repo or an unreadable checkpoint."""


def save_qa_model(model: PreTrainedModel, directory: str | Path, tokenizer=None) -> None:
    """Save in the Hugging Face layout; a pruned student's kept heads travel in config.json."""
    model.save_pretrained(directory)
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)


def load_qa_model(name_or_path: str | Path, *, role: str = "teacher") -> PreTrainedModel:
    """Load a question-answering model (ours or any hub/local QA checkpoint) in float32.

    ``role`` names the config section in error messages (``teacher.name_or_path`` ...).
    """
    name_or_path = str(name_or_path)
    config = _load_config(name_or_path, role)
    if getattr(config, "kept_heads", None) is not None:
        return _load_pruned_student(name_or_path, config, role)
    try:
        model, info = AutoModelForQuestionAnswering.from_pretrained(
            name_or_path, dtype=torch.float32, output_loading_info=True
        )
    except LOAD_ERRORS as exc:
        raise _unloadable(name_or_path, role, exc) from exc
    missing = sorted(info["missing_keys"])
    if any(key.startswith(QA_HEAD_PREFIX) for key in missing):
        raise CheckpointError(
            f"{role}.name_or_path={name_or_path!r} has no question-answering head (missing "
            f"{', '.join(k for k in missing if k.startswith(QA_HEAD_PREFIX))}): it is not a QA model. "
            "Fine-tune it on SQuAD 2.0 first or choose a SQuAD 2.0 checkpoint."
        )
    if missing:
        log.warning("%s.name_or_path=%r lacks %d tensors, left randomly initialized: %s",
                       role, name_or_path, len(missing), ", ".join(missing))
    return model


def _load_config(name_or_path: str, role: str):
    try:
        return AutoConfig.from_pretrained(name_or_path)
    except LOAD_ERRORS as exc:
        raise _unloadable(name_or_path, role, exc) from exc


def _load_pruned_student(name_or_path: str, config, role: str) -> PreTrainedModel:
    """Rebuild the pruned architecture from ``config.kept_heads``, then load weights exactly."""
    if config.model_type != "distilbert":
        raise CheckpointError(
            f"{role}.name_or_path={name_or_path!r} records kept_heads but is a '{config.model_type}' "
            "model; only DistilBERT students are pruned by lightning-distill. Remove kept_heads from "
            "its config.json or choose another checkpoint."
        )
    model = DistilBertForQuestionAnswering(config)
    try:
        prune_heads(model, config.kept_heads)
        model.load_state_dict(_read_safetensors(name_or_path, role), strict=True)
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{role}.name_or_path={name_or_path!r}: the weights do not fit the pruned architecture "
            f"its config.json describes ({first_line(exc)}). The checkpoint is damaged or was edited; "
            "save it again with lightning_distill.models.checkpoint.save_qa_model."
        ) from exc
    return model.eval()


def _read_safetensors(name_or_path: str, role: str) -> dict[str, torch.Tensor]:
    """All tensors of a (possibly sharded) safetensors checkpoint, local or on the hub."""
    single = cached_file(name_or_path, SAFE_WEIGHTS_NAME, _raise_exceptions_for_missing_entries=False)
    if single is not None:
        return load_file(single)
    index = cached_file(name_or_path, SAFE_WEIGHTS_INDEX_NAME, _raise_exceptions_for_missing_entries=False)
    if index is None:
        raise CheckpointError(
            f"{role}.name_or_path={name_or_path!r} has no {SAFE_WEIGHTS_NAME} (nor a sharded index): "
            "save the model with lightning_distill.models.checkpoint.save_qa_model."
        )
    shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values()))
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        state.update(load_file(cached_file(name_or_path, shard)))
    return state


def _unloadable(name_or_path: str, role: str, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"{role}.name_or_path={name_or_path!r} cannot be loaded ({first_line(exc)}). Give an existing "
        "local directory holding config.json and model weights, or a valid hub id."
    )
