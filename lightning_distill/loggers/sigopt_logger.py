"""``logger=sigopt``: a Lightning logger that records each run as a SigOpt training run.

The source watched every trial's curves beside its observation; this logger puts them on the
SigOpt server the sweep uses (the open-source sigopt-server, or any server with the v1 training
runs API), through the ``sigopt`` client:

- the run is created when Lightning first logs (name: the Hydra job, metadata: the trial's
  suggestion and experiment when a ``driver=api`` sweep launched it; see ``SWEEP_ENV``);
- hyperparameters become the run's assignments (flattened keys, numbers and strings);
- every evaluation is a checkpoint, and training metrics one every ``checkpoint_every_n_steps``
  steps, at most ``max_checkpoints`` (the server refuses more than 200 per run): the curves are
  thinned, the evaluations kept first;
- at the end the last evaluation's metrics become the run's values and its state ``completed``
  (``failed`` when Lightning reports a failure or an interruption);
- ``sigopt_run.json`` in the run directory names the run; a trial started again after its sweep
  was killed (in ``N.attemptK``) marks the runs of its earlier starts failed, so none stays active.

The token and URL come from the environment only (``SIGOPT_API_TOKEN``, ``SIGOPT_API_URL``), never
from config, so they never reach a saved config or log. Selecting the logger without a token is a
clear error before training. A request that fails never fails the run: it is logged as a warning
(the first few of each kind) and training goes on.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from argparse import Namespace
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from hydra_plugins.sigopt_sweeper.api import ensure_project
from lightning_distill.config.checks import require_integer
from lightning_distill.errors import ConfigError, first_line
from lightning_distill.metrics import EVALUATION
from lightning_distill.storage.atomic_files import write_json_atomically

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVER_CHECKPOINT_LIMIT = 200
"""sigopt-server refuses a run's 201st checkpoint (``handlers/experiments/checkpoints/create.py``)."""
EVALUATION_KEYS = EVALUATION
"""A logged dict holding any of these is an evaluation: always a checkpoint, never thinned."""
SWEEP_ENV = {"suggestion": "SIGOPT_SUGGESTION_ID", "experiment": "SIGOPT_EXPERIMENT_ID", "trial": "SIGOPT_TRIAL"}
"""Set for a trial by the sweeper (``hydra.job.env_set``) so the run names its suggestion."""
WARNINGS_PER_KIND = 3
RUN_RECORD = "sigopt_run.json"
"""In the run directory: the SigOpt run's id and suggestion, for a later start of the same trial."""
ATTEMPT_SEPARATOR = ".attempt"
"""The sweeper starts a trial again in ``N.attemptK`` (hydra_plugins/sigopt_sweeper/_sweep.py)."""
NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]")


