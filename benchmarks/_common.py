"""Helpers shared by the benchmark scripts: cache files, git revision, machine line, RESULTS."""

from __future__ import annotations

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


def code_revision() -> str:
    """``git describe --always --dirty`` of the checkout (``unknown`` outside git)."""
    import subprocess

    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return described.stdout.strip()


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
