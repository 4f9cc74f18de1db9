"""Where a study finds the repository and puts its files: runs under ``outputs/``, results under ``docs/results/``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root: every study runs ``train.py`` from here."""
OUTPUTS = ROOT / "outputs"
"""Each study's runs: ``outputs/<study>/`` (not committed)."""
RESULTS = ROOT / "docs" / "results"
"""Each study's published results: ``docs/results/<study>/``."""
SPLIT_B = ROOT.parent / "shared" / "data" / "squad_v2" / "dev-v2.0.splitB.json"
"""The evaluation data (the held-out scoring splits it into select and test)."""
