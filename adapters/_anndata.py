"""The ``anndata`` adapter: an ``.h5ad`` file or an AnnData, raw counts preferred."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import Adapter, AdapterError, as_path, describe, source_record
from ._io import existing_path, preview

if TYPE_CHECKING:
    from anndata import AnnData

HVG_FLAVORS = ("auto", "seurat_v3", "seurat_v3_paper", "seurat", "cell_ranger")
"""Accepted ``hvg_flavor`` values (scanpy's flavours, plus ``"auto"``)."""
_COUNT_FLAVORS = ("seurat_v3", "seurat_v3_paper")
_MIN_VARYING_GENES = 4  # fewer points crash scikit-misc's loess (seurat_v3 flavours)


class AnnDataAdapter(Adapter):
    """An AnnData (or ``.h5ad`` file) prepared for co-clustering.

    The caller's object is never modified: the result is a copy.
    """

    name = "anndata"
    extensions = (".h5ad",)
    description = "an AnnData or .h5ad file; raw counts preferred; optional HVG selection"

    def can_read(self, source: Any) -> bool:
        """Whether ``source`` is an AnnData object or an existing ``.h5ad`` file.

        Parameters
        ----------
        source : Any
            A path or an in-memory object.

        Returns
        -------
        bool
            Never raises.
        """
        if _is_anndata(source):
            return True
        return super().can_read(source)

    def read(
        self,
        source: Any,
        *,
        layer: str | None = None,
        n_top_genes: int | None = None,
        hvg_flavor: str = "auto",
    ) -> AnnData:
        """Read an AnnData and record which matrix and likelihood the model should use.

        Parameters
        ----------
        source : str, path-like or anndata.AnnData
            An ``.h5ad`` file or an AnnData object (copied, never modified).
        layer : str, optional
            Layer to fit on. Default: ``layers["counts"]`` when present, else ``adata.raw``
            when it holds non-negative integers (copied into ``layers["counts"]`` for the
            current genes), else ``X``.
        n_top_genes : int, optional
            Keep only this many highly variable genes (``scanpy.pp.highly_variable_genes``).
        hvg_flavor : {"auto", "seurat_v3", "seurat_v3_paper", "seurat", "cell_ranger"}
            ``"auto"``: ``"seurat_v3"`` on counts when scikit-misc is installed (and at
            least 4 genes vary; its loess needs them), else
            ``"seurat"`` on ``log1p`` of library-size-normalised counts; ``"seurat"`` on
            values that are not counts (expected to be log-normalised).

        Returns
        -------
        anndata.AnnData
            A copy of the input (subset to the selected genes with ``n_top_genes``), with
            ``uns["ckit_source"]``: ``likelihood`` ``"negative_binomial"`` when the fitted
            matrix holds counts, else ``"gaussian"``; ``layer``: the layer to fit on
            (``""`` for ``X``); ``counts_from``: where the counts came from.

        Raises
        ------
        AdapterError
            For a missing, empty or unreadable file, an empty AnnData, an unknown layer, no
            ``X`` and no layer, or a highly-variable-gene selection that cannot run.
        """
        name = describe(source)
        adata = _load(source, name)
        if adata.n_obs == 0 or adata.n_vars == 0:
            raise AdapterError(
                f"{name}: the AnnData is empty (shape {adata.shape}); nothing to co-cluster.",
                source=name,
            )
        fit_layer, counts_from = _choose_matrix(adata, name, layer)
        matrix = adata.layers[fit_layer] if fit_layer else adata.X
        if _all_zero(matrix):
            where = f"layers[{fit_layer!r}]" if fit_layer else "X"
            raise AdapterError(
                f"{name}: every value of {where} is 0; there is nothing to co-cluster. Pass "
                "layer=<name> for another matrix.",
                source=name,
            )
        is_counts = _holds_counts(matrix)
        options: dict[str, Any] = {"layer": layer or "", "hvg_flavor": hvg_flavor}
        extra: dict[str, Any] = {"counts_from": counts_from if is_counts else ""}
        if n_top_genes is not None:
            options["n_top_genes"] = n_top_genes
            adata, used_flavor = _select_genes(
                adata, matrix, name, n_top_genes=n_top_genes, flavor=hvg_flavor, is_counts=is_counts
            )
            extra["hvg_flavor_used"] = used_flavor
        adata.uns["ckit_source"] = source_record(
            self.name,
            source,
            likelihood="negative_binomial" if is_counts else "gaussian",
            layer=fit_layer,
            options=options,
            **extra,
        )
        return adata


def _is_anndata(source: Any) -> bool:
    """Whether ``source`` is an AnnData (anndata is not imported to answer for a path)."""
    module = sys.modules.get("anndata")
    return module is not None and isinstance(source, module.AnnData)


def _load(source: Any, name: str) -> AnnData:
    """A private in-memory copy of the source AnnData."""
    if _is_anndata(source):
        return source.to_memory() if source.isbacked else source.copy()
    path = as_path(source)
    if path is not None and path.is_dir():
        raise AdapterError(
            f"{path}: is a folder; the 'anndata' adapter reads one .h5ad file.", source=str(path)
        )
    path = existing_path(source, adapter="anndata", extensions=AnnDataAdapter.extensions)
    if path.stat().st_size == 0:
        raise AdapterError(
            f"{path}: the file is empty (0 bytes). Pass a file written by AnnData.write_h5ad.",
            source=str(path),
        )
    import anndata as ad

    try:
        return ad.read_h5ad(path)
    except Exception as error:  # h5py and anndata raise many kinds for a damaged file
        raise AdapterError(
            f"{path}: is not a readable .h5ad file ({type(error).__name__}: {error}). Pass a "
            "file written by AnnData.write_h5ad.",
            source=str(path),
        ) from None


def _choose_matrix(adata: AnnData, name: str, layer: str | None) -> tuple[str, str]:
    """The layer to fit on (``""`` = ``X``) and where its counts come from.

    A raw count matrix in ``adata.raw`` is copied (for the current genes) into
    ``layers["counts"]``.
    """
    if layer is not None:
        if layer not in adata.layers:
            raise AdapterError(
                f"{name}: layer={layer!r} is not a layer of this AnnData; its layers are "
                f"{preview(adata.layers.keys()) or 'none'}. Pass one of them, or layer=None "
                "for X.",
                source=name,
            )
        return layer, f"layers['{layer}']"
    if "counts" in adata.layers:
        return "counts", "layers['counts']"
    if adata.raw is not None and _holds_counts(adata.raw.X):
        missing = adata.var_names.difference(adata.raw.var_names)
        if len(missing) == 0:
            counts = adata.raw[:, adata.var_names].X
            adata.layers["counts"] = counts.copy() if hasattr(counts, "copy") else counts
            return "counts", "raw"
        warnings.warn(
            f"{name}: adata.raw holds counts but lacks {len(missing)} of the genes in var_names; "
            "it is not used.",
            stacklevel=4,
        )
    if adata.X is None:
        raise AdapterError(
            f"{name}: the AnnData has no X and no 'counts' layer. Pass layer=<name> (layers: "
            f"{preview(adata.layers.keys()) or 'none'}).",
            source=name,
        )
    return "", "X"


def _holds_counts(matrix: Any) -> bool:
    """Whether every stored value is a finite non-negative integer (NaN = missing, skipped)."""
    import scipy.sparse as sp

    if matrix is None:
        return False
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        return False
    if np.issubdtype(values.dtype, np.floating):
        values = values[~np.isnan(values)]
    if values.size == 0:
        return True
    if np.issubdtype(values.dtype, np.integer):
        return bool(values.min() >= 0)
    return bool(
        np.all(np.isfinite(values)) and values.min() >= 0 and np.all(values == np.floor(values))
    )


def _select_genes(
    adata: AnnData, matrix: Any, name: str, *, n_top_genes: Any, flavor: str, is_counts: bool
) -> tuple[AnnData, str]:
    """Keep the ``n_top_genes`` most variable genes; returns the subset and the flavour used."""
    if (
        isinstance(n_top_genes, bool)
        or not isinstance(n_top_genes, (int, np.integer))
        or n_top_genes < 1
    ):
        raise AdapterError(
            f"{name}: n_top_genes={n_top_genes!r} must be a positive integer.", source=name
        )
    if flavor not in HVG_FLAVORS:
        raise AdapterError(
            f"{name}: hvg_flavor={flavor!r} is not one of {list(HVG_FLAVORS)}.", source=name
        )
    if n_top_genes >= adata.n_vars:
        warnings.warn(
            f"{name}: n_top_genes={n_top_genes} >= the {adata.n_vars} genes; all are kept.",
            stacklevel=4,
        )
        return adata, "none"
    has_skmisc = importlib.util.find_spec("skmisc") is not None
    if flavor == "auto":
        loess_ok = is_counts and has_skmisc and _n_varying(matrix) >= _MIN_VARYING_GENES
        flavor = "seurat_v3" if loess_ok else "seurat"
    if flavor in _COUNT_FLAVORS:
        if not is_counts:
            raise AdapterError(
                f"{name}: hvg_flavor={flavor!r} needs counts, but the chosen matrix does not "
                "hold non-negative integers. Pass layer=<counts layer> or hvg_flavor='seurat'.",
                source=name,
            )
        if not has_skmisc:
            raise AdapterError(
                f"{name}: hvg_flavor={flavor!r} needs the scikit-misc package: pip install "
                "scikit-misc (or pip install 'cocluster-kit[hvg]'), or pass hvg_flavor='seurat'.",
                source=name,
            )
    if _has_nan(matrix):
        raise AdapterError(
            f"{name}: highly-variable-gene selection cannot read missing (NaN) entries. Leave "
            "n_top_genes unset (the model leaves missing entries out), or fill them first.",
            source=name,
        )
    if flavor in _COUNT_FLAVORS and _n_varying(matrix) < _MIN_VARYING_GENES:
        # scikit-misc's loess crashes the interpreter (segfault) on 3 or fewer points.
        raise AdapterError(
            f"{name}: hvg_flavor={flavor!r} needs at least {_MIN_VARYING_GENES} genes whose "
            f"counts vary across cells; this matrix has {_n_varying(matrix)}. Pass "
            "hvg_flavor='seurat', or leave n_top_genes unset.",
            source=name,
        )
    import anndata as ad
    import scanpy as sc

    # Floats for every flavour: scanpy's means and variances of small integer dtypes (int8)
    # overflow, and seurat_v3's loess then crashes the interpreter on the NaN logarithms.
    values = matrix.astype(np.float32) if hasattr(matrix, "astype") else np.asarray(matrix)
    probe = ad.AnnData(X=values, obs=adata.obs[[]].copy(), var=adata.var[[]].copy())
    if flavor not in _COUNT_FLAVORS:
        if is_counts:  # dispersion flavours expect log-normalised values
            sc.pp.normalize_total(probe)
            sc.pp.log1p(probe)
        elif _has_negative(probe.X):
            raise AdapterError(
                f"{name}: highly-variable-gene selection needs counts or log-normalised values, "
                "but the chosen matrix has negative values (scaled data?). Pass layer=<counts "
                "layer>, or leave n_top_genes unset.",
                source=name,
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            table = sc.pp.highly_variable_genes(
                probe, n_top_genes=int(n_top_genes), flavor=flavor, inplace=False
            )
    except Exception as error:  # scanpy/skmisc fail in many ways on degenerate data
        raise AdapterError(
            f"{name}: highly-variable-gene selection (flavor={flavor!r}) failed "
            f"({type(error).__name__}: {error}). Try another hvg_flavor or leave n_top_genes "
            "unset.",
            source=name,
        ) from None
    selected = np.asarray(table["highly_variable"], dtype=bool)
    subset = adata[:, selected].copy()
    subset.var["highly_variable"] = True
    return subset, flavor


def _all_zero(matrix: Any) -> bool:
    """Whether no stored value differs from 0 (missing values count as 0 here)."""
    import scipy.sparse as sp

    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    return not np.any(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=1.0))


def _has_nan(matrix: Any) -> bool:
    """Whether any stored value is NaN (a missing entry)."""
    import scipy.sparse as sp

    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    return bool(np.issubdtype(values.dtype, np.floating) and np.isnan(values).any())


def _n_varying(matrix: Any) -> int:
    """The number of genes (columns) whose values are not all the same."""
    import scipy.sparse as sp

    if sp.issparse(matrix):
        matrix = sp.csc_matrix(matrix, dtype=np.float64)
        mean = np.asarray(matrix.mean(axis=0)).ravel()
        variance = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel() - mean**2
        return int(np.sum(variance > 1e-12 * (1.0 + mean**2)))
    values = np.asarray(matrix, dtype=np.float64)
    return int(np.sum(np.ptp(values, axis=0) > 0)) if values.shape[0] else 0


def _has_negative(matrix: Any) -> bool:
    """Whether any stored value is negative."""
    import scipy.sparse as sp

    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    return bool(values.size and np.nanmin(values) < 0)
