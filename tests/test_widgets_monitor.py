"""TrainingMonitor as the estimator's callback: every loss term drawn, redraws throttled."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pandas as pd
import pytest
from _anndata_results import planted_adata
from _widget_helpers import changed, open_figures, pixels
from cocluster_kit.widgets import TrainingMonitor, _training_monitor
from conftest import FAST

import cocluster_kit as ckit

pytestmark = pytest.mark.usefixtures("closed_figures")


class Clock:
    """A stand-in for ``time.perf_counter`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(_training_monitor.time, "perf_counter", fake)
    return fake


def entry(epoch: int, stage: str = "train", **terms) -> dict:
    values = {"objective": 10.0 - epoch, "loss": 5.0 - epoch, "mi": 0.1 * epoch}
    return {"epoch": epoch, "stage": stage, **values, **terms, "seconds": 0.5}


def curves(ax) -> dict[str, np.ndarray]:
    return {
        line.get_label(): np.asarray(line.get_ydata(), dtype=float)
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


def test_monitor_draws_every_loss_term_of_an_estimator_fit(shown):
    X = planted_adata().X
    monitor = TrainingMonitor(min_interval=0.0)
    assert isinstance(monitor, ipywidgets.Box) and monitor.figure is None
    model = ckit.CoclusterVAE(3, 2, random_state=0, callbacks=[monitor], **FAST).fit(X)
    monitor.finish()
    history = model.history_
    assert len(monitor.history) == len(history) == FAST["max_epochs"] + FAST["pretrain_epochs"]
    terms = [
        column
        for column in history.columns
        if column not in ("epoch", "stage", "seconds")
        and pd.api.types.is_numeric_dtype(history[column])
    ]
    assert monitor.plotted_terms() == terms and "objective" in terms and "mi" in terms
    panels = [ax for ax in monitor.figure.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in panels] == terms
    for ax, term in zip(panels, terms, strict=True):
        drawn = curves(ax)
        assert set(drawn) == {f"{term} (pretrain)", f"{term} (train)"}
        for stage in ("pretrain", "train"):
            expected = history.loc[history["stage"] == stage, term].to_numpy(dtype=float)
            np.testing.assert_allclose(drawn[f"{term} ({stage})"], expected)
    assert "train</b> epoch" in monitor.status.value
    assert f"({len(history)} epochs so far)" in monitor.status.value
    assert monitor.n_redraws >= 2 and shown.figures()[-1] is monitor.figure
    assert open_figures() == []


def test_monitor_through_tl_cocluster_starts_new_curves_for_a_new_fit(shown):
    adata = planted_adata()
    monitor = TrainingMonitor(terms=["objective", "mi"], min_interval=0.0)
    ckit.tl.cocluster(adata, 3, 2, callbacks=[monitor], **FAST)
    first = len(monitor.history)
    ckit.tl.cocluster(adata, 2, 2, callbacks=[monitor], key_added="again", **FAST)
    assert len(monitor.history) == first == len(adata.uns["again"]["history"])
    monitor.finish()
    assert [ax.get_title() for ax in monitor.figure.axes] == ["objective", "mi"]
    expected = adata.uns["again"]["history"]["objective"].to_numpy(dtype=float)
    drawn = np.concatenate(list(curves(monitor.figure.axes[0]).values()))
    np.testing.assert_allclose(drawn, expected)
    assert "callbacks" not in adata.uns["again"]["params"]


def test_redraws_are_throttled(shown, clock):
    monitor = TrainingMonitor(min_interval=10.0)
    monitor(entry(0, "pretrain"))  # the first epoch of a stage is drawn at once
    assert monitor.n_redraws == 1
    before = pixels(monitor.figure)
    for epoch in range(1, 4):
        clock.now += 1.0
        monitor(entry(epoch, "pretrain"))
    assert monitor.n_redraws == 1 and "epoch 3" in monitor.status.value
    clock.now += 1.0
    monitor(entry(0, "train"))  # a new stage is drawn at once
    assert monitor.n_redraws == 2
    assert changed(before, pixels(monitor.figure))
    for epoch in range(1, 12):
        clock.now += 1.0
        monitor(entry(epoch, "train"))
    assert monitor.n_redraws == 3  # 10 s after the last redraw
    figure = monitor.figure
    monitor.finish()  # one epoch left to draw
    assert monitor.n_redraws == 4 and monitor.figure is not figure
    monitor.finish()  # nothing new
    assert monitor.n_redraws == 4
    train_line = curves(monitor.figure.axes[0])["objective (train)"]
    np.testing.assert_allclose(train_line, [10.0 - epoch for epoch in range(12)])
    assert len(shown.figures()) == 4 and open_figures() == []


def test_slow_redraws_wait_longer(shown, clock, monkeypatch):
    monitor = TrainingMonitor(min_interval=0.0)
    original = _training_monitor.show_figure

    def slow_show(output, figure):
        clock.now += 2.0  # each redraw "takes" 2 s
        original(output, figure)

    monkeypatch.setattr(_training_monitor, "show_figure", slow_show)
    for epoch in range(10):
        monitor(entry(epoch))
        clock.now += 1.0
    # drawn at epoch 0, then only once 4 s (twice the redraw time) had passed: epochs 4, 8
    assert monitor.n_redraws == 3


def test_the_last_epochs_are_drawn_when_the_cell_ends(shown, monkeypatch):
    import IPython
    from IPython.core.events import EventManager, available_events

    class Shell:
        events = EventManager(None, available_events)

    shell = Shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monitor = TrainingMonitor(min_interval=1e9)
    for epoch in range(3):
        monitor(entry(epoch))
    assert monitor.n_redraws == 1
    assert shell.events.callbacks["post_run_cell"] == [monitor._after_cell]
    shell.events.trigger("post_run_cell", None)
    assert monitor.n_redraws == 2 and shell.events.callbacks["post_run_cell"] == []
    drawn = curves(monitor.figure.axes[0])["objective (train)"]
    np.testing.assert_allclose(drawn, [10.0, 9.0, 8.0])


def test_a_cloned_estimator_reports_to_the_same_monitor():
    from sklearn.base import clone

    monitor = TrainingMonitor()
    model = ckit.CoclusterVAE(3, 2, callbacks=[monitor])
    assert clone(model).callbacks[0] is monitor
