"""Benchmark data sets read from the shared, read-only data directory."""

from __future__ import annotations

from ._benchmarks import BENCHMARKS, DATA_DIR_ENV, Benchmark, data_dir, load_benchmark

__all__ = ["BENCHMARKS", "DATA_DIR_ENV", "Benchmark", "data_dir", "load_benchmark"]
