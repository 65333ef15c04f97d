"""Observation models ``p(x | z)`` that honour a mask of observed entries (METHOD.md §1).

Every likelihood maps the decoder's raw output ``(..., n_features)`` and a target of the same
trailing shape to a log-probability summed over the *observed* features. Count models use the
item's library size as an offset, as scVI does: with ``link="softmax"`` the decoder gives a
composition over the features and the rate is ``composition * library``; with ``link="log"``
(a single output, used on the cell level) the rate is ``exp(raw) * offset``.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import nn
from torch.nn import functional

from ._mixture import normal_log_density

LIKELIHOODS = ("gaussian", "bernoulli", "poisson", "negative_binomial", "multinomial")
COUNT_LIKELIHOODS = ("poisson", "negative_binomial", "multinomial")


def _masked(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Sum over the last axis of the entries where ``mask`` is true."""
    if mask is None:
        return values.sum(-1)
    return torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device)).sum(
        -1
    )


def _sum_over_nonzero(target: torch.Tensor, mask: torch.Tensor | None, term) -> torch.Tensor:
    """``sum_j term(x_j, j)`` over the observed nonzero entries of each item.

    For terms that vanish at ``x = 0`` (``lgamma(x + 1)``, ``lgamma(x + theta) -
    lgamma(theta)``): evaluated on the nonzero entries only, which on sparse data is a small
    share of the minibatch. ``term`` receives the nonzero values and their feature indices.
    """
    keep = target != 0 if mask is None else (target != 0) & mask
    position = keep.nonzero(as_tuple=True)
    values = term(target[position], position[-1])
    flat_item = position[0]
    for axis in range(1, target.dim() - 1):
        flat_item = flat_item * target.shape[axis] + position[axis]
    n_items = target[..., 0].numel()
    total = torch.zeros(n_items, dtype=values.dtype, device=target.device)
    return total.index_add(0, flat_item, values).reshape(target.shape[:-1])


