"""Data-parallel training with plain ``torch.distributed`` (DDP), started by ``torchrun``.

Every process reads the same matrix. Per step, all ranks draw the same *global* row batch and
column batch from one shared seeded stream; rank ``r`` keeps its contiguous share of the rows
(the rows are sharded, the column batch and the column sketch are shared), and
``DistributedDataParallel`` averages the gradients. The cross-loss tables are sums over the
block's rows, so they are all-reduced (differentiably) before use; the epoch's loss terms are
averaged so that every rank takes the same early-stopping decisions. With the ``elbo``
estimator, no critic and no cell level, two processes reproduce one process on the same global
batches exactly (up to float summation order); otherwise they are statistically equivalent.
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._distributed import rank, world_size

logger = logging.getLogger("cocluster_kit")

# Private switch for tests: "0" turns every synchronisation off (gradients, MI tables, loss
# terms), so a test can show that a broken sync gives different parameters.
_SYNC_ENV = "CKIT_DDP_SYNC"


@dataclass(frozen=True)
class Shard:
    """Which part of every global row batch this process trains on."""

    rank: int = 0
    world_size: int = 1

    def window(self, global_size: int) -> tuple[int, int]:
        """``(start, stop)`` of this rank's contiguous share of a batch of ``global_size``."""
        bounds = np.linspace(0, global_size, self.world_size + 1).round().astype(int)
        return int(bounds[self.rank]), int(bounds[self.rank + 1])


def synchronised() -> bool:
    """Whether ranks synchronise (always, unless a test switched it off)."""
    return os.environ.get(_SYNC_ENV, "1") != "0"


def start(device: torch.device) -> tuple[Shard, torch.device]:
    """Join the ``torchrun`` process group when there is one; the shard and the device.

    Backend ``nccl`` on CUDA (each rank on ``cuda:$LOCAL_RANK``), ``gloo`` otherwise. One
    process (no ``$WORLD_SIZE`` above 1), or a rank environment without the rendezvous
    address torchrun sets (``$MASTER_ADDR``), gives ``Shard()`` and the device unchanged.
    """
    size = world_size()
    if size == 1 or not os.environ.get("MASTER_ADDR"):
        if size > 1:
            logger.warning("$WORLD_SIZE=%d without $MASTER_ADDR: training alone", size)
        return Shard(), device
    import torch.distributed as dist

    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        logger.info("torch.distributed: rank %d of %d (%s)", rank(), size, dist.get_backend())
    return Shard(rank(), size), device


class _AllReduceSum(torch.autograd.Function):
    """``dist.all_reduce`` (sum) whose gradient is the all-reduced gradient."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # noqa: D102
        import torch.distributed as dist

        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        import torch.distributed as dist

        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over the processes, differentiable (gradients are summed back).

    Every rank's loss then has the same value, so DDP's averaging of the gradients gives
    the gradient of that one loss with respect to every rank's share.
    """
    return _AllReduceSum.apply(tensor)


def wrap(module: nn.Module, shard: Shard, device: torch.device) -> nn.Module | None:
    """``DistributedDataParallel`` around ``module`` for several synchronised processes.

    Also points the cross-loss at :func:`all_reduce_sum`. Returns None in one process (or
    with the sync switched off), where the module trains as it is.
    """
    if shard.world_size == 1 or not synchronised():
        return None
    module.mutual_information.reduce = all_reduce_sum
    options = {}
    # The MI tables are all-reduced, hence equal on every rank: no buffer sync per step.
    if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters:
        options["forward_sync_buffers"] = False
    else:  # torch before the rename
        options["broadcast_buffers"] = False
    return nn.parallel.DistributedDataParallel(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True,  # pre-training leaves the mixtures unused
        **options,
    )


def unwrap(module: nn.Module) -> None:
    """Undo :func:`wrap`'s change to the module (so it saves and predicts on its own)."""
    module.mutual_information.reduce = lambda tensor: tensor


def average_terms(sums: dict[str, torch.Tensor], shard: Shard) -> dict[str, torch.Tensor]:
    """The epoch's summed loss terms averaged over the processes (one all-reduce)."""
    if shard.world_size == 1 or not synchronised() or not sums:
        return sums
    import torch.distributed as dist

    names = sorted(sums)
    stacked = torch.stack([sums[name].detach().float() for name in names])
    dist.all_reduce(stacked)
    stacked /= shard.world_size
    return dict(zip(names, stacked.unbind(), strict=True))


def broadcast_parameters(module: nn.Module, shard: Shard) -> None:
    """Copy rank 0's parameters and buffers to every rank (after the mixture fits)."""
    if shard.world_size == 1 or not synchronised():
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)
