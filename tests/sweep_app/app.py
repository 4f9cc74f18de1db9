"""A stand-in task for sweeper tests: sleeps, then returns metrics computed from its overrides.

Trials of the real pipeline take seconds to hours; the sweeper's own behaviour (asynchrony,
resume, failure reporting, the api driver) is tested with this task so the tests are fast and
the trial durations are exactly what the test asks for.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, float] | None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    with open(output_dir / "runs.log", "a", encoding="utf-8") as log:  # how often this trial ran
        log.write(f"{os.getpid()} {time.time()}\n")
    job = HydraConfig.get().job.num
    first_attempt = ".attempt" not in output_dir.name  # the sweeper starts a trial again in N.attemptK
    if os.environ.get("SWEEP_APP_BROKEN_WORKER") or (job in cfg.exit_jobs and first_attempt):
        os._exit(3)  # the worker process dies mid-trial: every time on a broken worker, else on the first attempt
    if job in cfg.stopped_child_jobs:  # a DataLoader worker that hangs: stopped, it never ends on SIGTERM
        import multiprocessing
        import signal

        child = multiprocessing.get_context("fork").Process(target=os.kill, args=(0, 0))
        child.run = lambda: os.kill(os.getpid(), signal.SIGSTOP)  # type: ignore[method-assign]
        child.start()
    hung = job in cfg.hang_jobs or job in cfg.stopped_child_jobs
    time.sleep(float(cfg.duration) if not hung else 3600.0)
    if os.environ.get("SWEEP_APP_DISK_FULL") or (job in cfg.disk_jobs and first_attempt):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(output_dir / "model.safetensors"))
    if cfg.fail == "oom" or job in cfg.oom_jobs:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
    if cfg.fail == "no_metrics":
        return {"accuracy": 1.0}
    size = float(cfg.width) * 1000
    exact = 100.0 * float(cfg.quality) - 10.0 * float(cfg.width) / 8
    metrics = {"exact": exact, "num_params": size, "f1": exact + 1.0, "inference_time": float(cfg.duration)}
    (output_dir / "metrics.json").write_text(json.dumps(metrics))
    (output_dir / "student").mkdir(exist_ok=True)
    if os.environ.get("SWEEP_APP_OTHER_DISK"):  # as if a worker on another machine wrote it: gone from this one
        import shutil

        shutil.move(str(output_dir), os.path.join(os.environ["SWEEP_APP_OTHER_DISK"], output_dir.name))
    return metrics


if __name__ == "__main__":
    main()
