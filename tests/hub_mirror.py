"""A Hugging Face hub as ``transformers`` and ``datasets`` see it offline, for the default config's repo ids.

``python train.py`` with the default config reads three model repos and one dataset from the hub (README, "What
the default config downloads"). No test here may reach the hub, so this module writes, under one ``HF_HOME``,
what those libraries find in their caches after a first online run:

- ``hub/models--<org>--<name>/{refs/main, snapshots/<sha>/...}`` for ``twmkn9/bert-base-uncased-squad2`` (a
  ``BertForQuestionAnswering``), ``distilbert-base-uncased`` (a ``DistilBertForMaskedLM``) and
  ``bert-base-uncased`` (a ``BertForMaskedLM``): the real architectures and config fields at tiny sizes, each
  with the real bert-base-uncased WordPiece vocabulary (30,522 entries, ``vocab.txt`` + ``tokenizer.json``: the
  local MiniLM package ships exactly that vocabulary);
- ``datasets/squad_v2/squad_v2/0.0.0/<sha>/``: ``squad_v2`` as ``datasets``' parquet builder prepares the hub's
  parquet export (columns ``id, title, context, question, answers{text, answer_start}``, splits ``train`` and
  ``validation``), built from the local SQuAD 2.0 files; offline, ``load_dataset("squad_v2")`` reads it.

Run with ``HF_HOME=<root> HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1``.
"""

from __future__ import annotations

import json
from pathlib import Path

TEACHER = "twmkn9/bert-base-uncased-squad2"
STUDENT_SEED = "distilbert-base-uncased"
TOKENIZER = "bert-base-uncased"
DATASET = "squad_v2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
"""The snapshot every repo here resolves ``main`` to (any 40-hex string: offline nothing checks it)."""
TINY = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 12, "intermediate_size": 96}
"""The real checkpoints' 12 heads (Table 2's head range holds), of width 4 instead of 64, and 2 layers."""
DISTILBERT_TINY = {"dim": 48, "n_layers": 2, "n_heads": 12, "hidden_dim": 96}
STUDENT_OVERRIDES = ["student.dim=48", "student.hidden_dim=96"]
"""The default student's widths scaled to the tiny seed; its depth (6: layers 2-5 start fresh, as a deeper student
does), heads and every other setting unchanged."""


def snapshot(root: Path, repo_id: str) -> Path:
    repo = root / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    path = repo / "snapshots" / COMMIT
    path.mkdir(parents=True, exist_ok=True)
    return path


TOKENIZER_FILES = {TEACHER: ("vocab.txt",), TOKENIZER: ("vocab.txt", "tokenizer.json"),
                   STUDENT_SEED: ("vocab.txt", "tokenizer.json")}  # fmt: skip
"""The tokenizer files each real repo has: the SQuAD teacher's (2020) only a WordPiece ``vocab.txt``, which
transformers converts to a fast tokenizer; the two Google/HF repos also a ``tokenizer.json``."""
TOKENIZER_CONFIG = {"do_lower_case": True, "model_max_length": 512}


def build_models(root: Path, tokenizer_dir: Path) -> None:
    import shutil

    import torch
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForQuestionAnswering,
        DistilBertConfig,
        DistilBertForMaskedLM,
    )

    vocab_size = len((tokenizer_dir / "vocab.txt").read_text().splitlines())
    torch.manual_seed(0)
    for repo_id, model in (
        (TEACHER, BertForQuestionAnswering(BertConfig(vocab_size=vocab_size, **TINY))),
        (TOKENIZER, BertForMaskedLM(BertConfig(vocab_size=vocab_size, **TINY))),
        (STUDENT_SEED, DistilBertForMaskedLM(DistilBertConfig(vocab_size=vocab_size, **DISTILBERT_TINY))),
    ):
        path = snapshot(root, repo_id)
        model.save_pretrained(path)
        for name in TOKENIZER_FILES[repo_id]:
            shutil.copy(tokenizer_dir / name, path / name)
        (path / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG))


def squad_rows(path: Path) -> list[dict]:
    """The hub's squad_v2 rows (one per question) from an official-format SQuAD 2.0 file."""
    rows = []
    for article in json.loads(path.read_text())["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa["answers"]
                rows.append({"id": qa["id"], "title": article["title"], "context": paragraph["context"],
                             "question": qa["question"],
                             "answers": {"text": [a["text"] for a in answers],
                                         "answer_start": [a["answer_start"] for a in answers]}})  # fmt: skip
    return rows


def build_dataset(root: Path, squad_dir: Path, questions: int = 64, rename: dict[str, str] | None = None) -> Path:
    """squad_v2 (``questions`` per split) in the hub's parquet schema, prepared into the datasets cache."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets.packaged_modules.parquet.parquet import Parquet

    schema = pa.schema([("id", pa.string()), ("title", pa.string()), ("context", pa.string()), ("question", pa.string()),
                        ("answers", pa.struct([("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))]))])  # fmt: skip
    parquet_dir = root / "parquet" / DATASET
    parquet_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, source in (("train", "train-v2.0.first10.json"), ("validation", "dev-v2.0.splitB.json")):
        table = pa.Table.from_pylist(squad_rows(squad_dir / source)[:questions], schema=schema)
        if rename:
            table = table.rename_columns([rename.get(name, name) for name in table.column_names])
        files[split] = str(parquet_dir / f"{split}-00000-of-00001.parquet")
        pq.write_table(table, files[split])
    builder = Parquet(cache_dir=str(root / "datasets"), dataset_name=DATASET, config_name=DATASET, hash=COMMIT,
                      data_files={split: [path] for split, path in files.items()})  # fmt: skip
    builder.download_and_prepare()
    assert isinstance(builder.as_dataset(split="train"), datasets.Dataset)
    # Given data files, the builder suffixes the config's folder with their hash; a hub load names it after the
    # hub's config (its data files come from the repo's metadata), which is what the offline cache lookup finds.
    (root / "datasets" / DATASET / builder.config_id).rename(root / "datasets" / DATASET / DATASET)
    return root / "datasets"


def build(root: Path, squad_dir: Path, tokenizer_dir: Path, rename: dict[str, str] | None = None) -> Path:
    build_models(root, tokenizer_dir)
    build_dataset(root, squad_dir, rename=rename)
    return root


def environment(root: Path) -> dict[str, str]:
    """What a process needs to read this mirror as its hub, offline."""
    return {"HF_HOME": str(root), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
