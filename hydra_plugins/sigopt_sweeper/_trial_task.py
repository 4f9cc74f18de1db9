"""The task function as the sweeper launches it: the user's task plus when it ran.

Timing is taken inside the job so that queueing in a launcher or on a Ray cluster is not counted
as trial time; the sweeper's own view (submit -> result) gives the overhead around it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig


@dataclass
class TimedValue:
    value: Any
    started_at: float
    finished_at: float


class TimedTask:
    def __init__(self, task_function: Any) -> None:
        self.task_function = task_function

    def __call__(self, cfg: DictConfig) -> TimedValue:
        started_at = time.time()
        value = self.task_function(cfg)
        return TimedValue(value, started_at, time.time())
