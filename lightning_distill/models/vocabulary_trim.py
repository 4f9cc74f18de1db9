"""Vocabulary trimming: a student keeps only the wordpieces its corpus uses.

At MiniLM scale the word embeddings are half of a 6-layer student (30,522 x 384 = 11.7 M of
22.6 M), and the local training texts use about half of the 30,522 wordpieces. Trimming removes the
unused rows of the embedding matrix and the same entries of the tokenizer's vocabulary, so the
student ships with a tokenizer of its own that maps every corpus text to the same wordpieces as
before, only with new ids; text with other wordpieces degrades to ``[UNK]`` (WordPiece: a word it
cannot spell becomes one ``[UNK]``), never to an index error. Special tokens are always kept.

Training reads the teacher's tokenization with the ids translated (:attr:`VocabularyTrim.id_map`,
removed wordpieces -> ``[UNK]``): the teacher's cached logits then line up with the student's
positions token by token. Keeping every wordpiece of the corpus (``min_count: 1``, the corpus being
the training texts) makes that translation exactly what the trimmed tokenizer produces; a frequency
cut changes some texts (their share is reported). Evaluation and deployment use the trimmed
tokenizer itself.

The tokenizer is rebuilt by editing the vocabulary in the backend tokenizer's JSON
(``tokenizers.Tokenizer.from_str``): in transformers 5, ``BertTokenizerFast(vocab_file=...)``
ignored the file here and mapped every word to id 1. The result is a ``PreTrainedTokenizerFast``
with a ``tokenizer.json``, which ``AutoTokenizer`` loads without remote code.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from lightning_distill.config.checks import require_choice, require_integer
from lightning_distill.errors import ConfigError

log = logging.getLogger(__name__)

CORPORA = ("train",)
"""Texts a vocabulary can be trimmed to: ``train`` = the run's training questions and their contexts."""
CALL_STATE = ("truncation", "padding")
TOKENIZE_BATCH = 1000


@dataclass(frozen=True)
class VocabularySettings:
    """``student.vocab``: trim to the wordpieces ``corpus`` uses at least ``min_count`` times, at
    most ``max_size`` of them (most frequent first, specials on top). ``min_count: 0`` keeps all."""

    corpus: str = "train"
    min_count: int = 1
    max_size: int | None = None

    @classmethod
    def from_config(cls, config: Any) -> VocabularySettings | None:
        if config is None:
            return None
        if not hasattr(config, "keys"):
            raise ConfigError(f"student.vocab={config!r} must be null or a mapping {{corpus, min_count, max_size}}.")
        unknown = sorted(set(config) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"student.vocab.{unknown[0]} is not a setting; use {sorted(cls.__dataclass_fields__)}.")
        settings = cls(**dict(config))
        require_choice("student.vocab.corpus", settings.corpus, CORPORA)
        require_integer("student.vocab.min_count", settings.min_count, minimum=0, hint="0 keeps every wordpiece (no trim)")
        require_integer("student.vocab.max_size", settings.max_size, minimum=1, null_means="no limit")
        return settings

    @property
    def trims(self) -> bool:
        return self.min_count > 0 or self.max_size is not None


@dataclass
class VocabularyTrim:
    """A trimmed vocabulary: the student's tokenizer, teacher id -> student id, and the report."""

    kept_ids: list[int]
    tokenizer: PreTrainedTokenizerFast
    id_map: torch.Tensor
    report: dict[str, Any] = field(default_factory=dict)


def corpus_texts(records: Iterable[dict[str, Any]]) -> list[str]:
    """Every distinct context and question of SQuAD records, in first-seen order."""
    texts: dict[str, None] = {}
    for record in records:
        texts.setdefault(record["context"])
        texts.setdefault(record["question"])
    return list(texts)


