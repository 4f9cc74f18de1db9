"""Hydra sweep overrides -> SigOpt parameters, and SigOpt assignments -> Hydra overrides.

The space is written once in Hydra's override grammar (``interval``, ``int(interval)``,
``tag(log, interval)``, ``choice``, ``range``), the grammar the Optuna and Nevergrad sweepers
read, so the same ``hydra.sweeper.params`` runs under any of them. Whatever SigOpt cannot
express is refused here, before an experiment exists, with the key that needs changing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from hydra.errors import HydraException

from hydra_plugins.sigopt_sweeper._settings import SweepConfigError

NUMERIC_TYPES = (int, float)


@dataclass(frozen=True)
class Parameter:
    """One searched Hydra key in SigOpt's vocabulary (double / int / categorical)."""

    name: str
    type: str
    bounds: tuple[float, float] | None = None
    log: bool = False
    grid: tuple[float, ...] | None = None
    categorical_values: tuple[str, ...] | None = None

    def to_sigopt(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.bounds is not None:
            spec["bounds"] = {"min": self.bounds[0], "max": self.bounds[1]}
        if self.grid is not None:
            spec["grid"] = list(self.grid)
        if self.categorical_values is not None:
            spec["categorical_values"] = list(self.categorical_values)
        if self.log:
            spec["transformation"] = "log"
        return spec

    def override_value(self, value: Any) -> str:
        """Text Hydra parses back to the suggested value (ints stay ints, floats keep full precision)."""
        if self.type == "int":
            return str(int(value))
        if self.type == "double":
            return repr(float(value))
        return str(value)


@dataclass(frozen=True)
class SearchSpace:
    parameters: tuple[Parameter, ...]
    fixed: tuple[tuple[str, str], ...]
    """Non-sweep overrides (``key=value``) applied to every trial, in the order given."""

    def to_sigopt(self) -> list[dict[str, Any]]:
        return [parameter.to_sigopt() for parameter in self.parameters]

    def overrides(self, assignments: Mapping[str, Any]) -> list[str]:
        """The override list of one trial: fixed overrides, then the suggested values."""
        missing = [parameter.name for parameter in self.parameters if parameter.name not in assignments]
        if missing:
            raise SweepConfigError(f"suggestion is missing assignments for {missing}")
        searched = [f"{p.name}={p.override_value(assignments[p.name])}" for p in self.parameters]
        return [f"{key}={value}" for key, value in self.fixed] + searched

    def sample(self) -> dict[str, Any]:
        """One valid assignment (each parameter's first value), to check that trial configs compose."""
        return {
            p.name: p.bounds[0] if p.bounds else (p.grid or p.categorical_values)[0]  # type: ignore[index]
            for p in self.parameters
        }


def parse_search_space(params: Mapping[str, Any] | None, arguments: Iterable[str] = ()) -> SearchSpace:
    """``hydra.sweeper.params`` plus command-line overrides (the latter win on the same key)."""
    texts: dict[str, tuple[str, str]] = {}
    for key, value in (params or {}).items():
        texts[str(key)] = (f"{key}={value}", f"hydra.sweeper.params.{key}")
    for argument in arguments:
        key = argument.split("=", 1)[0].lstrip("+~")
        texts[key] = (argument, f"command-line override {argument!r}")
    parser = OverridesParser.create()
    parameters: list[Parameter] = []
    fixed: list[tuple[str, str]] = []
    for key, (text, where) in texts.items():
        try:
            override = parser.parse_override(text)
        except HydraException as error:
            raise SweepConfigError(f"{where}: cannot parse {text!r}: {error}") from None
        if override.is_sweep_override():
            parameters.append(_parameter(override, where))
        else:
            fixed.append((override.get_key_element(), override.get_value_element_as_str()))
    if not parameters:
        raise SweepConfigError(
            "the search space is empty: set hydra.sweeper.params (e.g. `student.n_layers: int(interval(1, 20))`) "
            "or pass sweep overrides on the command line."
        )
    return SearchSpace(tuple(parameters), tuple(fixed))


def _parameter(override: Override, where: str) -> Parameter:
    name = override.get_key_element()
    value = override.value()
    if isinstance(value, IntervalSweep):
        return _interval(name, value, where)
    if isinstance(value, RangeSweep):
        return _grid_or_categorical(name, list(override.sweep_iterator(transformer=Transformer.encode)), where)
    if isinstance(value, ChoiceSweep):
        return _grid_or_categorical(name, list(override.sweep_iterator(transformer=Transformer.encode)), where)
    raise SweepConfigError(
        f"{where}: {type(value).__name__} sweeps are not numeric ranges or choices; SigOpt takes "
        "interval(...), int(interval(...)), tag(log, interval(...)), choice(...) or range(...)."
    )


def _interval(name: str, value: IntervalSweep, where: str) -> Parameter:
    low, high = value.start, value.end
    if not all(isinstance(bound, NUMERIC_TYPES) and math.isfinite(bound) for bound in (low, high)):
        raise SweepConfigError(f"{where}: interval bounds must be finite numbers, got ({low}, {high}).")
    if low >= high:
        raise SweepConfigError(f"{where}: interval min {low} must be < max {high}.")
    is_int = isinstance(low, int) and isinstance(high, int)
    is_log = "log" in value.tags
    unknown_tags = set(value.tags) - {"log"}
    if unknown_tags:
        raise SweepConfigError(f"{where}: unknown tag(s) {sorted(unknown_tags)}; only `log` has a SigOpt meaning.")
    if is_log and low <= 0:
        raise SweepConfigError(f"{where}: a log-scaled interval needs min > 0, got {low}.")
    if is_log and is_int:
        raise SweepConfigError(
            f"{where}: SigOpt applies log transformation to doubles only; use tag(log, interval({low}, {high})) "
            f"or int(interval({low}, {high})) without the log tag."
        )
    return Parameter(name=name, type="int" if is_int else "double", bounds=(low, high), log=is_log)


def _grid_or_categorical(name: str, encoded: list[Any], where: str) -> Parameter:
    if len(encoded) < 2:
        raise SweepConfigError(f"{where}: a choice needs at least two values, got {encoded}.")
    if len(set(encoded)) != len(encoded):
        raise SweepConfigError(f"{where}: choice values must be unique, got {encoded}.")
    numbers = [_number(text) for text in encoded]
    if all(number is not None for number in numbers):
        is_int = all(isinstance(number, int) for number in numbers)
        return Parameter(name=name, type="int" if is_int else "double", grid=tuple(numbers))
    return Parameter(name=name, type="categorical", categorical_values=tuple(str(value) for value in encoded))


def _number(text: Any) -> int | float | None:
    """Numeric choices become a SigOpt grid (ordered); anything else is categorical."""
    if isinstance(text, bool):
        return None
    if isinstance(text, NUMERIC_TYPES):
        return text
    if str(text).lower() in ("true", "false", "null", "nan", "inf", "-inf"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return None
