"""One small co-clustered AnnData shared by the tl / get / pl tests (fitted once per session)."""

from __future__ import annotations

import functools

import anndata as ad
import numpy as np
from conftest import FAST

import cocluster_kit as ckit

SHAPE, K, L = (60, 40), 3, 2


def planted_adata() -> ad.AnnData:
    """A 60 x 40 dense Gaussian matrix with 3 x 2 planted blocks, named rows and columns."""
    X, rows, columns = ckit.datasets.make_coclusters(SHAPE, K, L, noise=0.5, random_state=0)
    adata = ad.AnnData(X.astype(np.float32))
    adata.obs_names = [f"cell{i}" for i in range(SHAPE[0])]
    adata.var_names = [f"gene{j}" for j in range(SHAPE[1])]
    adata.obs["truth"] = rows.astype(str)
    adata.var["truth"] = columns.astype(str)
    return adata


@functools.lru_cache(maxsize=1)
def _fitted() -> ad.AnnData:
    adata = planted_adata()
    ckit.tl.cocluster(adata, K, L, random_state=0, **FAST)
    ckit.tl.top_features(adata, n_top=5)
    return adata


def fitted_adata() -> ad.AnnData:
    """A fresh copy of the planted AnnData after ``tl.cocluster`` and ``tl.top_features``."""
    return _fitted().copy()
