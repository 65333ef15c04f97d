"""Which process of a ``torchrun`` launch this is, read from the environment torchrun sets."""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    """An integer environment variable; a missing, empty or malformed value gives ``default``."""
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        return default


def rank() -> int:
    """The global rank of this process: ``$RANK`` as set by ``torchrun``, else 0."""
    return _env_int("RANK", 0)


def world_size() -> int:
    """The number of processes: ``$WORLD_SIZE`` as set by ``torchrun``, else 1."""
    return max(1, _env_int("WORLD_SIZE", 1))


def is_main_process() -> bool:
    """Whether this process writes results and messages: rank 0, or not under ``torchrun``.

    Under ``torchrun --nproc_per_node=N -m cocluster_kit run ...`` every process runs the
    command; only the one with ``RANK=0`` writes the output folder, shows progress and prints
    messages, so the ranks never race on the same files.

    Returns
    -------
    bool
        True when ``$RANK`` is unset, empty or ``0``.
    """
    return rank() == 0
