"""``tl.choose_k``: sweep the numbers of row and column clusters over a grid and seeds."""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._anndata import check_anndata
from ._fitting import (
    NOT_RESULT_CHANGING,
    check_cluster_count,
    effective_count,
    fit_model,
    h5ad_value,
    prepare_fit,
)

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("cocluster_kit")

CRITERION = "median bound over seeds"
STABILITY = "mean pairwise ARI over seeds"


def _cluster_grid(
    adata: AnnData, row_clusters: Sequence[int] | int, col_clusters: Sequence[int] | int | None
) -> list[tuple[int, int]]:
    """The ``(K, L)`` pairs to fit: the full grid, or ``L = K`` when ``col_clusters`` is None."""
    rows = [row_clusters] if isinstance(row_clusters, (int, np.integer)) else list(row_clusters)
    if not rows:
        raise ValueError("row_clusters is empty; give at least one number of row clusters.")
    for value in rows:
        check_cluster_count(adata, "row_clusters", value, "obs")
    if col_clusters is None:
        for value in rows:
            check_cluster_count(adata, "col_clusters (= row_clusters)", value, "vars")
        return [(int(k), int(k)) for k in dict.fromkeys(rows)]
    columns = [col_clusters] if isinstance(col_clusters, (int, np.integer)) else list(col_clusters)
    if not columns:
        raise ValueError("col_clusters is empty; give at least one number, or None for L = K.")
    for value in columns:
        check_cluster_count(adata, "col_clusters", value, "vars")
    return [
        (int(k), int(l_))
        for k, l_ in itertools.product(dict.fromkeys(rows), dict.fromkeys(columns))
    ]


def _mean_pairwise_ari(labelings: list[np.ndarray]) -> float:
    """Mean adjusted Rand index over all pairs of labelings (NaN with fewer than two)."""
    from ..metrics import ari

    pairs = list(itertools.combinations(labelings, 2))
    if not pairs:
        return float("nan")
    return float(np.mean([ari(first, second) for first, second in pairs]))


