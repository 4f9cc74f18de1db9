"""Reading SQuAD 2.0 into flat question records, from official JSON files or the hub.

Both sources end up in the hub's ``squad_v2`` row schema (id, title, context, question,
answers={text, answer_start}) so featurization and scoring never care where data came from.
Every record is checked on the way in: training on a span that does not say what the answer says
is a silent accuracy bug, so a wrong ``answer_start`` is repaired by text search or the answer is
dropped, and both are counted and reported.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_distill.config.checks import is_integer
from lightning_distill.data import squad_format
from lightning_distill.data.squad_format import require
from lightning_distill.errors import DataError

log = logging.getLogger(__name__)

SquadRecord = dict[str, Any]
"""One question: ``{"id", "title", "context", "question", "answers": {"text", "answer_start"}}``."""


@dataclass
class AnswerCheckReport:
    """Counts of what the answer check changed, so a user sees how clean their data is."""

    questions: int = 0
    relocated_answers: int = 0
    dropped_answers: int = 0
    dropped_questions: int = 0
    examples: list[str] = field(default_factory=list)

    _MAX_EXAMPLES = 5

    def note(self, message: str) -> None:
        if len(self.examples) < self._MAX_EXAMPLES:
            self.examples.append(message)

    def log_summary(self, source: str) -> None:
        if not (self.relocated_answers or self.dropped_answers or self.dropped_questions):
            return
        log.warning(
            "%s: %d answer(s) had an answer_start that does not match their text and were moved to "
            "the first occurrence of the text; %d answer(s) whose text is not in the context were "
            "dropped; %d answerable question(s) were left without an answer and skipped. E.g. %s",
            source,
            self.relocated_answers,
            self.dropped_answers,
            self.dropped_questions,
            "; ".join(self.examples),
        )


def _check_answers(
    qa: Mapping[str, Any], context: str, source: str, where: str, report: AnswerCheckReport
) -> tuple[list[str], list[int]]:
    """Validate one question's answers against its context; repair or drop wrong offsets."""
    answers = qa.get("answers", [])
    require(isinstance(answers, list), source, where, '"answers" must be a list')
    texts: list[str] = []
    starts: list[int] = []
    for index, answer in enumerate(answers):
        answer_where = f"{where}.answers[{index}]"
        require(isinstance(answer, Mapping), source, answer_where, "an answer must be an object")
        text, start = answer.get("text"), answer.get("answer_start")
        require(isinstance(text, str) and text.strip() != "", source, answer_where, '"text" must be a non-empty string')
        require(is_integer(start), source, answer_where, '"answer_start" must be an integer')
        if context[start : start + len(text)] != text:
            found = context.find(text)
            if found < 0:
                report.dropped_answers += 1
                report.note(f"{answer_where} text {text!r} not in context")
                continue
            report.relocated_answers += 1
            report.note(f"{answer_where} answer_start {start} -> {found}")
            start = found
        texts.append(text)
        starts.append(start)
    return texts, starts


def _record(
    qid: str, qa: Mapping[str, Any], title: str, context: str, source: str, where: str, report: AnswerCheckReport
) -> SquadRecord | None:
    """The flat record of one question, or None when an answerable question has no usable answer."""
    question = squad_format.field(qa, "question", str, source, where)
    require(question.strip() != "", source, where, f"question {qid} is empty")
    report.questions += 1
    impossible = bool(qa.get("is_impossible", False))
    texts, starts = ([], []) if impossible else _check_answers(qa, context, source, where, report)
    if not impossible and not texts:
        report.dropped_questions += 1
        report.note(f"{where} ({qid}) has no usable answer")
        return None
    return {"id": qid, "title": title, "context": context, "question": question, "answers": {"text": texts, "answer_start": starts}}


