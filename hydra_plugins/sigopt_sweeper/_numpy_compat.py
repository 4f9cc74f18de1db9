"""libsigopt (sigoptlite's engine) still calls ``numpy.product``, which numpy 2 removed.

pandas 3 needs numpy >= 2, so pinning numpy < 2 is not an option; the alias is exactly the old
function's meaning (``product`` was a deprecated synonym of ``prod``). Applied only when missing.
"""

from __future__ import annotations

import numpy


def ensure_numpy_product() -> None:
    if not hasattr(numpy, "product"):
        numpy.product = numpy.prod  # type: ignore[attr-defined]
