"""One VAE side with a Gaussian-mixture prior; rows, columns and cells all use this class.

METHOD.md §1 (model and VaDE bound), §2 (estimators), §4 (scale trick), §5 (critic). The side
does not know which of the three it is: it reads an encoder input, optionally a decoder
context (the cell level's ``[z_i; z_j]``), and a target with a mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..nn import MLP, ContrastiveCritic, GaussianEncoder, Likelihood, MixturePrior
from ..nn._mixture import diagonal_normal_log_prob

ESTIMATORS = ("dreg", "iwae", "elbo")
PRIOR_GRADIENTS = ("gdreg", "iwae")


@dataclass
class SideOutput:
    """What one forward pass of a side gives back (per item of the batch).

    Attributes
    ----------
    loss
        Surrogate loss per item, ``(b,)``: back-propagating its sum gives the gradients of the
        chosen estimator (it equals the negative bound only for ``iwae`` / ``elbo``).
    bound
        The bound per item (IWAE bound, or ELBO), detached.
    reconstruction
        Mean ``log p(x | z)`` over the samples, detached.
    kl
        Monte-Carlo (or closed-form for ``elbo``) KL to the prior, detached.
    critic
        The InfoNCE term per item (0 when the critic is off), detached.
    mean, log_var
        Encoder outputs (with gradients).
    sample
        The first reparameterised sample ``z`` (with gradients), ``(b, d)``.
    """

    loss: torch.Tensor
    bound: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    critic: torch.Tensor
    mean: torch.Tensor
    log_var: torch.Tensor
    sample: torch.Tensor


class MixtureVAE(nn.Module):
    """A VAE with a learnable Gaussian-mixture prior (one side of the co-clustering model).

    Parameters
    ----------
    n_input
        Width of the encoder input.
    likelihood
        The observation model; its ``n_features`` is the decoder's output width.
    n_latent
        Latent dimension ``d``.
    n_components
        Mixture components (clusters of this side).
    hidden
        Hidden widths of the encoder.
    decoder_hidden
        Hidden widths of the decoder (None mirrors ``hidden``; empty for a linear decoder).
    n_context
        Width of an extra decoder input (``[z_i; z_j]`` on the cell level), 0 for none.
    n_critic_input
        Width of the data the critic reads; 0 switches the critic off.
    scale_trick
        Learn ``f = 1 + softplus(a)`` and decode ``f * mu + sigma * eps`` (METHOD.md §4).
    dropout
        Dropout inside the encoder trunk.
    """

    def __init__(
        self,
        n_input: int,
        likelihood: Likelihood,
        *,
        n_latent: int,
        n_components: int,
        hidden: Sequence[int] = (256, 128),
        decoder_hidden: Sequence[int] | None = None,
        n_context: int = 0,
        n_critic_input: int = 0,
        scale_trick: bool = True,
        dropout: float = 0.0,
        critic_temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_latent = n_latent
        self.encoder = GaussianEncoder(n_input, list(hidden), n_latent, dropout=dropout)
        decoder_hidden = list(hidden)[::-1] if decoder_hidden is None else list(decoder_hidden)
        self.decoder = MLP(n_latent + n_context, decoder_hidden, likelihood.n_features)
        self.likelihood = likelihood
        self.prior = MixturePrior(n_components, n_latent)
        self.critic = (
            ContrastiveCritic(n_critic_input, n_latent, temperature=critic_temperature)
            if n_critic_input > 0
            else None
        )
        self.scale_trick = scale_trick
        # f = 1 + softplus(a) starts at 1 + softplus(-3) ~ 1.05.
        self.scale_raw = nn.Parameter(torch.full((n_latent,), -3.0)) if scale_trick else None

    # Groups of parameters (METHOD.md §2): each estimator part touches only its own group.
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role: ``encoder`` (with scale and critic), ``decoder``, ``prior``."""
        encoder = list(self.encoder.parameters())
        if self.scale_raw is not None:
            encoder.append(self.scale_raw)
        if self.critic is not None:
            encoder += list(self.critic.parameters())
        return {
            "encoder": encoder,
            "decoder": list(self.decoder.parameters()) + list(self.likelihood.parameters()),
            "prior": list(self.prior.parameters()),
        }

    @property
    def scale(self) -> torch.Tensor | float:
        """The decoder-path scale ``f`` (1 without the scale trick)."""
        if self.scale_raw is None:
            return 1.0
        return 1.0 + nn.functional.softplus(self.scale_raw)

    def decode(self, z_hat: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder raw output for latents ``(..., d)`` and an optional context ``(b, c)``."""
        if context is not None:
            context = context.expand(*z_hat.shape[:-1], context.shape[-1])
            z_hat = torch.cat([z_hat, context], dim=-1)
        return self.decoder(z_hat)

    def responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        """Soft memberships of latents ``z`` in the mixture components."""
        return self.prior.responsibilities(z)

    def forward(
        self,
        encoder_input: torch.Tensor,
        target: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        offset: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        critic_input: torch.Tensor | None = None,
        estimator: str = "dreg",
        prior_gradient: str = "gdreg",
        n_samples: int = 1,
        kl_weight: float = 1.0,
        standard_prior: bool = False,
        noise_window: tuple[int, int] | None = None,
    ) -> SideOutput:
        """Compute the side's loss for one batch of items.

        Parameters
        ----------
        encoder_input
            ``(b, n_input)``.
        target
            ``(b, n_features)`` values the likelihood scores.
        mask
            Boolean ``(b, n_features)``, true where the entry is observed.
        offset
            Library sizes (count likelihoods), ``(b,)``.
        context
            Extra decoder input ``(b, n_context)``.
        critic_input
            Data the critic pairs with the latent means, ``(b, n_critic_input)``.
        estimator
            ``"dreg"``, ``"iwae"`` or ``"elbo"`` (METHOD.md §2).
        prior_gradient
            ``"gdreg"`` (generalized DReG for the mixture means/scales) or ``"iwae"``.
        n_samples
            Importance samples ``S``.
        kl_weight
            Warm-up weight on ``log p(z) - log q(z)`` (1 after warm-up).
        standard_prior
            Use ``N(0, I)`` instead of the mixture (pre-training).
        noise_window
            ``(start, global size)``: draw the noise for a batch of ``global size`` items and
            keep rows ``start ..`` (this process's share under data-parallel training).
        """
        mean, log_var = self.encoder(encoder_input)
        std = torch.exp(0.5 * log_var)
        start, size = (0, mean.shape[0]) if noise_window is None else noise_window
        noise = torch.randn((n_samples, size, mean.shape[1]), dtype=mean.dtype, device=mean.device)
        noise = noise[:, start : start + mean.shape[0]]
        z = mean + std * noise
        scale_offset = (self.scale - 1.0) * mean if self.scale_raw is not None else 0.0

        if standard_prior or estimator == "elbo":
            raw = self.decode(z + scale_offset, context)
            log_px = self.likelihood.log_prob(raw, target, mask, offset)
            kl = (
                _standard_normal_kl(mean, log_var)
                if standard_prior
                else self._vade_kl(z, mean, log_var)
            )
            reconstruction = log_px.mean(0)
            bound = reconstruction - kl
            loss = -(reconstruction - kl_weight * kl)
        else:
            loss, bound, reconstruction, kl = self._importance_weighted(
                z,
                noise,
                mean,
                log_var,
                scale_offset,
                target,
                mask,
                offset,
                context,
                estimator=estimator,
                prior_gradient=prior_gradient,
                kl_weight=kl_weight,
            )

        critic = torch.zeros_like(bound)
        if self.critic is not None and critic_input is not None and mean.shape[0] > 1:
            critic = self.critic(critic_input, mean)
        return SideOutput(
            loss=loss,
            bound=bound.detach(),
            reconstruction=reconstruction.detach(),
            kl=kl.detach(),
            critic=critic,
            mean=mean,
            log_var=log_var,
            sample=z[0],
        )

    def _vade_kl(self, z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """Closed-form VaDE KL term of METHOD.md §1, responsibilities taken at the samples."""
        gamma = self.prior.responsibilities(z).mean(0).detach()  # (b, K)
        prior_log_var = self.prior.log_var  # (K, d)
        variance_ratio = torch.exp(log_var.unsqueeze(1) - prior_log_var)
        distance = (mean.unsqueeze(1) - self.prior.means) ** 2 * torch.exp(-prior_log_var)
        cross = 0.5 * (prior_log_var + variance_ratio + distance).sum(-1)  # (b, K)
        log_pi = self.prior.log_weights()
        assignment = (gamma * (torch.log(gamma.clamp_min(1e-10)) - log_pi)).sum(-1)
        entropy = 0.5 * (1.0 + log_var).sum(-1)
        return (gamma * cross).sum(-1) + assignment - entropy

    def _importance_weighted(
        self,
        z,
        noise,
        mean,
        log_var,
        scale_offset,
        target,
        mask,
        offset,
        context,
        *,
        estimator: str,
        prior_gradient: str,
        kl_weight: float,
    ):
        """IWAE bound and the IWAE / DReG / generalized-DReG surrogates (METHOD.md §2)."""
        n_samples = z.shape[0]
        if estimator == "iwae":
            raw = self.decode(z + scale_offset, context)
            log_px = self.likelihood.log_prob(raw, target, mask, offset)
            log_ratio = self.prior.log_prob(z) - diagonal_normal_log_prob(z, mean, log_var)
            log_w = log_px + kl_weight * log_ratio
            bound = torch.logsumexp(log_w, 0) - math.log(n_samples)
            return -bound, bound, log_px.mean(0), -log_ratio.mean(0)

        # DReG: one surrogate whose gradient is IWAE for decoder and mixture weights and
        # doubly reparameterised for the encoder. A hook multiplies the gradient arriving at z
        # by w~ (by 1 - beta + beta w~ under warm-up, which is exact for any beta).
        path_factor: dict[str, torch.Tensor] = {}
        z_path = z.clone()
        if z_path.requires_grad:
            z_path.register_hook(lambda grad: grad * path_factor["value"])
        z_hat = z_path + scale_offset
        log_px = self.likelihood.log_prob(self.decode(z_hat, context), target, mask, offset)
        mixture_gradient = prior_gradient == "iwae"
        prior_overrides = (
            {}
            if mixture_gradient
            else {"means": self.prior.means.detach(), "log_var": self.prior.log_var.detach()}
        )
        log_prior = self.prior.log_prob(z_path, **prior_overrides)
        log_ratio = log_prior - diagonal_normal_log_prob(z_path, mean.detach(), log_var.detach())
        log_w = log_px + kl_weight * log_ratio
        weights = torch.softmax(log_w.detach(), dim=0)  # (S, b)
        path_factor["value"] = (1.0 - kl_weight + kl_weight * weights).unsqueeze(-1)
        loss = -(weights * log_w).sum(0)
        if not mixture_gradient and z_hat.requires_grad:
            loss = loss + self._generalized_dreg(
                z, z_hat, log_px, noise, log_var, weights, kl_weight
            )
        bound = torch.logsumexp(log_w.detach(), 0) - math.log(n_samples)
        return loss, bound, log_px.detach().mean(0), -log_ratio.detach().mean(0)

    def _generalized_dreg(self, z, z_hat, log_px, noise, log_var, weights, kl_weight):
        """Surrogate whose gradient is generalized DReG for the mixture means and scales.

        Each sample is re-read as a draw from component ``c ~ gamma(z)``:
        ``z' = m_c + s_c * eps'`` with ``eps'`` fixed, so the gradient reaches ``m, s`` only.
        """
        (grad_log_px,) = torch.autograd.grad(log_px.sum(), z_hat, retain_graph=True)
        with torch.no_grad():
            z_fixed = z.detach()
            grad_log_ratio = self.prior.score(z_fixed) + noise * torch.exp(-0.5 * log_var)
            w = weights.unsqueeze(-1)
            # beta=1: w~ grad log p(x|z) - w~^2 grad log w (METHOD.md §2); general beta below.
            coefficient = (
                kl_weight
                * w
                * ((1.0 - w) * grad_log_px + (kl_weight * (1.0 - w) - 1.0) * grad_log_ratio)
            )
            gamma = self.prior.responsibilities(z_fixed)
            component = torch.distributions.Categorical(probs=gamma).sample()
        means = self.prior.means[component]
        stds = torch.exp(0.5 * self.prior.log_var[component])
        fixed_noise = ((z_fixed - means) / stds).detach()
        z_prime = means + stds * fixed_noise
        return -(coefficient * z_prime).sum((0, 2))


def _standard_normal_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, exp(log_var)) || N(0, I))`` per item."""
    return 0.5 * (mean**2 + torch.exp(log_var) - 1.0 - log_var).sum(-1)
