"""A non-finite loss stops training with the likely causes named and the best weights kept."""

from __future__ import annotations

import pytest

import cocluster_kit as ckit
from cocluster_kit.train import TrainingError


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
