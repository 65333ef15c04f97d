"""Helpers of the ``pl`` functions: cluster colours and the figure to draw on."""

from __future__ import annotations

from typing import Any


def cluster_colors(n_clusters: int) -> list:
    """``n_clusters`` distinct colours (tab10, tab20, then evenly spaced hues)."""
    import seaborn as sns

    if n_clusters <= 10:
        return sns.color_palette("tab10", n_clusters)
    if n_clusters <= 20:
        return sns.color_palette("tab20", n_clusters)
    return sns.color_palette("husl", n_clusters)


def figure_and_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """The given axes and its figure, or a new figure with one axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        figure, ax = plt.subplots(figsize=figsize)
        return figure, ax
    return ax.get_figure(), ax
