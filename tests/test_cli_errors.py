"""Exit statuses of ``ckit run``: bad input exits 2 with one line, failures exit 1; no files."""

from __future__ import annotations

import pytest
from _cli_inputs import FAST, snapshot, write_corpus, write_table
from typer.testing import CliRunner

from cocluster_kit.cli import app

runner = CliRunner()


def _write(folder, name: str, content: bytes) -> str:
    (folder / name).write_bytes(content)
    return name


# Each case: (files to write -> source name, extra arguments, words the message must contain).
BAD_INPUTS = {
    "empty file": (lambda d: _write(d, "empty.csv", b""), [], ["empty.csv", "empty"]),
    "blank text file": (lambda d: _write(d, "blank.txt", b"\n   \n\t\n"), [], ["blank.txt"]),
    "binary file": (
        lambda d: _write(d, "data.csv", b"text,label\n\x00\x01\x02\xff\x00"),
        [],
        ["data.csv", "binary"],
    ),
    "non-text file": (
        lambda d: _write(d, "picture.png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        [],
        ["picture.png", "no adapter"],
    ),
    "undecodable text": (
        lambda d: _write(d, "latin.txt", "café crème brûlée\nthé\n".encode("latin-1")),
        [],
        ["latin.txt", "encoding"],
    ),
    "missing path": (lambda d: "nowhere/data.csv", [], ["nowhere/data.csv", "no such file"]),
    "table without numbers": (
        lambda d: _write(d, "words.csv", b"name,colour\na,red\nb,blue\nc,green\n"),
        [],
        ["words.csv", "numeric"],
    ),
    "table of missing values": (
        lambda d: _write(d, "holes.csv", b"a,b,c\n,,\n,,\n,,\n"),
        [],
        ["holes.csv"],
    ),
    "zero row clusters": (write_corpus, ["-K", "0"], ["-K/--row-clusters 0", "at least 1"]),
    "negative column clusters": (write_corpus, ["-L", "-2"], ["-L/--col-clusters -2"]),
    "more row clusters than rows": (write_corpus, ["-K", "31"], ["-K 30 or less", "docs.csv"]),
    "more column clusters than columns": (
        write_corpus,
        ["-K", "2", "-L", "500"],
        ["-L/--col-clusters 500", "columns read from docs.csv"],
    ),
    "negative epochs": (write_corpus, ["--epochs", "-1"], ["--epochs -1", "at least 1"]),
    "zero epochs": (write_corpus, ["--epochs", "0"], ["--epochs 0"]),
    "negative pretraining": (write_corpus, ["--pretrain-epochs", "-3"], ["--pretrain-epochs -3"]),
    "negative seed": (write_corpus, ["--seed", "-1"], ["--seed -1"]),
    "unknown adapter": (write_corpus, ["--adapter", "nope"], ["'nope'", "available adapters"]),
    "unknown device": (write_corpus, ["--device", "tpu"], ["--device tpu", "cpu"]),
    "missing label column": (write_corpus, ["--labels", "topic"], ["--labels topic", "label"]),
    "adapter option without a value": (write_corpus, ["-a", "max_features"], ["NAME=VALUE"]),
    "unknown adapter option": (
        write_corpus,
        ["-a", "colour=red"],
        ["docs.csv", "unknown option(s) ['colour']"],
    ),
    "unknown tabular option": (
        write_table,
        ["-a", "colour=red"],
        ["table.csv", "colour", "--adapter-option"],
    ),
    "output is a file": (write_corpus, ["--out", "docs.csv"], ["--out docs.csv", "not a folder"]),
}


def _source(case, folder):
    made = case(folder)
    return made.name if hasattr(made, "name") else made


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(name, tmp_path, monkeypatch):
    make, extra, words = BAD_INPUTS[name]
    monkeypatch.chdir(tmp_path)
    source = _source(make, tmp_path)
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["run", source, *FAST, *extra])  # the last flag wins
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ckit: error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(tmp_path) == before  # no result, no staging folder, no ckit-out/


def test_output_folder_with_foreign_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["run", "docs.csv", "--out", "mine", *FAST])
    assert result.exit_code == 2
    assert "--out mine" in result.stderr and "notes.txt" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_usage_errors_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path)
    for args in (["run"], ["run", "docs.csv", "-K", "many"], ["run", "docs.csv", "--bogus"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(tmp_path) == {"docs.csv"}


def _failing_fit(*args, **kwargs):
    from cocluster_kit.train import TrainingError

    raise TrainingError("the loss became NaN at epoch 2; lower learning_rate")


def test_failure_while_running_exits_1_and_leaves_the_old_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_table(tmp_path)
    good = runner.invoke(app, ["run", source.name, "-K", "2", "-q", *FAST])
    assert good.exit_code == 0, good.output
    rows_before = (tmp_path / "ckit-out" / "table" / "rows.csv").read_bytes()
    before = snapshot(tmp_path)
    monkeypatch.setattr("cocluster_kit.tl._cocluster.fit_model", _failing_fit)
    result = runner.invoke(app, ["run", source.name, "-K", "2", *FAST])
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("ckit: error: failed: TrainingError: the loss became NaN")
    assert "-v" in line and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
    assert (tmp_path / "ckit-out" / "table" / "rows.csv").read_bytes() == rows_before
    verbose = runner.invoke(app, ["run", source.name, "-K", "2", "-v", *FAST])
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr and "TrainingError" in verbose.stderr


def _contents(folder):
    """Every path under ``folder`` with the bytes of the files."""
    return {
        path: (folder / path).read_bytes() if (folder / path).is_file() else None
        for path in snapshot(folder)
    }


def test_failure_while_writing_keeps_the_previous_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_table(tmp_path)
    assert runner.invoke(app, ["run", source.name, "-K", "2", "-q", *FAST]).exit_code == 0
    before = _contents(tmp_path)

    def broken_report(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("cocluster_kit._report.write_report", broken_report)
    result = runner.invoke(app, ["run", source.name, "-K", "2", "--seed", "5", *FAST])
    assert result.exit_code == 1 and "disk full" in result.stderr
    assert _contents(tmp_path) == before  # old result intact, nothing half-written beside it
