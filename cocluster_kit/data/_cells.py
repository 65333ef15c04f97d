"""Cells of a row batch x column batch block, sampled so the estimate stays unbiased (§6)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CellBatch:
    """Sampled cells of one block.

    Attributes
    ----------
    row_position, column_position
        Positions of each cell's row and column *within their batches*, ``(k,)``.
    value
        The cell's value on the likelihood's scale, ``(k,)``.
    weight
        Inverse inclusion rate of the cell's stratum (nonzero or zero entries), ``(k,)``:
        ``sum(weight * f(cell))`` is an unbiased estimate of the sum of ``f`` over the
        observed cells of the block.
    block_size
        Number of cells in the block (observed or not), ``b * c``.
    """

    row_position: torch.Tensor
    column_position: torch.Tensor
    value: torch.Tensor
    weight: torch.Tensor
    block_size: int


def sample_block_cells(
    block: torch.Tensor,
    observed: torch.Tensor | None,
    n_cells: int,
    *,
    generator: torch.Generator,
) -> CellBatch:
    """Draw up to ``n_cells`` observed cells of ``block``: half nonzero, half zero entries.

    Parameters
    ----------
    block
        Dense ``b x c`` values of the block.
    observed
        Boolean ``b x c`` mask of observed entries, or None.
    n_cells
        Cells to draw (fewer when the block is smaller).
    generator
        Seeded CPU generator.
    """
    flat = block.reshape(-1)
    is_observed = (
        torch.ones_like(flat, dtype=torch.bool) if observed is None else observed.reshape(-1)
    )
    nonzero = (is_observed & (flat != 0)).nonzero().squeeze(1)
    zero = (is_observed & (flat == 0)).nonzero().squeeze(1)
    strata = [s for s in (nonzero, zero) if len(s) > 0]
    if n_cells < len(strata):
        strata = strata[:n_cells]
    chosen, weights = [], []
    for position, stratum in enumerate(strata):
        # Split the budget evenly; the last stratum takes what the first could not use.
        budget = n_cells // len(strata) if position == 0 else n_cells - sum(len(c) for c in chosen)
        take = min(len(stratum), budget)
        pick = torch.randperm(len(stratum), generator=generator)[:take].to(stratum.device)
        chosen.append(stratum[pick])
        weights.append(torch.full((take,), len(stratum) / take, device=block.device))
    if not chosen:
        empty = torch.zeros(0, dtype=torch.long, device=block.device)
        return CellBatch(empty, empty, block.new_zeros(0), block.new_zeros(0), block.numel())
    cells = torch.cat(chosen)
    n_columns = block.shape[1]
    return CellBatch(
        row_position=cells // n_columns,
        column_position=cells % n_columns,
        value=flat[cells],
        weight=torch.cat(weights).to(block.dtype),
        block_size=block.numel(),
    )
