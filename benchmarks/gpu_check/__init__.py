"""Issue 12's device check: ``benchmarks/gpu_check.sh`` runs ``python3 -m benchmarks.gpu_check``.

The device machine is bare (no Hydra, no datasets, no SigOpt, no internet) and lent for minutes, so
the check is one prepared script: ``--prepare`` (here) copies what it needs from ``../shared`` and
checks what will travel; on the device it installs the carried wheels, then runs each measurement as
its own subprocess, so one failing step never stops the next; ``--dry-run`` runs every step at toy
size on CPU. This package imports only the standard library and PyYAML at the top: it runs before
anything is installed.
"""
