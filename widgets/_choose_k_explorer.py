"""``ChooseKExplorer``: the (K, L) grid of a ``tl.choose_k`` sweep, and any fit's blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
import pandas as pd

from cocluster_kit import get, pl
from cocluster_kit._anndata import check_anndata, get_matrix, resolve_layer

from ._display import html_table, show_error, show_figure

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure


class ChooseKExplorer(widgets.VBox):
    """An explorer of a :func:`cocluster_kit.tl.choose_k` sweep, for Jupyter.

    Above: the criterion and stability of every ``(K, L)`` (``pl.choose_k``, the pair being
    explored ringed in red) and a grid of buttons, one per pair, showing its criterion and
    stabilities (the best pair starred). Clicking a button (or :meth:`select`) shows that
    fit's blocks: its block means and its reordered matrix (``pl.block_means``,
    ``pl.blocks``), with the runs of that pair as a table. The labels come from
    ``adata.obsm[f"{key}_row_labels"]`` / ``adata.varm[f"{key}_col_labels"]``, which
    ``tl.choose_k`` stores; a sweep without them (written by an older version) is refitted
    on demand for the chosen pair and seed, with the parameters the sweep recorded.

    Parameters
    ----------
    adata
        An AnnData on which :func:`cocluster_kit.tl.choose_k` ran.
    key
        Its ``key_added``.
    max_rows, max_cols
        Most rows and columns drawn of the reordered matrix (sampled per cluster).
    figsize
        Size of the chosen fit's figure, in inches.

    Attributes
    ----------
    buttons : dict
        ``{(K, L): ipywidgets.Button}``; the chosen pair's button carries the ``check`` icon.
    seed : ipywidgets.Dropdown
        Which seed's fit of the chosen pair to show.
    selected : tuple of int
        The chosen ``(K, L)``.
    overview_figure, figure : matplotlib.figure.Figure
        The sweep's curves, and the chosen fit's blocks (both closed to pyplot after
        display).
    fit_adata : anndata.AnnData
        The chosen fit as a ``tl.cocluster``-style result (sharing the matrix, not copying
        it) under ``fit_key``, for the ``pl`` and ``get`` functions.
    runs_table : pandas.DataFrame
        The chosen pair's runs, one per seed.
    """

    def __init__(
        self,
        adata: AnnData,
        key: str = "choose_k",
        *,
        max_rows: int = 1000,
        max_cols: int = 1000,
        figsize: tuple[float, float] = (12.0, 4.8),
    ) -> None:
        check_anndata(adata, "ChooseKExplorer")
        if key not in adata.uns or "scores" not in adata.uns[key]:
            raise KeyError(
                f"no choose_k sweep under adata.uns[{key!r}]; run "
                f"cocluster_kit.tl.choose_k(adata, key_added={key!r}) first."
            )
        entry = adata.uns[key]
        self.adata, self.key = adata, key
        self.max_rows, self.max_cols, self.figsize = max_rows, max_cols, figsize
        self.scores = pd.DataFrame(entry["scores"]).reset_index(drop=True)
        self.runs = pd.DataFrame(entry["runs"]).reset_index(drop=True)
        self.params = dict(entry.get("params", {}))
        best = entry["best"]
        self.best = (int(best["n_row_clusters"]), int(best["n_col_clusters"]))
        self.selected = self.best
        self.figure: Figure | None = None
        self.overview_figure: Figure | None = None
        self.fit_adata: AnnData | None = None
        self.fit_key = ""
        self.runs_table = pd.DataFrame()
        self._refits: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        seeds = sorted({int(seed) for seed in self.runs["seed"]})
        self.seed = widgets.Dropdown(options=seeds, value=seeds[0], description="seed")
        self.buttons = self._make_buttons()
        self.overview = widgets.Output()
        self.plot = widgets.Output()
        self.runs_panel = widgets.HTML()
        super().__init__(
            children=[
                self.overview,
                widgets.HTML("<b>pick a (K, L)</b>: criterion (median bound) / row, column ARI"),
                self._button_grid(),
                self.seed,
                self.runs_panel,
                self.plot,
            ]
        )
        self.seed.observe(self._on_seed, names="value")
        self.select(*self.selected)

    def _make_buttons(self) -> dict[tuple[int, int], widgets.Button]:
        """One button per ``(K, L)``, labelled with its scores."""
        buttons = {}
        for _, score in self.scores.iterrows():
            pair = (int(score["n_row_clusters"]), int(score["n_col_clusters"]))
            star = " \u2605" if pair == self.best else ""
            button = widgets.Button(
                description=f"K={pair[0]}, L={pair[1]}{star}",
                tooltip=(
                    f"criterion {score['criterion']:.4g}; stability rows "
                    f"{score['row_stability']:.2f}, columns {score['col_stability']:.2f}"
                ),
                layout=widgets.Layout(width="auto"),
            )
            button.on_click(lambda _button, pair=pair: self._on_pick(pair))
            buttons[pair] = button
        return buttons

    def _button_grid(self) -> widgets.GridBox:
        """The buttons laid out with ``K`` down and ``L`` across, each with its scores."""
        row_values = sorted({pair[0] for pair in self.buttons})
        col_values = sorted({pair[1] for pair in self.buttons})
        cells: list[widgets.Widget] = []
        for n_rows in row_values:
            for n_cols in col_values:
                button = self.buttons.get((n_rows, n_cols))
                if button is None:
                    cells.append(widgets.HTML(""))
                    continue
                score = self._score(n_rows, n_cols)
                label = widgets.HTML(
                    f"<small>{score['criterion']:.4g} / {score['row_stability']:.2f}, "
                    f"{score['col_stability']:.2f}</small>"
                )
                cells.append(widgets.VBox([button, label]))
        return widgets.GridBox(
            cells,
            layout=widgets.Layout(grid_template_columns=f"repeat({len(col_values)}, 170px)"),
        )

    def _score(self, n_rows: int, n_cols: int) -> pd.Series:
        """The scores row of ``(K, L)``."""
        chosen = self.scores[
            (self.scores["n_row_clusters"] == n_rows) & (self.scores["n_col_clusters"] == n_cols)
        ]
        if chosen.empty:
            pairs = sorted(self.buttons)
            raise ValueError(f"(K, L) = ({n_rows}, {n_cols}) is not in the sweep: {pairs}.")
        return chosen.iloc[0]

    def _on_pick(self, pair: tuple[int, int]) -> None:
        """A button was clicked."""
        try:
            self.select(*pair)
        except Exception as error:
            show_error(self.plot, error)
            raise

    def _on_seed(self, change: dict) -> None:
        """The seed changed: show that seed's fit of the chosen pair."""
        self._on_pick(self.selected)

    def select(self, n_row_clusters: int, n_col_clusters: int) -> None:
        """Explore the fit of ``(K, L)`` for the chosen seed (what a button click does)."""
        pair = (int(n_row_clusters), int(n_col_clusters))
        score = self._score(*pair)
        self.selected = pair
        for other, button in self.buttons.items():
            button.icon = "check" if other == pair else ""
            button.button_style = "info" if other == pair else ""
        self.overview_figure = pl.choose_k(self.adata, self.key, highlight=pair)
        show_figure(self.overview, self.overview_figure)
        self.fit_adata, self.fit_key = self._fit_result(*pair, int(self.seed.value))
        self.figure = self._draw_fit()
        show_figure(self.plot, self.figure)
        runs = self.runs[
            (self.runs["n_row_clusters"] == pair[0]) & (self.runs["n_col_clusters"] == pair[1])
        ]
        self.runs_table = runs.drop(columns=["n_row_clusters", "n_col_clusters"])
        self.runs_table = self.runs_table.reset_index(drop=True)
        self.runs_panel.value = (
            f"<h4>K = {pair[0]}, L = {pair[1]}</h4>"
            f"criterion {score['criterion']:.5g}; stability: rows {score['row_stability']:.3f}, "
            f"columns {score['col_stability']:.3f}<br>{html_table(self.runs_table)}"
        )

    def _draw_fit(self) -> Figure:
        """Block means and the reordered matrix of the chosen fit, side by side.

        The titles name the fit: ``fit_key`` is ``"K<K>_L<L>_seed<seed>"``.
        """
        import matplotlib.pyplot as plt

        figure, (means_ax, matrix_ax) = plt.subplots(
            1, 2, figsize=self.figsize, gridspec_kw={"width_ratios": [1, 1.4]}
        )
        pl.block_means(self.fit_adata, self.fit_key, ax=means_ax, annotate=True)
        pl.blocks(
            self.fit_adata,
            self.fit_key,
            ax=matrix_ax,
            max_rows=self.max_rows,
            max_cols=self.max_cols,
        )
        return figure

    def _run_index(self, n_rows: int, n_cols: int, seed: int) -> int:
        """Position of the fit ``(K, L, seed)`` among the runs (the label arrays' column)."""
        chosen = np.flatnonzero(
            (self.runs["n_row_clusters"] == n_rows).to_numpy()
            & (self.runs["n_col_clusters"] == n_cols).to_numpy()
            & (self.runs["seed"] == seed).to_numpy()
        )
        if chosen.size == 0:
            raise ValueError(f"no run of K={n_rows}, L={n_cols} with seed {seed} in the sweep.")
        return int(chosen[0])

    def _labels(self, n_rows: int, n_cols: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Row and column labels of one fit: stored by ``tl.choose_k``, else refitted."""
        row_key, col_key = f"{self.key}_row_labels", f"{self.key}_col_labels"
        if row_key in self.adata.obsm and col_key in self.adata.varm:
            run = self._run_index(n_rows, n_cols, seed)
            return (
                np.asarray(self.adata.obsm[row_key][:, run], dtype=np.int64),
                np.asarray(self.adata.varm[col_key][:, run], dtype=np.int64),
            )
        if (n_rows, n_cols, seed) not in self._refits:
            self._refits[n_rows, n_cols, seed] = self._refit(n_rows, n_cols, seed)
        return self._refits[n_rows, n_cols, seed]

    def _refit(self, n_rows: int, n_cols: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Fit ``(K, L)`` again with the sweep's recorded parameters and ``seed``."""
        from cocluster_kit.tl._fitting import fit_model, prepare_fit

        self._run_index(n_rows, n_cols, seed)  # the pair and seed must be in the sweep
        options = {
            name: tuple(value.tolist()) if isinstance(value, np.ndarray) else value
            for name, value in dict(self.params.get("model_kwargs", {})).items()
        }
        options["likelihood"] = self.params.get("likelihood") or "auto"
        options["progress"] = False
        fit_input = prepare_fit(self.adata, self.params.get("layer") or "X", options)
        model = fit_model(fit_input, n_rows, n_cols, seed)
        return np.asarray(model.row_labels_), np.asarray(model.column_labels_)

    def _fit_result(self, n_rows: int, n_cols: int, seed: int) -> tuple[AnnData, str]:
        """An AnnData sharing the swept matrix, with this fit written as ``pl`` reads it."""
        import anndata as ad

        from cocluster_kit.tl._cocluster import cluster_categorical

        row_labels, col_labels = self._labels(n_rows, n_cols, seed)
        layer = resolve_layer(self.adata, self.params.get("layer") or "X")
        fit_key = f"K{n_rows}_L{n_cols}_seed{seed}"
        fit = ad.AnnData(
            get_matrix(self.adata, layer),
            obs=pd.DataFrame(index=self.adata.obs_names.copy()),
            var=pd.DataFrame(index=self.adata.var_names.copy()),
        )
        fit.obs[f"{fit_key}_row"] = cluster_categorical(row_labels, n_rows)
        fit.var[f"{fit_key}_col"] = cluster_categorical(col_labels, n_cols)
        fit.uns[fit_key] = {"params": {"layer": None, "random_state": seed}}
        blocks = get.blocks_df(fit, fit_key)
        fit.uns[fit_key]["block_means"] = blocks["mean"].to_numpy().reshape(n_rows, n_cols)
        return fit, fit_key
