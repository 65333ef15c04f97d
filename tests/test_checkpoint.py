"""Training checkpoints: a fit killed mid-training resumes to the uninterrupted result."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_checkerboard

import cocluster_kit as ckit
from cocluster_kit.train import CHECKPOINT_FILE

# Pre-training, warm-up and a run of full-weight epochs, small enough for seconds.
PARAMS = {
    "max_epochs": 8,
    "pretrain_epochs": 2,
    "hidden": (32,),
    "n_cells": 64,
    "likelihood": "gaussian",
    "warmup_epochs": 2,
    "n_samples": 2,
    "progress": False,
    "device": "cpu",
    "random_state": 3,
}
MATRIX = {"shape": (60, 40), "n_clusters": (3, 2), "noise": 2.0, "random_state": 0}

# The epoch during which the child hangs, so that the test kills it mid-training; its last
# checkpoint then holds the epochs before, four of them at full weight.
HANG_AT = PARAMS["pretrain_epochs"] + 4
# Fits with a checkpoint after every epoch. The thread count is the test process's, so the
# arithmetic is the same.
CHILD = """
import sys, time
import torch
from sklearn.datasets import make_checkerboard
import cocluster_kit as ckit

def hang(entry):
    if entry["epoch"] == {hang_at}:
        time.sleep(600)

torch.set_num_threads({threads})
X = make_checkerboard(**{matrix})[0]
model = ckit.CoclusterVAE(3, 2, callbacks=[hang], **{params})
model.fit(X, checkpoint_dir=sys.argv[1], checkpoint_every=0)
print("finished")
"""


def _matrix() -> np.ndarray:
    return make_checkerboard(**MATRIX)[0]


def _read(path) -> dict | None:
    """The checkpoint at ``path``, or None while there is none (it appears by a rename)."""
    if not path.is_file():
        return None
    return torch.load(path, weights_only=True)


def test_killed_fit_resumes_to_the_uninterrupted_result(tmp_path):
    folder = tmp_path / "checkpoints"
    script = tmp_path / "child.py"
    script.write_text(
        textwrap.dedent(
            CHILD.format(
                threads=torch.get_num_threads(), matrix=MATRIX, params=PARAMS, hang_at=HANG_AT
            )
        )
    )
    child = subprocess.Popen(
        [sys.executable, str(script), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 240
        saved = None
        # Wait for the last checkpoint before the hang (best weights exist by then).
        while time.monotonic() < deadline and child.poll() is None:
            saved = _read(folder / CHECKPOINT_FILE)
            if saved is not None and len(saved["history"]) == HANG_AT:
                break
            time.sleep(0.1)
        assert child.poll() is None, child.communicate()[1].decode()[-2000:]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    saved = _read(folder / CHECKPOINT_FILE)
    total = PARAMS["pretrain_epochs"] + PARAMS["max_epochs"]
    assert saved["stage"] == "train" and saved["epoch"] == HANG_AT - PARAMS["pretrain_epochs"]
    assert saved["best_state"] is not None and saved["best_epoch"] >= PARAMS["pretrain_epochs"]
    done_before = len(saved["history"])
    assert done_before == HANG_AT < total
    assert not [p.name for p in folder.iterdir() if p.name != CHECKPOINT_FILE]

    X = _matrix()
    seen = []
    resumed = ckit.CoclusterVAE(3, 2, callbacks=[seen.append], **PARAMS).fit(
        X, checkpoint_dir=folder, checkpoint_every=0
    )
    uninterrupted = ckit.CoclusterVAE(3, 2, **PARAMS).fit(X)

    # Only the epochs after the checkpoint ran again; the history is the whole fit's.
    assert [entry["epoch"] for entry in seen] == list(range(done_before, total))
    assert len(resumed.history_) == len(uninterrupted.history_) == total
    # The same steps were taken: identical history, weights and labels.
    columns = [name for name in uninterrupted.history_ if name != "seconds"]
    pd.testing.assert_frame_equal(resumed.history_[columns], uninterrupted.history_[columns])
    np.testing.assert_array_equal(resumed.row_labels_, uninterrupted.row_labels_)
    np.testing.assert_array_equal(resumed.column_labels_, uninterrupted.column_labels_)
    np.testing.assert_array_equal(resumed.row_embedding_, uninterrupted.row_embedding_)
    np.testing.assert_array_equal(resumed.column_embedding_, uninterrupted.column_embedding_)
    assert resumed.bound_ == uninterrupted.bound_
    assert _read(folder / CHECKPOINT_FILE)["stage"] == "done"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A short fit with its finished checkpoint."""
    folder = tmp_path_factory.mktemp("finished")
    params = {**PARAMS, "max_epochs": 3, "pretrain_epochs": 1, "warmup_epochs": 1}
    X = _matrix()
    model = ckit.CoclusterVAE(3, 2, **params).fit(X, checkpoint_dir=folder)
    return folder, params, X, model


