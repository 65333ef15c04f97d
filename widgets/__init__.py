"""Jupyter explorers over fitted co-clusters (``cocluster_kit.widgets``).

This package lives at the repository's top level and installs as ``cocluster_kit.widgets``
(``[tool.setuptools.package-dir]``). The ipywidgets + seaborn explorers are specified in
DESIGN.md and arrive with issue #6; the estimator's ``callbacks`` hook, which the training
monitor will use, exists already.
"""
