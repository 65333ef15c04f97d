"""``tl.cocluster``: fit a :class:`~cocluster_kit.CoclusterVAE` and write the result."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._anndata import check_anndata
from ._fitting import (
    check_cluster_count,
    effective_count,
    fit_model,
    prepare_fit,
    resolve_random_state,
    result_params,
)

if TYPE_CHECKING:
    from anndata import AnnData

    from ..model import CoclusterVAE

logger = logging.getLogger("cocluster_kit")


def cluster_categorical(labels: np.ndarray, n_clusters: int) -> pd.Categorical:
    """String labels ``"0" .. "n-1"`` with every category, in numeric order."""
    categories = [str(i) for i in range(n_clusters)]
    return pd.Categorical.from_codes(np.asarray(labels, dtype=np.int64), categories=categories)


def cocluster(
    adata: AnnData,
    n_row_clusters: int = 3,
    n_col_clusters: int | None = None,
    *,
    layer: str | None = None,
    key_added: str = "cocluster",
    random_state: int | None = 0,
    copy: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
    **model_kwargs,
) -> AnnData | None:
    """Co-cluster the observations and variables of ``adata`` with a three-level VAE.

    Fits :class:`cocluster_kit.CoclusterVAE` on one matrix of ``adata`` and writes the row
    (observation) and column (variable) clusters, memberships, embeddings and a summary back,
    all under ``key_added``.

    Parameters
    ----------
    adata
        The data: observations are the rows, variables the columns. NaN marks a missing entry
        (in a sparse layer, an explicitly stored NaN); missing entries are left out of every
        likelihood, the cross-loss table and the cell sampler.
    n_row_clusters
        ``K``, the number of observation (row) clusters.
    n_col_clusters
        ``L``, the number of variable (column) clusters; default ``n_row_clusters``.
    layer
        The matrix to fit: a key of ``adata.layers``; ``None`` takes the layer an adapter
        recorded in ``adata.uns["ckit_source"]["layer"]`` when it exists, else ``adata.X``;
        ``"X"`` forces ``adata.X``.
    key_added
        Name under which the results are stored (see Returns).
    random_state
        Seed of numpy, torch and the samplers; ``None`` uses ``cocluster_kit.settings.seed``
        (and a fresh seed if that is ``None`` too). The seed used is recorded.
    copy
        Return a new AnnData with the results instead of writing into ``adata``.
    checkpoint_dir
        A folder for training checkpoints: a fit interrupted there resumes when called again
        with the same data, arguments and a fixed ``random_state`` (see
        :meth:`cocluster_kit.CoclusterVAE.fit`). ``None``: no checkpoints.
    **model_kwargs
        Further arguments of :class:`cocluster_kit.CoclusterVAE` (``likelihood``,
        ``max_epochs``, ``latent_dim``, ...). ``likelihood`` defaults to the adapter's hint
        in ``adata.uns["ckit_source"]["likelihood"]`` when it describes the chosen matrix,
        else ``"auto"``; ``device`` and ``progress`` default to ``cocluster_kit.settings``.

    Returns
    -------
    AnnData or None
        A new AnnData if ``copy=True``, else ``None``; the results are written into it (or
        into ``adata``) as follows, with ``key = key_added``, ``n = n_obs``, ``m = n_vars``:

        ``adata.obs[f"{key}_row"]`` : categorical, ``(n,)``
            Row cluster of each observation: strings ``"0" .. "K-1"``, all ``K`` categories
            in numeric order, empty ones included.
        ``adata.var[f"{key}_col"]`` : categorical, ``(m,)``
            Column cluster of each variable, ``"0" .. "L-1"`` likewise.
        ``adata.obsm[f"X_{key}"]`` : float array, ``(n, latent_dim)``
            Row embeddings (encoder means).
        ``adata.varm[f"X_{key}"]`` : float array, ``(m, latent_dim)``
            Column embeddings.
        ``adata.obsm[f"{key}_row_proba"]`` : float array, ``(n, K)``
            Soft row-cluster memberships (rows sum to 1).
        ``adata.varm[f"{key}_col_proba"]`` : float array, ``(m, L)``
            Soft column-cluster memberships.
        ``adata.uns[key]`` : dict
            ``params`` (dict: every model argument that changes the result, with the
            resolved ``likelihood``, ``random_state``, ``layer`` (None for ``X``),
            ``version`` of cocluster-kit and ``world_size``), ``block_means`` (``(K, L)``
            float array, mean of the observed entries of each block, NaN for empty blocks),
            ``history`` (DataFrame, one row per epoch), ``bound`` (float, evidence bound per
            matrix entry at the kept epoch; higher is better), ``likelihood_source`` (str:
            ``"argument"``, ``"adapter <name>"`` or ``"auto"``), ``n_row_clusters_used`` and
            ``n_col_clusters_used`` (int, the non-empty clusters).

    Raises
    ------
    ValueError
        For a missing layer (the message lists the layers), cluster counts that are not
        positive or exceed ``n_obs`` / ``n_vars``, unknown model options, a likelihood that
        does not suit the data (negative values with a count likelihood), or a matrix the
        model cannot use: non-numeric, infinite values, every observed entry 0, or
        observations / variables with no observed entry (drop them; all-zero ones are kept).
        The message names the matrix (``adata.X`` or ``adata.layers[...]``).

    Examples
    --------
    >>> import cocluster_kit as ckit
    >>> adata = ckit.datasets.pbmc68k_reduced().raw.to_adata()  # doctest: +SKIP
    >>> ckit.tl.cocluster(adata, 10, 8)  # doctest: +SKIP
    >>> adata.obs["cocluster_row"].value_counts()  # doctest: +SKIP
    """
    _, target = fit_cocluster(
        adata,
        n_row_clusters,
        n_col_clusters,
        layer=layer,
        key_added=key_added,
        random_state=random_state,
        copy=copy,
        model_kwargs=model_kwargs,
        checkpoint_dir=checkpoint_dir,
    )
    return target if copy else None


def fit_cocluster(
    adata: AnnData,
    n_row_clusters: int,
    n_col_clusters: int | None,
    *,
    layer: str | None,
    key_added: str,
    random_state: int | None,
    copy: bool,
    model_kwargs: dict,
    checkpoint_dir: str | os.PathLike | None = None,
) -> tuple[CoclusterVAE, AnnData]:
    """The work of :func:`cocluster`, returning the fitted model too (for ``ckit run``).

    Checks the arguments, fits, and writes the result into ``adata`` (or into a copy made
    after the fit when ``copy=True``); returns ``(model, the AnnData written into)``.
    """
    check_anndata(adata, "tl.cocluster")
    check_cluster_count(adata, "n_row_clusters", n_row_clusters, "obs")
    n_columns = n_row_clusters if n_col_clusters is None else n_col_clusters
    check_cluster_count(adata, "n_col_clusters", n_columns, "vars")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added={key_added!r} must be a non-empty string.")
    fit_input = prepare_fit(adata, layer, model_kwargs)
    seed = resolve_random_state(random_state)
    model = fit_model(
        fit_input, int(n_row_clusters), int(n_columns), seed, checkpoint_dir=checkpoint_dir
    )
    target = adata.copy() if copy else adata
    write_result(target, model, fit_input, seed, key_added)
    logger.info(
        "tl.cocluster: %d x %d co-clusters, bound %.4g; added obs[%r], var[%r], uns[%r]",
        model.row_proba_.shape[1],
        model.column_proba_.shape[1],
        model.bound_,
        f"{key_added}_row",
        f"{key_added}_col",
        key_added,
    )
    return model, target


def write_result(adata: AnnData, model, fit_input, seed: int, key: str) -> None:
    """Write a fitted model's labels, memberships, embeddings and summary under ``key``."""
    n_rows, n_cols = model.row_proba_.shape[1], model.column_proba_.shape[1]
    adata.obs[f"{key}_row"] = cluster_categorical(model.row_labels_, n_rows)
    adata.var[f"{key}_col"] = cluster_categorical(model.column_labels_, n_cols)
    adata.obsm[f"X_{key}"] = np.asarray(model.row_embedding_, dtype=np.float32)
    adata.varm[f"X_{key}"] = np.asarray(model.column_embedding_, dtype=np.float32)
    adata.obsm[f"{key}_row_proba"] = np.asarray(model.row_proba_, dtype=np.float32)
    adata.varm[f"{key}_col_proba"] = np.asarray(model.column_proba_, dtype=np.float32)
    history = model.history_.copy()
    history.index = history.index.astype(str)  # h5ad stores string indices
    adata.uns[key] = {
        "params": result_params(model, fit_input, seed),
        "block_means": np.asarray(model.block_means_, dtype=np.float64),
        "history": history,
        "bound": float(model.bound_),
        "likelihood_source": fit_input.likelihood_source,
        "n_row_clusters_used": effective_count(model.row_labels_),
        "n_col_clusters_used": effective_count(model.column_labels_),
    }
