"""The gradient estimators of ``MixtureVAE`` against exact gradients (METHOD.md §2).

Every check works on small linear-Gaussian models in float64 whose bound is known exactly:

* S = 1, one component: the negative ELBO in closed form (written here, independently of the
  module's loss code);
* S > 1, two components: the IWAE bound ``E[log mean_s w_s]`` as an S-dimensional Gaussian
  integral, computed by a tensor-product trapezoidal rule against the Gaussian (``log w``
  depends on one ``eps_s`` only, so the integrand needs ``log w`` at the nodes of one axis);
  converged to ~1e-9, far below the Monte-Carlo error.

Autograd through the exact bound gives the exact gradient. Each surrogate's gradient is averaged
over many independent draws (every item replicated ``R`` times in a batch, ``B`` batches); its
Monte-Carlo standard error comes from the spread of the ``B`` batch means, and every parameter
element must agree with the exact gradient within ``Z_TOL`` standard errors. Each test also
checks that it can tell the right gradient from a wrong one (e.g. the ELBO gradient instead of
the IWAE one) by many standard errors, so it cannot pass by accident.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional

from cocluster_kit.module import MixtureVAE
from cocluster_kit.nn import make_likelihood

LOG_2PI = math.log(2.0 * math.pi)
Z_TOL = 5.0  # allowed |mean - exact| in Monte-Carlo standard errors
ATOL = 1e-10  # for gradients that are exactly zero (no spread)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """These tensors are tiny: one thread is faster, and immune to oversubscribed CPUs (with
    two threads on a loaded 2-core machine this file ran ~10x slower)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- model set-up -----------------------------------------------------------------------------


def _make_module(
    n_features: int,
    n_latent: int,
    n_components: int,
    *,
    values: dict[str, list],
    scale_trick: bool = False,
) -> MixtureVAE:
    """A linear ``MixtureVAE`` in float64 with every parameter set to the given values."""
    torch.manual_seed(0)
    module = MixtureVAE(
        n_features,
        make_likelihood("gaussian", n_features),
        n_latent=n_latent,
        n_components=n_components,
        hidden=(),
        n_critic_input=0,
        scale_trick=scale_trick,
    ).double()
    params = dict(module.named_parameters())
    assert set(params) == set(values), sorted(params)
    with torch.no_grad():
        for name, value in values.items():
            params[name].copy_(torch.tensor(value, dtype=torch.float64))
    return module