def _log_factorial(target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``sum_j log(x_j!)`` over the observed entries of each item (zeros add nothing)."""
    return _sum_over_nonzero(target, mask, lambda value, _: torch.lgamma(value + 1.0))


class Likelihood(nn.Module, abc.ABC):
    """Base class: a family of distributions over ``n_features`` values per item.

    Parameters
    ----------
    n_features
        Number of features each item has (the decoder's output width).
    link
        ``"softmax"`` (composition times library size) or ``"log"`` (``exp(raw) * offset``)
        for count families; ignored by the others.
    """

    name = "base"

    def __init__(self, n_features: int, *, link: str = "softmax") -> None:
        super().__init__()
        self.n_features = n_features
        self.link = link

    def log_prob(
        self,
        raw: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor | None = None,
        offset: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Log-probability of the observed entries of ``target``, summed per item."""
        return _masked(self.entry_log_prob(raw, target, mask, offset), mask)

    @abc.abstractmethod
    def entry_log_prob(
        self,
        raw: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor | None = None,
        offset: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Log-probability of every entry of ``target`` (masked entries are not meaningful).

        The entries are independent given the decoder output for every family but the
        multinomial, whose per-entry values are its Poisson equivalent (rate = composition
        times the item's total), the form the cell level uses too.
        """

    @abc.abstractmethod
    def mean(self, raw: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """Expected value of every feature."""

    # Count families ---------------------------------------------------------------------
    def _log_rate(
        self, raw: torch.Tensor, mask: torch.Tensor | None, offset: torch.Tensor | None
    ) -> torch.Tensor:
        if self.link == "softmax":
            if mask is not None:
                raw = raw.masked_fill(~mask, float("-inf"))
            log_composition = torch.log_softmax(raw, dim=-1)
            return log_composition + torch.log(offset.clamp_min(1e-8)).unsqueeze(-1)
        log_offset = 0.0 if offset is None else torch.log(offset.clamp_min(1e-8)).unsqueeze(-1)
        return raw + log_offset


class Gaussian(Likelihood):
    """Gaussian with the decoder output as mean and a learnable per-feature variance."""

    name = "gaussian"

    def __init__(self, n_features: int, *, link: str = "softmax", min_variance: float = 1e-3):
        super().__init__(n_features, link=link)
        self.log_var = nn.Parameter(torch.zeros(n_features))
        self.log_min_variance = math.log(min_variance)

    def variance_log(self) -> torch.Tensor:
        """Per-feature log-variance, floored."""
        return self.log_var.clamp_min(self.log_min_variance)

    def entry_log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        return normal_log_density(target, raw, self.variance_log())

    def mean(self, raw, offset=None):  # noqa: D102
        return raw


class Bernoulli(Likelihood):
    """Bernoulli with the decoder output as logits (binary data)."""

    name = "bernoulli"

    def entry_log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        target = target.expand_as(raw)
        return -functional.binary_cross_entropy_with_logits(raw, target, reduction="none")

    def mean(self, raw, offset=None):  # noqa: D102
        return torch.sigmoid(raw)


class Poisson(Likelihood):
    """Poisson with a library-size offset."""

    name = "poisson"

    def log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        offset = _library(target, mask) if offset is None and self.link == "softmax" else offset
        log_rate = self._log_rate(raw, mask, offset)
        safe_log_rate = torch.nan_to_num(log_rate, neginf=0.0)
        values = target * safe_log_rate - torch.exp(log_rate)
        return _masked(values, mask) - _log_factorial(target, mask)

    def entry_log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        offset = _library(target, mask) if offset is None and self.link == "softmax" else offset
        return _poisson_log_pmf(target, self._log_rate(raw, mask, offset))

    def mean(self, raw, offset=None):  # noqa: D102
        return torch.exp(self._log_rate(raw, None, offset))


class NegativeBinomial(Likelihood):
    """Negative binomial (mean, per-feature inverse dispersion) with a library-size offset."""

    name = "negative_binomial"

    def __init__(self, n_features: int, *, link: str = "softmax"):
        super().__init__(n_features, link=link)
        self.log_inverse_dispersion = nn.Parameter(torch.full((n_features,), 2.0))

    def _nb_terms(self, raw, target, mask, offset):
        """``log mu``, ``log theta``, ``theta`` and ``log(theta + mu)``."""
        offset = _library(target, mask) if offset is None and self.link == "softmax" else offset
        log_mu = torch.nan_to_num(self._log_rate(raw, mask, offset), neginf=-30.0)
        log_theta = self.log_inverse_dispersion.clamp(-10.0, 12.0)
        return log_mu, log_theta, torch.exp(log_theta), torch.logaddexp(log_theta, log_mu)

    def log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        log_mu, log_theta, theta, log_theta_mu = self._nb_terms(raw, target, mask, offset)
        values = theta * (log_theta - log_theta_mu) + target * (log_mu - log_theta_mu)
        # lgamma(x + theta) - lgamma(theta) - lgamma(x + 1) vanishes at x = 0.
        gamma_terms = _sum_over_nonzero(
            target,
            mask,
            lambda value, feature: (
                torch.lgamma(value + theta[feature])
                - torch.lgamma(theta[feature])
                - torch.lgamma(value + 1.0)
            ),
        )
        return _masked(values, mask) + gamma_terms

    def entry_log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        log_mu, log_theta, theta, log_theta_mu = self._nb_terms(raw, target, mask, offset)
        return (
            torch.lgamma(target + theta)
            - torch.lgamma(theta)
            - torch.lgamma(target + 1.0)
            + theta * (log_theta - log_theta_mu)
            + target * (log_mu - log_theta_mu)
        )

    def mean(self, raw, offset=None):  # noqa: D102
        return torch.exp(self._log_rate(raw, None, offset))


class Multinomial(Likelihood):
    """Multinomial over the observed features: composition times the item's total count."""

    name = "multinomial"

    def log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        if mask is not None:
            raw = raw.masked_fill(~mask, float("-inf"))
        log_composition = torch.nan_to_num(torch.log_softmax(raw, dim=-1), neginf=0.0)
        total = _library(target, mask)
        coefficient = torch.lgamma(total + 1.0) - _log_factorial(target, mask)
        return coefficient + _masked(target * log_composition, mask)

    def entry_log_prob(self, raw, target, mask=None, offset=None):  # noqa: D102
        if mask is not None:
            raw = raw.masked_fill(~mask, float("-inf"))
        log_rate = torch.log_softmax(raw, dim=-1) + torch.log(
            _library(target, mask).clamp_min(1e-8)
        ).unsqueeze(-1)
        return _poisson_log_pmf(target, log_rate)

    def mean(self, raw, offset=None):  # noqa: D102
        return torch.softmax(raw, dim=-1) * offset.unsqueeze(-1)


def _poisson_log_pmf(target: torch.Tensor, log_rate: torch.Tensor) -> torch.Tensor:
    """Poisson log-probability of ``target`` at rate ``exp(log_rate)`` (rate 0 allowed)."""
    safe_log_rate = torch.nan_to_num(log_rate, neginf=0.0)
    return target * safe_log_rate - torch.exp(log_rate) - torch.lgamma(target + 1.0)


def _library(target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Sum of the observed counts of each item."""
    return _masked(target, mask)


_FAMILIES = {cls.name: cls for cls in (Gaussian, Bernoulli, Poisson, NegativeBinomial, Multinomial)}


def make_likelihood(name: str, n_features: int, *, cell_level: bool = False) -> Likelihood:
    """Build the likelihood called ``name`` for items with ``n_features`` values.

    On the cell level (one value per item) count families use the log link with the
    independence offset, and ``multinomial`` becomes its Poisson equivalent.
    """
    if name not in _FAMILIES:
        raise ValueError(f"likelihood={name!r} is not one of {', '.join(LIKELIHOODS)}.")
    if cell_level:
        family = "poisson" if name == "multinomial" else name
        return _FAMILIES[family](n_features, link="log")
    return _FAMILIES[name](n_features, link="softmax")
