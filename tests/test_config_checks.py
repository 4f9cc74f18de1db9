"""Config checks name the key and say what to set."""

from __future__ import annotations

import math

import pytest

from lightning_distill.config.checks import require_bool, require_choice, require_integer, require_number
from lightning_distill.errors import ConfigError


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: require_integer("data.num_workers", -1, minimum=0), "data.num_workers=-1 must be an integer >= 0."),
        (lambda: require_integer("student.n_layers", True, minimum=1), "student.n_layers=True must be an integer >= 1."),
        (lambda: require_integer("student.n_heads", 13, minimum=1, maximum=12, hint="pruned"),
         "student.n_heads=13 must be an integer in [1, 12] (pruned)."),
        (lambda: require_integer("data.max_eval_examples", 0, minimum=1, null_means="all"),
         "data.max_eval_examples=0 must be null (all) or an integer >= 1."),
        (lambda: require_number("optimizer.beta1", 1.0, minimum=0, below=1), "optimizer.beta1=1.0 must be a number in [0, 1)."),
        (lambda: require_number("optimizer.learning_rate", 0, above=0), "optimizer.learning_rate=0 must be a number > 0."),
        (lambda: require_number("student.dropout", math.nan, minimum=0, maximum=1), "student.dropout=nan must be a number in [0, 1]."),
        (lambda: require_number("distillation.temperature", "2", above=0), "distillation.temperature='2' must be a number > 0."),
        (lambda: require_bool("data.group_by_length", "yes"), "data.group_by_length='yes' must be true or false."),
        (lambda: require_choice("data.padding", "max", ("max_length", "longest")),
         "data.padding='max' must be one of ['max_length', 'longest']."),
    ],
)
def test_errors_name_the_key_and_the_fix(check, message):
    with pytest.raises(ConfigError) as raised:
        check()
    assert str(raised.value) == message


def test_valid_values_pass():
    require_integer("data.max_eval_examples", None, minimum=1, null_means="all")
    require_integer("student.n_heads", 12, minimum=1, maximum=12)
    require_number("optimizer.beta1", 0.0, minimum=0, below=1)
    require_number("distillation.temperature", 1, above=0)
    require_bool("data.group_by_length", False)
    require_choice("data.padding", "longest", ("max_length", "longest"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+student.n_layer=4", "student.n_layer: lightning_distill.models.student.build_student takes no 'n_layer'"),
        ("+optimizer.lerning_rate=0.1", "optimizer.lerning_rate: lightning_distill.training.optimizer.OptimizerSettings"),
    ],
)
def test_a_key_the_target_does_not_take_is_one_error_naming_it_and_the_nearest_spelling(tmp_path, override, message):
    """Hydra's own hint for a key that is not in the config is `+key=value`; a misspelt key then reaches the
    target, and the user gets the key, what the target takes and the spelling they meant, not a TypeError."""
    from test_teacher_cache import smoke_cfg

    from lightning_distill.training.pipeline import train

    with pytest.raises(ConfigError) as caught:
        train(smoke_cfg(tmp_path, override))
    text = str(caught.value)
    assert text.startswith(message)
    assert "Did you mean " + override.lstrip("+").split(".")[0] in text
