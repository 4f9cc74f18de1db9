"""QA checkpoints on disk: ours (pruned or not) and any Hugging Face QA model, loaded in float32.

A student leaves the project as a standard Hugging Face checkpoint. Unpruned, it is a plain
DistilBERT. Pruned, its q/k/v/out_lin shapes differ from what a DistilBERT config describes, so it
is saved as ``pruned_distilbert`` with its modeling file and ``auto_map``
(:mod:`lightning_distill.portable.pruned_distilbert`): plain transformers loads it with
``trust_remote_code=True``, and this project loads it without, through the classes registered
below. Checkpoints of earlier versions (``distilbert`` with ``kept_heads``) still load here.
Errors name the config key the path came from (``role``), so a wrong path reads as a config
mistake, not a library trace.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForQuestionAnswering, PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, cached_file

from lightning_distill.errors import CheckpointError, first_line
from lightning_distill.portable.pruned_distilbert import PrunedDistilBertConfig, PrunedDistilBertForQuestionAnswering
from lightning_distill.portable.question_answering import (
    DEFAULT_SETTINGS,
    SEGMENT_IDS_SETTING,
    SquadQuestionAnsweringPipeline,
    custom_pipeline_entry,
)
from lightning_distill.storage.atomic_files import respect_umask

log = logging.getLogger(__name__)

QA_HEAD_PREFIX = "qa_outputs."
LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError)
"""What transformers raises for a missing path, an unknown repo or an unreadable checkpoint."""

# In-project loading needs no remote code: the registered classes are this package's own. Saving
# through them copies pruned_distilbert.py next to the weights and writes auto_map, for everyone else.
AutoConfig.register(PrunedDistilBertConfig.model_type, PrunedDistilBertConfig, exist_ok=True)
AutoModelForQuestionAnswering.register(PrunedDistilBertConfig, PrunedDistilBertForQuestionAnswering, exist_ok=True)
PrunedDistilBertConfig.register_for_auto_class()
PrunedDistilBertForQuestionAnswering.register_for_auto_class("AutoModelForQuestionAnswering")


def save_qa_model(
    model: PreTrainedModel,
    directory: str | Path,
    tokenizer=None,
    question_answering: Mapping[str, Any] | None = None,
) -> None:
    """Save in the Hugging Face layout that plain transformers can load (see the module docstring).

    With a tokenizer, the directory also answers questions through
    ``pipeline("question-answering", model=directory, trust_remote_code=True)``, using the window
    and answer settings in ``question_answering`` (the run's evaluation settings; keys of
    ``portable.question_answering.DEFAULT_SETTINGS``).
    """
    portable = portable_qa_model(model)
    with _config_for_saving(portable, with_pipeline=tokenizer is not None, question_answering=question_answering):
        portable.save_pretrained(directory)
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
        custom_object_save(SquadQuestionAnsweringPipeline, directory)
    respect_umask(directory)


def is_pruned(config) -> bool:
    """True when some layer has lost heads (``kept_heads`` listing every head is not pruned)."""
    kept_heads = getattr(config, "kept_heads", None)
    return kept_heads is not None and any(len(heads) < config.n_heads for heads in kept_heads)


def portable_qa_model(model: PreTrainedModel) -> PreTrainedModel:
    """The class a saved checkpoint should have: a pruned DistilBERT becomes (a copy as)
    ``PrunedDistilBertForQuestionAnswering``; anything else is returned as it is."""
    if isinstance(model, PrunedDistilBertForQuestionAnswering) or not is_pruned(model.config):
        return model
    portable = PrunedDistilBertForQuestionAnswering(PrunedDistilBertConfig(**_distilbert_settings(model.config)))
    portable.load_state_dict(model.state_dict(), strict=True)
    return portable.to(model.device).train(model.training)


@contextmanager
def _config_for_saving(
    model: PreTrainedModel, *, with_pipeline: bool, question_answering: Mapping[str, Any] | None
) -> Iterator[None]:
    """The config as saved, on a copy (the live model's config is left untouched).

    An unpruned student saves as a plain DistilBERT: a ``kept_heads`` that lists every head says
    nothing and would only make the checkpoint look pruned. With the pipeline, the config names it
    (``custom_pipelines``) and records the settings it answers with.
    """
    original = model.config
    model.config = copy.deepcopy(original)
    if not is_pruned(original) and hasattr(original, "kept_heads"):
        del model.config.kept_heads
    if with_pipeline:
        model.config.custom_pipelines = custom_pipeline_entry()
        known = {*DEFAULT_SETTINGS, SEGMENT_IDS_SETTING}  # segment_ids: how a BERT-layout model was fine-tuned
        unknown = set(question_answering or {}) - known
        if unknown:
            raise ValueError(f"question_answering has unknown settings {sorted(unknown)}; known: {sorted(known)}.")
        model.config.question_answering = {**DEFAULT_SETTINGS, **(question_answering or {})}
    try:
        yield
    finally:
        model.config = original


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
    """Rebuild the pruned architecture from ``config.kept_heads``, then load weights exactly.

    Done by hand rather than by ``from_pretrained`` so that kept heads that disagree with the
    weights are one clear error naming the checkpoint, for both the current and the earlier format.
    """
    if config.model_type not in ("distilbert", PrunedDistilBertConfig.model_type):
        raise CheckpointError(
            f"{role}.name_or_path={name_or_path!r} records kept_heads but is a '{config.model_type}' "
            "model; only DistilBERT students are pruned by lightning-distill. Remove kept_heads from "
            "its config.json or choose another checkpoint."
        )
    try:
        model = PrunedDistilBertForQuestionAnswering(PrunedDistilBertConfig(**_distilbert_settings(config)))
        model.load_state_dict(_read_safetensors(name_or_path, role), strict=True)
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{role}.name_or_path={name_or_path!r}: its config.json's kept_heads disagree with its weights "
            f"({first_line(exc)}). The checkpoint is damaged or was edited; save it again with "
            "lightning_distill.models.checkpoint.save_qa_model."
        ) from exc
    return model.eval()


def _distilbert_settings(config) -> dict:
    settings = config.to_dict()
    for key in ("model_type", "architectures", "auto_map", "transformers_version"):
        settings.pop(key, None)
    return settings


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
