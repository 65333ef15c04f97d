"""Property-based tests (hypothesis): odd input ends in a valid result or the project's error.

The project's errors are ``ValueError`` for bad input (``AdapterError`` is one) and
``TrainingError`` for training that cannot go on; anything else (IndexError, ZeroDivisionError,
a library's RuntimeError...) is a bug. Example counts are bounded and fits tiny, so each test
runs in seconds.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from cocluster_kit.adapters import AdapterError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cocluster_kit as ckit
from cocluster_kit.model._validation import prepare_matrix
from cocluster_kit.nn import LIKELIHOODS
from cocluster_kit.tl._fitting import prepare_fit
from cocluster_kit.train import fit_mixture

SUFFIXES = (".txt", ".csv", ".tsv", ".jsonl", ".h5ad")
FEW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
MANY = settings(FEW, max_examples=100)  # adapters answer in milliseconds
TINY_FIT = {
    "max_epochs": 1,
    "pretrain_epochs": 1,
    "progress": False,
    "n_samples": 1,
    "hidden": (4,),
    "latent_dim": 2,
    "cell_latent_dim": 2,
    "n_cells": 16,
    "device": "cpu",
}


def _read(path: Path, **options) -> ad.AnnData | None:
    """``adapters.read``: the AnnData, or None after an AdapterError (checked to name the file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # adapters warn about empty documents, dropped columns
        try:
            adata = ckit.adapters.read(path, **options)
        except AdapterError as error:
            assert str(error) and path.name in str(error)
            return None
    assert isinstance(adata, ad.AnnData)
    assert adata.n_obs >= 1 and adata.n_vars >= 1
    assert adata.X.shape == (adata.n_obs, adata.n_vars)
    assert adata.obs_names.is_unique and adata.var_names.is_unique
    assert "ckit_source" in adata.uns
    return adata


def _fit_input_or_value_error(adata: ad.AnnData) -> None:
    """What ``tl.cocluster`` checks before fitting: accepted, or a ValueError."""
    try:
        fit_input = prepare_fit(adata, None, {})
    except ValueError as error:
        _assert_own_error(error)
        return
    assert fit_input.matrix.shape == adata.shape
    assert np.isfinite(fit_input.matrix.data).all()


def _assert_own_error(error: ValueError) -> None:
    """The ValueError was raised by this project's code, with a message (not by a library)."""
    frame = error.__traceback__
    while frame.tb_next is not None:
        frame = frame.tb_next
    origin = Path(frame.tb_frame.f_code.co_filename)
    assert "site-packages" not in origin.parts and str(error), (origin, error)
    assert {"cocluster_kit", "adapters"} & set(origin.parts), (origin, error)


def _write(suffix: str, payload: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ckit-hyp-"))
    path = folder / f"source{suffix}"
    path.write_bytes(payload)
    return path


# --- adapters --------------------------------------------------------------------------------


@MANY
@given(
    suffix=st.sampled_from(SUFFIXES),
    payload=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.lists(
            st.sampled_from([b"a", b"1", b",", b"\t", b"\n", b'"', b"{", b"}", b" "]), max_size=60
        ).map(b"".join),
    ),
)
def test_random_bytes_in_any_known_file_type(suffix, payload):
    adata = _read(_write(suffix, payload))
    if adata is not None:
        _fit_input_or_value_error(adata)


_cell = st.one_of(
    st.none(),
    st.integers(-5, 1000),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.sampled_from(["", " ", "NA", "nan", "inf", "-", "1,5", "3e2", '"', "a,b"]),
)


@st.composite
def _tables(draw):
    n_rows = draw(st.integers(0, 6))
    n_columns = draw(st.integers(1, 5))
    names = draw(
        st.lists(
            st.one_of(st.sampled_from(["text", "label", "x", "", "x"]), st.text(max_size=5)),
            min_size=n_columns,
            max_size=n_columns,
        )
    )
    kinds = draw(
        st.lists(st.sampled_from(["int", "float", "any"]), min_size=n_columns, max_size=n_columns)
    )
    by_kind = {
        "int": st.one_of(st.none(), st.integers(0, 20)),
        "float": st.one_of(st.none(), st.floats(-1e3, 1e3)),
        "any": _cell,
    }
    columns = [draw(st.lists(by_kind[kind], min_size=n_rows, max_size=n_rows)) for kind in kinds]
    return pd.DataFrame(dict(enumerate(columns))).set_axis(names, axis=1) if n_columns else None


@MANY
@given(table=_tables(), suffix=st.sampled_from([".csv", ".tsv"]), as_text=st.booleans())
def test_random_tables_with_mixed_types_and_empty_cells(table, suffix, as_text):
    sep = "," if suffix == ".csv" else "\t"
    path = _write(suffix, table.to_csv(sep=sep, index=False).encode())
    adata = _read(path, adapter="text" if as_text else "tabular")
    if adata is not None:
        _fit_input_or_value_error(adata)


_words = st.text(alphabet=st.sampled_from(list("abc xyz 0123 .,-\t\u00e9\u4e2d")), max_size=40)


@MANY
@given(documents=st.lists(_words, max_size=8), jsonl=st.booleans())
def test_random_text_corpora(documents, jsonl):
    if jsonl:
        payload = "\n".join(
            json.dumps({"text": d, "label": i % 2}) for i, d in enumerate(documents)
        )
        path = _write(".jsonl", payload.encode())
    else:
        path = _write(".txt", "\n".join(documents).encode())
    adata = _read(path)
    if adata is not None:
        assert adata.uns["ckit_source"]["likelihood"] == "multinomial"
        _fit_input_or_value_error(adata)


# --- the estimator ---------------------------------------------------------------------------

DTYPES = ("int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64", "bool")


@st.composite
def _matrices(draw, max_side: int = 6):
    """A small matrix of any supported dtype with a random sparsity and NaN pattern."""
    shape = draw(st.tuples(st.integers(1, max_side), st.integers(1, max_side)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if dtype.kind == "b":
        elements = st.booleans()
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -100), min(info.max, 100))
    else:
        elements = st.floats(-1e3, 1e3, width=min(dtype.itemsize * 8, 64))
    # fill=nothing(): every element drawn on its own (not one repeated fill value)
    values = draw(hnp.arrays(dtype, shape, elements=elements, fill=st.nothing()))
    zeros = draw(hnp.arrays(bool, shape, fill=st.nothing()))
    values = np.where(zeros, np.zeros((), dtype=dtype), values).astype(dtype)
    missing = draw(hnp.arrays(bool, shape, fill=st.nothing())) & draw(st.booleans())
    kind = draw(st.sampled_from(["dense", "csr", "csc", "coo", "frame", "mask"]))
    return values, missing, kind


def _as_input(values: np.ndarray, missing: np.ndarray, kind: str):
    """The matrix as ``fit`` receives it, and the mask argument."""
    if kind in ("mask", "csr", "csc", "coo") and values.dtype == np.float16:
        values = values.astype(np.float32)  # scipy.sparse has no float16
    if kind == "mask":
        return sp.csr_matrix(values), sp.csr_matrix(missing)
    if missing.any():
        values = values.astype(np.float64)
        values[missing] = np.nan
    if kind == "frame":
        return pd.DataFrame(values), None
    if kind in ("csr", "csc", "coo"):
        return getattr(sp, f"{kind}_matrix")(values), None
    return values, None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(matrix=_matrices(max_side=12), extra_inf=st.booleans())
def test_prepare_matrix_keeps_observed_values_and_the_missing_pattern(matrix, extra_inf):
    values, missing, kind = matrix
    if extra_inf and values.dtype.kind == "f":
        values = values.copy()
        values.flat[0] = np.inf
    X, mask = _as_input(values, missing, kind)
    try:
        prepared = prepare_matrix(X, mask=mask)
    except ValueError as error:
        _assert_own_error(error)
        infinite_observed = np.isinf(values.astype(np.float64)) & ~missing
        assert infinite_observed.any() or missing.all(), error
        return
    dense = prepared.matrix.toarray()
    expected_missing = missing | np.isnan(values.astype(np.float64))
    pattern = (
        np.zeros(values.shape, bool) if prepared.missing is None else prepared.missing.toarray()
    )
    np.testing.assert_array_equal(pattern, expected_missing)
    assert (dense[expected_missing] == 0).all()
    expected = values.astype(np.float64).astype(np.float32)
    np.testing.assert_array_equal(dense[~expected_missing], expected[~expected_missing])


# Fits are slow to shrink (minutes): failures are reported as found, then made regressions.
@settings(FEW, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    matrix=_matrices(),
    k=st.integers(1, 3),
    l_=st.integers(1, 3),
    likelihood=st.sampled_from(["auto", *LIKELIHOODS]),
    estimator=st.sampled_from(["dreg", "iwae", "elbo"]),
)
def test_estimator_on_random_small_matrices(matrix, k, l_, likelihood, estimator):
    values, missing, kind = matrix
    X, mask = _as_input(values, missing, kind)
    model = ckit.CoclusterVAE(
        k, l_, likelihood=likelihood, estimator=estimator, random_state=0, **TINY_FIT
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no silent overflow / 0-division
            model.fit(X, mask=mask)
    except ValueError as error:
        _assert_own_error(error)
        return
    n_rows, n_cols = values.shape
    assert model.row_labels_.shape == (n_rows,) and model.column_labels_.shape == (n_cols,)
    assert 0 <= model.row_labels_.min() and model.row_labels_.max() < k
    assert 0 <= model.column_labels_.min() and model.column_labels_.max() < l_
    for proba in (model.row_proba_, model.column_proba_):
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-4)
    assert np.isfinite(model.row_embedding_).all() and np.isfinite(model.column_embedding_).all()
    filled = model.impute(X, mask=mask)
    filled = filled.toarray() if sp.issparse(filled) else np.asarray(filled)
    assert np.isfinite(filled).all()
    observed = ~(missing | np.isnan(values.astype(np.float64)))
    np.testing.assert_array_equal(filled[observed], values.astype(np.float64)[observed])


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_adapters_name_the_file_for_an_empty_one(suffix):
    """A regular regression check beside the properties: 0 bytes is an AdapterError."""
    path = _write(suffix, b"")
    with pytest.raises(AdapterError, match="source"):
        ckit.adapters.read(path)


@MANY
@given(matrix=_matrices(), as_layer=st.booleans(), n_top_genes=st.sampled_from([None, 2]))
def test_anndata_adapter_and_tl_checks_on_random_anndata(matrix, as_layer, n_top_genes):
    """Random AnnData (dtypes, sparsity, NaN): read and checked for tl, or the project's error."""
    values, missing, kind = matrix
    X, _ = _as_input(values, missing, "csr" if kind in ("csc", "coo", "mask") else kind)
    if isinstance(X, pd.DataFrame):
        X = X.to_numpy()
    adata = ad.AnnData(X=np.zeros(values.shape, np.float32) if as_layer else X)
    if as_layer:
        adata.layers["counts"] = X
    options = {} if n_top_genes is None else {"n_top_genes": n_top_genes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            read = ckit.adapters.read(adata, adapter="anndata", **options)
        except AdapterError as error:
            assert str(error)
            return
    assert read.uns["ckit_source"]["layer"] == ("counts" if as_layer else "")
    if read.uns["ckit_source"]["likelihood"] == "negative_binomial":  # counts, NaN = missing
        given = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
        observed = given[~np.isnan(given)]
        assert (observed >= 0).all() and (observed == np.round(observed)).all()
    _fit_input_or_value_error(read)


# --- regressions of what the properties found -----------------------------------------------


def test_kmeans_init_with_fewer_distinct_points_than_components():
    """Duplicate latents (e.g. identical empty columns) left a k-means cluster empty: its mean
    was NaN (RuntimeWarning "Mean of empty slice") and its weight 0, and training then failed in
    torch.distributions with NaN probabilities."""
    latent = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 2.0]])
    for method in ("kmeans", "gmm"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            weights, means, variances = fit_mixture(latent, 3, method=method, seed=0)
        assert np.isfinite(means).all() and np.isfinite(variances).all()
        assert (weights > 0).all() and weights.sum() == pytest.approx(1.0)
    X = np.array([[0, 62, 0], [0, 0, 0], [0, 0, 0]], dtype=np.int8)
    model = ckit.CoclusterVAE(1, 3, likelihood="gaussian", random_state=0, **TINY_FIT).fit(X)
    assert np.isfinite(model.column_proba_).all()


def test_sparse_impute_keeps_observed_values_exactly():
    """impute() on sparse input returned observed values rounded through float32 (1e-300 → 0)."""
    X = np.array([[1e-300, 2.0, 0.0], [3.0, np.nan, 1.0 + 1e-12], [0.5, 4.0, 2.0]])
    model = ckit.CoclusterVAE(2, 2, random_state=0, **TINY_FIT).fit(X)
    filled = model.impute(sp.csr_matrix(X))
    assert sp.issparse(filled) and filled.dtype == np.float64
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled.toarray()[observed], X[observed])
    assert np.isfinite(filled[1, 1])


