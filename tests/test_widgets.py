"""BlockExplorer driven without a browser: set control values, check figures and tables."""

from __future__ import annotations

import anndata as ad
import ipywidgets
import numpy as np
import pandas as pd
import pytest
from _anndata_results import SHAPE, K, L, fitted_adata
from _widget_helpers import changed, open_figures, pixels
from cocluster_kit.widgets import BlockExplorer
from conftest import FAST
from matplotlib.patches import Rectangle

import cocluster_kit as ckit

pytestmark = pytest.mark.usefixtures("closed_figures")


@pytest.fixture
def adata():
    return fitted_adata()


def red_rectangles(ax) -> list[Rectangle]:
    return [
        patch
        for patch in ax.patches
        if isinstance(patch, Rectangle) and patch.get_edgecolor()[:3] == (1.0, 0.0, 0.0)
    ]


def test_explorer_is_a_container_with_the_controls(adata, shown):
    explorer = BlockExplorer(adata)
    assert isinstance(explorer, ipywidgets.Box)
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()
    assert [value for _, value in explorer.row_cluster.options] == [str(r) for r in range(K)]
    assert [value for _, value in explorer.col_cluster.options] == [str(c) for c in range(L)]
    assert [value for _, value in explorer.view.options] == ["means", "matrix", "block"]
    # the planted matrix has negative values: no log1p
    assert [value for _, value in explorer.scale.options] == ["none", "row", "column"]
    assert explorer.scale.value == "none" and explorer.cmap.value == "viridis"
    largest = adata.obs["cocluster_row"].value_counts().max()
    assert explorer.rows_per_cluster.max == largest
    # the first figure was shown once, into the Output, then closed to pyplot
    assert shown.figures() == [explorer.figure]
    assert {"wait": True} in shown.clears
    assert open_figures() == []
    # the first co-cluster is the most enriched block
    blocks = ckit.get.blocks_df(adata)
    best = blocks.loc[blocks["enrichment"].idxmax()]
    assert (explorer.row_cluster.value, explorer.col_cluster.value) == (
        str(best["row_cluster"]),
        str(best["col_cluster"]),
    )


def test_every_control_change_redraws(adata, shown):
    explorer = BlockExplorer(adata)
    other_row = next(v for _, v in explorer.row_cluster.options if v != explorer.row_cluster.value)
    other_col = next(v for _, v in explorer.col_cluster.options if v != explorer.col_cluster.value)
    changes = [
        (explorer.view, "means"),
        (explorer.row_cluster, other_row),  # moves the outline in the block means
        (explorer.cmap, "magma"),
        (explorer.view, "matrix"),
        (explorer.col_cluster, other_col),
        (explorer.rows_per_cluster, 4),
        (explorer.scale, "row"),
        (explorer.view, "block"),
    ]
    for control, value in changes:
        figure = explorer.figure
        before = pixels(figure)
        n_shown = len(shown.figures())
        control.value = value
        assert explorer.figure is not figure, control.description
        assert changed(before, pixels(explorer.figure)), (control.description, value)
        assert shown.figures()[n_shown:] == [explorer.figure]
        assert shown.clears[-1] == {"wait": True}
        assert open_figures() == []


def test_block_means_view_outlines_the_chosen_block(adata, shown):
    explorer = BlockExplorer(adata)
    explorer.row_cluster.value, explorer.col_cluster.value = "2", "1"
    explorer.view.value = "means"
    assert explorer.scale.disabled and explorer.rows_per_cluster.disabled
    heatmap = explorer.figure.axes[0]
    assert heatmap.get_title() == "block means (cocluster)"
    (outline,) = red_rectangles(heatmap)
    assert outline.get_xy() == (1, 2) and (outline.get_width(), outline.get_height()) == (1, 1)


