"""Seeding a freshly initialized student from a pretrained encoder "wherever shapes allow".

The source copied DistilBERT's embeddings and its layers 0-5 into the student; deeper layers
and the QA head started from scratch. Here the checkpoint may be a DistilBERT or a BERT encoder
(the offline setup seeds from MiniLM, a BERT-architecture model), so BERT parameter names are
mapped onto DistilBERT's. Every student tensor ends up in exactly one bucket of the
:class:`SeedReport`: copied from the checkpoint, left initialized (nothing to copy), or left
initialized because the checkpoint's tensor has another shape (e.g. hidden 384 vs 768).

Layer rules (``student.layer_seeding``):

* ``match`` - student layer i takes checkpoint layer i where it exists; deeper layers keep their
  fresh initialization. This is the source's rule.
* ``cycle`` - student layer i takes checkpoint layer ``i mod depth``, so a deep student starts
  from pretrained weights everywhere (repeated blocks instead of random ones).
* ``spread`` - the student's n layers spread over the checkpoint's d from the bottom, layer i taking
  ``floor(i * d / n)``: DistilBERT's rule (every other layer of BERT-base: 0, 2, ..., 10), e.g.
  0, 2, 4 for 3 of 6 layers. A shallow student then sees the checkpoint's whole depth of features
  instead of only its lowest layers.
* ``spread_top`` - evenly from the first to the *last* layer, ``round(i * (d - 1) / (n - 1))``
  (0, 3, 5 for 3 of 6; a 1-layer student takes the last): keeps the layer a fine-tuned checkpoint's
  QA head reads, so a copied head sees the features it was trained on.

The QA head (``qa_outputs``) is copied too when the checkpoint is a question-answering model of
the same hidden size (e.g. seeding from the fine-tuned teacher), and freshly initialized otherwise.

BERT has token-type (segment) embeddings that DistilBERT lacks. With
``fold_token_type_embeddings`` the segment-0 vector is added to every position embedding: exact
for inputs that are all segment A, an approximation for question/context pairs, whose context
tokens BERT saw with segment 1. Without folding the segment embeddings are simply dropped. The
pooler is never used (QA reads token states only).

Seeding must happen before head pruning, so that the kept heads carry pretrained weights.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor
from transformers import AutoConfig, AutoModel, AutoModelForQuestionAnswering, PreTrainedModel

from lightning_distill.config.checks import require_choice
from lightning_distill.errors import CheckpointError, first_line
from lightning_distill.models.checkpoint import is_pruned

log = logging.getLogger(__name__)

LAYER_SEEDING_RULES = ("match", "cycle", "spread", "spread_top")
SUPPORTED_MODEL_TYPES = ("distilbert", "bert")

STUDENT_PREFIX = "distilbert."
STUDENT_EMBEDDINGS = "distilbert.embeddings."
QA_HEAD = "qa_outputs."
QUESTION_ANSWERING_SUFFIX = "ForQuestionAnswering"
STUDENT_LAYER = re.compile(r"^distilbert\.transformer\.layer\.(\d+)\.(.+)$")
SOURCE_LAYER = {
    "distilbert": re.compile(r"^transformer\.layer\.(\d+)\."),
    "bert": re.compile(r"^encoder\.layer\.(\d+)\."),
}
POSITION_EMBEDDINGS = "embeddings.position_embeddings.weight"
TOKEN_TYPE_EMBEDDINGS = "embeddings.token_type_embeddings.weight"
SEGMENT_A = 0

BERT_LAYER_NAMES = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}
"""DistilBERT layer module -> the BERT layer module holding the same weights."""


@dataclass
class ShapeMismatch:
    """A student tensor that has a checkpoint counterpart of another shape, so stays initialized."""

    student_key: str
    source_key: str
    student_shape: tuple[int, ...]
    source_shape: tuple[int, ...]


@dataclass
class SeedReport:
    """What a student got from its checkpoint, so a run's log says how 'pretrained' it really is."""

    source: str | None = ""
    """The checkpoint seeded from; None: nothing was (``student.seed_from: null``), every tensor is initialized."""
    layer_seeding: str | None = "match"
    layers: dict[int, int | None] = field(default_factory=dict)
    """student layer -> the checkpoint layer it was seeded from (None: freshly initialized)."""
    seeded: dict[str, str] = field(default_factory=dict)
    """student key -> checkpoint key it was copied from."""
    initialized: list[str] = field(default_factory=list)
    """student keys with no checkpoint counterpart (deeper layers, QA head, ...)."""
    shape_mismatch: list[ShapeMismatch] = field(default_factory=list)
    folded_token_type_embeddings: bool = False
    """True when BERT's segment-0 embedding was added into the position embeddings."""

    @property
    def qa_head_seeded(self) -> bool:
        return any(key.startswith(QA_HEAD) for key in self.seeded)

    def summary(self) -> str:
        """One paragraph for the run log."""
        seeded = len(self.seeded)
        total = seeded + len(self.initialized) + len(self.shape_mismatch)
        text = (
            f"Seeded {seeded} of {total} student tensors from {self.source or 'the checkpoint'} "
            f"(layer rule '{self.layer_seeding}'"
        )
        if self.layers:
            text += ": student layers <- " + ", ".join(
                f"{layer}<-{'fresh' if source is None else source}" for layer, source in self.layers.items()
            )
        text += f"; QA head {'copied' if self.qa_head_seeded else 'fresh'}); {len(self.initialized)} freshly initialized"
        if self.initialized:
            text += f" ({', '.join(_parts(self.initialized))})"
        if self.shape_mismatch:
            mismatches = [
                f"{m.student_key} {list(m.student_shape)} vs checkpoint {list(m.source_shape)}"
                for m in self.shape_mismatch
            ]
            text += f"; {len(self.shape_mismatch)} initialized for shape mismatch ({_abbreviate(mismatches)})"
        if self.folded_token_type_embeddings:
            text += "; BERT segment-0 token-type embedding folded into the position embeddings"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``seeding_report.json`` in the run directory."""
        return {
            "source": self.source,
            "layer_seeding": self.layer_seeding,
            "layers": {str(layer): source for layer, source in self.layers.items()},
            "qa_head_seeded": self.qa_head_seeded,
            "seeded": dict(self.seeded),
            "initialized": list(self.initialized),
            "shape_mismatch": [
                {**asdict(entry), "student_shape": list(entry.student_shape), "source_shape": list(entry.source_shape)}
                for entry in self.shape_mismatch
            ],
            "folded_token_type_embeddings": self.folded_token_type_embeddings,
        }


def load_seed_state_dict(name_or_path: str, *, expected_n_heads: int | None = None) -> tuple[dict[str, Tensor], str]:
    """Load a checkpoint's encoder weights, and its QA head if it has one, in float32.

    Keys are the bare encoder's (``embeddings.*``, ``encoder.layer.*``) plus ``qa_outputs.*`` for a
    question-answering checkpoint (e.g. the SQuAD-tuned teacher), whose head is worth copying; any
    other task head is dropped (``AutoModel`` yields the encoder alone). ``expected_n_heads`` only triggers a warning: copied attention weights are still
    valid numbers if the checkpoint splits them into a different number of heads, but they no
    longer mean what they meant in the checkpoint.
    """
    config = _load(AutoConfig.from_pretrained, name_or_path)
    if is_pruned(config):
        raise CheckpointError(
            f"student.seed_from={name_or_path!r} is a head-pruned student; seeding needs an unpruned "
            "checkpoint (pruned heads cannot be placed back). Choose an unpruned DistilBERT/BERT checkpoint."
        )
    model_type = config.model_type
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise CheckpointError(
            f"student.seed_from={name_or_path!r} is a '{model_type}' model; only "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} checkpoints can seed a DistilBERT student. Choose one "
            "of those or set student.seed_from=null."
        )
    if _is_question_answering(config):
        model = _load(AutoModelForQuestionAnswering.from_pretrained, name_or_path, dtype=torch.float32)
        prefix = f"{model.base_model_prefix}."
        state = {key.removeprefix(prefix): value for key, value in model.state_dict().items()}
    else:
        model = _load(AutoModel.from_pretrained, name_or_path, dtype=torch.float32)
        state = dict(model.state_dict())  # detached tensors; they outlive the discarded module
    source_heads = getattr(model.config, "num_attention_heads", None)
    if expected_n_heads is not None and source_heads is not None and source_heads != expected_n_heads:
        log.warning(
            "student.seed_from=%r splits attention into %d heads but the student uses %d "
            "(student.base_n_heads): copied attention weights will be regrouped into different heads.",
            name_or_path, source_heads, expected_n_heads,
        )
    return state, model_type


def _is_question_answering(config: Any) -> bool:
    return any(name.endswith(QUESTION_ANSWERING_SUFFIX) for name in getattr(config, "architectures", None) or ())


def _load(loader, name_or_path: str, **kwargs):
    """Run a transformers loader, turning its many failure modes into one clear CheckpointError."""
    try:
        return loader(name_or_path, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"student.seed_from={name_or_path!r} cannot be loaded ({first_line(exc)}). Give an existing "
            "local directory or hub id of a DistilBERT/BERT checkpoint, or set student.seed_from=null "
            "to start from random weights."
        ) from exc


def check_layer_seeding(layer_seeding: str) -> None:
    """Fail on an unknown rule before any checkpoint is loaded."""
    require_choice("student.layer_seeding", layer_seeding, LAYER_SEEDING_RULES)


def seed_student(
    student: PreTrainedModel,
    seed_state: dict[str, Tensor],
    model_type: str,
    layer_seeding: str = "match",
    fold_token_type_embeddings: bool = True,
) -> SeedReport:
    """Copy checkpoint tensors into a (not yet pruned) DistilBertForQuestionAnswering, in place."""
    check_layer_seeding(layer_seeding)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise CheckpointError(
            f"student.seed_from: model type '{model_type}' is not supported; use a "
            f"{' or '.join(SUPPORTED_MODEL_TYPES)} checkpoint."
        )
    sources, folded = _source_tensors(seed_state, model_type, fold_token_type_embeddings, student)
    depth = _source_depth(seed_state, model_type)
    n_layers = student.config.n_layers
    report = SeedReport(layer_seeding=layer_seeding, layers={
        layer: source_layer_index(layer, n_layers, depth, layer_seeding) for layer in range(n_layers)
    } if depth else {})
    student_state = student.state_dict()
    qa_head_fits = all(  # the head is copied whole or not at all: its bias alone means nothing
        key in sources and sources[key].shape == value.shape
        for key, value in student_state.items() if key.startswith(QA_HEAD)
    )
    with torch.no_grad():
        for student_key, target in student_state.items():
            source_key = _source_key(student_key, model_type, layer_seeding, depth, n_layers)
            if source_key is None or source_key not in sources:
                report.initialized.append(student_key)
                continue
            source = sources[source_key]
            if source.shape != target.shape or (student_key.startswith(QA_HEAD) and not qa_head_fits):
                report.shape_mismatch.append(
                    ShapeMismatch(student_key, source_key, tuple(target.shape), tuple(source.shape))
                )
                continue
            target.copy_(source)
            report.seeded[student_key] = source_key
    report.folded_token_type_embeddings = folded and POSITION_EMBEDDINGS in report.seeded.values()
    return report


def _source_tensors(
    seed_state: dict[str, Tensor], model_type: str, fold: bool, student: PreTrainedModel
) -> tuple[dict[str, Tensor], bool]:
    """The checkpoint tensors as they should be copied, and whether the segment embedding was folded.

    Sinusoidal (fixed) student position embeddings are never overwritten, so the checkpoint's
    learned ones are withheld in that case.
    """
    sources = dict(seed_state)
    if getattr(student.config, "sinusoidal_pos_embds", False):
        sources.pop(POSITION_EMBEDDINGS, None)
        return sources, False
    token_types = seed_state.get(TOKEN_TYPE_EMBEDDINGS)
    positions = seed_state.get(POSITION_EMBEDDINGS)
    if model_type != "bert" or not fold or token_types is None or positions is None:
        return sources, False
    if token_types.shape[-1] != positions.shape[-1]:
        return sources, False
    sources[POSITION_EMBEDDINGS] = positions + token_types[SEGMENT_A]
    return sources, True


def _source_depth(seed_state: dict[str, Tensor], model_type: str) -> int:
    """Number of transformer layers in the checkpoint (0 if it has none)."""
    pattern = SOURCE_LAYER[model_type]
    indices = {int(match.group(1)) for key in seed_state if (match := pattern.match(key))}
    return max(indices) + 1 if indices else 0


def source_layer_index(layer: int, n_layers: int, depth: int, layer_seeding: str) -> int | None:
    """The checkpoint layer that student layer ``layer`` (of ``n_layers``) copies; None: stays fresh."""
    if layer_seeding == "match":
        return layer if layer < depth else None
    if layer_seeding == "cycle":
        return layer % depth
    if layer_seeding == "spread":
        return layer * depth // n_layers
    if n_layers == 1:  # spread_top
        return depth - 1
    return math.floor(layer * (depth - 1) / (n_layers - 1) + 0.5)


def _source_key(student_key: str, model_type: str, layer_seeding: str, depth: int, n_layers: int) -> str | None:
    """The checkpoint key a student tensor is copied from, or None if it has no counterpart."""
    if student_key.startswith(STUDENT_EMBEDDINGS):
        return student_key.removeprefix(STUDENT_PREFIX)
    if student_key.startswith(QA_HEAD):
        return student_key  # present only in a question-answering checkpoint
    match = STUDENT_LAYER.match(student_key)
    if match is None or depth == 0:
        return None
    layer, rest = int(match.group(1)), match.group(2)
    source_layer = source_layer_index(layer, n_layers, depth, layer_seeding)
    if source_layer is None:
        return None
    if model_type == "distilbert":
        return f"transformer.layer.{source_layer}.{rest}"
    module, _, parameter = rest.rpartition(".")
    bert_module = BERT_LAYER_NAMES.get(module)
    if bert_module is None:
        return None
    return f"encoder.layer.{source_layer}.{bert_module}.{parameter}"


def _parts(student_keys: list[str]) -> list[str]:
    """Name tensors by the part of the model they belong to ("layer 6", "qa_outputs"), in order.

    A deep student leaves dozens of tensors initialized; listing them one by one drowns the log.
    """
    parts: dict[str, None] = {}
    for key in student_keys:
        match = STUDENT_LAYER.match(key)
        if match is not None:
            parts[f"layer {match.group(1)}"] = None
        else:
            parts[key.removeprefix(STUDENT_PREFIX).rsplit(".", 1)[0]] = None
    return list(parts)


def _abbreviate(items: list[str], *, shown: int = 4) -> str:
    """Keep log lines readable when dozens of tensors fall into one bucket."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head}, ... {len(items) - shown} more"

