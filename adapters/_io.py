"""Checked reading of files shared by the adapters: every failure is an :class:`AdapterError`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base import AdapterError, as_path, describe, suffix_of

if TYPE_CHECKING:
    import pandas as pd

BINARY_PROBE_BYTES = 8192
"""Bytes read from the start of a file to tell text from binary (a NUL byte means binary)."""

_WIDE_ENCODINGS = ("utf-16", "utf16", "utf-32", "utf32", "utf_16", "utf_32")


def existing_path(
    source: Any, *, adapter: str, extensions: tuple[str, ...], allow_directory: bool = False
) -> Path:
    """The path of ``source``, checked to exist and to carry one of ``extensions``.

    Parameters
    ----------
    source : Any
        A str or path-like.
    adapter : str
        Adapter name, for messages.
    extensions : tuple of str
        Accepted lower-case suffixes.
    allow_directory : bool
        Whether a directory is accepted (its contents are the adapter's business).

    Returns
    -------
    pathlib.Path
        The expanded path.

    Raises
    ------
    AdapterError
        If ``source`` is not a path, does not exist, or has another suffix.
    """
    path = as_path(source)
    accepted = ", ".join(extensions) + (" files or a folder" if allow_directory else " files")
    if path is None:
        raise AdapterError(
            f"{describe(source)}: the {adapter!r} adapter reads {accepted}, not a "
            f"{type(source).__name__}. Pass a file path, or choose another adapter with "
            "adapter=...; cocluster_kit.adapters.available() lists them.",
            source=describe(source),
        )
    if not path.exists():
        raise missing_path_error(path)
    if path.is_dir():
        if allow_directory:
            return path
        raise AdapterError(
            f"{path}: is a folder; the {adapter!r} adapter reads {accepted}. Pass one file.",
            source=str(path),
        )
    if suffix_of(path) not in extensions:
        got = f"{suffix_of(path)!r} files" if suffix_of(path) else "files without a suffix"
        raise AdapterError(
            f"{path}: the {adapter!r} adapter reads {accepted}, not {got}. Rename the file if "
            "its content fits, or choose another adapter with adapter=...; "
            "cocluster_kit.adapters.available() lists them.",
            source=str(path),
        )
    return path


def missing_path_error(path: Path) -> AdapterError:
    """The error for a path that does not exist."""
    return AdapterError(
        f"{path}: no such file or directory. Check the path (relative paths start at the "
        f"working directory {Path.cwd()}).",
        source=str(path),
    )


def read_bytes_checked(path: Path, *, encoding: str = "utf-8") -> bytes:
    """The bytes of ``path``, refusing empty and (for 8-bit encodings) binary files."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AdapterError(
            f"{path}: cannot be read ({error.strerror or error}). Check its permissions.",
            source=str(path),
        ) from None
    if not data:
        raise AdapterError(
            f"{path}: the file is empty (0 bytes). Pass a file with data.", source=str(path)
        )
    wide = encoding.lower().replace(" ", "").startswith(_WIDE_ENCODINGS)
    if not wide and b"\x00" in data[:BINARY_PROBE_BYTES]:
        raise AdapterError(
            f"{path}: looks like a binary file (NUL bytes in its first "
            f"{BINARY_PROBE_BYTES} bytes), not text. Pass a plain-text file; for UTF-16 text "
            "pass encoding='utf-16'.",
            source=str(path),
        )
    return data


def read_text(path: Path, *, encoding: str = "utf-8") -> str:
    """Decode ``path`` as text with ``encoding``; a leading byte-order mark is dropped.

    Raises
    ------
    AdapterError
        For an empty file, a binary file, or bytes that ``encoding`` cannot decode.
    """
    data = read_bytes_checked(path, encoding=encoding)
    try:
        text = data.decode(encoding)
    except LookupError:
        raise AdapterError(
            f"{path}: unknown encoding {encoding!r}. Pass a codec name Python knows, such as "
            "'utf-8' or 'latin-1'.",
            source=str(path),
        ) from None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise AdapterError(
            f"{path}: is not valid {encoding} text (byte {data[error.start]:#04x} at offset "
            f"{error.start}, line {line}). Pass the file's encoding, e.g. encoding='latin-1' "
            "or 'cp1252', or re-save the file as UTF-8.",
            source=str(path),
        ) from None
    return text.removeprefix("\ufeff")


