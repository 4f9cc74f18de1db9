"""The stand-in app, its sweep process killed (SIGKILL) at a chosen point: ``SWEEP_KILL_AT=point:n``
kills it at the n-th time the sweep reaches ``point``:

- ``suggestion``: just after a suggestion is journaled (its trial not started);
- ``running``: while a trial runs (the basic launcher runs it in the sweep process);
- ``observation``: just after an outcome is journaled, before it is reported;
- ``results``: during the rewrite of the result files (some rewritten, some not).

``SWEEP_DISK_FULL_AT=n`` instead fills the disk at the sweep's n-th journal append: that append and
every later write of the journal or the result files fail with ENOSPC, naming their path.
"""

from __future__ import annotations

import errno
import os
import runpy
import signal
from pathlib import Path
from typing import Any

from hydra_plugins.sigopt_sweeper import _journal, _result_files, _trial_pool

POINTS = {
    "suggestion": (_journal.Journal, "record_suggestion", "after"),
    "running": (_trial_pool.TimedTask, "__call__", "during"),
    "observation": (_journal.Journal, "record_observation", "after"),
    "results": (_result_files, "write_text_atomically", "before"),
}


def kill_at(point: str, count: int) -> None:
    owner, name, when = POINTS[point]
    original = getattr(owner, name)
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == count and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        if calls == count and when == "during":
            task = args[0].task_function
            args[0].task_function = lambda cfg: (task(cfg), os.kill(os.getpid(), signal.SIGKILL))
        result = original(*args, **kwargs)
        if calls == count and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def disk_full_at(count: int) -> None:
    appends = 0
    append, write = _journal.Journal._append, _result_files.write_text_atomically

    def full(path: Any) -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def journal_append(self: Any, record: Any) -> None:
        nonlocal appends
        appends += 1
        if appends >= count:
            raise full(self.path)
        append(self, record)

    def result_write(path: Any, *args: Any, **kwargs: Any) -> Any:
        if appends >= count:
            raise full(path)
        return write(path, *args, **kwargs)

    _journal.Journal._append = journal_append
    _result_files.write_text_atomically = result_write


def disk_full_everywhere_at(count: int) -> None:
    """As ``disk_full_at``, and from then on Hydra's own writes around a job (its ``.hydra/`` configs) and every log
    file fail too, as a write to an open file does: ENOSPC with no path."""
    import logging

    from hydra.core import utils

    disk_full_at(count)
    save, emit = utils._save_config, logging.FileHandler.emit
    state = {"appends": 0}
    append = _journal.Journal._append

    def counting(self: Any, record: Any) -> None:
        state["appends"] += 1
        append(self, record)

    def no_space() -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def save_config(*args: Any, **kwargs: Any) -> Any:
        if state["appends"] >= count - 1:
            raise no_space()
        return save(*args, **kwargs)

    def file_emit(self: Any, record: Any) -> None:
        if state["appends"] >= count - 1:
            try:
                raise no_space()
            except OSError:
                self.handleError(record)
                return
        emit(self, record)

    _journal.Journal._append = counting
    utils._save_config = save_config
    logging.FileHandler.emit = file_emit


if __name__ == "__main__":
    if "SWEEP_DISK_FULL_EVERYWHERE_AT" in os.environ:
        disk_full_everywhere_at(int(os.environ["SWEEP_DISK_FULL_EVERYWHERE_AT"]))
    elif "SWEEP_DISK_FULL_AT" in os.environ:
        disk_full_at(int(os.environ["SWEEP_DISK_FULL_AT"]))
    else:
        point, _, count = os.environ["SWEEP_KILL_AT"].partition(":")
        kill_at(point, int(count))
    runpy.run_path(str(Path(__file__).with_name("app.py")), run_name="__main__")