def test_finished_checkpoint_returns_the_same_fit_at_once(finished):
    folder, params, X, model = finished
    seen = []
    again = ckit.CoclusterVAE(3, 2, callbacks=[seen.append], **params).fit(X, checkpoint_dir=folder)
    assert seen == []  # nothing was trained again
    np.testing.assert_array_equal(again.row_embedding_, model.row_embedding_)
    np.testing.assert_array_equal(again.column_labels_, model.column_labels_)
    pd.testing.assert_frame_equal(again.history_, model.history_)


def test_seed_of_the_checkpoint_is_reused_when_random_state_is_none(tmp_path):
    params = {**PARAMS, "max_epochs": 2, "pretrain_epochs": 1, "warmup_epochs": 1}
    params["random_state"] = None
    X = _matrix()
    first = ckit.CoclusterVAE(3, 2, **params).fit(X, checkpoint_dir=tmp_path)
    again = ckit.CoclusterVAE(3, 2, **params).fit(X, checkpoint_dir=tmp_path)
    assert first.config_["seed"] == again.config_["seed"]
    np.testing.assert_array_equal(again.row_embedding_, first.row_embedding_)


def test_checkpoint_of_another_fit_is_refused(finished):
    folder, params, X, _ = finished
    other_values = X.copy()
    other_values[0, 0] += 1.0
    with pytest.raises(ValueError, match=r"differs in the values of X.*delete .*checkpoint.pt"):
        ckit.CoclusterVAE(3, 2, **params).fit(other_values, checkpoint_dir=folder)
    with pytest.raises(ValueError, match=r"shape"):
        ckit.CoclusterVAE(3, 2, **params).fit(X[:50], checkpoint_dir=folder)
    with pytest.raises(ValueError, match=r"learning_rate \(0.001 then, 0.01 now\)"):
        ckit.CoclusterVAE(3, 2, **{**params, "learning_rate": 0.01}).fit(X, checkpoint_dir=folder)
    with pytest.raises(ValueError, match=r"n_row_clusters \(3 then, 2 now\)"):
        ckit.CoclusterVAE(2, 2, **params).fit(X, checkpoint_dir=folder)


def test_unusable_checkpoint_dir_says_what_to_do(tmp_path, finished):
    _, params, X, _ = finished
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file"):
        ckit.CoclusterVAE(3, 2, **params).fit(X, checkpoint_dir=a_file)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / CHECKPOINT_FILE).write_bytes(b"\x80\x02 not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint.pt cannot be read.*delete"):
        ckit.CoclusterVAE(3, 2, **params).fit(X, checkpoint_dir=damaged)
    with pytest.raises(ValueError, match="checkpoint_every=-1"):
        ckit.CoclusterVAE(3, 2, **params).fit(
            X, checkpoint_dir=tmp_path / "new", checkpoint_every=-1
        )


def test_tl_cocluster_resumes_from_checkpoint_dir(finished):
    import anndata

    folder, params, X, model = finished
    adata, seen = anndata.AnnData(X.astype(np.float32)), []
    model_kwargs = {k: v for k, v in params.items() if k != "random_state"}
    ckit.tl.cocluster(
        adata,
        3,
        2,
        random_state=params["random_state"],
        checkpoint_dir=folder,
        callbacks=[seen.append],
        **model_kwargs,
    )
    assert seen == []  # the estimator's finished checkpoint was used
    np.testing.assert_array_equal(adata.obsm["X_cocluster"], model.row_embedding_)
    np.testing.assert_array_equal(adata.obs["cocluster_row"].cat.codes, model.row_labels_)
    with pytest.raises(ValueError, match=r"random_state \(3 then, 4 now\)"):
        ckit.tl.cocluster(adata, 3, 2, random_state=4, checkpoint_dir=folder, **model_kwargs)


def test_ckit_run_writes_and_checks_checkpoint_dir(tmp_path):
    from _cli_inputs import FAST, write_table
    from typer.testing import CliRunner

    from cocluster_kit.cli import app

    source = write_table(tmp_path)
    args = ["run", str(source), "-K", "2", "-L", "2", *FAST, "--no-progress", "--device", "cpu"]
    args += ["--checkpoint-dir", str(tmp_path / "ck")]
    first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    saved = _read(tmp_path / "ck" / CHECKPOINT_FILE)
    assert saved["stage"] == "done" and saved["fingerprint"]["shape"] == [24, 6]
    # A second run reads the checkpoint: another seed is refused, before any training.
    refused = CliRunner().invoke(app, [*args, "--seed", "5", "--out", str(tmp_path / "other")])
    assert refused.exit_code == 2 and "random_state (0 then, 5 now)" in refused.output
    # The same run again returns the finished fit and says how many epochs trained it.
    trained = re.search(r"trained (\d+) epochs", first.output)
    assert trained and int(trained.group(1)) > 0
    again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert f"trained {trained.group(1)} epochs, 0 of them in this run (resumed)" in again.output
