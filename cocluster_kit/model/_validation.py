"""Checks and conversions of user input for the estimator (errors name the fix).

Missing entries: NaN in ``X`` and the ``True`` entries of an optional ``mask`` (the
``numpy.ma`` convention: ``True`` marks an entry that is *not* there) are both missing. They
are removed from the stored values here, so every later step (likelihoods, the MI table, the
cell sampler, scalings, offsets) sees only observed values plus the missing pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..data import INPUT_TRANSFORMS
from ..nn import COUNT_LIKELIHOODS, LIKELIHOODS

INPUT_TRANSFORM_CHOICES = ("auto", *INPUT_TRANSFORMS)

# Values are stored as float32 for training; larger magnitudes would become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)
_DTYPE_ADVICE = {
    "c": "complex values; pass the real part (X.real) or the modulus (np.abs(X))",
    "U": "strings; convert them to numbers (e.g. X.astype(float)) or drop text columns",
    "S": "bytes strings; convert them to numbers (e.g. X.astype(float))",
    "M": "dates; convert them to numbers (e.g. days since a reference date) or drop them",
    "m": "time spans; convert them to numbers (e.g. seconds) or drop them",
    "V": "structured records; pass a plain numeric 2-D array",
}


@dataclass
class PreparedMatrix:
    """A validated matrix: CSR float32 observed values, the missing pattern and the names.

    ``matrix`` stores no value at a missing entry; ``missing`` is the CSR boolean pattern of
    the missing entries (None when every entry is observed).
    """

    matrix: sp.csr_matrix
    missing: sp.csr_matrix | None
    row_names: list[str] | None
    column_names: list[str] | None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_cols)``."""
        return self.matrix.shape


def prepare_matrix(X: Any, *, mask: Any = None, name: str = "X") -> PreparedMatrix:
    """Turn a dense array, a scipy sparse matrix or a DataFrame into CSR + missing pattern.

    Parameters
    ----------
    X
        ``n x m`` numbers: a dense array (any integer, float or bool dtype), a scipy sparse
        matrix, a DataFrame of numeric columns or a ``numpy.ma.MaskedArray``. NaN marks a
        missing entry (in a sparse matrix, an explicitly stored NaN).
    mask
        Optional ``n x m`` boolean array or scipy sparse matrix, ``True`` where the entry is
        missing (as in ``numpy.ma``; pass ``~observed`` for a mask of observed entries). It
        adds to the NaN entries; whatever value ``X`` holds there is ignored.
    name
        What to call ``X`` in error messages.

    Returns
    -------
    PreparedMatrix

    Raises
    ------
    ValueError
        For input that is not 2-D, empty, not numeric, holds infinite or too large observed
        values, is entirely missing, or a mask that is not boolean or has another shape.
    """
    X, row_names, column_names, masked = _unwrap(X, name)
    matrix = _as_float_csr(X, name)
    missing = _missing_pattern(matrix, masked, name)
    if mask is not None:
        extra = as_missing_mask(mask, matrix.shape, name=name)
        missing = extra if missing is None else (missing + extra).astype(bool)
    if missing is not None:
        missing.eliminate_zeros()
        drop_entries(matrix, missing)
        if missing.nnz == 0:
            missing = None
    _check_values(matrix, name)
    if missing is not None and missing.nnz == matrix.shape[0] * matrix.shape[1]:
        raise ValueError(
            f"every entry of {name} is missing (NaN or masked); nothing can be learned."
        )
    matrix = matrix.astype(np.float32)
    matrix.eliminate_zeros()
    return PreparedMatrix(matrix, missing, row_names, column_names)


def as_missing_mask(mask: Any, shape: tuple[int, int], *, name: str = "X") -> sp.csr_matrix:
    """``mask`` as a CSR boolean pattern of missing entries, checked against ``shape``."""
    if sp.issparse(mask):
        dtype, mask_shape = mask.dtype, mask.shape
    else:
        mask = np.asarray(mask)
        dtype, mask_shape = mask.dtype, mask.shape
    if dtype.kind != "b":
        raise ValueError(
            f"mask must be boolean, True where an entry of {name} is missing; got dtype "
            f"{dtype}. Pass mask.astype(bool) (or ~observed for a mask of observed entries)."
        )
    if tuple(mask_shape) != tuple(shape):
        raise ValueError(
            f"mask has shape {tuple(mask_shape)} but {name} has shape {shape}; "
            "give one boolean per entry of X."
        )
    pattern = sp.csr_matrix(mask, dtype=bool)
    pattern.eliminate_zeros()
    pattern.sum_duplicates()
    return pattern


