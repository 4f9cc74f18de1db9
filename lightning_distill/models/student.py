"""The student: a DistilBERT QA model of any depth and head count.

Build order matters and is fixed here: initialize every tensor the DistilBERT way, copy what the
pretrained checkpoint offers (``lightning_distill.models.weight_transfer``), then prune heads
(``lightning_distill.models.pruning``) so the surviving heads keep pretrained weights.

Initialization is redone by hand because transformers' ``_init_weights`` uses
``config.initializer_range or 0.02``: the search space includes ``initializer_range=0``, which
transformers would silently turn into 0.02. Weights are drawn from the global torch RNG unless
``init_seed`` is given, so a run seeded with ``lightning.seed_everything`` is reproducible.
Saving and loading QA checkpoints (pruned or not) is ``lightning_distill.models.checkpoint``.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import (
    DistilBertConfig,
    DistilBertForQuestionAnswering,
    PreTrainedModel,
)
from transformers.activations import ACT2FN
from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings

from lightning_distill.config.checks import require_bool, require_integer, require_number
from lightning_distill.errors import ConfigError
from lightning_distill.models.ffn_pruning import FfnPruning, prune_ffn
from lightning_distill.models.pruning import choose_kept_heads, prune_heads
from lightning_distill.models.weight_transfer import SeedReport, check_layer_seeding, load_seed_state_dict, seed_student

log = logging.getLogger(__name__)

MAX_LAYERS = 20
"""Deepest student in the search space (SPEC Table 2)."""
DISTILBERT_CONFIG_KEYS = (
    "vocab_size", "dim", "n_layers", "hidden_dim", "max_position_embeddings", "dropout", "attention_dropout",
    "qa_dropout", "initializer_range", "activation", "sinusoidal_pos_embds",
)
"""Student settings passed to ``DistilBertConfig`` as they are (``n_heads`` there is ``base_n_heads``:
the architecture is built whole, then pruned)."""


@dataclass
class StudentBuild:
    """A built student and, when it was seeded from a checkpoint, what it got from it."""

    model: PreTrainedModel
    report: SeedReport | None
    ffn_pruning: FfnPruning | None = None
    """Which FFN neurons each layer kept, when ``ffn_dim`` is below ``hidden_dim``."""


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
    ffn_dim: int | None = None,
    max_position_embeddings: int = 512,
    dropout: float = 0.1,
    attention_dropout: float = 0.1,
    qa_dropout: float = 0.1,
    initializer_range: float = 0.02,
    activation: str = "gelu",
    sinusoidal_pos_embds: bool = False,
    init_seed: int | None = None,
) -> StudentBuild:
    """Initialize, seed from ``seed_from`` (None: random only), then prune to ``n_heads`` heads and,
    with ``ffn_dim`` below ``hidden_dim`` (the seed's width), to ``ffn_dim`` FFN neurons per layer
    (:mod:`lightning_distill.models.ffn_pruning`)."""
    settings = locals()
    _validate(settings)
    config = DistilBertConfig(n_heads=base_n_heads, **{key: settings[key] for key in DISTILBERT_CONFIG_KEYS})
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
    ffn_pruning = None
    if ffn_dim is not None and ffn_dim < hidden_dim:
        ffn_pruning = prune_ffn(model, ffn_dim)
        log.info("FFN pruning: kept %d of %d neurons per layer (by %s)", ffn_dim, hidden_dim, ffn_pruning.importance)
    return StudentBuild(model=model, report=report, ffn_pruning=ffn_pruning)


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


def check_student_settings(vocab_size: int, **given: Any) -> None:
    """The checks ``build_student`` makes, without building: a run refuses a bad student before it loads a
    teacher or reads data (keys ``build_student`` does not take are left to its own error)."""
    defaults = {name: parameter.default for name, parameter in inspect.signature(build_student).parameters.items()}
    _validate({**defaults, **{k: v for k, v in given.items() if k in defaults}, "vocab_size": vocab_size})


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
    require_integer(
        key("ffn_dim"), settings["ffn_dim"], minimum=1, maximum=settings["hidden_dim"],
        null_means="student.hidden_dim (no FFN pruning)",
        hint="FFN neurons are pruned out of student.hidden_dim, so at most that many",
    )
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
