"""Checks of ``ckit run``'s options and input, and the command line recorded with a result."""

from __future__ import annotations

import ast
import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anndata import AnnData


class BadInput(ValueError):
    """A command-line value or input file that cannot be used (exit status 2)."""


def check_options(
    row_clusters: int,
    col_clusters: int | None,
    epochs: int | None,
    pretrain_epochs: int | None,
    seed: int,
    device: str,
) -> None:
    """Refuse impossible option values before anything is read."""
    from ._settings import settings

    for flag, value in (("-K/--row-clusters", row_clusters), ("-L/--col-clusters", col_clusters)):
        if value is not None and value < 1:
            raise BadInput(f"{flag} {value}: a cluster count must be at least 1; pass e.g. 3.")
    if epochs is not None and epochs < 1:
        raise BadInput(
            f"--epochs {epochs}: the number of training epochs must be at least 1; pass e.g. "
            "--epochs 50, or leave it out for the default budget."
        )
    if pretrain_epochs is not None and pretrain_epochs < 0:
        raise BadInput(
            f"--pretrain-epochs {pretrain_epochs}: must be 0 or more; leave it out for the "
            "default budget."
        )
    if seed < 0:
        raise BadInput(f"--seed {seed}: the seed must be 0 or more.")
    try:
        with settings.override(device=device):
            pass
    except ValueError:
        raise BadInput(
            f"--device {device}: not a device; pass auto, cpu, cuda, cuda:<index> or mps."
        ) from None


def check_counts(adata: AnnData, source: str, row_clusters: int, col_clusters: int) -> None:
    """Cluster counts no larger than the rows and columns read."""
    for flag, value, limit, what in (
        ("-K/--row-clusters", row_clusters, adata.n_obs, "rows"),
        ("-L/--col-clusters", col_clusters, adata.n_vars, "columns"),
    ):
        if value > limit:
            raise BadInput(
                f"{flag} {value} is more than the {limit} {what} read from {source}; pass "
                f"{flag.split('/')[0]} {limit} or less."
            )


def command_line(source: str, flags: dict[str, Any], adapter_options: list[str]) -> str:
    """The ``ckit run`` command that reproduces this result (recorded in ``result.h5ad``)."""
    words = ["ckit", "run", source]
    for flag, value in flags.items():
        if value is not None:
            words += [flag, str(value)]
    for option in adapter_options:
        words += ["-a", option]
    return " ".join(shlex.quote(word) for word in words)


def parse_options(pairs: list[str], flag: str) -> dict[str, Any]:
    """``NAME=VALUE`` strings as keyword arguments.

    A value is read as a Python literal when it is one (``2000``, ``0.5``, ``False``,
    ``None``, ``(1, 2)``, ``'quoted'``), else kept as text (``body``, ``latin-1``).

    Raises
    ------
    BadInput
        For an item without ``=`` or with an empty or non-identifier name.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise BadInput(
                f"{flag} {pair!r}: write NAME=VALUE, e.g. {flag} text_column=body; "
                "'ckit adapters' lists the adapters, whose options their documentation gives."
            )
        try:
            options[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            options[name] = text.strip()
    return options
