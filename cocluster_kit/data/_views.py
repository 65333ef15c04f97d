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
    """

    index: torch.Tensor
    encoder_input: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor | None
    offset: torch.Tensor | None


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
    ) -> None:
        self.matrix = matrix
        self.missing = missing
        self.input_transform = input_transform
        n_features = matrix.shape[1]
        self.feature_shift = _per_axis(feature_shift, (1, n_features))
        self.feature_scale = _per_axis(feature_scale, (1, n_features))
        self.idf = inverse_document_frequency(matrix, missing) if idf is None else idf
        self.library = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()

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

    def like(self, matrix: sp.csr_matrix, missing: sp.csr_matrix | None) -> MatrixView:
        """A view of new items read with this view's feature scaling and idf."""
        return MatrixView(
            matrix,
            missing,
            input_transform=self.input_transform,
            feature_shift=self.feature_shift,
            feature_scale=self.feature_scale,
            idf=self.idf,
        )

    def batch(self, index: np.ndarray, device: torch.device | str = "cpu") -> SideBatch:
        """Densify the items at ``index`` and move them to ``device``."""
        index = np.asarray(index, dtype=np.int64)
        values, observed = self.target_values(index)
        encoder_input = self.encoder_values(values)
        return SideBatch(
            index=torch.as_tensor(index, device=device),
            encoder_input=torch.as_tensor(encoder_input, device=device),
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


def column_sketch(rows: MatrixView, *, size: int, seed: int, chunk_rows: int = 2048) -> np.ndarray:
    """Compute ``T(X)^T R / sqrt(p)`` in one streaming pass over row chunks.

    ``T`` is the row view's value map: its affine scaling, and ``log1p`` for count and
    binary data (views in ``tfidf`` mode), so that a few large counts do not dominate the
    sketch. ``R`` is an ``n x p`` random sign matrix generated chunk by chunk from ``seed``.
    """
    n_items, n_features = rows.n_items, rows.n_features
    sketch = np.zeros((n_features, size), dtype=np.float64)
    for chunk_number, start in enumerate(range(0, n_items, chunk_rows)):
        index = np.arange(start, min(start + chunk_rows, n_items))
        values, _ = rows.target_values(index)
        if rows.input_transform == "tfidf":
            values = np.log1p(np.clip(values, 0.0, None))
        generator = np.random.default_rng([seed, chunk_number])
        signs = generator.integers(0, 2, size=(len(index), size), dtype=np.int8) * 2 - 1
        sketch += values.T.astype(np.float64) @ signs.astype(np.float64)
    return (sketch / np.sqrt(size)).astype(np.float32)
