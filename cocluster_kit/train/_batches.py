"""Seeded minibatches: a row batch, a column batch and the cells of their block."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch

from ..data import CoclusterData, MatrixView, sample_block_cells
from ..data._device import fits_on_device
from ..module import TrainingBatch
from ._parallel import Shard

PRECISIONS = ("32", "bf16")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA for ``precision="bf16"``; a no-op otherwise (float32)."""
    if precision == "bf16" and torch.device(device).type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class BatchSampler:
    """Cycles through seeded permutations of rows and columns, one batch of each per step.

    Parameters
    ----------
    data
        The training data.
    row_batch_size, col_batch_size
        Items per batch on each side (capped at the side's size).
    n_cells
        Cells drawn from each block (0 to skip the cell level).
    seed
        Seeds the permutations and the cell sampler.
    device
        Where the batches go.
    precision
        ``"32"`` or ``"bf16"`` (bf16 autocast of the forward pass on CUDA; float32 elsewhere).
    shard
        This process's share of every row batch under data-parallel training: all ranks
        draw the same global row and column batches (the row batch size is the global one)
        and each keeps its contiguous part of the rows.
    """

    def __init__(
        self,
        data: CoclusterData,
        *,
        row_batch_size: int,
        col_batch_size: int,
        n_cells: int,
        seed: int,
        device: torch.device,
        precision: str = "32",
        shard: Shard | None = None,
    ) -> None:
        self.data = data
        self.precision = precision
        self.shard = Shard() if shard is None else shard
        for view in (data.rows, data.columns):
            if isinstance(view, MatrixView) and fits_on_device(view, device):
                view.keep_on(device)  # batches are gathered on the GPU, not copied over
        self.row_batch_size = min(row_batch_size, data.rows.n_items)
        self.col_batch_size = min(col_batch_size, data.columns.n_items)
        self.n_cells = n_cells
        self.device = device
        self.rng = np.random.default_rng(seed)
        self.cell_generator = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
        self._row_totals = torch.as_tensor(data.row_totals, device=device)
        self._column_totals = torch.as_tensor(data.column_totals, device=device)
        self._orders = {"row": np.empty(0, dtype=np.int64), "col": np.empty(0, dtype=np.int64)}

    @property
    def steps_per_epoch(self) -> int:
        """Steps for a full pass over the larger side."""
        return max(
            math.ceil(self.data.rows.n_items / self.row_batch_size),
            math.ceil(self.data.columns.n_items / self.col_batch_size),
        )

    def state_dict(self) -> dict:
        """Everything that decides the next batches: generator states and pending orders.

        Only built-in types and CPU tensors, so a checkpoint holding it loads with
        ``torch.load(..., weights_only=True)``.
        """
        return {
            "rng": self.rng.bit_generator.state,
            "cell_generator": self.cell_generator.get_state(),
            "orders": {
                side: torch.from_numpy(order.copy()) for side, order in self._orders.items()
            },
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where the sampler that gave ``state`` (:meth:`state_dict`) was."""
        self.rng.bit_generator.state = state["rng"]
        self.cell_generator.set_state(state["cell_generator"])
        self._orders = {
            side: order.numpy().astype(np.int64) for side, order in state["orders"].items()
        }

    def _next_index(self, side: str, n_items: int, size: int) -> np.ndarray:
        order = self._orders[side]
        if len(order) < size:
            order = np.concatenate([order, self.rng.permutation(n_items)])
        self._orders[side] = order[size:]
        return np.sort(order[:size])

    def epoch(self) -> Iterator[TrainingBatch]:
        """Yield one epoch of batches."""
        for _ in range(self.steps_per_epoch):
            yield self.make_batch(
                self._next_index("row", self.data.rows.n_items, self.row_batch_size),
                self._next_index("col", self.data.columns.n_items, self.col_batch_size),
            )

    def make_batch(self, row_index: np.ndarray, col_index: np.ndarray) -> TrainingBatch:
        """Densify the two batches and sample the cells of their block.

        ``row_index`` is the global row batch; this process keeps its shard of it.
        """
        start, stop = self.shard.window(len(row_index))
        rows = self.data.rows.batch(row_index[start:stop], self.device)
        if self.shard.world_size > 1:
            rows.noise_window = (start, len(row_index))
        columns = self.data.columns.batch(col_index, self.device)
        cells, cell_offset = None, None
        if self.n_cells > 0:
            column_position = columns.index
            block = rows.target[:, column_position]
            observed = None if rows.mask is None else rows.mask[:, column_position]
            cells = sample_block_cells(block, observed, self.n_cells, generator=self.cell_generator)
            if self.data.is_count:
                # Independence model: row total * column total / grand total (on the device).
                # (divided first: the product of two totals overflows float32 long before
                # the offset itself does)
                cell_offset = (
                    self._row_totals[rows.index[cells.row_position]] / self.data.grand_total
                ) * self._column_totals[columns.index[cells.column_position]]
        return TrainingBatch(
            rows=rows,
            columns=columns,
            cells=cells,
            cell_offset=cell_offset,
            n_rows=self.data.rows.n_items,
            n_cols=self.data.columns.n_items,
        )
