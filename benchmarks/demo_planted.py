"""`make demo`: fit the planted 5 x 5 co-cluster matrix and print the scores.

The matrix is ``synthetic_data.mat`` from the DeepCC benchmark suite (200 rows x 400 columns,
Gaussian noise about twice the block contrast), read from ``../shared/data/deepcc/``.
"""

from __future__ import annotations

import sys
import time

import cocluster_kit as ckit
from cocluster_kit.datasets import load_benchmark
from cocluster_kit.metrics import clustering_scores


def main() -> None:
    data = load_benchmark("synthetic")
    print(f"{data.name}: {data.X.shape[0]} rows x {data.X.shape[1]} columns — {data.description}")
    started = time.perf_counter()
    model = ckit.CoclusterVAE(
        n_row_clusters=5, n_col_clusters=5, random_state=0, progress=sys.stderr.isatty()
    ).fit(data.X)
    seconds = time.perf_counter() - started
    print(f"fitted in {seconds:.1f} s on {model.device_} ({len(model.history_)} epochs)")
    for side, truth, labels in (
        ("rows", data.row_labels, model.row_labels_),
        ("columns", data.column_labels, model.column_labels_),
    ):
        scores = clustering_scores(truth, labels)
        print(f"{side:8s} " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    print("block means (rows: row clusters, columns: column clusters):")
    print(model.block_means_.round(1))


if __name__ == "__main__":
    main()