def _unwrap(X: Any, name: str) -> tuple[Any, list[str] | None, list[str] | None, Any]:
    """Names of a DataFrame, the mask of a masked array, and the plain values."""
    import pandas as pd

    row_names = column_names = masked = None
    if isinstance(X, pd.DataFrame):
        non_numeric = [
            c
            for c in X.columns
            if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_complex_dtype(X[c])
        ]
        if non_numeric:
            raise ValueError(
                f"{name} has non-numeric columns {non_numeric[:5]}: drop them or move them to "
                "the row metadata before fitting."
            )
        row_names = [str(i) for i in X.index]
        column_names = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(X, np.ma.MaskedArray):
        masked = np.ma.getmaskarray(X)
        X = np.ma.getdata(X)
    return X, row_names, column_names, masked


def _check_dtype(dtype: np.dtype, name: str) -> None:
    if dtype.kind in _DTYPE_ADVICE:
        raise ValueError(f"{name} holds {_DTYPE_ADVICE[dtype.kind]}.")


def _as_float_csr(X: Any, name: str) -> sp.csr_matrix:
    """A float64 CSR copy of ``X`` (NaN kept as stored values), after the dtype checks."""
    if sp.issparse(X):
        _check_dtype(X.dtype, name)
        if X.dtype.kind == "O":
            raise ValueError(f"{name} is a sparse matrix of Python objects; pass numbers.")
        if len(X.shape) != 2:
            raise ValueError(f"{name} must be 2-D (rows x columns); got shape {X.shape}.")
        matrix = sp.csr_matrix(X, dtype=np.float64, copy=True)  # never edit the caller's
        matrix.sum_duplicates()
        _check_not_empty(matrix.shape, name)
        return matrix
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{name} must be a 2-D numeric array; got a string.")
    try:
        array = np.asarray(X)
    except (TypeError, ValueError) as error:  # ragged nested lists, odd objects
        raise ValueError(
            f"{name} must be a numeric array, a scipy sparse matrix or a DataFrame of "
            f"numbers with rows of equal length; converting it failed ({error})."
        ) from None
    _check_dtype(array.dtype, name)
    if array.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in array.ravel()):
        raise ValueError(f"{name} holds {_DTYPE_ADVICE['U']}.")
    try:
        dense = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be a numeric array, a scipy sparse matrix or a DataFrame of "
            f"numbers; converting it failed ({error})."
        ) from None
    if dense.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (rows x columns); got an array with shape {dense.shape}. "
            "Reshape a single row with X.reshape(1, -1), a single column with X.reshape(-1, 1)."
        )
    _check_not_empty(dense.shape, name)
    return sp.csr_matrix(dense)


def _check_not_empty(shape: tuple[int, ...], name: str) -> None:
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}); give at least one row and column.")


def _missing_pattern(matrix: sp.csr_matrix, masked: Any, name: str) -> sp.csr_matrix | None:
    """CSR boolean pattern of the stored NaN values, with a masked array's mask added."""
    is_nan = np.isnan(matrix.data)
    missing = None
    if is_nan.any():
        rows = _entry_rows(matrix)[is_nan]
        missing = sp.csr_matrix(
            (np.ones(rows.size, dtype=bool), (rows, matrix.indices[is_nan])), shape=matrix.shape
        )
    if masked is not None and np.any(masked):
        extra = as_missing_mask(masked, matrix.shape, name=name)
        missing = extra if missing is None else (missing + extra).astype(bool)
    return missing


def _entry_rows(matrix: sp.csr_matrix) -> np.ndarray:
    """The row of every stored entry (CSR order)."""
    return np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))


def _entry_keys(matrix: sp.csr_matrix) -> np.ndarray:
    """``row * n_cols + column`` of every stored entry (CSR order)."""
    return _entry_rows(matrix) * matrix.shape[1] + matrix.indices.astype(np.int64)


