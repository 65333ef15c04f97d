"""``TrainingMonitor``: live curves of every loss term while a model trains in Jupyter."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from cocluster_kit.pl._history import draw_history

from ._display import show_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NOT_TERMS = ("epoch", "stage", "seconds")
"""History columns that are not curves."""
STAGE_ORDER = {"pretrain": 0, "train": 1}


class TrainingMonitor(widgets.VBox):
    """Live training curves: a callback that :class:`~cocluster_kit.CoclusterVAE` calls each epoch.

    Pass it as ``CoclusterVAE(..., callbacks=[monitor])`` or
    ``cocluster_kit.tl.cocluster(adata, ..., callbacks=[monitor])``, and display it (as the
    last expression of a cell, or with ``display(monitor)``) before training. Every epoch
    updates the status line; the curves (one panel per loss term, pre-training and training
    in their own colours) are redrawn at the first epoch of each stage, then at most every
    ``min_interval`` seconds (and never sooner than twice the time the last redraw took, so
    drawing takes at most a third of the time), and once more when the cell that trains ends
    (or on :meth:`finish`). A fit that
    starts again from its first epoch starts a new set of curves.

    Parameters
    ----------
    terms
        History terms to draw (``"objective"``, ``"loss"``, ``"row_bound"``, ``"mi"``,
        ...); default every numeric term the model reports, in the order it reports them.
    min_interval
        Least number of seconds between two redraws of the curves.
    ncols
        Panels per row.
    panel_size
        Size of one panel, in inches.

    Attributes
    ----------
    history : list of dict
        The epochs seen in the current fit, as the model reported them.
    figure : matplotlib.figure.Figure or None
        The curves shown now (closed to pyplot after display).
    n_redraws : int
        How many times the curves were drawn.
    status : ipywidgets.HTML
        The line with the stage, epoch and objective of the last epoch.
    plot : ipywidgets.Output
        Where the curves are shown.

    Examples
    --------
    >>> from cocluster_kit.widgets import TrainingMonitor
    >>> monitor = TrainingMonitor()
    >>> display(monitor)  # doctest: +SKIP
    >>> ckit.tl.cocluster(adata, 4, 3, callbacks=[monitor])  # doctest: +SKIP
    """

    def __init__(
        self,
        terms: Sequence[str] | None = None,
        *,
        min_interval: float = 1.5,
        ncols: int = 4,
        panel_size: tuple[float, float] = (3.2, 2.3),
    ) -> None:
        self.terms = None if terms is None else list(terms)
        self.min_interval = float(min_interval)
        self.ncols = int(ncols)
        self.panel_size = panel_size
        self.history: list[dict] = []
        self.figure: Figure | None = None
        self.n_redraws = 0
        self._last_draw = -math.inf
        self._draw_seconds = 0.0
        self._pending = False
        self._hooked_shell: Any = None
        self.status = widgets.HTML("<i>waiting for the first epoch</i>")
        self.plot = widgets.Output()
        super().__init__(children=[self.status, self.plot])

    def __call__(self, entry: dict) -> None:
        """Record one epoch's history entry (the model's callback) and maybe redraw."""
        stage = str(entry.get("stage", "train"))
        if self.history and _position(entry) <= _position(self.history[-1]):
            self.reset()  # a new fit started
        new_stage = not self.history or str(self.history[-1].get("stage", "train")) != stage
        self.history.append(dict(entry))
        self._pending = True
        self.status.value = self._status_html()
        self._redraw_at_end_of_cell()
        # wait min_interval, and at least twice the last redraw: drawing never takes over a third
        wait = max(self.min_interval, 2.0 * self._draw_seconds)
        if new_stage or time.perf_counter() - self._last_draw >= wait:
            self.redraw()

    def __deepcopy__(self, memo: dict) -> TrainingMonitor:
        """The monitor itself: a copied estimator (``sklearn.base.clone``) reports to it too."""
        return self

    def __copy__(self) -> TrainingMonitor:
        """The monitor itself (see ``__deepcopy__``)."""
        return self

    @property
    def table(self) -> pd.DataFrame:
        """The history so far, one row per epoch (like ``CoclusterVAE.history_``)."""
        return pd.DataFrame(self.history)

    def reset(self) -> None:
        """Forget the curves (a new fit begins)."""
        self.history = []
        self._pending = False
        self._last_draw = -math.inf

    def finish(self) -> None:
        """Draw the epochs not drawn yet (called by itself when the training cell ends)."""
        if self._pending:
            self.redraw()

    def plotted_terms(self) -> list[str]:
        """The terms drawn: the ones asked for, else every numeric term reported so far."""
        table = self.table
        if self.terms is not None:
            return [term for term in self.terms if term in table.columns]
        return [
            column
            for column in table.columns
            if column not in NOT_TERMS and pd.api.types.is_numeric_dtype(table[column])
        ]

    def redraw(self) -> None:
        """Draw every term's curve now and show the figure."""
        import matplotlib.pyplot as plt

        started = time.perf_counter()
        table, terms = self.table, self.plotted_terms()
        ncols = max(1, min(self.ncols, len(terms)))
        nrows = max(1, math.ceil(len(terms) / ncols))
        figure, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(self.panel_size[0] * ncols, self.panel_size[1] * nrows),
            squeeze=False,
        )
        axes = list(axes.ravel())
        for position, (ax, term) in enumerate(zip(axes, terms, strict=False)):
            draw_history(table, term, ax=ax, title=term, legend=position == 0)
            ax.set_ylabel("")
            ax.tick_params(labelsize=7)
            ax.title.set_fontsize(9)
        for ax in axes[len(terms) :]:
            ax.set_axis_off()
        # fixed margins: tight_layout would cost more than the drawing itself
        figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.95, hspace=0.75)
        figure.subplots_adjust(wspace=0.3)
        self.figure = figure
        show_figure(self.plot, figure)
        self.n_redraws += 1
        self._pending = False
        finished = time.perf_counter()
        self._draw_seconds = finished - started
        self._last_draw = finished

    def _status_html(self) -> str:
        """Stage, epoch, objective and time per epoch of the last epoch."""
        last = self.history[-1]
        stage = html.escape(str(last.get("stage", "train")))
        objective = last.get("objective", last.get("loss"))
        shown = f"{objective:.5g}" if isinstance(objective, (int, float)) else "?"
        seconds = last.get("seconds")
        speed = f", {seconds:.2f} s/epoch" if isinstance(seconds, (int, float)) else ""
        return (
            f"<b>{stage}</b> epoch {last.get('epoch', len(self.history) - 1)}: "
            f"objective {shown}{speed} ({len(self.history)} epochs so far)"
        )

    def _redraw_at_end_of_cell(self) -> None:
        """In IPython, draw the last epochs when the cell that trains has run (once)."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            return
        shell = get_ipython()
        if shell is None or self._hooked_shell is not None:
            return
        shell.events.register("post_run_cell", self._after_cell)
        self._hooked_shell = shell

    def _after_cell(self, result: Any = None) -> None:
        """``post_run_cell`` hook: unhook, then draw what is pending."""
        if self._hooked_shell is not None:
            self._hooked_shell.events.unregister("post_run_cell", self._after_cell)
            self._hooked_shell = None
        self.finish()


def _position(entry: dict) -> tuple[int, int]:
    """Where an epoch lies in a fit: (stage order, epoch)."""
    stage = STAGE_ORDER.get(str(entry.get("stage", "train")), 1)
    return stage, int(entry.get("epoch", 0))
