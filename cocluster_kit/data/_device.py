"""A view's CSR arrays kept on the training device, and minibatches gathered there.

On a GPU, slicing the matrix on the host and copying each minibatch over costs more than the
step itself for small models. When the matrix fits (see :func:`fits_on_device`), the view's
``indptr`` / ``indices`` / values move to the device once and every batch is gathered there
with index arithmetic; only the batch's row positions cross over. The result equals
:meth:`MatrixView.batch` (tested on the CPU, where the same code runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch

if TYPE_CHECKING:
    from ._views import MatrixView, SideBatch

DEVICE_SHARE = 0.25
"""Largest share of the device's free memory the CSR arrays may take to be kept there."""


def fits_on_device(view: MatrixView, device: torch.device) -> bool:
    """Whether ``view`` can live on CUDA ``device``: a zero-preserving map, and small enough."""
    if torch.device(device).type != "cuda" or not view.is_sparse_map:
        return False
    matrix = view.matrix
    size = matrix.nnz * 12 + matrix.indptr.size * 8
    if view.missing is not None:
        size += view.missing.nnz * 8 + view.missing.indptr.size * 8
    free, _ = torch.cuda.mem_get_info(device)
    return size < DEVICE_SHARE * free


class _DeviceCSR:
    """``indptr`` and ``indices`` (and optionally values) of a CSR matrix on a device."""

    def __init__(self, matrix: sp.csr_matrix, device, values: np.ndarray | None = None) -> None:
        if not matrix.has_sorted_indices:
            matrix = matrix.sorted_indices()
        self.indptr = torch.as_tensor(matrix.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(matrix.indices.astype(np.int64), device=device)
        self.values = None if values is None else torch.as_tensor(values, device=device)

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(batch row, column, position in the stored arrays)`` of the rows at ``index``."""
        starts = self.indptr[index]
        counts = self.indptr[index + 1] - starts
        row = torch.repeat_interleave(torch.arange(len(index), device=index.device), counts)
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        position = (
            torch.repeat_interleave(starts, counts)
            + torch.arange(len(row), device=index.device)
            - first
        )
        return row, self.indices[position], position


class DeviceRows:
    """The rows of a :class:`MatrixView` (zero-preserving map) resident on ``device``.

    Parameters
    ----------
    view
        The view; its affine scaling is applied to the stored values once, here.
    device
        Where the arrays live and batches are built.
    """

    def __init__(self, view: MatrixView, device: torch.device | str) -> None:
        self.view = view
        self.device = torch.device(device)
        scaled = view.scaled_rows(np.arange(view.n_items))
        scaled.sort_indices()
        self.rows = _DeviceCSR(scaled, self.device, scaled.data.astype(np.float32))
        self.missing = None if view.missing is None else _DeviceCSR(view.missing, self.device)
        self.idf = torch.as_tensor(view.idf, device=self.device)
        self.library = torch.as_tensor(view.library, device=self.device)

    def batch(self, index: np.ndarray) -> SideBatch:
        """The same batch as ``view.batch(index, device)``, gathered on the device."""
        from ._views import SideBatch

        view = self.view
        index = torch.as_tensor(np.asarray(index, dtype=np.int64), device=self.device)
        shape = (len(index), view.n_features)
        row, column, position = self.rows.gather(index)
        values = self.rows.values[position]
        target = torch.zeros(shape, device=self.device)
        target[row, column] = values
        encoded = values
        if view.input_transform == "tfidf":
            encoded = torch.log1p(values.clamp_min(0.0)) * self.idf[column]
            norm = torch.zeros(len(index), device=self.device).index_add(0, row, encoded**2)
            encoded = encoded / norm.sqrt().clamp_min(1e-12)[row]
        if view.sparse_input:
            encoder_input = torch.sparse_coo_tensor(
                torch.stack([row, column]),
                encoded,
                shape,
                is_coalesced=True,
                check_invariants=False,
            )
        else:
            encoder_input = torch.zeros(shape, device=self.device)
            encoder_input[row, column] = encoded
        mask = None
        if self.missing is not None:
            missing_row, missing_column, _ = self.missing.gather(index)
            mask = torch.ones(shape, dtype=torch.bool, device=self.device)
            mask[missing_row, missing_column] = False
        return SideBatch(
            index=index,
            encoder_input=encoder_input,
            target=target,
            mask=mask,
            offset=self.library[index],
        )