def drop_entries(matrix: sp.csr_matrix, missing: sp.csr_matrix) -> None:
    """Remove (in place) the stored values of ``matrix`` at the ``missing`` entries."""
    if missing.nnz == 0 or matrix.nnz == 0:
        return
    hit = np.isin(_entry_keys(matrix), _entry_keys(missing))
    matrix.data[hit] = 0.0
    matrix.eliminate_zeros()


def _check_values(matrix: sp.csr_matrix, name: str) -> None:
    """Observed values must be finite and fit float32."""
    values = matrix.data
    for bad, problem, fix in (
        (
            ~np.isfinite(values),
            "infinite values",
            "replace them (e.g. clip them), or set them to NaN or mark them in mask= to treat "
            "them as missing",
        ),
        (
            np.abs(np.nan_to_num(values)) > FLOAT32_MAX,
            f"values beyond float32's range (|x| > {FLOAT32_MAX:.3g})",
            "rescale them (e.g. divide by a constant or log-transform)",
        ),
    ):
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            row = int(_entry_rows(matrix)[position])
            raise ValueError(
                f"{name} contains {int(bad.sum())} {problem} (the first at row {row}, column "
                f"{int(matrix.indices[position])}); {fix}."
            )


def check_trainable(prepared: PreparedMatrix, *, name: str = "X") -> None:
    """Refuse matrices the model cannot learn from (the policy on empty rows and columns).

    - Every observed entry 0: there is nothing to co-cluster.
    - A row or column with no observed entry (all missing): nothing places it in a cluster,
      so it is refused, with how many there are and the first ones; drop them before fitting.
    - Rows or columns whose observed entries are all 0 are kept: a zero is an observation
      (an empty document, a gene not expressed), and they are assigned like any other.
    """
    if prepared.matrix.nnz == 0:
        raise ValueError(
            f"every observed entry of {name} is 0; there is nothing to co-cluster. Check that "
            "the right matrix (or layer) was passed."
        )
    if prepared.missing is None:
        return
    n_rows, n_cols = prepared.shape
    for axis, side, length in ((0, "row", n_cols), (1, "column", n_rows)):
        n_missing = np.asarray(prepared.missing.sum(axis=1 - axis)).ravel()
        empty = np.flatnonzero(n_missing == length)
        if empty.size:
            sides = side if empty.size == 1 else f"{side}s"
            first = ", ".join(map(str, empty[:5])) + (", ..." if empty.size > 5 else "")
            selector = "X[keep]" if axis == 0 else "X[:, keep]"
            raise ValueError(
                f"{name} has {empty.size} {sides} with no observed entry (every value missing): "
                f"{sides} {first}. Drop them before fitting ({selector}, with keep the {side}s "
                "that have an observed value); nothing places them in a cluster."
            )


