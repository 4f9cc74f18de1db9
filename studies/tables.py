"""What the studies' summaries share: CSV and markdown tables, and the settings of a published search trial."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NOT_PARAMETERS = {"trial", "status", "strategy", "best_f1", "num_params", "exact", "f1", "HasAns_f1", "inference_time",
                  "duration_s", "reason", "output_dir"}  # fmt: skip
"""The columns of a sweep's ``observations.csv`` that are not a searched setting (its outcome, its bookkeeping)."""


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` as a CSV with the first row's keys as its header; nothing is written for no rows."""
    if not rows:
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``rows`` as the lines of a markdown table, the first row's keys as its header (``(none)`` for no rows)."""
    if not rows:
        return ["(none)"]
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + [
        "| " + " | ".join(str(value) for value in row.values()) + " |" for row in rows
    ]


def published_trial(observations: Path, trial: str) -> dict[str, str]:
    """Trial ``trial``'s row of a published sweep's ``observations.csv`` (its settings and its outcome)."""
    with observations.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["trial"] == trial:
                return row
    raise SystemExit(f"{observations} has no trial {trial}")


def trial_settings(row: Mapping[str, str]) -> dict[str, str]:
    """What a published trial trained with: its row less :data:`NOT_PARAMETERS`."""
    return {key: value for key, value in row.items() if key not in NOT_PARAMETERS}
