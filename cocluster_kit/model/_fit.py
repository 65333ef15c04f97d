"""What ``CoclusterVAE.fit`` does once the input is checked: build, train, summarise."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from ..data import CoclusterData
from ..module import CoclusterModule
from ..train import (
    MONITORED_TERMS,
    BatchSampler,
    Checkpointer,
    TrainingError,
    TrainingPlan,
    _parallel,
    encode_view,
    fit_module,
    kept_epoch,
    resolve_epochs,
)
from ._restarts import requested_clusters
from ._validation import PreparedMatrix

logger = logging.getLogger("cocluster_kit")

# Step budgets behind the default epoch counts (small matrices get more epochs, not fewer steps).
PRETRAIN_STEPS = 600
TRAIN_STEPS = 1500


def resolve_mi(mi: str, likelihood: str) -> str:
    """The cross-loss variant: ``"auto"`` → ``variance`` for Gaussian data, else ``weighted``.

    ``"none"`` still builds the (unused) loss module so the state dict keeps one shape.
    """
    if mi == "auto":
        return "variance" if likelihood == "gaussian" else "weighted"
    return "weighted" if mi == "none" else mi


# Default lambda_MI per variant. The MI ratio spans most of [0, 1]; the kept-variance share
# moves in a narrow band on noisy data (R^2 ~ 0.05 on the planted benchmark), so it needs a
# larger weight to matter. Measured: variance at 1 → column NMI 0.86, at 100 → 0.89 (planted);
# weighted at 100 collapsed WebKB wisconsin to NMI 0.0, at 1 → 0.40.
DEFAULT_MI_WEIGHTS = {"weighted": 1.0, "deepcc": 1.0, "variance": 100.0}


def resolve_mi_weight(mi: str, mi_weight: float | None, likelihood: str) -> float:
    """``lambda_MI``: 0 for ``mi="none"``, the variant's default when ``mi_weight`` is None."""
    if mi == "none":
        return 0.0
    if mi_weight is None:
        return DEFAULT_MI_WEIGHTS[resolve_mi(mi, likelihood)]
    return float(mi_weight)


DEFAULT_N_SAMPLES = {"elbo": 1, "iwae": 4, "dreg": 4}


