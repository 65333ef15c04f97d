"""Shared plumbing of ``tl``, ``pl`` and ``get``: which matrix, which stored result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from anndata import AnnData

X_NAME = "X"
"""``layer="X"`` names ``adata.X`` explicitly (unless a layer is called ``"X"``)."""


def check_anndata(adata: Any, function: str) -> None:
    """Refuse anything but an AnnData with a clear message."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        raise TypeError(
            f"{function} expects an AnnData as its first argument, got {type(adata).__name__}; "
            "read your data with cocluster_kit.adapters.read(...) or wrap an array with "
            "anndata.AnnData(X)."
        )


def adapter_source(adata: AnnData) -> dict:
    """``adata.uns["ckit_source"]`` as written by an adapter, or an empty dict."""
    source = adata.uns.get("ckit_source", {})
    return dict(source) if isinstance(source, dict) else {}


def resolve_layer(adata: AnnData, layer: str | None) -> str | None:
    """The layer to read: the one asked for (checked), else the adapter's, else ``X`` (None).

    ``layer=None`` takes ``uns["ckit_source"]["layer"]`` when an adapter recorded one and it
    exists; ``layer="X"`` asks for ``adata.X`` even then.
    """
    if layer is None:
        recorded = adapter_source(adata).get("layer")
        if isinstance(recorded, str) and recorded in adata.layers:
            return recorded
        return None
    if not isinstance(layer, str):
        raise ValueError(f"layer={layer!r} must be a layer name (a string) or None.")
    if layer in adata.layers:
        return layer
    if layer == X_NAME:
        return None
    available = ", ".join(map(repr, adata.layers.keys())) or "none"
    raise ValueError(
        f"layer={layer!r} is not in adata.layers (available: {available}); pass one of "
        "them, or layer=None for adata.X."
    )


def get_matrix(adata: AnnData, layer: str | None):
    """``adata.layers[layer]`` (or ``adata.X`` for None) as CSR or a dense float array."""
    matrix = adata.X if layer is None else adata.layers[layer]
    where = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    if matrix is None:
        raise ValueError(f"{where} is empty (None); give the AnnData a data matrix.")
    if sp.issparse(matrix):
        return sp.csr_matrix(matrix)
    if hasattr(matrix, "to_memory"):  # a backed sparse dataset
        return sp.csr_matrix(matrix.to_memory())
    return np.asarray(matrix)


def matrix_label(layer: str | None) -> str:
    """How a matrix is named in messages and plots."""
    return "adata.X" if layer is None else f"adata.layers[{layer!r}]"


@dataclass
class CoclusterResult:
    """What ``tl.cocluster`` stored under one key, read back for ``pl`` / ``get``."""

    key: str
    row_labels: np.ndarray
    column_labels: np.ndarray
    row_categories: list[str]
    column_categories: list[str]
    uns: dict

    @property
    def n_row_clusters(self) -> int:
        """``K`` (including empty clusters)."""
        return len(self.row_categories)

    @property
    def n_col_clusters(self) -> int:
        """``L`` (including empty clusters)."""
        return len(self.column_categories)

    @property
    def layer(self) -> str | None:
        """The layer the model was fitted on (None for ``adata.X``)."""
        return self.uns.get("params", {}).get("layer")


def read_result(adata: AnnData, key: str) -> CoclusterResult:
    """The labels and ``uns`` entry that ``tl.cocluster(..., key_added=key)`` wrote."""
    row_column, col_column = f"{key}_row", f"{key}_col"
    if key not in adata.uns or row_column not in adata.obs or col_column not in adata.var:
        found = sorted(
            name[: -len("_row")]
            for name in adata.obs.columns
            if name.endswith("_row") and name[: -len("_row")] in adata.uns
        )
        hint = f" Co-clusterings found: {found}." if found else ""
        raise KeyError(
            f"no co-clustering under key {key!r} (needs adata.uns[{key!r}], "
            f"adata.obs[{row_column!r}] and adata.var[{col_column!r}]); run "
            f"cocluster_kit.tl.cocluster(adata, key_added={key!r}) first.{hint}"
        )
    rows, columns = adata.obs[row_column], adata.var[col_column]
    for name, labels in ((row_column, rows), (col_column, columns)):
        if not hasattr(labels, "cat"):
            raise ValueError(f"{name} must be categorical, as tl.cocluster writes it.")
    return CoclusterResult(
        key=key,
        row_labels=rows.cat.codes.to_numpy().astype(np.int64),
        column_labels=columns.cat.codes.to_numpy().astype(np.int64),
        row_categories=[str(c) for c in rows.cat.categories],
        column_categories=[str(c) for c in columns.cat.categories],
        uns=adata.uns[key],
    )


def one_hot(labels: np.ndarray, n_clusters: int) -> sp.csr_matrix:
    """Sparse ``(n, n_clusters)`` indicator of ``labels`` (codes below 0 are left out)."""
    kept = np.flatnonzero(labels >= 0)
    return sp.csr_matrix(
        (np.ones(kept.size), (kept, labels[kept])), shape=(labels.size, n_clusters)
    )


def observed_parts(matrix) -> tuple[Any, Any]:
    """``(values, observed)``: the matrix with NaN set to 0, and the 0/1 observed indicator.

    Sparse input stays sparse (the indicator is ``None`` when nothing is missing, meaning
    every entry is observed); dense input gives dense arrays.
    """
    if sp.issparse(matrix):
        values = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
        is_missing = np.isnan(values.data)
        if not is_missing.any():
            return values, None
        pattern = values.copy()
        pattern.data = is_missing.astype(np.float64)
        pattern.eliminate_zeros()
        values.data[is_missing] = 0.0
        values.eliminate_zeros()
        return values, pattern  # the missing pattern; callers subtract it
    values = np.asarray(matrix, dtype=np.float64)
    is_missing = np.isnan(values)
    if not is_missing.any():
        return values, None
    return np.where(is_missing, 0.0, values), is_missing.astype(np.float64)


def cluster_sums(matrix, row_indicator: sp.csr_matrix) -> tuple[np.ndarray, ...]:
    """Per row cluster and column: sums, sums of squares and observed counts, ``(K, m)`` each.

    Sparse one-hot products; ``matrix`` is never densified (its square is taken entrywise on
    the stored values).
    """
    values, missing = observed_parts(matrix)
    squares = values.multiply(values) if sp.issparse(values) else values * values
    indicator_t = row_indicator.T.tocsr()
    sums = as_array(indicator_t @ values)
    sum_squares = as_array(indicator_t @ squares)
    sizes = np.asarray(row_indicator.sum(axis=0)).ravel()
    counts = np.repeat(sizes[:, None], values.shape[1], axis=1)
    if missing is not None:
        counts = counts - as_array(indicator_t @ missing)
    return sums, sum_squares, counts


def as_array(product) -> np.ndarray:
    """A small (``K x m`` or ``K x L``) product as a dense float array."""
    return np.asarray(product.toarray() if sp.issparse(product) else product, dtype=np.float64)
