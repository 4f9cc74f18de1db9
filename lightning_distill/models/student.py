"""The student: a DistilBERT QA model of any depth and head count, and QA checkpoints on disk.

Build order matters and is fixed here: initialize every tensor the DistilBERT way, copy what the
pretrained checkpoint offers (``lightning_distill.models.weight_transfer``), then prune heads
(``lightning_distill.models.pruning``) so the surviving heads keep pretrained weights.

Initialization is redone by hand because transformers' ``_init_weights`` uses
``config.initializer_range or 0.02``: the search space includes ``initializer_range=0``, which
transformers would silently turn into 0.02. Weights are drawn from the global torch RNG unless
``init_seed`` is given, so a run seeded with ``lightning.seed_everything`` is reproducible.

Pruned students cannot be loaded by ``from_pretrained`` (their q/k/v/out_lin shapes differ from
what the DistilBERT config describes), so :func:`load_qa_model` rebuilds them from the
``kept_heads`` their config records and loads the weights strictly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForQuestionAnswering,
    DistilBertConfig,
    DistilBertForQuestionAnswering,
    PreTrainedModel,
)
from transformers.activations import ACT2FN
from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, cached_file

from lightning_distill.config.checks import require_bool, require_integer, require_number
from lightning_distill.errors import CheckpointError, ConfigError
from lightning_distill.models.pruning import choose_kept_heads, prune_heads
from lightning_distill.models.weight_transfer import SeedReport, check_layer_seeding, load_seed_state_dict, seed_student

log = logging.getLogger(__name__)

MAX_LAYERS = 20
"""Deepest student in the search space (SPEC Table 2)."""
QA_HEAD_PREFIX = "qa_outputs."
LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError)
"""What transformers raises for a missing path, an unknown repo or an unreadable checkpoint."""


@dataclass
class StudentBuild:
    """A built student and, when it was seeded from a checkpoint, what it got from it."""

    model: PreTrainedModel
    report: SeedReport | None


def build_student(
    *,
    vocab_size: int,
    n_layers: int = 6,
    n_heads: int = 12,
    pruning_seed: int = 42,
    seed_from: str | None = "distilbert-base-uncased",
    layer_seeding: str = "match",
    fold_token_type_embeddings: bool = True,
    dim: int = 768,
    base_n_heads: int = 12,
    hidden_dim: int = 3072,
    max_position_embeddings: int = 512,
    dropout: float = 0.1,
    attention_dropout: float = 0.1,
    qa_dropout: float = 0.1,
    initializer_range: float = 0.02,
    activation: str = "gelu",
    sinusoidal_pos_embds: bool = False,
    init_seed: int | None = None,
) -> StudentBuild:
    """Initialize, seed from ``seed_from`` (None: random only), then prune to ``n_heads`` heads."""
    _validate(locals())
    config = DistilBertConfig(
        vocab_size=vocab_size,
        dim=dim,
        n_layers=n_layers,
        n_heads=base_n_heads,
        hidden_dim=hidden_dim,
        max_position_embeddings=max_position_embeddings,
        dropout=dropout,
        attention_dropout=attention_dropout,
        qa_dropout=qa_dropout,
        initializer_range=initializer_range,
        activation=activation,
        sinusoidal_pos_embds=sinusoidal_pos_embds,
    )
    model = DistilBertForQuestionAnswering(config)
    generator = None if init_seed is None else torch.Generator().manual_seed(init_seed)
    initialize_weights(model, initializer_range, generator=generator)
    report = None
    if seed_from is not None:
        seed_state, model_type = load_seed_state_dict(seed_from, expected_n_heads=base_n_heads)
        report = seed_student(model, seed_state, model_type, layer_seeding, fold_token_type_embeddings)
        report.source = seed_from
        level = logging.WARNING if report.shape_mismatch else logging.INFO  # mismatches are usually a wrong seed_from
        log.log(level, "Student seeding: %s", report.summary())
    else:
        log.info("Student seeding: none (student.seed_from=null); all tensors freshly initialized.")
    prune_heads(model, choose_kept_heads(n_layers, base_n_heads, n_heads, pruning_seed))
    return StudentBuild(model=model, report=report)


def initialize_weights(model: nn.Module, std: float, *, generator: torch.Generator | None = None) -> None:
    """DistilBERT-style init that honours ``std == 0`` (all-zero weights) unlike transformers'.

    The padding row of an embedding is zeroed as in transformers; sinusoidal position tables are
    restored afterwards because they are fixed functions, not weights to draw.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                _normal(module.weight, std, generator)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.zero_()
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
            if isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
        config = getattr(model, "config", None)
        if config is not None and getattr(config, "sinusoidal_pos_embds", False):
            positions = model.distilbert.embeddings.position_embeddings.weight
            table = create_sinusoidal_embeddings(config.max_position_embeddings, config.dim, torch.empty_like(positions))
            positions.copy_(table)


