"""Exceptions for problems the user can fix.

Everything a user can get wrong (a config key, a data file, a checkpoint) raises one of these with a
message that names the offending key or file and says how to fix it. ``train.py`` prints them
without a traceback; anything else escaping is a bug in lightning-distill.
"""


class LightningDistillError(Exception):
    """Base class of user-fixable errors."""


class ConfigError(LightningDistillError, ValueError):
    """A config value is missing, out of range or inconsistent with another."""


class DataError(LightningDistillError, ValueError):
    """A data file is missing, malformed or not in the SQuAD 2.0 format."""


class CheckpointError(LightningDistillError, ValueError):
    """A model checkpoint cannot be used for the role it was given."""


USER_ERROR_EXIT_CODE = 2
"""The exit status of every command of this project that stops on something the user fixes (a setting, a file, a
flag), with one line naming it: ``train.py``, a search's start-up, and each ``python -m lightning_distill...`` tool
(README, "Exit codes"). argparse's own usage errors exit 2 too."""


def first_line(exc: BaseException) -> str:
    """The gist of a library exception for our own message (transformers' run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class NonFiniteLossError(FloatingPointError):
    """The loss or the student's logits became NaN/inf: the trial has diverged and more steps would only waste time.

    Not a user error: a diverged trial is a result of its settings, which a sweeper records as ``non_finite_loss``
    (it files any ``FloatingPointError`` so). Raised in training (the loss) and in scoring (the logits), so a
    one-step divergence is named as such instead of failing later at a file write."""


class ExportError(LightningDistillError, ValueError):
    """A student cannot be exported as asked (missing extra, bad flags, unwritable output)."""
