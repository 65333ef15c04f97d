"""Getters: tidy tables out of the results stored by ``tl`` (scanpy's ``get``)."""

from __future__ import annotations

from ._blocks_df import blocks_df
from ._top_features_df import top_features_df

__all__ = ["blocks_df", "top_features_df"]
