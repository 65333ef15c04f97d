"""The matrix a model trains on: CSR with a lazy transpose, mask, scaling, and both views."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..nn import COUNT_LIKELIHOODS
from ._views import MatrixView, SketchView, column_sketch, float32_sums, with_data


def observed_mean_and_std(
    matrix: sp.csr_matrix, missing: sp.csr_matrix | None, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over the observed entries of every column or row.

    ``axis=0`` gives one per column, ``axis=1`` one per row. Sparse sums only; nothing is
    densified. A constant column or row gets the scale 1.
    """
    n_along = matrix.shape[axis]
    n_missing = np.asarray(missing.sum(axis=axis)).ravel() if missing is not None else 0
    observed = np.maximum(n_along - n_missing, 1)
    # in float64 (the data only; the index arrays are shared): squares of float32 values
    # above about 1.8e19 would overflow
    values = matrix.data.astype(np.float64)
    total = np.asarray(with_data(matrix, values).sum(axis=axis)).ravel()
    squares = np.asarray(with_data(matrix, values * values).sum(axis=axis)).ravel()
    mean = total / observed
    variance = np.maximum(squares / observed - mean**2, 0.0)
    std = np.sqrt(variance)
    std[std < 1e-8 * (1.0 + np.abs(mean))] = 1.0  # constant ones: leave the scale alone
    return mean.astype(np.float32), std.astype(np.float32)


class CoclusterData:
    """Everything the training loop reads: the row view, the column view, cell offsets.

    Parameters
    ----------
    matrix
        CSR ``n x m`` float32 with missing entries not stored.
    missing
        CSR boolean pattern of the missing entries, or None.
    likelihood
        Resolved likelihood name; ``gaussian`` data are standardised per feature on each side
        (per column for the row view, per row for the column view; on the fly, never
        densified), count and binary data keep their values.
    input_transform
        Resolved encoder-input transform (see :class:`MatrixView`).
    sketch_threshold, sketch_size, seed
        The column side reads a random sketch once ``n > sketch_threshold`` (METHOD.md §3).
    device
        Where the sketch's chunk products run (CUDA is much faster for large ``n``).
    """

    def __init__(
        self,
        matrix: sp.csr_matrix,
        missing: sp.csr_matrix | None,
        *,
        likelihood: str,
        input_transform: str,
        sketch_threshold: int = 20_000,
        sketch_size: int = 2048,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self.shape = matrix.shape
        self.likelihood = likelihood
        self.input_transform = input_transform
        if likelihood == "gaussian":
            self.column_shift, self.column_scale = observed_mean_and_std(matrix, missing)
        else:
            self.column_shift = self.column_scale = None
        self.rows = MatrixView(
            matrix,
            missing,
            input_transform=input_transform,
            feature_shift=self.column_shift,
            feature_scale=self.column_scale,
        )
        # Each side standardises its own features: the column side per row. Scaling each
        # column by its own mean and spread would erase the column's level, which tells
        # column clusters apart as much as its shape does. The sketch does the same.
        self.uses_sketch = matrix.shape[0] > sketch_threshold
        if self.uses_sketch:
            if likelihood == "gaussian":
                value_map = "standardize"
            else:
                value_map = "log1p" if input_transform == "tfidf" else "none"
            self.columns = SketchView(
                column_sketch(
                    matrix,
                    missing,
                    size=min(sketch_size, matrix.shape[0]),
                    seed=seed,
                    value_map=value_map,
                    device=device,
                )
            )
        else:
            transposed = matrix.T.tocsr()
            transposed_missing = None if missing is None else missing.T.tocsr()
            row_shift = row_scale = None
            if likelihood == "gaussian":
                row_shift, row_scale = observed_mean_and_std(matrix, missing, axis=1)
            self.columns = MatrixView(
                transposed,
                transposed_missing,
                input_transform=input_transform,
                feature_shift=row_shift,
                feature_scale=row_scale,
            )
        # Cell offsets for count likelihoods: the independence model row_total * col_total / N.
        self.row_totals = float32_sums(matrix, axis=1)
        self.column_totals = float32_sums(matrix, axis=0)
        self.grand_total = float(max(self.row_totals.sum(dtype=np.float64), 1e-8))

    @property
    def is_count(self) -> bool:
        """Whether the likelihood is a count model."""
        return self.likelihood in COUNT_LIKELIHOODS

    @property
    def column_likelihood(self) -> str:
        """The column side's likelihood: Gaussian on a sketch, the data's one otherwise."""
        return "gaussian" if self.uses_sketch else self.likelihood
