"""Lightning loggers of this project: ``sigopt_logger`` (a run as a SigOpt training run)."""
