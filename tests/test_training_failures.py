"""A non-finite loss stops training with the likely causes named and the best weights kept."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

import cocluster_kit as ckit
from cocluster_kit.data import CoclusterData
from cocluster_kit.model import prepare_matrix
from cocluster_kit.model._fit import module_config
from cocluster_kit.module import CoclusterModule
from cocluster_kit.train import (
    MONITORED_TERMS,
    BatchSampler,
    TrainingError,
    TrainingPlan,
    fit_module,
    kept_epoch,
    monitored_term,
)

PRETRAIN, WARMUP, MAX_EPOCHS = 2, 2, 16


def _training(X, seed=0, patience=100, monitor="partitions"):
    """A module, its data, a sampler and a plan, built as ``CoclusterVAE.fit`` builds them."""
    estimator = ckit.CoclusterVAE(3, 2, n_samples=2, hidden=(32,))
    prepared = prepare_matrix(X)
    data = CoclusterData(
        prepared.matrix,
        prepared.missing,
        likelihood="gaussian",
        input_transform="standardize",
        sketch_threshold=estimator.sketch_threshold,
        sketch_size=estimator.sketch_size,
        seed=seed,
    )
    torch.manual_seed(seed)
    module = CoclusterModule(**module_config(estimator, data, 2))
    sampler = BatchSampler(
        data,
        row_batch_size=256,
        col_batch_size=256,
        n_cells=64,
        seed=seed,
        device=torch.device("cpu"),
    )
    plan = TrainingPlan(
        pretrain_epochs=PRETRAIN,
        max_epochs=MAX_EPOCHS,
        warmup_epochs=WARMUP,
        learning_rate=1e-3,
        weight_decay=1e-4,
        patience=patience,
        min_delta=0.0,
        estimator="dreg",
        prior_gradient="gdreg",
        n_samples=2,
        mi_weight=1.0,
        critic_weight=1.0,
        cell_weight=1.0,
        mixture_init="kmeans",
        seed=seed,
        monitor=monitor,
    )
    return module, data, sampler, plan


def test_non_finite_loss_restores_the_best_weights(small_checkerboard):
    module, data, sampler, plan = _training(small_checkerboard[0])
    term = MONITORED_TERMS[plan.monitor]
    snapshots, best, poisoned = {}, math.inf, []

    def watch_then_poison(entry):
        """Keep each epoch's weights; after a full-weight epoch that is not the best, NaN."""
        nonlocal best
        snapshots[entry["epoch"]] = copy.deepcopy(module.state_dict())
        if entry["stage"] != "train" or entry["kl_weight"] < 1.0:
            return
        if entry[term] < best:
            best = entry[term]
        elif not poisoned:  # the loop keeps an earlier epoch's weights: poison these
            poisoned.append(entry["epoch"])
            with torch.no_grad():
                next(module.rows.parameters()).fill_(float("nan"))

    with pytest.raises(TrainingError) as caught:
        fit_module(module, data, sampler, plan, callbacks=[watch_then_poison])
    assert poisoned, "every full-weight epoch improved; lengthen the run"
    error = caught.value
    message = str(error)
    assert "non-finite" in message and "learning_rate=1e-4" in message
    assert f"epoch {poisoned[0] + 1} (train)" in message
    # The run stopped at the epoch after the poisoned one, which is not recorded.
    assert len(error.history) == poisoned[0] + 1
    full_weight = [
        entry for entry in error.history if entry["stage"] == "train" and entry["kl_weight"] >= 1
    ]
    best_epoch = min(full_weight, key=lambda entry: entry[term])["epoch"]
    assert error.best_epoch == best_epoch < poisoned[0]
    assert f"weights of epoch {best_epoch}, the best seen, were kept" in message
    state = module.state_dict()
    for name, value in snapshots[best_epoch].items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)
    assert all(torch.isfinite(value).all() for value in state.values() if value.is_floating_point())


