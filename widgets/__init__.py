"""Jupyter explorers over fitted co-clusters (``cocluster_kit.widgets``).

This package lives at the repository's top level and installs as ``cocluster_kit.widgets``
(``[tool.setuptools.package-dir]``); import it by that name. Each explorer is an ipywidgets
container: display it as the last expression of a cell. The figures are drawn by
:mod:`cocluster_kit.pl`.

- :class:`BlockExplorer`: the blocks of one :func:`cocluster_kit.tl.cocluster` result, with
  the chosen co-cluster's size, uncertainty, top features and top rows.
- :class:`TrainingMonitor`: live curves of every loss term, as a training callback.
- :class:`ChooseKExplorer`: the ``(K, L)`` grid of a :func:`cocluster_kit.tl.choose_k`
  sweep, and the blocks of the fit picked.
"""

from __future__ import annotations

from ._block_explorer import BlockExplorer
from ._choose_k_explorer import ChooseKExplorer
from ._training_monitor import TrainingMonitor

__all__ = ["BlockExplorer", "ChooseKExplorer", "TrainingMonitor"]