def _few_varying_counts(n_varying: int, nan: bool = False) -> ad.AnnData:
    counts = np.ones((20, 8), dtype=np.float32)
    counts[:, :n_varying] = np.random.default_rng(0).poisson(2.0, (20, n_varying))
    if nan:
        counts[0, 0] = np.nan
    return ad.AnnData(X=counts)


def test_seurat_v3_with_too_few_varying_genes_is_an_adapter_error_not_a_crash():
    """scikit-misc's loess (hvg_flavor='seurat_v3') killed the interpreter with a segmentation
    fault when 3 or fewer genes vary; found with 1-3 gene AnnData by the property above."""
    pytest.importorskip("skmisc")
    adata = _few_varying_counts(3)
    with pytest.raises(AdapterError, match="at least 4 genes.*has 3.*hvg_flavor='seurat'"):
        ckit.adapters.read(adata, n_top_genes=2, hvg_flavor="seurat_v3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = ckit.adapters.read(adata, n_top_genes=2)  # "auto" falls back to seurat
    assert read.uns["ckit_source"]["hvg_flavor_used"] == "seurat" and read.n_vars < 8


def test_gene_selection_on_small_integer_counts_does_not_crash():
    """int8 counts overflowed in scanpy's mean/variance; seurat_v3's loess then segfaulted on
    the NaN logarithms (found by the random-AnnData property)."""
    pytest.importorskip("skmisc")
    counts = np.array([[13, 14, 27, 0], [0, 0, 7, 18]], dtype=np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            read = ckit.adapters.read(ad.AnnData(X=counts), n_top_genes=2)
        except AdapterError as error:  # loess may refuse four points; it must not crash
            assert "highly-variable-gene selection" in str(error)
        else:
            assert read.n_vars == 2


def test_gene_selection_refuses_missing_entries():
    """Counts with NaN are counts (NaN = missing) but HVG selection cannot read NaN."""
    adata = _few_varying_counts(8, nan=True)
    assert ckit.adapters.read(adata).uns["ckit_source"]["likelihood"] == "negative_binomial"
    with pytest.raises(AdapterError, match="missing \\(NaN\\).*n_top_genes unset"):
        ckit.adapters.read(adata, n_top_genes=2)
