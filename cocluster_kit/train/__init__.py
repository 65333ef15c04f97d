"""The training loop: batches, pre-training, mixture initialisation, early stopping."""

from ._batches import PRECISIONS, BatchSampler, autocast
from ._checkpoint import CHECKPOINT_FILE, Checkpointer, LoopState, fingerprint
from ._loop import (
    MONITORED_TERMS,
    TrainingError,
    TrainingPlan,
    fit_module,
    kept_epoch,
    monitored_term,
    resolve_epochs,
)
from ._mixture_init import MIXTURE_INITS, encode_view, fit_mixture, initialize_mixtures

__all__ = [
    "CHECKPOINT_FILE",
    "MIXTURE_INITS",
    "MONITORED_TERMS",
    "PRECISIONS",
    "BatchSampler",
    "Checkpointer",
    "LoopState",
    "TrainingError",
    "TrainingPlan",
    "autocast",
    "encode_view",
    "fingerprint",
    "fit_mixture",
    "fit_module",
    "initialize_mixtures",
    "kept_epoch",
    "monitored_term",
    "resolve_epochs",
]
