"""Running trials: asynchronously on Ray, or in batches through any other Hydra launcher.

Hydra's ``Launcher.launch`` returns only when every job of a batch is done, so a batch of a
1-layer and a 20-layer student idles the first worker for hours. With ``hydra/launcher=ray`` the
pool therefore bypasses ``launch`` and submits each trial as its own Ray task, built exactly as
hydra-ray-launcher builds them (its ``ray.init`` and ``ray.remote`` settings, e.g. GPUs per
trial, apply), and ``ray.wait``s for whichever finishes first: a free worker takes the next
suggestion at once. Other launchers get batches of ``parallelism`` through ``launch`` (joblib or submitit run
a batch in parallel). Hydra's basic launcher runs a batch one job after another in this process, so the pool
hands it one trial at a time: each trial is journaled as started when it really starts and as observed as soon
as it ends, and a sweep killed during a batch's second trial neither re-runs the first nor counts a start of one
that never began (issue 36).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._trial import (
    Trial,
    TrialOutcome,
    TrialTimeoutError,
    disk_error,
    failure_reason,
    first_line,
    is_infrastructure_failure,
    timeout_reason,
)

log = logging.getLogger(__name__)

RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
LOCAL_OBJECT_STORE_BYTES = 78643200
"""hydra-ray-launcher's default for local instances (trials exchange only configs and metrics)."""


HEAD_PROBE_S = 5.0
"""How often the sweep checks that the Ray cluster's head (its GCS) still answers."""
HEAD_MISSES = 3
"""Missed probes in a row that mean the head is lost: 15 s, well inside the 60 s after which Ray's own client ends
the process with a fatal log line (``gcs_rpc_server_reconnect_timeout_s``), so the sweep stops on its own terms."""


class HeadWatch:
    """A daemon thread that probes the head's GCS port over TCP (no Ray call, which would hang with it gone).

    When the head is lost, the sweep's main thread stops with ``ClusterLostError`` at its next wait (every
    ``HEAD_PROBE_S``). If it is stuck in a Ray call instead (submitting a task needs the head), the watch ends the
    process itself one probe later, with the same one line (``message()``), exit status 1: the journal is written
    record by record, so nothing finished is lost, and the trials in flight stay pending for the resume."""

    def __init__(
        self, gcs_address: str, message: Callable[[], str], interval_s: float = HEAD_PROBE_S, misses: int = HEAD_MISSES
    ) -> None:
        host, _, port = gcs_address.rpartition(":")
        self.address = gcs_address
        self._target = (host, int(port))
        self.message = message
        self.interval_s = interval_s
        self.misses = misses
        self.lost = threading.Event()
        self.reported = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="ray-head-watch", daemon=True).start()

    def _watch(self) -> None:
        missed = 0
        while not self._stop.wait(self.interval_s):
            try:
                socket.create_connection(self._target, timeout=self.interval_s).close()
                missed = 0
            except OSError:
                missed += 1
                if missed >= self.misses:
                    self.lost.set()
                    break
        if self.lost.is_set() and not self._stop.wait(2 * self.interval_s) and not self.reported.is_set():
            log.error("sigopt sweeper stopped: %s", self.message())  # the main thread is stuck in a Ray call
            logging.shutdown()
            os._exit(1)

    def stop(self) -> None:
        self._stop.set()


class InfrastructureError(RuntimeError):
    """The trial infrastructure is broken: the sweep stops with trials pending, to resume once fixed."""


class ClusterLostError(InfrastructureError):
    """The trial infrastructure itself is gone (e.g. the local Ray raylet died): stop, resume later.

    Recording every remaining trial as failed would spend the budget and teach the optimizer that
    good configurations are infeasible; the in-flight trials stay pending in the journal instead.
    """


@dataclass
class TimedValue:
    value: Any
    started_at: float
    finished_at: float
    node: str | None = None
    """Where the trial ran (``node_name``)."""


def node_name() -> str:
    """The machine a trial runs on, as the operator needs it: ``<ip>/<ray node id>`` in a Ray worker (several nodes
    may share a machine), else the host name."""
    ray = sys.modules.get("ray")  # a Ray worker has it imported; no import (seconds) for other launchers
    try:
        if ray is not None and ray.is_initialized():
            return f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:12]}"
    except Exception as error:  # noqa: BLE001 - the node is bookkeeping; never fail a trial for it
        log.debug("no Ray node id (%s); naming the host", error)
    return socket.gethostname()


