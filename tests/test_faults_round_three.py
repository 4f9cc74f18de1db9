"""Issue 36, faults round three: each fault a script found, as a test of what happens now."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pytest

from hydra_plugins.sigopt_sweeper._metrics import Metric
from hydra_plugins.sigopt_sweeper._trial import NON_FINITE_LOSS, Trial, TrialOutcome, failure_category, to_observation

METRICS = (Metric("exact", "maximize", "optimize"), Metric("num_params", "minimize", "optimize"),
           Metric("inference_time", "minimize", "store"))  # fmt: skip


def outcome(**returned: float) -> TrialOutcome:
    return TrialOutcome(Trial(3, "s3", {"lr": 1e-4}), ok=True, value=returned, started_at=1.0, finished_at=2.0)


def journal_line(observation) -> str:
    return json.dumps(asdict(observation), allow_nan=False)  # what the journal writes: strict JSON


def test_a_non_finite_unused_value_is_journaled_as_its_name_and_the_trial_completes():
    observation, error = to_observation(outcome(exact=50.0, num_params=1e6, inference_time=3.0, val_loss=math.nan), METRICS)
    assert error is None and observation.status == "completed"
    assert observation.metrics["val_loss"] == "nan"
    assert '"val_loss": "nan"' in journal_line(observation)


@pytest.mark.parametrize("name", ["exact", "inference_time"])
def test_a_non_finite_optimized_or_stored_metric_fails_the_trial_as_non_finite_and_is_journaled(name):
    values = {"exact": 50.0, "num_params": 1e6, "inference_time": 3.0, name: math.inf}
    observation, error = to_observation(outcome(**values), METRICS)
    assert error is None and observation.status == "failed"
    assert observation.reason.startswith(f"{NON_FINITE_LOSS}: non-finite ['{name}']")
    assert journal_line(observation)


def test_diverged_logits_are_a_non_finite_loss_not_a_file_write_error():
    from lightning_distill.errors import NonFiniteLossError
    from lightning_distill.squad.postprocess import score_logits

    start = [np.array([0.0, np.nan, 1.0])]
    with pytest.raises(NonFiniteLossError, match="1 of 2 logit rows are not finite") as raised:
        score_logits([], [], start, [np.zeros(3)])
    assert failure_category(raised.value) == NON_FINITE_LOSS


@pytest.mark.parametrize("directory", ["/tmp/sweeps/plain-1.0", "/tmp/my sweeps/a", "/tmp/a,b/c", "/tmp/it's (v2)/x=1", "/tmp/back\\slash", "/tmp/q\\'x\\"])
def test_the_printed_resume_override_survives_the_shell_and_hydra(directory):
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hydra_plugins.sigopt_sweeper.api import shell_override

    words = shlex.split(f"python train.py -m hydra.sweeper.resume=true {shell_override('hydra.sweep.dir', directory)}")
    assert len(words) == 5
    override = OverridesParser.create().parse_override(words[-1])
    assert (override.key_or_group, override.value()) == ("hydra.sweep.dir", directory)
