"""``ckit``: co-cluster a file from the shell, and build its report page.

``ckit run SOURCE`` reads a source with an adapter, fits the co-clustering and writes a
result folder; ``ckit report RESULT.h5ad`` rebuilds the page; ``ckit adapters`` lists the
adapters; ``ckit --version``. ``python -m cocluster_kit`` is the same program, also under
``torchrun`` (only rank 0 writes). Exit status: 0 done, 1 failed while running, 2 bad usage or
bad input. Messages go to stderr, results to files.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._cli_checks import (
    BadInput,
    check_counts,
    check_options,
    command_line,
    parse_options,
)
from ._distributed import is_main_process, rank, world_size
from ._progress import Messages, TrainingProgress, stderr_is_terminal
from ._version import __version__

if TYPE_CHECKING:
    from anndata import AnnData

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
KEY = "cocluster"

app = typer.Typer(
    name="ckit",
    help="Find co-clusters (groups of rows and of columns that go together) in text corpora, "
    "single-cell data and tables. Exit status: 0 done, 1 failed, 2 bad usage or input.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"ckit (cocluster-kit) {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Find co-clusters in text corpora, single-cell data and tables."""


def _fail(message: str, code: int) -> typer.Exit:
    """Print ``ckit: error: <message>`` as one line on stderr; the exit to raise."""
    typer.echo(f"ckit: error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(code)


def _guarded(body: Callable[[], None], messages: Messages, *, source: str = "") -> None:
    """Run a command's body, turning exceptions into one-line errors and exit statuses.

    Bad input (unreadable sources, impossible cluster counts, bad options: ``ValueError``
    and ``KeyError`` from the checks) exits 2; anything else that fails exits 1. ``-v``
    adds the traceback.
    """
    from ._outputs import OutputError
    from .adapters import AdapterError

    try:
        body()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        raise _fail("interrupted; nothing was written.", 130) from None
    except (AdapterError, BadInput, OutputError) as error:
        if messages.verbose:
            traceback.print_exc()
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    except (ValueError, KeyError) as error:
        if messages.verbose:
            traceback.print_exc()
        text = error.args[0] if isinstance(error, KeyError) and error.args else error
        prefix = f"{source}: " if source else ""
        raise _fail(f"{prefix}{text}", EXIT_BAD_INPUT) from None
    except Exception as error:
        if messages.verbose:
            traceback.print_exc()
        hint = "" if messages.verbose else " (run with -v for the traceback)"
        raise _fail(
            f"failed: {type(error).__name__}: {error}{hint}; nothing was written.", EXIT_FAILED
        ) from None


@app.command()
def run(
    source: Annotated[
        str,
        typer.Argument(
            help="File or folder to read: .txt/.csv/.tsv/.jsonl text, .h5ad, .csv/.parquet table."
        ),
    ],
    row_clusters: Annotated[
        int, typer.Option("-K", "--row-clusters", help="Number of row clusters.")
    ] = 3,
    col_clusters: Annotated[
        int | None,
        typer.Option("-L", "--col-clusters", help="Number of column clusters (default: K)."),
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option(
            help="Adapter to read with, see 'ckit adapters' (default: chosen by the file)."
        ),
    ] = None,
    adapter_option: Annotated[
        list[str] | None,
        typer.Option(
            "--adapter-option",
            "-a",
            help="NAME=VALUE passed to the adapter (repeatable), e.g. -a text_column=body "
            "-a max_features=5000.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: ckit-out/<source stem>)."),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(help="Training epochs, max_epochs (default: a budget of steps)."),
    ] = None,
    pretrain_epochs: Annotated[
        int | None, typer.Option(help="Pre-training epochs (default: a budget of steps).")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same result.")
    ] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:<index> or mps.")] = "auto",
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint-dir",
            help="Save training checkpoints here (every minute); run the same command again "
            "to resume an interrupted fit.",
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(help="obs column with reference labels (default: 'label' if present)."),
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="More messages; tracebacks.")
    ] = False,
) -> None:
    """Co-cluster SOURCE and write result.h5ad, CSV tables, report.html and model/ to --out."""
    messages = Messages(quiet=quiet or not is_main_process(), verbose=verbose)
    _guarded(
        lambda: _run(
            source,
            messages,
            row_clusters=row_clusters,
            col_clusters=col_clusters,
            adapter=adapter,
            adapter_options=adapter_option or [],
            out=out,
            epochs=epochs,
            pretrain_epochs=pretrain_epochs,
            seed=seed,
            device=device,
            labels=labels,
            progress=not no_progress,
            checkpoint_dir=checkpoint_dir,
        ),
        messages,
        source=source,
    )


