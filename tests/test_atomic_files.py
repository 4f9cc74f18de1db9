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


def test_a_build_killed_mid_way_leaves_staging_that_the_next_build_removes(tmp_path):
    """Issue 36: SIGKILL skips ``staged_directory``'s clean-up; the next build of the same path (under its lock)
    removes what was left, and nothing of another path."""
    import signal
    import subprocess
    import sys

    from lightning_distill.storage.atomic_files import remove_stale_staging

    target, other = tmp_path / "train-abc", tmp_path / "train-abd"
    script = ("import os, signal, sys; from lightning_distill.storage.atomic_files import staged_directory\n"
              "with staged_directory(sys.argv[1]) as s:\n"
              "    (s / 'part').write_text('half'); os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    killed = subprocess.run([sys.executable, "-c", script, str(target)], check=False)
    assert killed.returncode == -signal.SIGKILL
    left = [entry.name for entry in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".train-abc-") and not target.exists()
    (tmp_path / ".train-abc.lock").write_text("")
    (tmp_path / ".train-abd-x1234567").mkdir()  # another path's build in progress: not ours to remove
    assert remove_stale_staging(target) == 1
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".train-abc.lock", ".train-abd-x1234567"]
    assert remove_stale_staging(other) == 1
