"""Files appear whole under their final name or not at all, whatever happens while writing."""

from __future__ import annotations

import json
import math

import pytest

from lightning_distill.storage.atomic_files import staged_directory, write_json_atomically, write_text_atomically


def test_text_replaces_the_old_file_and_leaves_no_staging(tmp_path):
    target = tmp_path / "deep" / "metrics.csv"
    write_text_atomically(target, "old\n")
    write_text_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert [path.name for path in target.parent.iterdir()] == ["metrics.csv"]


def test_json_is_strict_unless_asked(tmp_path):
    target = tmp_path / "predictions.json"
    write_json_atomically(target, {"q1": "Paris"})
    with pytest.raises(ValueError):
        write_json_atomically(target, {"exact": math.nan})
    assert json.loads(target.read_text()) == {"q1": "Paris"}, "a failed write must keep the previous file"
    assert [path.name for path in tmp_path.iterdir()] == ["predictions.json"]
    write_json_atomically(target, {"exact": math.nan}, allow_nan=True)
    assert math.isnan(json.loads(target.read_text())["exact"])


def test_staged_directory_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "features"
    with pytest.raises(RuntimeError), staged_directory(target) as staging:
        (staging / "part").write_text("half")
        raise RuntimeError("killed while writing")
    assert list(tmp_path.iterdir()) == []
    with staged_directory(target) as staging:
        (staging / "part").write_text("whole")
    assert (target / "part").read_text() == "whole"


def test_an_existing_directory_wins_unless_replaced(tmp_path):
    target = tmp_path / "student"
    with staged_directory(target) as staging:
        (staging / "model").write_text("first")
    with staged_directory(target) as staging:  # a second process built the same content-keyed cache
        (staging / "model").write_text("second")
    assert (target / "model").read_text() == "first"
    with staged_directory(target, replace=True) as staging:  # a newer checkpoint
        (staging / "model").write_text("third")
    assert (target / "model").read_text() == "third"
    assert [path.name for path in tmp_path.iterdir()] == ["student"]
