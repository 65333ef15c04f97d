"""Helpers of the widget tests: pixels of a figure, and a record of what the widgets showed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402


def pixels(figure) -> np.ndarray:
    """The figure rendered by Agg, as an ``(height, width, 4)`` array."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


def open_figures() -> list[int]:
    """Numbers of the figures pyplot still holds (the widgets close theirs)."""
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def changed(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two renderings differ (in size or in any pixel)."""
    return before.shape != after.shape or bool(np.any(before != after))


class Shown:
    """What the widgets displayed (``IPython.display.display``) and cleared, in order."""

    def __init__(self) -> None:
        self.displayed: list = []
        self.clears: list[dict] = []

    def figures(self) -> list:
        from matplotlib.figure import Figure

        return [item for item in self.displayed if isinstance(item, Figure)]


def record_display(monkeypatch) -> Shown:
    """Record every ``display`` call and every ``Output.clear_output`` of the widgets."""
    import IPython.display
    import ipywidgets

    record = Shown()
    monkeypatch.setattr(
        IPython.display, "display", lambda *items, **kwargs: record.displayed.extend(items)
    )
    original = ipywidgets.Output.clear_output

    def clear_output(self, *args, **kwargs):
        record.clears.append(dict(kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ipywidgets.Output, "clear_output", clear_output)
    return record