def resolve_n_samples(n_samples: int | None, estimator: str) -> int:
    """``S``: ``n_samples`` when given, else the estimator's default (1 for ELBO, else 4)."""
    return DEFAULT_N_SAMPLES[estimator] if n_samples is None else int(n_samples)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"bf16"`` only on CUDA; elsewhere float32, with a warning."""
    if precision == "bf16" and device.type != "cuda":
        logger.warning("precision='bf16' needs a CUDA device; training on %s in float32", device)
        return "32"
    return precision


def module_config(estimator, data: CoclusterData, n_col_clusters: int) -> dict:
    """Keyword arguments of :class:`CoclusterModule` (saved with the model to rebuild it)."""
    k, n_cell = estimator.n_row_clusters, estimator.n_cell_clusters
    return {
        "n_row_input": data.rows.n_input,
        "n_row_features": data.rows.n_features,
        "row_likelihood": data.likelihood,
        "n_col_input": data.columns.n_input,
        "n_col_features": data.columns.n_features,
        "col_likelihood": data.column_likelihood,
        "n_row_clusters": k,
        "n_col_clusters": n_col_clusters,
        "n_cell_clusters": min(k * n_col_clusters, 64) if n_cell is None else max(n_cell, 1),
        "latent_dims": [estimator.latent_dim, estimator.latent_dim, estimator.cell_latent_dim],
        "hidden": list(estimator.hidden),
        "decoder_hidden": list(estimator.decoder_hidden),
        "joint": bool(estimator.joint) and estimator.n_cells > 0,
        "cell_reads_value": bool(estimator.cell_reads_value),
        "critic": bool(estimator.critic),
        "scale_trick": bool(estimator.scale_trick),
        "mi": resolve_mi(estimator.mi, data.likelihood),
        "mi_momentum": float(estimator.mi_momentum),
        "cell_likelihood": data.likelihood,
        "joint_gradient": float(estimator.joint_gradient),
    }


def fit_estimator(
    estimator,
    prepared: PreparedMatrix,
    *,
    likelihood: str,
    input_transform: str,
    seed: int,
    device: torch.device,
    checkpoint: Checkpointer | None = None,
) -> None:
    """Train a fresh module for ``estimator`` on ``prepared`` and set the fitted attributes.

    With ``checkpoint``, training resumes from it and saves into it. A
    :class:`~cocluster_kit.train.TrainingError` after some full-weight epoch leaves the
    estimator fitted with the best weights seen, then is raised again.
    """
    _, n_col_clusters = requested_clusters(estimator)
    shard, device = _parallel.start(device)
    if checkpoint is not None and shard.world_size > 1:
        raise ValueError(
            "checkpoint_dir is not supported under torchrun (data-parallel training) yet; "
            "drop checkpoint_dir or train in one process."
        )
    data = CoclusterData(
        prepared.matrix,
        prepared.missing,
        likelihood=likelihood,
        input_transform=input_transform,
        sketch_threshold=estimator.sketch_threshold,
        sketch_size=estimator.sketch_size,
        seed=seed,
        device=device,
    )
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        config = module_config(estimator, data, n_col_clusters)
        module = CoclusterModule(**config).to(device)
        sampler = BatchSampler(
            data,
            row_batch_size=estimator.row_batch_size,
            col_batch_size=estimator.col_batch_size,
            n_cells=estimator.n_cells if config["joint"] else 0,
            seed=seed,
            device=device,
            precision=resolve_precision(estimator.precision, device),
            shard=shard,
        )
        max_epochs, pretrain_epochs, warmup_epochs = resolve_epochs(
            sampler.steps_per_epoch,
            max_epochs=estimator.max_epochs,
            pretrain_epochs=estimator.pretrain_epochs,
            warmup_epochs=estimator.warmup_epochs,
            train_steps=TRAIN_STEPS,
            pretrain_steps=PRETRAIN_STEPS,
        )
        plan = TrainingPlan(
            pretrain_epochs=pretrain_epochs,
            max_epochs=max_epochs,
            warmup_epochs=warmup_epochs,
            learning_rate=estimator.learning_rate,
            weight_decay=estimator.weight_decay,
            patience=estimator.patience,
            min_delta=estimator.min_delta,
            estimator=estimator.estimator,
            prior_gradient=estimator.prior_gradient,
            n_samples=resolve_n_samples(estimator.n_samples, estimator.estimator),
            mi_weight=resolve_mi_weight(estimator.mi, estimator.mi_weight, likelihood),
            critic_weight=estimator.critic_weight if estimator.critic else 0.0,
            cell_weight=estimator.cell_weight,
            mixture_init=estimator.mixture_init,
            seed=seed,
            monitor=estimator.monitor,
        )
        if checkpoint is not None:
            checkpoint.seed = seed
        failure = None
        parallel = _parallel.wrap(module, shard, device)
        try:
            history = fit_module(
                module,
                data,
                sampler,
                plan,
                progress=estimator.progress,
                callbacks=list(estimator.callbacks or ()),
                checkpoint=checkpoint,
                parallel=parallel,
            )
        except TrainingError as error:
            if error.best_epoch is None:
                raise
            history, failure = error.history, error
        finally:
            _parallel.unwrap(module)
    module.eval()
    estimator.world_size_ = shard.world_size
    row_mean, _ = encode_view(module.rows, data.rows, device)
    col_mean, _ = encode_view(module.columns, data.columns, device)
    if failure is not None and not (np.isfinite(row_mean).all() and np.isfinite(col_mean).all()):
        raise TrainingError(
            f"{failure} Those weights give non-finite embeddings too, so no result is kept.",
            history=failure.history,
        ) from None
    estimator.module_ = module
    estimator.data_ = data
    estimator.config_ = {
        "module": config,
        "likelihood": likelihood,
        "input_transform": input_transform,
        "seed": seed,
        "epochs": {"pretrain": pretrain_epochs, "max": max_epochs, "warmup": warmup_epochs},
        "mi_weight": plan.mi_weight,
        "n_samples": plan.n_samples,
    }
    estimator.history_ = pd.DataFrame(history)
    estimator.bound_ = best_epoch_bound(
        estimator.history_,
        *prepared.shape,
        monitored=MONITORED_TERMS[plan.monitor],
        min_delta=plan.min_delta,
    )
    estimator.n_features_in_ = prepared.shape[1]
    estimator.likelihood_ = likelihood
    estimator.input_transform_ = input_transform
    estimator.device_ = str(device)
    estimator.row_names_ = prepared.row_names or [str(i) for i in range(prepared.shape[0])]
    estimator.column_names_ = prepared.column_names or [str(j) for j in range(prepared.shape[1])]
    if prepared.column_names is not None:
        estimator.feature_names_in_ = np.asarray(prepared.column_names, dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_  # a refit on an array has no column names
    estimator._set_memberships(row_mean, col_mean)
    estimator.block_means_ = block_means(
        prepared,
        estimator.row_labels_,
        estimator.column_labels_,
        estimator.n_row_clusters,
        n_col_clusters,
    )
    if failure is not None:
        raise TrainingError(
            f"{failure} The estimator holds that epoch's result (labels, embeddings); "
            "refit with the fix above for a complete fit.",
            history=failure.history,
            best_epoch=failure.best_epoch,
        ) from None


def best_epoch_bound(
    history: pd.DataFrame, n_rows: int, n_cols: int, *, monitored: str, min_delta: float
) -> float:
    """Evidence bound per matrix entry at the epoch whose weights were kept.

    That is the epoch :func:`~cocluster_kit.train.kept_epoch` finds (``monitored`` and
    ``min_delta`` as in training), or the last epoch when training never reached full
    weight (then the last weights are kept).

    ``(n * row_bound + m * col_bound) / (n * m) + cell_bound``: the row and column sides'
    bounds summed over their items, plus the cell level's mean bound per cell, without the
    critic and cross-loss terms — comparable across ``K`` and ``L`` on the same matrix.
    """
    if history.empty:
        return float("nan")
    best = kept_epoch(history, monitored, min_delta)
    if best is None:
        best = history.iloc[-1]
    bound = (n_rows * best["row_bound"] + n_cols * best["col_bound"]) / (n_rows * n_cols)
    return float(bound + best.get("cell_bound", 0.0))


def block_means(
    prepared: PreparedMatrix, row_labels: np.ndarray, column_labels: np.ndarray, k: int, l_: int
) -> np.ndarray:
    """Mean of the observed entries of every (row cluster, column cluster) block, ``K x L``.

    Computed with sparse one-hot products, never densifying ``X``; empty blocks are NaN.
    """
    import scipy.sparse as sp

    n_rows, n_cols = prepared.shape
    rows = sp.csr_matrix((np.ones(n_rows), (np.arange(n_rows), row_labels)), shape=(n_rows, k))
    cols = sp.csr_matrix((np.ones(n_cols), (np.arange(n_cols), column_labels)), shape=(n_cols, l_))
    sums = (rows.T @ prepared.matrix @ cols).toarray()
    counts = np.outer(
        np.bincount(row_labels, minlength=k), np.bincount(column_labels, minlength=l_)
    )
    counts = counts.astype(np.float64)
    if prepared.missing is not None:
        counts -= (rows.T @ prepared.missing.astype(np.float64) @ cols).toarray()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
