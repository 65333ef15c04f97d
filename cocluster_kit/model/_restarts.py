"""Restarts (``n_init``): fits from several seeds, the one with the highest bound kept.

As scikit-learn's ``KMeans(n_init=...)``, with the evidence bound ``bound_`` as the
criterion (METHOD.md §12 saw one seed in three stuck in a poor optimum, and recommends
restarts chosen by the bound). ``"auto"`` pays for a restart only where it may be needed:
a fit that leaves one of the requested row or column clusters empty may have merged two
groups (the robustness benchmark's 1000 x 1000 checkerboard at 0.3x noise, seed 2: two
column groups in one cluster, consensus 0.63), so it is fitted once more from another seed
and the higher bound kept. Fits that use every cluster cost nothing extra and are
unchanged. It is not the default: short fits and fits with more clusters than the data hold
often leave a cluster empty, and then pay for a second fit.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import numpy as np

logger = logging.getLogger("cocluster_kit")

AUTO_MAX_FITS = 2
"""Fits ``n_init="auto"`` runs at most: the first, and one restart if it left a cluster empty."""


class EmptyClusterWarning(UserWarning):
    """The kept fit left some of the requested row or column clusters empty.

    As scikit-learn's ``KMeans`` warns when it finds fewer distinct clusters than asked for.
    Silence it with ``warnings.filterwarnings("ignore", category=EmptyClusterWarning)``.
    """


def restart_seed(seed: int, attempt: int) -> int:
    """The seed of fit number ``attempt`` (0: ``seed`` itself; then derived from it)."""
    if attempt == 0:
        return seed
    return int(np.random.default_rng([seed, attempt]).integers(2**31 - 1))


def requested_clusters(estimator) -> tuple[int, int]:
    """The numbers of row and column clusters ``estimator`` asks for (columns default to rows)."""
    return estimator.n_row_clusters, estimator.n_col_clusters or estimator.n_row_clusters


def empty_clusters(estimator) -> tuple[int, int]:
    """Requested row and column clusters that no item of the fitted ``estimator`` is in."""
    n_rows, n_cols = requested_clusters(estimator)
    return (
        n_rows - np.unique(estimator.row_labels_).size,
        n_cols - np.unique(estimator.column_labels_).size,
    )


def _fitted_state(estimator) -> dict:
    """The fitted attributes (trailing underscore) of ``estimator``."""
    return {
        name: value
        for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("_")
    }


def _restore(estimator, state: dict) -> None:
    for name in list(_fitted_state(estimator)):
        if name not in state:
            delattr(estimator, name)
    for name, value in state.items():
        setattr(estimator, name, value)


def fit_with_restarts(
    estimator, fit_once: Callable[[int, int], None], *, seed: int, n_init: int | str
) -> None:
    """Run ``fit_once(attempt, seed)`` as ``n_init`` asks; leave the best fit in ``estimator``.

    ``fit_once`` fits ``estimator`` in place (and may raise ``TrainingError``). Every fit is
    recorded in ``estimator.config_["fits"]`` (seed, bound, empty row and column clusters)
    and the kept one's index in ``config_["kept_fit"]``. A ``TrainingError`` in the first
    fit is raised as it is; in a restart it ends the restarts with a warning and the best
    earlier fit is kept.
    """
    from ..train import TrainingError

    max_fits = AUTO_MAX_FITS if n_init == "auto" else int(n_init)
    fits: list[dict] = []
    best: dict | None = None
    best_index = 0
    for attempt in range(max_fits):
        attempt_seed = restart_seed(seed, attempt)
        try:
            fit_once(attempt, attempt_seed)
        except TrainingError as error:
            if best is None:
                raise
            warnings.warn(
                f"restart {attempt} (seed {attempt_seed}) failed and was dropped: {error}",
                RuntimeWarning,
                stacklevel=3,
            )
            break
        empty_rows, empty_cols = empty_clusters(estimator)
        fits.append(
            {
                "seed": attempt_seed,
                "bound": float(estimator.bound_),
                "empty_row_clusters": int(empty_rows),
                "empty_col_clusters": int(empty_cols),
            }
        )
        if best is None or estimator.bound_ > best["bound_"]:
            best, best_index = _fitted_state(estimator), attempt
        kept = fits[best_index]
        if n_init == "auto" and not (kept["empty_row_clusters"] or kept["empty_col_clusters"]):
            break
        if attempt + 1 < max_fits:
            logger.info(
                "fit %d of at most %d (seed %d): bound %.4g, %d empty row and %d empty column "
                "clusters",
                attempt + 1,
                max_fits,
                attempt_seed,
                estimator.bound_,
                empty_rows,
                empty_cols,
            )
    _restore(estimator, best)
    estimator.config_ = {**estimator.config_, "fits": fits, "kept_fit": best_index}
    message = empty_clusters_message(estimator, fits[best_index], n_fits=len(fits))
    if message:
        warnings.warn(message, EmptyClusterWarning, stacklevel=3)


def empty_clusters_message(estimator, fit: dict, *, n_fits: int) -> str | None:
    """What to tell the user when ``fit`` (a ``config_["fits"]`` entry) left clusters empty."""
    n_rows, n_cols = requested_clusters(estimator)
    sides = [
        (side, empty, requested)
        for side, empty, requested in (
            ("row", fit["empty_row_clusters"], n_rows),
            ("column", fit["empty_col_clusters"], n_cols),
        )
        if empty
    ]
    if not sides:
        return None
    found = " and ".join(
        f"{empty} of the {requested} requested {side} clusters are empty (the {side}s fall "
        f"into {requested - empty})"
        for side, empty, requested in sides
    )
    tried = f" after {n_fits} fits" if n_fits > 1 else ""
    restart = "" if n_fits > 1 else "n_init='auto' (a second fit when a cluster is empty), "
    return (
        f"{found}{tried}: groups may have merged, or the data may hold fewer groups than "
        f"asked for. Try {restart}more epochs (max_epochs), or fewer clusters; row_labels_ and "
        "column_labels_ show what was found."
    )
