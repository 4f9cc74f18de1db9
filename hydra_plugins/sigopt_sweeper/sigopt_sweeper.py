"""Hydra's entry points for ``hydra/sweeper=sigopt``, kept small as in Hydra's own sweeper plugins:
the Sweeper, and the callback that checks its settings when a multirun starts (config.py adds it)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

USER_ERROR_EXIT_CODE = 2
SIGNAL_EXIT_BASE = 128
"""A sweep stopped by a signal exits 128 + its number (130 for Ctrl-C), as a shell reports it."""


class SigOptSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from hydra_plugins.sigopt_sweeper._sweep import SigOptSweep

        self.sweep_impl = SigOptSweep(OmegaConf.create(settings))

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweep_impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        try:
            with _one_line_per_failing_log_file(), _exit_on_known_errors():
                return self.sweep_impl.sweep(arguments)
        finally:
            _restore_signal_handlers()


_BEFORE_START_UP: dict[int, Any] = {}
"""SIGINT/SIGTERM handlers the process had before the start-up handler replaced them."""


def _restore_signal_handlers() -> None:
    """After the sweep, the handlers the process had before the multirun: the start-up handler must not outlive
    the start-up (it answered a Ctrl-C during exit with "before this run started any trial" and a traceback)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in _BEFORE_START_UP.items():
        signal.signal(signum, handler)
    _BEFORE_START_UP.clear()


class SettingsCheck(Callback):
    """Checks ``hydra.sweeper`` and the sweep overrides as soon as the multirun starts.

    It runs before the application's own multirun callbacks (which may prepare data for hours), so
    a sweep that cannot run, whose directory a live sweep holds, or whose SigOpt server does not answer or
    refuses the token (``driver=api``: one request within ``check_timeout_s``, not the client's 150 s) fails in
    seconds. The sweeper checks again (and takes the directory's lock): it may run without this.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver
        from hydra_plugins.sigopt_sweeper._drivers import make_driver
        from hydra_plugins.sigopt_sweeper._experiment import read_sweep_config
        from hydra_plugins.sigopt_sweeper._lock import check_unlocked

        _quiet_interrupts_until_the_sweep_starts()
        with _exit_on_known_errors():
            settings, spec = read_sweep_config(
                config.hydra.sweeper, OmegaConf.to_container(config.hydra.overrides.task), inputs=False
            )
            check_unlocked(Path(str(config.hydra.sweep.dir)))
            driver = make_driver(settings, spec)
            if isinstance(driver, ApiDriver):
                driver.check_server(settings.check_timeout_s)


@contextmanager
def _one_line_per_failing_log_file() -> Iterator[None]:
    """On a full disk every line logged to a file fails, and Python prints a ``--- Logging error ---`` traceback for
    each, burying the sweep's own message. During the sweep a disk error in a log handler is said once per handler,
    in one line; any other logging error is reported as Python does."""
    from hydra_plugins.sigopt_sweeper._trial import disk_error

    original = logging.Handler.handleError
    said: set[int] = set()

    def handle_error(handler: logging.Handler, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if error is None or disk_error(error) is None:
            original(handler, record)
            return
        if id(handler) not in said:
            said.add(id(handler))
            where = getattr(handler, "baseFilename", type(handler).__name__)
            sys.stderr.write(f"sigopt sweeper: cannot log to {where}: {error}; its further lines are dropped\n")

    logging.Handler.handleError = handle_error  # type: ignore[method-assign]
    try:
        yield
    finally:
        logging.Handler.handleError = original  # type: ignore[method-assign]


def _quiet_interrupts_until_the_sweep_starts() -> None:
    """Ctrl-C while the multirun starts up (the application's callbacks may prepare data for a long
    time) ends with one line, not a traceback; the sweep installs its own handling once it runs."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: Any) -> None:
        log.error("sigopt sweeper: interrupted (%s) before this run started any trial", signal.Signals(signum).name)
        raise SystemExit(SIGNAL_EXIT_BASE + signum)

    from hydra_plugins.sigopt_sweeper._interrupts import InterruptWatch

    for signum in InterruptWatch.SIGNALS:
        previous = signal.signal(signum, stop)
        _BEFORE_START_UP.setdefault(signum, previous)


@contextmanager
def _exit_on_known_errors() -> Iterator[None]:
    """A problem the user fixes is one clear line and exit status 2, not a stack trace."""
    from hydra_plugins.sigopt_sweeper._api_driver import SigOptAccessError
    from hydra_plugins.sigopt_sweeper._experiment import OptimizerError
    from hydra_plugins.sigopt_sweeper._interrupts import SweepInterrupted
    from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
    from hydra_plugins.sigopt_sweeper._trial import disk_error
    from hydra_plugins.sigopt_sweeper._trial_pool import InfrastructureError

    try:
        yield
    except (SweepConfigError, SigOptAccessError) as error:
        log.error("sigopt sweeper: %s", error)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
    except (InfrastructureError, OptimizerError) as error:
        log.error("sigopt sweeper stopped: %s", error)
        raise SystemExit(1) from None
    except SweepInterrupted as interrupt:  # the sweep logged what stays pending and how to resume
        raise SystemExit(SIGNAL_EXIT_BASE + interrupt.signum) from None
    except OSError as error:
        if disk_error(error) is None:
            raise
        where = f" {error.filename}" if error.filename else ""
        log.error(
            "sigopt sweeper stopped: cannot write%s: %s. Finished trials are journaled; free space or make the "
            "sweep directory writable, then rerun with hydra.sweeper.resume=true.",
            where,
            error.strerror or error,
        )
        raise SystemExit(1) from None
