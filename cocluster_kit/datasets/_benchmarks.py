"""Loaders of the read-only benchmark ``.mat`` files kept outside the repository.

The files live in ``shared/data/`` beside the repository checkout (``<repo>/../shared/data``),
or in the directory named by the environment variable ``CKIT_DATA_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import io as sio
from scipy import sparse

__all__ = ["BENCHMARKS", "DATA_DIR_ENV", "Benchmark", "data_dir", "load_benchmark"]

DATA_DIR_ENV = "CKIT_DATA_DIR"
"""Environment variable that overrides the benchmark data directory."""


@dataclass(frozen=True)
class _Spec:
    """Where a benchmark lives and how to read it."""

    file: str
    features_key: str
    row_labels_key: str
    column_labels_key: str | None
    description: str


_SPECS: dict[str, _Spec] = {
    "webkb4": _Spec(
        "deepcc/WebKB4.mat",
        "fea",
        "gnd",
        None,
        "WebKB4: 4199 web pages x 1000 terms (term weights), 4 classes (DeepCC suite).",
    ),
    "wisconsin": _Spec(
        "deepcc/WebKB_wisconsin.mat",
        "fea",
        "gnd",
        None,
        "WebKB Wisconsin: 265 web pages x 1703 terms (binary bag of words), 5 classes "
        "(DeepCC suite).",
    ),
    "yale": _Spec(
        "deepcc/Yale_32x32.mat",
        "fea",
        "gnd",
        None,
        "Yale faces: 165 images x 1024 pixels (32x32, 8-bit values 0-255), 15 subjects "
        "(DeepCC suite).",
    ),
    "synthetic": _Spec(
        "deepcc/synthetic_data.mat",
        "fea",
        "gnd_row",
        "gnd_col",
        "Synthetic: 200 x 400 matrix with 5 row and 5 column planted co-clusters plus "
        "Gaussian noise (DeepCC suite).",
    ),
    "classic3": _Spec(
        "coclust/classic3_coclustFormat.mat",
        "doc_term_matrix",
        "doc_labels",
        None,
        "CLASSIC3: 3891 abstracts x 4303 terms (term counts, sparse), 3 classes "
        "(CISI, CRAN, MED) (coclust suite).",
    ),
    "cstr": _Spec(
        "coclust/cstr_coclustFormat.mat",
        "doc_term_matrix",
        "doc_labels",
        None,
        "CSTR: 475 technical reports x 1000 terms (tf-idf-like weights, sparse), 4 classes "
        "(coclust suite).",
    ),
}

BENCHMARKS: tuple[str, ...] = ("webkb4", "wisconsin", "yale", "synthetic", "classic3", "cstr")
"""Names accepted by :func:`load_benchmark`."""


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A benchmark data matrix with its reference labels.

    Attributes
    ----------
    name : str
        Benchmark name, one of :data:`BENCHMARKS`.
    X : numpy.ndarray or scipy.sparse.csr_matrix
        ``(n_rows, n_columns)`` float32 data; CSR when stored sparse in the file.
    row_labels : numpy.ndarray
        1-D int64 array of 0-based row classes ``0..n_classes-1``.
    column_labels : numpy.ndarray or None
        1-D int64 array of 0-based column classes, or None when the file has none.
    n_classes : int
        Number of distinct row classes.
    description : str
        One-line human-readable description.
    """

    name: str
    X: np.ndarray | sparse.csr_matrix
    row_labels: np.ndarray
    column_labels: np.ndarray | None
    n_classes: int
    description: str

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(n_rows, n_columns)`` of :attr:`X`."""
        return (int(self.X.shape[0]), int(self.X.shape[1]))


def data_dir() -> Path:
    """Directory holding the benchmark files.

    Returns
    -------
    pathlib.Path
        ``$CKIT_DATA_DIR`` when set and non-empty, otherwise ``shared/data`` beside the
        repository root (``<repo>/../shared/data``). The directory is not checked for
        existence; :func:`load_benchmark` raises if a file is missing.
    """
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _check_name(name: str) -> str:
    """Normalise a benchmark name, raising ``ValueError`` if unknown."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in _SPECS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}.")
    return key


def _labels_to_codes(raw: Any, key: str, path: Path) -> np.ndarray:
    """Turn a stored label vector (0- or 1-based, any shape) into 0-based int64 codes.

    Codes follow the sorted order of the stored values, so 1-based ``1..k`` becomes
    ``0..k-1`` and 0-based ``0..k-1`` is unchanged.
    """
    arr = np.asarray(raw)
    if arr.ndim != 1 and sum(d > 1 for d in arr.shape) > 1:
        raise ValueError(f"labels {key!r} in {path} have shape {arr.shape}; expected a vector.")
    _, codes = np.unique(arr.ravel(), return_inverse=True)
    return codes.astype(np.int64)


def _to_float32(raw: Any) -> np.ndarray | sparse.csr_matrix:
    """Convert stored features to float32, keeping sparse data sparse (CSR)."""
    if sparse.issparse(raw):
        return sparse.csr_matrix(raw, dtype=np.float32)
    return np.ascontiguousarray(raw, dtype=np.float32)


def _read_mat(root: Path, relative: str) -> tuple[Path, dict[str, Any]]:
    """Read ``root / relative``, raising a helpful ``FileNotFoundError`` if absent."""
    path = root / relative
    if not path.is_file():
        source = f"${DATA_DIR_ENV}" if os.environ.get(DATA_DIR_ENV, "").strip() else "default"
        raise FileNotFoundError(
            f"benchmark file not found: {path} (data directory {root}, {source}). "
            f"Set the environment variable {DATA_DIR_ENV} to the directory holding the "
            "'deepcc/' and 'coclust/' benchmark folders, or place shared/data/ beside the "
            "repository checkout."
        )
    return path, sio.loadmat(path)


def load_benchmark(name: str) -> Benchmark:
    """Load one benchmark matrix and its labels.

    Parameters
    ----------
    name : str
        One of :data:`BENCHMARKS` (case-insensitive).

    Returns
    -------
    Benchmark
        Float32 data (CSR if sparse in the file) with 0-based integer labels.

    Raises
    ------
    ValueError
        If ``name`` is not a known benchmark, or the file's contents are inconsistent.
    FileNotFoundError
        If the file is missing from :func:`data_dir`.
    """
    key = _check_name(name)
    spec = _SPECS[key]
    path, mat = _read_mat(data_dir(), spec.file)
    missing = [
        k
        for k in (spec.features_key, spec.row_labels_key, spec.column_labels_key)
        if k is not None and k not in mat
    ]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(
            f"{path} lacks the key(s) {missing}; found {found}. The file may be corrupt or "
            "a different version; restore it from shared/data."
        )
    X = _to_float32(mat[spec.features_key])
    row_labels = _labels_to_codes(mat[spec.row_labels_key], spec.row_labels_key, path)
    column_labels = (
        None
        if spec.column_labels_key is None
        else _labels_to_codes(mat[spec.column_labels_key], spec.column_labels_key, path)
    )
    if row_labels.size != X.shape[0]:
        raise ValueError(
            f"{path}: {row_labels.size} row labels for {X.shape[0]} rows; the file is inconsistent."
        )
    if column_labels is not None and column_labels.size != X.shape[1]:
        raise ValueError(
            f"{path}: {column_labels.size} column labels for {X.shape[1]} columns; "
            "the file is inconsistent."
        )
    return Benchmark(
        name=key,
        X=X,
        row_labels=row_labels,
        column_labels=column_labels,
        n_classes=int(row_labels.max()) + 1,
        description=spec.description,
    )
