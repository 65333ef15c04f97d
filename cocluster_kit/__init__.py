"""cocluster-kit: co-clusters of rows and columns with a three-level variational model.

>>> import cocluster_kit as ckit
>>> model = ckit.CoclusterVAE(n_row_clusters=4, n_col_clusters=3, random_state=0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import datasets, get, metrics, pl, tl
from ._settings import settings
from ._version import __version__

if TYPE_CHECKING:
    from .model import CoclusterVAE

__all__ = ["CoclusterVAE", "__version__", "datasets", "get", "metrics", "pl", "settings", "tl"]


def __getattr__(name: str) -> Any:
    # The estimator (and with it torch) is imported on first use, so that `ckit --help`
    # and adapter discovery start fast.
    if name == "CoclusterVAE":
        from .model import CoclusterVAE

        return CoclusterVAE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
