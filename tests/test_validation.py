"""Input validation at the estimator and ``tl`` level: each bad input a ValueError naming the fix.

Policy on empty rows and columns (README, "choices"): a row or column with no observed entry
is refused (its count and first indices named); one whose observed entries are all zero is
kept and assigned like any other; a matrix whose observed entries are all zero is refused.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import FAST

import cocluster_kit as ckit

TINY = {**FAST, "hidden": (8,), "latent_dim": 2}


def _counts(shape=(12, 8), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(3.0, size=shape).astype(np.float64)


def _with(values: dict, shape=(12, 8)) -> np.ndarray:
    X = _counts(shape)
    for (i, j), value in values.items():
        X[i, j] = value
    return X


def _missing_rows(rows, shape=(12, 8)) -> np.ndarray:
    X = _counts(shape)
    X[rows, :] = np.nan
    return X


def _missing_columns(columns, shape=(12, 8)) -> np.ndarray:
    X = _counts(shape)
    X[:, columns] = np.nan
    return X


# (name, X, estimator arguments, message pattern)
BAD_INPUTS = [
    (
        "infinite",
        _with({(2, 3): np.inf}),
        {},
        r"1 infinite values \(the first at row 2, column 3\)",
    ),
    ("minus-infinite", _with({(0, 1): -np.inf, (5, 5): np.inf}), {}, "2 infinite values.*NaN"),
    ("sparse-infinite", sp.csr_matrix(_with({(4, 0): np.inf})), {}, "infinite.*row 4, column 0"),
    ("beyond-float32", _with({(1, 1): 1e300}), {}, "float32.*rescale"),
    (
        "missing-rows",
        _missing_rows([3, 7]),
        {},
        r"2 rows with no observed entry.*rows 3, 7.*X\[keep\]",
    ),
    ("missing-row", _missing_rows([0]), {}, r"1 row with no observed entry.*row 0\. Drop"),
    (
        "missing-columns",
        _missing_columns([1, 2, 3, 4, 5, 6]),
        {},
        r"6 columns with no observed entry.*columns 1, 2, 3, 4, 5, \.\.\..*X\[:, keep\]",
    ),
    ("all-missing", np.full((4, 4), np.nan), {}, "every entry of X is missing"),
    ("all-zero", np.zeros((5, 4)), {}, "every observed entry of X is 0"),
    ("all-zero-sparse", sp.csr_matrix((5, 4)), {}, "every observed entry of X is 0"),
    ("negative-poisson", _counts() - 2, {"likelihood": "poisson"}, "negative values.*gaussian"),
    ("negative-nb", _counts() - 2, {"likelihood": "negative_binomial"}, "negative values"),
    ("negative-multinomial", -_counts(), {"likelihood": "multinomial"}, "negative values"),
    ("bernoulli-range", _counts(), {"likelihood": "bernoulli"}, r"\[0, 1\].*binarise"),
    (
        "count-total-beyond-float32",
        _counts() * 1e37,
        {"likelihood": "poisson"},
        r"add up to 3\.24e\+39, beyond float32's range.*poisson likelihood.*divide the counts",
    ),
    (
        "auto-count-total-beyond-float32",
        _counts() * 1e37,
        {},
        r"beyond float32's range.*negative_binomial likelihood needs their totals",
    ),
    (
        "too-many-row-clusters",
        _counts(),
        {"n_row_clusters": 13},
        "more than the 12 rows.*at most 12",
    ),
    (
        "too-many-col-clusters",
        _counts(),
        {"n_col_clusters": 9},
        "more than the 8 columns.*at most 8",
    ),
    ("bool-cluster-count", _counts(), {"n_row_clusters": True}, "integer of at least 1"),
    ("strings", np.array([["1", "2"], ["3", "4"]]), {}, "strings.*astype\\(float\\)"),
    ("object-strings", np.array([[1.0, "a"], [2.0, 3.0]], dtype=object), {}, "strings"),
    ("complex", np.ones((3, 3), dtype=complex), {}, "complex.*np.abs"),
    ("dates", np.array([["2020-01-01"] * 2] * 2, dtype="datetime64[D]"), {}, "dates"),
    ("text-column", pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), {}, "non-numeric.*'b'"),
    ("complex-column", pd.DataFrame({"a": [1.0, 2.0], "b": [1j, 2j]}), {}, "non-numeric.*'b'"),
    ("1-D", np.arange(5.0), {}, r"2-D.*shape \(5,\).*reshape"),
    ("3-D", np.ones((2, 2, 2)), {}, "2-D"),
    ("scalar", 3.0, {}, "2-D"),
    ("no-rows", np.zeros((0, 3)), {}, r"empty \(shape \(0, 3\)\)"),
    ("no-columns", np.zeros((3, 0)), {}, "empty"),
    ("sparse-empty", sp.csr_matrix((0, 0)), {}, "empty"),
    ("nested-lists", [[1, 2], [3]], {}, "numeric array"),
]


@pytest.mark.parametrize(
    ("X", "params", "match"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_estimator_refuses_bad_input_saying_what_to_change(X, params, match):
    model = ckit.CoclusterVAE(**{"n_row_clusters": 1, "n_col_clusters": 1, **TINY, **params})
    with pytest.raises(ValueError, match=match):
        model.fit(X)
    assert not hasattr(model, "module_")


# The same checks through tl.cocluster on an AnnData: messages name the matrix.
def _adata(layer: np.ndarray | sp.spmatrix, hint: dict | None = None) -> ad.AnnData:
    n_obs, n_vars = layer.shape
    adata = ad.AnnData(X=np.ones((n_obs, n_vars), dtype=np.float32))
    adata.layers["counts"] = layer
    if hint is not None:
        adata.uns["ckit_source"] = {"adapter": "anndata", "layer": "counts", **hint}
    return adata


TL_BAD_INPUTS = [
    ("infinite", _with({(2, 3): np.inf}), {}, r"adata.layers\['counts'\] contains 1 infinite"),
    ("missing-rows", _missing_rows([3, 7]), {}, r"adata.layers\['counts'\] has 2 rows with no obs"),
    ("missing-columns", _missing_columns([0]), {}, r"has 1 column with no observed.*column 0\."),
    ("all-zero", sp.csr_matrix((5, 4)), {}, r"every observed entry of adata.layers\['counts'\]"),
    (
        "negative-with-count-hint",
        _counts() - 2,
        {"hint": {"likelihood": "negative_binomial"}},
        r"models counts, but adata.layers\['counts'\] has \d+ negative values",
    ),
    ("negative-count-argument", _counts() - 2, {"likelihood": "poisson"}, "negative values"),
    ("too-many-clusters", _counts(), {"n_row_clusters": 13}, "more than adata.n_obs=12"),
    ("strings", np.array([["1", "2"], ["3", "4"]], dtype=object), {}, "strings"),
]


@pytest.mark.parametrize(
    ("layer", "options", "match"),
    [case[1:] for case in TL_BAD_INPUTS],
    ids=[case[0] for case in TL_BAD_INPUTS],
)
def test_tl_refuses_bad_input_naming_the_matrix(layer, options, match):
    options = dict(options)
    adata = _adata(layer, options.pop("hint", None))
    n_row_clusters = options.pop("n_row_clusters", 1)
    with pytest.raises(ValueError, match=match):
        ckit.tl.cocluster(adata, n_row_clusters, 1, layer="counts", **{**TINY, **options})
    assert "cocluster" not in adata.uns


def test_zero_rows_and_columns_are_kept_and_assigned():
    """The policy's other half: a row or column of observed zeros is data, not an error."""
    X = _counts((16, 10), seed=1)
    X[[2, 9], :] = 0.0
    X[:, 4] = 0.0
    X[5, 6] = np.nan  # missing entries elsewhere do not matter
    model = ckit.CoclusterVAE(2, 2, likelihood="poisson", random_state=0, **TINY).fit(X)
    assert model.row_labels_.shape == (16,) and model.column_labels_.shape == (10,)
    assert np.isfinite(model.row_proba_).all() and np.isfinite(model.column_embedding_).all()
    # identical (empty) rows read the same: they share one label
    assert model.row_labels_[2] == model.row_labels_[9]
    # A row that is partly missing and otherwise zero is kept too.
    X[11, :5] = np.nan
    X[11, 5:] = 0.0
    adata = ad.AnnData(X=sp.csr_matrix(X))
    ckit.tl.cocluster(adata, 2, 2, likelihood="poisson", **TINY)
    assert adata.obs["cocluster_row"].notna().all()


