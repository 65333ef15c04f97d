"""The ``tabular`` adapter: numeric columns of a table → ``X``, the other columns → ``obs``."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import Adapter, AdapterError, describe, is_dataframe, source_record, suffix_of
from ._io import existing_path, finish_table, obs_frame, preview, read_delimited

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

_DELIMITERS = {".csv": ",", ".tsv": "\t"}


class TabularAdapter(Adapter):
    """A table of numbers (rows × numeric columns), missing values kept as NaN."""

    name = "tabular"
    extensions = (".csv", ".tsv", ".parquet")
    description = "a table (.csv, .tsv, .parquet or a DataFrame); numeric columns → X"

    def can_read(self, source: Any) -> bool:
        """Whether ``source`` is a DataFrame or an existing ``.csv``/``.tsv``/``.parquet`` file.

        Parameters
        ----------
        source : Any
            A path or an in-memory object.

        Returns
        -------
        bool
            Never raises.
        """
        return is_dataframe(source) or super().can_read(source)

    def read(
        self,
        source: Any,
        *,
        index_col: str | int | None = None,
        obs_columns: Sequence[str] | None = None,
        encoding: str = "utf-8",
    ) -> AnnData:
        """Read a table: numeric columns become ``X``, the others become ``obs``.

        Parameters
        ----------
        source : str, path-like or pandas.DataFrame
            A ``.csv``, ``.tsv`` or ``.parquet`` file (``.parquet`` needs pyarrow), or a
            DataFrame (copied, never modified).
        index_col : str or int, optional
            Column (name or position) holding the row names. Default: the DataFrame's or the
            parquet file's index, or row numbers ``"0"``, ``"1"``, ... for text tables.
        obs_columns : sequence of str, optional
            Numeric columns to keep out of ``X`` and put in ``obs`` (ids, covariates).
        encoding : str, default "utf-8"
            Text encoding of a ``.csv`` / ``.tsv`` file.

        Returns
        -------
        anndata.AnnData
            ``X``: dense float32 of the numeric columns, NaN where a value is missing
            (never zero); boolean columns are converted to 0/1 and included. ``obs``: the
            other columns (text as categoricals). ``uns["ckit_source"]``: adapter, source,
            ``likelihood`` by the model's ``"auto"`` rule, ``layer=""`` (fit on ``X``),
            ``bool_columns``, ``n_missing`` and the options.

        Raises
        ------
        AdapterError
            For a missing, empty, binary or malformed file, a missing parquet engine, no
            numeric column, only missing values, or infinite values.
        """
        name = describe(source)
        if is_dataframe(source):
            frame = finish_table(source, source, index_col=index_col)
        else:
            path = existing_path(source, adapter=self.name, extensions=self.extensions)
            suffix = suffix_of(path)
            if suffix == ".parquet":
                frame = finish_table(_read_parquet(path), path, index_col=index_col)
            else:
                frame = read_delimited(
                    path, sep=_DELIMITERS[suffix], encoding=encoding, index_col=index_col
                )
        numeric, bool_columns = _split_columns(frame, name, obs_columns)
        values = frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        _check_values(values, numeric, name)  # before float32, where 1e39 would become inf
        values = values.astype(np.float32)
        adata = _build(values, frame, numeric)
        options: dict[str, Any] = {"obs_columns": list(obs_columns or [])}
        if index_col is not None:
            options["index_col"] = index_col
        if not is_dataframe(source) and suffix_of(path) in _DELIMITERS:
            options["encoding"] = encoding
        adata.uns["ckit_source"] = source_record(
            self.name,
            source,
            likelihood=_likelihood(values),
            layer="",
            options=options,
            bool_columns=bool_columns,
            n_missing=int(np.isnan(values).sum()),
        )
        return adata


def _read_parquet(path) -> pd.DataFrame:
    """Read a parquet file with pyarrow (or fastparquet), every failure an AdapterError."""
    if path.stat().st_size == 0:
        raise AdapterError(
            f"{path}: the file is empty (0 bytes). Pass a parquet file with data.", source=str(path)
        )
    if (
        importlib.util.find_spec("pyarrow") is None
        and importlib.util.find_spec("fastparquet") is None
    ):
        raise AdapterError(
            f"{path}: reading .parquet files needs pyarrow: pip install pyarrow (or pip install "
            "'cocluster-kit[parquet]'); or save the table as .csv.",
            source=str(path),
        )
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises its own error types for damaged files
        raise AdapterError(
            f"{path}: is not a readable parquet file ({type(error).__name__}: {error}).",
            source=str(path),
        ) from None


def _split_columns(
    frame: pd.DataFrame, name: str, obs_columns: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """The numeric columns for ``X`` (bools included) and the boolean ones among them."""
    import pandas as pd

    if isinstance(obs_columns, str):
        obs_columns = [obs_columns]
    kept_out = [str(column) for column in (obs_columns or [])]
    unknown = [column for column in kept_out if column not in frame.columns]
    if unknown:
        raise AdapterError(
            f"{name}: obs_columns {unknown} are not columns; the columns are "
            f"{preview(frame.columns)}.",
            source=name,
        )
    numeric, bool_columns = [], []
    for column in frame.columns:
        values = frame[column]
        if column in kept_out:
            continue
        if pd.api.types.is_bool_dtype(values):
            bool_columns.append(column)
            numeric.append(column)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
            numeric.append(column)
    if not numeric:
        raise AdapterError(
            f"{name}: the table has no numeric column (columns: {preview(frame.columns)}). "
            "Numeric columns become the matrix; convert numbers stored as text (check the "
            "delimiter and decimal mark), or read documents with adapter='text'.",
            source=name,
        )
    return numeric, bool_columns


def _check_values(values: np.ndarray, columns: list[str], name: str) -> None:
    """Refuse a matrix with only missing values, only zeros, or with infinities."""
    if np.isnan(values).all():
        raise AdapterError(
            f"{name}: every value of the numeric columns {preview(columns)} is missing (NaN); "
            "there is nothing to co-cluster.",
            source=name,
        )
    if not np.any(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=1.0)):
        raise AdapterError(
            f"{name}: every observed value of the numeric columns {preview(columns)} is 0; "
            "there is nothing to co-cluster.",
            source=name,
        )
    infinite = np.isinf(values)
    if infinite.any():
        bad = [columns[j] for j in np.flatnonzero(infinite.any(axis=0))]
        raise AdapterError(
            f"{name}: columns {preview(bad)} hold infinite values. Replace them (clip, or set "
            "them to NaN to mark them missing).",
            source=name,
        )
    too_large = np.abs(np.nan_to_num(values)) > np.finfo(np.float32).max
    if too_large.any():
        bad = [columns[j] for j in np.flatnonzero(too_large.any(axis=0))]
        raise AdapterError(
            f"{name}: columns {preview(bad)} hold values beyond float32's range (|x| > "
            f"{np.finfo(np.float32).max:.3g}). Rescale them (e.g. divide by a constant or "
            "log-transform).",
            source=name,
        )


def _build(values: np.ndarray, frame: pd.DataFrame, numeric: list[str]) -> AnnData:
    """The AnnData: ``X`` from ``values``, the non-numeric columns as ``obs``."""
    import anndata as ad
    import pandas as pd

    obs = obs_frame(frame.drop(columns=numeric))
    var = pd.DataFrame(index=pd.Index(numeric))
    adata = ad.AnnData(X=values, obs=obs, var=var)
    if not adata.obs_names.is_unique:
        adata.obs_names_make_unique()
    if not adata.var_names.is_unique:
        adata.var_names_make_unique()
    return adata


def _likelihood(values: np.ndarray) -> str:
    """The model's own ``"auto"`` likelihood rule applied to ``values``."""
    from cocluster_kit.model._validation import prepare_matrix, resolve_likelihood

    return resolve_likelihood(prepare_matrix(values), "auto")
