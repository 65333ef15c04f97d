"""Shared fixtures: small seeded matrices that fit in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_checkerboard

# Two threads keep the suite's timings stable on the 2-core CI machine.
torch.set_num_threads(2)

FAST = {"max_epochs": 4, "pretrain_epochs": 2, "progress": False, "n_samples": 2}


@pytest.fixture(scope="session")
def small_checkerboard():
    """A 60 x 40 checkerboard with 3 x 2 blocks (values roughly 10-100 plus noise)."""
    X, rows, columns = make_checkerboard((60, 40), (3, 2), noise=2.0, random_state=0)
    return X, rows, columns


@pytest.fixture(scope="session")
def small_counts():
    """A 50 x 30 Poisson count matrix with 2 x 3 planted blocks."""
    rng = np.random.default_rng(0)
    row_labels = np.repeat([0, 1], 25)
    column_labels = np.repeat([0, 1, 2], 10)
    rates = np.array([[4.0, 0.3, 1.0], [0.3, 4.0, 0.5]])
    X = rng.poisson(rates[row_labels][:, column_labels])
    return X.astype(np.float64), row_labels, column_labels


@pytest.fixture
def shown(monkeypatch):
    """What the widgets display and clear (``IPython.display`` recorded, nothing shown)."""
    from _widget_helpers import record_display

    return record_display(monkeypatch)


@pytest.fixture
def closed_figures():
    """No pyplot figure open before or after the test (the widget tests count them)."""
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    plt.close("all")
