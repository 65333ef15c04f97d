"""Initialise every mixture prior from the encoder means (METHOD.md §8, step 2)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..data import CoclusterData, MatrixView, SketchView
from ..module import CoclusterModule, MixtureVAE
from ._batches import BatchSampler
from ._parallel import broadcast_parameters

MIXTURE_INITS = ("kmeans", "gmm")


@torch.no_grad()
def encode_view(
    side: MixtureVAE, view: MatrixView | SketchView, device: torch.device, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of every item of a view, batch by batch."""
    side.eval()
    means, log_vars = [], []
    for start in range(0, view.n_items, batch_size):
        index = np.arange(start, min(start + batch_size, view.n_items))
        mean, log_var = side.encoder(view.batch(index, device).encoder_input)
        means.append(mean.cpu())
        log_vars.append(log_var.cpu())
    return torch.cat(means).numpy(), torch.cat(log_vars).numpy()


@torch.no_grad()
def sample_cell_means(module: CoclusterModule, sampler: BatchSampler, n_cells: int) -> np.ndarray:
    """Encoder means of cells drawn by the sampler, until ``n_cells`` are collected."""
    module.eval()
    collected, total = [], 0
    for _ in range(max(1, 4 * sampler.steps_per_epoch)):
        for batch in sampler.epoch():
            if batch.cells is None or len(batch.cells.value) == 0:
                continue
            row_mean, _ = module.rows.encoder(batch.rows.encoder_input)
            col_mean, _ = module.columns.encoder(batch.columns.encoder_input)
            encoder_input, _, _ = module.cell_inputs(
                row_mean[batch.cells.row_position],
                col_mean[batch.cells.column_position],
                batch.cells.value,
            )
            mean, _ = module.cells.encoder(encoder_input)
            collected.append(mean.cpu())
            total += len(mean)
            if total >= n_cells:
                return torch.cat(collected).numpy()
    return torch.cat(collected).numpy()


def fit_mixture(
    latent: np.ndarray, n_components: int, *, method: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, means and diagonal variances of a clustering of ``latent``.

    Fewer distinct points than components (duplicate items, such as empty rows) leave some
    components empty: each keeps a finite mean and a small weight (at least 1e-6 before
    renormalising), never NaN or 0, since the prior works with log-weights.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    latent = latent.astype(np.float64)
    n_components = min(n_components, len(latent))
    with warnings.catch_warnings():
        # "Number of distinct clusters found smaller than n_clusters": handled below.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if method == "gmm":
            mixture = GaussianMixture(
                n_components, covariance_type="diag", random_state=seed, n_init=3, reg_covar=1e-4
            ).fit(latent)
            return _floored(mixture.weights_), mixture.means_, mixture.covariances_
        kmeans = KMeans(n_components, n_init=10, random_state=seed).fit(latent)
    labels = kmeans.labels_
    counts = np.bincount(labels, minlength=n_components)
    # An empty cluster keeps k-means' centre, nudged off the point it duplicates.
    means = np.stack(
        [
            latent[labels == k].mean(0) if counts[k] else kmeans.cluster_centers_[k] + 0.1
            for k in range(n_components)
        ]
    )
    overall = latent.var(0) + 1e-4
    variances = np.stack(
        [latent[labels == k].var(0) if counts[k] > 1 else overall for k in range(n_components)]
    )
    return _floored(counts / len(labels)), means, np.maximum(variances, 1e-4)


def _floored(weights: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Mixture weights with every component at least ``floor`` (then renormalised)."""
    weights = np.maximum(weights, floor)
    return weights / weights.sum()


def initialize_mixtures(
    module: CoclusterModule,
    data: CoclusterData,
    sampler: BatchSampler,
    *,
    method: str,
    seed: int,
) -> None:
    """Fit each side's mixture to its encoder means and copy it into the prior."""
    device = next(module.parameters()).device
    latents = {
        "row": encode_view(module.rows, data.rows, device)[0],
        "col": encode_view(module.columns, data.columns, device)[0],
    }
    if module.cells is not None and sampler.n_cells > 0:
        latents["cell"] = sample_cell_means(module, sampler, n_cells=5000)
    for name, side in module.sides().items():
        if name not in latents:
            continue
        k = side.prior.n_components
        weights, means, variances = fit_mixture(latents[name], k, method=method, seed=seed)
        if len(means) < k:  # fewer items than components: pad with spread copies
            extra = k - len(means)
            means = np.concatenate([means, means[np.arange(extra) % len(means)] + 0.1])
            variances = np.concatenate([variances, variances[np.arange(extra) % len(variances)]])
            weights = np.concatenate([weights, np.full(extra, 1e-3)])
            weights = weights / weights.sum()
        side.prior.initialize(
            torch.as_tensor(weights, dtype=torch.float32, device=device),
            torch.as_tensor(means, dtype=torch.float32, device=device),
            torch.as_tensor(variances, dtype=torch.float32, device=device),
        )
    # Under torchrun the cell means came from each rank's rows: start every rank from rank 0.
    broadcast_parameters(module, sampler.shard)
