"""The check's settings: ``benchmarks/conf/gpu_check.yaml`` and the chosen profile, with resolved paths."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = REPO_ROOT / "benchmarks" / "conf" / "gpu_check.yaml"
PROFILES = ("device", "dry_run")
SQUAD_DIR_ENV = "LIGHTNING_DISTILL_SQUAD_DIR"


@dataclass(frozen=True)
class Settings:
    config: dict[str, Any]
    profile_name: str
    out_dir: Path
    scratch: Path
    deadline: float | None = None
    """``time.monotonic()`` past which no command may run (``deadline_s`` of the profile, from the start)."""

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    @property
    def profile(self) -> dict[str, Any]:
        return self.config["profiles"][self.profile_name]

    @property
    def dry_run(self) -> bool:
        return self.profile_name == "dry_run"

    def path(self, key: str) -> Path:
        """A path setting (``work_dir``, ``wheel_dir``, ...) resolved against the repository root."""
        return (REPO_ROOT / self.config[key]).resolve()

    @property
    def shared_squad_dir(self) -> Path:
        """The shared SQuAD files to copy from: ``$LIGHTNING_DISTILL_SQUAD_DIR`` as everywhere else, else shared_dir's."""
        configured = REPO_ROOT / self.config["shared_dir"] / "data" / "squad_v2"
        return Path(os.environ.get(SQUAD_DIR_ENV) or configured).resolve()

    @property
    def squad_dir(self) -> Path:
        return self.path("work_dir") / "squad_v2"

    @property
    def tokenizer_dir(self) -> Path:
        return self.path("work_dir") / "tokenizer"

    @property
    def site_dir(self) -> Path:
        """Where the carried wheels are installed (``--target``): nothing the image holds is replaced."""
        return self.scratch / "site"


def load_config(path: Path = CONFIG_FILE) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text())
    missing = [name for name in PROFILES if name not in config.get("profiles", {})]
    if missing:
        raise SystemExit(f"{path}: profiles.{missing[0]} is missing; every profile of {PROFILES} must be set")
    return config


def make_settings(
    profile_name: str, out_dir: Path, config: dict[str, Any] | None = None, work_dir: Path | None = None
) -> Settings:
    """``work_dir`` replaces the configured one (tests keep their copies out of the checkout)."""
    config = dict(config or load_config())
    if work_dir is not None:
        config["work_dir"] = str(work_dir.resolve())
    profile = config["profiles"][profile_name]
    # A fresh folder per run, also under a configured parent: a rerun on the same warm machine must not
    # find the last run's sweep journal or memory-probe events.
    parent = Path(profile["scratch"]) if profile.get("scratch") else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    scratch_dir = Path(tempfile.mkdtemp(prefix="gpu-check-", dir=parent))
    out_dir.mkdir(parents=True, exist_ok=True)
    deadline_s = profile.get("deadline_s")
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    return Settings(config, profile_name, out_dir.resolve(), scratch_dir.resolve(), deadline)


def step_env(settings: Settings) -> dict[str, str]:
    """The environment of every step's subprocess: the carried packages and the checkout first on the
    path, the copied data, scratch caches and outputs, no hub, and no SigOpt token (the lite driver)."""
    paths = ([str(settings.site_dir)] if settings.profile.get("install") else []) + [str(REPO_ROOT)]
    inherited = os.environ.get("PYTHONPATH")
    env = {key: value for key, value in os.environ.items() if key != "SIGOPT_API_TOKEN"}
    env.update(
        PYTHONPATH=os.pathsep.join(paths + ([inherited] if inherited else [])),
        PYTHONUNBUFFERED="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        **{SQUAD_DIR_ENV: str(settings.squad_dir)},
        LIGHTNING_DISTILL_CACHE=str(settings.scratch / "cache"),
        LIGHTNING_DISTILL_OUTPUTS=str(settings.scratch / "outputs"),
    )
    return env
