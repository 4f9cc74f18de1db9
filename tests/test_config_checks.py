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