@pytest.mark.parametrize("monitor", ["partitions", "objective"])
def test_best_weights_are_restored_and_early_stopping_counts_from_them(small_checkerboard, monitor):
    module, data, sampler, plan = _training(small_checkerboard[0], patience=2, monitor=monitor)
    snapshots = {}

    def watch(entry):
        snapshots[entry["epoch"]] = copy.deepcopy(module.state_dict())

    history = fit_module(module, data, sampler, plan, callbacks=[watch])
    full_weight = [e for e in history if e["stage"] == "train" and e["kl_weight"] >= 1]
    term = MONITORED_TERMS[monitor]
    best_epoch = min(full_weight, key=lambda entry: entry[term])["epoch"]
    # Training ran until `patience` epochs in a row did not beat the best, or to the end.
    last = history[-1]["epoch"]
    assert last - best_epoch == plan.patience or last == PRETRAIN + MAX_EPOCHS - 1
    state = module.state_dict()
    for name, value in snapshots[best_epoch].items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("min_delta", [0.0, 0.02])
def test_kept_epoch_finds_the_epoch_whose_weights_the_loop_kept(small_checkerboard, min_delta):
    module, data, sampler, plan = _training(small_checkerboard[0])
    plan = dataclasses.replace(plan, min_delta=min_delta)
    snapshots = {}

    def watch(entry):
        snapshots[entry["epoch"]] = copy.deepcopy(module.state_dict())

    history = pd.DataFrame(fit_module(module, data, sampler, plan, callbacks=[watch]))
    term = MONITORED_TERMS[plan.monitor]
    kept = kept_epoch(history, term, min_delta)
    state = module.state_dict()
    for name, value in snapshots[kept["epoch"]].items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)
    full_weight = history[(history["stage"] == "train") & (history["kl_weight"] >= 1)]
    lowest = full_weight.loc[full_weight[term].idxmin(), "epoch"]
    # With a relative min_delta, small late gains do not count: the kept epoch is not the
    # lowest one, which is what a plain argmin would report.
    assert (kept["epoch"] == lowest) == (min_delta == 0.0)
    # Before any full-weight epoch there is nothing to keep; older histories lack the term.
    assert kept_epoch(history[history["stage"] == "pretrain"], term, min_delta) is None
    older = full_weight.drop(columns=["partition_objective"])
    lowest_objective = older.loc[older["objective"].idxmin(), "epoch"]
    assert kept_epoch(older, "partition_objective", 0.0)["epoch"] == lowest_objective


def test_monitored_term_falls_back_for_older_histories():
    recorded = ["epoch", "loss", "objective", "partition_objective"]
    assert monitored_term(recorded, "partition_objective") == "partition_objective"
    assert monitored_term(recorded[:3], "partition_objective") == "objective"
    assert monitored_term(["epoch", "loss"], "objective") == "loss"
    assert monitored_term(["epoch"], "objective") is None


def test_estimator_keeps_the_best_epoch_after_divergence(small_checkerboard):
    X = small_checkerboard[0]
    # A real divergence: with the DReG estimator this learning rate blows the loss up a few
    # epochs after warm-up (the default ELBO survives these 10 epochs).
    model = ckit.CoclusterVAE(
        3,
        2,
        random_state=0,
        estimator="dreg",
        learning_rate=30.0,
        weight_decay=0.0,
        max_epochs=10,
        pretrain_epochs=2,
        warmup_epochs=1,
        min_delta=0.0,
        progress=False,
        n_samples=2,
        device="cpu",
        hidden=(32,),
        n_cells=64,
    )
    with pytest.raises(TrainingError, match="non-finite") as caught:
        model.fit(X)
    error = caught.value
    assert error.best_epoch is not None
    assert "learning rate too high" in str(error) and "holds that epoch's result" in str(error)
    assert len(model.history_) == len(error.history)
    trained = model.history_[model.history_["stage"] == "train"]
    assert error.best_epoch == trained.loc[trained["partition_objective"].idxmin(), "epoch"]
    assert model.row_labels_.shape == (X.shape[0],) and np.isfinite(model.row_embedding_).all()
    np.testing.assert_array_equal(model.predict(X), model.row_labels_)


def test_divergence_before_full_weight_keeps_nothing(small_checkerboard):
    model = ckit.CoclusterVAE(
        3, 2, random_state=0, learning_rate=1e12, weight_decay=0.0, progress=False, device="cpu"
    )
    model.set_params(max_epochs=4, pretrain_epochs=2, n_samples=2)
    with pytest.raises(TrainingError, match=r"\(pretrain\)\. No weights were kept") as caught:
        model.fit(small_checkerboard[0])
    message = str(caught.value)
    assert "non-finite" in message and "learning rate too high" in message
    assert "learning_rate=1e-4" in message and "log-transform" in message
    assert caught.value.best_epoch is None
    assert not hasattr(model, "row_labels_")
