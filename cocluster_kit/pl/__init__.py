"""Plots: figures of the results stored by ``tl`` (scanpy's ``pl``); each returns its Figure."""

from __future__ import annotations

from ._block_means import block_means
from ._blocks import blocks
from ._choose_k import choose_k
from ._history import history
from ._top_features import top_features

__all__ = ["block_means", "blocks", "choose_k", "history", "top_features"]
