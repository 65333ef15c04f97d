"""The training loop: pre-training, mixture initialisation, full objective (METHOD.md §8)."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..data import CoclusterData
from ..module import CoclusterModule, Phase
from ._batches import BatchSampler, autocast
from ._checkpoint import Checkpointer, LoopState
from ._mixture_init import initialize_mixtures
from ._parallel import average_terms

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("cocluster_kit")

Callback = Callable[[dict], None]

# What early stopping and the choice of kept weights read (``monitor=``): the history term.
MONITORED_TERMS = {"partitions": "partition_objective", "objective": "objective"}


class TrainingError(RuntimeError):
    """Training could not go on (for example the loss stopped being finite).

    Attributes
    ----------
    history
        The epochs finished before the failure (set by :func:`fit_module`).
    best_epoch
        The epoch whose weights the module holds again (the best full-weight one seen), or
        ``None`` when no epoch reached full weight.
    """

    def __init__(self, message: str, *, history=None, best_epoch: int | None = None) -> None:
        super().__init__(message)
        self.history: list[dict] = [] if history is None else history
        self.best_epoch = best_epoch


@dataclass
class TrainingPlan:
    """Every schedule setting of one fit (resolved, no ``None`` left)."""

    pretrain_epochs: int
    max_epochs: int
    warmup_epochs: int
    learning_rate: float
    weight_decay: float
    patience: int
    min_delta: float
    estimator: str
    prior_gradient: str
    n_samples: int
    mi_weight: float
    critic_weight: float
    cell_weight: float
    mixture_init: str
    seed: int
    monitor: str = "partitions"


def _optimizer(module: CoclusterModule, plan: TrainingPlan) -> torch.optim.Optimizer:
    """AdamW with one parameter group per role; mixture parameters are not decayed."""
    groups: dict[str, list[torch.nn.Parameter]] = {"encoder": [], "decoder": [], "prior": []}
    for side in module.sides().values():
        for role, parameters in side.parameter_groups().items():
            groups[role] += parameters
    return torch.optim.AdamW(
        [
            {"params": groups["encoder"], "weight_decay": plan.weight_decay, "name": "encoder"},
            {"params": groups["decoder"], "weight_decay": plan.weight_decay, "name": "decoder"},
            {"params": groups["prior"], "weight_decay": 0.0, "name": "prior"},
        ],
        lr=plan.learning_rate,
    )


def _run_epoch(
    module: CoclusterModule,
    sampler: BatchSampler,
    optimizer: torch.optim.Optimizer,
    phase: Phase,
    parallel: torch.nn.Module | None = None,
) -> dict[str, float]:
    """One pass; returns the mean of every loss term (one device sync per epoch)."""
    module.train()
    sums: dict[str, torch.Tensor] = {}
    steps = 0
    for batch in sampler.epoch():
        with autocast(sampler.device, sampler.precision):
            record = (module if parallel is None else parallel)(batch, phase)
        optimizer.zero_grad(set_to_none=True)
        record.total.backward()
        optimizer.step()
        for name, value in record.terms.items():
            sums[name] = sums[name] + value if name in sums else value.clone()
        steps += 1
    sums = average_terms(sums, sampler.shard)  # every rank decides alike (early stopping)
    means = {name: float(value) / steps for name, value in sums.items()}
    if not math.isfinite(means["loss"]):
        raise TrainingError(
            "the training loss became non-finite "
            f"({means['loss']}). Likely causes: a learning rate too high for this data "
            "(try learning_rate=1e-4), extreme values (scale or log-transform the matrix), or "
            "a likelihood that does not fit the data (e.g. a count likelihood on real values)."
        )
    return means


def _improves(objective: float, best: float, min_delta: float) -> bool:
    """Whether a finite ``objective`` beats ``best`` by a relative ``min_delta`` (any does inf)."""
    if not math.isfinite(objective):
        return False
    return math.isinf(best) or objective < best - min_delta * abs(best)


def monitored_term(columns: Iterable[str], monitored: str) -> str | None:
    """The history column early stopping read: ``monitored`` if recorded, else the fallbacks.

    Histories saved before ``monitored`` was recorded fall back to ``"objective"``, then to
    ``"loss"``; None when ``columns`` holds none of them.
    """
    present = set(columns)
    return next((term for term in (monitored, "objective", "loss") if term in present), None)


def kept_epoch(history: pd.DataFrame, monitored: str, min_delta: float) -> pd.Series | None:
    """The row of ``history`` whose weights training kept, found by the loop's own rule.

    Parameters
    ----------
    history
        One row per epoch, as :func:`fit_module` records it.
    monitored
        The term early stopping read (a value of :data:`MONITORED_TERMS`); older histories
        fall back as :func:`monitored_term` says.
    min_delta
        The relative improvement that made an epoch the new best.

    Returns
    -------
    pandas.Series or None
        The full-weight training epoch that last improved on the best seen by ``min_delta``;
        None when no full-weight epoch finished (training then keeps its last weights).
    """
    trained = history[history["stage"] == "train"] if "stage" in history else history
    if "kl_weight" in trained:
        trained = trained[trained["kl_weight"] >= 1.0]
    term = monitored_term(trained.columns, monitored)
    if trained.empty or term is None:
        return None
    best, kept = math.inf, None
    for _, row in trained.iterrows():
        if _improves(float(row[term]), best, min_delta):
            best, kept = float(row[term]), row
    return kept


def _pretrain(module, data, sampler, plan, state, record, save, parallel) -> None:
    """Plain-VAE pre-training (``N(0, I)`` prior) from ``state.epoch`` on, if still due."""
    if state.stage != "pretrain":
        return
    optimizer = _optimizer(module, plan)
    if state.optimizer_state is not None:
        optimizer.load_state_dict(state.optimizer_state)  # resumed during pre-training
    phase = Phase(estimator="elbo", standard_prior=True, n_samples=1, cell_weight=plan.cell_weight)
    for epoch in range(state.epoch, plan.pretrain_epochs):
        started = time.perf_counter()
        terms = _run_epoch(module, sampler, optimizer, phase, parallel)
        record(epoch, "pretrain", terms, started)
        state.epoch = epoch + 1
        save(optimizer)


def fit_module(
    module: CoclusterModule,
    data: CoclusterData,
    sampler: BatchSampler,
    plan: TrainingPlan,
    *,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    checkpoint: Checkpointer | None = None,
    parallel: torch.nn.Module | None = None,
) -> list[dict]:
    """Train ``module`` on ``data``; returns the per-epoch history.

    Early stopping reads the epoch value (not the gradient estimator's surrogate) of the
    term ``plan.monitor`` names (:data:`MONITORED_TERMS`): ``"partitions"``, ``J`` without the
    cell level, or ``"objective"``, the whole ``J``. The weights with its best value after
    the warm-up are restored at the end; a non-finite loss stops training with
    :class:`TrainingError` after restoring them.
    With a ``checkpoint``, training resumes from its saved state (if any) and saves into it
    now and then, after the mixture initialisation and at the end. ``parallel`` is the
    ``DistributedDataParallel`` wrapper of ``module`` under torchrun.
    """
    from tqdm.auto import tqdm

    state = LoopState() if checkpoint is None else checkpoint.restore(module, sampler)
    history = state.history
    total_epochs = plan.pretrain_epochs + plan.max_epochs
    bar = tqdm(
        total=total_epochs,
        initial=len(history),
        disable=not progress,
        desc="cocluster",
        leave=False,
    )

    def record(epoch: int, stage: str, terms: dict[str, float], started: float) -> None:
        entry = {"epoch": epoch, "stage": stage, **terms, "seconds": time.perf_counter() - started}
        history.append(entry)
        bar.update(1)
        bar.set_postfix(stage=stage, objective=f"{terms['objective']:.4g}")
        for callback in callbacks:
            callback(entry)

    def save(optimizer: torch.optim.Optimizer, *, force: bool = False) -> None:
        if checkpoint is not None:
            checkpoint.save(state, module, optimizer, sampler, force=force)

    try:
        _pretrain(module, data, sampler, plan, state, record, save, parallel)
        optimizer = _optimizer(module, plan)  # a new one for the full objective
        if state.optimizer_state is not None and state.stage == "train":
            optimizer.load_state_dict(state.optimizer_state)  # resumed during training
        if state.stage == "pretrain":
            initialize_mixtures(module, data, sampler, method=plan.mixture_init, seed=plan.seed)
            module.mutual_information.reset()
            state.stage, state.epoch = "train", 0
            save(optimizer, force=True)
        for epoch in range(state.epoch, plan.max_epochs if state.stage == "train" else 0):
            started = time.perf_counter()
            # KL warm-up; the cross-loss ramps with it, so a strong coupling cannot pull latents
            # together while the KL barely holds them (it merged two column clusters that way).
            warm = min(1.0, (epoch + 1) / plan.warmup_epochs) if plan.warmup_epochs > 0 else 1.0
            phase = Phase(
                estimator=plan.estimator,
                prior_gradient=plan.prior_gradient,
                n_samples=plan.n_samples,
                kl_weight=warm,
                mi_weight=plan.mi_weight * warm,
                critic_weight=plan.critic_weight,
                cell_weight=plan.cell_weight,
            )
            terms = _run_epoch(module, sampler, optimizer, phase, parallel)
            weights = {"kl_weight": warm, "mi_weight": phase.mi_weight}
            record(plan.pretrain_epochs + epoch, "train", {**terms, **weights}, started)
            state.epoch = epoch + 1
            # During warm-up the objective still changes: no early stopping yet. (The first
            # full-weight epoch is compared with nothing: inf - min_delta * inf is NaN.)
            monitored = terms[MONITORED_TERMS[plan.monitor]]
            if warm >= 1.0 and _improves(monitored, state.best_loss, plan.min_delta):
                state.best_loss, state.stale = monitored, 0
                state.best_state = copy.deepcopy(module.state_dict())
                state.best_epoch = plan.pretrain_epochs + epoch
            elif warm >= 1.0:
                state.stale += 1
                if state.stale >= plan.patience:
                    logger.info("early stopping after %d epochs", epoch + 1)
                    break
            save(optimizer)
    except TrainingError as error:
        where = f" It happened at epoch {len(history)} ({state.stage})."
        kept, best_epoch = " No weights were kept: no full-weight epoch finished before.", None
        if state.best_state is not None:
            module.load_state_dict(state.best_state)
            kept, best_epoch = (
                f" The weights of epoch {state.best_epoch}, the best seen, were kept.",
                state.best_epoch,
            )
        raise TrainingError(
            f"{error}{where}{kept}", history=history, best_epoch=best_epoch
        ) from None
    finally:
        bar.close()
    if state.best_state is not None:
        module.load_state_dict(state.best_state)
    if state.stage != "done":
        state.stage = "done"
        save(optimizer, force=True)
    return history


def resolve_epochs(
    steps_per_epoch: int,
    *,
    max_epochs: int | None,
    pretrain_epochs: int | None,
    warmup_epochs: int | None,
    train_steps: int,
    pretrain_steps: int,
) -> tuple[int, int, int]:
    """Fill in epoch counts left as ``None`` from budgets of optimisation steps."""
    if max_epochs is None:
        max_epochs = int(np.clip(round(train_steps / steps_per_epoch), 10, 1000))
    if pretrain_epochs is None:
        pretrain_epochs = int(np.clip(round(pretrain_steps / steps_per_epoch), 3, 500))
    if warmup_epochs is None:
        warmup_epochs = max(1, max_epochs // 10)
    return max_epochs, pretrain_epochs, warmup_epochs
