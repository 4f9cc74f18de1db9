"""``python -m lightning_distill.search.report``: the report's command line (``main``, see the package docstring)."""

import sys

from lightning_distill.search.report import main

if __name__ == "__main__":
    sys.exit(main())
