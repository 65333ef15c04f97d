"""What the explorers share: showing a figure in an Output widget, small HTML tables."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

CMAPS = ("viridis", "magma", "cividis", "RdBu_r", "coolwarm", "Greys")
"""Colour maps offered by the explorers (sequential first, then diverging)."""


def show_figure(output: ipywidgets.Output, figure: Figure) -> None:
    """Replace what ``output`` shows with ``figure``, then close the figure.

    ``clear_output(wait=True)`` keeps the old picture until the new one arrives (no
    flicker), and closing the figure keeps pyplot from showing it a second time at the end
    of the cell and from holding on to every figure ever drawn. The closed figure keeps an
    Agg canvas, so it can still be drawn, read (``figure.canvas.buffer_rgba()``) and saved.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    output.clear_output(wait=True)
    with output:
        display(figure)
    plt.close(figure)
    FigureCanvasAgg(figure)  # closing left a bare canvas; Agg draws off-screen


def show_error(output: ipywidgets.Output, error: Exception) -> None:
    """Show ``error`` in ``output`` in place of a figure (a control callback failed)."""
    from IPython.display import HTML, display

    output.clear_output(wait=True)
    with output:
        message = html.escape(f"{type(error).__name__}: {error}")
        display(HTML(f"<pre style='color: #b00'>{message}</pre>"))


def html_table(table: pd.DataFrame, *, digits: int = 3, empty: str = "none") -> str:
    """A compact HTML table of ``table`` (floats rounded to ``digits`` significant digits)."""
    if table.empty:
        return f"<i>{html.escape(empty)}</i>"
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda value: f"{value:.{digits}g}")
    return shown.to_html(index=False, border=0, classes="ckit-table", escape=True)


def membership_uncertainty(proba: Any, labels: np.ndarray, cluster: int) -> dict[str, float]:
    """How sure the model is of the members of ``cluster``: ``1 - p(assigned cluster)``.

    Parameters
    ----------
    proba
        Soft memberships, ``(n, n_clusters)``, or None when the result has none.
    labels
        Hard labels (codes), ``(n,)``.
    cluster
        The cluster's code.

    Returns
    -------
    dict
        ``n_members``, ``mean`` and ``max`` of ``1 - p`` over the members, and
        ``n_uncertain``: members with ``p < 0.8`` (NaN where there are no memberships or no
        members).
    """
    members = np.flatnonzero(labels == cluster)
    summary = {"n_members": float(members.size), "mean": np.nan, "max": np.nan}
    summary["n_uncertain"] = np.nan
    if proba is None or members.size == 0:
        return summary
    uncertainty = 1.0 - np.asarray(proba[members, cluster], dtype=np.float64)
    summary.update(
        mean=float(uncertainty.mean()),
        max=float(uncertainty.max()),
        n_uncertain=float(np.sum(uncertainty > 0.2)),
    )
    return summary
