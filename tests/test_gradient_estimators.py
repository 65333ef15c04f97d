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

import pytest
import torch
from _exact_gradients import (
    LOG_2PI,
    Z_TOL,
    assert_discriminates,
    assert_matches,
    encode,
    exact_gradient,
    iwae_bound_quadrature,
    likelihood_log_variances,
    linear_module,
    make_module,
    prior_log_variances,
    quadrature_objective,
    surrogate_gradients,
)

from cocluster_kit.module import MixtureVAE


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """These tensors are tiny: one thread is faster, and immune to oversubscribed CPUs (with
    two threads on a loaded 2-core machine this file ran ~10x slower)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


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
    mean, log_var = encode(module, x)  # (b, 1) each
    log_var = log_var[:, 0]  # (b,)
    var = torch.exp(log_var)
    dec = module.decoder.layers[-1]
    w, b = dec.weight[:, 0], dec.bias  # (D,)
    lik_log_var = likelihood_log_variances(module)
    # E_q (x - w z - b)^2 = (x - w mu - b)^2 + w^2 sigma^2
    square = (x - w * mean - b) ** 2 + w**2 * var.unsqueeze(-1)
    expected_log_px = (-0.5 * (LOG_2PI + lik_log_var + square * torch.exp(-lik_log_var))).sum(-1)
    m, s_log_var = module.prior.means[0, 0], prior_log_variances(module)[0, 0]
    expected_log_pz = -0.5 * (
        LOG_2PI + s_log_var + (var + (mean[:, 0] - m) ** 2) * torch.exp(-s_log_var)
    )
    entropy = 0.5 * (1.0 + LOG_2PI + log_var)
    per_item = expected_log_px + expected_log_pz + entropy
    assert per_item.shape == (x.shape[0],)
    return -per_item.sum()


def test_closed_form_elbo_matches_quadrature():
    """Self-check of the test's two exact bounds: with S = 1 they are the same number."""
    module = make_module(2, 1, 1, values=ONE_COMPONENT)
    x = torch.tensor(X_ONE, dtype=torch.float64)
    closed = _closed_form_negative_elbo(module, x)
    quadrature = -iwae_bound_quadrature(module, x, 1)
    torch.testing.assert_close(closed, quadrature, rtol=0, atol=1e-10)
    exact = exact_gradient(module, lambda m: _closed_form_negative_elbo(m, x))
    by_quadrature = exact_gradient(module, lambda m: -iwae_bound_quadrature(m, x, 1))
    for name in exact:
        torch.testing.assert_close(exact[name], by_quadrature[name], rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("estimator", "prior_gradient"),
    [("elbo", "gdreg"), ("iwae", "gdreg"), ("dreg", "gdreg"), ("dreg", "iwae")],
)
def test_single_sample_estimators_match_closed_form_elbo(estimator, prior_gradient):
    module = make_module(2, 1, 1, values=ONE_COMPONENT)
    x = torch.tensor(X_ONE, dtype=torch.float64)
    exact = exact_gradient(module, lambda m: _closed_form_negative_elbo(m, x))
    batches = surrogate_gradients(
        module,
        x,
        n_batches=40,
        n_replicas=400,
        seed=1,
        estimator=estimator,
        prior_gradient=prior_gradient,
        n_samples=1,
    )
    assert_matches(batches, exact, f"{estimator}/{prior_gradient}, S=1")
    # One component: the logits cannot matter (softmax of one logit is 1).
    assert float(batches["prior.logits"].abs().max()) < 1e-12
    # Power: every other parameter's exact gradient is far from 0 in standard errors.
    zero = {name: torch.zeros_like(g) for name, g in exact.items()}
    assert_discriminates(batches, exact, zero, [[n] for n in exact if n != "prior.logits"])


def test_single_sample_bound_value_is_the_elbo():
    """The reported bound averages to the closed-form ELBO (checks the test's closed form)."""
    module = make_module(2, 1, 1, values=ONE_COMPONENT)
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
        module = make_module(2, 1, 2, values=values, scale_trick=scale_trick)
        for n_samples, kl_weight in ((1, 1.0), (3, 1.0), (3, 0.5)):
            coarse, fine = (
                exact_gradient(module, quadrature_objective(x, n_samples, kl_weight, step))
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
    module = make_module(2, 1, 2, values=values, scale_trick=scale_trick)
    x = torch.tensor(X_TWO, dtype=torch.float64)
    exact = exact_gradient(
        module, lambda m: -iwae_bound_quadrature(m, x, n_samples, kl_weight=kl_weight)
    )
    batches = surrogate_gradients(
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
    assert_matches(
        batches,
        exact,
        f"{estimator}/{prior_gradient}, S={n_samples}, kl_weight={kl_weight}, "
        f"scale_trick={scale_trick}",
    )
    # Power: the S = 3 bound's gradient is told apart from the single-sample (ELBO) gradient
    # for every parameter, and (under warm-up) from the beta = 1 bound's gradient for the
    # encoder (DReG's warm-up factor) and the mixture (generalized DReG's coefficient); the
    # decoder's gradient depends on beta only through the weights, too weakly to demand it.
    single = exact_gradient(module, lambda m: -iwae_bound_quadrature(m, x, 1, kl_weight=kl_weight))
    assert_discriminates(batches, exact, single, [[n] for n in exact])
    if kl_weight != 1.0:
        full = exact_gradient(module, lambda m: -iwae_bound_quadrature(m, x, n_samples))
        encoder = [n for n in exact if n.startswith("encoder.") or n == "scale_raw"]
        mixture = ["prior.means", "prior.raw_log_var"]
        assert_discriminates(batches, exact, full, [encoder, mixture, ["prior.logits"]])


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
    module = linear_module(n_input, d, k)
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
