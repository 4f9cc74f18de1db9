"""Reading SQuAD JSON: format errors name the file and place; wrong answer offsets are never trained on."""

from __future__ import annotations

import json
import logging

import pytest

from lightning_distill.data.squad_reader import read_squad_file, read_squad_files
from lightning_distill.errors import DataError


def squad(paragraphs, title="T"):
    return {"version": "v2.0", "data": [{"title": title, "paragraphs": paragraphs}]}


def qa(qid, question="Who?", answers=(), impossible=False):
    return {"id": qid, "question": question, "answers": list(answers), "is_impossible": impossible}


def write(tmp_path, content, name="data.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_reads_the_official_files(squad_dir):
    records = read_squad_file(squad_dir / "dev-v2.0.splitB.json", "data.eval_files")
    assert len(records) == 5795
    assert sum(not r["answers"]["text"] for r in records) == 2777
    first = records[0]
    assert set(first) == {"id", "title", "context", "question", "answers"}


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid UTF-8 JSON"),
        ([1, 2], "top level: expected an object"),
        ({"version": "v2.0"}, 'missing list "data"'),
        (squad([{"qas": []}]), 'data[0].paragraphs[0]: missing string "context"'),
        (squad([{"context": "  ", "qas": []}]), '"context" is empty'),
        (squad([{"context": "Paris is nice.", "qas": [qa("q1", question=" ")]}]), "question q1 is empty"),
        (squad([{"context": "Paris is nice.", "qas": [{"question": "Where?"}]}]), 'missing string "id"'),
        (squad([{"context": "Paris.", "qas": [qa("q1", answers=[{"text": "Paris"}])]}]), '"answer_start" must be an integer'),
        (squad([{"context": "Paris.", "qas": [qa("q1", impossible=True), qa("q1", impossible=True)]}]), "duplicate question id"),
        (squad([]), "contains no questions"),
        # an answerable question with no answers at all: say that, not "contains no questions"
        (squad([{"context": "Paris is nice.", "qas": [{"id": "q1", "question": "Where?"}]}]),
         'none of its 1 question(s) is usable: every one is answerable (is_impossible is false or missing)'),
    ],
)
def test_malformed_input_names_file_and_place(tmp_path, content, fragment):
    path = write(tmp_path, content)
    with pytest.raises(DataError) as error:
        read_squad_file(path, "data.train_files")
    assert fragment in str(error.value)
    assert str(path) in str(error.value)


def test_missing_file_names_the_config_key(tmp_path):
    with pytest.raises(DataError, match=r"data\.eval_files: data file .*nope\.json.* does not exist"):
        read_squad_files([tmp_path / "nope.json"], "data.eval_files")


def test_wrong_answer_start_is_relocated_and_reported(tmp_path, caplog):
    context = "The cat sat on the mat. The dog sat too."
    data = squad([{"context": context, "qas": [qa("q1", answers=[{"text": "dog", "answer_start": 3}])]}])
    with caplog.at_level(logging.WARNING):
        records = read_squad_file(write(tmp_path, data), "data.train_files")
    assert records[0]["answers"] == {"text": ["dog"], "answer_start": [context.index("dog")]}
    assert "1 answer(s) had an answer_start that does not match" in caplog.text


def test_answer_not_in_context_is_dropped_and_question_skipped(tmp_path, caplog):
    context = "The cat sat on the mat."
    data = squad(
        [
            {
                "context": context,
                "qas": [
                    qa("lost", answers=[{"text": "giraffe", "answer_start": 0}]),
                    qa("kept", answers=[{"text": "giraffe", "answer_start": 0}, {"text": "cat", "answer_start": 4}]),
                    qa("none", impossible=True),
                ],
            }
        ]
    )
    with caplog.at_level(logging.WARNING):
        records = read_squad_file(write(tmp_path, data), "data.train_files")
    assert [r["id"] for r in records] == ["kept", "none"]
    assert records[0]["answers"] == {"text": ["cat"], "answer_start": [4]}
    assert records[1]["answers"] == {"text": [], "answer_start": []}
    assert "2 answer(s) whose text is not in the context were dropped" in caplog.text
    assert "1 answerable question(s) were left without an answer and skipped" in caplog.text


def test_files_are_concatenated_and_ids_must_be_unique_across_them(tmp_path):
    first = write(tmp_path, squad([{"context": "A b.", "qas": [qa("q1", impossible=True)]}]), "a.json")
    second = write(tmp_path, squad([{"context": "C d.", "qas": [qa("q2", impossible=True)]}]), "b.json")
    assert [r["id"] for r in read_squad_files([first, second], "data.train_files")] == ["q1", "q2"]
    with pytest.raises(DataError, match="duplicate question id"):
        read_squad_files([first, first], "data.train_files")


@pytest.mark.parametrize(
    "content",
    [{"version": "v2.0"}, squad([{"context": "Paris.", "qas": [{"question": "Where?"}]}]), squad([{"context": "Paris.", "qas": {}}])],
)
def test_reader_and_scorer_describe_a_malformed_file_alike(tmp_path, content):
    """One validator serves training data and gold answers: one message, whichever reads the file."""
    from lightning_distill.squad.squad_metrics import load_gold_answers

    path = write(tmp_path, content)
    with pytest.raises(DataError) as read_error:
        read_squad_file(path, "data.train_files")
    with pytest.raises(DataError) as score_error:
        load_gold_answers(path)
    assert str(read_error.value) == str(score_error.value)
