"""Small helpers shared by the estimator and the training loop."""

from __future__ import annotations

import logging
import numbers

import numpy as np

logger = logging.getLogger("cocluster_kit")

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str):
    """``"auto"`` → CUDA, else Apple MPS, else CPU; an explicit choice is checked."""
    import torch

    name = str(device)
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"device={device!r} is not one of {', '.join(DEVICE_CHOICES)}.")
    if kind == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
        logger.info("device='auto' resolved to %s", name)
    elif kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available; use 'auto'.")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was asked for but MPS is not available; use 'auto'.")
    return torch.device(name)


def resolve_seed(random_state) -> int:
    """An integer seed from ``None`` (fresh entropy), an int, or a numpy generator."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] % (2**31))
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state={random_state} must be non-negative.")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    raise ValueError(
        f"random_state={random_state!r} must be None, an int, or a numpy random generator."
    )


def is_positive_int(value) -> bool:
    """An integer of at least 1 (numpy integers too; ``True`` is not one)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
