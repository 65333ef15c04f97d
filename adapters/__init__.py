"""Adapters that read sources into AnnData (``cocluster_kit.adapters``).

This package lives at the repository's top level and installs as ``cocluster_kit.adapters``
(``[tool.setuptools.package-dir]``). The built-in text, AnnData and tabular adapters and the
plugin registry are specified in DESIGN.md and arrive with issue #4; until then the estimator
reads arrays, scipy sparse matrices and DataFrames directly.
"""
