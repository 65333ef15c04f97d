"""Atomic writing: a write that fails leaves the previous file as it was, and no leftovers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cocluster_kit as ckit  # noqa: E402
from cocluster_kit._outputs import atomic_file  # noqa: E402
from cocluster_kit._report import write_report  # noqa: E402


def test_atomic_file_replaces_on_success_only(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with atomic_file(target) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".table.csv.")
        temporary.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the block ends
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(target) as temporary:
        temporary.write_text("half a ta")
        raise RuntimeError("disk full")
    assert target.read_text() == "new"
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_file(target, durable=True):
            pass
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_file_creates_a_new_file_durably(tmp_path):
    with atomic_file(tmp_path / "fresh.bin", durable=True) as temporary:
        temporary.write_bytes(b"\x00\x01")
    assert (tmp_path / "fresh.bin").read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["fresh.bin"]


def test_report_that_cannot_be_encoded_leaves_the_old_page(tmp_path):
    X, _, _ = ckit.datasets.make_coclusters((30, 10), 2, 2, random_state=0)
    adata = __import__("anndata").AnnData(X.astype(np.float32))
    fast = {"max_epochs": 2, "pretrain_epochs": 1, "progress": False, "device": "cpu"}
    ckit.tl.cocluster(adata, 2, 2, random_state=0, **fast)
    page = write_report(adata, tmp_path / "report.html", title="first")
    before = page.read_bytes()
    # A title with a lone surrogate (as from a badly decoded file name) cannot be UTF-8.
    with pytest.raises(UnicodeEncodeError):
        write_report(adata, tmp_path / "report.html", title="bad \udce9 name")
    assert page.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