def _run(
    source: str,
    messages: Messages,
    *,
    row_clusters: int,
    col_clusters: int | None,
    adapter: str | None,
    adapter_options: list[str],
    out: Path | None,
    epochs: int | None,
    pretrain_epochs: int | None,
    seed: int,
    device: str,
    labels: str | None,
    progress: bool,
    checkpoint_dir: Path | None = None,
) -> None:
    """The work of ``ckit run`` (see :func:`run`); raises on bad input or failure."""
    from ._outputs import check_output_dir, default_output_dir
    from ._settings import settings

    check_options(row_clusters, col_clusters, epochs, pretrain_epochs, seed, device)
    options = parse_options(adapter_options, "--adapter-option")
    target = out if out is not None else default_output_dir(source)
    check_output_dir(target)
    if checkpoint_dir is not None and world_size() > 1:
        raise BadInput(
            "--checkpoint-dir is not supported under torchrun yet (the processes would write "
            "the same file); run without it, or in one process."
        )
    verbosity = "error" if messages.quiet else ("info" if messages.verbose else "warning")
    with settings.override(verbosity=verbosity), messages.capture_warnings():
        from . import adapters

        try:
            adata = adapters.read(source, adapter=adapter, **options)
        except TypeError as error:
            if not options:
                raise
            raise BadInput(
                f"{source}: {error}; check the names given with --adapter-option."
            ) from None
        n_columns = row_clusters if col_clusters is None else col_clusters
        check_counts(adata, source, row_clusters, n_columns)
        from ._report import label_column

        column = label_column(adata, labels)
        read_with = adata.uns.get("ckit_source", {}).get("adapter", adapter)
        messages.say(
            f"read {source} with the {read_with} adapter: {adata.n_obs} rows x "
            f"{adata.n_vars} columns" + (f", labels in obs[{column!r}]" if column else "")
        )
        if world_size() > 1:
            messages.say(
                f"torchrun: {world_size()} processes; rank 0 writes the results (this is rank "
                f"{rank()})"
            )
        model, seconds = _fit(
            adata,
            messages,
            (row_clusters, n_columns),
            (pretrain_epochs, epochs),
            seed,
            device,
            progress=progress,
            checkpoint_dir=checkpoint_dir,
        )
        if not is_main_process():
            return
        flags = {
            "-K": row_clusters,
            "-L": n_columns,
            "--adapter": adapter,
            "--epochs": epochs,
            "--pretrain-epochs": pretrain_epochs,
            "--seed": seed,
            "--device": None if device == "auto" else device,
            "--labels": labels,
        }
        adata.uns["ckit_run"] = {
            "command": command_line(source, flags, adapter_options),
            "labels": column or "",
            "seconds": seconds,
            "version": __version__,
        }
        _write_outputs(adata, model, target, column, messages)


def _fit(
    adata: AnnData,
    messages: Messages,
    counts: tuple[int, int],
    epochs: tuple[int | None, int | None],
    seed: int,
    device: str,
    *,
    progress: bool,
    checkpoint_dir: Path | None = None,
):
    """Fit through :func:`cocluster_kit.tl.cocluster`'s code path; ``(model, seconds)``.

    ``counts`` is ``(K, L)``, ``epochs`` is ``(pretrain_epochs, max_epochs)`` (None: the
    model's default budget).
    """
    from .tl._cocluster import fit_cocluster

    row_clusters, col_clusters = counts
    pretrain_epochs, epochs = epochs

    show_bar = progress and not messages.quiet and stderr_is_terminal()
    totals = {"pretrain": pretrain_epochs, "train": epochs}
    model_kwargs: dict[str, Any] = {"device": device, "progress": False}
    if epochs is not None:
        model_kwargs["max_epochs"] = epochs
    if pretrain_epochs is not None:
        model_kwargs["pretrain_epochs"] = pretrain_epochs
    messages.say(f"fitting {row_clusters} x {col_clusters} co-clusters (seed {seed}) ...")
    started = time.perf_counter()
    with TrainingProgress(messages.console, enabled=show_bar, totals=totals) as bar:
        model_kwargs["callbacks"] = [bar]
        model, _ = fit_cocluster(
            adata,
            row_clusters,
            col_clusters,
            layer=None,
            key_added=KEY,
            random_state=seed,
            copy=False,
            model_kwargs=model_kwargs,
            checkpoint_dir=checkpoint_dir,
        )
    seconds = time.perf_counter() - started
    total = len(model.history_)  # the kept fit's epochs, those of an interrupted run included
    resumed = f", {bar.epochs} of them in this run (resumed)" if bar.epochs < total else ""
    fits = len(model.config_.get("fits", [None]))
    best_of = f", the best of {fits} fits (n_init)" if fits > 1 else ""
    messages.say(
        f"trained {total} epochs{resumed}{best_of} in {seconds:.1f} s on {model.device_} "
        f"({model.likelihood_} likelihood)"
    )
    return model, seconds


