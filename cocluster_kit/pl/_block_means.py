"""``pl.block_means``: the ``K x L`` table of block means as a heatmap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._anndata import check_anndata, read_result
from ._common import figure_and_axes

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure


def block_means(
    adata: AnnData,
    key: str = "cocluster",
    *,
    ax: Any = None,
    cmap: str = "viridis",
    annotate: bool = True,
    fmt: str = ".2g",
    highlight: tuple[str | int, str | int] | None = None,
) -> Figure:
    """Heatmap of the mean of every (row cluster, column cluster) block.

    Reads ``adata.uns[key]["block_means"]`` (written by :func:`cocluster_kit.tl.cocluster`,
    on the matrix the model was fitted on); empty blocks are left blank.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`.
    key
        The ``key_added`` of that result.
    ax
        Axes to draw on; a new figure by default.
    cmap
        Colour map of the means.
    annotate
        Write each block's mean and size (rows x columns) in its cell.
    fmt
        Format of the annotated means.
    highlight
        ``(row cluster, column cluster)`` of a block to outline in red.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: the heatmap axes (row clusters down, column clusters across) and its
        colour bar.
    """
    import seaborn as sns

    check_anndata(adata, "pl.block_means")
    result = read_result(adata, key)
    means = np.asarray(result.uns["block_means"], dtype=np.float64)
    table = pd.DataFrame(means, index=result.row_categories, columns=result.column_categories)
    annotations: Any = False
    if annotate:
        n_rows = np.bincount(result.row_labels, minlength=result.n_row_clusters)
        n_cols = np.bincount(result.column_labels, minlength=result.n_col_clusters)
        annotations = np.array(
            [
                [
                    "" if np.isnan(value) else f"{value:{fmt}}\n{n_rows[r]}x{n_cols[c]}"
                    for c, value in enumerate(row)
                ]
                for r, row in enumerate(means)
            ]
        )
    size = (1.2 + 0.7 * result.n_col_clusters, 1.0 + 0.6 * result.n_row_clusters)
    figure, ax = figure_and_axes(ax, (max(size[0], 4.0), max(size[1], 3.0)))
    sns.heatmap(
        table,
        mask=np.isnan(means),
        cmap=cmap,
        annot=annotations,
        fmt="",
        ax=ax,
        cbar_kws={"label": "block mean"},
        annot_kws={"fontsize": 8},
    )
    if highlight is not None:
        _outline_cell(ax, highlight, result.row_categories, result.column_categories)
    ax.set_xlabel("column cluster")
    ax.set_ylabel("row cluster")
    ax.set_title(f"block means ({key})")
    return figure


def _outline_cell(ax, highlight, row_categories: list[str], column_categories: list[str]) -> None:
    """A red rectangle around heatmap cell ``highlight = (row cluster, column cluster)``."""
    from matplotlib.patches import Rectangle

    if len(highlight) != 2:
        raise ValueError(f"highlight={highlight!r} must be a (row cluster, column cluster) pair.")
    row, column = (str(value) for value in highlight)
    for value, categories, name in (
        (row, row_categories, "row"),
        (column, column_categories, "column"),
    ):
        if value not in categories:
            raise ValueError(f"highlight {name} cluster {value!r} is not one of {categories}.")
    ax.add_patch(
        Rectangle(
            (column_categories.index(column), row_categories.index(row)),
            1,
            1,
            fill=False,
            edgecolor="red",
            linewidth=2.5,
            label="highlighted block",
        )
    )