class SigOptLogger(Logger):
    def __init__(
        self,
        name: str | None = None,
        save_dir: str | None = None,
        project: str = "lightning-distill",
        checkpoint_every_n_steps: int = 50,
        max_checkpoints: int = SERVER_CHECKPOINT_LIMIT,
        token_env: str = "SIGOPT_API_TOKEN",
        api_url_env: str = "SIGOPT_API_URL",
    ) -> None:
        super().__init__()
        require_integer("logger.sigopt.checkpoint_every_n_steps", checkpoint_every_n_steps, minimum=1)
        require_integer("logger.sigopt.max_checkpoints", max_checkpoints, minimum=1, maximum=SERVER_CHECKPOINT_LIMIT)
        if not project or not isinstance(project, str):
            raise ConfigError(f"logger.sigopt.project={project!r} must name a SigOpt project (created if missing).")
        token = require_token(token_env, api_url_env)
        from sigopt import Connection

        self._connection = Connection(client_token=token)
        self._api_url = os.environ.get(api_url_env, "").strip() or None
        if self._api_url:
            self._connection.set_api_url(self._api_url)
        self._name = name
        self._save_dir = Path(save_dir) if save_dir else None
        self._project = project
        self._every = checkpoint_every_n_steps
        self._max_checkpoints = max_checkpoints
        self._run_id: str | None = None
        self._checkpoints = 0
        self._last_thinned_step: int | None = None
        self._final: dict[str, float] = {}
        self._warned: dict[str, int] = {}
        self._unavailable = False

    # -- Lightning's Logger interface ----------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name or "lightning-distill"

    @property
    def version(self) -> str:
        return self._run_id or ""

    @property
    @rank_zero_experiment
    def experiment(self) -> str | None:
        """The SigOpt training run's id (created on first use; None if the server could not be reached)."""
        if self._run_id is None and not self._unavailable:
            created = self._request("create the SigOpt training run", self._create_run)
            if created is None:
                self._unavailable = True  # one failed create: the rest of the run logs nothing, quietly
            else:
                self._run_id = str(created.id)
                log.info("SigOpt training run %s (project %s)", self._run_id, self._project)
                self._record_and_close_superseded()
        return self._run_id

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        assignments = flat_assignments(vars(params) if isinstance(params, Namespace) else dict(params))
        if assignments and self.experiment:
            self._request("log the run's parameters", lambda: self._run().update(assignments=assignments))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        values = finite_values(metrics)
        evaluation = bool(EVALUATION_KEYS & set(metrics))
        if evaluation:
            self._final.update(values)
        elif step is not None and self._last_thinned_step is not None and step - self._last_thinned_step < self._every:
            return
        if not values or not self._room_for(evaluation):
            return
        if not evaluation:
            self._last_thinned_step = step
        if self.experiment:
            body = [{"name": name, "value": value} for name, value in values.items()]
            if self._request("log a checkpoint", lambda: self._run().checkpoints().create(values=body)) is not None:
                self._checkpoints += 1

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if not self.experiment:
            return
        update: dict[str, Any] = {"state": "completed" if status == "success" else "failed"}
        if self._final and status == "success":
            update["values"] = {name: {"value": value} for name, value in self._final.items()}
        self._request(f"mark the run {update['state']}", lambda: self._run().update(**update))

    # -- SigOpt requests -----------------------------------------------------------------------

    def _create_run(self) -> Any:
        client_id, _ = ensure_project(self._connection, self._project)
        metadata = {key: os.environ[variable] for key, variable in SWEEP_ENV.items() if os.environ.get(variable)}
        create = self._connection.clients(client_id).projects(self._project).training_runs().create
        return create(name=self.name, metadata=metadata or None)

    def _run(self) -> Any:
        return self._connection.training_runs(self._run_id)

    def _record_and_close_superseded(self) -> None:
        """Write ``sigopt_run.json`` in the run directory; close the runs of earlier starts of this trial.

        A sweep killed mid-trial leaves that trial's run ``active`` forever; the resumed trial starts in a
        fresh folder (``N.attemptK``) beside the earlier ones, so it finds their run records there and
        marks those runs failed (their curves stay on the server, as the failed attempts they were).
        """
        if self._save_dir is None:
            return
        suggestion = os.environ.get(SWEEP_ENV["suggestion"])
        record = {"run_id": self._run_id, "suggestion": suggestion, "project": self._project}
        self._save_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self._save_dir / RUN_RECORD, record)
        if not suggestion:
            return
        trial = self._save_dir.name.split(ATTEMPT_SEPARATOR)[0]
        for earlier in sorted(self._save_dir.parent.glob(f"{trial}*/{RUN_RECORD}")):
            if earlier.parent == self._save_dir or earlier.parent.name.split(ATTEMPT_SEPARATOR)[0] != trial:
                continue
            try:
                previous = json.loads(earlier.read_text())
            except (OSError, ValueError):
                continue
            if previous.get("suggestion") == suggestion and previous.get("run_id") not in (None, self._run_id):
                stale = self._connection.training_runs(previous["run_id"])
                if self._request("close an earlier attempt's run", lambda run=stale: run.update(state="failed")) is not None:
                    log.info("SigOpt run %s of an earlier start of this trial marked failed", previous["run_id"])

    def _room_for(self, evaluation: bool) -> bool:
        """Evaluations may use every checkpoint; thinned training points leave a tenth for them."""
        limit = self._max_checkpoints if evaluation else self._max_checkpoints - max(1, self._max_checkpoints // 10)
        if self._checkpoints < limit:
            return True
        self._warn("checkpoint limit", f"the run reached {self._checkpoints} checkpoints; later ones are not logged")
        return False

    def _request(self, action: str, call: Callable[[], T]) -> T | None:
        """Run one SigOpt request; a failure is a warning, never the run's failure."""
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - logging must never fail a trial
            self._warn(action, f"could not {action} ({type(error).__name__}: {first_line(error)}); training goes on")
            return None

    def _warn(self, kind: str, message: str) -> None:
        count = self._warned.get(kind, 0) + 1
        self._warned[kind] = count
        if count <= WARNINGS_PER_KIND:
            suffix = " (further warnings of this kind are not shown)" if count == WARNINGS_PER_KIND else ""
            log.warning("logger=sigopt: %s%s", message, suffix)


def require_token(token_env: str = "SIGOPT_API_TOKEN", api_url_env: str = "SIGOPT_API_URL") -> str:
    """The SigOpt token from ``$token_env``; a ConfigError saying how to set it when it is missing (also
    checked before a search's first trial, so a search does not fail every trial on it)."""
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise ConfigError(
            f"logger=sigopt needs a SigOpt API token in ${token_env} (and ${api_url_env} for your own "
            "sigopt-server, e.g. http://127.0.0.1:5000); the token is read from the environment only. "
            "Set it, or drop logger=sigopt (e.g. logger=csv)."
        )
    return token


def flat_assignments(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"student.n_layers": 3, ...}: the numbers, strings and booleans a run's assignments hold."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_assignments(value, f"{name}."))
        elif isinstance(value, bool):
            flat[name] = str(value).lower()
        elif isinstance(value, (int, float)) and math.isfinite(value) or isinstance(value, str) and value:
            flat[name] = value
    return flat


def finite_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Finite numeric metrics under names SigOpt accepts ("train/loss" -> "train_loss")."""
    values = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            values[NAME_CHARACTERS.sub("_", str(name))] = number
    return values
