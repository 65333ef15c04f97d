"""Inference with a fitted model: decoder means for imputation, cell scores."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ._validation import drop_entries, prepare_matrix


@torch.no_grad()
def iter_decoder_means(
    estimator, view, index: np.ndarray, batch_size: int = 512
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Expected values of every feature of the rows at ``index``, one batch at a time.

    Yields ``(rows, values)``: a slice of ``index`` and its ``(len(rows), m)`` decoder means
    on the data's own scale. Only one batch of rows is ever dense.
    """
    module = estimator.module_
    side = module.rows
    device = next(module.parameters()).device
    for start in range(0, len(index), batch_size):
        rows = index[start : start + batch_size]
        batch = view.batch(rows, device)
        mean, _ = side.encoder(batch.encoder_input)
        raw = side.decode(side.scale * mean)
        if estimator.likelihood_ in ("poisson", "negative_binomial", "multinomial"):
            composition = torch.softmax(raw, dim=-1)
            mask = batch.mask if batch.mask is not None else torch.ones_like(composition).bool()
            observed_share = (composition * mask).sum(-1).clamp_min(1e-8)
            expected_total = batch.offset / observed_share
            values = composition * expected_total.unsqueeze(-1)
        else:
            values = side.likelihood.mean(raw)
        values = values.cpu().numpy().astype(np.float64)
        if view.feature_scale is not None:
            values = values * view.feature_scale + view.feature_shift
        yield rows, values


