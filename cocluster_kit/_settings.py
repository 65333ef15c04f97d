"""``ckit.settings``: package-wide defaults (verbosity, seed, device, progress bar)."""

from __future__ import annotations

import logging
import numbers
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ._utils import DEVICE_CHOICES

logger = logging.getLogger("cocluster_kit")

VERBOSITY_LEVELS: dict[str, int] = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
"""Verbosity names and the :mod:`logging` levels they set; ``0 .. 3`` index this list."""


class _DefaultHandler(logging.StreamHandler):
    """Write ``cocluster_kit`` records to stderr unless the application configured logging.

    When the root logger has handlers (``logging.basicConfig``, pytest's ``caplog``, a
    notebook's set-up), records propagate there instead and this handler stays silent, so
    nothing is printed twice.
    """

    def __init__(self) -> None:
        super().__init__(stream=sys.stderr)
        self.setFormatter(logging.Formatter("ckit %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        self.stream = sys.stderr  # follow redirections of stderr (pytest's capsys, notebooks)
        super().emit(record)


class Settings:
    """Package-wide defaults, read by :mod:`cocluster_kit.tl` when an argument is left out.

    Attributes
    ----------
    verbosity
        How much the ``"cocluster_kit"`` logger reports: ``0``/``"error"``,
        ``1``/``"warning"`` (default), ``2``/``"info"`` (device, matrix and likelihood
        choices, early stopping, each fit of a sweep) or ``3``/``"debug"``. Reading it gives
        the integer.
    seed
        The seed used by :func:`cocluster_kit.tl.cocluster` and friends when they are called
        with ``random_state=None``; ``None`` draws a fresh seed each time (and records it).
        Default ``0``.
    device
        Default ``device`` of the fits made by ``tl``: ``"auto"`` (CUDA, then Apple MPS, then
        CPU), ``"cpu"``, ``"cuda"``, ``"cuda:<index>"`` or ``"mps"``.
    progress
        Default progress-bar setting of the fits made by ``tl``.

    Examples
    --------
    >>> import cocluster_kit as ckit
    >>> ckit.settings.verbosity = "info"
    >>> with ckit.settings.override(progress=False, seed=1):
    ...     pass  # fits here run quietly with seed 1 unless told otherwise
    """

    __slots__ = ("_verbosity", "_seed", "_device", "_progress")

    def __init__(self) -> None:
        self._verbosity = 1
        self._seed: int | None = 0
        self._device = "auto"
        self._progress = True
        if not any(isinstance(handler, _DefaultHandler) for handler in logger.handlers):
            logger.addHandler(_DefaultHandler())
        logger.setLevel(VERBOSITY_LEVELS["warning"])

    @property
    def verbosity(self) -> int:
        """``0`` error, ``1`` warning, ``2`` info, ``3`` debug."""
        return self._verbosity

    @verbosity.setter
    def verbosity(self, value: int | str) -> None:
        names = list(VERBOSITY_LEVELS)
        if isinstance(value, str) and value.lower() in VERBOSITY_LEVELS:
            level = names.index(value.lower())
        elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
            if not 0 <= value < len(names):
                raise ValueError(
                    f"verbosity={value!r} must be between 0 and {len(names) - 1} "
                    f"({', '.join(f'{i}={name}' for i, name in enumerate(names))})."
                )
            level = int(value)
        else:
            raise ValueError(
                f"verbosity={value!r} must be an integer 0-{len(names) - 1} or one of "
                f"{', '.join(map(repr, names))}."
            )
        self._verbosity = level
        logger.setLevel(VERBOSITY_LEVELS[names[level]])

    @property
    def seed(self) -> int | None:
        """Seed used when ``random_state=None``; ``None`` for a fresh seed each time."""
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        if value is not None and (
            not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0
        ):
            raise ValueError(f"seed={value!r} must be None or a non-negative integer.")
        self._seed = None if value is None else int(value)

    @property
    def device(self) -> str:
        """Default device of the fits made by ``tl``."""
        return self._device

    @device.setter
    def device(self, value: str) -> None:
        kind, _, index = str(value).partition(":") if isinstance(value, str) else ("", "", "")
        if kind not in DEVICE_CHOICES or (index and (kind != "cuda" or not index.isdigit())):
            raise ValueError(
                f"device={value!r} is not one of {', '.join(map(repr, DEVICE_CHOICES))} "
                "(or 'cuda:<index>')."
            )
        self._device = value

    @property
    def progress(self) -> bool:
        """Default progress-bar setting of the fits made by ``tl``."""
        return self._progress

    @progress.setter
    def progress(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"progress={value!r} must be True or False.")
        self._progress = value

    @contextmanager
    def override(self, **values) -> Iterator[Settings]:
        """Set some settings for the duration of a ``with`` block, then restore them.

        Parameters
        ----------
        **values
            New values by name (``verbosity``, ``seed``, ``device``, ``progress``). A bad
            name or value raises ``ValueError`` and leaves every setting as it was.

        Yields
        ------
        This settings object.
        """
        unknown = sorted(set(values) - set(self._names()))
        if unknown:
            raise ValueError(
                f"unknown setting(s) {unknown}; the settings are {', '.join(self._names())}."
            )
        previous = {name: getattr(self, name) for name in self._names()}
        try:
            for name, value in values.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in previous.items():
                setattr(self, name, value)

    @staticmethod
    def _names() -> tuple[str, ...]:
        return tuple(slot.lstrip("_") for slot in Settings.__slots__)

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"Settings({values})"


settings = Settings()
"""The package-wide :class:`Settings` object (``cocluster_kit.settings``)."""
