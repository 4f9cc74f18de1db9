"""The sweep's own SIGINT/SIGTERM handling: a user's stop is not a trial's crash.

Python's default turns Ctrl-C into a ``KeyboardInterrupt`` wherever the main thread happens to
be: inside a trial (Lightning catches it, marks the run interrupted and exits with status 1), in
the middle of a journal write, or inside a ``__del__``, where Python only prints it and carries
on, so the sweep ran on. Here the handler first *records* the signal, then raises
``SweepInterrupted`` (a ``KeyboardInterrupt``, so a trial's own clean-up still runs); the sweep
loop also checks the record between steps, so a swallowed exception still stops the sweep at the
next one. The trials in flight are journaled ``interrupted`` (pending, not an attempt) and the
process ends with one line and the resume command, status 128 + the signal number.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from typing_extensions import Self


class SweepInterrupted(KeyboardInterrupt):
    """The user (or the system, SIGTERM) asked the sweep to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class InterruptWatch:
    """``with InterruptWatch() as watch:`` SIGINT and SIGTERM stop the body; ``watch.signum`` tells which."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if first:
            raise SweepInterrupted(signum)

    def check(self) -> None:
        """Raise if a signal arrived whose exception something swallowed."""
        if self.signum is not None:
            raise SweepInterrupted(self.signum)

    def reinstall(self) -> None:
        """Take the signals back after a trial changed them (Lightning ignores SIGINT once it saw one)."""
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                signal.signal(signum, self._handle)

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
