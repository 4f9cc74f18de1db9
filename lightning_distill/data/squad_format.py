"""The official SQuAD 2.0 JSON layout, checked in one place for the reader and the scorer.

Training data (``squad_reader``) and gold answers for scoring (``squad.squad_metrics``) come
from the same files, so a malformed file gets the same message, naming the file and the JSON path,
whichever reads it first. Each reader adds only the checks its own fields need: training needs
contexts and answer offsets; scoring needs ids and answer texts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lightning_distill.errors import DataError

SQUAD_FORMAT = (
    '{"version": "v2.0", "data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", '
    '"is_impossible", "answers": [{"text", "answer_start"}]}]}]}]}'
)

_TYPE_NAMES = {list: "list", str: "string", Mapping: "object"}


def require(condition: bool, source: str, where: str, problem: str) -> None:
    if not condition:
        raise DataError(f"{source}: {where}: {problem}. Expected the official SQuAD 2.0 JSON format {SQUAD_FORMAT}.")


def field(node: Any, key: str, kind: type, source: str, where: str) -> Any:
    """``node[key]``, which must exist and be of ``kind`` (list, str or Mapping)."""
    require(isinstance(node, Mapping), source, where, f"expected an object, got {type(node).__name__}")
    require(key in node, source, where, f'missing {_TYPE_NAMES[kind]} "{key}"')
    value = node[key]
    require(isinstance(value, kind), source, f"{where}.{key}", f"expected a {_TYPE_NAMES[kind]}, got {type(value).__name__}")
    return value


def paragraphs(data: Any, source: str) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """``(article title, paragraph, JSON path)`` for every paragraph, structure checked on the way."""
    for a_index, article in enumerate(field(data, "data", list, source, "top level")):
        where = f"data[{a_index}]"
        for p_index, paragraph in enumerate(field(article, "paragraphs", list, source, where)):
            paragraph_where = f"{where}.paragraphs[{p_index}]"
            require(isinstance(paragraph, Mapping), source, paragraph_where, "expected an object")
            yield str(article.get("title", "")), paragraph, paragraph_where


def questions(
    paragraph: Mapping[str, Any], source: str, where: str, seen_ids: set[str]
) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """``(question id, question, JSON path)``; ids must be non-empty strings, unique across ``seen_ids``."""
    for q_index, qa in enumerate(field(paragraph, "qas", list, source, where)):
        qa_where = f"{where}.qas[{q_index}]"
        require(isinstance(qa, Mapping), source, qa_where, f"expected an object, got {type(qa).__name__}")
        qid = qa.get("id")
        require(isinstance(qid, str) and qid != "", source, qa_where, 'missing string "id"')
        require(qid not in seen_ids, source, qa_where, f'duplicate question id "{qid}"')
        seen_ids.add(qid)
        yield qid, qa, qa_where


def require_questions(found: bool, source: str) -> None:
    require(found, source, "data", "contains no questions (no qas in any paragraph)")
