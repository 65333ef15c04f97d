"""The matrix as one side sees it: items (rows of the view) described by features.

The row side sees ``X`` (rows are items, columns are features); the column side sees ``X^T``.
A :class:`MatrixView` serves both, so batching, transforms and masks exist once. Batches are
densified one minibatch at a time; the stored matrix stays sparse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

INPUT_TRANSFORMS = ("tfidf", "standardize", "none")

SPARSE_INPUT_DENSITY = 0.05
"""Largest share of stored entries at which the encoders read sparse minibatches (measured in
``benchmarks/speed.py``: the sparse first layer is faster below it on CPU)."""


def _sparse_tensor(rows: sp.csr_matrix, device: torch.device | str) -> torch.Tensor:
    """A coalesced COO tensor of a CSR matrix (sorted, no duplicates), on ``device``."""
    if not rows.has_sorted_indices:
        rows = rows.sorted_indices()
    coo_rows = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    indices = torch.as_tensor(np.vstack([coo_rows, rows.indices]).astype(np.int64))
    values = torch.as_tensor(rows.data.astype(np.float32, copy=False))
    tensor = torch.sparse_coo_tensor(
        indices, values, rows.shape, is_coalesced=True, check_invariants=False
    )
    return tensor.to(device)


@dataclass
class SideBatch:
    """One minibatch of items of a side, on the training device.

    Attributes
    ----------
    index
        Positions of the items in their side, ``(b,)``.
    encoder_input
        What the encoder reads, ``(b, n_input)``.
    target
        What the likelihood scores, ``(b, n_features)``.
    mask
        True where the entry is observed, or None when everything is.
    offset
        Library sizes for count likelihoods, ``(b,)``, or None.
    noise_window
        ``(start, global size)`` when these items are one process's share of a larger batch
        (data-parallel training): the encoder noise is drawn for the whole batch and this
        window kept, so the shares together see the noise one process would. None otherwise.
    """

    index: torch.Tensor
    encoder_input: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor | None
    offset: torch.Tensor | None
    noise_window: tuple[int, int] | None = None


def with_data(matrix: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    """``matrix``'s sparsity pattern holding ``data`` (index arrays shared, not copied)."""
    return sp.csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape, copy=False)


def float32_sums(matrix: sp.csr_matrix, axis: int) -> np.ndarray:
    """Column (``axis=0``) or row (``axis=1``) sums, added in float64, stored as float32.

    Only count likelihoods use these sums (library sizes, independence offsets), and their
    grand total is checked to fit float32 before fitting; for other data the sums are
    clipped to float32's range instead of overflowing.
    """
    limit = float(np.finfo(np.float32).max)
    sums = np.asarray(with_data(matrix, matrix.data.astype(np.float64)).sum(axis=axis)).ravel()
    return np.clip(sums, -limit, limit).astype(np.float32)


