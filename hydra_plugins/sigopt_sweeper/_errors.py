"""Errors a user fixes in config or environment: raised before any trial runs, never mid-sweep."""


class SweepConfigError(ValueError):
    """The sweeper config (search space, metrics, budget, driver settings) cannot be run as given."""


class SigOptAccessError(RuntimeError):
    """The SigOpt service refused us (bad/expired token, wrong API URL, unknown experiment)."""


class ClusterLostError(RuntimeError):
    """The trial infrastructure itself is gone (e.g. the local Ray raylet died): stop, resume later.

    Recording every remaining trial as failed would spend the budget and teach the optimizer that
    good configurations are infeasible; the in-flight trials stay pending in the journal instead.
    """
