"""Adapters that read sources into AnnData (``cocluster_kit.adapters``).

This package lives at the repository's top level and installs as ``cocluster_kit.adapters``
(``[tool.setuptools.package-dir]``).

>>> from cocluster_kit import adapters
>>> adapters.available()[:3]
['text', 'anndata', 'tabular']

``read(source, adapter=None, **options)`` picks the adapter by name, or the first whose
``can_read(source)`` accepts; every adapter records ``uns["ckit_source"]`` (adapter, source,
likelihood and layer for the model, options) and raises :class:`AdapterError` (a
``ValueError``) naming the file, the problem and the fix. Third-party adapters register under
the entry-point group :data:`ENTRY_POINT_GROUP`.
"""

from __future__ import annotations

from ._anndata import HVG_FLAVORS, AnnDataAdapter
from ._base import SOURCE_KEY, Adapter, AdapterError, AdapterProtocol
from ._registry import ENTRY_POINT_GROUP, available, get, read
from ._tabular import TabularAdapter
from ._text import LABEL_COLUMN_NAMES, SMALL_CORPUS, TEXT_COLUMN_NAMES, TFIDF_DEFAULTS, TextAdapter

__all__ = [
    "ENTRY_POINT_GROUP",
    "HVG_FLAVORS",
    "LABEL_COLUMN_NAMES",
    "SMALL_CORPUS",
    "SOURCE_KEY",
    "TEXT_COLUMN_NAMES",
    "TFIDF_DEFAULTS",
    "Adapter",
    "AdapterError",
    "AdapterProtocol",
    "AnnDataAdapter",
    "TabularAdapter",
    "TextAdapter",
    "available",
    "get",
    "read",
]
