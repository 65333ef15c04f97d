"""Likelihoods against scipy.stats, computed item by item on the observed sub-vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import special, stats

from cocluster_kit.nn import LIKELIHOODS, make_likelihood

S, B, N = 3, 4, 6


def _softmax(values: np.ndarray) -> np.ndarray:
    return special.softmax(values, axis=-1)


def _build(name: str, n_features: int, *, cell_level: bool = False, seed: int = 0):
    """A float64 likelihood with randomised learnable parameters (so defaults can't hide bugs)."""
    likelihood = make_likelihood(name, n_features, cell_level=cell_level).double()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        if hasattr(likelihood, "log_var"):
            likelihood.log_var.copy_(torch.as_tensor(rng.uniform(-1.5, 1.0, n_features)))
        if hasattr(likelihood, "log_inverse_dispersion"):
            values = rng.uniform(-1.0, 3.0, n_features)
            likelihood.log_inverse_dispersion.copy_(torch.as_tensor(values))
    return likelihood


def _target(name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    if name == "gaussian":
        return rng.normal(size=shape)
    if name == "bernoulli":
        return rng.integers(0, 2, size=shape).astype(float)
    return rng.poisson(3.0, size=shape).astype(float)


def _reference_row(likelihood, name: str, raw: np.ndarray, target: np.ndarray, observed):
    """scipy log-probability of one item (raw, target: (n,)) over its observed features."""
    observed = np.ones(len(target), dtype=bool) if observed is None else observed
    raw, target = raw[observed], target[observed]
    if name == "gaussian":
        variance = np.exp(likelihood.variance_log().detach().numpy())[observed]
        return stats.norm(loc=raw, scale=np.sqrt(variance)).logpdf(target).sum()
    if name == "bernoulli":
        return stats.bernoulli(special.expit(raw)).logpmf(target).sum()
    library = target.sum()
    if name == "multinomial":
        return stats.multinomial(n=int(library), p=_softmax(raw)).logpmf(target)
    mu = _softmax(raw) * library
    if name == "poisson":
        return stats.poisson(mu).logpmf(target).sum()
    theta = np.exp(likelihood.log_inverse_dispersion.detach().numpy())[observed]
    return stats.nbinom(n=theta, p=theta / (theta + mu)).logpmf(target).sum()


def _reference(likelihood, name, raw, target, observed=None):
    out = np.empty(raw.shape[:2])
    for s in range(raw.shape[0]):
        for i in range(raw.shape[1]):
            mask_i = None if observed is None else observed[i]
            out[s, i] = _reference_row(likelihood, name, raw[s, i], target[i], mask_i)
    return out


def _random_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    mask = rng.random(shape) < 0.6
    mask[:, 0] = True  # every item keeps at least one observed feature
    mask[0, :] = True  # and one item is fully observed
    return mask


@pytest.mark.parametrize("name", LIKELIHOODS)
def test_log_prob_matches_scipy_without_mask(name):
    rng = np.random.default_rng(1)
    likelihood = _build(name, N)
    raw = rng.normal(size=(S, B, N))
    target = _target(name, rng, (B, N))
    got = likelihood.log_prob(torch.as_tensor(raw), torch.as_tensor(target))
    assert got.shape == (S, B)
    np.testing.assert_allclose(
        got.detach().numpy(), _reference(likelihood, name, raw, target), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("name", LIKELIHOODS)
def test_log_prob_matches_scipy_on_observed_subvector(name):
    rng = np.random.default_rng(2)
    likelihood = _build(name, N, seed=3)
    raw = rng.normal(size=(S, B, N))
    target = _target(name, rng, (B, N))
    observed = _random_mask(rng, (B, N))
    assert not observed.all()
    got = likelihood.log_prob(
        torch.as_tensor(raw), torch.as_tensor(target), mask=torch.as_tensor(observed)
    )
    expected = _reference(likelihood, name, raw, target, observed)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", LIKELIHOODS)
def test_masked_entries_change_nothing(name):
    rng = np.random.default_rng(4)
    likelihood = _build(name, N, seed=5)
    raw = torch.as_tensor(rng.normal(size=(S, B, N)))
    target = _target(name, rng, (B, N))
    observed = _random_mask(rng, (B, N))
    perturbed = target.copy()
    perturbed[~observed] = _target(name, np.random.default_rng(6), (B, N))[~observed] + 1.0
    if name == "bernoulli":
        perturbed[~observed] = 1.0 - target[~observed]
    assert not np.array_equal(perturbed, target)
    mask = torch.as_tensor(observed)
    base = likelihood.log_prob(raw, torch.as_tensor(target), mask=mask)
    moved = likelihood.log_prob(raw, torch.as_tensor(perturbed), mask=mask)
    np.testing.assert_allclose(moved.detach().numpy(), base.detach().numpy(), rtol=0, atol=1e-12)
    # Changing the decoder output at unobserved features changes nothing either.
    raw_moved = raw.clone()
    raw_moved[:, ~mask] += 5.0
    moved_raw = likelihood.log_prob(raw_moved, torch.as_tensor(target), mask=mask)
    np.testing.assert_allclose(moved_raw.detach().numpy(), base.detach().numpy(), atol=1e-12)
    assert torch.isfinite(base).all()


def test_explicit_library_offset_equals_default_for_softmax_counts():
    rng = np.random.default_rng(7)
    raw = torch.as_tensor(rng.normal(size=(S, B, N)))
    target = rng.poisson(2.0, size=(B, N)).astype(float)
    observed = _random_mask(rng, (B, N))
    library = torch.as_tensor((target * observed).sum(1))
    for name in ("poisson", "negative_binomial"):
        likelihood = _build(name, N, seed=8)
        kwargs = {"mask": torch.as_tensor(observed)}
        default = likelihood.log_prob(raw, torch.as_tensor(target), **kwargs)
        explicit = likelihood.log_prob(raw, torch.as_tensor(target), offset=library, **kwargs)
        np.testing.assert_allclose(default.detach().numpy(), explicit.detach().numpy(), atol=1e-12)


def test_gaussian_variance_floor():
    likelihood = make_likelihood("gaussian", 2).double()
    with torch.no_grad():
        likelihood.log_var.fill_(-30.0)
    raw = torch.zeros(1, 1, 2, dtype=torch.float64)
    target = torch.tensor([[0.1, -0.2]], dtype=torch.float64)
    expected = stats.norm(0.0, np.sqrt(1e-3)).logpdf([0.1, -0.2]).sum()
    assert likelihood.log_prob(raw, target).item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", LIKELIHOODS)
def test_cell_level_matches_scipy(name):
    rng = np.random.default_rng(9)
    likelihood = _build(name, 1, cell_level=True, seed=10)
    assert likelihood.link == "log"
    raw = rng.normal(size=(S, B, 1))
    target = _target(name, rng, (B, 1))
    offset = rng.uniform(0.5, 4.0, size=B)
    got = likelihood.log_prob(
        torch.as_tensor(raw), torch.as_tensor(target), offset=torch.as_tensor(offset)
    )
    assert got.shape == (S, B)
    x = np.broadcast_to(target[None, :, 0], (S, B))
    r = raw[..., 0]
    if name == "gaussian":
        variance = float(np.exp(likelihood.variance_log().item()))
        expected = stats.norm(r, np.sqrt(variance)).logpdf(x)
    elif name == "bernoulli":
        expected = stats.bernoulli(special.expit(r)).logpmf(x)
    elif name in ("poisson", "multinomial"):  # multinomial of one value is its Poisson form
        expected = stats.poisson(np.exp(r) * offset).logpmf(x)
    else:
        theta = float(np.exp(likelihood.log_inverse_dispersion.item()))
        mu = np.exp(r) * offset
        expected = stats.nbinom(n=theta, p=theta / (theta + mu)).logpmf(x)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-9, atol=1e-9)


def test_cell_level_multinomial_is_poisson():
    assert make_likelihood("multinomial", 1, cell_level=True).name == "poisson"


def test_means():
    rng = np.random.default_rng(11)
    raw_np = rng.normal(size=(S, B, N))
    raw = torch.as_tensor(raw_np)
    offset_np = rng.uniform(1.0, 10.0, size=B)
    offset = torch.as_tensor(offset_np)
    np.testing.assert_allclose(make_likelihood("gaussian", N).mean(raw).numpy(), raw_np)
    np.testing.assert_allclose(
        make_likelihood("bernoulli", N).mean(raw).numpy(), special.expit(raw_np), rtol=1e-12
    )
    composition = _softmax(raw_np) * offset_np[:, None]
    for name in ("poisson", "negative_binomial", "multinomial"):
        mean = make_likelihood(name, N).mean(raw, offset).detach().numpy()
        np.testing.assert_allclose(mean, composition, rtol=1e-6)
        # the mean of a softmax-link count model sums to the library size
        np.testing.assert_allclose(mean.sum(-1), np.broadcast_to(offset_np, (S, B)), rtol=1e-6)
    cell_raw = torch.as_tensor(raw_np[..., :1])
    for name in ("poisson", "negative_binomial"):
        mean = make_likelihood(name, 1, cell_level=True).mean(cell_raw, offset)
        np.testing.assert_allclose(
            mean.detach().numpy(), np.exp(raw_np[..., :1]) * offset_np[:, None], rtol=1e-6
        )


def test_poisson_mean_is_the_expectation():
    # E[x] under the pmf (summed over a wide support) equals mean()
    likelihood = make_likelihood("poisson", 1, cell_level=True).double()
    raw = torch.tensor([[[0.3]]], dtype=torch.float64)
    offset = torch.tensor([2.5], dtype=torch.float64)
    support = torch.arange(0, 80, dtype=torch.float64).reshape(1, -1, 1)
    log_p = likelihood.log_prob(raw.expand(1, 80, 1), support[0], offset=offset.expand(80))
    expectation = (log_p.exp() * support[0, :, 0]).sum()
    assert expectation.item() == pytest.approx(likelihood.mean(raw, offset).item(), rel=1e-9)


def test_unknown_likelihood_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        make_likelihood("gamma", 3)
    message = str(info.value)
    assert "gamma" in message
    for name in LIKELIHOODS:
        assert name in message
    with pytest.raises(ValueError):
        make_likelihood("gamma", 1, cell_level=True)
