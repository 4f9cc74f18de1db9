"""SigOpt projects: the one place that makes sure a named project exists.

A SigOpt server assigns experiments and training runs only to an existing project (the real server
answers 400 "the project does not exist"); the official client's run factory creates it on first use,
and so do the sweeper's api driver and an application's training-run logger (``api.ensure_project``).
"""

from __future__ import annotations

from typing import Any

HTTP_CONFLICT = 409


def ensure_project(connection: Any, project: str) -> tuple[str, bool]:
    """The token's client id, and whether ``project`` was created now (False: it already existed)."""
    from sigopt.exception import ApiException

    client_id = str(connection.tokens("self").fetch().client)
    try:
        connection.clients(client_id).projects().create(id=project, name=project)
    except ApiException as error:
        if error.status_code != HTTP_CONFLICT:
            raise
        return client_id, False
    return client_id, True
