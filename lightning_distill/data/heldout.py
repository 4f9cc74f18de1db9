"""Held-out evaluation: the evaluation questions split by article into *select* and *test*.

Every choice a study or a search makes (pilots, narrowing a space, picking the front, calibrating
the null-score threshold) is scored on **select**; the numbers a result reports are scored on
**test**, which no choice has seen. Splitting by article keeps paragraphs of one text out of both
parts (questions on one article are strongly correlated).

The rule is fixed and needs nothing but the file: walk the articles in file order and give each to
the part with fewer questions so far (ties to select). On ``dev-v2.0.splitB.json`` (19 articles,
5,795 questions) that is 8 articles / 2,768 questions for select and 11 / 3,027 for test
(``docs/results/shrink/README.md`` lists them). Alternating articles would give 3,294 / 2,501.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_distill.errors import ConfigError

SELECT, TEST = "select", "test"
PARTS = (SELECT, TEST)
PART_KEY = "data.eval_part"


def partition_articles(question_counts: Sequence[tuple[str, int]]) -> dict[str, str]:
    """``{title: part}`` for articles given as ``(title, questions)`` in file order (see module doc)."""
    totals = {SELECT: 0, TEST: 0}
    part_of: dict[str, str] = {}
    for title, questions in question_counts:
        if title in part_of:  # the same title twice (e.g. two files): it stays in one part
            totals[part_of[title]] += questions
            continue
        part = SELECT if totals[SELECT] <= totals[TEST] else TEST
        part_of[title] = part
        totals[part] += questions
    return part_of


def article_question_counts(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Questions per article title, in the order the articles first appear."""
    counts = Counter(record["title"] for record in records)
    return [(title, counts[title]) for title in dict.fromkeys(record["title"] for record in records)]


def check_part(part: str | None) -> None:
    if part is not None and part not in PARTS:
        raise ConfigError(
            f"{PART_KEY}={part!r} is not a part: use {SELECT} (what searches and studies choose on), "
            f"{TEST} (what results report) or null (every evaluation question)."
        )


def records_of_part(records: list[dict[str, Any]], part: str | None, source: str) -> list[dict[str, Any]]:
    """The records of one part (``None``: all of them), in their original order."""
    check_part(part)
    if part is None:
        return records
    part_of = partition_articles(article_question_counts(records))
    if len(part_of) < len(PARTS):
        raise ConfigError(
            f"{PART_KEY}={part}: {source} has {len(part_of)} article(s); splitting by article needs at least 2. "
            f"Evaluate on more articles or set {PART_KEY}=null."
        )
    return [record for record in records if part_of[record["title"]] == part]
