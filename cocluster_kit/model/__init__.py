"""The user-facing estimator ``CoclusterVAE`` and its save / load."""

from ._estimator import CoclusterVAE
from ._fitted import NotFittedError
from ._io import FORMAT_VERSION, MissingModelError, ModelFileError
from ._restarts import EmptyClusterWarning
from ._validation import (
    looks_log_normalised,
    prepare_matrix,
    resolve_input_transform,
    resolve_likelihood,
)

__all__ = [
    "FORMAT_VERSION",
    "CoclusterVAE",
    "EmptyClusterWarning",
    "MissingModelError",
    "ModelFileError",
    "NotFittedError",
    "looks_log_normalised",
    "prepare_matrix",
    "resolve_input_transform",
    "resolve_likelihood",
]
