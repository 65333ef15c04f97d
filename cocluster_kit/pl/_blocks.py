"""``pl.blocks``: the matrix reordered by row and column clusters, with cluster colour bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .._anndata import check_anndata, get_matrix, matrix_label, read_result, resolve_layer
from ._common import cluster_colors, figure_and_axes

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure

SCALES = (None, "log1p", "row", "column")


def sample_per_cluster(labels: np.ndarray, n_clusters: int, limit: int, rng) -> np.ndarray:
    """Indices grouped by cluster (in cluster order), at most about ``limit`` of them.

    When there are more items than ``limit``, each non-empty cluster keeps a random share
    proportional to its size (at least one item), in the original order within the cluster.
    """
    sizes = np.bincount(labels, minlength=n_clusters)
    fraction = min(1.0, limit / max(labels.size, 1))
    chosen = []
    for cluster in range(n_clusters):
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            continue
        keep = members.size if fraction >= 1.0 else max(1, round(fraction * sizes[cluster]))
        if keep < members.size:
            members = np.sort(rng.choice(members, size=keep, replace=False))
        chosen.append(members)
    return np.concatenate(chosen) if chosen else np.array([], dtype=np.int64)


def _scaled(values: np.ndarray, scale: str | None) -> np.ndarray:
    """The sampled submatrix on the requested colour scale (NaN stays NaN)."""
    if scale is None:
        return values
    if scale == "log1p":
        if np.nanmin(values) < 0:
            raise ValueError("scale='log1p' needs non-negative values; use scale=None or 'row'.")
        return np.log1p(values)
    axis = 1 if scale == "row" else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = values - np.nanmean(values, axis=axis, keepdims=True)
        spread = np.nanstd(values, axis=axis, keepdims=True)
        return np.where(spread > 0, centred / spread, 0.0 * centred)


def _draw_cluster_bar(bar_ax, codes: np.ndarray, categories: list[str], vertical: bool) -> None:
    """A strip of cluster colours with the cluster names at the middle of each run."""
    from matplotlib.colors import ListedColormap

    colors = ListedColormap(cluster_colors(len(categories)))
    strip = codes[:, None] if vertical else codes[None, :]
    bar_ax.imshow(
        strip,
        aspect="auto",
        interpolation="nearest",
        cmap=colors,
        vmin=-0.5,
        vmax=len(categories) - 0.5,
    )
    present = [c for c in range(len(categories)) if np.any(codes == c)]
    centres = [np.flatnonzero(codes == c).mean() for c in present]
    names = [categories[c] for c in present]
    if vertical:
        bar_ax.set_xticks([])
        bar_ax.set_yticks(centres, names)
    else:
        bar_ax.set_yticks([])
        bar_ax.set_xticks(centres, names)
        bar_ax.xaxis.tick_top()


def blocks(
    adata: AnnData,
    key: str = "cocluster",
    *,
    layer: str | None = None,
    max_rows: int = 2000,
    max_cols: int = 2000,
    ax: Any = None,
    cmap: str = "viridis",
    scale: str | None = None,
    random_state: int = 0,
) -> Figure:
    """Heatmap of the matrix with rows and columns grouped by their co-clusters.

    Rows are ordered by row cluster and columns by column cluster, with a colour bar for
    each and lines between clusters. Large matrices are sampled: each cluster keeps a
    random share of its rows (columns) proportional to its size, so that at most about
    ``max_rows`` x ``max_cols`` entries are drawn; only that submatrix is ever densified.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`.
    key
        The ``key_added`` of that result.
    layer
        Matrix to draw; ``None`` takes the one the model was fitted on, ``"X"`` forces
        ``adata.X``.
    max_rows, max_cols
        Most rows and columns drawn (sampled per cluster beyond that).
    ax
        Axes for the heatmap; the colour bars are added beside it. A new figure by default.
    cmap
        Colour map of the values; missing (NaN) entries are left blank.
    scale
        ``None`` (values as stored), ``"log1p"`` (for counts), ``"row"`` or ``"column"``
        (z-scores of the drawn values along each row or column).
    random_state
        Seed of the row and column sampling.

    Returns
    -------
    matplotlib.figure.Figure
        The figure with four axes: the heatmap, the row-cluster bar (left), the
        column-cluster bar (top) and the colour scale (right).
    """
    import matplotlib.pyplot as plt
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    check_anndata(adata, "pl.blocks")
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not one of {', '.join(map(repr, SCALES))}.")
    for name, value in (("max_rows", max_rows), ("max_cols", max_cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer.")
    result = read_result(adata, key)
    chosen_layer = resolve_layer(adata, result.layer if layer is None else layer)
    matrix = get_matrix(adata, chosen_layer)
    rng = np.random.default_rng(random_state)
    rows = sample_per_cluster(result.row_labels, result.n_row_clusters, max_rows, rng)
    columns = sample_per_cluster(result.column_labels, result.n_col_clusters, max_cols, rng)
    submatrix = matrix[rows][:, columns] if sp.issparse(matrix) else matrix[np.ix_(rows, columns)]
    values = submatrix.toarray() if sp.issparse(submatrix) else np.asarray(submatrix)
    values = _scaled(values.astype(np.float64), scale)

    figure, ax = figure_and_axes(ax, (8.0, 6.5))
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", interpolation="nearest", cmap=cmap
    )
    row_codes, column_codes = result.row_labels[rows], result.column_labels[columns]
    for boundary in np.flatnonzero(np.diff(row_codes)) + 0.5:
        ax.axhline(boundary, color="white", linewidth=0.8)
    for boundary in np.flatnonzero(np.diff(column_codes)) + 0.5:
        ax.axvline(boundary, color="white", linewidth=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"variables ({columns.size} of {adata.n_vars} shown), by column cluster")
    divider = make_axes_locatable(ax)
    row_bar = divider.append_axes("left", size="4%", pad=0.05)
    column_bar = divider.append_axes("top", size="4%", pad=0.05)
    scale_ax = divider.append_axes("right", size="3%", pad=0.1)
    _draw_cluster_bar(row_bar, row_codes, result.row_categories, vertical=True)
    _draw_cluster_bar(column_bar, column_codes, result.column_categories, vertical=False)
    row_bar.set_ylabel(f"observations ({rows.size} of {adata.n_obs} shown), by row cluster")
    column_bar.set_title(f"{matrix_label(chosen_layer)} by {key} co-clusters")
    colour_label = {None: "value", "log1p": "log1p(value)", "row": "row z-score"}
    figure.colorbar(image, cax=scale_ax, label=colour_label.get(scale, "column z-score"))
    plt.setp(row_bar.get_yticklabels(), fontsize=8)
    plt.setp(column_bar.get_xticklabels(), fontsize=8)
    return figure