def _encode(module: MixtureVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and log-variance of a linear encoder, written out by hand."""
    enc = module.encoder
    mean = functional.linear(x, enc.mean.weight, enc.mean.bias)
    log_var = functional.linear(x, enc.log_var.weight, enc.log_var.bias)
    # The encoder clamps its log-variance to [-12, 8]; stay inside so the clamp is inactive.
    assert bool(((log_var > -11.0) & (log_var < 7.0)).all())
    torch.testing.assert_close(torch.stack(module.encoder(x)), torch.stack([mean, log_var]))
    return mean, log_var


def _likelihood_log_var(module: MixtureVAE) -> torch.Tensor:
    log_var = module.likelihood.log_var
    assert bool((log_var > math.log(1e-3) + 0.1).all())  # the floor is inactive
    return log_var


def _prior_log_var(module: MixtureVAE) -> torch.Tensor:
    """``log s^2 = floor + softplus(raw - floor)`` with the floor ``log 1e-4`` (METHOD.md §1)."""
    floor = math.log(1e-4)
    return floor + functional.softplus(module.prior.raw_log_var - floor)


def _log_normal(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))


def _log_w_at_nodes(
    module: MixtureVAE, x: torch.Tensor, nodes: torch.Tensor, kl_weight: float
) -> torch.Tensor:
    """``log w(eps) = log p(x | z_hat) + beta [log p(z) - log q(z | x)]`` for a 1-d latent.

    ``x``: ``(b, D)``, ``nodes``: ``(n,)``; returns ``(b, n)``. ``z = mu + sigma eps``; the
    decoder reads ``z_hat = z + (f - 1) mu`` (METHOD.md §4; ``f = 1`` without the scale trick).
    Everything except the encoder/decoder linear maps is written out here.
    """
    assert module.n_latent == 1
    mean, log_var = _encode(module, x)  # (b, 1)
    z = mean + torch.exp(0.5 * log_var) * nodes  # (b, n)
    if module.scale_raw is not None:
        f = 1.0 + functional.softplus(module.scale_raw)  # (1,)
        z_hat = z + (f - 1.0) * mean
    else:
        z_hat = z
    dec = module.decoder.layers[-1]
    assert len(module.decoder.layers) == 1
    raw = z_hat.unsqueeze(-1) * dec.weight[:, 0] + dec.bias  # (b, n, D)
    log_px = _log_normal(x.unsqueeze(1), raw, _likelihood_log_var(module)).sum(-1)
    # Mixture prior, one latent dimension.
    log_pi = torch.log_softmax(module.prior.logits, dim=-1)  # (K,)
    prior_mean = module.prior.means[:, 0]
    prior_log_var = _prior_log_var(module)[:, 0]
    log_prior = torch.logsumexp(
        log_pi + _log_normal(z.unsqueeze(-1), prior_mean, prior_log_var), dim=-1
    )
    log_q = _log_normal(z, mean, log_var)
    return log_px + kl_weight * (log_prior - log_q)


def _gaussian_nodes(step: float, half_width: float = 7.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Trapezoidal rule for ``E f(eps)``, ``eps ~ N(0, 1)``, on ``[-half_width, half_width]``.

    For integrands analytic in a strip around the real axis (as ``logsumexp`` of smooth
    functions is) the trapezoidal rule against a Gaussian converges exponentially in
    ``1 / step``; on these integrands it beats Gauss-Hermite of the same size by orders of
    magnitude (``logsumexp`` over samples has near-kinks where two ``log w`` cross).
    """
    nodes = np.arange(-half_width, half_width + step / 2, step)
    weights = step * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    return torch.tensor(nodes), torch.tensor(weights)


def _iwae_bound_quadrature(
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
    nodes, weights = _gaussian_nodes(step)
    log_w = _log_w_at_nodes(module, x, nodes, kl_weight)  # (b, n)
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


def _quadrature_objective(x: torch.Tensor, n_samples: int, kl_weight: float, step: float):
    return lambda m: _iwae_bound_quadrature(m, x, n_samples, kl_weight=kl_weight, step=step)


def _exact_gradient(module: MixtureVAE, objective) -> dict[str, torch.Tensor]:
    """Gradient of ``objective(module)`` (a scalar) wrt every named parameter."""
    names, params = zip(*module.named_parameters(), strict=True)
    grads = torch.autograd.grad(objective(module), params, allow_unused=True)
    return {
        name: torch.zeros_like(p) if g is None else g.detach()
        for name, p, g in zip(names, params, grads, strict=True)
    }


def _surrogate_gradients(
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


def _z_scores(
    batches: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``|mean - expected| / (SE + tiny)`` per parameter element."""
    scores = {}
    for name, g in batches.items():
        n = g.shape[0]
        se = g.std(0, unbiased=True) / math.sqrt(n)
        scores[name] = (g.mean(0) - expected[name]).abs() / (se + ATOL / Z_TOL)
    return scores


def _assert_matches(
    batches: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], label: str
) -> None:
    scores = _z_scores(batches, expected)
    report = "\n".join(
        f"  {name}: mean={batches[name].mean(0).flatten().tolist()} "
        f"exact={expected[name].flatten().tolist()} "
        f"se={(batches[name].std(0) / math.sqrt(batches[name].shape[0])).flatten().tolist()} "
        f"z={scores[name].flatten().tolist()}"
        for name in batches
    )
    worst = max(float(s.max()) for s in scores.values())
    assert worst < Z_TOL, f"{label}: surrogate gradient is off the exact one\n{report}"


def _standard_error(batches: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: g.std(0) / math.sqrt(g.shape[0]) for n, g in batches.items()}


def _assert_discriminates(
    batches: dict[str, torch.Tensor],
    right: dict[str, torch.Tensor],
    wrong: dict[str, torch.Tensor],
    groups: list[list[str]],
    factor: float = 2.0 * Z_TOL,
) -> None:
    """The test has power: within each group of parameters, some element of ``right - wrong``
    is ``factor`` standard errors or more, so ``wrong`` would have failed the comparison."""
    se = _standard_error(batches)
    for group in groups:
        gap = max(float(((right[n] - wrong[n]).abs() / (se[n] + 1e-300)).max()) for n in group)
        assert gap > factor, f"{group}: exact gradients differ by only {gap:.1f} SE"


# -- 1. S = 1, one component: closed-form ELBO -------------------------------------------------

ONE_COMPONENT = {
    "encoder.mean.weight": [[0.6, -0.3]],
    "encoder.mean.bias": [0.2],
    "encoder.log_var.weight": [[0.3, 0.2]],
    "encoder.log_var.bias": [-1.0],
    "decoder.layers.0.weight": [[1.2], [-0.7]],
    "decoder.layers.0.bias": [0.1, 0.3],
    "likelihood.log_var": [-0.5, 0.4],
    "prior.logits": [0.0],
    "prior.means": [[0.4]],
    "prior.raw_log_var": [[0.3]],
}
X_ONE = [[1.0, -0.5], [-0.8, 1.5], [0.3, 0.2]]


def _closed_form_negative_elbo(module: MixtureVAE, x: torch.Tensor) -> torch.Tensor:
    """``-sum_items {E_q log N(x; w z + b, diag v) + E_q log N(z; m, s^2) + H(q)}``, d = K = 1."""
    mean, log_var = _encode(module, x)  # (b, 1) each
    log_var = log_var[:, 0]  # (b,)
    var = torch.exp(log_var)
    dec = module.decoder.layers[-1]
    w, b = dec.weight[:, 0], dec.bias  # (D,)
    lik_log_var = _likelihood_log_var(module)
    # E_q (x - w z - b)^2 = (x - w mu - b)^2 + w^2 sigma^2
    square = (x - w * mean - b) ** 2 + w**2 * var.unsqueeze(-1)
    expected_log_px = (-0.5 * (LOG_2PI + lik_log_var + square * torch.exp(-lik_log_var))).sum(-1)
    m, s_log_var = module.prior.means[0, 0], _prior_log_var(module)[0, 0]
    expected_log_pz = -0.5 * (
        LOG_2PI + s_log_var + (var + (mean[:, 0] - m) ** 2) * torch.exp(-s_log_var)
    )
    entropy = 0.5 * (1.0 + LOG_2PI + log_var)
    per_item = expected_log_px + expected_log_pz + entropy
    assert per_item.shape == (x.shape[0],)
    return -per_item.sum()


def test_closed_form_elbo_matches_quadrature():
    """Self-check of the test's two exact bounds: with S = 1 they are the same number."""
    module = _make_module(2, 1, 1, values=ONE_COMPONENT)
    x = torch.tensor(X_ONE, dtype=torch.float64)
    closed = _closed_form_negative_elbo(module, x)
    quadrature = -_iwae_bound_quadrature(module, x, 1)
    torch.testing.assert_close(closed, quadrature, rtol=0, atol=1e-10)
    exact = _exact_gradient(module, lambda m: _closed_form_negative_elbo(m, x))
    by_quadrature = _exact_gradient(module, lambda m: -_iwae_bound_quadrature(m, x, 1))
    for name in exact:
        torch.testing.assert_close(exact[name], by_quadrature[name], rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("estimator", "prior_gradient"),
    [("elbo", "gdreg"), ("iwae", "gdreg"), ("dreg", "gdreg"), ("dreg", "iwae")],
)
def test_single_sample_estimators_match_closed_form_elbo(estimator, prior_gradient):
    module = _make_module(2, 1, 1, values=ONE_COMPONENT)
    x = torch.tensor(X_ONE, dtype=torch.float64)
    exact = _exact_gradient(module, lambda m: _closed_form_negative_elbo(m, x))
    batches = _surrogate_gradients(
        module,
        x,
        n_batches=40,
        n_replicas=400,
        seed=1,
        estimator=estimator,
        prior_gradient=prior_gradient,
        n_samples=1,
    )
    _assert_matches(batches, exact, f"{estimator}/{prior_gradient}, S=1")
    # One component: the logits cannot matter (softmax of one logit is 1).
    assert float(batches["prior.logits"].abs().max()) < 1e-12
    # Power: every other parameter's exact gradient is far from 0 in standard errors.
    zero = {name: torch.zeros_like(g) for name, g in exact.items()}
    _assert_discriminates(batches, exact, zero, [[n] for n in exact if n != "prior.logits"])


def test_single_sample_bound_value_is_the_elbo():
    """The reported bound averages to the closed-form ELBO (checks the test's closed form)."""
    module = _make_module(2, 1, 1, values=ONE_COMPONENT)
    x = torch.tensor(X_ONE, dtype=torch.float64)
    exact = -float(_closed_form_negative_elbo(module, x).detach())
    torch.manual_seed(3)
    n_replicas = 20000
    for estimator in ("elbo", "iwae", "dreg"):
        with torch.no_grad():
            out = module(
                x.repeat(n_replicas, 1), x.repeat(n_replicas, 1), estimator=estimator, n_samples=1
            )
        per_draw = out.bound.reshape(n_replicas, -1).sum(-1)
        se = float(per_draw.std()) / math.sqrt(n_replicas)
        assert abs(float(per_draw.mean()) - exact) < Z_TOL * se, (estimator, exact, se)


# -- 2. S > 1, two components: exact IWAE gradient by quadrature -------------------------------

TWO_COMPONENTS = {
    "encoder.mean.weight": [[0.5, -0.4]],
    "encoder.mean.bias": [0.1],
    "encoder.log_var.weight": [[0.2, -0.3]],
    "encoder.log_var.bias": [-0.3],
    "decoder.layers.0.weight": [[1.4], [-0.9]],
    "decoder.layers.0.bias": [0.2, -0.1],
    "likelihood.log_var": [-0.7, -0.2],
    "prior.logits": [0.4, -0.3],
    "prior.means": [[-1.0], [1.3]],
    "prior.raw_log_var": [[-0.6], [0.2]],
}
X_TWO = [[1.2, -0.4], [-0.9, 1.1]]


def test_quadrature_is_converged():
    """The quadrature (the test's reference) is exact far below the Monte-Carlo error."""
    x = torch.tensor(X_TWO, dtype=torch.float64)
    for scale_trick in (False, True):
        values = dict(TWO_COMPONENTS, **({"scale_raw": [0.0]} if scale_trick else {}))
        module = _make_module(2, 1, 2, values=values, scale_trick=scale_trick)
        for n_samples, kl_weight in ((1, 1.0), (3, 1.0), (3, 0.5)):
            coarse, fine = (
                _exact_gradient(module, _quadrature_objective(x, n_samples, kl_weight, step))
                for step in (0.12, 0.1)
            )
            for name in coarse:
                torch.testing.assert_close(coarse[name], fine[name], rtol=0, atol=1e-8)


IWAE_CASES = [
    ("iwae", "gdreg", 1.0),
    ("dreg", "gdreg", 1.0),
    ("dreg", "iwae", 1.0),
    ("dreg", "gdreg", 0.5),
    ("dreg", "iwae", 0.5),
    ("iwae", "gdreg", 0.5),
]


@pytest.mark.parametrize("scale_trick", [False, True], ids=["plain", "scale_trick"])
@pytest.mark.parametrize(("estimator", "prior_gradient", "kl_weight"), IWAE_CASES)
def test_importance_weighted_estimators_match_exact_iwae_gradient(
    estimator, prior_gradient, kl_weight, scale_trick
):
    n_samples = 3
    values = dict(TWO_COMPONENTS, **({"scale_raw": [0.0]} if scale_trick else {}))
    module = _make_module(2, 1, 2, values=values, scale_trick=scale_trick)
    x = torch.tensor(X_TWO, dtype=torch.float64)
    exact = _exact_gradient(
        module, lambda m: -_iwae_bound_quadrature(m, x, n_samples, kl_weight=kl_weight)
    )
    batches = _surrogate_gradients(
        module,
        x,
        n_batches=40,
        n_replicas=1000,
        seed=7,
        estimator=estimator,
        prior_gradient=prior_gradient,
        n_samples=n_samples,
        kl_weight=kl_weight,
    )
    _assert_matches(
        batches,
        exact,
        f"{estimator}/{prior_gradient}, S={n_samples}, kl_weight={kl_weight}, "
        f"scale_trick={scale_trick}",
    )
    # Power: the S = 3 bound's gradient is told apart from the single-sample (ELBO) gradient
    # for every parameter, and (under warm-up) from the beta = 1 bound's gradient for the
    # encoder (DReG's warm-up factor) and the mixture (generalized DReG's coefficient); the
    # decoder's gradient depends on beta only through the weights, too weakly to demand it.
    single = _exact_gradient(
        module, lambda m: -_iwae_bound_quadrature(m, x, 1, kl_weight=kl_weight)
    )
    _assert_discriminates(batches, exact, single, [[n] for n in exact])
    if kl_weight != 1.0:
        full = _exact_gradient(module, lambda m: -_iwae_bound_quadrature(m, x, n_samples))
        encoder = [n for n in exact if n.startswith("encoder.") or n == "scale_raw"]
        mixture = ["prior.means", "prior.raw_log_var"]
        _assert_discriminates(batches, exact, full, [encoder, mixture, ["prior.logits"]])


# -- 3. DReG lowers the encoder gradient's variance ---------------------------------------------


def _encoder_gradient_draws(
    module: MixtureVAE, x: torch.Tensor, n_draws: int, seed: int, **forward_kwargs
) -> torch.Tensor:
    """Per-draw gradients of one item's surrogate wrt every encoder parameter, ``(n, P)``.

    The encoder is linear, so a draw's parameter gradient is the gradient at its outputs
    ``(mu, log sigma^2)`` times the input: read the per-item output gradients from one backward.
    """
    torch.manual_seed(seed)
    x_rep = x.expand(n_draws, -1)
    out = module(x_rep, x_rep, **forward_kwargs)
    out.mean.retain_grad()
    out.log_var.retain_grad()
    module.zero_grad(set_to_none=True)
    out.loss.sum().backward()
    g_mean, g_log_var = out.mean.grad, out.log_var.grad  # (n, d)
    # Check the reconstruction against the parameters' accumulated gradients.
    enc = module.encoder
    torch.testing.assert_close(enc.mean.bias.grad, g_mean.sum(0))
    torch.testing.assert_close(enc.log_var.weight.grad, g_log_var.T @ x_rep)
    inputs = x_rep.unsqueeze(1)  # (n, 1, n_input)
    per_draw = [
        (g_mean.unsqueeze(-1) * inputs).flatten(1),
        g_mean,
        (g_log_var.unsqueeze(-1) * inputs).flatten(1),
        g_log_var,
    ]
    module.zero_grad(set_to_none=True)
    return torch.cat(per_draw, dim=1).detach()


def test_dreg_reduces_encoder_gradient_variance():
    """Near the encoder's optimum (where DReG is meant to help) its encoder gradient varies
    far less than IWAE's. (Far from it DReG need not win: with ``q`` much narrower than the
    posterior the pathwise ``eps / sigma`` term of ``-log q`` can make it noisier.)"""
    torch.manual_seed(11)
    n_input, d, k, n_samples = 4, 3, 3, 8
    module = MixtureVAE(
        n_input,
        make_likelihood("gaussian", n_input),
        n_latent=d,
        n_components=k,
        hidden=(),
        n_critic_input=0,
        scale_trick=False,
    ).double()
    x = torch.tensor([[0.8, -0.3, 1.1, 0.4]], dtype=torch.float64)
    # Fit the encoder alone to this item (decoder and prior fixed).
    optimizer = torch.optim.Adam(module.encoder.parameters(), lr=0.05)
    x_batch = x.expand(128, -1)
    for _ in range(150):
        optimizer.zero_grad()
        module(x_batch, x_batch, estimator="dreg", n_samples=n_samples).loss.mean().backward()
        optimizer.step()
    module.zero_grad(set_to_none=True)
    n_draws = 20000
    draws = {
        estimator: _encoder_gradient_draws(
            module,
            x,
            n_draws,
            seed=5,
            estimator=estimator,
            prior_gradient="gdreg",
            n_samples=n_samples,
        )
        for estimator in ("iwae", "dreg")
    }
    # Both estimate the same gradient (same seed, so the same noise: compare paired draws) ...
    paired = draws["dreg"] - draws["iwae"]
    z_scores = paired.mean(0).abs() / (paired.std(0) / math.sqrt(n_draws))
    assert float(z_scores.max()) < Z_TOL, z_scores
    # ... with a clearly smaller variance under DReG, in total and for every parameter tensor.
    variance = {e: g.var(0) for e, g in draws.items()}
    ratio = float(variance["dreg"].sum() / variance["iwae"].sum())
    assert ratio < 0.5, ratio
    n_mean_weight = d * n_input
    blocks = [
        slice(0, n_mean_weight),
        slice(n_mean_weight, n_mean_weight + d),
        slice(n_mean_weight + d, 2 * n_mean_weight + d),
        slice(2 * n_mean_weight + d, None),
    ]
    for block in blocks:
        block_ratio = float(variance["dreg"][block].sum() / variance["iwae"][block].sum())
        assert block_ratio < 0.5, (block, block_ratio)
