"""Result files written whole or not at all: a reader (the report, a resume, a user's ``cat``) never sees half a
file, even if the sweep is killed mid-write. The sweeper's own copy of the rule (write a sibling, then rename),
so the plugin needs nothing from the application it sweeps."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_FILE_MODE = 0o666


def _umask() -> int:
    """Read once at import: os.umask can only be read by setting it, which races with other threads."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def write_text_atomically(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(staging, _FILE_MODE & ~_UMASK)  # mkstemp's 0600 would make every result file private
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
