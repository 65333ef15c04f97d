"""The ``likelihood="auto"`` rule (``resolve_likelihood``) and the explicit likelihood checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from cocluster_kit.model._validation import (
    looks_log_normalised,
    prepare_matrix,
    resolve_likelihood,
)


def _resolve(dense, likelihood="auto"):
    return resolve_likelihood(prepare_matrix(dense), likelihood)


def test_auto_likelihood_rule():
    rng = np.random.default_rng(13)
    binary = (rng.random((20, 10)) < 0.7).astype(float)
    assert _resolve(binary) == "bernoulli"  # dense binary
    # Sparse binary data (which words occur) are bags of words: multinomial.
    assert _resolve((rng.random((20, 10)) < 0.2).astype(float)) == "multinomial"
    sparse_counts = rng.poisson(3.0, (20, 10)) * (rng.random((20, 10)) < 0.2)
    assert (sparse_counts > 1).any()
    assert _resolve(sparse_counts.astype(float)) == "multinomial"
    dense_counts = rng.poisson(5.0, (20, 10)) + 1
    assert _resolve(dense_counts.astype(float)) == "negative_binomial"
    assert _resolve(rng.normal(size=(20, 10))) == "gaussian"
    assert _resolve(dense_counts + 0.5) == "gaussian"  # non-integer
    # Sparse non-negative weights (TF-IDF-like) are compositions too.
    weights = sparse_counts * rng.uniform(0.1, 2.0, (20, 10))
    assert _resolve(weights) == "multinomial"
    assert _resolve(weights - 1.0) == "gaussian"  # negative values
    assert _resolve(-dense_counts.astype(float)) == "gaussian"  # negative integers
    with_nan = binary.copy()
    with_nan[0, 0] = np.nan
    assert _resolve(with_nan) == "bernoulli"  # NaN is missing, not a value


def _sparse_counts(seed=3, shape=(200, 300), density=0.15):
    rng = np.random.default_rng(seed)
    counts = sp.random(shape[0], shape[1], density=density, format="csr", random_state=seed)
    counts.data = rng.poisson(2.0, counts.nnz) + 1.0
    return counts


def _log_normalised(counts, target_sum, log):
    size_factors = target_sum / np.asarray(counts.sum(axis=1)).ravel()
    scaled = sp.csr_matrix(sp.diags(size_factors) @ counts)
    scaled.data = log(1.0 + scaled.data)
    return scaled


@pytest.mark.parametrize(
    ("target_sum", "log", "dtype"),
    [
        (1e4, np.log, np.float32),  # scanpy's normalize_total + log1p, stored as float32
        (1e6, np.log2, np.float64),  # log2(CPM + 1)
        (1e4, np.log10, np.float32),
    ],
)
def test_auto_likelihood_reads_log_normalised_counts_as_gaussian(target_sum, log, dtype):
    counts = _sparse_counts()
    log_values = _log_normalised(counts, target_sum, log).astype(dtype)
    assert looks_log_normalised(prepare_matrix(log_values).matrix)
    assert _resolve(log_values) == "gaussian"
    assert _resolve(counts) == "multinomial"  # the counts themselves stay compositions


def test_auto_likelihood_keeps_tfidf_weights_multinomial():
    from sklearn.feature_extraction.text import TfidfTransformer

    counts = _sparse_counts()
    for transformer in (TfidfTransformer(), TfidfTransformer(norm=None, sublinear_tf=True)):
        weights = transformer.fit_transform(counts)
        assert not looks_log_normalised(prepare_matrix(weights).matrix)
        assert _resolve(weights) == "multinomial"
    # Log values whose rows were scaled column by column are not log-normalised counts.
    column_scaled = sp.csr_matrix(counts @ sp.diags(np.linspace(0.5, 3.0, counts.shape[1])))
    column_scaled.data = np.log1p(column_scaled.data)
    assert _resolve(column_scaled) == "multinomial"
    # Too few values to tell: the rule does not fire.
    assert not looks_log_normalised(prepare_matrix(np.log1p([[0.0, 1.0, 2.0]])).matrix)


def test_auto_likelihood_on_pbmc68k_reduced_raw_is_gaussian():
    sc = pytest.importorskip("scanpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = sc.datasets.pbmc68k_reduced()
    assert _resolve(adata.raw.X) == "gaussian"  # log expression, sparse (33 % nonzero)


@pytest.mark.parametrize("name", ["poisson", "negative_binomial", "multinomial"])
def test_count_likelihood_on_negative_data_raises(name):
    data = np.array([[1.0, -2.0], [0.0, 3.0]])
    with pytest.raises(ValueError, match=name):
        _resolve(data, name)
    assert _resolve(np.abs(data), name) == name


def test_explicit_likelihoods_checked():
    with pytest.raises(ValueError, match="gaussian"):
        _resolve(np.ones((2, 2)), "gamma")
    with pytest.raises(ValueError, match="bernoulli"):
        _resolve(np.array([[0.0, 2.0], [1.0, 1.0]]), "bernoulli")
    assert _resolve(np.array([[0.0, 2.0], [1.0, 1.0]]), "gaussian") == "gaussian"