def decoder_means(estimator, view, index: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Expected value of every feature of the rows at ``index``, ``(len(index), m)``."""
    parts = [values for _, values in iter_decoder_means(estimator, view, index, batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, view.n_features))


def impute_missing(estimator, X, view, missing) -> np.ndarray | sp.csr_matrix:
    """``X`` with its missing entries replaced by the decoder means (see ``impute``).

    Dense input gives a dense float64 copy; sparse input a CSR copy whose missing entries
    (stored NaN or masked) hold the expected values while observed entries stay exactly as
    given. Rows are decoded a batch at a time, so nothing of size ``n x m`` is built for
    sparse data.
    """
    if sp.issparse(X):
        filled = sp.csr_matrix(X, dtype=np.float64, copy=True)
        filled.sum_duplicates()
    else:
        filled = np.array(np.ma.getdata(X) if np.ma.isMaskedArray(X) else X, dtype=np.float64)
    if missing is None:
        return filled
    missing = sp.csr_matrix(missing)
    rows_with_missing = np.unique(missing.nonzero()[0])
    cell_rows, cell_columns, values = [], [], []
    for rows, expected in iter_decoder_means(estimator, view, rows_with_missing):
        for position, row in enumerate(rows):
            columns = missing[row].indices
            cell_rows.append(np.full(len(columns), row))
            cell_columns.append(columns)
            values.append(expected[position, columns])
    cell_rows, cell_columns = np.concatenate(cell_rows), np.concatenate(cell_columns)
    values = np.concatenate(values)
    if sp.issparse(filled):
        drop_entries(filled, missing)  # observed values stay exactly as given
        imputed = sp.csr_matrix((values, (cell_rows, cell_columns)), shape=filled.shape)
        return (filled + imputed).tocsr()
    filled[cell_rows, cell_columns] = values
    return filled


@torch.no_grad()
def score_cells(
    estimator, X, rows=None, columns=None, *, mask=None, batch_size: int = 4096
) -> pd.DataFrame:
    """Block label and anomaly score of cells ``(rows[t], columns[t])``."""
    estimator._check_fitted()
    module = estimator.module_
    if module.cells is None:
        raise ValueError("this model has no cell level (it was fitted with joint=False).")
    prepared = prepare_matrix(X, mask=mask)
    if prepared.shape != estimator.data_.shape:
        raise ValueError(
            f"X has shape {prepared.shape} but the model was fitted on {estimator.data_.shape}; "
            "give the matrix the model was fitted on."
        )
    if rows is None or columns is None:
        coo = prepared.matrix.tocoo()
        rows, columns = coo.row, coo.col
    rows = np.asarray(rows, dtype=np.int64)
    columns = np.asarray(columns, dtype=np.int64)
    if rows.shape != columns.shape or rows.ndim != 1:
        raise ValueError("rows and columns must be 1-D integer arrays of the same length.")
    n_rows, n_cols = prepared.shape
    if len(rows) and (
        rows.min() < 0 or rows.max() >= n_rows or columns.min() < 0 or columns.max() >= n_cols
    ):
        raise ValueError(f"cell coordinates must lie within the matrix shape {prepared.shape}.")
    if prepared.missing is not None and len(rows):
        is_missing = np.asarray(prepared.missing[rows, columns]).ravel().astype(bool)
        if is_missing.any():
            first = int(np.flatnonzero(is_missing)[0])
            raise ValueError(
                f"cell ({rows[first]}, {columns[first]}) is missing in X; cell scores need "
                "observed values — use impute() for missing entries."
            )
    device = next(module.parameters()).device
    row_latent = torch.as_tensor(estimator.row_embedding_, device=device)
    col_latent = torch.as_tensor(estimator.column_embedding_, device=device)
    data = estimator.data_
    shift = data.column_shift
    scale = data.column_scale
    raw_values = np.asarray(prepared.matrix[rows, columns]).ravel().astype(np.float32)
    values = raw_values if shift is None else (raw_values - shift[columns]) / scale[columns]
    blocks, divergences = [], []
    for start in range(0, len(rows), batch_size):
        part = slice(start, start + batch_size)
        value = torch.as_tensor(values[part], device=device)
        encoder_input, _, _ = module.cell_inputs(
            row_latent[rows[part]], col_latent[columns[part]], value
        )
        mean, log_var = module.cells.encoder(encoder_input)
        blocks.append(module.cells.responsibilities(mean).argmax(-1).cpu().numpy())
        divergences.append(module.cells._vade_kl(mean.unsqueeze(0), mean, log_var).cpu().numpy())
    view = data.rows.like(prepared.matrix, prepared.missing)
    return pd.DataFrame(
        {
            "row": rows,
            "column": columns,
            "value": raw_values,
            "block": np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64),
            "anomaly": row_factor_surprisal(estimator, view, rows, columns),
            "kl": np.concatenate(divergences) if divergences else np.zeros(0),
        }
    )


@torch.no_grad()
def row_factor_surprisal(
    estimator, view, rows: np.ndarray, columns: np.ndarray, chunk_rows: int = 256
) -> np.ndarray:
    """``-log p(x_ij | z_i)`` of each cell under the row side's decoder.

    The row factor ``z_i`` (the posterior mean, read from the whole row) predicts every entry
    of its row; a cell it explains badly gets a large value. Rows are decoded ``chunk_rows`` at
    a time (``chunk_rows x m`` floats), each once however many of its cells are asked for.
    """
    side = estimator.module_.rows
    device = next(estimator.module_.parameters()).device
    surprisal = np.zeros(len(rows), dtype=np.float64)
    order = np.argsort(rows, kind="stable")
    unique_rows, first = np.unique(rows[order], return_index=True)
    bounds = np.append(first, len(rows))
    for start in range(0, len(unique_rows), chunk_rows):
        stop = min(start + chunk_rows, len(unique_rows))
        batch = view.batch(unique_rows[start:stop], device)
        mean, _ = side.encoder(batch.encoder_input)
        raw = side.decode(side.scale * mean)
        log_p = side.likelihood.entry_log_prob(raw, batch.target, batch.mask, batch.offset)
        cells = order[bounds[start] : bounds[stop]]
        local = np.searchsorted(unique_rows[start:stop], rows[cells])
        positions = torch.as_tensor(local, device=device)
        picked = log_p[positions, torch.as_tensor(columns[cells], device=device)]
        surprisal[cells] = -picked.double().cpu().numpy()
    return surprisal