def test_matrix_view_samples_rows_per_cluster_and_outlines_the_block(adata, shown):
    explorer = BlockExplorer(adata)
    explorer.view.value = "matrix"
    assert not explorer.scale.disabled and not explorer.rows_per_cluster.disabled
    explorer.rows_per_cluster.value = 3
    heatmap, row_bar, column_bar, colour_scale = explorer.figure.axes
    image = heatmap.get_images()[0].get_array()
    assert image.shape == (3 * K, SHAPE[1])
    assert "9 of 60 shown" in row_bar.get_ylabel()
    assert "co-clusters" in column_bar.get_title()
    (outline,) = red_rectangles(heatmap)
    row = int(explorer.row_cluster.value)
    assert outline.get_height() == 3 and outline.get_y() == pytest.approx(3 * row - 0.5)
    explorer.scale.value = "row"
    image = explorer.figure.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(np.nanmean(image, axis=1), 0.0, atol=1e-6)
    assert explorer.figure.axes[3].get_ylabel() == "row z-score"


def test_block_view_draws_the_chosen_submatrix_with_names(adata, shown):
    explorer = BlockExplorer(adata)
    explorer.view.value = "block"
    explorer.row_cluster.value, explorer.col_cluster.value = "0", "1"
    rows = np.flatnonzero(adata.obs["cocluster_row"] == "0")
    columns = np.flatnonzero(adata.var["cocluster_col"] == "1")
    explorer.rows_per_cluster.value = explorer.rows_per_cluster.max
    heatmap, row_bar, column_bar, _ = explorer.figure.axes
    image = heatmap.get_images()[0].get_array()
    np.testing.assert_allclose(image, np.asarray(adata.X)[np.ix_(rows, columns)], rtol=1e-6)
    assert column_bar.get_title() == "adata.X: co-cluster (0, 1) of cocluster"
    assert [t.get_text() for t in row_bar.get_yticklabels()] == list(adata.obs_names[rows])
    assert [t.get_text() for t in column_bar.get_xticklabels()] == list(adata.var_names[columns])
    assert f"of row cluster 0 ({rows.size} of {rows.size} shown)" in row_bar.get_ylabel()
    explorer.rows_per_cluster.value = 2
    image = explorer.figure.axes[0].get_images()[0].get_array()
    assert image.shape == (2, columns.size)


def test_side_panel_lists_size_uncertainty_top_features_and_rows(adata, shown):
    explorer = BlockExplorer(adata, n_top=4)
    for row, column in (("0", "0"), ("1", "1")):
        explorer.row_cluster.value, explorer.col_cluster.value = row, column
        rows = np.flatnonzero(adata.obs["cocluster_row"] == row)
        columns = np.flatnonzero(adata.var["cocluster_col"] == column)
        summary = explorer.block_summary
        assert (summary["row_cluster"], summary["col_cluster"]) == (row, column)
        assert (summary["n_rows"], summary["n_cols"]) == (rows.size, columns.size)
        assert summary["size"] == rows.size * columns.size
        block_mean = np.asarray(adata.X)[np.ix_(rows, columns)].mean()
        assert summary["mean"] == pytest.approx(block_mean, rel=1e-5)
        proba = adata.obsm["cocluster_row_proba"][rows, int(row)]
        assert summary["row_uncertainty"]["mean"] == pytest.approx(np.mean(1 - proba), abs=1e-6)
        assert summary["row_uncertainty"]["n_members"] == rows.size
        features = explorer.top_features_table
        expected = ckit.get.top_features_df(adata, row_cluster=row, col_cluster=column).head(4)
        assert features["feature"].tolist() == expected["feature"].tolist()
        assert set(features["feature"]) <= set(adata.var_names[columns])
        assert set(explorer.top_rows_table["row"]) <= set(adata.obs_names[rows])
        html = explorer.side_panel.value
        assert f"co-cluster ({row}, {column})" in html and "uncertainty" in html
        assert all(name in html for name in features["feature"])
        assert all(name in html for name in explorer.top_rows_table["row"])


