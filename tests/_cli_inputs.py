"""Tiny inputs for the command-line and report tests, written into a test's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TOPICS = {
    "sport": "ball goal team match player score coach league".split(),
    "money": "bank loan rate market stock price fund trade".split(),
    "food": "bread cheese apple soup salad pasta wine fruit".split(),
}
# Flags that keep a fit to a second or two on a tiny matrix.
FAST = ["--epochs", "3", "--pretrain-epochs", "3"]


def write_corpus(folder: Path, n_docs: int = 30, name: str = "docs.csv") -> Path:
    """A CSV corpus (``text``, ``label``) of three topics with eight words each."""
    rng = np.random.default_rng(0)
    names = list(TOPICS)
    rows = []
    for i in range(n_docs):
        topic = names[i % len(names)]
        rows.append({"text": " ".join(rng.choice(TOPICS[topic], 12)), "label": topic})
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_table(folder: Path, name: str = "table.csv") -> Path:
    """A numeric 24 x 6 table with a few missing values and a ``sample`` name column."""
    rng = np.random.default_rng(1)
    values = np.repeat(
        np.array([[4.0, 4.0, 0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 4.0, 4.0, 1.0, 1.0]]), 12, 0
    )
    values = values + rng.normal(scale=0.3, size=values.shape)
    values[3, 2] = values[10, 5] = np.nan
    frame = pd.DataFrame(values, columns=[f"g{j}" for j in range(6)])
    frame.insert(0, "sample", [f"s{i:02d}" for i in range(len(frame))])
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def run_module(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python -m cocluster_kit ARGS`` in a real subprocess (one thread for torch)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "cocluster_kit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


def snapshot(folder: Path) -> set[str]:
    """Every path under ``folder`` (hidden ones included), relative to it."""
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}
