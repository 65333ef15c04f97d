"""Helpers shared by the benchmark scripts: cache files, git revision, machine line, RESULTS."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_json(path: Path, content: dict) -> None:
    """Write ``content`` under a temporary name, then rename (never a half-written cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as stream:
        json.dump(content, stream, indent=1, sort_keys=True)
    os.replace(temporary, path)


def store_run(path: Path, key: str, run: dict) -> None:
    """Add one run to the cache at ``path``, keeping runs other processes stored meanwhile.

    The cache is re-read under an exclusive lock and rewritten atomically, so several
    benchmark processes (say one per seed) can share one cache file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = read_json(path)
        cache[key] = run
        write_json(path, cache)


def package_stamps() -> tuple[str, str]:
    """Cache stamps: (for model runs: version + package tree, for baseline runs: version)."""
    import cocluster_kit as ckit

    return f"{ckit.__version__}+{code_revision()}", ckit.__version__


def run_missing(cache_path: Path, jobs) -> dict:
    """Run each ``(key, stamp, run)`` of ``jobs`` whose cached run lacks ``stamp``.

    ``run()`` returns the run's scores; each is stored with its stamp as soon as it ends and
    printed. Returns the cache, with the runs other processes stored meanwhile.
    """
    cache = read_json(cache_path)
    for key, stamp, run in jobs:
        if key in cache and cache[key].get("version") == stamp:
            continue
        result = run()
        cache[key] = {**result, "version": stamp}
        store_run(cache_path, key, cache[key])
        print(f"{key}: {result}", flush=True)
    return read_json(cache_path)


def code_revision() -> str:
    """The revision of the ``cocluster_kit`` package the runs use (``unknown`` outside git).

    The git tree hash of the package folder, with ``-dirty`` when it has uncommitted
    changes: commits that touch only benchmarks, tests or documents keep cached runs valid,
    and any change to the model's code invalidates them.
    """
    import subprocess

    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments], cwd=HERE, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        tree = git("rev-parse", "--short", "HEAD:cocluster_kit")
        changed = git("status", "--porcelain", "--", "../cocluster_kit")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{tree}-dirty" if changed else tree


def run_stamps(cache: dict, keys) -> str:
    """The distinct version stamps (package version + tree) of the cached runs at ``keys``."""
    stamps = sorted({cache[key]["version"] for key in keys if key in cache})
    return ", ".join(stamps) if stamps else "none"


def machine() -> str:
    """One line describing where the figures were measured."""
    import torch

    import cocluster_kit as ckit

    return (
        f"{platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"cocluster-kit {ckit.__version__}"
    )


def replace_section(path: Path, marker: str, body: str) -> None:
    """Replace the text between ``<!-- marker:start -->`` and ``<!-- marker:end -->``."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text()
    if start not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as stream:
        stream.write(f"{head}{start}\n{body}\n{end}{tail}")
    os.replace(temporary, path)


def add_run_options(parser: argparse.ArgumentParser, cache: Path) -> None:
    """The options every fitting script shares: seeds, cache, RESULTS, table only, threads."""
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--cache", type=Path, default=cache)
    parser.add_argument("--write", action="store_true", help="update RESULTS.md")
    parser.add_argument(
        "--table-only", action="store_true", help="print the table from the cache, fit nothing"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (1 when other jobs share the CPU)"
    )


def set_threads(threads: int) -> None:
    """Use ``threads`` torch threads (at least 1, at most the CPU count)."""
    import torch

    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))


def read_json(path: Path) -> dict:
    """The cache at ``path``, or an empty one."""
    return json.loads(path.read_text()) if path.exists() else {}
