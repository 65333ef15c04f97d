"""Every pl function draws headless (Agg) and returns a Figure with the expected axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _anndata_results import SHAPE, K, L, fitted_adata  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cocluster_kit as ckit  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def adata():
    return fitted_adata()


def test_blocks_reorders_with_colour_bars(adata):
    figure = ckit.pl.blocks(adata)
    assert isinstance(figure, Figure) and len(figure.axes) == 4
    heatmap, row_bar, column_bar, colour_scale = figure.axes
    image = heatmap.get_images()[0].get_array()
    assert image.shape == SHAPE
    rows = adata.obs["cocluster_row"].cat.codes.to_numpy()
    columns = adata.var["cocluster_col"].cat.codes.to_numpy()
    expected = np.asarray(adata.X)[np.argsort(rows, kind="stable")][
        :, np.argsort(columns, kind="stable")
    ]
    np.testing.assert_allclose(image, expected, rtol=1e-6)
    present = [str(c) for c in np.unique(rows)]
    assert [t.get_text() for t in row_bar.get_yticklabels()] == present
    assert "co-clusters" in column_bar.get_title()
    assert "60 of 60" in row_bar.get_ylabel() and "40 of 40" in heatmap.get_xlabel()
    assert colour_scale.get_ylabel() == "value"


def test_blocks_samples_per_cluster_and_draws_on_given_axes(adata):
    figure, ax = plt.subplots()
    returned = ckit.pl.blocks(adata, max_rows=12, max_cols=10, ax=ax, scale="row")
    assert returned is figure and figure.axes[0] is ax
    image = ax.get_images()[0].get_array()
    assert 10 <= image.shape[0] <= 12 + K and 8 <= image.shape[1] <= 10 + L
    assert "of 60 shown" in figure.axes[1].get_ylabel()
    np.testing.assert_allclose(np.nanmean(image, axis=1), 0.0, atol=1e-6)
    assert figure.axes[3].get_ylabel() == "row z-score"
    with pytest.raises(ValueError, match="scale='log'"):
        ckit.pl.blocks(adata, scale="log")
    with pytest.raises(ValueError, match="log1p"):
        ckit.pl.blocks(adata, scale="log1p")  # the planted matrix has negative values


def test_block_means_heatmap(adata):
    figure = ckit.pl.block_means(adata)
    assert isinstance(figure, Figure) and len(figure.axes) == 2  # heatmap + colour bar
    heatmap = figure.axes[0]
    assert heatmap.get_title() == "block means (cocluster)"
    assert (heatmap.get_xlabel(), heatmap.get_ylabel()) == ("column cluster", "row cluster")
    assert [t.get_text() for t in heatmap.get_xticklabels()] == [str(c) for c in range(L)]
    figure, ax = plt.subplots()
    assert ckit.pl.block_means(adata, ax=ax, annotate=False) is figure


def test_top_features_panels(adata):
    figure = ckit.pl.top_features(adata, n_top=4)
    assert isinstance(figure, Figure) and len(figure.axes) == K
    assert [ax.get_title() for ax in figure.axes] == [f"row cluster {r}" for r in range(K)]
    table = ckit.get.top_features_df(adata, row_cluster=0)
    best = table.sort_values("enrichment", ascending=False)["feature"].head(4).tolist()
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == best[::-1]
    figure, ax = plt.subplots()
    assert ckit.pl.top_features(adata, row_cluster="1", ax=ax) is figure
    assert ax.get_title() == "row cluster 1" and ax.get_xlabel() == "enrichment"
    with pytest.raises(ValueError, match="ax= draws one panel"):
        ckit.pl.top_features(adata, ax=ax)


def test_history_curves(adata):
    figure = ckit.pl.history(adata, terms=["loss", "mi"])
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    ax = figure.axes[0]
    assert ax.get_title() == "training history (cocluster)" and ax.get_xlabel() == "epoch"
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["loss (pretrain)", "loss (train)", "mi (pretrain)", "mi (train)"]
    figure, ax = plt.subplots()
    assert ckit.pl.history(adata, ax=ax) is figure
    with pytest.raises(ValueError, match="not in the history"):
        ckit.pl.history(adata, terms="accuracy")


def test_choose_k_curves():
    import pandas as pd

    adata = fitted_adata()
    scores = pd.DataFrame(
        {
            "n_row_clusters": [2, 3, 2, 3],
            "n_col_clusters": [2, 2, 3, 3],
            "criterion": [-3.0, -2.0, -2.5, -2.2],
            "bound_min": [-3.1, -2.1, -2.6, -2.3],
            "bound_max": [-2.9, -1.9, -2.4, -2.1],
            "row_stability": [1.0, 0.8, 0.9, 0.7],
            "col_stability": [1.0, 0.6, 0.5, 0.9],
        }
    )
    adata.uns["choose_k"] = {"scores": scores, "best": {"n_row_clusters": 3, "n_col_clusters": 2}}
    figure = ckit.pl.choose_k(adata)
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    criterion_ax, stability_ax = figure.axes
    assert criterion_ax.get_title() == "criterion: median bound over seeds"
    assert stability_ax.get_title() == "stability: mean pairwise ARI over seeds"
    legend = [t.get_text() for t in criterion_ax.get_legend().get_texts()]
    assert legend == ["L = 2", "L = 3", "best K=3, L=2"]
    assert len(stability_ax.get_lines()) == 4  # rows and columns for each L
    with pytest.raises(KeyError, match="tl.choose_k"):
        ckit.pl.choose_k(adata, key="nothing")


def test_plots_need_a_result():
    bare = fitted_adata()
    del bare.uns["cocluster"]
    for plot in (ckit.pl.blocks, ckit.pl.block_means, ckit.pl.history, ckit.pl.top_features):
        with pytest.raises(KeyError, match="tl.cocluster"):
            plot(bare)
