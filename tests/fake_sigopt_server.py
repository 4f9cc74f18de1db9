"""A local stand-in for the SigOpt REST API (the subset the api driver uses), for offline tests.

Speaks the shapes of api.sigopt.com/v1 that the official ``sigopt`` client sends and parses:
HTTP basic auth with the token as user name; experiments create/fetch; suggestions create
(random points inside the bounds); observations create (values or ``failed``) and list; best
assignments. It records what it was asked so tests can check what the sweeper sent.
"""

from __future__ import annotations

import base64
import json
import math
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self

CLIENT_ID = "1"
MAX_CHECKPOINTS = 200


class FakeSigOpt:
    def __init__(self, token: str) -> None:
        self.token = token
        self.experiments: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.training_runs: dict[str, dict[str, Any]] = {}
        """Runs of logger=sigopt: as the real server, in an existing project, at most 200 checkpoints each."""
        """As the real server: an experiment may name only a project that exists (client 1's)."""
        self.open_suggestions: dict[str, dict[str, Any]] = {}
        self.observations: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.max_open = 0
        self.faults: list[tuple[str, str, str]] = []
        """Planned faults, consumed in order: (method, resource, action); action "503" answers 503 without
        acting, "drop" acts and then closes the connection without an answer (the reply is lost)."""
        self.random = random.Random(0)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, action: str, times: int = 1, *, method: str = "POST", resource: str = "observations") -> None:
        self.faults.extend([(method, resource, action)] * times)

    def _fault(self, method: str, path: list[str]) -> str | None:
        with self.lock:
            resource = path[3] if len(path) > 3 else None
            if self.faults and self.faults[0][:2] == (method, resource):
                return self.faults.pop(0)[2]
        return None

    # -- REST ----------------------------------------------------------------------------------

    def handle(self, method: str, path: list[str], body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append((method, "/".join(path)))
            if path[:3] == ["v1", "tokens", "self"] and method == "GET":
                return 200, {"object": "token", "client": CLIENT_ID, "token_type": "client-api"}
            if path[:2] == ["v1", "clients"] and path[3:4] == ["projects"] and len(path) == 4:
                return self._projects(method, path[2], body or {})
            if path[:2] == ["v1", "clients"] and path[3:4] == ["projects"] and path[5:6] == ["training_runs"]:
                return self._create_run(method, path[4], body or {})
            if path[:2] == ["v1", "training_runs"] and len(path) >= 3:
                return self._training_run(method, path[2], path[3:], body or {})
            if path[:2] == ["v1", "experiments"] and len(path) == 2 and method == "POST":
                return self._create_experiment(body or {})
            if path[:2] != ["v1", "experiments"] or len(path) < 3:
                return 404, {"message": f"no route {method} /{'/'.join(path)}"}
            experiment = self.experiments.get(path[2])
            if experiment is None:
                return 404, {"message": f"experiment {path[2]} not found"}
            resource = path[3] if len(path) > 3 else None
            if resource is None and method == "GET":
                return 200, experiment
            if resource == "suggestions" and method == "POST":
                return 200, self._suggest(experiment)
            if resource == "observations" and method == "POST":
                return self._observe(experiment, body or {})
            if resource == "suggestions" and method == "GET":
                return 200, _page([s for s in self.open_suggestions.values() if s["experiment"] == experiment["id"]])
            if resource == "suggestions" and method == "DELETE" and len(path) > 4:
                self.open_suggestions.pop(path[4], None)
                return 204, {}
            if resource == "observations" and method == "GET":
                return 200, _page([o for o in self.observations if o["experiment"] == experiment["id"]])
            if resource == "best_assignments" and method == "GET":
                return 200, _page([])
            return 404, {"message": f"no route {method} /{'/'.join(path)}"}

    def _projects(self, method: str, client: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if client != CLIENT_ID:
            return 404, {"message": f"client {client} not found"}
        if method == "GET":
            return 200, _page(list(self.projects.values()))
        if method != "POST" or not body.get("id"):
            return 400, {"message": "a project needs an id"}
        if body["id"] in self.projects:
            return 409, {"message": f"project {body['id']} already exists"}
        project = {"object": "project", "id": body["id"], "name": body.get("name", body["id"]), "client": CLIENT_ID}
        self.projects[body["id"]] = project
        return 200, project

    def _create_run(self, method: str, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method != "POST":
            return 405, {"message": f"{method} not allowed"}
        if project not in self.projects:
            return 404, {"message": f"project {project} not found"}
        run_id = str(len(self.training_runs) + 1)
        run = {"object": "training_run", "id": run_id, "project": project, "name": body.get("name"),
               "metadata": body.get("metadata"), "state": "active", "assignments": {}, "values": {}, "checkpoints": []}  # fmt: skip
        self.training_runs[run_id] = run
        return 200, run

    def _training_run(self, method: str, run_id: str, rest: list[str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self.training_runs.get(run_id)
        if run is None:
            return 404, {"message": f"training run {run_id} not found"}
        if rest == ["checkpoints"] and method == "POST":
            if len(run["checkpoints"]) >= MAX_CHECKPOINTS:
                return 403, {"message": f"Training run {run_id} cannot exceed {MAX_CHECKPOINTS} checkpoints."}
            checkpoint = {"object": "checkpoint", "id": str(len(run["checkpoints"]) + 1), "values": body.get("values", [])}
            run["checkpoints"].append(checkpoint)
            return 200, checkpoint
        if not rest and method == "PUT":
            for key in ("assignments", "values", "state", "metadata", "name"):
                if key in body:
                    run[key] = body[key]
            return 200, run
        if not rest and method == "GET":
            return 200, run
        return 404, {"message": f"no route {method} /v1/training_runs/{run_id}/{'/'.join(rest)}"}

    def _create_experiment(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not body.get("parameters") or not body.get("metrics"):
            return 400, {"message": "parameters and metrics are required"}
        if body.get("project") is not None and body["project"] not in self.projects:
            return 400, {"message": f"Could not assign to project `{body['project']}`, the project does not exist."}
        experiment_id = str(len(self.experiments) + 1)
        experiment = {
            **body,
            "id": experiment_id,
            "object": "experiment",
            "state": "active",
            "parameters": [{**p, "object": "parameter"} for p in body["parameters"]],
            "metrics": [{**m, "object": "metric"} for m in body["metrics"]],
        }
        self.experiments[experiment_id] = experiment
        return 200, experiment

    def _suggest(self, experiment: dict[str, Any]) -> dict[str, Any]:
        assignments = {p["name"]: self._sample(p) for p in experiment["parameters"]}
        suggestion_id = str(1000 + len(self.open_suggestions) + len(self.observations))
        suggestion = {
            "object": "suggestion",
            "id": suggestion_id,
            "assignments": assignments,
            "state": "open",
            "experiment": experiment["id"],
        }
        self.open_suggestions[suggestion_id] = suggestion
        self.max_open = max(
            self.max_open, sum(s["experiment"] == experiment["id"] for s in self.open_suggestions.values())
        )
        return suggestion

    def _sample(self, parameter: dict[str, Any]) -> Any:
        if parameter["type"] == "categorical":
            return self.random.choice(parameter["categorical_values"])
        if "grid" in parameter:
            return self.random.choice(parameter["grid"])
        low, high = parameter["bounds"]["min"], parameter["bounds"]["max"]
        if parameter["type"] == "int":
            return self.random.randint(int(low), int(high))
        if parameter.get("transformation") == "log":
            return math.exp(self.random.uniform(math.log(low), math.log(high)))
        return self.random.uniform(low, high)

    def _observe(self, experiment: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("suggestion") is None and isinstance(body.get("assignments"), dict):  # an observation of given
            names = sorted(p["name"] for p in experiment["parameters"])  # assignments, as SigOpt accepts them
            if sorted(body["assignments"]) != names:
                return 400, {"message": f"assignments must name every parameter {names}"}
            suggestion = {"id": None, "assignments": body["assignments"]}
        else:
            suggestion = self.open_suggestions.pop(str(body.get("suggestion")), None)
        if suggestion is None:
            return 400, {"message": f"suggestion {body.get('suggestion')} is not open"}
        names = sorted(m["name"] for m in experiment["metrics"])
        if not body.get("failed") and sorted(v["name"] for v in body.get("values", [])) != names:
            if suggestion["id"] is not None:
                self.open_suggestions[suggestion["id"]] = suggestion
            return 400, {"message": f"values must name every metric {names}"}
        observation = {
            "object": "observation",
            "id": str(len(self.observations) + 1),
            "experiment": experiment["id"],
            "suggestion": suggestion["id"],
            "assignments": suggestion["assignments"],
            "failed": bool(body.get("failed")),
            "values": body.get("values", []),
            "metadata": body.get("metadata"),
        }
        self.observations.append(observation)
        return 200, observation


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "pagination", "data": items, "count": len(items), "paging": {"before": None, "after": None}}


def _handler(api: FakeSigOpt) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

        def _serve(self, method: str) -> None:
            header = self.headers.get("Authorization", "")
            expected = "Basic " + base64.b64encode(f"{api.token}:".encode()).decode()
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path = self.path.split("?")[0].strip("/").split("/")
            fault = api._fault(method, path)
            if fault == "503":
                status, payload = 503, {"message": "Service Unavailable (planned)"}
            elif header != expected:
                status, payload = 401, {"message": "Invalid API token"}
            else:
                status, payload = api.handle(method, path, body)
            if fault == "drop":
                self.close_connection = True
                return
            if status == 204:
                self.send_response(204)
                self.end_headers()
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PUT(self) -> None:
            self._serve("PUT")

    return Handler