class TimedTask:
    """The task function as the pool launches it: the user's task plus when it ran.

    Timing is taken inside the job so that queueing in a launcher or on a Ray cluster is not counted
    as trial time; the sweeper's own view (submit -> result) gives the overhead around it.
    """

    def __init__(self, task_function: Any, timeout_s: float | None = None) -> None:
        self.task_function = task_function
        self.timeout_s = timeout_s
        """Set for launchers that run the task in a process's main thread (the sweep's, or a worker's):
        a SIGALRM then ends a trial that runs too long. Ray trials are cancelled from outside instead."""

    def __call__(self, cfg: DictConfig) -> TimedValue:
        started_at = time.time()
        try:
            with _alarm(self.timeout_s):
                value = self.task_function(cfg)
        except (TrialTimeoutError, KeyboardInterrupt, SystemExit):  # a stopped trial's workers may be hung
            stop_children()
            raise
        return TimedValue(value, started_at, time.time(), node_name())


CHILD_GRACE_S = 2.0
"""How long a trial's leftover child process gets to end on SIGTERM before SIGKILL (a stopped one never does)."""


def stop_children() -> list[int]:
    """End the child processes a stopped trial left behind in this process (its DataLoader workers): a timed-out or
    interrupted trial does not get to shut them down, and a hung one (e.g. stopped with SIGSTOP) would hold the
    process at exit forever, as multiprocessing joins its children then. SIGTERM, then SIGKILL."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + CHILD_GRACE_S
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(CHILD_GRACE_S)
    if children:
        log.warning("stopped %d child process(es) the trial left behind (pids %s)", len(children),
                    ", ".join(str(child.pid) for child in children))  # fmt: skip
    return [child.pid for child in children if child.pid is not None]


@contextmanager
def _alarm(timeout_s: float | None) -> Iterator[None]:
    """Raise TrialTimeoutError in the main thread after ``timeout_s`` (no-op elsewhere or without a limit)."""
    if not timeout_s or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TrialTimeoutError(timeout_reason(timeout_s))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _no_hook(trial: Trial) -> None:
    return None


class LauncherPool:
    """Batch-synchronous: what Hydra's launcher API offers (one trial at a time for a sequential launcher)."""

    asynchronous = False

    def __init__(self, launcher: Launcher, capacity: int, sweep_dir: Path, *, sequential: bool = False) -> None:
        self.launcher = launcher
        self.capacity = capacity
        self.sweep_dir = sweep_dir
        self.sequential = sequential
        """The launcher runs a batch's jobs one after another (Hydra's basic launcher): launch them one by one."""
        self.queued: list[Trial] = []
        self.on_start: Callable[[Trial], None] = _no_hook
        """Called for each trial when it starts (the sweep journals it then)."""

    def has_room(self, in_flight: int) -> bool:
        return in_flight < self.capacity

    def submit(self, trial: Trial) -> None:
        self.queued.append(trial)

    def wait(self) -> Iterator[TrialOutcome]:
        """Each outcome as soon as its launch returns: the sweep journals it before the next launch starts."""
        queued, self.queued = self.queued, []
        runs = [[trial] for trial in sorted(queued, key=lambda item: item.number)] if self.sequential else _consecutive_runs(queued)
        for run in runs:
            for trial in run:
                self.on_start(trial)
            submitted = time.time()
            try:
                returns = self.launcher.launch([trial.overrides for trial in run], initial_job_idx=run[0].number)
            except OSError as error:  # Hydra's own writes around the job (its .hydra/ configs) escape the job's result
                if disk_error(error) is None:
                    raise
                for trial in run:
                    yield _failed(trial, _naming_the_trial_dir(error, self.sweep_dir / str(trial.number)), submitted,
                                  time.time(), str(self.sweep_dir / str(trial.number)))  # fmt: skip
                continue
            for trial, job_return in zip(run, returns):
                yield _outcome(trial, job_return, submitted, time.time(), self.sweep_dir)

    def close(self) -> None:
        self.queued = []


