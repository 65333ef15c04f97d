"""Data sets: planted co-clusters, bundled examples, benchmark loaders, Reuters R8 and R52."""

from __future__ import annotations

from ._benchmarks import BENCHMARKS, DATA_DIR_ENV, Benchmark, data_dir, load_benchmark
from ._examples import pbmc68k_reduced
from ._reuters import CACHE_DIR_ENV, cache_dir, reuters_r8, reuters_r52
from ._synthetic import make_coclusters, make_sparse_coclusters

__all__ = [
    "BENCHMARKS",
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "Benchmark",
    "cache_dir",
    "data_dir",
    "load_benchmark",
    "make_coclusters",
    "make_sparse_coclusters",
    "pbmc68k_reduced",
    "reuters_r8",
    "reuters_r52",
]
