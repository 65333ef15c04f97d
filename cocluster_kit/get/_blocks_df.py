"""``get.blocks_df``: one row per co-cluster block, with its size and mean."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._anndata import check_anndata, cluster_sums, get_matrix, one_hot, read_result, resolve_layer

if TYPE_CHECKING:
    from anndata import AnnData


def blocks_df(adata: AnnData, key: str = "cocluster", layer: str | None = None) -> pd.DataFrame:
    """Size, mean and enrichment of every (row cluster, column cluster) block.

    Computed with sparse one-hot products over the observed (non-NaN) entries; the matrix is
    never densified.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`.
    key
        The ``key_added`` of that result.
    layer
        Matrix to measure on; ``None`` takes the one the model was fitted on, ``"X"`` forces
        ``adata.X``.

    Returns
    -------
    pandas.DataFrame
        ``K * L`` rows in checkerboard order ``r * L + c``: ``row_cluster``, ``col_cluster``
        (categoricals), ``n_rows``, ``n_cols``, ``size`` (``n_rows * n_cols``),
        ``n_observed`` (non-missing entries), ``mean`` (of the observed entries; NaN for an
        empty block) and ``enrichment`` (``(mean - matrix mean) / matrix standard
        deviation``, over all observed entries).
    """
    check_anndata(adata, "get.blocks_df")
    result = read_result(adata, key)
    chosen_layer = resolve_layer(adata, result.layer if layer is None else layer)
    matrix = get_matrix(adata, chosen_layer)
    sums, sum_squares, counts = cluster_sums(
        matrix, one_hot(result.row_labels, result.n_row_clusters)
    )
    columns = one_hot(result.column_labels, result.n_col_clusters)
    block_sums = np.asarray(sums @ columns)
    block_counts = np.asarray(counts @ columns)
    n_observed = block_counts.sum()
    overall_mean = block_sums.sum() / n_observed if n_observed else np.nan
    overall_std = np.sqrt(max(sum_squares.sum() / n_observed - overall_mean**2, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(block_counts > 0, block_sums / block_counts, np.nan)
        enrichment = (means - overall_mean) / overall_std if overall_std > 0 else means * 0.0
    n_rows = np.bincount(result.row_labels, minlength=result.n_row_clusters)
    n_cols = np.bincount(result.column_labels, minlength=result.n_col_clusters)
    row_index, col_index = np.divmod(
        np.arange(result.n_row_clusters * result.n_col_clusters), result.n_col_clusters
    )
    return pd.DataFrame(
        {
            "row_cluster": pd.Categorical.from_codes(row_index, result.row_categories),
            "col_cluster": pd.Categorical.from_codes(col_index, result.column_categories),
            "n_rows": n_rows[row_index],
            "n_cols": n_cols[col_index],
            "size": n_rows[row_index] * n_cols[col_index],
            "n_observed": block_counts.ravel().astype(np.int64),
            "mean": means.ravel(),
            "enrichment": enrichment.ravel(),
        }
    )
