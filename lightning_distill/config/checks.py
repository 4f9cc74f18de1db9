"""Type and range checks for config values, each error naming the config key and what to set.

Settings are validated when their owner is built, before any data or model loads, so a typo fails
in a second instead of after an hour of featurization. Every owner (student, data module, loss,
optimizer, callbacks, teacher cache) states its rules with these few functions, so the messages
read the same everywhere: ``student.n_heads=13 must be an integer in [1, 12] (…).``
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from lightning_distill.errors import ConfigError


def is_integer(value: Any) -> bool:
    """YAML ``true`` is a Python bool, which is an int: never accept it as a count."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def require_number(
    key: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    null_means: str | None = None,
    hint: str = "",
) -> None:
    """``minimum``/``maximum`` are inclusive bounds, ``above``/``below`` exclusive ones;
    ``null_means`` allows null and says what it does (e.g. "all questions")."""
    if value is None and null_means is not None:
        return
    if (is_integer(value) if integer else is_number(value)) and _within(value, minimum, maximum, above, below):
        return
    kind = "an integer" if integer else "a number"
    _fail(key, value, _describe(kind, minimum, maximum, above, below), null_means, hint)


def require_integer(key: str, value: Any, **bounds: Any) -> None:
    """An integer, never a bool, within ``bounds`` (those of :func:`require_number`)."""
    require_number(key, value, integer=True, **bounds)


def require_bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} must be true or false.")


def require_choice(key: str, value: Any, choices: Collection[Any], *, hint: str = "") -> None:
    if value not in choices:
        _fail(key, value, f"one of {list(choices)}", None, hint)


def _within(value: float, minimum: float | None, maximum: float | None, above: float | None, below: float | None) -> bool:
    return (
        (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
        and (above is None or value > above)
        and (below is None or value < below)
    )


def _describe(kind: str, minimum: float | None, maximum: float | None, above: float | None, below: float | None) -> str:
    lower = (f"[{minimum}", f">= {minimum}") if minimum is not None else (f"({above}", f"> {above}") if above is not None else None
    upper = (f"{maximum}]", f"<= {maximum}") if maximum is not None else (f"{below})", f"< {below}") if below is not None else None
    if lower and upper:
        return f"{kind} in {lower[0]}, {upper[0]}"
    if lower or upper:
        return f"{kind} {(lower or upper)[1]}"
    return kind


def _fail(key: str, value: Any, requirement: str, null_means: str | None, hint: str) -> None:
    null = f"null ({null_means}) or " if null_means else ""
    because = f" ({hint})" if hint else ""
    raise ConfigError(f"{key}={value!r} must be {null}{requirement}{because}.")