def read_delimited(
    path: Path, *, sep: str, encoding: str = "utf-8", index_col: str | int | None = None
) -> pd.DataFrame:
    """Read a ``.csv`` / ``.tsv`` file into a DataFrame with checked errors.

    Raises
    ------
    AdapterError
        For an empty, binary or undecodable file, a malformed table, an unknown
        ``index_col``, or a table with no rows.
    """
    import pandas as pd

    text = read_text(path, encoding=encoding)
    if not text.strip():
        raise AdapterError(
            f"{path}: holds only blank lines; there is no table to read.", source=str(path)
        )
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        kind = "tab" if sep == "\t" else repr(sep)
        raise AdapterError(
            f"{path}: is not a valid {kind}-separated table ({error}). Check the delimiter "
            "and quoting; a .tsv file must be tab-separated.",
            source=str(path),
        ) from None
    return finish_table(frame, path, index_col=index_col)


def read_jsonl(
    path: Path, *, encoding: str = "utf-8", index_col: str | int | None = None
) -> pd.DataFrame:
    """Read a JSON-lines file (one JSON object a line, blank lines skipped) into a DataFrame.

    Raises
    ------
    AdapterError
        For an empty, binary or undecodable file, a line that is not a JSON object, or no
        records.
    """
    import pandas as pd

    records = []
    for line_number, line in enumerate(read_text(path, encoding=encoding).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AdapterError(
                f"{path}: line {line_number} is not valid JSON ({error.msg} at column "
                f"{error.colno}). A .jsonl file holds one JSON object per line.",
                source=str(path),
            ) from None
        if not isinstance(record, dict):
            raise AdapterError(
                f"{path}: line {line_number} holds a JSON {type(record).__name__}, not an "
                'object. Write each line as {"text": ..., "label": ...}.',
                source=str(path),
            )
        records.append(record)
    return finish_table(pd.DataFrame.from_records(records), path, index_col=index_col)


def finish_table(
    frame: pd.DataFrame, source: Any, *, index_col: str | int | None = None
) -> pd.DataFrame:
    """Set ``index_col`` as the index, check the table has rows, and stringify labels.

    Raises
    ------
    AdapterError
        For an unknown ``index_col`` or a table with no rows or no columns.
    """
    name = describe(source)
    if index_col is not None:
        column = index_col
        if isinstance(index_col, int) and not isinstance(index_col, bool):
            if not -frame.shape[1] <= index_col < frame.shape[1]:
                raise AdapterError(
                    f"{name}: index_col={index_col} is out of range for a table with "
                    f"{frame.shape[1]} columns. Pass a column name or a position in range.",
                    source=name,
                )
            column = frame.columns[index_col]
        if column not in frame.columns:
            raise AdapterError(
                f"{name}: index_col={index_col!r} is not a column; the columns are "
                f"{preview(frame.columns)}.",
                source=name,
            )
        frame = frame.set_index(column)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise AdapterError(
            f"{name}: the table has {frame.shape[0]} rows and {frame.shape[1]} columns; "
            "there is nothing to read. Check the header and the delimiter.",
            source=name,
        )
    frame = frame.copy()
    frame.index = frame.index.map(str)
    frame.columns = frame.columns.map(str)
    if not frame.columns.is_unique:
        repeated = frame.columns[frame.columns.duplicated()].unique()
        raise AdapterError(
            f"{name}: column names repeat ({preview(repeated)}). Give every column its own name.",
            source=name,
        )
    return frame


def obs_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Metadata columns made writable to ``.h5ad``: numbers and bools kept, the rest categorical.

    Non-numeric values become categorical strings (missing values stay missing); nested values
    (lists, dicts) are written as their JSON text.
    """
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or (
            pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values)
        ):
            out[column] = values
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        as_text = values.map(_as_text, na_action="ignore")
        out[column] = pd.Categorical(as_text)
    return out


def _as_text(value: Any) -> str:
    """One metadata value as text (JSON for nested values)."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def preview(names: Any, limit: int = 10) -> str:
    """The first ``limit`` names, quoted, for messages."""
    names = [str(name) for name in names]
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