def choose_k(
    adata: AnnData,
    row_clusters: Sequence[int] | int = (2, 3, 4),
    col_clusters: Sequence[int] | int | None = None,
    *,
    seeds: Sequence[int] = (0, 1),
    layer: str | None = None,
    key_added: str = "choose_k",
    copy: bool = False,
    **model_kwargs,
) -> AnnData | None:
    """Fit a co-clustering for every ``(K, L)`` on a grid and every seed, and score them.

    **Criterion** (higher is better): the median over seeds of the model's evidence bound per
    matrix entry at the kept epoch (``CoclusterVAE.bound_``), comparable across ``K`` and
    ``L`` on the same matrix. **Stability**: the mean adjusted Rand index between the row
    labels of every pair of seeds (and likewise for the column labels); 1 means every seed
    found the same partition. The best ``(K, L)`` has the highest criterion (ties go to the
    smaller ``K * L``).

    Parameters
    ----------
    adata
        The data, as for :func:`cocluster_kit.tl.cocluster`.
    row_clusters
        The numbers of row clusters ``K`` to try.
    col_clusters
        The numbers of column clusters ``L`` to try, crossed with every ``K``; ``None`` pairs
        each ``K`` with ``L = K``.
    seeds
        Random states; each ``(K, L)`` is fitted once per seed.
    layer
        The matrix to fit, chosen as in :func:`cocluster_kit.tl.cocluster`.
    key_added
        Name under which the sweep is stored in ``adata.uns``.
    copy
        Return a new AnnData with the results instead of writing into ``adata``.
    **model_kwargs
        Further arguments of :class:`cocluster_kit.CoclusterVAE` (``likelihood`` defaults to
        the adapter's hint, as in :func:`cocluster_kit.tl.cocluster`).

    Returns
    -------
    AnnData or None
        A new AnnData if ``copy=True``, else ``None``. Writes the labels of every fit,
        column ``t`` for row ``t`` of ``"runs"`` (so ``cocluster_kit.widgets.ChooseKExplorer``
        shows any fit's blocks without refitting):

        ``adata.obsm[f"{key_added}_row_labels"]`` : small signed int array, ``(n_obs, n_runs)``
            Row cluster of each observation in each fit.
        ``adata.varm[f"{key_added}_col_labels"]`` : small signed int array, ``(n_vars, n_runs)``
            Column cluster of each variable in each fit.

        and ``adata.uns[key_added]``, a dict with

        ``"runs"`` : DataFrame, one row per fit
            ``n_row_clusters``, ``n_col_clusters``, ``seed``, ``bound``,
            ``n_row_clusters_used``, ``n_col_clusters_used``, ``seconds``. A fit that
            leaves requested clusters empty shows it here; its
            :class:`~cocluster_kit.model.EmptyClusterWarning` is not raised in the sweep.
        ``"scores"`` : DataFrame, one row per ``(K, L)``
            ``n_row_clusters``, ``n_col_clusters``, ``criterion`` (median bound),
            ``bound_min``, ``bound_max``, ``row_stability``, ``col_stability`` (mean pairwise
            ARI; NaN with one seed).
        ``"best"`` : dict
            ``n_row_clusters`` and ``n_col_clusters`` of the best pair.
        ``"params"`` : dict
            ``seeds``, ``layer`` (None for ``X``), the resolved ``likelihood`` of the first
            fit, ``criterion``, ``stability`` and the extra model options given.
    """
    check_anndata(adata, "tl.choose_k")
    grid = _cluster_grid(adata, row_clusters, col_clusters)
    seed_list = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not seed_list or any(
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        for seed in seed_list
    ):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of non-negative integers.")
    from ..model import EmptyClusterWarning  # imports torch: only once there is work to do

    fit_input = prepare_fit(adata, layer, model_kwargs)
    runs, scores, likelihood = [], [], None
    run_row_labels, run_col_labels = [], []
    for n_rows, n_cols in grid:
        row_labelings, col_labelings, bounds = [], [], []
        for seed in seed_list:
            started = time.perf_counter()
            with warnings.catch_warnings():
                # Empty clusters are part of what the sweep measures (the runs' *_used).
                warnings.simplefilter("ignore", EmptyClusterWarning)
                model = fit_model(fit_input, n_rows, n_cols, int(seed))
            likelihood = likelihood or model.likelihood_
            runs.append(
                {
                    "n_row_clusters": n_rows,
                    "n_col_clusters": n_cols,
                    "seed": int(seed),
                    "bound": float(model.bound_),
                    "n_row_clusters_used": effective_count(model.row_labels_),
                    "n_col_clusters_used": effective_count(model.column_labels_),
                    "seconds": time.perf_counter() - started,
                }
            )
            logger.info(
                "tl.choose_k: K=%d L=%d seed=%d bound %.4g", n_rows, n_cols, seed, model.bound_
            )
            bounds.append(float(model.bound_))
            row_labelings.append(model.row_labels_)
            col_labelings.append(model.column_labels_)
            run_row_labels.append(model.row_labels_)
            run_col_labels.append(model.column_labels_)
        scores.append(
            {
                "n_row_clusters": n_rows,
                "n_col_clusters": n_cols,
                "criterion": float(np.median(bounds)),
                "bound_min": float(np.min(bounds)),
                "bound_max": float(np.max(bounds)),
                "row_stability": _mean_pairwise_ari(row_labelings),
                "col_stability": _mean_pairwise_ari(col_labelings),
            }
        )
    runs_table, scores_table = pd.DataFrame(runs), pd.DataFrame(scores)
    ranked = scores_table.assign(size=scores_table.n_row_clusters * scores_table.n_col_clusters)
    ranked = ranked.sort_values(["criterion", "size"], ascending=[False, True], kind="stable")
    best = ranked.iloc[0]
    for table in (runs_table, scores_table):
        table.index = table.index.astype(str)  # h5ad stores string indices
    target = adata.copy() if copy else adata
    label_dtype = np.min_scalar_type(-max(max(pair) for pair in grid))  # smallest signed int
    target.obsm[f"{key_added}_row_labels"] = np.stack(run_row_labels, axis=1).astype(label_dtype)
    target.varm[f"{key_added}_col_labels"] = np.stack(run_col_labels, axis=1).astype(label_dtype)
    target.uns[key_added] = {
        "runs": runs_table,
        "scores": scores_table,
        "best": {
            "n_row_clusters": int(best["n_row_clusters"]),
            "n_col_clusters": int(best["n_col_clusters"]),
        },
        "params": {
            "seeds": np.asarray(seed_list, dtype=np.int64),
            "layer": fit_input.layer,
            "likelihood": likelihood,
            "criterion": CRITERION,
            "stability": STABILITY,
            "model_kwargs": {
                name: h5ad_value(value)
                for name, value in fit_input.model_kwargs.items()
                if name not in NOT_RESULT_CHANGING
            },
        },
    }
    logger.info(
        "tl.choose_k: best K=%d, L=%d; added uns[%r]",
        best["n_row_clusters"],
        best["n_col_clusters"],
        key_added,
    )
    return target if copy else None
