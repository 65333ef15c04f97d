"""The files ``ckit run`` writes, and the atomic writing every file output goes through.

Everything goes into a hidden temporary name beside its target (a folder for ``ckit run`` and
saved models, a file for reports and training checkpoints) and is renamed into place only when
complete, so a failed or killed write leaves no half-written file and never destroys a previous
good one. Every file the package writes goes through :func:`atomic_file` (one file) or
:func:`staged_output` / :func:`swap_into_place` (a folder); the Reuters download is staged the
same way in ``datasets/_reuters.py``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

RESULT_FILES = (
    "result.h5ad",
    "rows.csv",
    "columns.csv",
    "blocks.csv",
    "top_features.csv",
    "report.html",
    "model",
)
"""What an output folder of ``ckit run`` holds; a folder with anything else is never replaced."""


class OutputError(ValueError):
    """An output path that cannot be used; the message names the path and the fix."""


def default_output_dir(source: str | os.PathLike) -> Path:
    """``ckit-out/<source stem>`` under the working directory (a folder keeps its name)."""
    path = Path(source).expanduser()
    stem = path.name if path.is_dir() else path.stem
    return Path("ckit-out") / (stem or "result")


def check_output_dir(target: Path) -> None:
    """Refuse an output folder whose replacement would destroy something not ours.

    An absent folder, an empty one, or one holding only :data:`RESULT_FILES` (a previous
    result) can be written; anything else raises :class:`OutputError`.
    """
    if not target.exists():
        for parent in target.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(
                        f"--out {target}: {parent} is a file, not a folder; choose another "
                        "output folder."
                    )
                break
        return
    if not target.is_dir():
        raise OutputError(
            f"--out {target}: is a file, not a folder; choose a new folder name with --out."
        )
    foreign = sorted(entry.name for entry in target.iterdir() if entry.name not in RESULT_FILES)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(
            f"--out {target}: the folder holds files that are not a ckit result ({shown}); "
            "it would be replaced, so choose a new or empty folder with --out."
        )


@contextmanager
def staged_output(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` that becomes ``target`` when the block succeeds.

    On success an existing ``target`` is moved aside, the staged folder renamed into place,
    and the old one deleted; on failure the staged folder (and any parent folders created
    for it) is removed and ``target`` is left as it was.

    Parameters
    ----------
    target
        The output folder.

    Yields
    ------
    pathlib.Path
        The staging folder to write into.
    """
    check_output_dir(target)
    target = target.absolute()
    created = [parent for parent in reversed(target.parents) if not parent.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = fresh_path(target, "partial")
    staging.mkdir()  # os.mkdir honours the umask (mkdtemp would make it private)
    try:
        yield staging
        swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in reversed(created):
            try:
                parent.rmdir()
            except OSError:
                break
        raise


def swap_into_place(staging: Path, target: Path) -> None:
    """Rename the folder ``staging`` to ``target``, replacing an existing ``target`` at the end.

    An existing ``target`` is renamed aside first and deleted only once ``staging`` is in
    place; if that last rename fails, the old ``target`` is put back.
    """
    if not target.exists():
        os.replace(staging, target)
        return
    backup = fresh_path(target, "old")
    os.replace(target, backup)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def fresh_path(target: Path, kind: str) -> Path:
    """An unused hidden name beside ``target``: ``.<name>.<random>.<kind>``."""
    return target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.{kind}"


@contextmanager
def atomic_file(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces ``path`` when the block succeeds.

    Write the file's content to the yielded path; on success it is renamed over ``path``
    (``os.replace``, atomic on one file system), on any failure it is deleted and ``path``
    keeps its old content, or stays absent.

    Parameters
    ----------
    path
        The file to write (its folder must exist).
    durable
        Flush the new content to disk (``fsync``) before the rename, so that even a power
        cut leaves the old or the new file, never an empty one (used for checkpoints).

    Yields
    ------
    pathlib.Path
        The temporary path to write to (``.<name>.<random>.partial``).
    """
    target = Path(path)
    temporary = fresh_path(target, "partial")
    try:
        yield temporary
        if not temporary.is_file():
            raise FileNotFoundError(f"nothing was written to {temporary} (for {target}).")
        if durable:
            with open(temporary, "rb") as stream:
                os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def membership_table(names, labels, proba: np.ndarray) -> pd.DataFrame:
    """One line per item: ``name``, ``cluster``, ``probability`` (of it) and ``entropy``.

    Parameters
    ----------
    names
        Item names, in order.
    labels
        Cluster of each item, as integer codes ``0 .. k-1``.
    proba
        ``(n, k)`` soft memberships (rows sum to 1).

    Returns
    -------
    pandas.DataFrame
        ``probability`` is the item's membership probability of its cluster, ``entropy``
        the entropy of its memberships in nats (0 = certain, ``log k`` = undecided).
    """
    import pandas as pd

    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(proba > 0, proba * np.log(proba), 0.0).sum(axis=1)
    return pd.DataFrame(
        {
            "name": [str(name) for name in names],
            "cluster": labels,
            "probability": proba[np.arange(proba.shape[0]), labels],
            "entropy": np.maximum(entropy, 0.0),
        }
    )


def write_tables(adata: AnnData, folder: Path, *, key: str = "cocluster") -> None:
    """Write ``rows.csv``, ``columns.csv``, ``blocks.csv`` and ``top_features.csv``.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster` on which
        :func:`cocluster_kit.tl.top_features` ran.
    folder
        Where to write.
    key
        The ``key_added`` of the result.
    """
    from . import get

    for name, items, labels, proba in (
        ("rows.csv", adata.obs_names, adata.obs[f"{key}_row"], adata.obsm[f"{key}_row_proba"]),
        ("columns.csv", adata.var_names, adata.var[f"{key}_col"], adata.varm[f"{key}_col_proba"]),
    ):
        table = membership_table(items, labels.cat.codes.to_numpy(), proba)
        table.to_csv(folder / name, index=False)
    get.blocks_df(adata, key).to_csv(folder / "blocks.csv", index=False)
    get.top_features_df(adata, key).to_csv(folder / "top_features.csv", index=False)
