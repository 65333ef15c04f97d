"""The matrix a model trains on: sparse views of rows and columns, cell samplers, sketch."""

from ._cells import CellBatch, sample_block_cells
from ._dataset import CoclusterData, observed_mean_and_std
from ._views import (
    INPUT_TRANSFORMS,
    SKETCH_VALUE_MAPS,
    MatrixView,
    SideBatch,
    SketchView,
    column_sketch,
)

__all__ = [
    "INPUT_TRANSFORMS",
    "CellBatch",
    "CoclusterData",
    "MatrixView",
    "SKETCH_VALUE_MAPS",
    "SideBatch",
    "SketchView",
    "column_sketch",
    "observed_mean_and_std",
    "sample_block_cells",
]
