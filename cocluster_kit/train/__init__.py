"""The training loop: batches, pre-training, mixture initialisation, early stopping."""

from ._batches import PRECISIONS, BatchSampler, autocast
from ._loop import TrainingError, TrainingPlan, fit_module, resolve_epochs
from ._mixture_init import MIXTURE_INITS, encode_view, fit_mixture, initialize_mixtures

__all__ = [
    "MIXTURE_INITS",
    "PRECISIONS",
    "BatchSampler",
    "TrainingError",
    "TrainingPlan",
    "autocast",
    "encode_view",
    "fit_mixture",
    "fit_module",
    "initialize_mixtures",
    "resolve_epochs",
]
