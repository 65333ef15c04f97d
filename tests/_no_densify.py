"""Run by ``test_scale.py`` in a subprocess whose address space is capped (RLIMIT_AS).

Usage: ``python _no_densify.py N_ROWS N_COLS OUT_DIR``. After the imports, the address space is
capped at what the process holds plus 90 % of the size of the dense ``float32`` form of the
matrix, so building anything of size ``n x m`` fails with ``MemoryError``. Then it fits with
``tl.cocluster`` and uses every path a user meets: top features, the tables, the report,
save, ``h5ad``, ``predict``, ``impute`` (sparse), ``cell_scores``, block means, the MI term.
Prints ``OK`` and the peak virtual memory at the end.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import anndata
import matplotlib
import numpy as np
import scipy.sparse as sp
import torch

import cocluster_kit as ckit
from cocluster_kit._outputs import write_tables
from cocluster_kit._report import write_report
from cocluster_kit.tl._cocluster import fit_cocluster

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402,F401  (loaded before the cap, as in a real session)


def virtual_memory(field: str = "VmSize") -> int:
    """This process's virtual memory in bytes, read from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def planted(n: int, m: int, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse counts: each row has 6 nonzeros, 80 % of them in its row cluster's columns."""
    rng = np.random.default_rng(seed)
    per_row = 6
    row_labels = rng.integers(0, 2, n)
    columns = np.empty((n, per_row), dtype=np.int64)
    for k in range(per_row):
        own = rng.integers(0, m // 2, n) * 2 + row_labels  # column cluster = column % 2
        columns[:, k] = np.where(rng.random(n) < 0.8, own, rng.integers(0, m, n))
    values = rng.integers(1, 4, n * per_row).astype(np.float32)
    values[rng.choice(values.size, 50, replace=False)] = np.nan  # missing entries
    rows = np.repeat(np.arange(n), per_row)
    matrix = sp.csr_matrix((values, (rows, columns.ravel())), shape=(n, m))
    return matrix, row_labels


def main(n: int, m: int, out: Path) -> None:
    torch.set_num_threads(1)
    X, _ = planted(n, m)
    adata = anndata.AnnData(X)
    dense_bytes = n * m * 4
    cap = virtual_memory() + dense_bytes * 9 // 10
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        np.empty((n, m), dtype=np.float32)
    except MemoryError:
        print("dense refused")
    else:
        raise SystemExit("the cap does not stop a dense n x m array")

    options = dict(
        max_epochs=1,
        pretrain_epochs=0,
        hidden=(16,),
        latent_dim=4,
        n_samples=1,
        estimator="elbo",
        row_batch_size=256,
        col_batch_size=256,
        sketch_size=256,
        progress=False,
    )
    model, _ = fit_cocluster(
        adata,
        2,
        2,
        layer=None,
        key_added="cocluster",
        random_state=0,
        copy=False,
        model_kwargs=options,
    )
    assert model.data_.uses_sketch and model.data_.rows.sparse_input
    assert np.isfinite(model.history_["mi"]).all()
    assert model.block_means_.shape == (2, 2)
    ckit.tl.top_features(adata, "cocluster")
    out.mkdir(parents=True, exist_ok=True)
    write_tables(adata, out)
    write_report(adata, out / "report.html", key="cocluster")
    ckit.pl.block_means(adata, "cocluster")
    model.save(out / "model")
    adata.write_h5ad(out / "result.h5ad")
    assert model.predict(X[:2000]).shape == (2000,)
    filled = model.impute(X)
    assert sp.issparse(filled) and filled.shape == X.shape and not np.isnan(filled.data).any()
    scores = model.cell_scores(X)
    assert len(scores) == X.nnz - int(np.isnan(X.data).sum())
    some = model.cell_scores(X, rows=[0, 1, n - 1], columns=[0, m - 1, 5])
    assert len(some) == 3
    print("OK", virtual_memory("VmPeak"), cap, dense_bytes)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
