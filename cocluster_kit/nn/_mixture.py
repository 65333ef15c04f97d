"""The learnable Gaussian-mixture prior of one side (METHOD.md §1)."""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def normal_log_density(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Elementwise log-density of ``N(mean, exp(log_var))`` at ``x``."""
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))


def diagonal_normal_log_prob(
    z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor
) -> torch.Tensor:
    """Log-density of ``N(mean, diag exp(log_var))`` at ``z``, summed over the last axis."""
    return normal_log_density(z, mean, log_var).sum(-1)


class MixturePrior(nn.Module):
    """``p(z) = sum_k pi_k N(z; m_k, diag s_k^2)`` with learnable logits, means and variances.

    Parameters
    ----------
    n_components
        Number of mixture components (clusters of this side).
    n_latent
        Latent dimension.
    min_variance
        Floor on the component variances ``s^2``.
    """

    def __init__(self, n_components: int, n_latent: int, *, min_variance: float = 1e-4) -> None:
        super().__init__()
        self.n_components = n_components
        self.n_latent = n_latent
        self.log_min_variance = math.log(min_variance)
        self.logits = nn.Parameter(torch.zeros(n_components))
        self.means = nn.Parameter(torch.randn(n_components, n_latent))
        self.raw_log_var = nn.Parameter(torch.zeros(n_components, n_latent))

    @property
    def log_var(self) -> torch.Tensor:
        """Component log-variances, floored at ``log(min_variance)``."""
        floor = self.log_min_variance
        return floor + nn.functional.softplus(self.raw_log_var - floor)

    def log_weights(self, logits: torch.Tensor | None = None) -> torch.Tensor:
        """Log mixture weights ``log pi`` (``K``)."""
        return torch.log_softmax(self.logits if logits is None else logits, dim=-1)

    def component_log_prob(
        self,
        z: torch.Tensor,
        *,
        means: torch.Tensor | None = None,
        log_var: torch.Tensor | None = None,
        logits: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log pi_k + log N(z; m_k, s_k^2)`` for every component: ``(..., K)``.

        The optional arguments replace the module's own parameters (used to detach some of
        them for the gradient estimators of METHOD.md §2).
        """
        means = self.means if means is None else means
        log_var = self.log_var if log_var is None else log_var
        per_component = diagonal_normal_log_prob(z.unsqueeze(-2), means, log_var)
        return per_component + self.log_weights(logits)

    def log_prob(self, z: torch.Tensor, **overrides: torch.Tensor) -> torch.Tensor:
        """Mixture log-density ``log p(z)``: ``(...)``."""
        return torch.logsumexp(self.component_log_prob(z, **overrides), dim=-1)

    def responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        """Soft memberships ``gamma_k(z)`` computed in log-space: ``(..., K)``."""
        return torch.softmax(self.component_log_prob(z), dim=-1)

    def score(self, z: torch.Tensor) -> torch.Tensor:
        """``grad_z log p(z)`` in closed form, all parameters held fixed."""
        with torch.no_grad():
            gamma = self.responsibilities(z)
            pull = (self.means - z.unsqueeze(-2)) * torch.exp(-self.log_var)
            return (gamma.unsqueeze(-1) * pull).sum(-2)

    @torch.no_grad()
    def initialize(
        self, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor
    ) -> None:
        """Set the mixture from a fitted clustering of encoder means (METHOD.md §8, step 2)."""
        self.logits.copy_(torch.log(weights.clamp_min(1e-8)))
        self.means.copy_(means)
        target = torch.log(variances.clamp_min(math.exp(self.log_min_variance) * 1.01))
        # Inverse of log_var = floor + softplus(raw - floor).
        excess = (target - self.log_min_variance).clamp_min(1e-6)
        self.raw_log_var.copy_(self.log_min_variance + excess + torch.log(-torch.expm1(-excess)))
