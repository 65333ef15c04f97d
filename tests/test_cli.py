"""``ckit run`` end to end: the output folder, its files, the other commands, ranks."""

from __future__ import annotations

import json
import subprocess
import sys

import anndata
import numpy as np
import pandas as pd
import pytest
from _cli_inputs import FAST, run_module, snapshot, write_corpus, write_table
from typer.testing import CliRunner

from cocluster_kit import __version__
from cocluster_kit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """One real ``python -m cocluster_kit run`` on a 30-document corpus (a subprocess)."""
    folder = tmp_path_factory.mktemp("corpus")
    source = write_corpus(folder)
    result = run_module(["run", source.name, "-K", "3", "-L", "3", *FAST], cwd=folder)
    return folder, source, result


def test_run_as_a_subprocess_writes_every_output(corpus_run):
    folder, _, result = corpus_run
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # results go to files, messages to stderr
    out = folder / "ckit-out" / "docs"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "result.h5ad",
            "rows.csv",
            "columns.csv",
            "blocks.csv",
            "top_features.csv",
            "report.html",
            "model",
        ]
    )
    assert sorted(p.name for p in (out / "model").iterdir()) == ["model.json", "model.pt"]
    assert not [p for p in folder.rglob(".*")]  # no staging folder left
    assert "report: ckit-out/docs/report.html" in result.stderr
    assert "scores against obs['label']" in result.stderr and "NMI" in result.stderr


def test_rows_csv_has_one_line_per_source_row_in_order(corpus_run):
    folder, source, _ = corpus_run
    rows = pd.read_csv(folder / "ckit-out" / "docs" / "rows.csv")
    assert list(rows.columns) == ["name", "cluster", "probability", "entropy"]
    assert len(rows) == len(pd.read_csv(source))
    assert rows["name"].astype(str).tolist() == [str(i) for i in range(30)]
    assert rows["cluster"].between(0, 2).all()
    assert ((rows["probability"] > 0) & (rows["probability"] <= 1 + 1e-6)).all()
    assert ((rows["entropy"] >= 0) & (rows["entropy"] <= np.log(3) + 1e-6)).all()
    # entropy bounds given the chosen cluster's probability p over K = 3 clusters:
    # -log p <= H <= h(p) + (1 - p) log(K - 1), with h the binary entropy
    p, entropy = rows["probability"].to_numpy(), rows["entropy"].to_numpy()
    q = np.clip(1 - p, 1e-12, 1)
    binary = -(p * np.log(p) + q * np.log(q))
    assert np.all(entropy >= -np.log(p) - 1e-5)
    assert np.all(entropy <= binary + (1 - p) * np.log(2) + 1e-5)


def test_tables_agree_with_result_h5ad(corpus_run):
    folder = corpus_run[0] / "ckit-out" / "docs"
    adata = anndata.read_h5ad(folder / "result.h5ad")
    rows = pd.read_csv(folder / "rows.csv")
    assert rows["cluster"].astype(str).tolist() == adata.obs["cocluster_row"].astype(str).tolist()
    proba = adata.obsm["cocluster_row_proba"]
    assert np.allclose(rows["probability"], proba[np.arange(len(rows)), rows["cluster"]], atol=1e-6)
    columns = pd.read_csv(folder / "columns.csv", keep_default_na=False)
    assert columns["name"].tolist() == adata.var_names.tolist()
    assert (
        columns["cluster"].astype(str).tolist() == adata.var["cocluster_col"].astype(str).tolist()
    )
    blocks = pd.read_csv(folder / "blocks.csv")
    assert len(blocks) == 9
    assert {"size", "mean", "enrichment"} <= set(blocks.columns)
    assert blocks["n_rows"].groupby(blocks["row_cluster"]).first().sum() == adata.n_obs
    top = pd.read_csv(folder / "top_features.csv")
    assert set(top["feature"]) <= set(adata.var_names)
    assert adata.uns["ckit_source"]["adapter"] == "text"
    run = adata.uns["ckit_run"]
    assert run["command"].startswith("ckit run docs.csv -K 3 -L 3")
    assert run["labels"] == "label" and run["version"] == __version__
    params = adata.uns["cocluster"]["params"]
    assert params["max_epochs"] == 3 and params["pretrain_epochs"] == 3
    assert params["random_state"] == 0
    saved = json.loads((folder / "model" / "model.json").read_text())
    assert saved["row_names"] == adata.obs_names.tolist()


