"""The report's own figures: cluster sizes, membership uncertainty, labels against clusters.

The plots of the result itself (block means, reordered matrix, history, top features) come
from :mod:`cocluster_kit.pl`; these three only make sense on the report page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .pl._common import cluster_colors

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData
    from matplotlib.figure import Figure


def cluster_sizes_figure(adata: AnnData, key: str = "cocluster") -> Figure:
    """Bars of the number of rows in each row cluster and columns in each column cluster."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(1, 2, figsize=(10.0, 3.2))
    for ax, labels, what in (
        (axes[0], adata.obs[f"{key}_row"], "rows"),
        (axes[1], adata.var[f"{key}_col"], "columns"),
    ):
        categories = list(labels.cat.categories)
        counts = np.bincount(labels.cat.codes.to_numpy(), minlength=len(categories))
        ax.bar(range(len(categories)), counts, color=cluster_colors(len(categories)))
        ax.set_xticks(range(len(categories)), categories)
        for position, count in enumerate(counts):
            ax.annotate(str(count), (position, count), ha="center", va="bottom", fontsize=8)
        ax.set_xlabel(f"{what[:-1]} cluster")
        ax.set_ylabel(what)
        ax.set_title(f"{what} per cluster ({labels.size} in all)")
        ax.margins(y=0.15)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def uncertainty_figure(adata: AnnData, key: str = "cocluster") -> Figure:
    """Histograms of the chosen cluster's probability and of the membership entropy."""
    import matplotlib.pyplot as plt

    from ._outputs import membership_table

    figure, axes = plt.subplots(1, 2, figsize=(10.0, 3.2))
    for labels, proba, names, what in (
        (adata.obs[f"{key}_row"], adata.obsm[f"{key}_row_proba"], adata.obs_names, "rows"),
        (adata.var[f"{key}_col"], adata.varm[f"{key}_col_proba"], adata.var_names, "columns"),
    ):
        table = membership_table(names, labels.cat.codes.to_numpy(), proba)
        axes[0].hist(table["probability"], bins=20, range=(0, 1), alpha=0.6, label=what)
        top = max(float(np.log(max(np.asarray(proba).shape[1], 2))), 1e-6)
        axes[1].hist(table["entropy"], bins=20, range=(0, top), alpha=0.6, label=what)
    axes[0].set_xlabel("membership probability of the chosen cluster")
    axes[1].set_xlabel("entropy of the memberships (nats)")
    for ax in axes:
        ax.set_ylabel("items")
        ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def confusion_figure(table: pd.DataFrame) -> Figure:
    """Heatmap of counts of each reference class (down) in each row cluster (across)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    n_classes, n_clusters = table.shape
    figure, ax = plt.subplots(
        figsize=(max(4.0, 1.0 + 0.6 * n_clusters), max(3.0, 0.8 + 0.4 * n_classes))
    )
    sns.heatmap(table, annot=n_classes * n_clusters <= 400, fmt="d", cmap="Blues", ax=ax)
    ax.set_xlabel(str(table.columns.name or "row cluster"))
    ax.set_ylabel(str(table.index.name or "class"))
    ax.set_title("reference labels against row clusters")
    figure.tight_layout()
    return figure
