"""The anndata and tabular adapters: round trips, layer and likelihood choice, missing values."""

from __future__ import annotations

import importlib.util

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cocluster_kit import adapters

AdapterError = adapters.AdapterError

VARIABLE_GENES = np.arange(0, 300, 30)


def _found_variable_genes(adata):
    return len({f"gene{j}" for j in VARIABLE_GENES} & set(adata.var_names))


@pytest.fixture
def counts_adata():
    """80 cells x 300 genes: Poisson counts in layers["counts"], log-normalised values in X.

    Genes 0, 30, ..., 270 (``VARIABLE_GENES``) are switched on in every other cell only.
    """
    rng = np.random.default_rng(0)
    rates = np.tile(np.geomspace(0.5, 20, 300), (80, 1))[:, rng.permutation(300)]
    rates[:, VARIABLE_GENES] = np.geomspace(3, 20, 10) * np.where(
        np.arange(80)[:, None] % 2, 1.9, 0.1
    )
    counts = rng.poisson(rates).astype(np.float32)
    adata = ad.AnnData(
        X=np.log1p(counts / counts.sum(1, keepdims=True) * 1e4),
        obs=pd.DataFrame(
            {"cell_type": pd.Categorical(["a", "b"] * 40)}, index=[f"cell{i}" for i in range(80)]
        ),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(300)]),
        layers={"counts": sp.csr_matrix(counts)},
    )
    return adata


def _unchanged(before, after):
    assert after.shape == before.shape and "ckit_source" not in after.uns
    assert list(after.layers) == list(before.layers)
    np.testing.assert_array_equal(np.asarray(after.X), np.asarray(before.X))


def test_anndata_object_counts_layer_is_preferred(counts_adata, tmp_path):
    original = counts_adata.copy()
    adata = adapters.read(counts_adata)
    _unchanged(original, counts_adata)  # the caller's object is never modified
    record = adata.uns["ckit_source"]
    assert record["adapter"] == "anndata" and record["source"] == "<in-memory AnnData>"
    assert record["likelihood"] == "negative_binomial" and record["layer"] == "counts"
    assert record["counts_from"] == "layers['counts']"
    adata.uns["extra"] = 1
    assert "extra" not in counts_adata.uns
    adata.write_h5ad(tmp_path / "out.h5ad")


def test_anndata_h5ad_file_round_trip(counts_adata, tmp_path):
    path = tmp_path / "cells.h5ad"
    counts_adata.write_h5ad(path)
    adata = adapters.read(path)
    assert adata.uns["ckit_source"]["source"] == str(path)
    assert adata.obs["cell_type"].tolist() == counts_adata.obs["cell_type"].tolist()
    np.testing.assert_array_equal(
        adata.layers["counts"].toarray(), counts_adata.layers["counts"].toarray()
    )
    adata.write_h5ad(tmp_path / "again.h5ad")


def test_anndata_raw_counts_copied_for_current_genes(counts_adata):
    full = ad.AnnData(
        X=counts_adata.layers["counts"].copy(),
        var=counts_adata.var.copy(),
        obs=counts_adata.obs.copy(),
    )
    full.raw = full.copy()
    full.X = np.log1p(full.X.toarray())
    subset = full[:, 5:25].copy()  # genes selected after raw was set, as in scanpy workflows
    adata = adapters.read(subset)
    assert adata.uns["ckit_source"]["counts_from"] == "raw"
    assert adata.uns["ckit_source"]["layer"] == "counts" and adata.n_vars == 20
    np.testing.assert_array_equal(
        adata.layers["counts"].toarray(), counts_adata.layers["counts"][:, 5:25].toarray()
    )
    assert "counts" not in subset.layers


def test_anndata_normalised_values_are_gaussian(counts_adata):
    plain = ad.AnnData(X=np.asarray(counts_adata.X))
    record = adapters.read(plain).uns["ckit_source"]
    assert record["likelihood"] == "gaussian" and record["layer"] == ""
    assert record["counts_from"] == ""


def test_anndata_layer_choice(counts_adata):
    counts_adata.layers["scaled"] = np.asarray(counts_adata.X) - 1.0
    record = adapters.read(counts_adata, layer="scaled").uns["ckit_source"]
    assert record["layer"] == "scaled" and record["likelihood"] == "gaussian"
    assert record["options"]["layer"] == "scaled"
    with pytest.raises(AdapterError, match=r"layer='spliced' is not a layer.*'counts', 'scaled'"):
        adapters.read(counts_adata, layer="spliced")
    with pytest.raises(AdapterError, match="negative values"):
        adapters.read(counts_adata, layer="scaled", n_top_genes=10)


@pytest.mark.parametrize("flavor", ["auto", "seurat", "cell_ranger"])
def test_anndata_highly_variable_genes(counts_adata, tmp_path, flavor):
    adata = adapters.read(counts_adata, n_top_genes=10, hvg_flavor=flavor)
    assert adata.n_vars == 10 and adata.var["highly_variable"].all()
    assert adata.layers["counts"].shape == (80, 10)
    assert set(adata.var_names) <= set(counts_adata.var_names)
    assert _found_variable_genes(adata) >= 8  # chance: 10 / 300 of them
    record = adata.uns["ckit_source"]
    assert record["options"]["n_top_genes"] == 10
    expected = "seurat_v3" if flavor == "auto" and importlib.util.find_spec("skmisc") else flavor
    assert record["hvg_flavor_used"] == ("seurat" if expected == "auto" else expected)
    adata.write_h5ad(tmp_path / "hvg.h5ad")


