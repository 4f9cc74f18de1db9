"""``hydra.utils.instantiate`` with this project's errors: a ``_target_``'s own error reaches the user as itself, and an
unknown config key is named with the keys the target takes (the closest one suggested).

Every floor that builds objects from config uses it (the run, the re-score CLI, benchmarks), so it sits with the
other config checks.
"""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig

from lightning_distill.errors import ConfigError, LightningDistillError


def instantiate(config: Any, key: str | None = None, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that lets our own errors through unwrapped.

    Hydra wraps every exception raised by a ``_target_`` in an InstantiationException whose text
    is a repr plus a stack; a user-fixable error must reach the user as its own clear message. A key
    the target does not take (``+student.n_layer=4``, Hydra's own hint for a key that is not in the
    config) becomes one line naming ``key.<name>``, what the target takes and the nearest spelling.
    """
    try:
        return hydra_instantiate(config, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, LightningDistillError):
            raise error.__cause__ from None
        unknown = _unexpected_keyword(error.__cause__)
        if unknown is not None and isinstance(config, DictConfig) and "_target_" in config:
            raise _unknown_key_error(config, key, unknown) from None
        raise


def _unexpected_keyword(error: BaseException | None) -> str | None:
    match = re.search(r"unexpected keyword argument '(\w+)'", str(error)) if isinstance(error, TypeError) else None
    return match.group(1) if match else None


def _unknown_key_error(config: DictConfig, key: str | None, unknown: str) -> ConfigError:
    from hydra.utils import get_method

    where = key or config._get_full_key(None) or "the config"
    target = str(config._target_)
    try:
        taken = [name for name in inspect.signature(get_method(target)).parameters if name not in ("self", "kwargs")]
    except (ImportError, ValueError, TypeError):
        taken = [name for name in config if name != "_target_"]
    near = difflib.get_close_matches(unknown, taken, n=1)
    hint = f" Did you mean {where}.{near[0]}?" if near else ""
    return ConfigError(f"{where}.{unknown}: {target} takes no {unknown!r} (it takes {', '.join(taken)}).{hint}")


def instantiate_group(cfg: DictConfig | None, key: str) -> list[Any]:
    if not cfg:
        return []
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{key} must be a mapping of name -> {{_target_: ...}}, got {cfg!r}.")
    return [instantiate(entry) for entry in cfg.values() if entry is not None and "_target_" in entry]
