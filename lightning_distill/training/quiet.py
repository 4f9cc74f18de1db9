"""``quiet=true``: a run (or every trial of a search) prints its result and its problems, not its progress.

A smoke search printed ~300 lines, most of them the same in every trial: the datasets library's progress
bars, Lightning's model summary and tips, "Seed set to ...", library warnings that are about the libraries
(deprecations), the exporter's onnxruntime chatter. Quiet keeps warnings and errors of this project and the
final summary line; everything it turns off is a library switch, not a filter on our own log.
"""

from __future__ import annotations

import logging
import warnings

QUIET_LOGGERS = ("pytorch_lightning", "lightning", "lightning_fabric", "lightning.pytorch", "datasets", "transformers",
                 "onnxruntime")  # fmt: skip
"""Libraries whose info-level chatter a quiet run does without (this project's own log stays at info)."""
TRAINER_SETTINGS = {"enable_progress_bar": False, "enable_model_summary": False}


def quiet_down() -> dict[str, bool]:
    """Turn the libraries' progress output down; returns the Trainer arguments a quiet run adds."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", module=r"(pytorch_lightning|lightning_fabric|lightning)\..*")
    return dict(TRAINER_SETTINGS)
