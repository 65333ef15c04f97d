"""get.blocks_df and get.top_features_df: tidy tables from a stored co-clustering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _anndata_results import K, L, fitted_adata

import cocluster_kit as ckit


def test_blocks_df_matches_dense_block_statistics():
    adata = fitted_adata()
    table = ckit.get.blocks_df(adata)
    assert list(table.columns) == [
        "row_cluster",
        "col_cluster",
        "n_rows",
        "n_cols",
        "size",
        "n_observed",
        "mean",
        "enrichment",
    ]
    assert len(table) == K * L
    assert list(table["row_cluster"].cat.categories) == [str(i) for i in range(K)]
    rows = adata.obs["cocluster_row"].cat.codes.to_numpy()
    columns = adata.var["cocluster_col"].cat.codes.to_numpy()
    values = np.asarray(adata.X, dtype=np.float64)
    for position, record in table.iterrows():
        r, c = divmod(position, L)
        assert (record.row_cluster, record.col_cluster) == (str(r), str(c))
        block = values[rows == r][:, columns == c]
        assert (record.n_rows, record.n_cols) == block.shape
        assert record["size"] == block.size == record.n_observed
        if block.size:
            assert record["mean"] == pytest.approx(block.mean())
            assert record.enrichment == pytest.approx((block.mean() - values.mean()) / values.std())
        else:
            assert np.isnan(record["mean"])
    np.testing.assert_allclose(
        table["mean"].to_numpy().reshape(K, L), adata.uns["cocluster"]["block_means"], rtol=1e-5
    )


def test_blocks_df_counts_only_observed_entries_of_a_sparse_layer():
    adata = fitted_adata()
    values = np.asarray(adata.X, dtype=np.float64).copy()
    values[:5, :] = np.nan
    layer = sp.lil_matrix(np.where(np.isnan(values), 0.0, values))
    layer[:5, :] = np.nan
    adata.layers["holes"] = layer.tocsr()
    table = ckit.get.blocks_df(adata, layer="holes")
    assert table["n_observed"].sum() == values.size - 5 * values.shape[1]
    rows = adata.obs["cocluster_row"].cat.codes.to_numpy()
    columns = adata.var["cocluster_col"].cat.codes.to_numpy()
    first = values[rows == 0][:, columns == 0]
    assert table.loc[0, "mean"] == pytest.approx(np.nanmean(first))


def test_top_features_df_filters_and_types():
    adata = fitted_adata()
    table = ckit.get.top_features_df(adata)
    assert isinstance(table["row_cluster"].dtype, pd.CategoricalDtype)
    assert table["rank"].dtype.kind == "i"
    pd.testing.assert_frame_equal(
        table.astype({"row_cluster": str, "col_cluster": str}),
        adata.uns["cocluster"]["top_features"].reset_index(drop=True),
        check_dtype=False,
    )
    one = ckit.get.top_features_df(adata, row_cluster=1, col_cluster="0")
    assert len(one) and set(one["row_cluster"]) == {"1"} and set(one["col_cluster"]) == {"0"}
    with pytest.raises(ValueError, match="row_cluster=7"):
        ckit.get.top_features_df(adata, row_cluster=7)
    table["feature"] = "changed"  # a copy: the stored table is untouched
    assert (adata.uns["cocluster"]["top_features"]["feature"] != "changed").all()


def test_getters_explain_what_to_run_first():
    adata = fitted_adata()
    del adata.uns["cocluster"]["top_features"]
    with pytest.raises(KeyError, match=r"tl.top_features\(adata, key='cocluster'\)"):
        ckit.get.top_features_df(adata)
    with pytest.raises(KeyError, match="key 'other'.*found: \\['cocluster'\\]"):
        ckit.get.blocks_df(adata, key="other")
