"""Data views, sketch, cell sampler, block means and input validation against dense numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from cocluster_kit.data import (
    CoclusterData,
    MatrixView,
    SketchView,
    column_sketch,
    sample_block_cells,
)
from cocluster_kit.model._fit import block_means
from cocluster_kit.model._validation import prepare_matrix

# --------------------------------------------------------------------------------------------
# helpers (independent dense computations)


def _counts_with_missing(seed: int = 0, shape: tuple[int, int] = (9, 7)):
    """Dense counts, a missing pattern, and the CSR the library stores (missing not stored)."""
    rng = np.random.default_rng(seed)
    dense = rng.poisson(1.2, size=shape).astype(np.float64)
    missing = rng.random(shape) < 0.2
    missing[0, 0] = True
    missing[1, :] = False
    matrix = sp.csr_matrix(np.where(missing, 0.0, dense).astype(np.float32))
    return dense, missing, matrix, sp.csr_matrix(missing)


def _dense_tfidf(values: np.ndarray, idf: np.ndarray) -> np.ndarray:
    weighted = np.log1p(values) * idf
    norm = np.sqrt((weighted**2).sum(1, keepdims=True))
    return weighted / np.where(norm > 0, norm, 1.0)


def _dense_idf(dense: np.ndarray, missing: np.ndarray) -> np.ndarray:
    observed = ~missing
    n_observed = observed.sum(0)
    document_frequency = ((dense != 0) & observed).sum(0)
    return np.log((1.0 + n_observed) / (1.0 + document_frequency)) + 1.0


def _signs(n_rows: int, size: int, seed: int, chunk_rows: int) -> np.ndarray:
    """The sign matrix R as column_sketch documents it: one generator per chunk of rows."""
    blocks = []
    for chunk_number, start in enumerate(range(0, n_rows, chunk_rows)):
        length = min(chunk_rows, n_rows - start)
        generator = np.random.default_rng([seed, chunk_number])
        blocks.append(generator.integers(0, 2, size=(length, size), dtype=np.int8) * 2 - 1)
    return np.concatenate(blocks).astype(np.float64)


def _standardised(dense_with_nan: np.ndarray) -> np.ndarray:
    mean = np.nanmean(dense_with_nan, axis=0)
    std = np.nanstd(dense_with_nan, axis=0)
    std = np.where(std > 0, std, 1.0)
    return np.nan_to_num((dense_with_nan - mean) / std, nan=0.0)


def _row_standardised(dense_with_nan: np.ndarray) -> np.ndarray:
    """Each row standardised over its observed entries, missing ones 0: the sketch's values."""
    return _standardised(dense_with_nan.T).T


