"""What a fitted ``CoclusterVAE`` offers: memberships, biclusters, new rows, imputation."""

from __future__ import annotations

import numpy as np
import torch

from ._validation import prepare_matrix


class NotFittedError(ValueError, AttributeError):
    """The estimator has not been fitted yet (scikit-learn's convention)."""


class FittedMixin:
    """Methods available after ``fit`` (scikit-learn's bicluster API and more)."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X) or load(dir) first."
            )

    def _set_memberships(self, row_mean: np.ndarray, col_mean: np.ndarray) -> None:
        module = self.module_
        self.row_embedding_ = row_mean
        self.column_embedding_ = col_mean
        self.row_proba_ = _responsibilities(module.rows, row_mean)
        self.column_proba_ = _responsibilities(module.columns, col_mean)
        self.row_labels_ = self.row_proba_.argmax(1)
        self.column_labels_ = self.column_proba_.argmax(1)

    # scikit-learn's bicluster interface: checkerboard order r * L + c.
    @property
    def rows_(self) -> np.ndarray:
        """Boolean ``(K * L, n_rows)``: row membership of bicluster ``r * L + c``."""
        self._check_fitted()
        k, l_ = self.row_proba_.shape[1], self.column_proba_.shape[1]
        rows = self.row_labels_[None, :] == np.arange(k)[:, None]
        return np.repeat(rows, l_, axis=0)

    @property
    def columns_(self) -> np.ndarray:
        """Boolean ``(K * L, n_cols)``: column membership of bicluster ``r * L + c``."""
        self._check_fitted()
        k, l_ = self.row_proba_.shape[1], self.column_proba_.shape[1]
        columns = self.column_labels_[None, :] == np.arange(l_)[:, None]
        return np.tile(columns, (k, 1))

    @property
    def biclusters_(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows_, columns_)``, as scikit-learn's bicluster estimators."""
        return self.rows_, self.columns_

    def get_indices(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Row and column indices of bicluster ``i``."""
        return np.nonzero(self.rows_[i])[0], np.nonzero(self.columns_[i])[0]

    def get_shape(self, i: int) -> tuple[int, int]:
        """Number of rows and columns of bicluster ``i``."""
        rows, columns = self.get_indices(i)
        return len(rows), len(columns)

    def get_submatrix(self, i: int, data):
        """The submatrix of ``data`` (dense or sparse) that bicluster ``i`` covers."""
        rows, columns = self.get_indices(i)
        if hasattr(data, "iloc"):
            return data.iloc[rows, columns]
        return (
            data[rows[:, None], columns]
            if not hasattr(data, "tocsr")
            else (data.tocsr()[rows][:, columns])
        )

    # New rows.
    def _row_view(self, X, mask=None):
        self._check_fitted()
        prepared = prepare_matrix(X, mask=mask)
        if prepared.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {prepared.shape[1]} columns but the model was fitted on "
                f"{self.n_features_in_}; give rows over the same columns, in the same order."
            )
        return self.data_.rows.like(prepared.matrix, prepared.missing), prepared

    def transform(self, X, *, mask=None) -> np.ndarray:
        """Row embeddings (posterior means) of new rows, ``(n, latent_dim)``.

        ``X`` and ``mask`` (``True`` where an entry is missing) as in ``fit``; missing
        entries are read as the encoder reads them in training.
        """
        from ..train import encode_view

        view, _ = self._row_view(X, mask)
        return encode_view(self.module_.rows, view, self._device())[0]

    def predict_proba(self, X, *, mask=None) -> np.ndarray:
        """Soft row-cluster memberships of new rows, ``(n, K)``."""
        embedding = self.transform(X, mask=mask)
        return _responsibilities(self.module_.rows, embedding)

    def predict(self, X, *, mask=None) -> np.ndarray:
        """Row-cluster labels of new rows."""
        return self.predict_proba(X, mask=mask).argmax(1)

    def _device(self) -> torch.device:
        return next(self.module_.parameters()).device

    def impute(self, X, *, mask=None):
        """Fill the missing entries of ``X`` with the row decoder's expected values.

        Parameters
        ----------
        X
            Rows over the fitted columns (the training matrix or new rows): dense array,
            DataFrame or scipy sparse matrix, NaN where missing (in a sparse matrix: stored
            NaN entries).
        mask
            Optional boolean array or sparse matrix, ``True`` where an entry is missing
            (as in ``fit``); those entries are filled whatever ``X`` holds there.

        Returns
        -------
        numpy.ndarray or scipy.sparse.csr_matrix
            A copy of ``X`` (float64; dense for dense input and DataFrames, CSR for sparse
            input) whose missing entries hold the model's expected value, on the original
            scale (counts for count data, probabilities for binary data). Observed entries
            are unchanged. Only the rows with a missing entry are decoded, a batch at a time;
            nothing of size ``n x m`` is built for sparse input.
        """
        from ._inference import impute_missing

        view, prepared = self._row_view(X, mask)
        return impute_missing(self, X, view, prepared.missing)

    def cell_scores(self, X, rows=None, columns=None, *, mask=None):
        """Cell-level block labels and anomaly scores (METHOD.md §6).

        Parameters
        ----------
        X
            The fitted matrix (the cell encoder reads ``x_ij``; the row encoder reads the rows
            of the cells asked for).
        rows, columns
            Equal-length integer arrays of cell coordinates; by default every stored
            (nonzero, observed) entry.
        mask
            Optional boolean array or sparse matrix, ``True`` where an entry is missing
            (as in ``fit``); missing cells have no score (use :meth:`impute`).

        Returns
        -------
        pandas.DataFrame
            ``row``, ``column``, ``value``; ``block``, the argmax of the cell-level
            responsibilities; ``anomaly``, the surprisal ``-log p(x_ij | z_i)`` of the cell
            under the row factor's decoder (large where the row and column factors do not
            explain the cell; on the data's standardised scale for Gaussian data, the Poisson
            form for multinomial rows); ``kl``, the closed-form KL of ``q(u | .)`` to the
            cell mixture, METHOD.md §6's score.

        Notes
        -----
        ``anomaly`` is not METHOD.md §6's KL: the cell encoder reads ``x_ij`` and its decoder
        learns to reproduce it, so a corrupted cell is explained at the cell level and its KL
        stays small. On planted matrices with injected cells (``benchmarks/robustness.py``)
        the KL ranked them at or below chance while the surprisal ranked them first.
        """
        from ._inference import score_cells

        return score_cells(self, X, rows, columns, mask=mask)

    def save(self, path) -> None:
        """Save to directory ``path``: ``model.pt`` (tensors) and ``model.json`` (sidecar).

        The folder is written under a temporary name beside ``path`` and renamed into place,
        so a failed save leaves an existing ``path`` as it was. ``model.json`` records the
        format version (:data:`~cocluster_kit.model.FORMAT_VERSION`) and the package version.

        Raises
        ------
        ValueError
            If ``path`` is a file, or a folder holding files other than a saved model's.
        """
        from ._io import save_model

        self._check_fitted()
        save_model(self, path)

    @classmethod
    def load(cls, path, *, device: str = "auto"):
        """Load a model saved with :meth:`save`.

        Parameters
        ----------
        path
            The folder :meth:`save` wrote.
        device
            Where to put the weights (as the estimator's ``device``).

        Raises
        ------
        cocluster_kit.model.MissingModelError
            (a ``ValueError`` and a ``FileNotFoundError``) If ``path``, its ``model.json`` or
            its ``model.pt`` does not exist.
        cocluster_kit.model.ModelFileError
            (a ``ValueError``) If a file is damaged, was written in a newer or older format,
            holds another class, or the weights do not match the sidecar; the message names
            the file and the fix.
        """
        from ._io import load_model

        return load_model(cls, path, device=device)


@torch.no_grad()
def _responsibilities(side, latent: np.ndarray) -> np.ndarray:
    device = next(side.parameters()).device
    gamma = side.responsibilities(torch.as_tensor(latent, device=device))
    return gamma.cpu().numpy()
