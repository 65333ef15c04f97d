"""Missing values end to end: NaN, explicit masks, and nothing of a missing entry leaks (#8)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import FAST
from sklearn.datasets import make_checkerboard

import cocluster_kit as ckit
from cocluster_kit import adapters
from cocluster_kit.data import CoclusterData, sample_block_cells
from cocluster_kit.model._validation import prepare_matrix
from cocluster_kit.module import CoclusterModule, Phase
from cocluster_kit.train import BatchSampler

HUGE = 1e30
SMALL = {**FAST, "hidden": (32,), "latent_dim": 4}


def _planted_counts(seed: int = 0, shape: tuple[int, int] = (40, 24)):
    """Poisson counts with 2 x 3 planted blocks and a sparse pattern of missing entries."""
    rng = np.random.default_rng(seed)
    rows, columns = np.repeat([0, 1], shape[0] // 2), np.repeat([0, 1, 2], shape[1] // 3)
    rates = np.array([[5.0, 0.3, 1.0], [0.3, 5.0, 0.5]])
    X = rng.poisson(rates[rows][:, columns]).astype(np.float64)
    missing = rng.random(shape) < 0.15
    return X, sp.csr_matrix(missing), rows, columns


def _with_garbage(X: np.ndarray, missing: sp.csr_matrix, value: float) -> sp.csr_matrix:
    """``X`` as CSR with ``value`` stored at every missing entry."""
    garbage = X.copy()
    garbage[missing.toarray()] = value
    return sp.csr_matrix(garbage)


def test_mask_marks_missing_whatever_is_stored_there():
    X, missing, _, _ = _planted_counts()
    clean = prepare_matrix(np.where(missing.toarray(), np.nan, X))
    for stored in (0.0, HUGE, -HUGE, np.inf, np.nan):
        prepared = prepare_matrix(_with_garbage(X, missing, stored), mask=missing)
        assert (prepared.matrix != clean.matrix).nnz == 0
        assert (prepared.missing != clean.missing).nnz == 0
    # dense masks, dense X, a masked array and NaN all mean the same
    dense = prepare_matrix(_with_garbage(X, missing, HUGE).toarray(), mask=missing.toarray())
    masked = prepare_matrix(np.ma.masked_array(X, mask=missing.toarray()))
    for other in (dense, masked):
        assert (other.matrix != clean.matrix).nnz == 0
        assert (other.missing != clean.missing).nnz == 0
    # the mask adds to NaN entries
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    only_first = sp.csr_matrix(([True], ([1], [1])), shape=X.shape)
    union = prepare_matrix(X_nan, mask=only_first).missing
    assert union.nnz == 2 and union[0, 0] and union[1, 1]


def test_module_likelihoods_and_mi_ignore_values_at_missing_entries():
    """The row, column and cell terms and the MI loss see observed entries only."""
    X, missing, _, _ = _planted_counts(seed=1)
    prepared = prepare_matrix(X, mask=missing)
    for likelihood, mi in (("poisson", "weighted"), ("gaussian", "variance")):
        data = CoclusterData(
            prepared.matrix, prepared.missing, likelihood=likelihood, input_transform="none"
        )
        torch.manual_seed(0)
        module = CoclusterModule(
            n_row_input=24, n_row_features=24, row_likelihood=likelihood,
            n_col_input=40, n_col_features=40, col_likelihood=likelihood,
            n_row_clusters=2, n_col_clusters=3, n_cell_clusters=4, hidden=(8,), mi=mi,
        )  # fmt: skip
        sampler = BatchSampler(
            data, row_batch_size=16, col_batch_size=12, n_cells=30, seed=0, device="cpu"
        )
        batch = sampler.make_batch(np.arange(0, 40, 3), np.arange(0, 24, 2))
        assert batch.rows.mask is not None and not batch.rows.mask.all()
        phase = Phase(estimator="dreg", n_samples=2, mi_weight=1.0, critic_weight=1.0)
        torch.manual_seed(1)
        reference = module(batch, phase).terms
        # Put huge values at the missing entries of what the likelihoods and MI score (a
        # copy: the encoder input, which reads missing entries as 0, may share the memory).
        for side in (batch.rows, batch.columns):
            side.target = side.target.masked_fill(~side.mask, HUGE)
        torch.manual_seed(1)
        corrupted = module(batch, phase).terms
        for name, value in reference.items():
            assert torch.isfinite(value), name
            torch.testing.assert_close(corrupted[name], value, msg=name)
        # ...and the check can fail: the same values at observed entries change the terms.
        batch.rows.target = batch.rows.target.masked_fill(batch.rows.mask, 7.0)
        torch.manual_seed(1)
        changed = module(batch, phase).terms
        assert not torch.isclose(changed["row_reconstruction"], reference["row_reconstruction"])


def test_cell_sampler_never_draws_a_missing_entry():
    X, missing, _, _ = _planted_counts(seed=2)
    observed = torch.as_tensor(~missing.toarray())
    block = torch.as_tensor(_with_garbage(X, missing, HUGE).toarray())
    clean = torch.as_tensor(np.where(missing.toarray(), 0.0, X))
    for seed in range(5):
        cells = sample_block_cells(
            block, observed, 200, generator=torch.Generator().manual_seed(seed)
        )
        twin = sample_block_cells(
            clean, observed, 200, generator=torch.Generator().manual_seed(seed)
        )
        assert observed[cells.row_position, cells.column_position].all()
        assert float(cells.value.max()) < HUGE
        torch.testing.assert_close(cells.value, twin.value)
        # the weights estimate the count of observed cells, not of all cells
        assert float(cells.weight.sum()) == pytest.approx(float(observed.sum()))


@pytest.mark.parametrize(
    ("likelihood", "params"),
    [("poisson", {}), ("multinomial", {"sketch_threshold": 10, "sketch_size": 8})],
    ids=["poisson", "multinomial-sketch"],
)
def test_fit_ignores_values_stored_at_masked_entries(likelihood, params):
    """Labels, memberships and every logged loss term are the same whatever is stored there."""
    X, missing, _, _ = _planted_counts(seed=3)
    fits = []
    for stored in (0.0, HUGE):
        model = ckit.CoclusterVAE(
            2, 3, likelihood=likelihood, random_state=0, **{**SMALL, **params}
        ).fit(_with_garbage(X, missing, stored), mask=missing)
        fits.append(model)
    first, second = fits
    timeless = [f.history_.drop(columns="seconds") for f in fits]
    assert first.data_.uses_sketch == ("sketch_threshold" in params)
    pd.testing.assert_frame_equal(*timeless)
    np.testing.assert_array_equal(first.row_labels_, second.row_labels_)
    np.testing.assert_array_equal(first.column_proba_, second.column_proba_)
    np.testing.assert_array_equal(first.block_means_, second.block_means_)
    # Cell scores: every stored (observed) entry by default; a masked cell has none.
    scores = first.cell_scores(_with_garbage(X, missing, HUGE), mask=missing)
    assert len(scores) == prepare_matrix(X, mask=missing).matrix.nnz
    assert scores["value"].max() < HUGE
    row, column = missing.nonzero()[0][0], missing.nonzero()[1][0]
    with pytest.raises(ValueError, match="impute"):
        first.cell_scores(X, rows=[row], columns=[column], mask=missing)
    if "sketch_threshold" in params:
        return
    # NaN in a dense array is the same missing pattern as the sparse mask.
    third = ckit.CoclusterVAE(2, 3, likelihood=likelihood, random_state=0, **SMALL)
    third.fit(np.where(missing.toarray(), np.nan, X))
    pd.testing.assert_frame_equal(timeless[0], third.history_.drop(columns="seconds"))
    # Without the mask the stored values are data, and the fit changes.
    unmasked = ckit.CoclusterVAE(2, 3, likelihood=likelihood, random_state=0, **SMALL)
    unmasked.fit(_with_garbage(X, missing, 50.0))
    assert not np.allclose(unmasked.history_["row_bound"], first.history_["row_bound"])


def test_mask_errors_say_what_to_change():
    X, missing, _, _ = _planted_counts()
    model = ckit.CoclusterVAE(2, **FAST)
    with pytest.raises(ValueError, match="boolean.*missing.*astype\\(bool\\)"):
        model.fit(X, mask=missing.astype(np.int8))
    with pytest.raises(ValueError, match=r"mask has shape \(3, 24\).*\(40, 24\)"):
        model.fit(X, mask=np.zeros((3, 24), dtype=bool))
    with pytest.raises(TypeError):
        model.fit(X, None, missing)  # keyword-only


def test_impute_beats_the_column_mean_on_planted_data(tmp_path):
    X, _, _ = make_checkerboard((60, 40), (3, 2), noise=2.0, random_state=0)
    rng = np.random.default_rng(0)
    holes = rng.random(X.shape) < 0.2
    X_missing = np.where(holes, np.nan, X)
    model = ckit.CoclusterVAE(
        3, 2, random_state=0, max_epochs=60, pretrain_epochs=40, learning_rate=3e-3,
        joint=False, progress=False, n_samples=2,
    ).fit(X_missing)  # fmt: skip
    filled = model.impute(X_missing)
    np.testing.assert_array_equal(filled[~holes], X[~holes])
    model_error = np.sqrt(np.mean((filled[holes] - X[holes]) ** 2))
    column_mean = np.nanmean(X_missing, axis=0)
    baseline = np.sqrt(np.mean((np.broadcast_to(column_mean, X.shape)[holes] - X[holes]) ** 2))
    assert model_error < 0.5 * baseline, (model_error, baseline)
    # Sparse input with a mask: a CSR copy with the same imputed values, observed unchanged.
    sparse_filled = model.impute(sp.csr_matrix(np.where(holes, HUGE, X)), mask=sp.csr_matrix(holes))
    assert sp.issparse(sparse_filled)
    np.testing.assert_allclose(sparse_filled.toarray(), filled, rtol=1e-5)
    # A saved and loaded model imputes the same values.
    model.save(tmp_path / "model")
    loaded = ckit.CoclusterVAE.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.impute(X_missing), filled)


def test_tl_and_anndata_adapter_pass_missing_entries_through():
    X, missing, _, _ = _planted_counts(seed=4)
    with_nan = np.where(missing.toarray(), np.nan, X)
    reference = ckit.CoclusterVAE(2, 3, likelihood="negative_binomial", random_state=0, **FAST)
    reference.fit(X, mask=missing)
    # NaN in a dense layer and stored NaN in a sparse one: read by the adapter as counts.
    for layer in (with_nan, sp.csr_matrix(with_nan)):
        adata = ad.AnnData(X=np.log1p(np.nan_to_num(with_nan)), layers={"counts": layer})
        read = adapters.read(adata)
        assert read.uns["ckit_source"]["likelihood"] == "negative_binomial"
        assert read.uns["ckit_source"]["layer"] == "counts"
        ckit.tl.cocluster(read, 2, 3, **FAST)
        codes = read.obs["cocluster_row"].cat.codes.to_numpy()
        np.testing.assert_array_equal(codes, reference.row_labels_)
        np.testing.assert_allclose(read.uns["cocluster"]["block_means"], reference.block_means_)
