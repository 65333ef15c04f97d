"""The adapter contract, its error type, and the ``uns["ckit_source"]`` record."""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from anndata import AnnData

SOURCE_KEY = "ckit_source"
"""Key in ``adata.uns`` under which every adapter records where the data came from."""


class AdapterError(ValueError):
    """A source that an adapter cannot read; the message names the source, the problem and the fix.

    Parameters
    ----------
    message : str
        The full message: source, problem and what to do about it.
    source : str, optional
        The file (or a description of the in-memory object) that could not be read.
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


@runtime_checkable
class AdapterProtocol(Protocol):
    """What the registry needs from an adapter, built in or installed as a plugin."""

    name: str

    def can_read(self, source: Any) -> bool:
        """Whether this adapter reads ``source`` (never raises)."""

    def read(self, source: Any, **options: Any) -> AnnData:
        """Read ``source`` into a new AnnData."""


class Adapter(ABC):
    """Base class of the built-in adapters; plugins may subclass it or just match its protocol.

    A subclass sets :attr:`name`, :attr:`extensions` and :attr:`description`, and implements
    :meth:`read`. The default :meth:`can_read` accepts an existing path whose suffix is one of
    :attr:`extensions`.
    """

    name: str = ""
    """Registry name, as passed to ``read(source, adapter=name)``."""
    extensions: tuple[str, ...] = ()
    """Lower-case file suffixes this adapter reads, dot included."""
    description: str = ""
    """One line saying what the adapter reads, for listings and error messages."""

    def can_read(self, source: Any) -> bool:
        """Whether ``source`` is an existing file with one of :attr:`extensions`.

        Parameters
        ----------
        source : Any
            A path or an in-memory object.

        Returns
        -------
        bool
            Never raises; anything unexpected answers False.
        """
        try:
            path = as_path(source)
            return path is not None and path.is_file() and suffix_of(path) in self.extensions
        except (OSError, TypeError, ValueError):
            return False

    @abstractmethod
    def read(self, source: Any, **options: Any) -> AnnData:
        """Read ``source`` into a new AnnData (implemented by each adapter)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.description}>"


def as_path(source: Any) -> Path | None:
    """``source`` as an expanded :class:`~pathlib.Path` when it is a str or path-like, else None."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = Path(os.fsdecode(source))
    try:
        return path.expanduser()
    except RuntimeError:  # "~" with no home directory known: keep the path as written
        return path


def is_dataframe(source: Any) -> bool:
    """Whether ``source`` is a pandas DataFrame (pandas is not imported to answer for a path)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(source, pandas.DataFrame)


def suffix_of(path: Path) -> str:
    """The lower-case last suffix of ``path`` (``".csv"``), or ``""``."""
    return path.suffix.lower()


def describe(source: Any) -> str:
    """How a source is named in messages and in ``uns["ckit_source"]["source"]``."""
    path = as_path(source)
    if path is not None:
        return str(path)
    return f"<in-memory {type(source).__name__}>"


def jsonable(value: Any) -> Any:
    """``value`` made safe for ``adata.uns`` and ``write_h5ad``.

    None becomes ``""``; numpy scalars become Python numbers; tuples become lists; a list
    mixing strings with other values becomes a list of strings; anything else unknown becomes
    its ``repr``.
    """
    if value is None:
        return ""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        return jsonable(value.item())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [
            jsonable(item)
            for item in (sorted(value) if isinstance(value, (set, frozenset)) else value)
        ]
        numbers = all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in items)
        strings = all(isinstance(i, str) for i in items)
        if numbers or strings:
            return items
        return [str(item) for item in items]
    return repr(value)


def source_record(
    adapter: str,
    source: Any,
    *,
    likelihood: str,
    layer: str,
    options: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """The ``uns["ckit_source"]`` record of one read.

    Parameters
    ----------
    adapter : str
        Name of the adapter that read the source.
    source : Any
        The source as given (a path, or an in-memory object).
    likelihood : str
        Likelihood the model should use for this data (``"multinomial"``, ``"gaussian"``, ...,
        or ``"auto"`` to apply the model's own rule).
    layer : str
        Layer the model should be fitted on; ``""`` means ``X``.
    options : Mapping
        The options the adapter used, defaults included.
    **extra
        Further facts about the read (detected columns, counts of dropped items, ...).

    Returns
    -------
    dict
        Only strings, numbers, bools, lists and dicts of those, so ``write_h5ad`` works.
    """
    record = {
        "adapter": adapter,
        "source": describe(source),
        "likelihood": likelihood,
        "layer": layer,
        "options": jsonable(dict(options)),
    }
    record.update(jsonable(extra))
    return record
