"""cocluster-kit: co-clusters of rows and columns with a three-level variational model.

>>> import cocluster_kit as ckit
>>> model = ckit.CoclusterVAE(n_row_clusters=4, n_col_clusters=3, random_state=0)
"""

from __future__ import annotations

from . import datasets, get, metrics, pl, tl
from ._settings import settings
from ._version import __version__
from .model import CoclusterVAE

__all__ = ["CoclusterVAE", "__version__", "datasets", "get", "metrics", "pl", "settings", "tl"]
