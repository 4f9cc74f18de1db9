"""One quick check that the Hugging Face hub answers, before anything downloads from it.

Without it an offline machine spends about a minute in transformers' and huggingface_hub's
retries (per file, per library) before the first clear error. When the config names hub ids
(a tokenizer, teacher, student seed or dataset that is not a local path) and the hub is not
switched off (``HF_HUB_OFFLINE``), one TCP connection to the hub's endpoint (``HF_ENDPOINT``) is
tried with a short timeout; if it fails, the run stops at once naming the keys, the offline
presets and ``HF_HUB_OFFLINE=1`` (which makes the libraries use their local cache only).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from omegaconf import DictConfig, OmegaConf

from lightning_distill.errors import ConfigError

PROBE_TIMEOUT_S = 5.0
HUB_KEYS = ("tokenizer.name_or_path", "teacher.name_or_path", "student.seed_from", "student.name_or_path",
            "data.hub_dataset")  # fmt: skip
"""Config keys whose value may be a hub id (a model or dataset repository) rather than a local path."""
TRUE_VALUES = {"1", "true", "yes", "on"}


def hub_ids(cfg: DictConfig) -> dict[str, str]:
    """The configured values that would be downloaded from the hub: strings that are no local path."""
    found = {}
    for key in HUB_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        if isinstance(value, str) and value.strip() and not os.path.exists(os.path.expanduser(value)):
            found[key] = value
    return found


def hub_offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in TRUE_VALUES for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_hub_reachable(cfg: DictConfig) -> None:
    """Fail in seconds, not after a minute of retries, when the config needs a hub that does not answer."""
    if hub_offline():
        return
    needed = hub_ids(cfg)
    if not needed:
        return
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=PROBE_TIMEOUT_S):
            return
    except OSError as error:
        listed = ", ".join(f"{key}={value!r}" for key, value in needed.items())
        raise ConfigError(
            f"The Hugging Face hub ({constants.ENDPOINT}) is unreachable from here ({error.strerror or error}), "
            f"and the config downloads from it: {listed}. Offline, run a preset that uses local files "
            "(experiment=smoke, or experiment=offline with the shared SQuAD files and teacher), point those keys "
            "at local directories, or set HF_HUB_OFFLINE=1 to use only what the Hugging Face cache already holds."
        ) from None