def resolve_likelihood(prepared: PreparedMatrix, likelihood: str, *, name: str = "X") -> str:
    """The likelihood for this data: the one asked for (checked), or the ``"auto"`` rule.

    ``"auto"``: log-normalised counts (see :func:`looks_log_normalised`: the log expression
    of single-cell and RNA-seq tables) → ``gaussian``; other non-negative values with at most
    half the observed entries nonzero → ``multinomial`` (bags of words, binary or counted,
    TF-IDF or other term weights, sparse counts: each row is read as a composition over the
    columns, weights as fractional counts); dense values all in {0, 1} → ``bernoulli``; dense
    non-negative integers → ``negative_binomial``; anything else → ``gaussian`` (standardised
    per column). Sparse binary data are multinomial rather than Bernoulli for the reason
    Mult-VAE (Liang et al., 2018) gives for click data and McCallum & Nigam (1998) for
    text: the few present entries carry the signal, and a Bernoulli likelihood spends most
    of its fit on the many absent ones.
    """
    if not isinstance(likelihood, str) or (likelihood != "auto" and likelihood not in LIKELIHOODS):
        raise ValueError(
            f"likelihood={likelihood!r} is not one of 'auto', {', '.join(map(repr, LIKELIHOODS))}."
        )
    values = prepared.matrix.data
    non_negative = values.size == 0 or values.min() >= 0
    integer = non_negative and np.all(values == np.round(values))
    binary = integer and (values.size == 0 or values.max() <= 1)
    if likelihood == "auto":
        n_observed = prepared.shape[0] * prepared.shape[1] - (
            prepared.missing.nnz if prepared.missing is not None else 0
        )
        density = np.count_nonzero(values) / max(n_observed, 1)
        if non_negative and not integer and looks_log_normalised(prepared.matrix):
            likelihood = "gaussian"
        elif non_negative and density <= 0.5:
            likelihood = "multinomial"
        elif binary:
            likelihood = "bernoulli"
        elif integer:
            likelihood = "negative_binomial"
        else:
            likelihood = "gaussian"
    if likelihood in COUNT_LIKELIHOODS and not non_negative:
        raise ValueError(
            f"likelihood={likelihood!r} models counts, but {name} has "
            f"{int(np.sum(values < 0))} negative values (min {values.min():.4g}); use "
            "likelihood='gaussian' or shift the data to be non-negative."
        )
    total = float(np.sum(values, dtype=np.float64))
    if likelihood in COUNT_LIKELIHOODS and total > FLOAT32_MAX:
        raise ValueError(
            f"the entries of {name} add up to {total:.3g}, beyond float32's range "
            f"({FLOAT32_MAX:.3g}), and the {likelihood} likelihood needs their totals; divide "
            "the counts by a constant, or use likelihood='gaussian' on log values."
        )
    if likelihood == "bernoulli" and (values.size and (values.min() < 0 or values.max() > 1)):
        raise ValueError(
            f"likelihood='bernoulli' needs values in [0, 1], but {name} has values in "
            f"[{values.min():.4g}, {values.max():.4g}]; binarise it (e.g. X > 0) or use "
            "likelihood='gaussian'."
        )
    return likelihood


# Log bases tried by looks_log_normalised: natural (scanpy, Seurat), 2 and 10.
_LOG_BASES = (np.e, 2.0, 10.0)


def looks_log_normalised(
    matrix: sp.csr_matrix, *, max_rows: int = 2000, max_ratio: float = 50.0
) -> bool:
    """Whether non-negative values look like ``log(1 + s_i * counts)``, the log expression.

    Library-size normalisation multiplies row ``i``'s counts by one factor ``s_i``, so within
    a row ``base ** x - 1`` is an integer multiple of its smallest nonzero value (a count of
    one). TF-IDF and other term weights scale each column differently and break that. The
    rule: over up to ``max_rows`` evenly spaced rows, at least 80 % of the ratios to the
    row's smallest value (those in ``(1, max_ratio]``) lie within 0.05 of an integer, for the
    natural logarithm, base 2 or base 10. Random ratios land there about 10 % of the time.

    Parameters
    ----------
    matrix
        CSR matrix of non-negative, not all integer, values.
    max_rows
        Rows examined at most.
    max_ratio
        Largest ratio examined (float32 rounding blurs larger ones).
    """
    n_rows = matrix.shape[0]
    rows = np.unique(np.linspace(0, n_rows - 1, min(max_rows, n_rows)).astype(int))
    values = [matrix.data[matrix.indptr[i] : matrix.indptr[i + 1]] for i in rows]
    values = [v[v > 0].astype(np.float64) for v in values]
    values = [v for v in values if v.size >= 2]
    for base in _LOG_BASES:
        near, total = 0, 0
        for row in values:
            with np.errstate(over="ignore", invalid="ignore"):
                linear = np.expm1(row * np.log(base))
                ratios = linear / linear.min()
            ratios = ratios[(ratios > 1.0 + 1e-6) & (ratios <= max_ratio)]
            near += int(np.sum(np.abs(ratios - np.round(ratios)) <= 0.05))
            total += ratios.size
        if total >= 50 and near >= 0.8 * total:
            return True
    return False


def resolve_input_transform(likelihood: str, input_transform: str) -> str:
    """``"auto"``: standardised values for Gaussian data, TF-IDF + L2 for counts and binary."""
    if input_transform not in INPUT_TRANSFORM_CHOICES:
        raise ValueError(
            f"input_transform={input_transform!r} is not one of "
            f"{', '.join(map(repr, INPUT_TRANSFORM_CHOICES))}."
        )
    if input_transform != "auto":
        return input_transform
    return "standardize" if likelihood == "gaussian" else "tfidf"
