"""The scikit-learn estimator: conventions, determinism, input kinds, errors (issue #2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import FAST
from sklearn.base import clone

import cocluster_kit as ckit
from cocluster_kit.model import FORMAT_VERSION, NotFittedError
from cocluster_kit.train import TrainingError


def fit_small(X, k=3, l_=2, **params):
    return ckit.CoclusterVAE(k, l_, random_state=0, **{**FAST, **params}).fit(X)


def kept_epoch_bound(history, n, m, term):
    """The bound per matrix entry (rows + columns, plus cells) of the full-weight training
    epoch with the lowest ``term``: what ``bound_`` must hold."""
    trained = history[(history["stage"] == "train") & (history["kl_weight"] == 1.0)]
    kept = trained.loc[trained[term].idxmin()]
    return (n * kept["row_bound"] + m * kept["col_bound"]) / (n * m) + kept["cell_bound"]


def test_init_only_stores_and_sklearn_conventions():
    model = ckit.CoclusterVAE(4, 3, random_state=1, n_samples=3)
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(model))
    params = model.get_params()
    assert params["n_row_clusters"] == 4 and params["n_samples"] == 3
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    model.set_params(mi="deepcc", n_col_clusters=4)
    assert model.mi == "deepcc" and model.n_col_clusters == 4
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(not_a_parameter=1)
    with pytest.raises(NotFittedError, match="fit"):
        model.predict(np.ones((2, 3)))


def test_fitted_attributes_shapes(small_checkerboard):
    X, rows, columns = small_checkerboard
    model = fit_small(X, warmup_epochs=3)
    n, m = X.shape
    assert model.row_labels_.shape == (n,) and model.column_labels_.shape == (m,)
    assert model.row_proba_.shape == (n, 3) and model.column_proba_.shape == (m, 2)
    np.testing.assert_allclose(model.row_proba_.sum(1), 1.0, atol=1e-5)
    assert model.row_embedding_.shape == (n, model.latent_dim)
    assert model.column_embedding_.shape == (m, model.latent_dim)
    assert model.rows_.shape == (6, n) and model.columns_.shape == (6, m)
    # Checkerboard order r * L + c.
    r, c = 2, 1
    np.testing.assert_array_equal(model.rows_[r * 2 + c], model.row_labels_ == r)
    np.testing.assert_array_equal(model.columns_[r * 2 + c], model.column_labels_ == c)
    row_index, column_index = model.get_indices(r * 2 + c)
    assert model.get_shape(r * 2 + c) == (len(row_index), len(column_index))
    sub = model.get_submatrix(r * 2 + c, X)
    np.testing.assert_array_equal(sub, X[np.ix_(row_index, column_index)])
    sub_sparse = model.get_submatrix(r * 2 + c, sp.csr_matrix(X))
    np.testing.assert_allclose(sub_sparse.toarray(), sub)
    assert model.block_means_.shape == (3, 2)
    mask = model.row_labels_[:, None] == r
    mask = mask & (model.column_labels_[None, :] == c)
    if mask.any():
        assert model.block_means_[r, c] == pytest.approx(X[mask].mean(), rel=1e-4)
    assert model.n_features_in_ == m
    assert model.likelihood_ == "gaussian"
    history = model.history_
    assert len(history) == 6 and set(history["stage"]) == {"pretrain", "train"}
    for side in ("row", "col", "cell"):
        for term in ("bound", "reconstruction", "kl", "critic"):
            assert f"{side}_{term}" in history.columns
    columns = {"loss", "objective", "partition_objective", "mi", "kl_weight", "mi_weight"}
    assert columns | {"seconds"} <= set(history.columns)
    # The partitions' part of J leaves the cell level out: the two values differ.
    assert not np.allclose(history["partition_objective"], history["objective"])
    assert np.isfinite(history["loss"]).all()
    # KL warm-up over the training epochs, with the cross-loss ramping alongside it.
    trained = history[history["stage"] == "train"]
    np.testing.assert_allclose(trained["kl_weight"], [1 / 3, 2 / 3, 1.0, 1.0])
    full_weight = model.config_["mi_weight"]
    np.testing.assert_allclose(trained["mi_weight"], full_weight * trained["kl_weight"])
    # bound_: the kept epoch's bound, kept by what monitor='partitions' reads.
    assert model.bound_ == pytest.approx(kept_epoch_bound(history, n, m, "partition_objective"))


def test_same_seed_same_labels_and_dense_equals_sparse(small_checkerboard):
    X = small_checkerboard[0]
    first = fit_small(X)
    second = fit_small(X)
    sparse = fit_small(sp.csr_matrix(X))
    np.testing.assert_array_equal(first.row_labels_, second.row_labels_)
    np.testing.assert_array_equal(first.column_labels_, second.column_labels_)
    np.testing.assert_allclose(first.row_embedding_, second.row_embedding_)
    np.testing.assert_array_equal(first.row_labels_, sparse.row_labels_)
    np.testing.assert_array_equal(first.column_labels_, sparse.column_labels_)
    other_seed = ckit.CoclusterVAE(3, 2, random_state=7, **FAST).fit(X)
    assert not np.allclose(other_seed.row_embedding_, first.row_embedding_)


def test_transform_and_predict_new_rows(small_checkerboard):
    X = small_checkerboard[0]
    model = fit_small(X)
    np.testing.assert_allclose(model.transform(X), model.row_embedding_, atol=1e-5)
    np.testing.assert_array_equal(model.predict(X), model.row_labels_)
    assert model.predict(X[:5]).shape == (5,)
    with pytest.raises(ValueError, match="columns"):
        model.predict(X[:, :10])


def test_save_load_round_trip(tmp_path, small_checkerboard):
    X = small_checkerboard[0]
    model = fit_small(X)
    target = tmp_path / "model"
    model.save(target)
    tensors = torch.load(target / "model.pt", weights_only=True)
    assert any(key.startswith("module.") for key in tensors)
    metadata = json.loads((target / "model.json").read_text())
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["class"] == "CoclusterVAE"
    assert metadata["params"]["n_row_clusters"] == 3
    loaded = ckit.CoclusterVAE.load(target, device="cpu")
    np.testing.assert_array_equal(loaded.row_labels_, model.row_labels_)
    np.testing.assert_array_equal(loaded.column_labels_, model.column_labels_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.transform(X), model.transform(X), atol=1e-6)
    np.testing.assert_allclose(loaded.block_means_, model.block_means_)
    assert loaded.bound_ == model.bound_
    assert loaded.get_params()["n_col_clusters"] == 2
    # Saving again over an existing directory replaces it atomically.
    model.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["model.json", "model.pt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # A model saved before monitor= existed kept its weights by the whole objective.
    del metadata["params"]["monitor"]
    (target / "model.json").write_text(json.dumps(metadata))
    older = ckit.CoclusterVAE.load(target, device="cpu")
    assert older.monitor == "objective"
    assert older.bound_ == pytest.approx(kept_epoch_bound(older.history_, *X.shape, "objective"))
    metadata["format_version"] = FORMAT_VERSION + 1
    (target / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="format"):
        ckit.CoclusterVAE.load(target)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        ckit.CoclusterVAE.load(tmp_path / "nowhere")


def test_dataframe_with_missing_values_impute_and_cell_scores(small_checkerboard):
    X = small_checkerboard[0].copy()
    rng = np.random.default_rng(0)
    holes = rng.random(X.shape) < 0.1
    X_missing = np.where(holes, np.nan, X)
    frame = pd.DataFrame(
        X_missing,
        index=[f"r{i}" for i in range(X.shape[0])],
        columns=[f"c{j}" for j in range(X.shape[1])],
    )
    model = fit_small(frame)
    assert model.row_names_[0] == "r0" and list(model.feature_names_in_[:2]) == ["c0", "c1"]
    filled = model.impute(frame)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~holes], X[~holes])
    # Imputed values come from the model, on the data's scale: nowhere near the NaN-as-zero.
    assert abs(filled[holes].mean() - X[holes].mean()) < 0.5 * X.std()
    scores = model.cell_scores(frame, rows=[0, 1, 2], columns=[0, 5, 9])
    assert list(scores.columns) == ["row", "column", "value", "block", "anomaly", "kl"]
    assert len(scores) == 3 and np.isfinite(scores["anomaly"]).all()
    assert scores["block"].between(0, 5).all()


@pytest.mark.parametrize(
    "likelihood", ["gaussian", "bernoulli", "poisson", "negative_binomial", "multinomial"]
)
def test_every_likelihood_trains(likelihood, small_counts):
    X = small_counts[0]
    if likelihood == "bernoulli":
        X = (X > 1).astype(float)
    model = ckit.CoclusterVAE(2, 3, likelihood=likelihood, random_state=0, **FAST).fit(X)
    assert model.likelihood_ == likelihood
    assert np.isfinite(model.history_["loss"]).all()
    assert model.row_labels_.shape == (50,)


def test_auto_likelihood_picks_counts_and_binary(small_counts):
    X = small_counts[0]
    assert fit_small(X, 2, 3).likelihood_ == "negative_binomial"  # dense counts
    dense_binary, sparse_binary = (X > 0).astype(float), (X > 2).astype(float)
    assert dense_binary.mean() > 0.5 and sparse_binary.mean() <= 0.5
    assert fit_small(dense_binary, 2, 3).likelihood_ == "bernoulli"
    assert fit_small(sparse_binary, 2, 3).likelihood_ == "multinomial"
    sparse_counts = np.where(X > 3, X, 0.0)
    assert fit_small(sparse_counts, 2, 3).likelihood_ == "multinomial"
    # Log-normalised counts (log expression) are modelled as Gaussian values.
    log_expression = np.log1p(1e4 * X / X.sum(1, keepdims=True))
    assert fit_small(log_expression, 2, 3).likelihood_ == "gaussian"


@pytest.mark.parametrize(
    ("estimator", "prior_gradient"), [("dreg", "gdreg"), ("iwae", "gdreg"), ("dreg", "iwae")]
)
def test_other_estimators_train(estimator, prior_gradient, small_checkerboard):
    model = fit_small(small_checkerboard[0], estimator=estimator, prior_gradient=prior_gradient)
    assert np.isfinite(model.history_["loss"]).all()


@pytest.mark.parametrize(
    ("estimator", "n_samples", "expected"),
    [("elbo", None, 1), ("iwae", None, 4), ("dreg", None, 4), ("elbo", 3, 3), ("dreg", 2, 2)],
)
def test_n_samples_default_follows_the_estimator(estimator, n_samples, expected):
    assert ckit.CoclusterVAE().estimator == "elbo" and ckit.CoclusterVAE().n_samples is None
    X = np.random.default_rng(0).poisson(2.0, size=(12, 8)).astype(float)
    params = {**FAST, "n_samples": n_samples, "max_epochs": 1, "pretrain_epochs": 1}
    model = fit_small(X, 2, 2, estimator=estimator, **params)
    assert model.config_["n_samples"] == expected
    assert model.get_params()["n_samples"] == n_samples  # the estimator keeps what it was given


def test_ablation_switches_train(small_checkerboard):
    X = small_checkerboard[0]
    without = fit_small(X, joint=False, critic=False, scale_trick=False, mi="none")
    assert "cell_bound" not in without.history_.columns
    assert "mi" not in without.history_.columns
    # Without the cell level the partitions' part of J is the whole of it.
    history = without.history_
    np.testing.assert_array_equal(history["partition_objective"], history["objective"])
    assert without.module_.rows.scale_raw is None and without.module_.rows.critic is None
    no_value = fit_small(X, cell_reads_value=False, joint_gradient=1.0)
    assert no_value.module_.cells.encoder.mean.in_features > 0
    assert np.isfinite(no_value.history_["loss"]).all()


def test_mi_variants_and_unequal_cluster_counts(small_checkerboard):
    X = small_checkerboard[0]
    model = fit_small(X, 4, 2, mi="weighted")
    assert model.block_means_.shape == (4, 2)
    deepcc = fit_small(X, 3, 3, mi="deepcc")
    trained = deepcc.history_[deepcc.history_["stage"] == "train"]
    assert np.isfinite(trained["mi"]).all() and deepcc.history_["mi"].isna().sum() == 2
    with pytest.raises(ValueError, match="mi='weighted'"):
        fit_small(X, 3, 2, mi="deepcc")


def test_callbacks_and_progress_switch(capsys, small_checkerboard):
    seen = []
    fit_small(small_checkerboard[0], callbacks=[seen.append])
    assert [entry["epoch"] for entry in seen] == list(range(6))
    assert "cocluster" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_row_clusters": 0}, "at least 1"),
        ({"n_row_clusters": 61}, "at most 60"),
        ({"n_col_clusters": 41}, "at most 40"),
        ({"estimator": "vae"}, "estimator="),
        ({"likelihood": "normal"}, "likelihood="),
        ({"device": "tpu"}, "device="),
        ({"n_samples": 0}, "None or a positive integer"),
        ({"n_samples": 1.5}, "None or a positive integer"),
        ({"max_epochs": -1}, "non-negative"),
        ({"learning_rate": 0.0}, "positive"),
        ({"joint_gradient": 2.0}, r"\[0, 1\]"),
        ({"monitor": "loss"}, "monitor='loss' is not one of 'partitions', 'objective'"),
        ({"random_state": -3}, "non-negative"),
    ],
)
def test_bad_arguments_say_what_to_change(params, message, small_checkerboard):
    X = small_checkerboard[0]
    model = ckit.CoclusterVAE(**{"n_row_clusters": 3, **FAST, **params})
    with pytest.raises(ValueError, match=message):
        model.fit(X)


def test_bad_inputs_say_what_to_change(small_checkerboard):
    X = small_checkerboard[0]
    with pytest.raises(ValueError, match="negative values"):
        ckit.CoclusterVAE(2, likelihood="poisson", **FAST).fit(X - 50)
    with pytest.raises(ValueError, match="infinite"):
        ckit.CoclusterVAE(2, **FAST).fit(np.where(X > 90, np.inf, X))
    with pytest.raises(ValueError, match="2-D"):
        ckit.CoclusterVAE(2, **FAST).fit(X[0])
    with pytest.raises(ValueError, match="empty"):
        ckit.CoclusterVAE(1, **FAST).fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-numeric"):
        ckit.CoclusterVAE(2, **FAST).fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": list("xyz")}))
    with pytest.raises(ValueError, match="missing"):
        ckit.CoclusterVAE(1, **FAST).fit(np.full((3, 3), np.nan))


def test_non_finite_loss_stops_with_a_clear_message(small_checkerboard):
    model = ckit.CoclusterVAE(3, 2, random_state=0, learning_rate=1e12, weight_decay=0.0, **FAST)
    with pytest.raises(TrainingError, match="non-finite"):
        model.fit(small_checkerboard[0] * 1e6)


def test_device_auto_resolves_here(small_checkerboard):
    model = fit_small(small_checkerboard[0], device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device_.startswith(expected) or model.device_ == "mps"


def test_cell_scores_refuse_missing_cells(small_checkerboard):
    X = small_checkerboard[0].copy()
    X[0, 0] = np.nan
    model = fit_small(X)
    with pytest.raises(ValueError, match="impute"):
        model.cell_scores(X, rows=[0], columns=[0])
    assert len(model.cell_scores(X, rows=[1], columns=[0])) == 1
