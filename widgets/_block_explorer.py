"""``BlockExplorer``: browse the co-clusters of one ``tl.cocluster`` result in Jupyter."""

from __future__ import annotations

import html
import warnings
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import scipy.sparse as sp

from cocluster_kit import get, pl, tl
from cocluster_kit._anndata import check_anndata, get_matrix, read_result, resolve_layer

from ._display import CMAPS, html_table, membership_uncertainty, show_error, show_figure

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure

VIEWS = (("block means", "means"), ("reordered matrix", "matrix"), ("chosen block", "block"))
"""The views: (label shown on the toggle, value of ``BlockExplorer.view``)."""
SCALES = (("none", "none"), ("log1p", "log1p"), ("row z", "row"), ("column z", "column"))
"""Colour scales of the matrix views: (label, value); ``"none"`` draws the values as stored."""
COUNT_LIKELIHOODS = ("multinomial", "poisson", "negative_binomial")


class BlockExplorer(widgets.VBox):
    """An explorer of the blocks of one co-clustering, for Jupyter.

    Shows one figure of the result, redrawn on every control change, and beside it the
    chosen co-cluster's size, mean, membership uncertainty, top features and top rows.
    Display it as the last expression of a cell. Needs a result of
    :func:`cocluster_kit.tl.cocluster`; runs :func:`cocluster_kit.tl.top_features` first
    (writing into ``adata.uns[key]``) when the result has no ranking yet. The matrix is
    never densified: the matrix views draw a per-cluster sample (``pl.blocks``).

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`.
    key
        The ``key_added`` of that result.
    layer
        Matrix to draw and measure on; ``None`` takes the one the model was fitted on,
        ``"X"`` forces ``adata.X``.
    n_top
        Features and rows listed for the chosen co-cluster (and ranked by
        ``tl.top_features`` when it has not run).
    max_rows, max_cols
        Most rows and columns drawn in the matrix views (sampled per cluster beyond that).
    figsize
        Size of the figure, in inches.
    random_state
        Seed of the sampling in the matrix views.

    Attributes
    ----------
    row_cluster, col_cluster : ipywidgets.Dropdown
        The chosen co-cluster; values are cluster labels (``"0"``, ``"1"``, ...).
    view : ipywidgets.ToggleButtons
        ``"means"`` (the ``K x L`` block means), ``"matrix"`` (the reordered matrix with
        cluster colour bars, chosen block outlined) or ``"block"`` (the chosen co-cluster's
        submatrix, with names when few).
    scale : ipywidgets.ToggleButtons
        Colour scale of the matrix views: ``"none"``, ``"log1p"`` (offered for non-negative
        data), ``"row"`` or ``"column"`` (z-scores).
    cmap : ipywidgets.Dropdown
        The colour map.
    rows_per_cluster : ipywidgets.IntSlider
        Most rows drawn of each row cluster in the matrix views.
    plot : ipywidgets.Output
        Where the figure is shown.
    side_panel : ipywidgets.HTML
        The chosen co-cluster's summary and tables.
    figure : matplotlib.figure.Figure
        The figure shown now (closed to pyplot after display; it can still be drawn).
    block_summary : dict
        The chosen co-cluster: ``row_cluster``, ``col_cluster``, ``n_rows``, ``n_cols``,
        ``size``, ``n_observed``, ``mean``, ``enrichment`` and ``row_uncertainty`` /
        ``col_uncertainty`` (``mean`` and ``max`` of ``1 - p`` over the members, and
        ``n_uncertain``, members with ``p < 0.8``).
    top_features_table, top_rows_table : pandas.DataFrame
        The chosen co-cluster's most enriched features and its row cluster's most typical
        rows, as shown in the side panel.

    Examples
    --------
    >>> import cocluster_kit as ckit
    >>> from cocluster_kit.widgets import BlockExplorer
    >>> ckit.tl.cocluster(adata, 4, 3)  # doctest: +SKIP
    >>> BlockExplorer(adata)  # doctest: +SKIP
    """

    def __init__(
        self,
        adata: AnnData,
        key: str = "cocluster",
        *,
        layer: str | None = None,
        n_top: int = 10,
        max_rows: int = 2000,
        max_cols: int = 2000,
        figsize: tuple[float, float] = (7.5, 5.5),
        random_state: int = 0,
    ) -> None:
        check_anndata(adata, "BlockExplorer")
        result = read_result(adata, key)
        if "top_features" not in result.uns or "top_rows" not in result.uns:
            tl.top_features(adata, key, n_top=n_top, layer=layer)
        self.adata, self.key, self.layer, self.n_top = adata, key, layer, n_top
        self.max_rows, self.max_cols, self.random_state = max_rows, max_cols, random_state
        self.figsize = figsize
        self._result = result
        self.blocks_table = get.blocks_df(adata, key, layer)
        self._top_rows = pd.DataFrame(result.uns["top_rows"])
        self._row_proba = adata.obsm.get(f"{key}_row_proba")
        self._col_proba = adata.varm.get(f"{key}_col_proba")
        self.figure: Figure | None = None
        self.block_summary: dict[str, Any] = {}
        self.top_features_table = pd.DataFrame()
        self.top_rows_table = pd.DataFrame()
        self._build_controls()
        self.plot = widgets.Output(layout=widgets.Layout(width="62%"))
        self.side_panel = widgets.HTML(
            layout=widgets.Layout(width="37%", max_height="560px", overflow="auto")
        )
        super().__init__(
            children=[
                widgets.HBox([self.row_cluster, self.col_cluster, self.cmap]),
                widgets.HBox([self.view, self.rows_per_cluster]),
                self.scale,
                widgets.HBox([self.plot, self.side_panel]),
            ]
        )
        for control in self.controls:
            control.observe(self._on_change, names="value")
        self.redraw()

    @property
    def controls(self) -> list[widgets.ValueWidget]:
        """Every control whose change redraws the explorer."""
        return [
            self.row_cluster,
            self.col_cluster,
            self.view,
            self.scale,
            self.cmap,
            self.rows_per_cluster,
        ]

    def _build_controls(self) -> None:
        """The dropdowns, toggles and slider, with a first block chosen."""
        result = self._result
        row_sizes = np.bincount(result.row_labels, minlength=result.n_row_clusters)
        col_sizes = np.bincount(result.column_labels, minlength=result.n_col_clusters)
        first = self.blocks_table.dropna(subset=["enrichment"])
        first = first.loc[first["enrichment"].idxmax()] if len(first) else self.blocks_table.iloc[0]
        self.row_cluster = widgets.Dropdown(
            options=_cluster_options(result.row_categories, row_sizes, "rows"),
            value=str(first["row_cluster"]),
            description="row cluster",
        )
        self.col_cluster = widgets.Dropdown(
            options=_cluster_options(result.column_categories, col_sizes, "columns"),
            value=str(first["col_cluster"]),
            description="column cluster",
            style={"description_width": "initial"},
        )
        self.view = widgets.ToggleButtons(options=VIEWS, value="matrix", description="view")
        chosen_layer = resolve_layer(self.adata, result.layer if self.layer is None else self.layer)
        scales = SCALES
        if not _non_negative(get_matrix(self.adata, chosen_layer)):
            scales = tuple(option for option in SCALES if option[1] != "log1p")
        likelihood = result.uns.get("params", {}).get("likelihood")
        counts = likelihood in COUNT_LIKELIHOODS and ("log1p", "log1p") in scales
        self.scale = widgets.ToggleButtons(
            options=scales, value="log1p" if counts else "none", description="scale"
        )
        self.cmap = widgets.Dropdown(options=CMAPS, value=CMAPS[0], description="colours")
        largest = int(max(row_sizes.max(initial=1), 1))
        self.rows_per_cluster = widgets.IntSlider(
            value=min(100, largest),
            min=1,
            max=largest,
            description="rows / cluster",
            continuous_update=False,
            style={"description_width": "initial"},
        )

    def _on_change(self, change: dict) -> None:
        """Redraw after a control changed; show the error in the plot area if drawing fails."""
        try:
            self.redraw()
        except Exception as error:
            show_error(self.plot, error)
            raise

    def redraw(self) -> None:
        """Draw the figure for the current controls, show it, and refresh the side panel."""
        matrix_view = self.view.value != "means"
        self.scale.disabled = self.rows_per_cluster.disabled = not matrix_view
        figure = self._draw()
        self.figure = figure
        show_figure(self.plot, figure)
        self._update_side_panel()

    def _draw(self) -> Figure:
        """A new figure of the current view, drawn with the ``pl`` functions."""
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=self.figsize)
        chosen = (self.row_cluster.value, self.col_cluster.value)
        if self.view.value == "means":
            pl.block_means(self.adata, self.key, ax=ax, cmap=self.cmap.value, highlight=chosen)
            return figure
        options = {
            "layer": self.layer,
            "max_rows": self.max_rows,
            "max_cols": self.max_cols,
            "rows_per_cluster": int(self.rows_per_cluster.value),
            "cmap": self.cmap.value,
            "scale": None if self.scale.value == "none" else self.scale.value,
            "random_state": self.random_state,
        }
        if self.view.value == "matrix":
            pl.blocks(self.adata, self.key, ax=ax, highlight=chosen, **options)
            return figure
        block = self.blocks_table.iloc[self._block_index()]
        if block["n_rows"] == 0 or block["n_cols"] == 0:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"co-cluster {chosen} is empty", ha="center", va="center")
            return figure
        pl.blocks(
            self.adata, self.key, ax=ax, row_cluster=chosen[0], col_cluster=chosen[1], **options
        )
        return figure

    def _block_index(self) -> int:
        """Row of ``blocks_table`` of the chosen co-cluster (checkerboard order ``r * L + c``)."""
        result = self._result
        row = result.row_categories.index(self.row_cluster.value)
        column = result.column_categories.index(self.col_cluster.value)
        return row * result.n_col_clusters + column

    def _update_side_panel(self) -> None:
        """Summarise the chosen co-cluster and list its top features and rows."""
        result = self._result
        row, column = self.row_cluster.value, self.col_cluster.value
        block = self.blocks_table.iloc[self._block_index()]
        self.block_summary = {
            "row_cluster": row,
            "col_cluster": column,
            **{
                name: _plain(block[name])
                for name in ("n_rows", "n_cols", "size", "n_observed", "mean", "enrichment")
            },
            "row_uncertainty": membership_uncertainty(
                self._row_proba, result.row_labels, result.row_categories.index(row)
            ),
            "col_uncertainty": membership_uncertainty(
                self._col_proba, result.column_labels, result.column_categories.index(column)
            ),
        }
        features = get.top_features_df(self.adata, self.key, row_cluster=row, col_cluster=column)
        columns = ["rank", "feature", "enrichment", "block_mean", "overall_mean"]
        self.top_features_table = features[columns].head(self.n_top).reset_index(drop=True)
        top_rows = self._top_rows[self._top_rows["row_cluster"].astype(str) == row]
        self.top_rows_table = top_rows[["rank", "row", "proba"]].head(self.n_top)
        self.top_rows_table = self.top_rows_table.reset_index(drop=True)
        self.side_panel.value = self._side_panel_html()

    def _side_panel_html(self) -> str:
        """The side panel: size and mean, uncertainty, then the two tables."""
        summary = self.block_summary
        lines = [
            f"<h4>co-cluster ({html.escape(summary['row_cluster'])}, "
            f"{html.escape(summary['col_cluster'])})</h4>",
            f"<b>size</b>: {summary['n_rows']} rows &times; {summary['n_cols']} columns = "
            f"{summary['size']} entries ({summary['n_observed']} observed)<br>",
            f"<b>block mean</b>: {summary['mean']:.4g} (enrichment "
            f"{summary['enrichment']:+.3g} sd)<br>",
        ]
        for side, what in (("row", "rows"), ("col", "columns")):
            spread = summary[f"{side}_uncertainty"]
            if np.isnan(spread["mean"]):
                lines.append(f"<b>{what}' uncertainty</b>: n/a<br>")
                continue
            lines.append(
                f"<b>{what}' uncertainty</b> (1 &minus; membership): mean {spread['mean']:.3f}, "
                f"max {spread['max']:.3f}; {int(spread['n_uncertain'])} of "
                f"{int(spread['n_members'])} below p = 0.8<br>"
            )
        lines.append("<b>top features</b> (by enrichment)")
        lines.append(html_table(self.top_features_table, empty="no feature ranked"))
        lines.append("<b>top rows</b> (by membership)")
        lines.append(html_table(self.top_rows_table, empty="no member"))
        return "\n".join(lines)


def _cluster_options(categories: list[str], sizes: np.ndarray, what: str) -> list[tuple]:
    """Dropdown options ``(label with the size, cluster label)``."""
    return [
        (f"{name} ({size} {what})" if size else f"{name} (empty)", name)
        for name, size in zip(categories, sizes, strict=True)
    ]


def _non_negative(matrix) -> bool:
    """Whether every observed value is at least 0 (reads the stored values only)."""
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if values.size == 0:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: nothing is negative
        return not bool(np.nanmin(values) < 0)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (anything else unchanged)."""
    return value.item() if isinstance(value, np.generic) else value
