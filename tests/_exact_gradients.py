"""Exact gradients and Monte-Carlo statistics for ``test_gradient_estimators.py``.

Small linear-Gaussian ``MixtureVAE`` models in float64, their IWAE bound by a trapezoidal rule
against the Gaussian (so autograd gives the exact gradient), the estimators' surrogate
gradients averaged over replicated draws, and the checks in Monte-Carlo standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional

from cocluster_kit.module import MixtureVAE
from cocluster_kit.nn import make_likelihood

LOG_2PI = math.log(2.0 * math.pi)
Z_TOL = 5.0  # allowed |mean - exact| in Monte-Carlo standard errors
ATOL = 1e-10  # for gradients that are exactly zero (no spread)

# -- model set-up -----------------------------------------------------------------------------


def linear_module(
    n_features: int, n_latent: int, n_components: int, *, scale_trick: bool = False
) -> MixtureVAE:
    """A linear Gaussian ``MixtureVAE`` in float64 (no hidden layers, no critic)."""
    return MixtureVAE(
        n_features,
        make_likelihood("gaussian", n_features),
        n_latent=n_latent,
        n_components=n_components,
        hidden=(),
        n_critic_input=0,
        scale_trick=scale_trick,
    ).double()


def make_module(
    n_features: int,
    n_latent: int,
    n_components: int,
    *,
    values: dict[str, list],
    scale_trick: bool = False,
) -> MixtureVAE:
    """A :func:`linear_module` with every parameter set to the given values."""
    torch.manual_seed(0)
    module = linear_module(n_features, n_latent, n_components, scale_trick=scale_trick)
    params = dict(module.named_parameters())
    assert set(params) == set(values), sorted(params)
    with torch.no_grad():
        for name, value in values.items():
            params[name].copy_(torch.tensor(value, dtype=torch.float64))
    return module


def encode(module: MixtureVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and log-variance of a linear encoder, written out by hand."""
    enc = module.encoder
    mean = functional.linear(x, enc.mean.weight, enc.mean.bias)
    log_var = functional.linear(x, enc.log_var.weight, enc.log_var.bias)
    # The encoder clamps its log-variance to [-12, 8]; stay inside so the clamp is inactive.
    assert bool(((log_var > -11.0) & (log_var < 7.0)).all())
    torch.testing.assert_close(torch.stack(module.encoder(x)), torch.stack([mean, log_var]))
    return mean, log_var


def likelihood_log_variances(module: MixtureVAE) -> torch.Tensor:
    log_var = module.likelihood.log_var
    assert bool((log_var > math.log(1e-3) + 0.1).all())  # the floor is inactive
    return log_var


def prior_log_variances(module: MixtureVAE) -> torch.Tensor:
    """``log s^2 = floor + softplus(raw - floor)`` with the floor ``log 1e-4`` (METHOD.md §1)."""
    floor = math.log(1e-4)
    return floor + functional.softplus(module.prior.raw_log_var - floor)


def log_normal(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))


def log_w_at_nodes(
    module: MixtureVAE, x: torch.Tensor, nodes: torch.Tensor, kl_weight: float
) -> torch.Tensor:
    """``log w(eps) = log p(x | z_hat) + beta [log p(z) - log q(z | x)]`` for a 1-d latent.

    ``x``: ``(b, D)``, ``nodes``: ``(n,)``; returns ``(b, n)``. ``z = mu + sigma eps``; the
    decoder reads ``z_hat = z + (f - 1) mu`` (METHOD.md §4; ``f = 1`` without the scale trick).
    Everything except the encoder/decoder linear maps is written out here.
    """
    assert module.n_latent == 1
    mean, log_var = encode(module, x)  # (b, 1)
    z = mean + torch.exp(0.5 * log_var) * nodes  # (b, n)
    if module.scale_raw is not None:
        f = 1.0 + functional.softplus(module.scale_raw)  # (1,)
        z_hat = z + (f - 1.0) * mean
    else:
        z_hat = z
    dec = module.decoder.layers[-1]
    assert len(module.decoder.layers) == 1
    raw = z_hat.unsqueeze(-1) * dec.weight[:, 0] + dec.bias  # (b, n, D)
    log_px = log_normal(x.unsqueeze(1), raw, likelihood_log_variances(module)).sum(-1)
    # Mixture prior, one latent dimension.
    log_pi = torch.log_softmax(module.prior.logits, dim=-1)  # (K,)
    prior_mean = module.prior.means[:, 0]
    prior_log_var = prior_log_variances(module)[:, 0]
    log_prior = torch.logsumexp(
        log_pi + log_normal(z.unsqueeze(-1), prior_mean, prior_log_var), dim=-1
    )
    log_q = log_normal(z, mean, log_var)
    return log_px + kl_weight * (log_prior - log_q)


