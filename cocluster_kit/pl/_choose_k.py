"""``pl.choose_k``: the criterion and stability curves of a ``tl.choose_k`` sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .._anndata import check_anndata

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure


def choose_k(
    adata: AnnData, key: str = "choose_k", *, highlight: tuple[int, int] | None = None
) -> Figure:
    """Criterion and stability of every ``(K, L)`` of a :func:`cocluster_kit.tl.choose_k` sweep.

    Parameters
    ----------
    adata
        An AnnData on which :func:`cocluster_kit.tl.choose_k` ran.
    key
        Its ``key_added``.
    highlight
        A ``(K, L)`` pair of the sweep to ring in red on both axes (the one being explored).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes against ``K``, one line per ``L``: the criterion (median evidence bound over
        seeds; the best pair starred), and the stability (mean pairwise ARI of the row labels,
        solid, and of the column labels, dashed).
    """
    import matplotlib.pyplot as plt

    check_anndata(adata, "pl.choose_k")
    if key not in adata.uns or "scores" not in adata.uns[key]:
        raise KeyError(
            f"no choose_k sweep under adata.uns[{key!r}]; run "
            f"cocluster_kit.tl.choose_k(adata, key_added={key!r}) first."
        )
    scores = pd.DataFrame(adata.uns[key]["scores"])
    best = adata.uns[key]["best"]
    diagonal = bool((scores["n_row_clusters"] == scores["n_col_clusters"]).all())
    groups = (
        [("L = K", scores)]
        if diagonal
        else [(f"L = {l_}", part) for l_, part in scores.groupby("n_col_clusters", sort=True)]
    )
    figure, (criterion_ax, stability_ax) = plt.subplots(1, 2, figsize=(10.0, 4.0))
    for label, part in groups:
        part = part.sort_values("n_row_clusters")
        line = criterion_ax.plot(part["n_row_clusters"], part["criterion"], marker="o", label=label)
        color = line[0].get_color()
        criterion_ax.fill_between(
            part["n_row_clusters"], part["bound_min"], part["bound_max"], color=color, alpha=0.15
        )
        stability_ax.plot(
            part["n_row_clusters"],
            part["row_stability"],
            marker="o",
            color=color,
            label=f"rows, {label}",
        )
        stability_ax.plot(
            part["n_row_clusters"],
            part["col_stability"],
            marker="s",
            linestyle="--",
            color=color,
            label=f"columns, {label}",
        )
    chosen = scores[
        (scores["n_row_clusters"] == best["n_row_clusters"])
        & (scores["n_col_clusters"] == best["n_col_clusters"])
    ]
    criterion_ax.scatter(
        chosen["n_row_clusters"],
        chosen["criterion"],
        marker="*",
        s=250,
        color="black",
        zorder=3,
        label=f"best K={best['n_row_clusters']}, L={best['n_col_clusters']}",
    )
    if highlight is not None:
        _ring_pair(scores, highlight, criterion_ax, stability_ax)
    criterion_ax.set_title("criterion: median bound over seeds")
    criterion_ax.set_xlabel("K (row clusters)")
    criterion_ax.set_ylabel("bound per entry (higher is better)")
    stability_ax.set_title("stability: mean pairwise ARI over seeds")
    stability_ax.set_xlabel("K (row clusters)")
    stability_ax.set_ylabel("ARI")
    stability_ax.set_ylim(-0.05, 1.05)
    if scores[["row_stability", "col_stability"]].isna().all().all():
        stability_ax.text(
            0.5, 0.5, "one seed: no stability", ha="center", transform=stability_ax.transAxes
        )
    for axes in (criterion_ax, stability_ax):
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _ring_pair(scores: pd.DataFrame, pair, criterion_ax, stability_ax) -> None:
    """Red rings around the criterion and stabilities of ``pair = (K, L)``."""
    n_rows, n_cols = (int(value) for value in pair)
    chosen = scores[(scores["n_row_clusters"] == n_rows) & (scores["n_col_clusters"] == n_cols)]
    if chosen.empty:
        pairs = scores[["n_row_clusters", "n_col_clusters"]].to_numpy().tolist()
        raise ValueError(f"highlight={pair!r} is not a (K, L) pair of the sweep: {pairs}.")
    ring = {"marker": "o", "s": 160, "facecolors": "none", "edgecolors": "red", "zorder": 4}
    criterion_ax.scatter(chosen["n_row_clusters"], chosen["criterion"], linewidths=2, **ring)
    for column in ("row_stability", "col_stability"):
        stability_ax.scatter(chosen["n_row_clusters"], chosen[column], linewidths=2, **ring)