def _encode(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> list[list[int]]:
    ids: list[list[int]] = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        ids.extend(tokenizer(list(texts[start:start + TOKENIZE_BATCH]), add_special_tokens=False)["input_ids"])
    return ids


def wordpiece_counts(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> Counter[int]:
    """How often each token id occurs in the tokenization of ``texts``."""
    counts: Counter[int] = Counter()
    for ids in _encode(tokenizer, texts):
        counts.update(ids)
    return counts


def choose_kept_ids(counts: Counter[int], special_ids: Iterable[int], settings: VocabularySettings, vocab_size: int) -> list[int]:
    """Special tokens plus the wordpieces counted ``min_count`` times or more (the ``max_size``
    most frequent of them; ties to the lower id), in their original id order."""
    specials = set(special_ids)
    if settings.min_count == 0:  # every wordpiece qualifies, used or not
        candidates = [(token, counts.get(token, 0)) for token in range(vocab_size) if token not in specials]
    else:
        candidates = [(token, count) for token, count in counts.items() if count >= settings.min_count and token not in specials]
    if settings.max_size is not None:
        room = max(settings.max_size - len(specials), 0)
        candidates = sorted(candidates, key=lambda item: (-item[1], item[0]))[:room]
    return sorted(specials | {token for token, _ in candidates})


def trimmed_tokenizer(tokenizer: PreTrainedTokenizerFast, kept_ids: Sequence[int]) -> PreTrainedTokenizerFast:
    """``tokenizer`` with only ``kept_ids`` in its WordPiece vocabulary, renumbered 0..n-1 in order."""
    definition = json.loads(tokenizer.backend_tokenizer.to_str())
    for key in CALL_STATE:
        definition[key] = None
    model = definition["model"]
    if model.get("type") != "WordPiece":
        raise ConfigError(f"student.vocab: trimming needs a WordPiece tokenizer; tokenizer.name_or_path has a {model.get('type')} model.")
    new_id = {old: new for new, old in enumerate(kept_ids)}
    token_of = {token_id: token for token, token_id in model["vocab"].items()}
    model["vocab"] = {token_of[old]: new for old, new in new_id.items()}
    for added in definition.get("added_tokens") or []:
        if added["id"] not in new_id:
            raise ConfigError(f"student.vocab: special token {added['content']!r} would be removed; this is a bug in trimming.")
        added["id"] = new_id[added["id"]]
    _renumber_post_processor(definition.get("post_processor"), new_id)
    backend = Tokenizer.from_str(json.dumps(definition))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=tokenizer.model_max_length,
        padding_side=tokenizer.padding_side,
        truncation_side=tokenizer.truncation_side,
        model_input_names=list(tokenizer.model_input_names),
        **{name: str(value) for name, value in tokenizer.special_tokens_map.items() if isinstance(value, str)},
    )


def _renumber_post_processor(processor: dict[str, Any] | None, new_id: dict[int, int]) -> None:
    """The [CLS]/[SEP] template stores the special tokens' ids; a Sequence processor nests them."""
    if not processor:
        return
    for child in processor.get("processors") or []:
        _renumber_post_processor(child, new_id)
    special = processor.get("special_tokens")
    if isinstance(special, dict):
        for entry in special.values():
            entry["ids"] = [new_id[old] for old in entry["ids"]]
    for key in ("sep", "cls"):  # BertProcessing: [token, id]
        if isinstance(processor.get(key), list):
            processor[key][1] = new_id[processor[key][1]]


def id_map(kept_ids: Sequence[int], vocab_size: int, unk_id: int) -> torch.Tensor:
    """Teacher id -> student id; removed ids map to the student's ``[UNK]``."""
    mapping = torch.full((vocab_size,), kept_ids.index(unk_id), dtype=torch.long)
    mapping[torch.tensor(list(kept_ids), dtype=torch.long)] = torch.arange(len(kept_ids))
    return mapping


def trim_word_embeddings(model: PreTrainedModel, kept_ids: Sequence[int]) -> int:
    """Keep only ``kept_ids`` rows of the input embeddings (in place); returns the rows removed."""
    old = model.get_input_embeddings()
    index = torch.tensor(list(kept_ids), dtype=torch.long)
    padding = None if old.padding_idx is None else list(kept_ids).index(old.padding_idx)
    new = nn.Embedding(len(kept_ids), old.embedding_dim, padding_idx=padding, dtype=old.weight.dtype, device=old.weight.device)
    with torch.no_grad():
        new.weight.copy_(old.weight[index])
    new.weight.requires_grad_(old.weight.requires_grad)
    model.set_input_embeddings(new)
    model.config.vocab_size = len(kept_ids)
    if padding is not None and getattr(model.config, "pad_token_id", None) is not None:
        model.config.pad_token_id = padding
    return old.num_embeddings - len(kept_ids)


def changed_share(original: PreTrainedTokenizerFast, trimmed: PreTrainedTokenizerFast, texts: Sequence[str]) -> float:
    """Share of ``texts`` the trimmed tokenizer splits into other wordpieces than the original."""
    if not texts:
        return 0.0
    before = [original.convert_ids_to_tokens(ids) for ids in _encode(original, texts)]
    after = [trimmed.convert_ids_to_tokens(ids) for ids in _encode(trimmed, texts)]
    return sum(a != b for a, b in zip(before, after, strict=True)) / len(texts)


def trim_vocabulary(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], settings: VocabularySettings
) -> VocabularyTrim:
    """Trim ``model``'s word embeddings (in place) and build its tokenizer; see the module doc."""
    vocab_size = len(tokenizer)
    counts = wordpiece_counts(tokenizer, texts)
    kept = choose_kept_ids(counts, tokenizer.all_special_ids, settings, vocab_size)
    student_tokenizer = trimmed_tokenizer(tokenizer, kept)
    removed = trim_word_embeddings(model, kept)
    report = {
        "corpus": settings.corpus,
        "texts": len(texts),
        "min_count": settings.min_count,
        "max_size": settings.max_size,
        "kept": len(kept),
        "of": vocab_size,
        "wordpieces_in_corpus": len(counts),
        "removed_rows": removed,
        "removed_parameters": removed * model.get_input_embeddings().embedding_dim,
        "changed_texts_share": changed_share(tokenizer, student_tokenizer, texts),
    }
    log.info(
        "Vocabulary trimmed to %d of %d wordpieces (%s corpus, %d texts, min_count %d): %d parameters removed; "
        "%.2f%% of the corpus texts tokenize differently",
        len(kept), vocab_size, settings.corpus, len(texts), settings.min_count, report["removed_parameters"],
        100 * report["changed_texts_share"],
    )
    return VocabularyTrim(kept, student_tokenizer, id_map(kept, vocab_size, tokenizer.unk_token_id), report)
