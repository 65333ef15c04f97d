"""Scale: nothing of size n x m is densified; sparse minibatches; the streaming sketch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import cocluster_kit as ckit
from cocluster_kit.data import CoclusterData, column_sketch
from cocluster_kit.model._validation import prepare_matrix
from cocluster_kit.nn import MLP

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _one_thread():
    """These fits are small: one torch thread is faster than two on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sets RLIMIT_AS")
def test_no_path_densifies_a_matrix_too_big_for_memory(tmp_path):
    # 28,000 x 10,000: its dense float32 form (1.1 GB) is more than the process may add once
    # capped, so any n x m array in fit, inference, the MI table, tables, plots or the
    # report raises MemoryError. The script checks the cap refuses a dense array first.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(HERE / "_no_densify.py"), "28000", "10000", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "dense refused"
    status, peak, cap, dense = lines[-1].split()
    assert status == "OK" and int(peak) <= int(cap) < int(peak) + int(dense)
    assert (tmp_path / "out" / "report.html").stat().st_size > 0


def _sparse_counts(seed: int = 0, shape=(40, 30), density: float = 0.1) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    matrix = sp.random(*shape, density=density, format="csr", random_state=rng)
    matrix.data = np.ceil(matrix.data * 5).astype(np.float32)
    return matrix


def test_sparse_minibatch_matches_dense_minibatch():
    prepared = prepare_matrix(_sparse_counts())
    kwargs = dict(likelihood="multinomial", input_transform="tfidf")
    data = CoclusterData(prepared.matrix, prepared.missing, **kwargs)
    index = np.array([3, 0, 17, 39])
    dense_view = data.rows.like(prepared.matrix, prepared.missing)
    dense_view.sparse_input = False
    data.rows.sparse_input = True
    sparse_batch, dense_batch = data.rows.batch(index), dense_view.batch(index)
    assert sparse_batch.encoder_input.is_sparse and not dense_batch.encoder_input.is_sparse
    np.testing.assert_allclose(
        sparse_batch.encoder_input.to_dense().numpy(), dense_batch.encoder_input.numpy(), atol=1e-6
    )
    np.testing.assert_array_equal(sparse_batch.target.numpy(), dense_batch.target.numpy())
    # the sparse first layer: same outputs and gradients as the dense one
    torch.manual_seed(0)
    layer = MLP(30, [8], 3)
    outputs, gradients = [], []
    for batch in (sparse_batch, dense_batch):
        layer.zero_grad()
        out = layer(batch.encoder_input)
        out.square().sum().backward()
        outputs.append(out.detach().numpy())
        gradients.append(layer.layers[0].weight.grad.numpy().copy())
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-5, atol=1e-6)


def test_density_decides_sparse_input():
    sparse = prepare_matrix(_sparse_counts(density=0.02))
    dense = prepare_matrix(_sparse_counts(density=0.5))
    kwargs = dict(likelihood="multinomial", input_transform="tfidf")
    assert CoclusterData(sparse.matrix, None, **kwargs).rows.sparse_input
    assert not CoclusterData(dense.matrix, None, **kwargs).rows.sparse_input
    gaussian = CoclusterData(
        sparse.matrix, None, likelihood="gaussian", input_transform="standardize"
    )
    assert not gaussian.rows.sparse_input  # a shift fills the zeros


def test_count_sketch_streams_sparse_chunks_and_equals_dense_product():
    counts = _sparse_counts(seed=3, shape=(50, 12), density=0.3)
    prepared = prepare_matrix(counts)
    data = CoclusterData(prepared.matrix, None, likelihood="poisson", input_transform="tfidf")
    assert data.rows.input_transform == "tfidf"  # so the data set's sketch reads log1p(x)
    sketch = column_sketch(prepared.matrix, None, size=8, seed=5, value_map="log1p", chunk_rows=16)
    signs = []
    for chunk_number, start in enumerate(range(0, 50, 16)):
        generator = np.random.default_rng([5, chunk_number])
        length = min(16, 50 - start)
        signs.append(generator.integers(0, 2, size=(length, 8), dtype=np.int8) * 2 - 1)
    expected = np.log1p(counts.toarray()).T @ np.concatenate(signs) / np.sqrt(8)
    np.testing.assert_allclose(sketch, expected, rtol=1e-5, atol=1e-5)


def test_impute_sparse_input_fills_stored_nan_only(small_counts):
    X = sp.csr_matrix(small_counts[0])
    X.data[[0, 5, 9]] = np.nan
    dense = X.toarray()
    model = ckit.CoclusterVAE(
        2, 3, random_state=0, max_epochs=2, pretrain_epochs=1, progress=False, n_samples=1
    ).fit(X)
    filled = model.impute(X)
    assert sp.issparse(filled) and not np.isnan(filled.data).any()
    reference = model.impute(dense)  # the dense path gives the same values
    np.testing.assert_allclose(filled.toarray(), reference, rtol=1e-6)
    observed = ~np.isnan(dense)
    np.testing.assert_array_equal(filled.toarray()[observed], dense[observed])


def test_sketch_path_finds_the_same_column_clusters_as_the_full_path():
    from sklearn.metrics import adjusted_rand_score

    X, _, columns = ckit.datasets.make_coclusters((800, 60), 3, 3, noise=0.5, random_state=0)
    options = dict(
        random_state=0,
        progress=False,
        max_epochs=30,
        pretrain_epochs=15,
        n_samples=1,
        hidden=(64,),
        row_batch_size=200,
        col_batch_size=60,
        sketch_size=64,
    )
    full = ckit.CoclusterVAE(3, 3, **options).fit(X)
    sketched = ckit.CoclusterVAE(3, 3, sketch_threshold=200, **options).fit(X)
    assert not full.data_.uses_sketch
    assert sketched.data_.uses_sketch and sketched.data_.columns.n_features == 64
    assert adjusted_rand_score(full.column_labels_, sketched.column_labels_) >= 0.9
    assert adjusted_rand_score(columns, sketched.column_labels_) >= 0.9


