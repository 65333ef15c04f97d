"""Planted co-clusters (make_coclusters) and the bundled pbmc68k_reduced example."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cocluster_kit.datasets import make_coclusters, pbmc68k_reduced


def test_dense_shapes_labels_and_planted_means():
    X, rows, columns = make_coclusters((90, 40), 3, 4, noise=0.1, random_state=0)
    assert isinstance(X, np.ndarray) and X.shape == (90, 40) and X.dtype == np.float64
    assert rows.shape == (90,) and columns.shape == (40,)
    assert rows.dtype == np.int64 and columns.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(rows), [30, 30, 30])
    np.testing.assert_array_equal(np.bincount(columns), [10, 10, 10, 10])
    assert not np.array_equal(rows, np.sort(rows))  # shuffled, not contiguous
    means = np.array([[X[rows == r][:, columns == c].mean() for c in range(4)] for r in range(3)])
    # Twelve distinct levels evenly spaced in [-2, 2]; noise 0.1 barely moves the means.
    np.testing.assert_allclose(np.sort(means.ravel()), np.linspace(-2, 2, 12), atol=0.05)
    assert np.unique(means.round(1), axis=0).shape[0] == 3  # distinct row profiles


def test_seeded_and_noise_scales_spread():
    first = make_coclusters((30, 20), 2, 2, random_state=3)
    second = make_coclusters((30, 20), 2, 2, random_state=3)
    other = make_coclusters((30, 20), 2, 2, random_state=4)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    X, rows, columns = make_coclusters((200, 100), 2, 2, noise=2.0, random_state=0)
    residual = X - np.array([[X[rows == r][:, columns == c].mean() for c in columns] for r in rows])
    assert residual.std() == pytest.approx(2.0, rel=0.05)


def test_sparse_counts_are_csr_with_a_sparse_pattern():
    X, rows, columns = make_coclusters((120, 80), 3, 2, sparse=True, random_state=0)
    assert sp.isspmatrix_csr(X) and X.shape == (120, 80)
    assert np.all(X.data > 0) and np.all(X.data == np.round(X.data))
    assert 0.05 < X.nnz / (120 * 80) < 0.8
    block_means = np.array(
        [[X[rows == r][:, columns == c].mean() for c in range(2)] for r in range(3)]
    )
    assert len(np.unique(block_means.round(2))) == 6  # every block has its own rate


def test_missing_entries_dense_and_sparse():
    X, _, _ = make_coclusters((50, 40), 2, 2, missing=0.1, random_state=0)
    assert np.isnan(X).sum() == 200
    S, _, _ = make_coclusters((50, 40), 2, 2, sparse=True, missing=0.1, random_state=0)
    assert sp.isspmatrix_csr(S)
    assert np.isnan(S.data).sum() == 200  # stored explicitly as NaN
    assert np.all(S.data[~np.isnan(S.data)] > 0)
    complete, _, _ = make_coclusters((50, 40), 2, 2, sparse=True, random_state=0)
    assert S.nnz > np.isnan(S.data).sum()
    assert complete.nnz >= S.nnz - 200


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (((10,), 2, 2), {}, "pair"),
        (((10, 5), 0, 2), {}, "n_row_clusters"),
        (((10, 5), 2, 6), {}, "n_col_clusters=6 is more"),
        (((10, 5), 2, 2), {"noise": -1.0}, "noise"),
        (((10, 5), 2, 2), {"missing": 1.0}, "missing"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_coclusters(*args, **kwargs)


def test_pbmc68k_reduced_is_bundled_with_labels():
    adata = pbmc68k_reduced()
    assert adata.shape == (700, 765)
    assert adata.obs["bulk_labels"].nunique() == 10
    assert "X_pca" in adata.obsm and adata.raw is not None
    assert adata.raw.to_adata().shape == (700, 765)
