"""Overrides printed for a user to paste (the resume command), quoted for both readers: the shell, then Hydra.

A sweep directory with a space, a comma or a quote in its path must come back as the same path: unquoted, the
shell splits it at the space and Hydra reads a comma as a sweep over several values.
"""

from __future__ import annotations

import re
import shlex

HYDRA_PLAIN = re.compile(r"[\w/.\-+@%~]+")
"""Characters Hydra's override grammar takes unquoted in a value (no whitespace, ``,=:()[]{}'"\\``)."""


def hydra_value(value: str) -> str:
    """``value`` as Hydra's override grammar reads it back: as is, or single-quoted with quotes escaped."""
    if HYDRA_PLAIN.fullmatch(value):
        return value
    # Hydra reads a backslash as an escape only in a run just before a quote (or the closing one): double those
    # runs, and escape the quote itself.
    escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value)
    return f"'{escaped}'"


def shell_override(key: str, value: str) -> str:
    """``key=value`` as one shell word that Hydra parses back to ``value``."""
    return shlex.quote(f"{key}={hydra_value(value)}")
