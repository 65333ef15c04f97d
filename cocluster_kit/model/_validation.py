"""Checks and conversions of user input for the estimator (errors name the fix)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..data import INPUT_TRANSFORMS
from ..nn import COUNT_LIKELIHOODS, LIKELIHOODS

INPUT_TRANSFORM_CHOICES = ("auto", *INPUT_TRANSFORMS)


@dataclass
class PreparedMatrix:
    """A validated matrix: CSR float32 values, the missing pattern and the names."""

    matrix: sp.csr_matrix
    missing: sp.csr_matrix | None
    row_names: list[str] | None
    column_names: list[str] | None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_cols)``."""
        return self.matrix.shape


def prepare_matrix(X, *, name: str = "X") -> PreparedMatrix:
    """Turn a dense array, a scipy sparse matrix or a DataFrame into CSR + missing pattern.

    NaN marks a missing entry (left out of every likelihood); infinities are refused.
    """
    row_names = column_names = None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if non_numeric:
            raise ValueError(
                f"{name} has non-numeric columns {non_numeric[:5]}: drop them or move them to "
                "the row metadata before fitting."
            )
        row_names = [str(i) for i in X.index]
        column_names = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)
    if sp.issparse(X):
        matrix = sp.csr_matrix(X, dtype=np.float32, copy=True)  # never edit the caller's
        matrix.sum_duplicates()
        missing_values = np.isnan(matrix.data)
        missing = None
        if missing_values.any():
            pattern = matrix.copy()
            pattern.data = missing_values.copy()
            pattern.eliminate_zeros()
            missing = pattern.astype(bool)
            matrix.data[missing_values] = 0.0
    else:
        try:
            dense = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{name} must be a numeric array, a scipy sparse matrix or a DataFrame of "
                f"numbers; converting it failed ({error})."
            ) from None
        if dense.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (rows x columns); got an array with shape {dense.shape}. "
                "Reshape a single row with X.reshape(1, -1)."
            )
        is_missing = np.isnan(dense)
        missing = sp.csr_matrix(is_missing) if is_missing.any() else None
        matrix = sp.csr_matrix(np.where(is_missing, 0.0, dense), dtype=np.float32)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(
            f"{name} is empty (shape {matrix.shape}); give at least one row and column."
        )
    if not np.all(np.isfinite(matrix.data)):
        raise ValueError(
            f"{name} contains infinite values; replace them (e.g. clip, or set them to NaN to "
            "mark them missing)."
        )
    matrix.eliminate_zeros()
    if missing is not None and missing.nnz == matrix.shape[0] * matrix.shape[1]:
        raise ValueError(f"every entry of {name} is missing (NaN); nothing can be learned.")
    return PreparedMatrix(matrix, missing, row_names, column_names)


def resolve_likelihood(prepared: PreparedMatrix, likelihood: str) -> str:
    """The likelihood for this data: the one asked for (checked), or the ``"auto"`` rule.

    ``"auto"``: every observed value in {0, 1} → ``bernoulli``; non-negative values with at
    most half the observed entries nonzero → ``multinomial`` (bags of words, TF-IDF or other
    term weights, sparse counts: each row is read as a composition over the columns, weights
    as fractional counts); dense non-negative integers → ``negative_binomial``; anything else
    → ``gaussian`` (standardised per column).
    """
    if likelihood != "auto" and likelihood not in LIKELIHOODS:
        raise ValueError(
            f"likelihood={likelihood!r} is not one of 'auto', {', '.join(map(repr, LIKELIHOODS))}."
        )
    values = prepared.matrix.data
    non_negative = values.size == 0 or values.min() >= 0
    integer = non_negative and np.all(values == np.round(values))
    binary = integer and (values.size == 0 or values.max() <= 1)
    if likelihood == "auto":
        if binary:
            return "bernoulli"
        n_observed = prepared.shape[0] * prepared.shape[1] - (
            prepared.missing.nnz if prepared.missing is not None else 0
        )
        density = np.count_nonzero(values) / max(n_observed, 1)
        if non_negative and density <= 0.5:
            return "multinomial"
        if integer:
            return "negative_binomial"
        return "gaussian"
    if likelihood in COUNT_LIKELIHOODS and not non_negative:
        raise ValueError(
            f"likelihood={likelihood!r} models counts, but X has negative values (min "
            f"{values.min():.4g}); use likelihood='gaussian' or shift the data to be non-negative."
        )
    if likelihood == "bernoulli" and (values.size and (values.min() < 0 or values.max() > 1)):
        raise ValueError(
            "likelihood='bernoulli' needs values in [0, 1]; binarise X (e.g. X > 0) or use "
            "likelihood='gaussian'."
        )
    return likelihood


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
