"""Tools: fit co-clusterings on an AnnData and write the results into it (scanpy's ``tl``)."""

from __future__ import annotations

from ._choose_k import choose_k
from ._cocluster import cocluster
from ._top_features import top_features

__all__ = ["choose_k", "cocluster", "top_features"]
