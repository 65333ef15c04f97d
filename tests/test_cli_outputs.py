"""The pieces behind ``ckit run``: the staged output folder, the tables, progress, messages."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from rich.console import Console

from cocluster_kit._outputs import (
    OutputError,
    check_output_dir,
    default_output_dir,
    membership_table,
    staged_output,
)
from cocluster_kit._progress import Messages, TrainingProgress


def test_default_output_dir_uses_the_source_stem(tmp_path):
    assert str(default_output_dir("data/abstracts.csv")) == "ckit-out/abstracts"
    (tmp_path / "letters").mkdir()
    assert default_output_dir(tmp_path / "letters").name == "letters"


def test_staged_output_creates_and_replaces_only_when_complete(tmp_path):
    target = tmp_path / "deep" / "er" / "out"
    with staged_output(target) as folder:
        assert folder.parent == target.parent and folder.name.startswith(".out.")
        assert not target.exists()
        (folder / "rows.csv").write_text("first")
    assert (target / "rows.csv").read_text() == "first"
    with staged_output(target) as folder:
        (folder / "rows.csv").write_text("second")
        (folder / "blocks.csv").write_text("new")
        assert (target / "rows.csv").read_text() == "first"  # untouched until the end
    assert sorted(p.name for p in target.iterdir()) == ["blocks.csv", "rows.csv"]
    assert (target / "rows.csv").read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out"]  # no backup left


def test_staged_output_failure_keeps_the_old_result_and_cleans_up(tmp_path):
    target = tmp_path / "out"
    with staged_output(target) as folder:
        (folder / "rows.csv").write_text("good")
    with pytest.raises(RuntimeError, match="boom"), staged_output(target) as folder:
        (folder / "rows.csv").write_text("half")
        raise RuntimeError("boom")
    assert (target / "rows.csv").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    fresh = tmp_path / "new" / "parents" / "out"
    with pytest.raises(RuntimeError), staged_output(fresh):
        raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()  # parents made for the run are removed again


def test_check_output_dir_refuses_what_is_not_a_result(tmp_path):
    check_output_dir(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "rows.csv").write_text("x")
    (tmp_path / "old" / "model").mkdir()
    check_output_dir(tmp_path / "old")
    (tmp_path / "old" / "thesis.tex").write_text("x")
    with pytest.raises(OutputError, match="thesis.tex"):
        check_output_dir(tmp_path / "old")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "out")


def test_membership_table():
    proba = np.array([[1.0, 0.0, 0.0], [0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    table = membership_table(["a", "b", "c"], np.array([0, 1, 2]), proba)
    assert table["name"].tolist() == ["a", "b", "c"]
    assert table["cluster"].tolist() == [0, 1, 2]
    assert np.allclose(table["probability"], [1.0, 0.5, 1 / 3])
    expected_b = -(0.2 * np.log(0.2) + 0.5 * np.log(0.5) + 0.3 * np.log(0.3))
    assert np.allclose(table["entropy"], [0.0, expected_b, np.log(3)])


def test_progress_bar_draws_stages_epochs_and_objective():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=120)
    entries = [{"epoch": i, "stage": "pretrain", "objective": 2.0 - i / 10} for i in range(3)]
    entries += [{"epoch": 3 + i, "stage": "train", "objective": 1.25} for i in range(4)]
    with TrainingProgress(console, enabled=True, totals={"pretrain": None, "train": 4}) as bar:
        for entry in entries:
            bar(entry)
    drawn = stream.getvalue()
    assert bar.epochs == 7
    assert "pretrain" in drawn and "train" in drawn
    assert "epoch    4/4" in drawn and "objective 1.25" in drawn
    silent = TrainingProgress(console, enabled=False, totals={})
    with silent:
        silent(entries[0])
    assert silent.epochs == 1


def test_messages_quiet_and_warnings(capsys):
    loud = Messages()
    with loud.capture_warnings():
        warnings.warn("3 of 30 documents\n have no term", UserWarning, stacklevel=1)
        warnings.warn("old api", DeprecationWarning, stacklevel=1)
    loud.say("done")
    err = capsys.readouterr().err
    assert err.splitlines() == ["warning: 3 of 30 documents have no term", "done"]
    quiet = Messages(quiet=True)
    with quiet.capture_warnings():
        warnings.warn("ignored", UserWarning, stacklevel=1)
    quiet.say("nothing")
    assert capsys.readouterr().err == ""