def test_errors_leave_a_fitted_model_untouched():
    model = ckit.CoclusterVAE(2, 2, random_state=0, **TINY).fit(_counts())
    labels = model.row_labels_.copy()
    with pytest.raises(ValueError, match="infinite"):
        model.fit(_with({(0, 0): np.inf}))
    np.testing.assert_array_equal(model.row_labels_, labels)
    with pytest.raises(ValueError, match="columns but the model was fitted on 8"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        model.impute(np.ones(8))


def test_cli_reports_an_empty_row_of_a_table_as_bad_input(tmp_path, monkeypatch):
    """``ckit run`` on a CSV with a row of empty cells: exit 2, one line naming file and fix."""
    from typer.testing import CliRunner

    from cocluster_kit.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "holes.csv").write_text("a,b,c\n1,2,3\n,,\n4,5,6\n7,8,9\n")
    result = CliRunner().invoke(app, ["run", "holes.csv", "-K", "2", "--no-progress"])
    assert result.exit_code == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("ckit: error: holes.csv: adata.X has 1 row with no observed entry")
    assert "row 1. Drop" in line and "Traceback" not in result.stderr
    assert not (tmp_path / "ckit-out").exists()


def test_tabular_values_beyond_float32_are_not_called_infinite(tmp_path):
    """A CSV value of 1e39 became inf in the float32 cast and was reported as infinite."""
    (tmp_path / "big.csv").write_text("a,b\n1,1e39\n2,3\n")
    with pytest.raises(ckit.adapters.AdapterError, match="big.csv: columns 'b'.*float32.*Rescale"):
        ckit.adapters.read(tmp_path / "big.csv")


@pytest.mark.parametrize("likelihood", ["auto", "poisson"])
def test_huge_counts_whose_totals_fit_float32_train(likelihood):
    """Counts near 1e30 used to overflow the product of two totals in the cell offsets."""
    X = _counts((20, 12), seed=1) * 1e30
    assert X.sum() < np.finfo(np.float32).max
    model = ckit.CoclusterVAE(2, 2, likelihood=likelihood, random_state=0, **TINY).fit(X)
    assert np.isfinite(model.bound_)


def test_huge_gaussian_values_train_without_overflow_warnings():
    """Squares of values near 1e37 overflowed float32 in the standardisation."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(20, 12)) + np.repeat([0.0, 3.0], 6)) * 1e37
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = ckit.CoclusterVAE(2, 2, random_state=0, **TINY).fit(X)
    assert model.likelihood_ == "gaussian" and np.isfinite(model.bound_)
