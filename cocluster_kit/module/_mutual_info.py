"""The mutual-information cross-loss between row and column partitions (METHOD.md §7)."""

from __future__ import annotations

import torch
from torch import nn

MI_VARIANTS = ("weighted", "deepcc")


def mutual_information(table: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """``I(T) = sum_ab T_ab log(T_ab / (T_a. T_.b))`` of a joint table (normalised inside)."""
    joint = table / table.sum().clamp_min(eps)
    row = joint.sum(1, keepdim=True)
    column = joint.sum(0, keepdim=True)
    return (joint * (torch.log(joint + eps) - torch.log(row @ column + eps))).sum()


class MutualInformationLoss(nn.Module):
    """``1 - I(P_hat) / I(P)`` with moving averages over steps.

    Parameters
    ----------
    n_row_clusters, n_col_clusters
        ``K`` and ``L``.
    variant
        ``"weighted"`` (data-weighted, ``P_hat = Gamma_r^T P Gamma_c``; any ``K, L``) or
        ``"deepcc"`` (DeepCC's ``P = Gamma_r Gamma_c^T`` pooled by hard labels; needs
        ``K == L``).
    momentum
        Weight of the old table in the exponential moving average (the old part detached).
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
        self.register_buffer("table", torch.zeros(n_row_clusters, n_col_clusters))
        self.register_buffer("data_information", torch.zeros(()))
        self.register_buffer("n_updates", torch.zeros((), dtype=torch.long))

    def reset(self) -> None:
        """Forget the moving averages (at the start of mixture training)."""
        self.table.zero_()
        self.data_information.zero_()
        self.n_updates.zero_()

    def forward(
        self,
        block: torch.Tensor,
        observed: torch.Tensor | None,
        row_responsibilities: torch.Tensor,
        column_responsibilities: torch.Tensor,
    ) -> torch.Tensor:
        """Loss on the current block of non-negative weights ``b x c`` (soft memberships)."""
        weights = block
        if observed is not None:
            weights = weights * observed
        if self.variant == "weighted":
            data_table = weights / weights.sum().clamp_min(1e-10)
            cluster_table = row_responsibilities.T @ data_table @ column_responsibilities
        else:
            soft_joint = row_responsibilities @ column_responsibilities.T
            data_table = soft_joint / soft_joint.sum().clamp_min(1e-10)
            row_hard = nn.functional.one_hot(
                row_responsibilities.argmax(1), row_responsibilities.shape[1]
            ).to(block.dtype)
            column_hard = nn.functional.one_hot(
                column_responsibilities.argmax(1), column_responsibilities.shape[1]
            ).to(block.dtype)
            cluster_table = row_hard.T @ data_table @ column_hard
        block_information = mutual_information(data_table).detach()
        # The first update takes the batch table as it is; later ones blend it in.
        rate = torch.where(self.n_updates == 0, 1.0, 1.0 - self.momentum).to(block.dtype)
        table = rate * cluster_table + (1.0 - rate) * self.table
        data_information = rate * block_information + (1.0 - rate) * self.data_information
        with torch.no_grad():
            self.table.copy_(table.detach())
            self.data_information.copy_(data_information)
            self.n_updates += 1
        ratio = mutual_information(table) / data_information.clamp_min(1e-10)
        if self.variant == "deepcc":
            return torch.log1p(torch.abs(1.0 - ratio))
        return 1.0 - ratio
