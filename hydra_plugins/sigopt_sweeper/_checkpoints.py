"""Trial checkpoints: where a trial's is, and deleting those of trials off the Pareto front
(``keep_checkpoints=pareto``) once the sweep has spent its budget."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from hydra_plugins.sigopt_sweeper._trial import Observation


def checkpoint_path(observation: Observation, checkpoint_dir: str | None) -> str | None:
    """``checkpoint_dir`` in the trial's output directory, if both are set and it exists."""
    if not observation.output_dir or not checkpoint_dir:
        return None
    path = Path(observation.output_dir) / checkpoint_dir
    return str(path) if path.exists() else None


def delete_off_front(observations: Sequence[Observation], front: Sequence[Observation], checkpoint_dir: str) -> int:
    """Delete the checkpoints of trials off the front; returns how many were removed."""
    kept = {observation.trial for observation in front}
    removed = 0
    for observation in observations:
        path = checkpoint_path(observation, checkpoint_dir)
        if observation.trial not in kept and path is not None:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def trial_dirs_elsewhere(observations: Sequence[Observation]) -> list[str]:
    """Output directories of completed trials that do not exist on this machine (written on another node's disk)."""
    return [observation.output_dir for observation in observations
            if not observation.failed and observation.output_dir and not Path(observation.output_dir).exists()]  # fmt: skip
