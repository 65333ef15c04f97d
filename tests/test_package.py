"""The package installs with the layout of DESIGN.md and keeps heavy imports lazy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cocluster_kit as ckit

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_packages_install_under_cocluster_kit():
    import cocluster_kit.adapters as adapters
    import cocluster_kit.widgets as widgets

    assert Path(adapters.__file__).resolve().parent == ROOT / "adapters"
    assert Path(widgets.__file__).resolve().parent == ROOT / "widgets"


def test_public_names():
    assert ckit.__version__
    assert callable(ckit.CoclusterVAE)
    assert callable(ckit.metrics.nmi) and callable(ckit.datasets.load_benchmark)


def test_no_file_over_500_lines():
    long_files = [
        str(path.relative_to(ROOT))
        for folder in ("cocluster_kit", "adapters", "widgets")
        for path in (ROOT / folder).rglob("*.py")
        if len(path.read_text().splitlines()) > 500
    ]
    assert not long_files


def test_ruff_clean():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "cocluster_kit",
            "adapters",
            "widgets",
            "tests",
            "benchmarks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