def test_anndata_hvg_on_log_values_and_bad_options(counts_adata):
    log_only = ad.AnnData(X=np.asarray(counts_adata.X), var=counts_adata.var.copy())
    adata = adapters.read(log_only, n_top_genes=10)
    assert adata.n_vars == 10 and adata.uns["ckit_source"]["hvg_flavor_used"] == "seurat"
    assert _found_variable_genes(adata) >= 8
    with pytest.raises(AdapterError, match="needs counts"):
        adapters.read(log_only, n_top_genes=8, hvg_flavor="seurat_v3")
    with pytest.raises(AdapterError, match="positive integer"):
        adapters.read(log_only, n_top_genes=0)
    with pytest.raises(AdapterError, match="hvg_flavor='pearson'"):
        adapters.read(log_only, n_top_genes=8, hvg_flavor="pearson")
    with pytest.warns(UserWarning, match="all are kept"):
        assert adapters.read(log_only, n_top_genes=300).n_vars == 300


def test_anndata_seurat_v3_without_scikit_misc(counts_adata, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "skmisc" else real_find_spec(name, *args),
    )
    with pytest.raises(AdapterError, match="pip install scikit-misc"):
        adapters.read(counts_adata, n_top_genes=10, hvg_flavor="seurat_v3")
    adata = adapters.read(counts_adata, n_top_genes=10)
    assert adata.uns["ckit_source"]["hvg_flavor_used"] == "seurat"


def test_anndata_empty_all_zero_or_without_matrix():
    with pytest.raises(AdapterError, match="empty"):
        adapters.read(ad.AnnData(np.zeros((0, 3), dtype=np.float32)))
    with pytest.raises(AdapterError, match="every value of X is 0"):
        adapters.read(ad.AnnData(sp.csr_matrix((4, 3), dtype=np.float32)))
    with pytest.raises(AdapterError, match="no X"):
        adapters.read(ad.AnnData(obs=pd.DataFrame(index=["a"]), var=pd.DataFrame(index=["g"])))


TABLE = pd.DataFrame(
    {
        "sample": ["s1", "s2", "s3", "s4"],
        "group": ["ctrl", "ctrl", "treated", np.nan],
        "gene_a": [1.5, np.nan, 3.0, 0.0],
        "gene_b": [0.0, 2.0, np.nan, 4.25],
        "flag": [True, False, True, False],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", "frame"])
def test_tabular_round_trip_keeps_missing_values(tmp_path, suffix):
    if suffix == "frame":
        source = TABLE.copy()
    else:
        source = tmp_path / f"table{suffix}"
        if suffix == ".parquet":
            TABLE.to_parquet(source, index=False)
        else:
            TABLE.to_csv(source, sep="\t" if suffix == ".tsv" else ",", index=False)
    adata = adapters.read(source, index_col="sample")
    assert adata.obs_names.tolist() == ["s1", "s2", "s3", "s4"]
    assert adata.var_names.tolist() == ["gene_a", "gene_b", "flag"]
    assert isinstance(adata.X, np.ndarray) and adata.X.dtype == np.float32
    expected = TABLE[["gene_a", "gene_b", "flag"]].to_numpy(dtype=np.float32, na_value=np.nan)
    np.testing.assert_array_equal(np.isnan(adata.X), np.isnan(expected))  # missing, not zero
    np.testing.assert_array_equal(adata.X[~np.isnan(expected)], expected[~np.isnan(expected)])
    assert isinstance(adata.obs["group"].dtype, pd.CategoricalDtype)
    assert adata.obs["group"].isna().tolist() == [False, False, False, True]
    record = adata.uns["ckit_source"]
    assert record["adapter"] == "tabular" and record["layer"] == ""
    assert record["likelihood"] == "gaussian" and record["n_missing"] == 2
    assert record["bool_columns"] == ["flag"] and record["options"]["index_col"] == "sample"
    adata.write_h5ad(tmp_path / "out.h5ad")
    if suffix == "frame":
        pd.testing.assert_frame_equal(source, TABLE)  # the caller's frame is untouched


def test_tabular_obs_columns_index_position_and_likelihood(tmp_path):
    path = tmp_path / "counts.csv"
    pd.DataFrame(
        {
            "id": ["r1", "r2", "r3"],
            "batch": [1, 2, 1],
            "x": [0, 0, 5],
            "y": [0, 0, 0],
            "z": [0, 1, 0],
        }
    ).to_csv(path, index=False)
    adata = adapters.read(path, index_col=0, obs_columns=["batch"])
    assert adata.var_names.tolist() == ["x", "y", "z"]
    assert adata.obs["batch"].tolist() == [1, 2, 1]
    # the model's own "auto" rule: sparse non-negative integers are multinomial counts
    assert adata.uns["ckit_source"]["likelihood"] == "multinomial"
    with pytest.raises(AdapterError, match=r"obs_columns \['lane'\] are not columns"):
        adapters.read(path, obs_columns=["lane"])


def test_tabular_default_index_and_repeated_columns(tmp_path):
    adata = adapters.read(pd.DataFrame({"a": [0.5, 1.5]}))
    assert adata.obs_names.tolist() == ["0", "1"]
    repeated = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(AdapterError, match="column names repeat"):
        adapters.read(repeated)


def test_tabular_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = tmp_path / "table.parquet"
    TABLE.to_parquet(path)
    real_find_spec = importlib.util.find_spec
    missing = {"pyarrow", "fastparquet"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name in missing else real_find_spec(name, *args),
    )
    with pytest.raises(AdapterError, match="pip install pyarrow") as caught:
        adapters.read(path)
    assert "table.parquet" in str(caught.value)
