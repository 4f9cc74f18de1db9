"""The default config end to end, against a local hub mirror (issue 34, section 1).

``python train.py`` and ``python train.py -m hydra/sweeper=sigopt`` on the default config -- teacher
``twmkn9/bert-base-uncased-squad2``, student seeded from ``distilbert-base-uncased``, tokenizer ``bert-base-uncased``,
``squad_v2`` from the hub -- with only size limits overridden, reading a mirror of those repos in the hub caches'
own layout (``tests/hub_mirror.py``) with the hub switched off. A renamed hub column is named in the error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hub_mirror
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SIZE_LIMITS = ["data.max_train_examples=16", "data.max_eval_examples=16", "trainer.max_epochs=1", *hub_mirror.STUDENT_OVERRIDES]
"""What the tests change in the default config: how much data and how long, and the student's widths (to the tiny
seed's); nothing that chooses a repo, a file or a column."""


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, squad_dir, minilm_dir):
    return hub_mirror.build(tmp_path_factory.mktemp("hub"), squad_dir, minilm_dir)


def run(arguments: list[str], mirror: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **hub_mirror.environment(mirror), "LIGHTNING_DISTILL_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, str(REPO_ROOT / "train.py"), *arguments], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip


def gold_file(mirror: Path, ids: set[str], path: Path) -> Path:
    """The mirror's validation questions ``ids`` as an official-format SQuAD 2.0 file."""
    import pyarrow.parquet as pq

    rows = pq.read_table(mirror / "parquet" / "squad_v2" / "validation-00000-of-00001.parquet").to_pylist()
    data = [{"title": row["title"], "paragraphs": [{"context": row["context"], "qas": [{
        "id": row["id"], "question": row["question"], "is_impossible": not row["answers"]["text"],
        "answers": [{"text": t, "answer_start": s} for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"])],
    }]}]} for row in rows if row["id"] in ids]  # fmt: skip
    path.write_text(json.dumps({"version": "v2.0", "data": data}))
    return path


def test_python_train_py_on_the_default_config(mirror, tmp_path):
    result = run([*SIZE_LIMITS, f"hydra.run.dir={tmp_path / 'run'}"], mirror, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    config = (run_dir / ".hydra" / "config.yaml").read_text()
    for repo in (hub_mirror.TEACHER, hub_mirror.STUDENT_SEED, hub_mirror.TOKENIZER):
        assert repo in config  # the default repo ids, not local paths
    assert "hub_dataset: squad_v2" in config
    document = json.loads((run_dir / "metrics.json").read_text())
    assert document["status"] == "finished"
    assert document["teacher"]["segment_ids"] == "tokenizer" and document["teacher"]["questions"] == 16
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert len(predictions) == 16
    scored = subprocess.run([sys.executable, "-m", "lightning_distill.squad.evaluate",
                             str(gold_file(mirror, set(predictions), tmp_path / "gold.json")), str(run_dir / "predictions.json")],
                            capture_output=True, text=True, check=True, cwd=REPO_ROOT)  # fmt: skip
    official = json.loads(scored.stdout)
    final = document["final"]
    assert official["total"] == 16
    assert official["exact"] == pytest.approx(final["exact"]) and official["f1"] == pytest.approx(final["f1"])
    seeding = json.loads((run_dir / "seeding_report.json").read_text())
    assert seeding  # the student was seeded from the mirrored distilbert-base-uncased


def test_the_design_card_search_on_the_default_config(mirror, tmp_path):
    sweep = tmp_path / "sweep"
    result = run(["-m", "hydra/sweeper=sigopt", "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=1",
                  *SIZE_LIMITS, f"hydra.sweep.dir={sweep}"], mirror, tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    observations = [json.loads(line) for line in (sweep / "observations.jsonl").read_text().splitlines()]
    assert len(observations) == 2
    for observation in observations:  # table2's metrics: exact (threshold 50) and size optimized, f1 and time stored
        assert observation["status"] == "completed", observation.get("reason")
        assert {"exact", "num_params", "f1", "inference_time"} <= set(observation["values"])
    pareto = json.loads((sweep / "pareto.json").read_text())
    assert pareto["observations"] == 2
    assert [m["name"] for m in pareto["metrics"]][:2] == ["exact", "num_params"]
    report = subprocess.run([sys.executable, "-m", "lightning_distill.search.report", str(sweep), "--out",
                             str(tmp_path / "report")], capture_output=True, text=True, cwd=REPO_ROOT, check=False)  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "### Sweep" in text and "Teacher on the same evaluation data (16 questions, fed segment ids: tokenizer)" in text


def test_a_renamed_hub_column_is_named(tmp_path, squad_dir, minilm_dir):
    renamed = tmp_path / "hub"
    hub_mirror.build_dataset(renamed, squad_dir, rename={"question": "query"})
    hub_mirror.build_models(renamed, minilm_dir)
    result = run([*SIZE_LIMITS, f"hydra.run.dir={tmp_path / 'run'}"], renamed, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr + result.stdout
    assert "lacks SQuAD columns ['question']" in message and "'query'" in message
    assert "Traceback" not in message
