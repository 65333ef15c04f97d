"""``pl.blocks``: the matrix reordered by row and column clusters, with cluster colour bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .._anndata import check_anndata, get_matrix, matrix_label, read_result, resolve_layer
from .._utils import is_positive_int
from ._common import cluster_colors, figure_and_axes

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure

SCALES = (None, "log1p", "row", "column")
NAMED_LIMIT = 60
"""Most rows (columns) of one chosen cluster labelled with their names."""


def sample_per_cluster(
    labels: np.ndarray,
    n_clusters: int,
    limit: int,
    rng,
    *,
    clusters: list[int] | None = None,
    per_cluster: int | None = None,
) -> np.ndarray:
    """Indices grouped by cluster (in cluster order), at most about ``limit`` of them.

    When the chosen clusters hold more items than ``limit``, each non-empty cluster keeps a
    random share proportional to its size (at least one item), in the original order within
    the cluster. ``clusters`` restricts the draw to those cluster codes; ``per_cluster``
    caps the items kept of each cluster.
    """
    chosen_clusters = list(range(n_clusters)) if clusters is None else list(clusters)
    sizes = np.bincount(labels, minlength=n_clusters)
    total = int(sizes[chosen_clusters].sum()) if chosen_clusters else 0
    fraction = min(1.0, limit / max(total, 1))
    chosen = []
    for cluster in chosen_clusters:
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            continue
        keep = members.size if fraction >= 1.0 else max(1, round(fraction * sizes[cluster]))
        if per_cluster is not None:
            keep = min(keep, per_cluster)
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


def _draw_cluster_bar(
    bar_ax, codes: np.ndarray, categories: list[str], vertical: bool, names=None
) -> None:
    """A strip of cluster colours, labelled with the cluster names at the middle of each run.

    With ``names`` (one per position), every position is labelled with its name instead.
    """
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
    if names is not None:
        centres, names = list(range(codes.size)), [str(name) for name in names]
    else:
        present = [c for c in range(len(categories)) if np.any(codes == c)]
        centres = [np.flatnonzero(codes == c).mean() for c in present]
        names = [categories[c] for c in present]
    if vertical:
        bar_ax.set_xticks([])
        bar_ax.set_yticks(centres, names)
    else:
        bar_ax.set_yticks([])
        bar_ax.set_xticks(centres, names, rotation=90 if len(names) > len(categories) else 0)
        bar_ax.xaxis.tick_top()


def _cluster_code(value: str | int | None, categories: list[str], name: str) -> int | None:
    """The code of cluster ``value`` (a label such as ``"2"`` or ``2``), or None for None."""
    if value is None:
        return None
    if str(value) not in categories:
        raise ValueError(f"{name}={value!r} is not one of {categories}.")
    return categories.index(str(value))


def _outline_block(ax, row_codes, column_codes, row_code: int, column_code: int) -> None:
    """A rectangle around the drawn entries of block ``(row_code, column_code)``."""
    from matplotlib.patches import Rectangle

    rows = np.flatnonzero(row_codes == row_code)
    columns = np.flatnonzero(column_codes == column_code)
    if rows.size == 0 or columns.size == 0:
        return
    ax.add_patch(
        Rectangle(
            (columns[0] - 0.5, rows[0] - 0.5),
            columns[-1] - columns[0] + 1,
            rows[-1] - rows[0] + 1,
            fill=False,
            edgecolor="red",
            linewidth=2.0,
            label="highlighted block",
        )
    )


def blocks(
    adata: AnnData,
    key: str = "cocluster",
    *,
    layer: str | None = None,
    max_rows: int = 2000,
    max_cols: int = 2000,
    rows_per_cluster: int | None = None,
    row_cluster: str | int | None = None,
    col_cluster: str | int | None = None,
    highlight: tuple[str | int, str | int] | None = None,
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
    ``row_cluster`` and ``col_cluster`` restrict the drawing to one row and/or column
    cluster: both together draw one co-cluster's submatrix, with the row and column names
    on the colour bars when at most 60 of them are drawn.

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
    rows_per_cluster
        Also draw at most this many rows of each row cluster (a random sample).
    row_cluster, col_cluster
        Draw only the rows of this row cluster / the columns of this column cluster
        (labels such as ``"2"`` or ``2``); default all.
    highlight
        ``(row cluster, column cluster)`` of a block to outline in red.
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
    for name, value in (
        ("max_rows", max_rows),
        ("max_cols", max_cols),
        ("rows_per_cluster", 1 if rows_per_cluster is None else rows_per_cluster),
    ):
        if not is_positive_int(value):
            raise ValueError(f"{name}={value!r} must be a positive integer.")
    result = read_result(adata, key)
    row_code = _cluster_code(row_cluster, result.row_categories, "row_cluster")
    column_code = _cluster_code(col_cluster, result.column_categories, "col_cluster")
    if highlight is not None and len(highlight) != 2:
        raise ValueError(f"highlight={highlight!r} must be a (row cluster, column cluster) pair.")
    chosen_layer = resolve_layer(adata, result.layer if layer is None else layer)
    matrix = get_matrix(adata, chosen_layer)
    rng = np.random.default_rng(random_state)
    rows = sample_per_cluster(
        result.row_labels,
        result.n_row_clusters,
        max_rows,
        rng,
        clusters=None if row_code is None else [row_code],
        per_cluster=rows_per_cluster,
    )
    columns = sample_per_cluster(
        result.column_labels,
        result.n_col_clusters,
        max_cols,
        rng,
        clusters=None if column_code is None else [column_code],
    )
    if rows.size == 0 or columns.size == 0:
        raise ValueError(
            f"nothing to draw: row cluster {row_cluster!r} / column cluster {col_cluster!r} "
            "has no members."
        )
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
    if highlight is not None:
        _outline_block(
            ax,
            row_codes,
            column_codes,
            _cluster_code(highlight[0], result.row_categories, "highlight[0]"),
            _cluster_code(highlight[1], result.column_categories, "highlight[1]"),
        )
    ax.set_xticks([])
    ax.set_yticks([])
    divider = make_axes_locatable(ax)
    row_bar = divider.append_axes("left", size="4%", pad=0.05)
    column_bar = divider.append_axes("top", size="4%", pad=0.05)
    scale_ax = divider.append_axes("right", size="3%", pad=0.1)
    row_names = adata.obs_names[rows] if row_code is not None and rows.size <= NAMED_LIMIT else None
    column_names = (
        adata.var_names[columns]
        if column_code is not None and columns.size <= NAMED_LIMIT
        else None
    )
    _draw_cluster_bar(row_bar, row_codes, result.row_categories, True, row_names)
    _draw_cluster_bar(column_bar, column_codes, result.column_categories, False, column_names)
    row_of, column_of = "", ""
    row_total, column_total = adata.n_obs, adata.n_vars
    if row_code is not None:
        row_of = f" of row cluster {result.row_categories[row_code]}"
        row_total = int(np.sum(result.row_labels == row_code))
    if column_code is not None:
        column_of = f" of column cluster {result.column_categories[column_code]}"
        column_total = int(np.sum(result.column_labels == column_code))
    ax.set_xlabel(
        f"variables{column_of} ({columns.size} of {column_total} shown), by column cluster"
    )
    row_bar.set_ylabel(f"observations{row_of} ({rows.size} of {row_total} shown), by row cluster")
    title = f"{matrix_label(chosen_layer)} by {key} co-clusters"
    if row_code is not None and column_code is not None:
        title = (
            f"{matrix_label(chosen_layer)}: co-cluster ({result.row_categories[row_code]}, "
            f"{result.column_categories[column_code]}) of {key}"
        )
    column_bar.set_title(title)
    colour_label = {None: "value", "log1p": "log1p(value)", "row": "row z-score"}
    figure.colorbar(image, cax=scale_ax, label=colour_label.get(scale, "column z-score"))
    plt.setp(row_bar.get_yticklabels(), fontsize=8 if row_names is None else 6)
    plt.setp(column_bar.get_xticklabels(), fontsize=8 if column_names is None else 6)
    return figure
