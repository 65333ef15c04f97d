"""Planted-structure benchmark: the default model on the two planted matrices of issue #2.

Run from the repository root::

    .venv/bin/python benchmarks/planted.py

Prints a markdown table (median and every seed) for the DeepCC synthetic matrix (row and
column NMI) and a sparse ``make_checkerboard((600, 300), (4, 3), noise=10)`` (consensus
score), each with scikit-learn's SpectralBiclustering beside it, and the seconds per fit.
"""

from __future__ import annotations

import platform
import time

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.cluster import SpectralBiclustering
from sklearn.datasets import make_checkerboard

import cocluster_kit as ckit
from cocluster_kit.datasets import load_benchmark
from cocluster_kit.metrics import consensus_score, nmi

SEEDS = (0, 1, 2)


def timed(fit):
    started = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - started


def main() -> None:
    data = load_benchmark("synthetic")
    X_board, rows, columns = make_checkerboard((600, 300), (4, 3), noise=10, random_state=0)
    results = {}
    for method in ("CoclusterVAE", "SpectralBiclustering"):
        per_seed = []
        for seed in SEEDS:
            if method == "CoclusterVAE":
                planted, planted_s = timed(
                    lambda s=seed: ckit.CoclusterVAE(5, 5, random_state=s, progress=False).fit(
                        data.X
                    )
                )
                board, board_s = timed(
                    lambda s=seed: ckit.CoclusterVAE(4, 3, random_state=s, progress=False).fit(
                        sp.csr_matrix(X_board)
                    )
                )
            else:
                planted, planted_s = timed(
                    lambda s=seed: SpectralBiclustering((5, 5), random_state=s).fit(data.X)
                )
                board, board_s = timed(
                    lambda s=seed: SpectralBiclustering((4, 3), random_state=s).fit(X_board)
                )
            per_seed.append(
                (
                    nmi(data.row_labels, planted.row_labels_),
                    nmi(data.column_labels, planted.column_labels_),
                    planted_s,
                    consensus_score(board.biclusters_, (rows, columns)),
                    board_s,
                )
            )
        results[method] = np.array(per_seed)
    print(
        f"machine: {platform.platform()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, cocluster-kit {ckit.__version__}\n"
    )
    print(
        "| method | synthetic row NMI | synthetic column NMI | s / fit "
        "| checkerboard consensus | s / fit |"
    )
    print("|---|---|---|---|---|---|")
    for method, table in results.items():
        cells = []
        for column in range(table.shape[1]):
            median = np.median(table[:, column])
            seeds = ", ".join(
                f"{v:.3f}" if column not in (2, 4) else f"{v:.1f}" for v in table[:, column]
            )
            cells.append(f"{median:.3f} ({seeds})" if column not in (2, 4) else f"{median:.1f}")
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
