"""The cross-loss coupling row and column partitions (METHOD.md §7).

Three variants share one moving-average mechanism:

- ``"weighted"`` (counts, binary data): ``1 - I(P_hat) / I(P)`` with ``P`` the block's
  non-negative values normalised and ``P_hat = Gamma_r^T P Gamma_c`` (any ``K, L``).
- ``"deepcc"``: DeepCC's ``P = Gamma_r Gamma_c^T`` pooled by hard labels, loss
  ``log(1 + |1 - I(P_hat) / I(P)|)``; needs ``K == L``.
- ``"variance"`` (Gaussian data; choice): ``1 - R^2``, with ``R^2`` the share of the values'
  sum of squares that the soft block means keep. It is the Gaussian counterpart of the kept
  mutual information (for jointly Gaussian values ``I = -1/2 log(1 - R^2)``); the ``weighted``
  form needs non-negative values, and on standardised values no non-negative map of them
  (``|v|``, ``exp(v)``) ranks the true partition first (measured on the planted benchmark).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

MI_VARIANTS = ("weighted", "deepcc", "variance")


def mutual_information(table: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """``I(T) = sum_ab T_ab log(T_ab / (T_a. T_.b))`` of a joint table (normalised inside)."""
    joint = table / table.sum().clamp_min(eps)
    row = joint.sum(1, keepdim=True)
    column = joint.sum(0, keepdim=True)
    return (joint * (torch.log(joint + eps) - torch.log(row @ column + eps))).sum()


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def block_information(
    values: torch.Tensor,
    total: torch.Tensor,
    reduce: Callable[[torch.Tensor], torch.Tensor] = _identity,
    eps: float = 1e-10,
) -> torch.Tensor:
    """``I(P)`` of the block ``P = values / total`` whose rows may be split over processes.

    ``reduce`` sums a tensor over the processes (identity in one process), so the column
    marginals and the result cover the whole block while each process holds only its rows.
    In one process this is :func:`mutual_information` of ``values / total``.
    """
    joint = values / total.clamp_min(eps)
    row = joint.sum(1, keepdim=True)
    column = reduce(joint.sum(0, keepdim=True))
    return reduce((joint * (torch.log(joint + eps) - torch.log(row @ column + eps))).sum())


class MutualInformationLoss(nn.Module):
    """The cross-loss with exponential moving averages of its ``K x L`` tables.

    Parameters
    ----------
    n_row_clusters, n_col_clusters
        ``K`` and ``L``.
    variant
        ``"weighted"``, ``"deepcc"`` or ``"variance"`` (see the module docstring).
    momentum
        Weight of the old tables in the moving average (the old part detached), so the
        estimate covers far more than one block.
    """

    def __init__(
        self,
        n_row_clusters: int,
        n_col_clusters: int,
        *,
        variant: str = "weighted",
        momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if variant not in MI_VARIANTS:
            raise ValueError(f"mi={variant!r} is not one of {', '.join(MI_VARIANTS)}.")
        if variant == "deepcc" and n_row_clusters != n_col_clusters:
            raise ValueError(
                f"mi='deepcc' needs as many row as column clusters (got K={n_row_clusters}, "
                f"L={n_col_clusters}); use mi='weighted', which allows K != L."
            )
        self.variant = variant
        self.momentum = momentum
        # Sums a tensor over the processes of data-parallel training (differentiably); the
        # identity in one process. Set by the training loop, never saved.
        self.reduce: Callable[[torch.Tensor], torch.Tensor] = _identity
        # ``table``: P_hat (MI variants) or soft block sums (variance); ``counts``: soft block
        # sizes (variance only); ``data_information``: I(P), or the total sum of squares.
        self.register_buffer("table", torch.zeros(n_row_clusters, n_col_clusters))
        self.register_buffer("counts", torch.zeros(n_row_clusters, n_col_clusters))
        self.register_buffer("data_information", torch.zeros(()))
        self.register_buffer("n_updates", torch.zeros((), dtype=torch.long))

    def reset(self) -> None:
        """Forget the moving averages (at the start of mixture training)."""
        for buffer in (self.table, self.counts, self.data_information, self.n_updates):
            buffer.zero_()

    def _blend(self, **current: torch.Tensor) -> dict[str, torch.Tensor]:
        """Moving average of each named state with the batch's value; stores the result."""
        # The first update takes the batch as it is; later ones blend it in.
        rate = torch.where(self.n_updates == 0, 1.0, 1.0 - self.momentum)
        blended = {}
        for name, value in current.items():
            stored = getattr(self, name)
            blended[name] = rate.to(value.dtype) * value + (1.0 - rate.to(value.dtype)) * stored
            with torch.no_grad():
                stored.copy_(blended[name].detach())
        with torch.no_grad():
            self.n_updates += 1
        return blended

    def forward(
        self,
        block: torch.Tensor,
        observed: torch.Tensor | None,
        row_responsibilities: torch.Tensor,
        column_responsibilities: torch.Tensor,
    ) -> torch.Tensor:
        """Loss on the current ``b x c`` block given the batch's soft memberships.

        ``block`` holds non-negative weights for the MI variants and the (standardised)
        values for ``"variance"``.
        """
        present = torch.ones_like(block) if observed is None else observed.to(block.dtype)
        values = block * present
        reduce = self.reduce  # every sum over the block's rows covers all processes' rows
        if self.variant == "variance":
            state = self._blend(
                table=reduce(row_responsibilities.T @ values @ column_responsibilities),
                counts=reduce(row_responsibilities.T @ present @ column_responsibilities),
                data_information=reduce((values**2).sum().detach()),
            )
            kept = (state["table"] ** 2 / state["counts"].clamp_min(1e-6)).sum()
            return 1.0 - kept / state["data_information"].clamp_min(1e-10)
        if self.variant == "weighted":
            weights = values
            total = reduce(values.sum())
            cluster_table = reduce(row_responsibilities.T @ weights @ column_responsibilities)
        else:
            weights = row_responsibilities @ column_responsibilities.T
            total = reduce(weights.sum())
            row_hard = nn.functional.one_hot(
                row_responsibilities.argmax(1), row_responsibilities.shape[1]
            ).to(block.dtype)
            column_hard = nn.functional.one_hot(
                column_responsibilities.argmax(1), column_responsibilities.shape[1]
            ).to(block.dtype)
            cluster_table = reduce(row_hard.T @ weights @ column_hard)
        cluster_table = cluster_table / total.clamp_min(1e-10)
        data_information = block_information(weights.detach(), total.detach(), reduce)
        state = self._blend(table=cluster_table, data_information=data_information)
        ratio = mutual_information(state["table"]) / state["data_information"].clamp_min(1e-10)
        if self.variant == "deepcc":
            return torch.log1p(torch.abs(1.0 - ratio))
        return 1.0 - ratio
