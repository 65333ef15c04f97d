"""``pl.history``: training curves of a co-clustering fit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._anndata import check_anndata, read_result
from ._common import figure_and_axes

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure


def history(
    adata: AnnData,
    key: str = "cocluster",
    *,
    terms: Sequence[str] | str = "loss",
    ax: Any = None,
) -> Figure:
    """Plot training terms per epoch, pre-training and training in their own colours.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`.
    key
        The ``key_added`` of that result.
    terms
        Columns of ``adata.uns[key]["history"]`` to draw (``"loss"``, ``"row_bound"``,
        ``"col_bound"``, ``"cell_bound"``, ``"mi"``, ...), all on the same axes.
    ax
        Axes to draw on; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure with one axes: epoch on the x axis, one line per term and stage, and a
        dashed line where training starts.
    """
    check_anndata(adata, "pl.history")
    result = read_result(adata, key)
    table = pd.DataFrame(result.uns["history"])
    return draw_history(table, terms, ax=ax, title=f"training history ({key})")


def draw_history(
    table: pd.DataFrame,
    terms: Sequence[str] | str,
    *,
    ax: Any = None,
    title: str = "training history",
    legend: bool = True,
) -> Figure:
    """Draw history columns ``terms`` of ``table`` (one row per epoch) on one axes.

    The drawing of :func:`history`, shared with the live training monitor of
    ``cocluster_kit.widgets``: one line per term and stage, and a dashed line where
    training starts.
    """
    names = [terms] if isinstance(terms, str) else list(terms)
    unknown = [name for name in names if name not in table.columns]
    if not names or unknown:
        available = [c for c in table.columns if c not in ("epoch", "stage")]
        raise ValueError(f"terms {unknown or names!r} not in the history; choose from {available}.")
    figure, ax = figure_and_axes(ax, (6.0, 4.0))
    epochs = table["epoch"].to_numpy() if "epoch" in table else range(len(table))
    epochs = pd.Series(epochs, index=table.index)
    stages = table["stage"].astype(str) if "stage" in table else pd.Series("train", table.index)
    for name in names:
        for stage in dict.fromkeys(stages):
            chosen = stages == stage
            ax.plot(epochs[chosen], table.loc[chosen, name], marker=".", label=f"{name} ({stage})")
    training = epochs[stages == "train"]
    if len(training) and (stages != "train").any():
        ax.axvline(training.iloc[0] - 0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(names[0] if len(names) == 1 else "value")
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    return figure
