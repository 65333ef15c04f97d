"""``get.top_features_df``: the table that ``tl.top_features`` stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .._anndata import check_anndata, read_result

if TYPE_CHECKING:
    from anndata import AnnData


def top_features_df(
    adata: AnnData,
    key: str = "cocluster",
    *,
    row_cluster: str | int | None = None,
    col_cluster: str | int | None = None,
) -> pd.DataFrame:
    """The most enriched features of every co-cluster, as a tidy DataFrame.

    Parameters
    ----------
    adata
        An AnnData on which :func:`cocluster_kit.tl.top_features` ran.
    key
        The ``key_added`` of the co-clustering.
    row_cluster, col_cluster
        Keep only these clusters (labels as strings or integers); default all.

    Returns
    -------
    pandas.DataFrame
        One row per (co-cluster, rank): ``row_cluster``, ``col_cluster`` (categoricals in
        numeric order), ``rank`` (0 = most enriched), ``feature``, ``enrichment`` (the
        standardised mean difference of :func:`~cocluster_kit.tl.top_features`),
        ``block_mean`` and ``overall_mean``; a fresh copy.
    """
    check_anndata(adata, "get.top_features_df")
    result = read_result(adata, key)
    if "top_features" not in result.uns:
        raise KeyError(
            f"adata.uns[{key!r}] has no 'top_features'; run "
            f"cocluster_kit.tl.top_features(adata, key={key!r}) first."
        )
    table = pd.DataFrame(result.uns["top_features"]).copy()
    table["row_cluster"] = pd.Categorical(
        table["row_cluster"].astype(str), categories=result.row_categories
    )
    table["col_cluster"] = pd.Categorical(
        table["col_cluster"].astype(str), categories=result.column_categories
    )
    table["rank"] = table["rank"].astype(int)
    for name, value, categories in (
        ("row_cluster", row_cluster, result.row_categories),
        ("col_cluster", col_cluster, result.column_categories),
    ):
        if value is None:
            continue
        if str(value) not in categories:
            raise ValueError(f"{name}={value!r} is not one of {categories}.")
        table = table[table[name] == str(value)]
    return table.reset_index(drop=True)