def gaussian_nodes(step: float, half_width: float = 7.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Trapezoidal rule for ``E f(eps)``, ``eps ~ N(0, 1)``, on ``[-half_width, half_width]``.

    For integrands analytic in a strip around the real axis (as ``logsumexp`` of smooth
    functions is) the trapezoidal rule against a Gaussian converges exponentially in
    ``1 / step``; on these integrands it beats Gauss-Hermite of the same size by orders of
    magnitude (``logsumexp`` over samples has near-kinks where two ``log w`` cross).
    """
    nodes = np.arange(-half_width, half_width + step / 2, step)
    weights = step * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    return torch.tensor(nodes), torch.tensor(weights)


def iwae_bound_quadrature(
    module: MixtureVAE,
    x: torch.Tensor,
    n_samples: int,
    *,
    kl_weight: float = 1.0,
    step: float = 0.12,
) -> torch.Tensor:
    """Exact ``sum_items E[log (1/S) sum_s w(eps_s)]``, ``eps_s ~ N(0, 1)`` i.i.d.

    ``log w(eps_s)`` depends on ``eps_s`` alone: evaluate it at the nodes of one axis and
    integrate ``logsumexp`` over the S-fold tensor-product grid.
    """
    nodes, weights = gaussian_nodes(step)
    log_w = log_w_at_nodes(module, x, nodes, kl_weight)  # (b, n)
    b, n = log_w.shape
    integrand, weight = None, torch.ones((), dtype=torch.float64)
    for s in range(n_samples):
        shape = [b] + [1] * n_samples
        shape[1 + s] = n
        axis = log_w.reshape(shape)
        integrand = axis if integrand is None else torch.logaddexp(integrand, axis)
        weight = weight * weights.reshape(shape[1:])
    integrand = integrand - math.log(n_samples)  # (b, n, ..., n)
    return (integrand * weight).sum()


def quadrature_objective(x: torch.Tensor, n_samples: int, kl_weight: float, step: float):
    return lambda m: iwae_bound_quadrature(m, x, n_samples, kl_weight=kl_weight, step=step)


def exact_gradient(module: MixtureVAE, objective) -> dict[str, torch.Tensor]:
    """Gradient of ``objective(module)`` (a scalar) wrt every named parameter."""
    names, params = zip(*module.named_parameters(), strict=True)
    grads = torch.autograd.grad(objective(module), params, allow_unused=True)
    return {
        name: torch.zeros_like(p) if g is None else g.detach()
        for name, p, g in zip(names, params, grads, strict=True)
    }


def surrogate_gradients(
    module: MixtureVAE,
    x: torch.Tensor,
    *,
    n_batches: int,
    n_replicas: int,
    seed: int,
    **forward_kwargs,
) -> dict[str, torch.Tensor]:
    """Per batch, the mean over ``n_replicas`` draws of the surrogate gradient of
    ``sum_items loss``: ``{name: (n_batches, *shape)}``."""
    torch.manual_seed(seed)
    x_rep = x.repeat(n_replicas, 1)
    per_batch: dict[str, list[torch.Tensor]] = {n: [] for n, _ in module.named_parameters()}
    for _ in range(n_batches):
        module.zero_grad(set_to_none=True)
        out = module(x_rep, x_rep, **forward_kwargs)
        assert out.loss.shape == (x_rep.shape[0],)
        (out.loss.sum() / n_replicas).backward()
        for name, p in module.named_parameters():
            per_batch[name].append(
                torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
            )
    module.zero_grad(set_to_none=True)
    return {name: torch.stack(grads) for name, grads in per_batch.items()}


def z_scores(
    batches: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``|mean - expected| / (SE + tiny)`` per parameter element."""
    scores = {}
    for name, g in batches.items():
        n = g.shape[0]
        se = g.std(0, unbiased=True) / math.sqrt(n)
        scores[name] = (g.mean(0) - expected[name]).abs() / (se + ATOL / Z_TOL)
    return scores


def assert_matches(
    batches: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], label: str
) -> None:
    scores = z_scores(batches, expected)
    report = "\n".join(
        f"  {name}: mean={batches[name].mean(0).flatten().tolist()} "
        f"exact={expected[name].flatten().tolist()} "
        f"se={(batches[name].std(0) / math.sqrt(batches[name].shape[0])).flatten().tolist()} "
        f"z={scores[name].flatten().tolist()}"
        for name in batches
    )
    worst = max(float(s.max()) for s in scores.values())
    assert worst < Z_TOL, f"{label}: surrogate gradient is off the exact one\n{report}"


def standard_error(batches: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: g.std(0) / math.sqrt(g.shape[0]) for n, g in batches.items()}


def assert_discriminates(
    batches: dict[str, torch.Tensor],
    right: dict[str, torch.Tensor],
    wrong: dict[str, torch.Tensor],
    groups: list[list[str]],
    factor: float = 2.0 * Z_TOL,
) -> None:
    """The test has power: within each group of parameters, some element of ``right - wrong``
    is ``factor`` standard errors or more, so ``wrong`` would have failed the comparison."""
    se = standard_error(batches)
    for group in groups:
        gap = max(float(((right[n] - wrong[n]).abs() / (se[n] + 1e-300)).max()) for n in group)
        assert gap > factor, f"{group}: exact gradients differ by only {gap:.1f} SE"