class RayPool:
    """Asynchronous: one Ray task per trial, next suggestion as soon as any task finishes."""

    asynchronous = True

    def __init__(
        self,
        launcher: Any,
        capacity: int,
        sweep_dir: Path,
        hydra_context: HydraContext,
        config: DictConfig,
        task_function: Any,
        timeout_s: float | None = None,
        waiting_log_s: float | None = None,
    ) -> None:
        import ray
        from hydra_plugins.hydra_ray_launcher._launcher_util import start_ray  # the launcher's own start-up

        self.ray = ray
        self.capacity = capacity
        self.sweep_dir = sweep_dir
        self.hydra_context = hydra_context
        self.config = config
        self.task_function = task_function
        self.timeout_s = timeout_s
        self.waiting_log_s = waiting_log_s
        self.on_start: Callable[[Trial], None] = _no_hook
        """Called for each trial as it is submitted (a Ray task starts when a worker is free; counted as started)."""
        self.remote_options = _remote_options(launcher.ray_cfg.remote)
        init = launcher.ray_cfg.init
        local = not init.get("address")
        if local:
            with open_dict(init):  # as hydra-ray-launcher, for a new local instance only: Ray refuses
                init.setdefault("object_store_memory", LOCAL_OBJECT_STORE_BYTES)  # it when joining a cluster
        start_ray(init)
        self._check_resources(local=local)
        self.running: dict[Any, tuple[Trial, float]] = {}
        self.head = HeadWatch(self.ray.get_runtime_context().gcs_address, self.head_lost_message)

    def _check_resources(self, *, local: bool) -> None:
        """A trial's resource request that no node can ever meet would wait forever: refuse it now.

        Only a local instance is refused: a cluster's autoscaler may add such nodes (there the wait
        is bounded by ``trial_timeout_s``), so for a cluster it is a warning.
        """
        request = {"CPU": self.remote_options.get("num_cpus", 1), "GPU": self.remote_options.get("num_gpus", 0)}
        request.update(self.remote_options.get("resources") or {})
        request = {name: amount for name, amount in request.items() if amount}
        nodes = [node.get("Resources", {}) for node in self.ray.nodes() if node.get("Alive")]
        if any(all(node.get(name, 0) >= amount for name, amount in request.items()) for node in nodes):
            return
        largest = {name: max((node.get(name, 0) for node in nodes), default=0) for name in request}
        message = (
            f"hydra.launcher.ray.remote asks each trial for {request}, but no Ray node has that much "
            f"(the largest offer {largest}); lower hydra.launcher.ray.remote (e.g. num_gpus) or give Ray "
            "those resources (hydra.launcher.ray.init.num_gpus / num_cpus, or a cluster that has them)."
        )
        if local:
            raise SweepConfigError(message)
        log.warning("%s Trials wait until the cluster has such a node.", message)

    def has_room(self, in_flight: int) -> bool:
        return in_flight < self.capacity

    def submit(self, trial: Trial) -> None:
        from hydra.core.singleton import Singleton
        from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray

        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(trial.overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"job_id_for_{trial.number}"
            sweep_config.hydra.job.num = trial.number
        self.on_start(trial)
        reference = launch_job_on_ray(
            self.hydra_context, self.remote_options, sweep_config, self.task_function, Singleton.get_state()
        )
        self.running[reference] = (trial, time.time())

    def wait(self) -> list[TrialOutcome]:
        references = list(self.running)
        waited = 0.0
        while True:
            deadline = self._until_first_deadline()
            timeout = min(s for s in (deadline, HEAD_PROBE_S, self.waiting_log_s) if s is not None)
            ready, _ = self.ray.wait(references, num_returns=1, timeout=timeout)
            if ready:
                break
            if self.head.lost.is_set():
                self.head.reported.set()
                raise ClusterLostError(self.head_lost_message())
            if deadline is not None and timeout == deadline:
                return self._cancel_overdue()
            waited += timeout
            if self.waiting_log_s is not None and waited >= self.waiting_log_s:
                waited = 0.0
                log.info("waiting on trials %s", self.running_line())
        more, _ = self.ray.wait(references, num_returns=len(references), timeout=0)
        outcomes = []
        for reference in {*ready, *more}:
            trial, submitted = self.running.pop(reference)
            try:
                job_return = self.ray.get(reference)
            except (self.ray.exceptions.LocalRayletDiedError, self.ray.exceptions.RaySystemError) as error:
                self.running[reference] = (trial, submitted)
                raise ClusterLostError(
                    f"the Ray cluster went away while trial {trial.number} ran ({error}). Finished trials are "
                    "journaled; rerun with hydra.sweeper.resume=true to continue."
                ) from None
            except Exception as error:  # noqa: BLE001 - worker death, Ray OOM kill, cancellation
                log.warning("trial %d: its Ray worker failed: %s", trial.number, first_line(error))
                outcomes.append(_failed(trial, error, submitted, time.time()))
                continue
            outcomes.append(_outcome(trial, job_return, submitted, time.time(), self.sweep_dir))
        return outcomes

    def head_lost_message(self) -> str:
        running = ", ".join(str(trial.number) for trial, _ in list(self.running.values())) or "none"
        return (
            f"the Ray cluster's head ({self.head.address}) stopped answering (trials in flight: {running}; they stay "
            "pending, finished trials are journaled). Start a cluster (or restore the head), then rerun with "
            "hydra.sweeper.resume=true and the head's address in hydra.launcher.ray.init.address."
        )

    def running_line(self) -> str:
        """The trials in flight and how long each has run, longest first: ``3 (25 min), 4 (12 min)``."""
        now = time.time()
        running = sorted(self.running.values(), key=lambda entry: entry[1])
        return ", ".join(f"{trial.number} ({(now - submitted) / 60:.0f} min)" for trial, submitted in running)

    def _until_first_deadline(self) -> float | None:
        if not self.timeout_s:
            return None
        first = min(submitted for _, submitted in self.running.values())
        return max(0.0, first + self.timeout_s - time.time())

    def _cancel_overdue(self) -> list[TrialOutcome]:
        """Cancel (kill) the trials past ``trial_timeout_s``; their failed outcomes."""
        outcomes = []
        now = time.time()
        for reference, (trial, submitted) in list(self.running.items()):
            if now - submitted < self.timeout_s:
                continue
            del self.running[reference]
            self.ray.cancel(reference, force=True)
            reason = timeout_reason(self.timeout_s)
            log.warning("trial %d: %s", trial.number, reason)
            outcomes.append(TrialOutcome(trial, ok=False, reason=reason, started_at=submitted, finished_at=now))
        return outcomes

    def close(self) -> None:
        self.head.stop()
        if self.head.lost.is_set():  # nothing to cancel on a cluster without its head, and asking could hang
            self.running.clear()
            return
        for reference in list(self.running):
            try:
                self.ray.cancel(reference, force=True)
            except Exception as error:  # noqa: BLE001 - a dead cluster has nothing left to cancel
                log.debug("could not cancel a trial task: %s", error)
        self.running.clear()


def make_pool(
    launcher: Launcher,
    config: DictConfig,
    capacity: int,
    sweep_dir: Path,
    hydra_context: HydraContext,
    task_function: TimedTask,
    timeout_s: float | None = None,
    waiting_log_s: float | None = None,
) -> LauncherPool | RayPool:
    """``timeout_s``: Ray cancels a trial past it; other launchers get it as an alarm in the task.
    ``waiting_log_s``: Ray logs the trials it waits on at this interval while none finishes."""
    if _is_ray_launcher(launcher, config):
        return RayPool(launcher, capacity, sweep_dir, hydra_context, config, task_function, timeout_s, waiting_log_s)
    task_function.timeout_s = timeout_s
    log.info(
        "%s has no asynchronous API: trials run in batches of %d (use hydra/launcher=ray for asynchronous trials).",
        type(launcher).__name__,
        capacity,
    )
    sequential = OmegaConf.select(config, "hydra.launcher._target_", default="") == BASIC_LAUNCHER
    return LauncherPool(launcher, capacity, sweep_dir, sequential=sequential)


def _is_ray_launcher(launcher: Launcher, config: DictConfig) -> bool:
    target = OmegaConf.select(config, "hydra.launcher._target_", default="")
    return target == RAY_LAUNCHER and hasattr(launcher, "ray_cfg")


def _remote_options(remote: DictConfig | None) -> DictConfig:
    """The launcher's ``ray.remote`` options; a crashed trial is reported, not silently retried."""
    options = OmegaConf.to_container(remote, resolve=True) if remote else {}
    options.setdefault("max_retries", 0)
    return OmegaConf.create(options)


def _consecutive_runs(trials: Sequence[Trial]) -> list[list[Trial]]:
    """Launchers number jobs initial_job_idx, +1, ...; resumed trials may have gaps between them."""
    runs: list[list[Trial]] = []
    for trial in sorted(trials, key=lambda item: item.number):
        if runs and runs[-1][-1].number + 1 == trial.number:
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs


def _outcome(trial: Trial, job_return: JobReturn, submitted: float, returned: float, sweep_dir: Path) -> TrialOutcome:
    output_dir = _output_dir(job_return) or str(sweep_dir / str(trial.number))
    if job_return.status == JobStatus.COMPLETED:
        value = job_return.return_value
        if isinstance(value, TimedValue):
            return TrialOutcome(trial, True, value.value, None, value.started_at, value.finished_at, output_dir,
                                node=value.node)  # fmt: skip
        return TrialOutcome(trial, True, value, None, submitted, returned, output_dir)
    error = job_return._return_value
    if isinstance(error, BaseException):
        outcome = _failed(trial, error, submitted, returned, output_dir)
    else:
        outcome = TrialOutcome(trial, False, None, f"exception: {error!r}", submitted, returned, output_dir)
    log.warning("trial %d failed: %s", trial.number, outcome.reason)
    return outcome


def _naming_the_trial_dir(error: OSError, trial_dir: Path) -> OSError:
    """A disk error as the user needs it: with a path. A failed ``write`` to an open file carries none."""
    if error.filename:
        return error
    named = OSError(error.errno, error.strerror or str(error), f"{trial_dir} (the trial's directory)")
    named.__cause__ = error
    return named


def _failed(
    trial: Trial, error: BaseException, submitted: float, returned: float, output_dir: str | None = None
) -> TrialOutcome:
    return TrialOutcome(
        trial,
        False,
        None,
        failure_reason(error),
        submitted,
        returned,
        output_dir,
        infrastructure=is_infrastructure_failure(error),
    )


def _output_dir(job_return: JobReturn) -> str | None:
    hydra_cfg = getattr(job_return, "hydra_cfg", None)
    return OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None) if hydra_cfg is not None else None
