"""The prepared scale scripts run: ``gpu_check.py --small``, ``speed.py --smoke``, its text part."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_script(name: str, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``benchmarks/<name>`` with one torch thread; returns the finished process."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *arguments],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


def test_gpu_check_small_runs_on_cpu(tmp_path):
    out = tmp_path / "figures.json"
    result = run_script("gpu_check.py", "--small", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert "rows_per_s" in result.stdout and figures["rows_per_s"] > 0
    assert figures["shape"] == [2000, 500] and figures["epochs"] == 3
    assert figures["row_nmi"] > 0.5 and figures["column_nmi"] > 0.5


def test_speed_smoke_prints_every_table(tmp_path):
    out = tmp_path / "speed.json"
    result = run_script("speed.py", "--smoke", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert [r["rows"] for r in figures["rows"]] == [300, 600]
    assert all(r["seconds_per_epoch"] > 0 and r["peak_rss_gb"] > 0 for r in figures["rows"])
    assert [r["density"] for r in figures["first_layer"]] == [0.01, 0.2]
    assert "| rows | cols |" in result.stdout and "| density | dense ms |" in result.stdout


def test_speed_text_part_compares_with_spectral(tmp_path):
    rng = __import__("numpy").random.default_rng(0)
    topics = {"sport": [f"sport{i}" for i in range(30)], "money": [f"money{i}" for i in range(30)]}
    lines = ["text,label"]
    for label, words in topics.items():
        for _ in range(30):
            lines.append(" ".join(rng.choice(words, size=25)) + f",{label}")
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("\n".join(lines) + "\n")
    out = tmp_path / "speed.json"
    result = run_script(
        "speed.py", "--text-only", "--corpus", str(corpus), "--seeds", "0", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = json.loads(out.read_text())["text"]
    assert text["shape"][0] == 60 and text["classes"] == 2 and len(text["runs"]) == 1
    assert text["model_nmi"] > 0.9 and text["spectral_s"] > 0 and text["model_s"] > 0
    assert "model / spectral wall time" in result.stdout and "| corpus | shape |" in result.stdout
