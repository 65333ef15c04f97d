"""Data-parallel training under torchrun (gloo on CPU): equal to one process, or it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anndata
import pytest
import torch
from _cli_inputs import FAST, write_table

HERE = Path(__file__).parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="this torch build has no torch.distributed"
)


def _launch(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        environment.pop(name, None)
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=environment, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _largest_difference(first: dict, second: dict) -> float:
    assert first.keys() == second.keys()
    return max(float((first[name] - second[name]).abs().max()) for name in first)


def test_two_processes_equal_one_process_on_the_same_global_batches(tmp_path):
    script = str(HERE / "_ddp_fit.py")
    _launch([sys.executable, script, "one.pt"], tmp_path)
    _launch([*TORCHRUN, script, "two.pt"], tmp_path)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert one["world_size"] == 1 and two["world_size"] == 2
    assert _largest_difference(one["state"], two["state"]) < 1e-4
    # The same two processes without any synchronisation train apart: the check has teeth.
    _launch([*TORCHRUN, script, "unsynced.pt"], tmp_path, CKIT_DDP_SYNC="0")
    unsynced = torch.load(tmp_path / "unsynced.pt")
    assert _largest_difference(one["state"], unsynced["state"]) > 1e-2


def test_ckit_run_under_torchrun_two_processes(tmp_path):
    source = write_table(tmp_path)
    result = _launch(
        [*TORCHRUN, "-m", "cocluster_kit", "run", source.name, "-K", "2", "--out", "out", *FAST],
        tmp_path,
    )
    assert "torchrun: 2 processes" in result.stderr
    adata = anndata.read_h5ad(tmp_path / "out" / "result.h5ad")
    assert adata.uns["cocluster"]["params"]["world_size"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "table.csv"]