def _per_axis(values: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    return None if values is None else np.asarray(values, dtype=np.float32).reshape(shape)


def inverse_document_frequency(matrix: sp.csr_matrix, missing: sp.csr_matrix | None) -> np.ndarray:
    """Smooth idf per feature, as scikit-learn's ``TfidfVectorizer``, over observed entries."""
    n_items, n_features = matrix.shape
    observed = n_items - (np.asarray(missing.sum(axis=0)).ravel() if missing is not None else 0)
    document_frequency = np.bincount(matrix.indices[matrix.data != 0], minlength=n_features)
    return (np.log((1.0 + observed) / (1.0 + document_frequency)) + 1.0).astype(np.float32)


class MatrixView:
    """Items of a sparse matrix, with per-feature affine scaling and a mask.

    Parameters
    ----------
    matrix
        CSR ``items x features``; missing entries are stored as zeros (or not stored).
    missing
        CSR boolean pattern of missing entries, or None.
    input_transform
        ``"tfidf"`` (``log1p(x) * idf`` then L2 per item), ``"standardize"`` (the affine-scaled
        values) or ``"none"``.
    feature_shift, feature_scale
        Optional affine map ``(x - shift) / scale`` per feature.
    idf
        Inverse document frequencies to use (new data is read with the training ones);
        computed from ``matrix`` when None.
    sparse_input
        Hand the encoder a sparse (COO) minibatch when the value map keeps zeros at zero;
        the first layer then multiplies it with ``torch.sparse.mm``. ``"auto"``: when at most
        :data:`SPARSE_INPUT_DENSITY` of the entries are stored.
    """

    def __init__(
        self,
        matrix: sp.csr_matrix,
        missing: sp.csr_matrix | None,
        *,
        input_transform: str,
        feature_shift: np.ndarray | None = None,
        feature_scale: np.ndarray | None = None,
        idf: np.ndarray | None = None,
        sparse_input: bool | str = "auto",
    ) -> None:
        self.matrix = matrix
        self.missing = missing
        self.input_transform = input_transform
        n_features = matrix.shape[1]
        self.feature_shift = _per_axis(feature_shift, (1, n_features))
        self.feature_scale = _per_axis(feature_scale, (1, n_features))
        self.idf = inverse_document_frequency(matrix, missing) if idf is None else idf
        self.library = float32_sums(matrix, axis=1)
        if sparse_input == "auto":
            density = matrix.nnz / max(1, matrix.shape[0] * n_features)
            sparse_input = density <= SPARSE_INPUT_DENSITY
        self.sparse_input = bool(sparse_input) and self.is_sparse_map

    @property
    def n_items(self) -> int:
        """Number of items of this side."""
        return self.matrix.shape[0]

    @property
    def n_features(self) -> int:
        """Width of one item."""
        return self.matrix.shape[1]

    @property
    def n_input(self) -> int:
        """Width of the encoder input."""
        return self.n_features

    @property
    def is_sparse_map(self) -> bool:
        """Whether the value map keeps zeros at zero (no shift), so rows can stay sparse."""
        return self.feature_shift is None

    def scaled_rows(self, index: np.ndarray) -> sp.csr_matrix:
        """The affine-scaled values of the items at ``index`` as CSR (needs no shift).

        Missing entries are not stored in the matrix, so they are zero here as in
        :meth:`target_values`.
        """
        rows = self.matrix[index].astype(np.float32)
        if self.feature_scale is not None:
            rows = sp.csr_matrix(rows.multiply(1.0 / self.feature_scale))
        return rows

    def target_values(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Dense affine-scaled values and observed-mask of the items at ``index``."""
        values = self.matrix[index].toarray().astype(np.float32, copy=False)
        if self.feature_shift is not None:
            values -= self.feature_shift
        if self.feature_scale is not None:
            values /= self.feature_scale
        observed = None
        if self.missing is not None:
            observed = ~self.missing[index].toarray()
            values[~observed] = 0.0
        return values, observed

    def encoder_values(self, values: np.ndarray) -> np.ndarray:
        """The encoder input computed from target values (METHOD.md §12: TF-IDF + L2)."""
        if self.input_transform != "tfidf":
            return values
        weighted = np.log1p(np.clip(values, 0.0, None)) * self.idf
        norm = np.linalg.norm(weighted, axis=1, keepdims=True)
        return weighted / np.maximum(norm, 1e-12)

    def sparse_encoder_values(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """:meth:`encoder_values` of sparse scaled rows, computed on the stored entries only."""
        if self.input_transform != "tfidf":
            return rows
        weighted = rows.copy()
        weighted.data = np.log1p(np.clip(weighted.data, 0.0, None)) * self.idf[weighted.indices]
        norm = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        inverse = (1.0 / np.maximum(norm, 1e-12)).astype(np.float32)
        weighted.data *= np.repeat(inverse, np.diff(weighted.indptr))
        return weighted

    def like(self, matrix: sp.csr_matrix, missing: sp.csr_matrix | None) -> MatrixView:
        """A view of new items read with this view's feature scaling and idf."""
        return MatrixView(
            matrix,
            missing,
            input_transform=self.input_transform,
            feature_shift=self.feature_shift,
            feature_scale=self.feature_scale,
            idf=self.idf,
            sparse_input=self.sparse_input,
        )

    def keep_on(self, device: torch.device | str) -> None:
        """Keep the matrix on ``device`` and gather every batch for it there (see ``_device``).

        Needs a zero-preserving value map (no shift).
        """
        from ._device import DeviceRows

        self.resident = DeviceRows(self, device)

    def batch(self, index: np.ndarray, device: torch.device | str = "cpu") -> SideBatch:
        """Densify the items at ``index`` and move them to ``device``."""
        resident = getattr(self, "resident", None)
        if resident is not None and resident.device == torch.device(device):
            return resident.batch(index)
        index = np.asarray(index, dtype=np.int64)
        if self.is_sparse_map:
            # Transform the stored entries only, then densify the minibatch once.
            rows = self.scaled_rows(index)
            values = rows.toarray()
            encoded = self.sparse_encoder_values(rows)
            if self.sparse_input and torch.device(device).type != "mps":
                encoder_input = _sparse_tensor(encoded, device)
            else:
                encoder_input = torch.as_tensor(encoded.toarray(), device=device)
            observed = None if self.missing is None else ~self.missing[index].toarray()
        else:
            values, observed = self.target_values(index)
            encoder_input = torch.as_tensor(self.encoder_values(values), device=device)
        return SideBatch(
            index=torch.as_tensor(index, device=device),
            encoder_input=encoder_input,
            target=torch.as_tensor(values, device=device),
            mask=None if observed is None else torch.as_tensor(observed, device=device),
            offset=torch.as_tensor(self.library[index], device=device),
        )


class SketchView:
    """Columns read through a fixed random sketch ``X^T R / sqrt(p)`` (METHOD.md §3).

    Parameters
    ----------
    sketch
        Dense ``items x p`` sketch, computed once by :func:`column_sketch`. It is divided by
        its root mean square (one number, so distances keep their ratios) to give the encoder
        and the Gaussian decoder values of order one whatever ``n`` is.
    """

    input_transform = "sketch"

    def __init__(self, sketch: np.ndarray) -> None:
        scale = float(np.sqrt(np.mean(np.square(sketch, dtype=np.float64)))) or 1.0
        self.sketch = (sketch / scale).astype(np.float32, copy=False)
        self.missing = None

    @property
    def n_items(self) -> int:
        """Number of items (columns of the data)."""
        return self.sketch.shape[0]

    @property
    def n_features(self) -> int:
        """Sketch width ``p``."""
        return self.sketch.shape[1]

    n_input = n_features

    def batch(self, index: np.ndarray, device: torch.device | str = "cpu") -> SideBatch:
        """Sketch rows at ``index`` as both encoder input and Gaussian target."""
        index = np.asarray(index, dtype=np.int64)
        values = torch.as_tensor(self.sketch[index], device=device)
        return SideBatch(
            index=torch.as_tensor(index, device=device),
            encoder_input=values,
            target=values,
            mask=None,
            offset=None,
        )


SKETCH_VALUE_MAPS = ("standardize", "log1p", "none")


def column_sketch(
    matrix: sp.csr_matrix,
    missing: sp.csr_matrix | None = None,
    *,
    size: int,
    seed: int,
    value_map: str = "none",
    chunk_rows: int = 2048,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Compute ``T(X)^T R / sqrt(p)`` in one streaming pass over row chunks.

    ``R`` is an ``n x p`` random sign matrix generated chunk by chunk from ``seed``; the
    result is the column side's input and target, so ``T`` maps the values as the column
    side reads them (``value_map``):

    - ``"standardize"`` (Gaussian data): each *row* standardised over its observed entries,
      ``(x_ij - m_i) / s_i``. The column side's features are the rows, so this is its
      per-feature standardisation; a column keeps its own level and spread.
    - ``"log1p"`` (count and binary data read through TF-IDF): ``log1p(x)``, so that a few
      large counts do not dominate the sketch.
    - ``"none"``: the values as they are.

    Missing entries count as absent (they add nothing). Each chunk is multiplied as a
    sparse matrix (cost ``nnz x p``); the row shifts of ``"standardize"`` enter afterwards
    through sums of ``R`` over the observed entries, so no chunk is densified. Memory: the
    ``m x p`` result plus one chunk. On a CUDA ``device`` the chunk products run there
    (``torch.sparse.mm``, float32 accumulation); ``R`` is the same, generated on the host.
    """
    if value_map not in SKETCH_VALUE_MAPS:
        raise ValueError(f"value_map must be one of {SKETCH_VALUE_MAPS}, not {value_map!r}.")
    n_items, n_features = matrix.shape
    sketch = np.zeros((n_features, size), dtype=np.float64)
    shift_term = None
    if value_map == "standardize":
        from ._dataset import observed_mean_and_std

        item_shift, item_scale = observed_mean_and_std(matrix, missing, axis=1)
        # sum over the observed rows of each column of (m_i / s_i) R_i: all rows, less the
        # missing ones (below)
        shift_term = np.zeros((n_features, size), dtype=np.float64)
    on_device = torch.device(device).type == "cuda"
    device_sketch = torch.zeros((n_features, size), device=device) if on_device else None
    for chunk_number, start in enumerate(range(0, n_items, chunk_rows)):
        index = np.arange(start, min(start + chunk_rows, n_items))
        generator = np.random.default_rng([seed, chunk_number])
        weights = generator.integers(0, 2, size=(len(index), size), dtype=np.int8) * 2 - 1
        weights = weights.astype(np.float64)
        values = matrix[index].astype(np.float64)
        if value_map == "log1p":
            values.data = np.log1p(np.clip(values.data, 0.0, None))
        if shift_term is not None:
            weights /= item_scale[index, None]
            shifted = weights * item_shift[index, None]
            shift_term += shifted.sum(axis=0)
            if missing is not None:
                shift_term -= np.asarray(missing[index].T.astype(np.float64) @ shifted)
        if device_sketch is not None:
            chunk = _sparse_tensor(values.astype(np.float32), device).t()
            device_sketch += torch.sparse.mm(chunk, torch.as_tensor(weights, device=device).float())
        else:
            sketch += np.asarray(values.T @ weights)
    if device_sketch is not None:
        sketch += device_sketch.double().cpu().numpy()
    if shift_term is not None:
        sketch -= shift_term
    return (sketch / np.sqrt(size)).astype(np.float32)
