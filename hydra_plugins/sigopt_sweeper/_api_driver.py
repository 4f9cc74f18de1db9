"""The SigOpt service through the official ``sigopt`` client.

SigOpt itself serves ``parallel_bandwidth`` open suggestions at once, so no liar is needed. The
token comes from the environment only; it is handed to the client and never stored, logged or
written to any config. Access problems (bad or expired token, wrong URL, unknown experiment)
surface in ``start``, before any trial runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec, Suggestion, is_refusal, sigopt_values
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._trial import Observation

log = logging.getLogger(__name__)

T = TypeVar("T")
UNAUTHORIZED = (401, 403)
NOT_FOUND = 404
RUN_ID_METRIC = "sigopt_run_id"
"""Where a trial's returned metrics name its SigOpt training run (``logger=sigopt``)."""
WARM_START_KEY = "warm_start"
"""Metadata key of a warm-start observation on SigOpt: its index in the journaled warm-start list."""


class SigOptAccessError(RuntimeError):
    """The SigOpt service refused us (bad/expired token, wrong API URL, unknown experiment)."""


class ApiDriver:
    name = "api"
    prefetch = False
    """An extra open suggestion would exceed the experiment's parallel bandwidth."""

    def __init__(
        self,
        spec: ExperimentSpec,
        token: str,
        *,
        token_env: str,
        api_url: str | None,
        project: str | None,
        retries: int = 5,
        backoff_s: float = 1.0,
    ) -> None:
        """``retries``/``backoff_s``: of requests answered with a 5xx or not at all (first wait, doubled each time)."""
        from sigopt import Connection

        self.spec = spec
        self.retries = retries
        self.backoff_s = backoff_s
        self.token_env = token_env
        self.project = project
        self.connection = Connection(client_token=token)
        if api_url:
            self.connection.set_api_url(api_url)
        self.api_url = api_url or "the default SigOpt API URL"
        self.experiment_id: str | None = None
        self._attaching = False
        self._lock = threading.Lock()

    def start(self, experiment_id: str | None) -> str:
        self._attaching = bool(experiment_id)
        with self._access("attach to" if experiment_id else "create"):
            if experiment_id:
                experiment = self.connection.experiments(experiment_id).fetch()
                self._check_same_parameters(experiment)
            else:
                definition = self.spec.to_sigopt()
                if self.project:
                    self._ensure_project()
                    definition["project"] = self.project
                experiment = self.connection.experiments().create(**definition)
        self.experiment_id = str(experiment.id)
        log.info("SigOpt experiment %s (%s)", self.experiment_id, self.api_url)
        return self.experiment_id

    def _ensure_project(self) -> None:
        """SigOpt assigns an experiment only to an existing project: create ``project`` unless it exists."""
        from hydra_plugins.sigopt_sweeper._projects import ensure_project

        if ensure_project(self.connection, self.project)[1]:
            log.info("Created SigOpt project %s", self.project)

    def restore(
        self, observations: Sequence[Observation], reported: set[int], suggestion_ids: Sequence[str] = ()
    ) -> list[int]:
        """Report journaled observations SigOpt never acknowledged (a crash or outage between the two).

        Only a definite answer counts: SigOpt listing the observation, or accepting it now. One it
        still cannot take stays unreported (the sweep retries it). Open suggestions the journal does
        not know (a crash between creating one and journaling it) are deleted, so they neither
        hold parallel bandwidth nor wait forever; journaled open ones are reused by the re-run trials.
        """
        known = self._observed()
        self._close_unknown_suggestions(set(suggestion_ids))
        newly = []
        for observation in sorted(observations, key=lambda item: item.trial):
            if observation.trial in reported:
                continue
            if observation.suggestion_id not in known:
                try:
                    self.observe(observation)
                except Exception as error:  # noqa: BLE001 - stays unreported; the sweep retries it
                    log.warning("trial %d: re-reporting its observation failed (%s)", observation.trial, error)
                    continue
            newly.append(observation.trial)
        return newly

    def _close_unknown_suggestions(self, journaled: set[str]) -> None:
        suggestions = self._retrying(
            "list open suggestions", lambda: self._experiment().suggestions().fetch(state="open")
        )
        for suggestion in list(suggestions.iterate_pages()):
            if str(suggestion.id) not in journaled:
                log.info("deleting SigOpt suggestion %s: opened but never journaled (a crash)", suggestion.id)
                self._retrying(
                    "delete a suggestion", lambda s=suggestion: self._experiment().suggestions(s.id).delete()
                )

    def warm_start(self, observations: Sequence[Observation]) -> None:
        """Each earlier observation as an observation of the experiment with assignments and no suggestion,
        tagged ``metadata.warm_start`` = its index in the journaled list: a resume posts only the missing ones."""
        present = self._retrying("list observations", lambda: self._experiment().observations().fetch())
        posted = {
            (item.metadata or {}).get(WARM_START_KEY) for item in present.iterate_pages() if item.metadata is not None
        }
        for index, observation in enumerate(observations):
            if index in posted:
                continue
            body: dict[str, Any] = {"assignments": observation.assignments, "metadata": {WARM_START_KEY: index}}
            body.update({"failed": True} if observation.failed else {"values": sigopt_values(observation)})
            self._retrying("report a warm-start observation", lambda b=body: self._experiment().observations().create(**b))
        log.info("SigOpt experiment %s: %d warm-start observations present", self.experiment_id, len(observations))

    def suggest(self, pending: Sequence[dict[str, Any]]) -> Suggestion:
        suggestion = self._retrying("create a suggestion", lambda: self._experiment().suggestions().create())
        return Suggestion(id=str(suggestion.id), assignments=dict(suggestion.assignments))

    def observe(self, observation: Observation) -> str | None:
        """Report one observation; returns its SigOpt id. Raises when SigOpt gave no definite answer.

        A retried create may have reached SigOpt before its answer was lost: SigOpt then refuses the
        retry (the suggestion is closed), and the observation it already holds is the answer.
        """
        if observation.failed:
            body: dict[str, Any] = {"suggestion": observation.suggestion_id, "failed": True}
        else:
            body = {"suggestion": observation.suggestion_id, "values": sigopt_values(observation)}
        try:
            created = self._retrying("report an observation", lambda: self._experiment().observations().create(**body))
        except Exception as error:
            if not is_refusal(error):  # no definite answer
                raise
            known = self._observed().get(observation.suggestion_id)
            if known is None:
                raise
            self._close_run(observation)
            return known
        self._close_run(observation)
        return str(created.id)

    def _close_run(self, observation: Observation) -> None:
        """Close the trial's SigOpt training run if it is still active (``metrics.sigopt_run_id``, journaled with
        the observation): a trial that finished while the server was down could not close it itself, and the run
        would stay active forever. Done with every report, so a resume closes it too; a failure here only warns."""
        run_id = (observation.metrics or {}).get(RUN_ID_METRIC)
        if not run_id:
            return
        try:
            run = self.connection.training_runs(str(run_id))
            if self._retrying("fetch a training run", run.fetch).state != "active":
                return
            update: dict[str, Any] = {"state": "failed" if observation.failed else "completed"}
            if not observation.failed:
                update["values"] = {name: {"value": value} for name, value in observation.values.items()}
            self._retrying("close a training run", lambda: run.update(**update))
            log.info("trial %d: closed its SigOpt training run %s (%s)", observation.trial, run_id, update["state"])
        except Exception as error:  # noqa: BLE001 - the observation is reported; the run is bookkeeping
            log.warning("trial %d: could not close its SigOpt training run %s (%s)", observation.trial, run_id, error)

    def _observed(self) -> dict[str, str]:
        """SigOpt's observations of this experiment: suggestion id -> observation id."""
        observations = self._retrying("list observations", lambda: self._experiment().observations().fetch())
        return {str(item.suggestion): str(item.id) for item in observations.iterate_pages()}

    def _retrying(self, action: str, request: Callable[[], T]) -> T:
        """``request`` again after a 5xx answer or none (the client itself retries only 429)."""
        from sigopt.exception import ApiException, ConnectionException

        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                with self._lock:  # the sweep may prefetch a suggestion while it reports an observation
                    return request()
            except (ApiException, ConnectionException) as error:
                if is_refusal(error) or attempt == self.retries:
                    raise
                log.warning(
                    "SigOpt: could not %s (%s); retry %d/%d in %.1f s",
                    action,
                    f"HTTP {error.status_code}" if getattr(error, "status_code", None) is not None else "no answer",
                    attempt + 1,
                    self.retries,
                    delay,
                )
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _experiment(self) -> Any:
        if self.experiment_id is None:
            raise RuntimeError("ApiDriver.start() must run before suggestions")
        return self.connection.experiments(self.experiment_id)

    def _check_same_parameters(self, experiment: Any) -> None:
        theirs = sorted(parameter.name for parameter in experiment.parameters)
        ours = sorted(parameter.name for parameter in self.spec.space.parameters)
        if theirs != ours:
            raise SweepConfigError(
                f"SigOpt experiment {experiment.id} searches {theirs}, but hydra.sweeper.params defines {ours}; "
                "resume with the same search space or start a new experiment (hydra.sweeper.experiment_id=null)."
            )

    def check_server(self, timeout_s: float) -> None:
        """One cheap request (the token's own record) with a short timeout: the URL leads to a SigOpt API that
        answers and takes the token. Raises ``SigOptAccessError`` naming what to fix."""
        driver = self.connection.impl.driver
        default = driver.timeout
        self.connection.set_timeout(timeout_s)
        try:
            with self._access("check the token for"):
                self.connection.tokens("self").fetch()
        finally:
            self.connection.set_timeout(default)

    @contextmanager
    def _access(self, action: str) -> Iterator[None]:
        """Turns the client's HTTP errors into messages that say what to fix (never echoing the token)."""
        from sigopt.exception import ApiException, ConnectionException

        try:
            yield
        except ApiException as error:
            if error.status_code in UNAUTHORIZED:
                raise SigOptAccessError(
                    f"SigOpt refused the token in ${self.token_env} (HTTP {error.status_code}) when trying to {action} "
                    "the experiment: it is invalid or expired. Set a valid API token (SigOpt web app: API tokens), "
                    "or unset it to use the offline lite driver."
                ) from None
            if error.status_code == NOT_FOUND and self._attaching:
                raise SigOptAccessError(
                    f"SigOpt at {self.api_url} has no such experiment to {action} (HTTP 404): check "
                    "hydra.sweeper.experiment_id."
                ) from None
            if error.status_code == NOT_FOUND:  # creating or checking: the URL does not lead to a SigOpt API
                raise SigOptAccessError(
                    f"{self.api_url} answered HTTP 404 when asked to {action} the experiment: it is not a SigOpt API "
                    "root. Set "
                    "$SIGOPT_API_URL to the server's root URL (e.g. http://127.0.0.1:5000, without /v1), or unset it "
                    "for the default."
                ) from None
            raise SigOptAccessError(
                f"SigOpt could not {action} the experiment (HTTP {error.status_code}): {error}"
            ) from None
        except ConnectionException as error:
            raise SigOptAccessError(f"cannot reach SigOpt at {self.api_url}: {str(error).splitlines()[-1]}") from None
