"""Example data sets that ship with the dependencies (no download)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anndata import AnnData


def pbmc68k_reduced() -> AnnData:
    """700 peripheral blood cells from 10x Genomics' PBMC 68k, as bundled with scanpy.

    scanpy's :func:`scanpy.datasets.pbmc68k_reduced` (read from scanpy's own files, no
    download). ``X`` holds scaled (z-scored) values of 765 highly variable genes,
    ``raw`` the log-normalised values of the same 765 genes, ``obsm["X_pca"]`` a PCA, and
    ``obs`` the cell labels: ``bulk_labels`` (10 sorted cell types) and ``louvain``
    (clusters).

    Returns
    -------
    anndata.AnnData
        ``700 x 765``; co-cluster the log-normalised values with
        ``cocluster_kit.tl.cocluster(adata.raw.to_adata(), ...)``.
    """
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced()
