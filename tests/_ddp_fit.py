"""Run by ``test_distributed.py``, alone or under ``torchrun``: fit, then save parameters.

Usage: ``python _ddp_fit.py OUT.pt`` (one process), or ``torchrun --nproc_per_node=2
_ddp_fit.py OUT.pt``. The settings make the result a deterministic function of the global
batches (``elbo`` estimator, no critic, no cell level), so two processes must reproduce one.
Rank 0 writes the module's parameters and ``world_size_`` to ``OUT.pt``.
"""

from __future__ import annotations

import sys

import torch

import cocluster_kit as ckit
from cocluster_kit._distributed import is_main_process


def main(out: str) -> None:
    torch.set_num_threads(1)
    X, _, _ = ckit.datasets.make_coclusters((96, 24), 2, 2, sparse=True, random_state=0)
    model = ckit.CoclusterVAE(
        2,
        2,
        estimator="elbo",
        critic=False,
        joint=False,
        hidden=(16,),
        latent_dim=3,
        row_batch_size=32,  # the global batch: 16 rows on each of two ranks
        col_batch_size=12,
        max_epochs=3,
        pretrain_epochs=2,
        warmup_epochs=1,
        mixture_init="gmm",
        progress=False,
        device="cpu",
        random_state=0,
    ).fit(X)
    if is_main_process():
        state = {name: value.detach().clone() for name, value in model.module_.state_dict().items()}
        torch.save({"state": state, "world_size": model.world_size_}, out)


if __name__ == "__main__":
    main(sys.argv[1])
