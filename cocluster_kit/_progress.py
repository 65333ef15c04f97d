"""What ``ckit`` shows on stderr: messages, warnings and a rich progress bar while training."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
"""Warning categories shown only with ``-v`` (they are for developers, not for users)."""


class Messages:
    """Human messages of one command, on stderr; silent with ``quiet``.

    Parameters
    ----------
    quiet
        Print nothing but errors.
    verbose
        Also show developer warnings (deprecations) and tracebacks of failures.
    """

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.verbose = verbose
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def say(self, message: str) -> None:
        """Print one message line (plain text, no markup)."""
        if not self.quiet:
            self.console.print(message, markup=False)

    @contextmanager
    def capture_warnings(self) -> Iterator[None]:
        """Show Python warnings as one-line ``warning:`` messages while the block runs."""

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            text = " ".join(str(message).split())
            self.say(f"warning: {text}")

        with warnings.catch_warnings():
            if self.quiet:
                warnings.simplefilter("ignore")
            elif not self.verbose:
                for category in QUIET_WARNINGS:
                    warnings.simplefilter("ignore", category)
            warnings.showwarning = show
            yield


class TrainingProgress:
    """A rich progress bar fed by :class:`~cocluster_kit.CoclusterVAE`'s ``callbacks``.

    One bar per training stage (pre-training, training) showing the epoch, the objective and
    the time spent; a stage whose length is not known beforehand pulses. Disabled, it only
    counts epochs.

    Parameters
    ----------
    console
        The rich console to draw on (stderr).
    enabled
        Draw the bar; False when the output is not a terminal, with ``--no-progress`` or
        ``-q``.
    totals
        Known epoch counts by stage name (``"pretrain"``, ``"train"``).
    """

    def __init__(self, console, *, enabled: bool, totals: dict[str, int | None]) -> None:
        self.console = console
        self.enabled = enabled
        self.totals = totals
        self.epochs = 0
        self._progress: Any = None
        self._task: Any = None
        self._stage: str | None = None

    def __enter__(self) -> TrainingProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<9}"),
                BarColumn(),
                TextColumn("epoch {task.completed:>4.0f}{task.fields[of]}"),
                TextColumn("objective {task.fields[objective]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __call__(self, entry: dict) -> None:
        """Record one epoch's history entry (the model's callback)."""
        self.epochs += 1
        if self._progress is None:
            return
        stage = str(entry.get("stage", "train"))
        objective = entry.get("objective", entry.get("loss"))
        shown = f"{objective:.5g}" if isinstance(objective, (int, float)) else "?"
        if stage != self._stage:
            if self._task is not None:
                task = self._progress.tasks[-1]
                self._progress.update(self._task, total=task.completed)
            total = self.totals.get(stage)
            self._task = self._progress.add_task(
                stage, total=total, of=f"/{total}" if total else "", objective=shown
            )
            self._stage = stage
        self._progress.update(self._task, advance=1, objective=shown)


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (progress bars are drawn only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
