"""Multilayer perceptrons and the Gaussian encoder head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """Fully connected layers with LayerNorm and an activation between them.

    Parameters
    ----------
    n_input
        Width of the input.
    hidden
        Widths of the hidden layers; empty for a purely linear map.
    n_output
        Width of the output (no activation on it).
    dropout
        Dropout rate after each hidden activation.
    """

    def __init__(
        self, n_input: int, hidden: Sequence[int], n_output: int, *, dropout: float = 0.0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_input
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.GELU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_output))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(..., n_input)`` to ``(..., n_output)``.

        A sparse (COO) ``(b, n_input)`` input goes through the first layer as
        ``torch.sparse.mm`` (cost ``nnz x width`` instead of ``b x n_input x width``), with
        the same result and gradients as its dense form.
        """
        if not x.is_sparse:
            return self.layers(x)
        first = self.layers[0]
        h = torch.sparse.mm(x, first.weight.t()) + first.bias
        return self.layers[1:](h)


class GaussianEncoder(nn.Module):
    """An MLP with a mean head and a log-variance head: ``q(z | x) = N(mu, diag sigma^2)``.

    Parameters
    ----------
    n_input
        Width of the encoder input.
    hidden
        Hidden layer widths of the shared trunk.
    n_latent
        Latent dimension.
    dropout
        Dropout in the trunk.
    """

    def __init__(
        self, n_input: int, hidden: Sequence[int], n_latent: int, *, dropout: float = 0.0
    ) -> None:
        super().__init__()
        trunk_out = hidden[-1] if hidden else n_input
        self.trunk = MLP(n_input, hidden[:-1], trunk_out, dropout=dropout) if hidden else None
        self.activation = nn.GELU() if hidden else nn.Identity()
        self.mean = nn.Linear(trunk_out, n_latent)
        self.log_var = nn.Linear(trunk_out, n_latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior mean and log-variance, each ``(..., n_latent)``."""
        if self.trunk is None and x.is_sparse:
            x = x.to_dense()  # no trunk: the heads read the (minibatch) input directly
        h = self.activation(self.trunk(x)) if self.trunk is not None else x
        # Log-variance kept in a range where exp() neither underflows nor overflows.
        return self.mean(h), self.log_var(h).clamp(-12.0, 8.0)
