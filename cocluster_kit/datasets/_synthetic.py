"""``make_coclusters`` and ``make_sparse_coclusters``: seeded matrices with planted co-clusters."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._utils import is_positive_int

# Rows generated at a time in sparse mode, so no dense n x m array is ever allocated.
_CHUNK_ENTRIES = 1_000_000


def _balanced_labels(n_items: int, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Labels with cluster sizes differing by at most one, in random order."""
    return rng.permutation(np.arange(n_items) % n_clusters)


def _check_count(name: str, value, limit: int | None = None) -> int:
    if not is_positive_int(value):
        raise ValueError(f"{name}={value!r} must be a positive integer.")
    if limit is not None and value > limit:
        raise ValueError(f"{name}={value} is more than the {limit} items to split.")
    return int(value)


def make_coclusters(
    shape: tuple[int, int],
    n_row_clusters: int,
    n_col_clusters: int,
    *,
    noise: float = 1.0,
    sparse: bool = False,
    missing: float = 0.0,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray, np.ndarray]:
    """A matrix whose entries depend on the (row cluster, column cluster) block they lie in.

    Rows and columns are split into clusters of equal size (up to one), in random order.
    Every block ``(r, c)`` gets its own level, the ``K * L`` levels evenly spaced and
    shuffled, so that no two row clusters (or column clusters) share a profile.

    - Dense (``sparse=False``): ``x_ij = mean[r, c] + noise * N(0, 1)``, with the block means
      evenly spaced in ``[-2, 2]``.
    - Sparse (``sparse=True``): counts ``x_ij ~ Poisson(rate[r, c] * g_ij)`` with the block
      rates spaced geometrically in ``[0.05, 2]`` (most entries are zero) and ``g_ij`` a
      Gamma multiplier of mean 1 and coefficient of variation ``noise`` (negative-binomial
      counts; ``noise=0`` gives plain Poisson). Returned as CSR, generated a chunk of rows at
      a time.

    Parameters
    ----------
    shape
        ``(n_rows, n_cols)``.
    n_row_clusters, n_col_clusters
        ``K`` and ``L``.
    noise
        Standard deviation of the Gaussian noise (dense), or coefficient of variation of the
        count multiplier (sparse); non-negative.
    sparse
        Return non-negative counts in a CSR matrix instead of a dense Gaussian array.
    missing
        Fraction of entries, chosen uniformly at random, set to NaN (missing), in ``[0, 1)``.
        With ``sparse=True`` they are stored explicitly as NaN entries of the CSR matrix
        (so they count in ``nnz``), which :class:`cocluster_kit.CoclusterVAE` reads as
        missing, like NaN in a dense array.
    random_state
        Seed or numpy generator; the same seed gives the same matrix and labels.

    Returns
    -------
    X : numpy.ndarray or scipy.sparse.csr_matrix
        ``(n_rows, n_cols)`` float64 matrix.
    row_labels : numpy.ndarray
        ``(n_rows,)`` int64 planted row clusters ``0 .. K-1``.
    column_labels : numpy.ndarray
        ``(n_cols,)`` int64 planted column clusters ``0 .. L-1``.

    Examples
    --------
    >>> from cocluster_kit.datasets import make_coclusters
    >>> X, rows, columns = make_coclusters((100, 50), 4, 3, noise=0.5, random_state=0)
    >>> X.shape, rows.max(), columns.max()
    ((100, 50), np.int64(3), np.int64(2))
    """
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise ValueError(f"shape={shape!r} must be a pair (n_rows, n_cols).")
    n_rows = _check_count("shape[0]", shape[0])
    n_cols = _check_count("shape[1]", shape[1])
    k = _check_count("n_row_clusters", n_row_clusters, n_rows)
    l_ = _check_count("n_col_clusters", n_col_clusters, n_cols)
    if not (isinstance(noise, numbers.Real) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise={noise!r} must be a non-negative number.")
    if not (isinstance(missing, numbers.Real) and 0.0 <= missing < 1.0):
        raise ValueError(f"missing={missing!r} must be a fraction in [0, 1).")
    rng = np.random.default_rng(random_state)
    row_labels = _balanced_labels(n_rows, k, rng).astype(np.int64)
    column_labels = _balanced_labels(n_cols, l_, rng).astype(np.int64)
    order = rng.permutation(k * l_)
    if sparse:
        levels = np.geomspace(0.05, 2.0, k * l_) if k * l_ > 1 else np.array([0.5])
        X = _sparse_counts(levels[order].reshape(k, l_), row_labels, column_labels, noise, rng)
        if missing > 0:
            X = _with_sparse_missing(X, *_missing_positions(X.shape, missing, rng))
        return X, row_labels, column_labels
    levels = np.linspace(-2.0, 2.0, k * l_) if k * l_ > 1 else np.array([0.0])
    means = levels[order].reshape(k, l_)
    X = means[row_labels][:, column_labels] + noise * rng.standard_normal((n_rows, n_cols))
    if missing > 0:
        X[_missing_positions(X.shape, missing, rng)] = np.nan
    return X, row_labels, column_labels


def _sparse_counts(
    rates: np.ndarray,
    row_labels: np.ndarray,
    column_labels: np.ndarray,
    noise: float,
    rng: np.random.Generator,
) -> sp.csr_matrix:
    """Negative-binomial block counts as CSR, a chunk of rows at a time."""
    n_cols = column_labels.size
    chunk_rows = max(1, _CHUNK_ENTRIES // n_cols)
    chunks = []
    for start in range(0, row_labels.size, chunk_rows):
        block_rates = rates[row_labels[start : start + chunk_rows]][:, column_labels]
        if noise > 0:
            shape = 1.0 / noise**2
            block_rates = block_rates * rng.gamma(shape, 1.0 / shape, size=block_rates.shape)
        chunks.append(sp.csr_matrix(rng.poisson(block_rates).astype(np.float64)))
    return sp.vstack(chunks, format="csr")


def _missing_positions(
    shape: tuple[int, int], missing: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of ``round(missing * n * m)`` distinct random entries."""
    n_rows, n_cols = shape
    flat = rng.choice(n_rows * n_cols, size=int(round(missing * n_rows * n_cols)), replace=False)
    return np.divmod(flat, n_cols)


def _with_sparse_missing(X: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    """``X`` with the entries at ``(rows, cols)`` replaced by explicitly stored NaN."""
    pattern = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=X.shape)
    kept = X - X.multiply(pattern)
    kept.eliminate_zeros()
    nan_entries = pattern.copy()
    nan_entries.data[:] = np.nan
    result = (kept + nan_entries).tocsr()
    result.sort_indices()
    return result


def make_sparse_coclusters(
    shape: tuple[int, int],
    n_row_clusters: int,
    n_col_clusters: int,
    *,
    nnz_per_row: int = 50,
    signal: float = 0.8,
    random_state: int | np.random.Generator | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """A large, very sparse count matrix with planted co-clusters (for speed benchmarks).

    Unlike :func:`make_coclusters` (whose every entry has a positive rate), the cost here is
    ``O(n_rows * nnz_per_row)``, so ``10^6 x 2 * 10^4`` matrices take seconds. Row cluster
    ``r`` prefers column cluster ``r mod L``: each of a row's ``nnz_per_row`` draws lands on
    a uniform column of that cluster with probability ``signal``, else on any column; values
    are ``1 + Poisson(2)``, and repeated draws add up.

    Parameters
    ----------
    shape
        ``(n_rows, n_cols)``.
    n_row_clusters, n_col_clusters
        ``K`` and ``L``.
    nnz_per_row
        Draws per row (the stored entries per row, less repeats).
    signal
        Share of the draws that land in the row's preferred column cluster, in ``[0, 1]``.
    random_state
        Seed or numpy generator.

    Returns
    -------
    X : scipy.sparse.csr_matrix
        ``float32`` counts.
    row_labels, column_labels : numpy.ndarray
        Planted clusters, int64.
    """
    n_rows = _check_count("shape[0]", shape[0])
    n_cols = _check_count("shape[1]", shape[1])
    k = _check_count("n_row_clusters", n_row_clusters, n_rows)
    l_ = _check_count("n_col_clusters", n_col_clusters, n_cols)
    draws = _check_count("nnz_per_row", nnz_per_row)
    if not 0.0 <= signal <= 1.0:
        raise ValueError(f"signal={signal!r} must be in [0, 1].")
    rng = np.random.default_rng(random_state)
    row_labels = _balanced_labels(n_rows, k, rng).astype(np.int64)
    column_labels = _balanced_labels(n_cols, l_, rng).astype(np.int64)
    members = [np.flatnonzero(column_labels == c) for c in range(l_)]
    chunks = []
    step = max(1, _CHUNK_ENTRIES // draws)
    for start in range(0, n_rows, step):
        rows = np.arange(start, min(start + step, n_rows))
        preferred = np.repeat(row_labels[rows] % l_, draws)
        columns = rng.integers(0, n_cols, preferred.size)
        in_cluster = rng.random(preferred.size) < signal
        for c in range(l_):
            chosen = in_cluster & (preferred == c)
            columns[chosen] = members[c][rng.integers(0, members[c].size, int(chosen.sum()))]
        values = (1.0 + rng.poisson(2.0, preferred.size)).astype(np.float32)
        chunk = sp.csr_matrix(
            (values, (np.repeat(rows - start, draws), columns)), shape=(rows.size, n_cols)
        )
        chunk.sum_duplicates()
        chunks.append(chunk)
    return sp.vstack(chunks, format="csr"), row_labels, column_labels
