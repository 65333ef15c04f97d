"""Finding adapters (built in, or installed under an entry point) and reading with them."""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from ._anndata import AnnDataAdapter
from ._base import SOURCE_KEY, AdapterError, AdapterProtocol, as_path, describe
from ._io import missing_path_error
from ._tabular import TabularAdapter
from ._text import TextAdapter

if TYPE_CHECKING:
    from anndata import AnnData

ENTRY_POINT_GROUP = "cocluster_kit.adapters"
"""Entry-point group under which third-party packages register adapters.

An entry point names an adapter class (instantiated without arguments) or an adapter object;
its name is the adapter's registry name. For example, in a plugin's ``pyproject.toml``::

    [project.entry-points."cocluster_kit.adapters"]
    loom = "my_package.loom:LoomAdapter"
"""

_BUILTIN: dict[str, AdapterProtocol] = {
    adapter.name: adapter for adapter in (TextAdapter(), AnnDataAdapter(), TabularAdapter())
}
"""Built-in adapters, in the order in which they are asked ``can_read``."""


def available() -> list[str]:
    """Names of the adapters that can be used: built-ins first, then installed plugins.

    Plugins are looked up anew on every call (nothing is cached), so a package installed
    while Python runs is seen; a plugin is listed without importing it.

    Returns
    -------
    list of str
        ``["text", "anndata", "tabular", <plugins in name order>]``.
    """
    return [*_BUILTIN, *_plugin_entry_points()]


def get(name: str) -> AdapterProtocol:
    """The adapter registered under ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`available`.

    Returns
    -------
    Adapter
        The adapter object (a plugin is imported on first use).

    Raises
    ------
    AdapterError
        If no adapter has that name, or the plugin that provides it cannot be loaded.
    """
    if name in _BUILTIN:
        return _BUILTIN[name]
    plugins = _plugin_entry_points()
    if name not in plugins:
        raise AdapterError(
            f"unknown adapter {name!r}; the available adapters are "
            f"{', '.join(map(repr, [*_BUILTIN, *plugins]))}. Third-party adapters register "
            f"under the entry-point group {ENTRY_POINT_GROUP!r}.",
            source=str(name),
        )
    return _load_plugin(plugins[name])


def read(source: Any, adapter: str | AdapterProtocol | None = None, **options: Any) -> AnnData:
    """Read ``source`` into a new AnnData with the chosen or the first accepting adapter.

    Parameters
    ----------
    source : Any
        A path (file or folder) or an in-memory object (AnnData, DataFrame, or whatever a
        plugin reads).
    adapter : str or Adapter, optional
        The adapter's name (see :func:`available`) or an adapter object. Default: the first
        built-in adapter (``text``, ``anndata``, ``tabular``), then plugin, whose
        ``can_read(source)`` accepts it.
    **options
        Passed to the adapter's ``read``.

    Returns
    -------
    anndata.AnnData
        The data, with ``uns["ckit_source"]`` recording the adapter, the source, the
        likelihood and layer the model should use, and the options.

    Raises
    ------
    AdapterError
        If no adapter accepts the source, the named adapter is unknown, or the adapter cannot
        read the source (the message names the file, the problem and the fix).
    """
    if adapter is None:
        chosen = _choose(source)
    elif isinstance(adapter, str):
        chosen = get(adapter)
    elif isinstance(adapter, AdapterProtocol):
        chosen = adapter
    else:
        raise AdapterError(
            f"adapter={adapter!r} is neither an adapter name nor an object with name, "
            "can_read and read.",
            source=describe(source),
        )
    adata = chosen.read(source, **options)
    return _checked_result(adata, chosen, source)


def _choose(source: Any) -> AdapterProtocol:
    """The first built-in adapter, then plugin, that accepts ``source``."""
    for adapter in _BUILTIN.values():
        if adapter.can_read(source):
            return adapter
    plugins = _plugin_entry_points()
    for entry_point in plugins.values():
        try:
            adapter = _load_plugin(entry_point)
        except AdapterError as error:
            warnings.warn(str(error), stacklevel=3)
            continue
        if _accepts(adapter, source):
            return adapter
    path = as_path(source)
    if path is not None and not path.exists():
        raise missing_path_error(path)
    raise AdapterError(
        f"{describe(source)}: no adapter can read it. The available adapters are "
        f"{', '.join(map(repr, [*_BUILTIN, *plugins]))}: text reads .txt files, folders of "
        ".txt files and .csv/.tsv/.jsonl tables with a text column; anndata reads .h5ad files "
        "and AnnData objects; tabular reads .csv/.tsv/.parquet tables and DataFrames. Check the "
        "path and its suffix, or pass adapter=<name>.",
        source=describe(source),
    )


def _accepts(adapter: AdapterProtocol, source: Any) -> bool:
    """``adapter.can_read(source)``, with a misbehaving plugin's exception read as False."""
    try:
        return bool(adapter.can_read(source))
    except Exception as error:  # a plugin's can_read must not break auto-selection
        warnings.warn(
            f"adapter {adapter.name!r}: can_read raised {type(error).__name__}: {error}; skipped.",
            stacklevel=4,
        )
        return False


def _plugin_entry_points() -> dict[str, EntryPoint]:
    """Installed plugin entry points by name (sorted); built-in names cannot be taken."""
    found: dict[str, EntryPoint] = {}
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if entry_point.name in _BUILTIN:
            warnings.warn(
                f"adapter plugin {entry_point.value!r} uses the built-in name "
                f"{entry_point.name!r}; it is ignored. Register it under another name.",
                stacklevel=3,
            )
            continue
        found.setdefault(entry_point.name, entry_point)
    return found


def _load_plugin(entry_point: EntryPoint) -> AdapterProtocol:
    """Import a plugin's adapter (instantiating a class) and check it has the protocol."""
    try:
        loaded = entry_point.load()
        adapter = loaded() if isinstance(loaded, type) else loaded
    except Exception as error:  # any failure inside third-party code
        raise AdapterError(
            f"adapter plugin {entry_point.name!r} ({entry_point.value}) failed to load "
            f"({type(error).__name__}: {error}). Reinstall or uninstall the package that "
            "provides it.",
            source=entry_point.value,
        ) from None
    if not isinstance(adapter, AdapterProtocol):
        raise AdapterError(
            f"adapter plugin {entry_point.name!r} ({entry_point.value}) is not an adapter: it "
            "needs a name attribute and can_read(source) and read(source, **options) methods.",
            source=entry_point.value,
        )
    return adapter


def _checked_result(adata: Any, adapter: AdapterProtocol, source: Any) -> AnnData:
    """Check an adapter returned an AnnData, and give it a minimal source record if it has none."""
    import anndata as ad

    if not isinstance(adata, ad.AnnData):
        raise AdapterError(
            f"{describe(source)}: adapter {adapter.name!r} returned a {type(adata).__name__}, "
            "not an AnnData. Fix the adapter's read method.",
            source=describe(source),
        )
    if SOURCE_KEY not in adata.uns:
        adata.uns[SOURCE_KEY] = {
            "adapter": str(adapter.name),
            "source": describe(source),
            "likelihood": "auto",
            "layer": "",
            "options": {},
        }
    return adata
