"""Planted structure is recovered with the default settings (issue #2)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_checkerboard

import cocluster_kit as ckit
from cocluster_kit.datasets import load_benchmark
from cocluster_kit.metrics import consensus_score, nmi


def test_synthetic_deepcc_rows_and_columns_recovered():
    """Median over three seeds, as the benchmarks report; defaults only."""
    data = load_benchmark("synthetic")
    row_scores, column_scores = [], []
    for seed in range(3):
        model = ckit.CoclusterVAE(5, 5, random_state=seed, progress=False).fit(data.X)
        row_scores.append(nmi(data.row_labels, model.row_labels_))
        column_scores.append(nmi(data.column_labels, model.column_labels_))
    assert np.median(row_scores) >= 0.9, row_scores
    # Issue #2's bar. The Bayes-optimal column assignment, given the true row clusters and
    # block means, reaches 0.912 on this matrix; the defaults reach a median of 0.906
    # (0.906, 0.906, 0.915; benchmarks/RESULTS.md).
    assert np.median(column_scores) >= 0.9, column_scores


def test_checkerboard_sparse_consensus():
    X, rows, columns = make_checkerboard((600, 300), (4, 3), noise=10, random_state=0)
    model = ckit.CoclusterVAE(4, 3, random_state=0, progress=False).fit(sp.csr_matrix(X))
    assert model.rows_.shape == (12, 600) and model.columns_.shape == (12, 300)
    assert consensus_score(model.biclusters_, (rows, columns)) >= 0.9
