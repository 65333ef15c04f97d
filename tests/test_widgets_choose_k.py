"""ChooseKExplorer over a tl.choose_k sweep: the grid, button clicks and any fit's blocks."""

from __future__ import annotations

import functools

import anndata as ad
import ipywidgets
import numpy as np
import pytest
from _anndata_results import SHAPE, planted_adata
from _widget_helpers import changed, open_figures, pixels
from cocluster_kit.widgets import ChooseKExplorer
from conftest import FAST

import cocluster_kit as ckit

GRID, SEEDS = ((2, 3), (2,)), (0, 1)


pytestmark = pytest.mark.usefixtures("closed_figures")


@functools.lru_cache(maxsize=1)
def _swept() -> ad.AnnData:
    adata = planted_adata()
    ckit.tl.choose_k(adata, *GRID, seeds=SEEDS, **FAST)
    return adata


@pytest.fixture
def swept() -> ad.AnnData:
    return _swept().copy()


def red_rings(ax) -> list[tuple[float, float]]:
    rings = []
    for collection in ax.collections:
        edges = collection.get_edgecolor()
        if len(edges) and tuple(edges[0][:3]) == (1.0, 0.0, 0.0):
            rings.extend(map(tuple, collection.get_offsets()))
    return rings


def test_choose_k_keeps_the_labels_of_every_fit(swept, tmp_path):
    runs = swept.uns["choose_k"]["runs"]
    rows, columns = swept.obsm["choose_k_row_labels"], swept.varm["choose_k_col_labels"]
    assert rows.shape == (SHAPE[0], len(runs)) and columns.shape == (SHAPE[1], len(runs))
    assert rows.dtype == np.int8
    for position, run in enumerate(runs.itertuples()):
        assert rows[:, position].max() < run.n_row_clusters
        assert columns[:, position].max() < run.n_col_clusters
        assert np.unique(rows[:, position]).size == run.n_row_clusters_used
        assert np.unique(columns[:, position]).size == run.n_col_clusters_used
    swept.write_h5ad(tmp_path / "sweep.h5ad")
    back = ad.read_h5ad(tmp_path / "sweep.h5ad")
    np.testing.assert_array_equal(back.obsm["choose_k_row_labels"], rows)


def test_explorer_grid_and_first_pick(swept, shown):
    explorer = ChooseKExplorer(swept)
    assert isinstance(explorer, ipywidgets.Box)
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()
    best = swept.uns["choose_k"]["best"]
    best = (best["n_row_clusters"], best["n_col_clusters"])
    assert sorted(explorer.buttons) == [(2, 2), (3, 2)]
    assert explorer.buttons[best].description.endswith("\u2605")
    assert explorer.selected == best and explorer.buttons[best].icon == "check"
    assert list(explorer.seed.options) == list(SEEDS)
    criterion_ax, stability_ax = explorer.overview_figure.axes
    assert criterion_ax.get_title() == "criterion: median bound over seeds"
    assert [ring[0] for ring in red_rings(criterion_ax)] == [best[0]]
    assert len(red_rings(stability_ax)) == 2  # rows and columns
    means_ax = explorer.figure.axes[0]
    assert means_ax.get_title() == f"block means (K{best[0]}_L{best[1]}_seed0)"
    assert [t.get_text() for t in means_ax.get_yticklabels()] == [str(r) for r in range(best[0])]
    assert shown.figures() == [explorer.overview_figure, explorer.figure]
    assert open_figures() == []


def test_clicking_a_button_shows_that_fit(swept, shown):
    explorer = ChooseKExplorer(swept)
    other = next(pair for pair in explorer.buttons if pair != explorer.selected)
    figure, before = explorer.figure, pixels(explorer.figure)
    explorer.buttons[other].click()
    assert explorer.selected == other and explorer.figure is not figure
    assert explorer.buttons[other].icon == "check"
    assert all(button.icon == "" for pair, button in explorer.buttons.items() if pair != other)
    assert changed(before, pixels(explorer.figure))
    assert [ring[0] for ring in red_rings(explorer.overview_figure.axes[0])] == [other[0]]
    # the drawn fit is the stored run of that pair and seed
    runs = swept.uns["choose_k"]["runs"].reset_index(drop=True)
    run = runs.index[
        (runs.n_row_clusters == other[0]) & (runs.n_col_clusters == other[1]) & (runs.seed == 0)
    ][0]
    key = explorer.fit_key
    assert key == f"K{other[0]}_L{other[1]}_seed0"
    stored = swept.obsm["choose_k_row_labels"][:, run]
    np.testing.assert_array_equal(explorer.fit_adata.obs[f"{key}_row"].cat.codes, stored)
    matrix_ax = explorer.figure.axes[1]
    image = matrix_ax.get_images()[0].get_array()
    rows = np.argsort(stored, kind="stable")
    columns = np.argsort(swept.varm["choose_k_col_labels"][:, run], kind="stable")
    np.testing.assert_allclose(image, np.asarray(swept.X)[rows][:, columns], rtol=1e-6)
    assert explorer.fit_adata.X is swept.X or np.shares_memory(explorer.fit_adata.X, swept.X)
    assert explorer.runs_table["seed"].tolist() == list(SEEDS)
    assert f"K = {other[0]}, L = {other[1]}" in explorer.runs_panel.value
    assert open_figures() == []


def test_the_seed_dropdown_shows_the_other_seed(swept, shown):
    explorer = ChooseKExplorer(swept)
    before = pixels(explorer.figure)
    explorer.seed.value = 1
    assert explorer.fit_key.endswith("_seed1")
    assert explorer.figure.axes[0].get_title().endswith("_seed1)")
    assert changed(before, pixels(explorer.figure))


def test_a_sweep_without_labels_is_refitted_on_demand(swept, shown):
    stored_rows = swept.obsm.pop("choose_k_row_labels")
    stored_columns = swept.varm.pop("choose_k_col_labels")
    explorer = ChooseKExplorer(swept)
    runs = swept.uns["choose_k"]["runs"].reset_index(drop=True)
    pair = explorer.selected
    run = runs.index[
        (runs.n_row_clusters == pair[0]) & (runs.n_col_clusters == pair[1]) & (runs.seed == 0)
    ][0]
    key = explorer.fit_key
    # same parameters, same seed, same machine: the same labels as the sweep's fit
    np.testing.assert_array_equal(
        explorer.fit_adata.obs[f"{key}_row"].cat.codes, stored_rows[:, run]
    )
    np.testing.assert_array_equal(
        explorer.fit_adata.var[f"{key}_col"].cat.codes, stored_columns[:, run]
    )
    assert explorer.figure.axes[0].get_title() == f"block means ({key})"


def test_explorer_errors(swept, shown):
    explorer = ChooseKExplorer(swept)
    with pytest.raises(ValueError, match="not in the sweep"):
        explorer.select(5, 5)
    with pytest.raises(KeyError, match="tl.choose_k"):
        ChooseKExplorer(planted_adata())
