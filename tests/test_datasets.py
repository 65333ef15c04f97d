from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import cocluster_kit
from cocluster_kit.datasets import BENCHMARKS, Benchmark, data_dir, load_benchmark

# name -> (n_rows, n_columns, n_row_classes, n_column_classes or None, sparse)
EXPECTED = {
    "webkb4": (4199, 1000, 4, None, False),
    "wisconsin": (265, 1703, 5, None, False),
    "yale": (165, 1024, 15, None, False),
    "synthetic": (200, 400, 5, 5, False),
    "classic3": (3891, 4303, 3, None, True),
    "cstr": (475, 1000, 4, None, True),
}


def test_benchmark_names():
    assert BENCHMARKS == ("webkb4", "wisconsin", "yale", "synthetic", "classic3", "cstr")
    assert set(EXPECTED) == set(BENCHMARKS)


def test_default_data_dir_is_beside_repo(monkeypatch):
    monkeypatch.delenv("CKIT_DATA_DIR", raising=False)
    repo = Path(cocluster_kit.__file__).resolve().parents[1]
    assert data_dir() == repo.parent / "shared" / "data"


@pytest.mark.parametrize("name", BENCHMARKS)
def test_load_benchmark_shapes_and_labels(name):
    n_rows, n_cols, k, k_cols, is_sparse = EXPECTED[name]
    bench = load_benchmark(name)
    assert isinstance(bench, Benchmark)
    assert bench.name == name
    assert bench.X.shape == (n_rows, n_cols)
    assert bench.X.dtype == np.float32
    if is_sparse:
        assert sparse.issparse(bench.X) and bench.X.format == "csr"
    else:
        assert isinstance(bench.X, np.ndarray)
    assert bench.n_classes == k
    labels = bench.row_labels
    assert labels.ndim == 1 and labels.shape == (n_rows,)
    assert np.issubdtype(labels.dtype, np.integer)
    # 0-based and every class present
    np.testing.assert_array_equal(np.unique(labels), np.arange(k))
    if k_cols is None:
        assert bench.column_labels is None
    else:
        assert bench.column_labels.shape == (n_cols,)
        np.testing.assert_array_equal(np.unique(bench.column_labels), np.arange(k_cols))
    assert bench.description


def test_labels_are_shifted_from_one_based_file():
    from scipy.io import loadmat

    raw = loadmat(data_dir() / "deepcc" / "Yale_32x32.mat")["gnd"].ravel()
    assert raw.min() == 1
    np.testing.assert_array_equal(load_benchmark("yale").row_labels, raw.astype(int) - 1)


def test_name_is_case_insensitive():
    assert load_benchmark("  CSTR ").name == "cstr"


@pytest.mark.parametrize("bad", ["mnist", "", 3])
def test_unknown_name_lists_valid_names(bad):
    with pytest.raises(ValueError, match="unknown benchmark") as info:
        load_benchmark(bad)
    for name in BENCHMARKS:
        assert name in str(info.value)


def test_env_override_to_empty_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CKIT_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path.resolve()
    with pytest.raises(FileNotFoundError) as info:
        load_benchmark("webkb4")
    message = str(info.value)
    assert str(tmp_path.resolve() / "deepcc" / "WebKB4.mat") in message
    assert "CKIT_DATA_DIR" in message
