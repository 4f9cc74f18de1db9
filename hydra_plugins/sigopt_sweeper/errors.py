"""Errors a user fixes in config or environment: raised before any trial runs, never mid-sweep."""


class SweepConfigError(ValueError):
    """The sweeper config (search space, metrics, budget, driver settings) cannot be run as given."""


class SigOptAccessError(RuntimeError):
    """The SigOpt service refused us (bad/expired token, wrong API URL, unknown experiment)."""
