"""The same seed gives the same labels: twice in one process, and in separate processes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import torch

import cocluster_kit as ckit

PARAMS = {"max_epochs": 4, "pretrain_epochs": 2, "n_samples": 2, "progress": False}
PARAMS.update(device="cpu", random_state=11, hidden=(32,), n_cells=64)

# Prints the labels and the embedding's sum of a fit of the conftest checkerboard.
CHILD = """
import json
import torch
from sklearn.datasets import make_checkerboard
import cocluster_kit as ckit

torch.set_num_threads({threads})
X = make_checkerboard((60, 40), (3, 2), noise=2.0, random_state=0)[0]
model = ckit.CoclusterVAE(3, 2, **{params}).fit(X)
print(json.dumps({{
    "rows": model.row_labels_.tolist(),
    "columns": model.column_labels_.tolist(),
    "embedding": model.row_embedding_.astype(float).tolist(),
}}))
"""


def _result(model) -> dict:
    return {
        "rows": model.row_labels_.tolist(),
        "columns": model.column_labels_.tolist(),
        "embedding": model.row_embedding_.astype(float).tolist(),
    }


def test_same_seed_same_labels_in_one_process_whatever_the_global_generators(
    small_checkerboard,
):
    X = small_checkerboard[0]
    first = ckit.CoclusterVAE(3, 2, **PARAMS).fit(X)
    # Draws from the global generators in between must not change the next fit.
    np.random.seed(12345)  # noqa: NPY002 - the legacy global generator on purpose
    np.random.random(7)  # noqa: NPY002
    torch.manual_seed(999)
    torch.rand(5)
    second = ckit.CoclusterVAE(3, 2, **PARAMS).fit(X)
    assert _result(first) == _result(second)


def test_same_seed_same_labels_in_separate_processes(tmp_path, small_checkerboard):
    script = tmp_path / "fit.py"
    script.write_text(CHILD.format(threads=torch.get_num_threads(), params=PARAMS))
    # A fresh interpreter (its own imports, generators and memory layout) against this one.
    child = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert child.returncode == 0, child.stderr[-2000:]
    there = json.loads(child.stdout.strip().splitlines()[-1])
    here = _result(ckit.CoclusterVAE(3, 2, **PARAMS).fit(small_checkerboard[0]))
    assert there == here
    assert len(set(here["rows"])) > 1  # a real partition, not a constant
