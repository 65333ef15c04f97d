"""What ``tl.cocluster`` and ``tl.choose_k`` share: the matrix, likelihood and model options."""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._anndata import adapter_source, get_matrix, matrix_label, resolve_layer
from .._settings import settings
from .._utils import resolve_seed

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("cocluster_kit")

# Arguments of CoclusterVAE that do not change the result (left out of ``params``), and the
# ones tl sets itself.
NOT_RESULT_CHANGING = ("callbacks", "progress")
SET_BY_TL = ("n_row_clusters", "n_col_clusters", "random_state")


@dataclass
class FitInput:
    """The matrix a ``tl`` function fits on and how it was chosen.

    ``matrix`` holds the observed values (CSR, checked), ``mask`` the missing entries (a CSR
    boolean pattern: the NaN entries of the chosen matrix) or None.
    """

    matrix: Any
    layer: str | None
    likelihood: str
    likelihood_source: str
    model_kwargs: dict = field(default_factory=dict)
    mask: Any = None


def resolve_random_state(random_state: int | None) -> int:
    """``random_state``, else ``settings.seed``, else a fresh seed (recorded by the caller)."""
    if random_state is None:
        random_state = settings.seed
    return resolve_seed(random_state)


def check_cluster_count(adata: AnnData, name: str, value: Any, axis: str) -> None:
    """A cluster count must be a positive integer no larger than the rows or columns."""
    limit = adata.n_obs if axis == "obs" else adata.n_vars
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer of at least 1.")
    if value > limit:
        raise ValueError(
            f"{name}={value} is more than adata.n_{axis}={limit}; ask for at most {limit} clusters."
        )


def prepare_fit(adata: AnnData, layer: str | None, model_kwargs: dict) -> FitInput:
    """Choose the matrix and likelihood, and fill ``device`` / ``progress`` from the settings.

    Matrix: ``layer`` if given, else the layer an adapter recorded in
    ``uns["ckit_source"]["layer"]`` when it exists, else ``X``. Likelihood: the
    ``likelihood`` model argument if given, else the adapter's hint when it describes the
    chosen matrix (the layer the adapter recorded, ``""`` or absent meaning ``X``) and is not
    ``"auto"``, else ``"gaussian"`` for non-integer values (normalised or log expression, as
    the anndata adapter reads them), else the model's ``"auto"`` rule.
    """
    from ..model import CoclusterVAE
    from ..model._validation import check_trainable, prepare_matrix, resolve_likelihood
    from ..nn import LIKELIHOODS

    allowed = set(CoclusterVAE().get_params()) - set(SET_BY_TL)
    unknown = sorted(set(model_kwargs) - allowed)
    if unknown:
        suggestions = {
            name: difflib.get_close_matches(name, sorted(allowed), n=1) for name in unknown
        }
        hints = "; ".join(
            f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
            for name, close in suggestions.items()
        )
        raise ValueError(
            f"unknown model option(s) {hints}; the options are the arguments of "
            "cocluster_kit.CoclusterVAE."
        )
    kwargs = dict(model_kwargs)
    kwargs.setdefault("device", settings.device)
    kwargs.setdefault("progress", settings.progress)
    chosen_layer = resolve_layer(adata, layer)
    source = adapter_source(adata)
    if "likelihood" in kwargs:
        likelihood, likelihood_source = kwargs.pop("likelihood"), "argument"
    else:
        hint = source.get("likelihood")
        hint_layer = source.get("layer") or None  # adapters write "" for X
        if isinstance(hint, str) and hint != "auto" and hint_layer == chosen_layer:
            if hint not in LIKELIHOODS:
                raise ValueError(
                    f"adata.uns['ckit_source']['likelihood']={hint!r} is not one of "
                    f"{', '.join(map(repr, LIKELIHOODS))}; pass likelihood=... to override it."
                )
            likelihood, likelihood_source = hint, f"adapter {source.get('adapter', '?')!s}"
        else:
            likelihood, likelihood_source = "auto", "auto"
    matrix = get_matrix(adata, chosen_layer)
    label = matrix_label(chosen_layer)
    if matrix.ndim != 2 or matrix.shape != (adata.n_obs, adata.n_vars):
        raise ValueError(f"{label} has shape {matrix.shape}, not (n_obs, n_vars) = {adata.shape}.")
    # The estimator's checks, run here so that messages name the matrix (NaN = missing).
    prepared = prepare_matrix(matrix, name=label)
    check_trainable(prepared, name=label)
    if likelihood == "auto" and not _integer_valued(prepared.matrix):
        # In an AnnData, non-integer values are normalised or log expression by convention:
        # the Gaussian fits them (the anndata adapter's rule); integers keep the model's rule.
        likelihood, likelihood_source = "gaussian", "auto: non-integer AnnData values"
    resolve_likelihood(prepared, likelihood, name=label)
    logger.info(
        "fitting on %s %s with likelihood %r (%s)",
        matrix_label(chosen_layer),
        matrix.shape,
        likelihood,
        likelihood_source,
    )
    return FitInput(
        prepared.matrix, chosen_layer, likelihood, likelihood_source, kwargs, prepared.missing
    )


def _integer_valued(matrix: Any) -> bool:
    """Whether every observed value of the checked CSR ``matrix`` is a whole number."""
    return bool(np.all(matrix.data == np.round(matrix.data)))


def fit_model(
    fit_input: FitInput,
    n_row_clusters: int,
    n_col_clusters: int | None,
    seed: int,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
):
    """A fitted :class:`~cocluster_kit.CoclusterVAE` on the chosen matrix.

    ``checkpoint_dir`` goes to :meth:`~cocluster_kit.CoclusterVAE.fit` (resume, checkpoints).
    """
    from ..model import CoclusterVAE

    model = CoclusterVAE(
        n_row_clusters,
        n_col_clusters,
        likelihood=fit_input.likelihood,
        random_state=seed,
        **fit_input.model_kwargs,
    )
    return model.fit(fit_input.matrix, mask=fit_input.mask, checkpoint_dir=checkpoint_dir)


def h5ad_value(value: Any) -> Any:
    """A parameter value that ``write_h5ad`` stores (tuples become lists of their items)."""
    if isinstance(value, (tuple, list)):
        return np.asarray(value, dtype=np.int64 if len(value) == 0 else None)
    if isinstance(value, np.generic):
        return value.item()
    return value


def result_params(model, fit_input: FitInput, seed: int) -> dict:
    """Every argument that changes the result, as h5ad-writable values."""
    from .._version import __version__

    params = {
        name: h5ad_value(value)
        for name, value in model.get_params().items()
        if name not in NOT_RESULT_CHANGING
    }
    params.update(
        random_state=seed,
        layer=fit_input.layer,
        likelihood=model.likelihood_,
        n_col_clusters=int(model.n_col_clusters or model.n_row_clusters),
        version=__version__,
        world_size=int(getattr(model, "world_size_", 1)),
    )
    return params


def effective_count(labels: np.ndarray) -> int:
    """The number of non-empty clusters."""
    return int(np.unique(labels).size)
