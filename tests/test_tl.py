"""tl.cocluster / tl.top_features / tl.choose_k on small AnnData objects (fast fits)."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _anndata_results import SHAPE, K, L, fitted_adata, planted_adata
from conftest import FAST

import cocluster_kit as ckit
from cocluster_kit.tl._fitting import prepare_fit


def counts_adata(hint: dict | None = None) -> ad.AnnData:
    """Sparse counts in layers["counts"], their log1p in X, optionally an adapter record."""
    X, _, _ = ckit.datasets.make_coclusters((40, 30), 2, 3, sparse=True, random_state=1)
    adata = ad.AnnData(X.log1p().astype(np.float32))
    adata.layers["counts"] = X
    if hint is not None:
        adata.uns["ckit_source"] = {"adapter": "text", "source": "corpus.txt", **hint}
    return adata


def test_cocluster_writes_every_slot():
    adata = fitted_adata()
    n, m = SHAPE
    for labels, size, k in ((adata.obs["cocluster_row"], n, K), (adata.var["cocluster_col"], m, L)):
        assert isinstance(labels.dtype, pd.CategoricalDtype) and len(labels) == size
        assert list(labels.cat.categories) == [str(i) for i in range(k)]
    embedding, row_proba = adata.obsm["X_cocluster"], adata.obsm["cocluster_row_proba"]
    assert embedding.shape == (n, 10) and adata.varm["X_cocluster"].shape == (m, 10)
    assert row_proba.shape == (n, K) and adata.varm["cocluster_col_proba"].shape == (m, L)
    np.testing.assert_allclose(row_proba.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(
        row_proba.argmax(1), adata.obs["cocluster_row"].cat.codes.to_numpy()
    )
    entry = adata.uns["cocluster"]
    params = entry["params"]
    assert params["random_state"] == 0 and params["layer"] is None
    assert params["likelihood"] == "gaussian" and params["world_size"] == 1
    assert params["version"] == ckit.__version__
    assert params["n_row_clusters"] == K and params["n_col_clusters"] == L
    assert params["max_epochs"] == FAST["max_epochs"] and params["n_samples"] == 2
    assert "callbacks" not in params and "progress" not in params
    assert entry["block_means"].shape == (K, L)
    history = entry["history"]
    assert isinstance(history, pd.DataFrame) and len(history) == 6  # 2 pre-training + 4
    assert list(history["stage"]) == ["pretrain"] * 2 + ["train"] * 4
    assert isinstance(entry["bound"], float) and np.isfinite(entry["bound"])
    assert entry["likelihood_source"] == "auto: non-integer AnnData values"
    assert entry["n_row_clusters_used"] == adata.obs["cocluster_row"].nunique()
    assert entry["n_col_clusters_used"] == adata.var["cocluster_col"].nunique()


def test_copy_leaves_input_untouched_and_equals_in_place():
    original = planted_adata()
    snapshot = original.copy()
    result = ckit.tl.cocluster(original, K, L, copy=True, **FAST)
    assert isinstance(result, ad.AnnData) and result is not original
    assert list(original.obs.columns) == list(snapshot.obs.columns)
    assert "cocluster" not in original.uns and not original.obsm and not original.varm
    np.testing.assert_array_equal(original.X, snapshot.X)
    in_place = fitted_adata()  # the same call with copy=False (shared fixture)
    assert ckit.tl.cocluster(planted_adata(), K, L, key_added="again", **FAST) is None
    np.testing.assert_array_equal(result.obs["cocluster_row"], in_place.obs["cocluster_row"])
    np.testing.assert_array_equal(result.var["cocluster_col"], in_place.var["cocluster_col"])
    np.testing.assert_allclose(result.obsm["X_cocluster"], in_place.obsm["X_cocluster"])


def test_write_h5ad_round_trip(tmp_path):
    adata = fitted_adata()
    path = tmp_path / "result.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    entry, stored = back.uns["cocluster"], adata.uns["cocluster"]
    pd.testing.assert_series_equal(back.obs["cocluster_row"], adata.obs["cocluster_row"])
    pd.testing.assert_series_equal(back.var["cocluster_col"], adata.var["cocluster_col"])
    np.testing.assert_allclose(entry["block_means"], stored["block_means"])
    assert entry["bound"] == stored["bound"]
    assert entry["params"]["hidden"].tolist() == [256, 128]
    assert entry["params"]["layer"] is None and entry["params"]["mi_weight"] is None
    history = pd.DataFrame(entry["history"])
    np.testing.assert_allclose(history["loss"], stored["history"]["loss"])
    pd.testing.assert_frame_equal(ckit.get.top_features_df(back), ckit.get.top_features_df(adata))


def test_layer_selection_and_adapter_hint():
    # An adapter recorded layer "counts" with a Poisson hint: both are used.
    adata = counts_adata({"likelihood": "poisson", "layer": "counts"})
    ckit.tl.cocluster(adata, 2, 3, **FAST)
    params = adata.uns["cocluster"]["params"]
    assert params["layer"] == "counts" and params["likelihood"] == "poisson"
    assert adata.uns["cocluster"]["likelihood_source"] == "adapter text"
    # The argument beats the hint; an explicit layer="X" ignores the hint for the counts.
    chosen = prepare_fit(adata, None, {"likelihood": "negative_binomial"})
    assert (chosen.layer, chosen.likelihood, chosen.likelihood_source) == (
        "counts",
        "negative_binomial",
        "argument",
    )
    chosen = prepare_fit(adata, "X", {})
    # X holds log1p(counts): non-integer AnnData values are read as log expression.
    assert chosen.layer is None and chosen.likelihood == "gaussian"
    assert np.allclose(chosen.matrix.toarray(), adata.X.toarray())
    # A hint about X (layer "") applies to X; "auto" hints and unrecorded layers fall back.
    assert prepare_fit(counts_adata({"likelihood": "gaussian", "layer": ""}), None, {}).likelihood
    assert prepare_fit(counts_adata({"likelihood": "auto", "layer": ""}), None, {}).likelihood == (
        "gaussian"
    )
    gone = counts_adata({"likelihood": "poisson", "layer": "counts"})
    del gone.layers["counts"]
    chosen = prepare_fit(gone, None, {})
    assert chosen.layer is None and chosen.likelihood == "gaussian"
    # Integer values keep the model's own "auto" rule.
    assert prepare_fit(counts_adata(), "counts", {}).likelihood == "auto"
    # Without a record, layer= picks the matrix and "auto" sees counts.
    plain = counts_adata()
    ckit.tl.cocluster(plain, 2, 3, layer="counts", **FAST)
    assert plain.uns["cocluster"]["params"]["layer"] == "counts"
    assert plain.uns["cocluster"]["params"]["likelihood"] in ("multinomial", "negative_binomial")


def test_settings_seed_replaces_random_state_none():
    adata = counts_adata()
    with ckit.settings.override(seed=5):
        ckit.tl.cocluster(adata, 2, 2, layer="counts", random_state=None, **FAST)
    assert adata.uns["cocluster"]["params"]["random_state"] == 5


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((61,), {}, ValueError, r"n_row_clusters=61 is more than adata.n_obs=60"),
        ((3, 41), {}, ValueError, r"n_col_clusters=41 is more than adata.n_vars=40"),
        ((0,), {}, ValueError, "at least 1"),
        ((3,), {"layer": "counts"}, ValueError, r"available: 'spliced'"),
        ((3,), {"max_epoch": 3}, ValueError, r"did you mean 'max_epochs'"),
        ((3,), {"key_added": ""}, ValueError, "key_added"),
        ((3,), {"likelihood": "zip"}, ValueError, "likelihood='zip'"),
    ],
)
def test_bad_inputs_raise_clear_errors(args, kwargs, error, match):
    adata = planted_adata()
    adata.layers["spliced"] = adata.X.copy()
    with pytest.raises(error, match=match):
        ckit.tl.cocluster(adata, *args, **{**FAST, **kwargs})


def test_bad_adapter_hint_and_non_anndata():
    adata = counts_adata({"likelihood": "zip", "layer": "counts"})
    with pytest.raises(ValueError, match=r"ckit_source.*'zip'"):
        ckit.tl.cocluster(adata, 2, **FAST)
    with pytest.raises(TypeError, match="expects an AnnData"):
        ckit.tl.cocluster(np.ones((5, 5)), 2)


def _dense_enrichment(values: np.ndarray, row_labels: np.ndarray, k: int) -> np.ndarray:
    overall, spread = np.nanmean(values, 0), np.nanstd(values, 0)
    block = np.array([np.nanmean(values[row_labels == r], 0) for r in range(k)])
    return np.where(spread > 0, (block - overall) / np.where(spread > 0, spread, 1), 0.0)


def test_top_features_ranks_enrichment_within_column_clusters():
    adata = fitted_adata()
    table = adata.uns["cocluster"]["top_features"]
    assert list(table.columns) == [
        "row_cluster",
        "col_cluster",
        "rank",
        "feature",
        "enrichment",
        "block_mean",
        "overall_mean",
    ]
    rows = adata.obs["cocluster_row"].cat.codes.to_numpy()
    expected = _dense_enrichment(np.asarray(adata.X, dtype=np.float64), rows, K)
    column_of = adata.var["cocluster_col"].astype(str)
    for (r, c), block in table.groupby(["row_cluster", "col_cluster"]):
        assert len(block) == min(5, int((column_of == c).sum()))
        assert (column_of[block["feature"]] == c).all()
        assert np.all(np.diff(block["enrichment"].to_numpy()) <= 1e-12)
        columns = adata.var_names.get_indexer(block["feature"])
        np.testing.assert_allclose(block["enrichment"], expected[int(r), columns], rtol=1e-4)
        candidates = np.flatnonzero(column_of == c)
        assert block["enrichment"].iloc[0] == pytest.approx(expected[int(r), candidates].max())
    top_rows = adata.uns["cocluster"]["top_rows"]
    proba = adata.obsm["cocluster_row_proba"]
    for r, block in top_rows.groupby("row_cluster"):
        members = adata.obs_names.get_indexer(block["row"])
        assert (rows[members] == int(r)).all()
        assert np.all(np.diff(proba[members, int(r)]) <= 1e-7)
    assert adata.uns["cocluster"]["top_features_params"]["n_top"] == 5


def test_top_features_on_sparse_with_missing_matches_dense_and_copy():
    adata = fitted_adata()
    values = np.asarray(adata.X, dtype=np.float64).copy()
    values[np.random.default_rng(0).random(values.shape) < 0.1] = np.nan
    stored = sp.csr_matrix(np.where(np.isnan(values), 0.0, values))
    stored = stored.tolil()
    stored[np.isnan(values)] = np.nan  # explicit NaN entries mark missing
    stored = stored.tocsr()
    adata.layers["holes"] = stored
    result = ckit.tl.top_features(adata, n_top=3, layer="holes", copy=True)
    assert "holes" not in str(adata.uns["cocluster"]["top_features_params"])
    table = result.uns["cocluster"]["top_features"]
    rows = adata.obs["cocluster_row"].cat.codes.to_numpy()
    expected = _dense_enrichment(values, rows, K)
    columns = adata.var_names.get_indexer(table["feature"])
    np.testing.assert_allclose(
        table["enrichment"], expected[table["row_cluster"].astype(int), columns], rtol=1e-6
    )
    with pytest.raises(KeyError, match="run cocluster_kit.tl.cocluster"):
        ckit.tl.top_features(adata, key="missing")
    with pytest.raises(ValueError, match="n_top"):
        ckit.tl.top_features(adata, n_top=0)


def test_choose_k_grid_scores_and_h5ad(tmp_path):
    adata = planted_adata()
    assert ckit.tl.choose_k(adata, (2, 3), 2, seeds=(0, 1), **FAST) is None
    entry = adata.uns["choose_k"]
    runs, scores = entry["runs"], entry["scores"]
    assert len(runs) == 4 and len(scores) == 2
    pairs = scores[["n_row_clusters", "n_col_clusters"]].to_numpy().tolist()
    assert sorted(pairs) == [[2, 2], [3, 2]]
    for _, score in scores.iterrows():
        bounds = runs[
            (runs.n_row_clusters == score.n_row_clusters)
            & (runs.n_col_clusters == score.n_col_clusters)
        ]["bound"]
        assert score.criterion == pytest.approx(np.median(bounds))
        assert -1.0 <= score.row_stability <= 1.0 and -1.0 <= score.col_stability <= 1.0
    best = scores.loc[scores.criterion.idxmax()]
    assert entry["best"] == {
        "n_row_clusters": int(best.n_row_clusters),
        "n_col_clusters": int(best.n_col_clusters),
    }
    assert entry["params"]["seeds"].tolist() == [0, 1]
    adata.write_h5ad(tmp_path / "sweep.h5ad")
    back = ad.read_h5ad(tmp_path / "sweep.h5ad").uns["choose_k"]
    pd.testing.assert_frame_equal(back["scores"], scores, check_dtype=False)


def test_choose_k_reports_empty_clusters_in_its_runs_without_warning_per_fit():
    from cocluster_kit.model import EmptyClusterWarning

    # Eight identical rows cannot fill three row clusters.
    adata = ad.AnnData(np.tile(np.arange(1.0, 7.0), (8, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyClusterWarning)
        ckit.tl.choose_k(adata, (3,), 2, seeds=(0,), **FAST)
    assert adata.uns["choose_k"]["runs"]["n_row_clusters_used"].tolist()[0] < 3
    with pytest.warns(EmptyClusterWarning):  # the same fit through tl.cocluster does warn
        ckit.tl.cocluster(adata, 3, 2, random_state=0, **FAST)


def test_choose_k_grid_choices_and_errors():
    from cocluster_kit.tl._choose_k import _cluster_grid

    adata = planted_adata()
    assert _cluster_grid(adata, (2, 3, 3), None) == [(2, 2), (3, 3)]
    assert _cluster_grid(adata, 2, (2, 4)) == [(2, 2), (2, 4)]
    with pytest.raises(ValueError, match="more than adata.n_vars=40"):
        _cluster_grid(adata, (2, 50), None)
    with pytest.raises(ValueError, match="seeds"):
        ckit.tl.choose_k(adata, (2,), seeds=())
