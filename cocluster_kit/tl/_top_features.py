"""``tl.top_features``: the features (and rows) that characterise each co-cluster."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._anndata import (
    check_anndata,
    cluster_sums,
    get_matrix,
    matrix_label,
    one_hot,
    read_result,
    resolve_layer,
)
from .._utils import is_positive_int

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("cocluster_kit")

ENRICHMENT = "standardised mean difference"


def feature_enrichment(matrix, row_labels: np.ndarray, n_row_clusters: int) -> dict:
    """Per row cluster and feature: block mean, overall mean and enrichment, ``(K, m)`` each.

    ``enrichment[r, j] = (mean of x_ij over the rows i of cluster r - mean over all rows)
    / standard deviation over all rows``, each over the observed entries; 0 for a constant
    feature, NaN where cluster ``r`` has no observed entry of feature ``j``. Sparse one-hot
    products; the matrix is never densified.
    """
    sums, sum_squares, counts = cluster_sums(matrix, one_hot(row_labels, n_row_clusters))
    total = sums.sum(0)
    total_counts = counts.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        block_mean = sums / counts
        overall_mean = total / total_counts
        variance = np.maximum(sum_squares.sum(0) / total_counts - overall_mean**2, 0.0)
        std = np.sqrt(variance)
        enrichment = np.where(std > 0, (block_mean - overall_mean) / std, 0.0)
    enrichment[counts == 0] = np.nan
    return {
        "block_mean": block_mean,
        "overall_mean": np.broadcast_to(overall_mean, block_mean.shape),
        "enrichment": enrichment,
    }


def top_features(
    adata: AnnData,
    key: str = "cocluster",
    *,
    n_top: int = 10,
    layer: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Rank the features of every co-cluster by how much its rows raise them.

    For co-cluster ``(r, c)`` (row cluster ``r``, column cluster ``c``) the candidates are
    the variables of column cluster ``c``, ranked by their **enrichment** in row cluster
    ``r``: the standardised mean difference ``(mean over the rows of r - mean over all rows)
    / standard deviation over all rows``, each over the observed entries (NaN entries are
    left out; a constant feature scores 0). Also lists the most typical rows of each row
    cluster (highest membership probability) and columns of each column cluster. Computed
    with sparse one-hot products: the matrix is never densified.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`.
    key
        The ``key_added`` of that result.
    n_top
        How many features per co-cluster (and rows / columns per cluster) to keep.
    layer
        Matrix to measure on; ``None`` takes the one the model was fitted on, ``"X"`` forces
        ``adata.X``.
    copy
        Return a new AnnData with the tables instead of writing into ``adata``.

    Returns
    -------
    AnnData or None
        A new AnnData if ``copy=True``, else ``None``. Writes into ``adata.uns[key]``:

        ``"top_features"`` : DataFrame, at most ``n_top * K * L`` rows
            Columns ``row_cluster``, ``col_cluster`` (str), ``rank`` (int, 0 = most
            enriched), ``feature`` (str, a ``var_name``), ``enrichment``, ``block_mean``
            (mean over the rows of the row cluster) and ``overall_mean`` (mean over all rows),
            sorted by co-cluster then rank.
        ``"top_rows"`` : DataFrame, at most ``n_top * K`` rows
            ``row_cluster``, ``rank``, ``row`` (an ``obs_name``) and ``proba`` (membership).
        ``"top_columns"`` : DataFrame, at most ``n_top * L`` rows
            ``col_cluster``, ``rank``, ``column`` (a ``var_name``) and ``proba``.
        ``"top_features_params"`` : dict
            ``n_top``, ``layer`` (None for ``X``) and ``enrichment`` (the score's name).
    """
    check_anndata(adata, "tl.top_features")
    if not is_positive_int(n_top):
        raise ValueError(f"n_top={n_top!r} must be a positive integer.")
    result = read_result(adata, key)
    chosen_layer = resolve_layer(adata, result.layer if layer is None else layer)
    matrix = get_matrix(adata, chosen_layer)
    scores = feature_enrichment(matrix, result.row_labels, result.n_row_clusters)
    features = _top_features_table(scores, result, adata.var_names.to_numpy(), int(n_top))
    target = adata.copy() if copy else adata
    entry = target.uns[key]
    entry["top_features"] = features
    entry["top_rows"] = _top_members(
        target.obsm.get(f"{key}_row_proba"),
        result.row_labels,
        result.row_categories,
        adata.obs_names,
        n_top,
        side="row",
    )
    entry["top_columns"] = _top_members(
        target.varm.get(f"{key}_col_proba"),
        result.column_labels,
        result.column_categories,
        adata.var_names,
        n_top,
        side="col",
    )
    entry["top_features_params"] = {
        "n_top": int(n_top),
        "layer": chosen_layer,
        "enrichment": ENRICHMENT,
    }
    logger.info(
        "tl.top_features: ranked features on %s; added uns[%r]['top_features']",
        matrix_label(chosen_layer),
        key,
    )
    return target if copy else None


def _top_features_table(scores: dict, result, feature_names: np.ndarray, n_top: int):
    """The tidy table of the ``n_top`` most enriched features of every co-cluster."""
    frames = []
    column_members = [
        np.flatnonzero(result.column_labels == column_cluster)
        for column_cluster in range(result.n_col_clusters)
    ]
    for row_cluster in range(result.n_row_clusters):
        for column_cluster, members in enumerate(column_members):
            enrichment = scores["enrichment"][row_cluster, members]
            if members.size == 0 or np.all(np.isnan(enrichment)):
                continue
            order = np.argsort(-np.nan_to_num(enrichment, nan=-np.inf), kind="stable")[:n_top]
            chosen = members[order]
            frames.append(
                pd.DataFrame(
                    {
                        "row_cluster": result.row_categories[row_cluster],
                        "col_cluster": result.column_categories[column_cluster],
                        "rank": np.arange(chosen.size),
                        "feature": feature_names[chosen].astype(str),
                        "enrichment": scores["enrichment"][row_cluster, chosen],
                        "block_mean": scores["block_mean"][row_cluster, chosen],
                        "overall_mean": scores["overall_mean"][row_cluster, chosen],
                    }
                )
            )
    columns = ["row_cluster", "col_cluster", "rank", "feature"]
    columns += ["enrichment", "block_mean", "overall_mean"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    table.index = table.index.astype(str)  # h5ad stores string indices
    return table


def _top_members(
    proba, labels: np.ndarray, categories: list[str], names, n_top: int, *, side: str
) -> pd.DataFrame:
    """The members of each cluster with the highest membership probability."""
    name_column = "row" if side == "row" else "column"
    frames = []
    n_clusters = 0 if proba is None else min(proba.shape[1], len(categories))
    for cluster in range(n_clusters):
        members = np.flatnonzero(labels == cluster)
        order = members[np.argsort(-proba[members, cluster], kind="stable")[:n_top]]
        frames.append(
            pd.DataFrame(
                {
                    f"{side}_cluster": categories[cluster],
                    "rank": np.arange(order.size),
                    name_column: np.asarray(names)[order].astype(str),
                    "proba": np.asarray(proba[order, cluster], dtype=np.float64),
                }
            )
        )
    table = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[f"{side}_cluster", "rank", name_column, "proba"])
    )
    table.index = table.index.astype(str)
    return table