@pytest.mark.parametrize("density", [0.02, 0.3])
def test_cell_estimate_is_unbiased_for_any_function_of_the_cells(density):
    # f(0) != 0, so the zero stratum's weights matter too; at density 0.02 every nonzero fits
    # in the budget (taken with weight 1), at 0.3 the nonzeros are sampled as well.
    from cocluster_kit.data import sample_block_cells

    rng = np.random.default_rng(4)
    block = torch.as_tensor(
        (rng.random((30, 40)) < density) * rng.poisson(3.0, (30, 40)).astype(np.float64)
    )
    observed = torch.as_tensor(rng.random((30, 40)) < 0.9)

    def f(values):
        return torch.cos(values) + values**2

    exact = float(f(block[observed]).sum())
    generator = torch.Generator().manual_seed(5)
    draws = []
    for _ in range(2000):
        cells = sample_block_cells(block, observed, 64, generator=generator)
        draws.append(float((cells.weight * f(cells.value)).sum()))
    draws = np.asarray(draws)
    error = draws.std(ddof=1) / np.sqrt(len(draws))
    n_nonzero = int(((block != 0) & observed).sum())
    # float32 weights: allow their rounding; at 0.02 the estimate is exact in every draw
    # (all nonzeros with weight 1, and f is constant on the zeros), at 0.3 it varies.
    assert (error < 1e-6 * abs(exact)) == (n_nonzero <= 32)
    assert abs(draws.mean() - exact) < 4 * error + 1e-6 * abs(exact)


def test_precision_bf16_falls_back_to_float32_off_cuda(caplog, small_counts):
    X = small_counts[0]
    options = dict(random_state=0, max_epochs=1, pretrain_epochs=1, progress=False, n_samples=1)
    with pytest.raises(ValueError, match="precision="):
        ckit.CoclusterVAE(2, precision="fp8", **options).fit(X)
    if torch.cuda.is_available():
        pytest.skip("the fallback is for machines without CUDA")
    with caplog.at_level("WARNING", logger="cocluster_kit"):
        half = ckit.CoclusterVAE(2, precision="bf16", device="cpu", **options).fit(X)
    assert "needs a CUDA device" in caplog.text
    full = ckit.CoclusterVAE(2, device="cpu", **options).fit(X)
    np.testing.assert_array_equal(half.row_labels_, full.row_labels_)
    assert half.get_params()["precision"] == "bf16"


def test_make_sparse_coclusters_plants_the_preferred_column_cluster():
    X, rows, columns = ckit.datasets.make_sparse_coclusters(
        (3000, 400), 4, 2, nnz_per_row=20, signal=0.8, random_state=1
    )
    assert sp.isspmatrix_csr(X) and X.shape == (3000, 400) and X.dtype == np.float32
    assert sorted(np.unique(rows)) == [0, 1, 2, 3] and sorted(np.unique(columns)) == [0, 1]
    assert 0.9 * 3000 * 20 < X.nnz <= 3000 * 20  # repeated draws merge
    coo = X.tocoo()
    preferred = columns[coo.col] == rows[coo.row] % 2
    # 80 % land in the preferred cluster, the other 20 % anywhere (half of them there too)
    assert abs(preferred.mean() - 0.9) < 0.02
    again, _, _ = ckit.datasets.make_sparse_coclusters(
        (3000, 400), 4, 2, nnz_per_row=20, signal=0.8, random_state=1
    )
    assert (again != X).nnz == 0


@pytest.mark.parametrize(
    ("transform", "sparse_input", "with_missing"),
    [("tfidf", True, True), ("tfidf", False, False), ("none", False, True)],
)
def test_device_resident_batches_equal_host_batches(transform, sparse_input, with_missing):
    # The gather code that runs on the GPU when the matrix fits there, run on the CPU here.
    counts = _sparse_counts(seed=6, shape=(30, 25), density=0.2).toarray()
    if with_missing:
        counts[np.random.default_rng(7).random(counts.shape) < 0.1] = np.nan
    prepared = prepare_matrix(counts)
    data = CoclusterData(
        prepared.matrix, prepared.missing, likelihood="poisson", input_transform=transform
    )
    view = data.rows
    view.sparse_input = sparse_input
    index = np.array([0, 4, 29, 7, 7])
    host = view.batch(index)
    from cocluster_kit.data._device import fits_on_device

    assert not fits_on_device(view, "cpu")  # the sampler keeps matrices on CUDA devices only
    view.keep_on("cpu")
    resident = view.batch(index)
    assert resident.encoder_input.is_sparse == sparse_input
    for name in ("index", "target", "offset"):
        np.testing.assert_allclose(getattr(resident, name), getattr(host, name), rtol=1e-6)
    dense = resident.encoder_input.to_dense() if sparse_input else resident.encoder_input
    expected = host.encoder_input.to_dense() if sparse_input else host.encoder_input
    np.testing.assert_allclose(dense, expected, rtol=1e-5, atol=1e-7)
    if with_missing:
        np.testing.assert_array_equal(resident.mask, host.mask)
    else:
        assert resident.mask is None and host.mask is None