def _gaussian_with_nan(seed: int = 1, shape: tuple[int, int] = (12, 6)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.normal(rng.normal(0, 3, shape[1]), rng.uniform(0.5, 4, shape[1]), size=shape)
    dense[rng.random(shape) < 0.25] = np.nan
    dense[:, 2] = np.where(np.isnan(dense[:, 2]), np.nan, 1.5)  # a constant column
    dense[0, 2] = np.nan
    return dense


# --------------------------------------------------------------------------------------------
# MatrixView


def test_matrix_view_batch_matches_dense_tfidf():
    dense, missing, matrix, missing_csr = _counts_with_missing()
    view = MatrixView(matrix, missing_csr, input_transform="tfidf")
    index = np.array([4, 0, 7, 1])
    batch = view.batch(index)
    expected_target = np.where(missing, 0.0, dense)[index]
    np.testing.assert_array_equal(batch.index.numpy(), index)
    np.testing.assert_allclose(batch.target.numpy(), expected_target, rtol=1e-6)
    np.testing.assert_array_equal(batch.mask.numpy(), ~missing[index])
    idf = _dense_idf(dense, missing)
    np.testing.assert_allclose(view.idf, idf, rtol=1e-6)
    np.testing.assert_allclose(
        batch.encoder_input.numpy(), _dense_tfidf(expected_target, idf), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        batch.offset.numpy(), np.where(missing, 0.0, dense).sum(1)[index], rtol=1e-6
    )


def test_matrix_view_affine_scaling_and_missing_zero():
    dense, missing, matrix, missing_csr = _counts_with_missing(seed=3)
    rng = np.random.default_rng(4)
    shift = rng.normal(size=dense.shape[1])
    scale = rng.uniform(0.5, 2.0, size=dense.shape[1])
    view = MatrixView(
        matrix, missing_csr, input_transform="standardize", feature_shift=shift, feature_scale=scale
    )
    index = np.arange(dense.shape[0])
    batch = view.batch(index)
    expected = np.where(missing, 0.0, (dense - shift) / scale)
    np.testing.assert_allclose(batch.target.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batch.encoder_input.numpy(), expected, rtol=1e-5, atol=1e-6)

    assert batch.mask is not None


def test_gaussian_sides_standardise_their_own_features():
    """Rows read each column standardised; columns read each row standardised, so a column's
    own level (which separates column clusters) is kept."""
    rng = np.random.default_rng(7)
    dense = rng.normal(3.0, 2.0, size=(30, 12)) + np.arange(12)  # columns differ in level
    data = CoclusterData(
        sp.csr_matrix(dense), None, likelihood="gaussian", input_transform="standardize"
    )
    columns = data.columns.batch(np.arange(12)).target.numpy()
    # standardising each column as an item would make every column mean exactly 0
    assert np.ptp(columns.mean(1)) > 2.0


def test_matrix_view_like_reuses_training_idf_and_scaling():
    dense, missing, matrix, missing_csr = _counts_with_missing(seed=5)
    shift = dense.mean(0)
    scale = dense.std(0) + 0.5
    train = MatrixView(
        matrix, missing_csr, input_transform="tfidf", feature_shift=shift, feature_scale=scale
    )
    rng = np.random.default_rng(6)
    new_dense = rng.poisson(4.0, size=(5, dense.shape[1])).astype(np.float64)
    new_dense[:, 0] = 0.0  # a very different document frequency than in training
    new = train.like(sp.csr_matrix(new_dense.astype(np.float32)), None)
    np.testing.assert_array_equal(new.idf, train.idf)
    assert not np.allclose(new.idf, _dense_idf(new_dense, np.zeros_like(new_dense, bool)))
    batch = new.batch(np.arange(5))
    expected_target = (new_dense - shift) / scale
    np.testing.assert_allclose(batch.target.numpy(), expected_target, rtol=1e-5, atol=1e-6)
    expected_input = _dense_tfidf(np.clip(expected_target, 0, None), _dense_idf(dense, missing))
    np.testing.assert_allclose(batch.encoder_input.numpy(), expected_input, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# CoclusterData


def test_gaussian_data_standardised_on_observed_entries_both_views():
    dense = _gaussian_with_nan()
    prepared = prepare_matrix(dense)
    data = CoclusterData(
        prepared.matrix, prepared.missing, likelihood="gaussian", input_transform="standardize"
    )
    expected = _standardised(dense)
    np.testing.assert_allclose(data.column_shift, np.nanmean(dense, 0), rtol=1e-5, atol=1e-6)
    rows = data.rows.batch(np.arange(dense.shape[0]))
    np.testing.assert_allclose(rows.target.numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(rows.mask.numpy(), ~np.isnan(dense))
    assert not data.uses_sketch
    assert isinstance(data.columns, MatrixView)
    column_index = np.array([3, 0, 2])
    columns = data.columns.batch(column_index)
    by_row = _standardised(dense.T).T  # the column side standardises each row (its features)
    np.testing.assert_allclose(columns.target.numpy(), by_row.T[column_index], atol=1e-5)
    np.testing.assert_array_equal(columns.mask.numpy(), ~np.isnan(dense).T[column_index])
    np.testing.assert_allclose(columns.encoder_input.numpy(), by_row.T[column_index], atol=1e-5)


def test_count_data_keeps_values():
    dense, missing, matrix, missing_csr = _counts_with_missing(seed=7)
    data = CoclusterData(matrix, missing_csr, likelihood="poisson", input_transform="tfidf")
    assert data.is_count and data.column_shift is None
    observed = np.where(missing, 0.0, dense)
    np.testing.assert_allclose(data.rows.batch(np.arange(9)).target.numpy(), observed)
    np.testing.assert_allclose(data.columns.batch(np.arange(7)).target.numpy(), observed.T)
    np.testing.assert_allclose(data.row_totals, observed.sum(1))
    np.testing.assert_allclose(data.column_totals, observed.sum(0))


# --------------------------------------------------------------------------------------------
# column sketch


@pytest.mark.parametrize("chunk_rows", [4, 2048])
def test_column_sketch_equals_dense_product(chunk_rows):
    dense = _gaussian_with_nan(seed=8, shape=(11, 5))
    prepared = prepare_matrix(dense)
    data = CoclusterData(
        prepared.matrix, prepared.missing, likelihood="gaussian", input_transform="standardize"
    )
    size, seed = 16, 42
    assert data.rows.feature_shift is not None  # the row view scales per column; not the sketch
    options = {"size": size, "seed": seed, "value_map": "standardize", "chunk_rows": chunk_rows}
    sketch = column_sketch(prepared.matrix, prepared.missing, **options)
    signs = _signs(dense.shape[0], size, seed, chunk_rows)
    expected = _row_standardised(dense).T @ signs / np.sqrt(size)
    assert sketch.shape == (5, size)
    np.testing.assert_allclose(sketch, expected, rtol=1e-4, atol=1e-5)
    other_seed = column_sketch(prepared.matrix, prepared.missing, **{**options, "seed": seed + 1})
    assert not np.allclose(other_seed, sketch)
    raw = column_sketch(prepared.matrix, prepared.missing, **{**options, "value_map": "none"})
    np.testing.assert_allclose(raw, np.nan_to_num(dense).T @ signs / np.sqrt(size), rtol=1e-4)
    with pytest.raises(ValueError, match="value_map must be one of"):
        column_sketch(prepared.matrix, None, size=4, seed=0, value_map="tfidf")


def test_sketch_keeps_the_level_of_each_column():
    # Two groups of columns with the same shape over the rows and different levels: a
    # per-column standardisation would make them identical; the sketch must not.
    rng = np.random.default_rng(0)
    shape = rng.normal(size=(40, 1))
    dense = np.hstack([shape + 5.0 + 0.01 * rng.normal(size=(40, 3)), shape - 5.0])
    sketch = column_sketch(sp.csr_matrix(dense), None, size=16, seed=1, value_map="standardize")
    within = np.linalg.norm(sketch[0] - sketch[1])
    between = np.linalg.norm(sketch[0] - sketch[3])
    assert between > 20 * within


@pytest.mark.parametrize("sketch_size", [6, 64])
def test_cocluster_data_uses_sketch_above_threshold(sketch_size):
    dense = _gaussian_with_nan(seed=9, shape=(20, 5))
    prepared = prepare_matrix(dense)
    data = CoclusterData(
        prepared.matrix,
        prepared.missing,
        likelihood="gaussian",
        input_transform="standardize",
        sketch_threshold=10,
        sketch_size=sketch_size,
        seed=3,
    )
    width = min(sketch_size, dense.shape[0])
    assert data.uses_sketch
    assert isinstance(data.columns, SketchView)
    assert data.columns.n_features == width and data.columns.n_items == 5
    assert data.column_likelihood == "gaussian"
    expected = _row_standardised(dense).T @ _signs(20, width, 3, 2048) / np.sqrt(width)
    expected = expected / np.sqrt(np.mean(expected**2))  # the view rescales to unit RMS
    batch = data.columns.batch(np.array([4, 1]))
    np.testing.assert_allclose(batch.target.numpy(), expected[[4, 1]], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(batch.encoder_input.numpy(), batch.target.numpy())
    assert batch.mask is None
    below = CoclusterData(
        prepared.matrix,
        prepared.missing,
        likelihood="gaussian",
        input_transform="standardize",
        sketch_threshold=20,
    )
    assert not below.uses_sketch and isinstance(below.columns, MatrixView)


# --------------------------------------------------------------------------------------------
# cell sampler


def _block(seed: int = 10, shape: tuple[int, int] = (8, 9)):
    rng = np.random.default_rng(seed)
    values = rng.poisson(0.8, size=shape).astype(np.float64) * rng.choice([1.0, 2.5], size=shape)
    observed = rng.random(shape) < 0.75
    return torch.as_tensor(values), torch.as_tensor(observed)


def test_sampler_draws_only_observed_cells_half_nonzero():
    block, observed = _block()
    n_observed_nonzero = int(((block != 0) & observed).sum())
    n_observed_zero = int(((block == 0) & observed).sum())
    assert n_observed_nonzero >= 6 and n_observed_zero >= 6
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        cells = sample_block_cells(block, observed, 12, generator=generator)
        assert len(cells.value) == 12
        assert observed[cells.row_position, cells.column_position].all()
        np.testing.assert_array_equal(
            cells.value.numpy(), block[cells.row_position, cells.column_position].numpy()
        )
        assert int((cells.value != 0).sum()) == 6
        flat = (cells.row_position * block.shape[1] + cells.column_position).tolist()
        assert len(set(flat)) == len(flat)  # without replacement
        assert cells.block_size == block.numel()


def test_sampler_is_unbiased():
    block, observed = _block(seed=11)
    observed_values = block[observed].numpy()
    generator = torch.Generator().manual_seed(1)
    draws_v, draws_1 = [], []
    for _ in range(3000):
        cells = sample_block_cells(block, observed, 8, generator=generator)
        draws_v.append(float((cells.weight * cells.value).sum()))
        draws_1.append(float(cells.weight.sum()))
    draws_v = np.asarray(draws_v)
    standard_error = draws_v.std(ddof=1) / np.sqrt(len(draws_v))
    assert standard_error > 0
    assert abs(draws_v.mean() - observed_values.sum()) < 4 * standard_error
    np.testing.assert_allclose(draws_1, observed_values.size, rtol=1e-6)


def test_sampler_without_mask_and_small_strata():
    # fewer nonzeros than half the budget: the zero stratum takes the rest
    block = torch.zeros(4, 5)
    block[0, 1] = 3.0
    block[2, 4] = 1.0
    cells = sample_block_cells(block, None, 10, generator=torch.Generator().manual_seed(2))
    assert len(cells.value) == 10
    assert int((cells.value != 0).sum()) == 2
    assert float(cells.weight.sum()) == pytest.approx(20.0)
    assert float((cells.weight * cells.value).sum()) == pytest.approx(4.0)


def test_sampler_empty_blocks():
    generator = torch.Generator().manual_seed(3)
    block = torch.ones(3, 4)
    cells = sample_block_cells(block, torch.zeros(3, 4, dtype=torch.bool), 5, generator=generator)
    assert len(cells.value) == len(cells.weight) == len(cells.row_position) == 0
    assert len(cells.column_position) == 0 and cells.block_size == 12
    cells = sample_block_cells(torch.zeros(0, 4), None, 5, generator=generator)
    assert len(cells.value) == 0 and cells.block_size == 0


# --------------------------------------------------------------------------------------------
# block means


def test_block_means_equals_dense_nanmean():
    rng = np.random.default_rng(12)
    dense = rng.normal(size=(10, 8))
    dense[rng.random(dense.shape) < 0.3] = np.nan
    dense[rng.random(dense.shape) < 0.2] = 0.0  # real zeros are observed, not missing
    row_labels = np.array([0, 1, 1, 0, 2, 2, 0, 1, 2, 0])
    column_labels = np.array([1, 0, 2, 1, 0, 0, 2, 1])
    k, l_ = 4, 4  # row cluster 3 and column cluster 3 are empty
    dense[np.ix_(row_labels == 2, column_labels == 2)] = np.nan  # an all-missing block
    got = block_means(prepare_matrix(dense), row_labels, column_labels, k, l_)
    expected = np.full((k, l_), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in range(k):
            for b in range(l_):
                cells = dense[np.ix_(row_labels == a, column_labels == b)]
                if cells.size:
                    expected[a, b] = np.nanmean(cells)
    assert np.isnan(got[2, 2]) and np.isnan(got[3]).all() and np.isnan(got[:, 3]).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# prepare_matrix (the likelihood rule: test_likelihood_rule.py)


def test_prepare_dense_nan_is_missing_not_zero():
    dense = np.array([[1.0, np.nan, 0.0], [np.nan, 2.0, 3.0]])
    prepared = prepare_matrix(dense)
    np.testing.assert_array_equal(prepared.missing.toarray(), np.isnan(dense))
    np.testing.assert_array_equal(prepared.matrix.toarray(), np.nan_to_num(dense))
    assert prepared.matrix.dtype == np.float32
    assert prepared.matrix.nnz == 3  # neither NaN nor the zero is stored
    assert prepare_matrix(np.ones((2, 2))).missing is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prepare_sparse_nan_is_missing(dtype):
    dense = np.array([[1.0, np.nan, 0.0, 4.0], [0.0, 2.0, np.nan, 3.0]])
    prepared = prepare_matrix(sp.csr_matrix(dense.astype(dtype)))
    np.testing.assert_array_equal(prepared.missing.toarray(), np.isnan(dense))
    np.testing.assert_array_equal(prepared.matrix.toarray(), np.nan_to_num(dense))


def test_prepare_sparse_leaves_input_unchanged():
    dense = np.array([[1.0, np.nan, 0.0, 4.0], [0.0, 2.0, 5.0, 3.0]])
    X = sp.csr_matrix(dense)
    X.data[X.data == 5.0] = 0.0  # an explicit zero
    before = X.toarray()
    prepare_matrix(X)
    np.testing.assert_array_equal(X.toarray(), before)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_prepare_rejects_infinite(bad):
    with pytest.raises(ValueError, match="infinite"):
        prepare_matrix(np.array([[1.0, bad], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="infinite"):
        prepare_matrix(sp.csr_matrix(np.array([[1.0, bad], [0.0, 1.0]])))


def test_prepare_rejects_1d():
    with pytest.raises(ValueError, match="2-D"):
        prepare_matrix(np.arange(5.0))


def test_prepare_dataframe():
    frame = pd.DataFrame(
        {"a": [1.0, np.nan], "b": [0.0, 2.0]}, index=["r1", "r2"], columns=["a", "b"]
    )
    prepared = prepare_matrix(frame)
    assert prepared.row_names == ["r1", "r2"] and prepared.column_names == ["a", "b"]
    np.testing.assert_array_equal(prepared.missing.toarray(), [[False, False], [True, False]])
    with_text = frame.assign(label=["x", "y"])
    with pytest.raises(ValueError, match="label"):
        prepare_matrix(with_text)


def test_cell_sampler_respects_a_tiny_budget():
    block = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    generator = torch.Generator().manual_seed(0)
    assert len(sample_block_cells(block, None, 1, generator=generator).value) == 1
    assert len(sample_block_cells(block, None, 0, generator=generator).value) == 0
