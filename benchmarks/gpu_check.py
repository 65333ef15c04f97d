"""GPU check: fit a 10^6 x 2 * 10^4 sparse planted matrix; print rows/s and peak memory.

Prepared for a machine with a CUDA GPU (a few minutes there)::

    .venv/bin/python benchmarks/gpu_check.py                 # 1e6 x 2e4, bf16, device auto
    .venv/bin/python benchmarks/gpu_check.py --small         # 2,000 x 500 smoke test (CPU)

The matrix comes from :func:`cocluster_kit.datasets.make_sparse_coclusters` (50 draws per
row, 8 x 8 planted co-clusters); above 20,000 rows the columns are read through the sketch,
whose chunk products run on the GPU. Prints the set-up time (matrix, sketch), seconds per
epoch, rows per second (rows of all epochs over their summed seconds), peak GPU memory
(``torch.cuda.max_memory_allocated``), peak host memory (``ru_maxrss``) and the NMI of the
row and column labels against the planted ones. ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import torch

import cocluster_kit as ckit
from cocluster_kit.datasets import make_sparse_coclusters
from cocluster_kit.metrics import nmi


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=20_000)
    parser.add_argument("--small", action="store_true", help="2,000 x 500, for a CPU smoke test")
    parser.add_argument("--clusters", type=int, default=8, help="K = L")
    parser.add_argument("--nnz-per-row", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--row-batch-size", type=int, default=2048)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="bf16", choices=("32", "bf16"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    options = parser.parse_args(argv)
    if options.small:
        options.rows, options.cols, options.clusters, options.nnz_per_row = 2000, 500, 4, 20
        options.row_batch_size = min(options.row_batch_size, 256)
    return options


def main(argv: list[str] | None = None) -> dict:
    """Run the check; returns the figures it prints."""
    options = parse(argv)
    started = time.perf_counter()
    X, rows, columns = make_sparse_coclusters(
        (options.rows, options.cols),
        options.clusters,
        options.clusters,
        nnz_per_row=options.nnz_per_row,
        random_state=options.seed,
    )
    generated = time.perf_counter() - started
    model = ckit.CoclusterVAE(
        options.clusters,
        options.clusters,
        max_epochs=options.epochs,
        pretrain_epochs=options.pretrain_epochs,
        row_batch_size=options.row_batch_size,
        col_batch_size=256,
        device=options.device,
        precision=options.precision,
        progress=False,
        random_state=options.seed,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model.fit(X)
    fit_seconds = time.perf_counter() - started
    history = model.history_
    epoch_seconds = float(history["seconds"].sum())
    figures = {
        "shape": list(X.shape),
        "nnz": int(X.nnz),
        "device": model.device_,
        "precision": options.precision if model.device_.startswith("cuda") else "32",
        "generate_s": round(generated, 2),
        "fit_s": round(fit_seconds, 2),
        "setup_and_inference_s": round(fit_seconds - epoch_seconds, 2),
        "epochs": len(history),
        "seconds_per_epoch": round(epoch_seconds / max(len(history), 1), 3),
        "rows_per_s": round(X.shape[0] * len(history) / max(epoch_seconds, 1e-9), 1),
        "peak_gpu_gib": (
            round(torch.cuda.max_memory_allocated() / 2**30, 3)
            if model.device_.startswith("cuda")
            else None
        ),
        "peak_host_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "row_nmi": round(nmi(rows, model.row_labels_), 3),
        "column_nmi": round(nmi(columns, model.column_labels_), 3),
        "uses_sketch": bool(model.data_.uses_sketch),
        "torch": torch.__version__,
    }
    for name, value in figures.items():
        print(f"{name:>22}: {value}")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