def test_report_command_rebuilds_the_page(corpus_run, tmp_path):
    folder = corpus_run[0] / "ckit-out" / "docs"
    page = tmp_path / "page.html"
    result = runner.invoke(app, ["report", str(folder / "result.h5ad"), "--out", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert 'id="labels"' in text and "purity-ACC" in text
    assert f"report: {page}" in result.stderr


def test_report_command_refuses_a_file_without_result(tmp_path):
    plain = tmp_path / "plain.h5ad"
    anndata.AnnData(np.ones((3, 2), dtype=np.float32)).write_h5ad(plain)
    result = runner.invoke(app, ["report", str(plain)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "holds no co-clustering" in result.stderr and "ckit run" in result.stderr
    not_h5ad = tmp_path / "notes.h5ad"
    not_h5ad.write_text("hello")
    result = runner.invoke(app, ["report", str(not_h5ad)])
    assert result.exit_code == 2 and "cannot be read as an .h5ad file" in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_table_source_in_process_with_out_and_quiet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_table(tmp_path)
    args = ["run", source.name, "-K", "2", "-L", "3", "--out", "res", "--seed", "1", "-q"]
    args += ["-a", "index_col=sample", *FAST]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and result.stdout == ""  # -q: nothing at all
    rows = pd.read_csv(tmp_path / "res" / "rows.csv")
    assert rows["name"].tolist() == [f"s{i:02d}" for i in range(24)]
    adata = anndata.read_h5ad(tmp_path / "res" / "result.h5ad")
    assert adata.uns["cocluster"]["params"]["random_state"] == 1
    assert adata.uns["ckit_source"]["adapter"] == "tabular"
    assert adata.uns["ckit_run"]["command"].endswith("-a index_col=sample")
    assert "labels" not in (tmp_path / "res" / "report.html").read_text().split('id="')[-1]


def test_a_second_run_replaces_a_previous_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_table(tmp_path)
    for seed in ("0", "2"):
        result = runner.invoke(app, ["run", source.name, "-K", "2", "--seed", seed, "-q", *FAST])
        assert result.exit_code == 0, result.output
    adata = anndata.read_h5ad(tmp_path / "ckit-out" / "table" / "result.h5ad")
    assert adata.uns["cocluster"]["params"]["random_state"] == 2
    assert not [p for p in tmp_path.rglob(".*")]


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_table(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = runner.invoke(app, ["run", source.name, "-K", "2", *FAST])
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path) == before
    assert result.stderr == ""
    monkeypatch.setenv("RANK", "0")
    result = runner.invoke(app, ["run", source.name, "-K", "2", "-q", *FAST])
    assert result.exit_code == 0 and (tmp_path / "ckit-out" / "table" / "report.html").is_file()


def test_is_main_process_reads_rank(monkeypatch):
    from cocluster_kit._distributed import is_main_process, world_size

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert is_main_process() and world_size() == 1
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert not is_main_process() and world_size() == 4
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()


def test_version_and_adapters():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"ckit (cocluster-kit) {__version__}"
    result = runner.invoke(app, ["adapters"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.strip().splitlines()]
    assert names[:3] == ["text", "anndata", "tabular"]


def test_help_starts_without_torch(tmp_path):
    code = (
        "import sys\n"
        "from cocluster_kit.cli import main\n"
        "sys.argv = ['ckit', '--help']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print('torch' in sys.modules, 'anndata' in sys.modules, code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and "run" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "False False 0"
    module = run_module(["--version"], cwd=tmp_path)
    assert module.returncode == 0 and module.stdout.strip().endswith(__version__)
