"""Training checkpoints: the loop's whole state saved now and then, and resumed from.

A checkpoint is one file, ``checkpoint.pt`` in the checkpoint folder, written through a
temporary name and ``os.replace`` (so a kill mid-write leaves the previous checkpoint), and
read with ``torch.load(..., weights_only=True)``. It holds the module's and the optimiser's
state, the stage and next epoch, the best weights so far and the early-stopping counters, the
history, and the states of every random generator training draws from (torch's and the
batch sampler's numpy and torch generators), so a resumed fit takes the same steps as one
that was never interrupted. A fingerprint of the input and of the estimator's parameters is stored
with it; a checkpoint of another fit is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .._outputs import atomic_file
from .._version import __version__
from ._batches import BatchSampler

logger = logging.getLogger("cocluster_kit")

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
STAGES = ("pretrain", "train", "done")


@dataclass
class LoopState:
    """Where training is: what :func:`~cocluster_kit.train.fit_module` needs to go on.

    Attributes
    ----------
    stage
        ``"pretrain"``, ``"train"`` (after the mixtures were initialised) or ``"done"``.
    epoch
        The next epoch to run within ``stage``.
    history
        One dict per finished epoch.
    best_loss, best_state, best_epoch, stale
        Early stopping: the best full-weight objective, the weights that gave it (``None``
        before the first full-weight epoch) and their epoch, epochs since it last improved.
    optimizer_state
        The optimiser's state to load before the next step (set on resume only).
    """

    stage: str = "pretrain"
    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_loss: float = math.inf
    best_state: dict | None = None
    best_epoch: int = -1
    stale: int = 0
    optimizer_state: dict | None = None


def fingerprint(matrix: sp.csr_matrix, missing: sp.csr_matrix | None, params: dict) -> dict:
    """What identifies one fit: the input's shape, stored entries and content, and parameters.

    Parameters
    ----------
    matrix
        The validated CSR input.
    missing
        Its missing pattern, or ``None``.
    params
        The estimator parameters that change the result (JSON-serialisable).

    Returns
    -------
    dict
        ``shape``, ``nnz``, ``n_missing``, ``content`` (SHA-256 of the CSR arrays and the
        missing pattern) and ``params``.
    """
    digest = hashlib.sha256()
    for array in (matrix.indptr, matrix.indices, matrix.data):
        digest.update(np.ascontiguousarray(array).tobytes())
    n_missing = 0
    if missing is not None:
        missing = sp.csr_matrix(missing)
        n_missing = int(missing.nnz)
        for array in (missing.indptr, missing.indices):
            digest.update(np.ascontiguousarray(array).tobytes())
    return {
        "shape": [int(size) for size in matrix.shape],
        "nnz": int(matrix.nnz),
        "n_missing": n_missing,
        "content": digest.hexdigest(),
        "params": json.loads(json.dumps(params, default=str)),
    }


def _differences(saved: dict, current: dict) -> list[str]:
    """Readable names of what differs between two fingerprints."""
    names = [key for key in ("shape", "nnz", "n_missing", "content") if saved[key] != current[key]]
    names = [("the values of X" if key == "content" else key) for key in names]
    if "shape" in names or "nnz" in names:
        names = [name for name in names if name != "the values of X"]
    for key in sorted(set(saved["params"]) | set(current["params"])):
        old, new = saved["params"].get(key), current["params"].get(key)
        if old != new:
            names.append(f"{key} ({old!r} then, {new!r} now)")
    return names


class Checkpointer:
    """Saves training state into a folder and gives it back to a later fit.

    Parameters
    ----------
    folder
        The checkpoint folder (created if needed).
    fingerprint
        :func:`fingerprint` of this fit; an existing checkpoint with another one is refused.
    every
        Seconds between two saves (checked at the end of each epoch); ``0`` saves after every
        epoch. The end of pre-training and the end of training are always saved.

    Raises
    ------
    ValueError
        If ``folder`` is a file, its checkpoint cannot be read, or belongs to another fit.
    """

    def __init__(self, folder, fingerprint: dict, *, every: float = 60.0) -> None:
        if not isinstance(every, numbers.Real) or isinstance(every, bool) or not every >= 0:
            raise ValueError(
                f"checkpoint_every={every!r} must be a non-negative number of seconds "
                "(0 saves after every epoch)."
            )
        self.folder = Path(folder).expanduser()
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(
                f"checkpoint_dir={str(folder)!r} is a file; give a folder (it is created if "
                "needed)."
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / CHECKPOINT_FILE
        self.fingerprint = fingerprint
        self.every = float(every)
        self.seed: int | None = None
        self._last_save = time.monotonic()
        for leftover in self.folder.glob(f".{CHECKPOINT_FILE}.*.partial"):
            leftover.unlink(missing_ok=True)  # a save that was killed mid-write
        self.saved = self._read() if self.path.is_file() else None
        if self.saved is not None:
            self.seed = int(self.saved["seed"])

    def _read(self) -> dict:
        fix = f"delete {self.path} (or give another checkpoint_dir) to start afresh"
        try:
            saved = torch.load(self.path, weights_only=True, map_location="cpu")
        except Exception as error:  # torch raises several types for damaged files
            raise ValueError(
                f"checkpoint_dir: {self.path} cannot be read ({type(error).__name__}); {fix}."
            ) from None
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            found = saved.get("format") if isinstance(saved, dict) else None
            raise ValueError(
                f"checkpoint_dir: {self.path} is in checkpoint format {found!r}, this "
                f"cocluster-kit reads format {CHECKPOINT_FORMAT}; {fix}."
            )
        differences = _differences(saved["fingerprint"], self.fingerprint)
        if differences:
            raise ValueError(
                f"checkpoint_dir: {self.path} is the checkpoint of another fit (it differs in "
                f"{'; '.join(differences)}); pass the same X and parameters to resume it, "
                f"or {fix}."
            )
        if saved.get("package_version") != __version__:
            logger.warning(
                "%s was written by cocluster-kit %s, this is %s: the resumed fit may differ "
                "from an uninterrupted one",
                self.path,
                saved.get("package_version"),
                __version__,
            )
        return saved

    def restore(self, module: torch.nn.Module, sampler: BatchSampler) -> LoopState:
        """Load the saved state into ``module``, ``sampler`` and the random generators.

        Returns a fresh :class:`LoopState` when there is nothing to resume.
        """
        if self.saved is None:
            return LoopState()
        saved = self.saved
        module.load_state_dict(saved["module"])
        sampler.load_state_dict(saved["sampler"])
        _set_rng_states(saved["rng"], sampler.device)
        logger.info(
            "resuming from %s: %s epoch %d, %d epochs done",
            self.path,
            saved["stage"],
            saved["epoch"],
            len(saved["history"]),
        )
        return LoopState(
            stage=saved["stage"],
            epoch=int(saved["epoch"]),
            history=list(saved["history"]),
            best_loss=float(saved["best_loss"]),
            best_state=saved["best_state"],
            best_epoch=int(saved["best_epoch"]),
            stale=int(saved["stale"]),
            optimizer_state=saved["optimizer"],
        )

    def save(
        self,
        state: LoopState,
        module: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        sampler: BatchSampler,
        *,
        force: bool = False,
    ) -> bool:
        """Write a checkpoint if ``every`` seconds passed since the last one (or ``force``).

        Returns whether one was written.
        """
        if not force and time.monotonic() - self._last_save < self.every:
            return False
        if self.seed is None:
            raise RuntimeError("Checkpointer.seed must be set before the first save.")
        best = state.best_state
        payload = {
            "format": CHECKPOINT_FORMAT,
            "package_version": __version__,
            "fingerprint": self.fingerprint,
            "seed": int(self.seed),
            "stage": state.stage,
            "epoch": int(state.epoch),
            "history": state.history,
            "best_loss": float(state.best_loss),
            "best_state": None if best is None else _cpu(best),
            "best_epoch": int(state.best_epoch),
            "stale": int(state.stale),
            "module": _cpu(module.state_dict()),
            "optimizer": optimizer.state_dict(),
            "sampler": sampler.state_dict(),
            "rng": _rng_states(sampler.device),
        }
        with atomic_file(self.path, durable=True) as temporary:
            torch.save(payload, temporary)
        self._last_save = time.monotonic()
        return True


def _cpu(state: dict) -> dict:
    return {name: value.detach().cpu() for name, value in state.items()}


def _rng_states(device: torch.device) -> dict:
    """The states of torch's CPU generator and of the device's.

    numpy's global generator is not saved: the package never draws from it (the sampler and
    the mixture initialisation use their own seeded generators).
    """
    states = {"device": device.type, "torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        states["mps"] = torch.mps.get_rng_state()
    return states


def _set_rng_states(states: dict, device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)
    elif device.type == "mps" and "mps" in states:
        torch.mps.set_rng_state(states["mps"])
    if states.get("device") != device.type:
        logger.warning(
            "the checkpoint was written on %s and training goes on on %s; the resumed fit "
            "will not repeat an uninterrupted one exactly",
            states.get("device"),
            device.type,
        )