def records_from_squad_json(data: Any, source: str) -> list[SquadRecord]:
    """Flatten an official-format SQuAD object (already parsed) into checked records."""
    report = AnswerCheckReport()
    records: list[SquadRecord] = []
    seen_ids: set[str] = set()
    for title, paragraph, where in squad_format.paragraphs(data, source):
        context = squad_format.field(paragraph, "context", str, source, where)
        require(context.strip() != "", source, where, '"context" is empty')
        for qid, qa, qa_where in squad_format.questions(paragraph, source, where, seen_ids):
            record = _record(qid, qa, title, context, source, qa_where, report)
            if record is not None:
                records.append(record)
    require(
        records or not report.dropped_questions, source, "data",
        f"none of its {report.questions} question(s) is usable: every one is answerable (is_impossible is false or "
        f"missing) with no answer whose text is in its context, e.g. {'; '.join(report.examples[:2])}. Give each "
        'such question its "answers", or mark it "is_impossible": true',
    )  # fmt: skip
    squad_format.require_questions(bool(records), source)
    report.log_summary(source)
    return records


def read_squad_file(path: str | Path, config_key: str) -> list[SquadRecord]:
    """Read one official-format JSON file; ``config_key`` names the setting in errors."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{config_key}: data file {str(path)!r} does not exist. Point {config_key} at SQuAD 2.0 "
            "JSON files (e.g. ../shared/data/squad_v2/dev-v2.0.json) or set data.hub_dataset=squad_v2."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{config_key}: {path} is not valid UTF-8 JSON ({error}).") from None
    return records_from_squad_json(data, str(path))


def read_squad_files(paths: Sequence[str | Path], config_key: str) -> list[SquadRecord]:
    """Read and concatenate several files (e.g. train subset + dev split A)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise DataError(f"{config_key} is empty: list at least one SQuAD 2.0 JSON file.")
    records = [record for path in paths for record in read_squad_file(path, config_key)]
    _reject_duplicate_ids(records, f"{config_key} (all files together)")
    return records


def _reject_duplicate_ids(records: Sequence[SquadRecord], source: str) -> None:
    seen: set[str] = set()
    for record in records:
        require(record["id"] not in seen, source, f"question {record['id']}", "duplicate question id")
        seen.add(record["id"])


def fingerprint_files(paths: Sequence[str | Path]) -> str:
    """Content hash of the data files: the cache must change when the data does, not the path."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


HUB_COLUMNS = ("id", "context", "question", "answers")
"""The hub ``squad_v2`` columns the reader needs (``title`` is optional)."""


def records_from_hub(name: str, split: str, config_key: str) -> tuple[list[SquadRecord], str]:
    """Load a hub dataset in the ``squad_v2`` schema; returns records and the dataset fingerprint."""
    import datasets

    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as error:  # noqa: BLE001 - the hub raises many unrelated types; all mean "cannot load"
        raise DataError(
            f"{config_key}: cannot load hub dataset {name!r} split {split!r} ({type(error).__name__}: "
            f"{error}). Without network access use local files: data.train_files / data.eval_files."
        ) from None
    missing = set(HUB_COLUMNS) - set(dataset.column_names)
    if missing:
        raise DataError(
            f"{config_key}: hub dataset {name!r} lacks SQuAD columns {sorted(missing)}; it has {dataset.column_names}. "
            f"data.hub_dataset must name a dataset in the squad_v2 schema ({', '.join(HUB_COLUMNS)}{{text, answer_start}}): "
            "rename its columns, or give the data as SQuAD 2.0 JSON files (data.train_files / data.eval_files)."
        )
    articles = _hub_rows_as_articles(dataset)
    return records_from_squad_json({"data": articles}, f"hub:{name}[{split}]"), dataset._fingerprint


def _hub_rows_as_articles(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Re-nest hub rows so they go through exactly the same checks as local files."""
    articles = []
    for row in rows:
        answers = [
            {"text": text, "answer_start": start}
            for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"])
        ]
        qa = {"id": row["id"], "question": row["question"], "answers": answers, "is_impossible": not answers}
        articles.append({"title": row.get("title", ""), "paragraphs": [{"context": row["context"], "qas": [qa]}]})
    return articles
