"""Reusable layers: MLPs, the mixture prior, likelihoods and the contrastive critic."""

from ._critic import ContrastiveCritic
from ._likelihoods import COUNT_LIKELIHOODS, LIKELIHOODS, Likelihood, make_likelihood
from ._mixture import MixturePrior, diagonal_normal_log_prob
from ._mlp import MLP, GaussianEncoder

__all__ = [
    "COUNT_LIKELIHOODS",
    "LIKELIHOODS",
    "MLP",
    "ContrastiveCritic",
    "GaussianEncoder",
    "Likelihood",
    "MixturePrior",
    "diagonal_normal_log_prob",
    "make_likelihood",
]
