"""The InfoNCE critic that keeps latents informative about their data (METHOD.md §5)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._mlp import MLP


class ContrastiveCritic(nn.Module):
    """Bilinear critic ``s(x_i, z_j) = g(x_i)^T W z_j / tau``.

    Parameters
    ----------
    n_data
        Width of the data vector the critic reads.
    n_latent
        Latent dimension.
    hidden
        Hidden widths of ``g``.
    n_embedding
        Output width of ``g``.
    temperature
        Temperature ``tau``.
    """

    def __init__(
        self,
        n_data: int,
        n_latent: int,
        *,
        hidden: Sequence[int] = (64,),
        n_embedding: int = 32,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.embed_data = MLP(n_data, hidden, n_embedding)
        self.bilinear = nn.Parameter(torch.randn(n_embedding, n_latent) / math.sqrt(n_latent))
        self.temperature = temperature

    def forward(self, data: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Per-item InfoNCE term ``s(x_i, z_i) - logsumexp_j s(x_i, z_j)`` (``b``).

        Adding ``log b`` gives a lower bound on the mutual information between data and latent.
        """
        scores = self.embed_data(data) @ self.bilinear @ latent.T / self.temperature
        return scores.diagonal() - torch.logsumexp(scores, dim=1)
