"""``pl.top_features``: bar charts of the most enriched features of each row cluster."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .._utils import is_positive_int
from ..get import top_features_df
from ._common import cluster_colors

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure


def top_features(
    adata: AnnData,
    key: str = "cocluster",
    *,
    row_cluster: str | int | None = None,
    n_top: int = 10,
    ncols: int = 3,
    ax: Any = None,
) -> Figure:
    """Horizontal bars of the most enriched features of each row cluster.

    Each panel shows one row cluster's ``n_top`` highest-enrichment features over all its
    co-clusters (from :func:`cocluster_kit.tl.top_features`), coloured by the column cluster
    each feature belongs to.

    Parameters
    ----------
    adata
        An AnnData on which :func:`cocluster_kit.tl.top_features` ran.
    key
        The ``key_added`` of the co-clustering.
    row_cluster
        Draw only this row cluster (one panel); default every row cluster.
    n_top
        Features per panel (at most the ``n_top`` that ``tl.top_features`` kept per
        co-cluster times the number of column clusters).
    ncols
        Panels per row of the grid.
    ax
        Axes to draw on; only with ``row_cluster`` given (one panel).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per drawn row cluster, titled ``"row cluster <r>"``; the features are the
        y tick labels, the x axis is the enrichment.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    table = top_features_df(adata, key, row_cluster=row_cluster)
    if not is_positive_int(n_top):
        raise ValueError(f"n_top={n_top!r} must be a positive integer.")
    row_categories = list(table["row_cluster"].cat.categories)
    column_categories = list(table["col_cluster"].cat.categories)
    panels = [str(row_cluster)] if row_cluster is not None else row_categories
    if ax is not None and len(panels) != 1:
        raise ValueError(
            f"ax= draws one panel, but {len(panels)} row clusters were asked for; pass "
            "row_cluster=... or leave ax=None for a grid."
        )
    if ax is None:
        n_columns = max(1, min(ncols, len(panels)))
        n_rows = math.ceil(len(panels) / n_columns)
        height = 0.28 * n_top + 1.2
        figure, axes = plt.subplots(
            n_rows, n_columns, figsize=(4.2 * n_columns, height * n_rows), squeeze=False
        )
        axes = list(axes.ravel())
        for extra in axes[len(panels) :]:
            figure.delaxes(extra)
        axes = axes[: len(panels)]
    else:
        figure, axes = ax.get_figure(), [ax]
    colors = dict(zip(column_categories, cluster_colors(len(column_categories)), strict=True))
    for panel_ax, cluster in zip(axes, panels, strict=True):
        rows = table[table["row_cluster"] == cluster].sort_values(
            "enrichment", ascending=False, kind="stable"
        )
        rows = rows.head(n_top).iloc[::-1]
        panel_ax.barh(
            np.arange(len(rows)),
            rows["enrichment"].to_numpy(),
            color=[colors[c] for c in rows["col_cluster"]],
        )
        panel_ax.set_yticks(np.arange(len(rows)), rows["feature"].tolist(), fontsize=8)
        if rows.empty:
            panel_ax.text(0.5, 0.5, "empty cluster", ha="center", transform=panel_ax.transAxes)
        panel_ax.set_title(f"row cluster {cluster}")
        panel_ax.set_xlabel("enrichment")
    handles = [Patch(color=colors[c], label=c) for c in column_categories]
    axes[0].legend(handles=handles, title="column cluster", fontsize=7, loc="lower right")
    if ax is None:
        figure.tight_layout()
    return figure