def _write_outputs(adata: AnnData, model, target: Path, column: str | None, messages) -> None:
    """Write every result file into a staged folder, then rename it to ``target``."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    from . import tl
    from ._outputs import staged_output, write_tables
    from ._report import label_scores, write_report

    tl.top_features(adata, KEY)
    with staged_output(target) as folder:
        adata.write_h5ad(folder / "result.h5ad")
        write_tables(adata, folder, key=KEY)
        model.save(folder / "model")
        write_report(adata, folder / "report.html", key=KEY, labels=column)
    messages.say(
        f"wrote {target}/: result.h5ad, rows.csv, columns.csv, blocks.csv, top_features.csv, model/"
    )
    messages.say(f"report: {target / 'report.html'}")
    if column is not None:
        scores, table = label_scores(adata, column, KEY)
        messages.say(
            f"scores against obs[{column!r}] ({table.shape[0]} classes, "
            f"{scores['n_labelled']} labelled rows): purity-ACC {scores['purity_acc']:.3f}  "
            f"NMI {scores['nmi']:.3f}  ARI {scores['ari']:.3f}"
        )


@app.command()
def report(
    result: Annotated[Path, typer.Argument(help="A result.h5ad written by 'ckit run'.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Page to write (default: report.html beside RESULT)."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(help="obs column with reference labels (default: as in the run)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Tracebacks of failures.")
    ] = False,
) -> None:
    """Rebuild the self-contained report.html page from a result.h5ad."""
    messages = Messages(quiet=quiet or not is_main_process(), verbose=verbose)
    _guarded(lambda: _report(result, out, labels, messages), messages, source=str(result))


def _report(result: Path, out: Path | None, labels: str | None, messages: Messages) -> None:
    """The work of ``ckit report``."""
    if not result.is_file():
        what = "is a folder" if result.is_dir() else "no such file"
        raise BadInput(f"{result}: {what}; pass the result.h5ad written by 'ckit run'.")
    target = out if out is not None else result.parent / "report.html"
    if target.is_dir() or not target.parent.is_dir():
        raise BadInput(f"--out {target}: not a file in an existing folder; pass e.g. report.html.")
    import anndata
    import matplotlib

    matplotlib.use("Agg")
    from ._report import label_column, write_report

    with messages.capture_warnings():
        try:
            adata = anndata.read_h5ad(result)
        except Exception as error:
            raise BadInput(
                f"{result}: cannot be read as an .h5ad file ({type(error).__name__}: {error}); "
                "pass the result.h5ad written by 'ckit run'."
            ) from None
        if KEY not in adata.uns or f"{KEY}_row" not in adata.obs:
            raise BadInput(
                f"{result}: holds no co-clustering (no uns[{KEY!r}]); make one with "
                "'ckit run SOURCE'."
            )
        recorded = str(dict(adata.uns.get("ckit_run", {})).get("labels", ""))
        if labels is None and recorded in adata.obs.columns:
            labels = recorded  # the run's choice, unless --labels names another
        column = label_column(adata, labels)
        if is_main_process():
            write_report(adata, target, key=KEY, labels=column)
    messages.say(f"report: {target}")


@app.command("adapters")
def list_adapters() -> None:
    """List the installed adapters (built in, then plugins) and what they read."""
    from . import adapters

    for name in adapters.available():
        try:
            description = getattr(adapters.get(name), "description", "") or ""
        except adapters.AdapterError as error:
            description = f"(cannot be loaded: {error})"
        typer.echo(f"{name:<12} {description}".rstrip())


def main() -> None:
    """Entry point of the ``ckit`` command and of ``python -m cocluster_kit``."""
    app(prog_name="ckit")