def test_ranks_features_when_the_result_has_none(adata, shown):
    del adata.uns["cocluster"]["top_features"], adata.uns["cocluster"]["top_rows"]
    explorer = BlockExplorer(adata, n_top=3)
    assert "top_features" in adata.uns["cocluster"]
    assert len(explorer.top_features_table) == 3


def test_empty_cluster_is_offered_and_drawn_as_empty(adata, shown):
    codes = adata.obs["cocluster_row"].cat.codes.to_numpy().copy()
    codes[codes == 2] = 1  # row cluster "2" is now empty
    adata.obs["cocluster_row"] = pd.Categorical.from_codes(codes, categories=["0", "1", "2"])
    means = ckit.get.blocks_df(adata)["mean"].to_numpy().reshape(K, L)
    adata.uns["cocluster"]["block_means"] = means
    ckit.tl.top_features(adata, n_top=5)
    explorer = BlockExplorer(adata)
    assert explorer.row_cluster.options[2] == ("2 (empty)", "2")
    explorer.view.value = "block"
    explorer.row_cluster.value = "2"
    texts = [text.get_text() for text in explorer.figure.axes[0].texts]
    assert texts == [f"co-cluster ('2', '{explorer.col_cluster.value}') is empty"]
    assert explorer.block_summary["n_rows"] == 0 and explorer.top_rows_table.empty


def test_counts_offer_log1p_and_never_draw_more_than_the_limits(shown):
    X, _, _ = ckit.datasets.make_coclusters((80, 50), 2, 2, sparse=True, random_state=0)
    adata = ad.AnnData(X)
    ckit.tl.cocluster(adata, 2, 2, likelihood="poisson", **FAST)
    explorer = BlockExplorer(adata, max_rows=20, max_cols=15)
    assert [value for _, value in explorer.scale.options] == ["none", "log1p", "row", "column"]
    assert explorer.scale.value == "log1p"  # the default for count likelihoods
    explorer.view.value = "matrix"
    image = explorer.figure.axes[0].get_images()[0].get_array()
    assert image.shape[0] <= 20 + 2 and image.shape[1] <= 15 + 2
    assert explorer.figure.axes[3].get_ylabel() == "log1p(value)"
    explorer.view.value = "block"
    image = explorer.figure.axes[0].get_images()[0].get_array()
    assert image.shape[0] <= 20 and image.shape[1] <= 15


def test_a_failing_redraw_shows_the_error_and_raises(adata, shown):
    explorer = BlockExplorer(adata)
    explorer.max_rows = 0
    with pytest.raises(ValueError, match="max_rows=0"):
        explorer.view.value = "block" if explorer.view.value != "block" else "matrix"
    assert "max_rows=0" in shown.displayed[-1].data


def test_needs_a_result():
    bare = fitted_adata()
    del bare.uns["cocluster"]
    with pytest.raises(KeyError, match="tl.cocluster"):
        BlockExplorer(bare)
    with pytest.raises(TypeError, match="AnnData"):
        BlockExplorer(np.zeros((3, 3)))


def test_pl_options_the_explorer_draws_with_check_their_arguments(adata):
    with pytest.raises(ValueError, match="row_cluster='9' is not one of"):
        ckit.pl.blocks(adata, row_cluster="9")
    with pytest.raises(ValueError, match="rows_per_cluster=0"):
        ckit.pl.blocks(adata, rows_per_cluster=0)
    with pytest.raises(ValueError, match="pair"):
        ckit.pl.blocks(adata, highlight=("0",))
    with pytest.raises(ValueError, match="highlight column cluster '7'"):
        ckit.pl.block_means(adata, highlight=(0, 7))
    figure = ckit.pl.blocks(adata, col_cluster=1)  # one column cluster, every row
    image = figure.axes[0].get_images()[0].get_array()
    assert image.shape == (SHAPE[0], int(np.sum(adata.var["cocluster_col"] == "1")))
    assert "of column cluster 1" in figure.axes[0].get_xlabel()
