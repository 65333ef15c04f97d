"""Data sets: planted co-clusters, bundled examples and the benchmark ``.mat`` loaders."""

from __future__ import annotations

from ._benchmarks import BENCHMARKS, DATA_DIR_ENV, Benchmark, data_dir, load_benchmark
from ._examples import pbmc68k_reduced
from ._synthetic import make_coclusters

__all__ = [
    "BENCHMARKS",
    "DATA_DIR_ENV",
    "Benchmark",
    "data_dir",
    "load_benchmark",
    "make_coclusters",
    "pbmc68k_reduced",
]