def _normal(weight: torch.Tensor, std: float, generator: torch.Generator | None) -> None:
    if std == 0:
        weight.zero_()
    else:
        weight.normal_(mean=0.0, std=std, generator=generator)


def count_trainable_parameters(model: nn.Module) -> int:
    """The 'num_params' metric the search minimizes: parameters the optimizer updates."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


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
            f"its config.json describes ({_first_line(exc)}). The checkpoint is damaged or was edited; "
            "save it again with lightning_distill.models.student.save_qa_model."
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
            "save the model with lightning_distill.models.student.save_qa_model."
        )
    shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values()))
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        state.update(load_file(cached_file(name_or_path, shard)))
    return state


def _unloadable(name_or_path: str, role: str, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"{role}.name_or_path={name_or_path!r} cannot be loaded ({_first_line(exc)}). Give an existing "
        "local directory holding config.json and model weights, or a valid hub id."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _validate(settings: dict) -> None:
    """Range-check every student setting up front, naming the config key and the fix."""
    def key(name: str) -> str:
        return f"student.{name}"

    require_integer(key("vocab_size"), settings["vocab_size"], minimum=1)
    require_integer(key("n_layers"), settings["n_layers"], minimum=1, maximum=MAX_LAYERS)
    require_integer(key("base_n_heads"), settings["base_n_heads"], minimum=1)
    require_integer(
        key("n_heads"), settings["n_heads"], minimum=1, maximum=settings["base_n_heads"],
        hint="heads are pruned out of student.base_n_heads, so at most that many",
    )
    require_integer(key("pruning_seed"), settings["pruning_seed"])
    require_integer(key("dim"), settings["dim"], minimum=1)
    if settings["dim"] % settings["base_n_heads"] != 0:
        raise ConfigError(
            f"student.dim={settings['dim']} is not divisible by student.base_n_heads="
            f"{settings['base_n_heads']}: choose a dim that is a multiple of the head count."
        )
    require_integer(key("hidden_dim"), settings["hidden_dim"], minimum=1)
    require_integer(key("max_position_embeddings"), settings["max_position_embeddings"], minimum=1)
    for name in ("dropout", "attention_dropout", "qa_dropout"):
        require_number(key(name), settings[name], minimum=0.0, maximum=1.0)
    require_number(key("initializer_range"), settings["initializer_range"], minimum=0.0)
    if settings["activation"] not in ACT2FN:
        raise ConfigError(
            f"student.activation={settings['activation']!r} is unknown: use one of transformers' "
            f"activations, e.g. 'gelu' or 'relu'."
        )
    for name in ("fold_token_type_embeddings", "sinusoidal_pos_embds"):
        require_bool(key(name), settings[name])
    seed_from = settings["seed_from"]
    if seed_from is not None and (not isinstance(seed_from, str) or not seed_from.strip()):
        raise ConfigError(
            f"student.seed_from={seed_from!r} must be a hub id or local directory, or null for random weights."
        )
    check_layer_seeding(settings["layer_seeding"])
    require_integer(key("init_seed"), settings["init_seed"], null_means="the global torch random stream")
