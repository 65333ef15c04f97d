"""``report.html``: one self-contained page that shows a co-clustering result.

Built from the AnnData alone (``ckit run`` writes it; ``ckit report RESULT.h5ad`` rebuilds
it), with every figure embedded as a base64 PNG and no external reference, so the page can be
mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._figures import cluster_sizes_figure, confusion_figure, uncertainty_figure

if TYPE_CHECKING:
    from anndata import AnnData

SECTIONS = {
    "summary": "Data",
    "parameters": "Parameters",
    "training": "Training curve",
    "block-means": "Block means",
    "matrix": "Reordered matrix",
    "sizes": "Cluster sizes",
    "top-features": "Top features per co-cluster",
    "uncertainty": "Membership uncertainty",
    "labels": "Scores against the labels",
}
"""Section ids of the page and their headings; ``labels`` only when the data has labels."""

LABEL_COLUMN = "label"
"""The ``obs`` column used as reference labels unless another is named."""

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}nav a{margin-right:1em}table{border-collapse:collapse;margin:.6em 0;
font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:.6em 0}.note{color:#666;font-size:.9em}
.scores td{font-size:1.1em}
"""


def label_column(adata: AnnData, requested: str | None = None) -> str | None:
    """The ``obs`` column holding reference labels: ``requested``, else ``"label"`` if present.

    A default ``"label"`` column without a single label counts as absent.

    Raises
    ------
    KeyError
        If ``requested`` is not a column of ``adata.obs`` (the message lists them) or holds
        no label at all.
    """
    if requested:
        if requested not in adata.obs.columns:
            available = ", ".join(map(str, adata.obs.columns)) or "none"
            raise KeyError(
                f"--labels {requested}: no such column in the data's row metadata (obs columns: "
                f"{available}); name one of them, or leave --labels out."
            )
        if not adata.obs[requested].notna().any():
            raise KeyError(
                f"--labels {requested}: every value of the column is missing; name a column "
                "with labels, or leave --labels out."
            )
        return requested
    if LABEL_COLUMN in adata.obs.columns and adata.obs[LABEL_COLUMN].notna().any():
        return LABEL_COLUMN
    return None


def label_scores(adata: AnnData, column: str, key: str = "cocluster") -> tuple[dict, Any]:
    """Scores of the row clusters against ``obs[column]``, and their contingency table.

    Rows whose label is missing are left out.

    Returns
    -------
    tuple
        ``(scores, table)``: :func:`cocluster_kit.metrics.clustering_scores` plus
        ``n_labelled``, and a DataFrame of counts (classes down, row clusters across).
    """
    import pandas as pd

    from .metrics import clustering_scores

    labels = adata.obs[column]
    clusters = adata.obs[f"{key}_row"]
    known = labels.notna().to_numpy()
    if not known.any():
        raise ValueError(f"obs[{column!r}] has no label; every value is missing.")
    truth = labels[known].astype(str).to_numpy()
    predicted = clusters[known]
    scores = clustering_scores(truth, predicted.astype(str).to_numpy())
    scores["n_labelled"] = int(known.sum())
    table = pd.crosstab(
        pd.Categorical(truth, categories=sorted(set(truth))),
        pd.Categorical(predicted.astype(str), categories=list(clusters.cat.categories)),
        dropna=False,
    )
    table.index.name, table.columns.name = column, "row cluster"
    return scores, table


def build_report(
    adata: AnnData, *, key: str = "cocluster", labels: str | None = None, title: str | None = None
) -> str:
    """The HTML page of a co-clustering result.

    Parameters
    ----------
    adata
        An AnnData holding a result of :func:`cocluster_kit.tl.cocluster`; the top features
        are computed with :func:`cocluster_kit.tl.top_features` when they are missing.
    key
        The ``key_added`` of the result.
    labels
        ``obs`` column with reference labels; default ``"label"`` when it exists.
    title
        Page title; default the source's file name.

    Returns
    -------
    str
        A complete HTML document with the sections of :data:`SECTIONS` (``labels`` only when
        there are labels); figures are embedded PNGs.
    """
    from . import pl, tl

    result = adata.uns[key]
    if "top_features" not in result:
        tl.top_features(adata, key)
    column = label_column(adata, labels)
    source = dict(adata.uns.get("ckit_source", {}))
    name = title or Path(str(source.get("source", "") or "co-clustering")).name
    parts = [
        f"<h1>{_e(name)}: co-clusters</h1>",
        f'<p class="note">{adata.n_obs} rows x {adata.n_vars} columns, '
        f"{_cluster_count(adata, key, 'row')} x {_cluster_count(adata, key, 'col')} "
        f"co-clusters.</p>",
    ]
    sections = {
        "summary": _table(_summary_rows(adata, key, column)),
        "parameters": _table(sorted((k, _value(v)) for k, v in result["params"].items())),
        "training": _training(adata, key, pl),
        "block-means": _figure(pl.block_means(adata, key))
        + '<p class="note">Mean of each block (row cluster x column cluster) on the fitted '
        "matrix, with its size in rows x columns.</p>",
        "matrix": _figure(
            pl.blocks(adata, key, max_rows=600, max_cols=600, scale=_scale(adata, key))
        )
        + '<p class="note">Rows and columns grouped by cluster (a sample per cluster when '
        "large).</p>",
        "sizes": _figure(cluster_sizes_figure(adata, key)),
        "top-features": _top_features(adata, key, pl),
        "uncertainty": _uncertainty(adata, key),
    }
    if column is not None:
        sections["labels"] = _labels(adata, key, column)
    nav = " ".join(f'<a href="#{sid}">{_e(SECTIONS[sid])}</a>' for sid in sections)
    parts.append(f"<nav>{nav}</nav>")
    for sid, body in sections.items():
        parts.append(f'<section id="{sid}"><h2>{_e(SECTIONS[sid])}</h2>{body}</section>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(name)}: co-clusters</title><style>{_STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def write_report(
    adata: AnnData,
    path: str | os.PathLike,
    *,
    key: str = "cocluster",
    labels: str | None = None,
    title: str | None = None,
) -> Path:
    """Write :func:`build_report`'s page to ``path`` (through a temporary file and a rename).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from ._outputs import atomic_file

    page = build_report(adata, key=key, labels=labels, title=title)
    path = Path(path)
    with atomic_file(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _value(value: Any) -> str:
    """A parameter value as short text."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float):
        return f"{value:.6g}"
    return "None" if value is None else str(value)


def _cluster_count(adata: AnnData, key: str, side: str) -> int:
    labels = adata.obs[f"{key}_row"] if side == "row" else adata.var[f"{key}_col"]
    return len(labels.cat.categories)


def _table(rows, header: tuple[str, ...] | None = None) -> str:
    """An HTML table of ``(cell, ...)`` rows; numbers are right-aligned."""
    lines = ["<table>"]
    if header:
        lines.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            tag = "th" if i == 0 and not header else "td"
            numeric = isinstance(cell, (int, float, np.integer, np.floating))
            text = f"{cell:.4g}" if isinstance(cell, (float, np.floating)) else cell
            cells.append(f"<{tag}{' class=num' if numeric else ''}>{_e(text)}</{tag}>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return "".join(lines)


def _figure(figure) -> str:
    """A Matplotlib figure as an embedded PNG ``<img>`` (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{encoded}">'


def _scale(adata: AnnData, key: str) -> str | None:
    """``"log1p"`` for count data (long-tailed, non-negative), else the values as stored."""
    likelihood = str(adata.uns[key].get("params", {}).get("likelihood", ""))
    return "log1p" if likelihood in ("multinomial", "poisson", "negative_binomial") else None


def _summary_rows(adata: AnnData, key: str, column: str | None) -> list[tuple[str, Any]]:
    """Facts about the data and the fit, for the summary table."""
    import scipy.sparse as sp

    from ._anndata import get_matrix, matrix_label, resolve_layer

    result = adata.uns[key]
    source = dict(adata.uns.get("ckit_source", {}))
    layer = resolve_layer(adata, result["params"].get("layer") or None)
    matrix = get_matrix(adata, layer)
    n_entries = adata.n_obs * adata.n_vars
    if sp.issparse(matrix):
        missing = int(np.isnan(matrix.data).sum())
        stored = int(np.count_nonzero(matrix.data)) - missing
    else:
        missing = stored = 0
        for start in range(0, matrix.shape[0], 4096):  # no n x m temporary
            chunk = np.asarray(matrix[start : start + 4096], dtype=np.float64)
            is_missing = np.isnan(chunk)
            missing += int(is_missing.sum())
            stored += int(np.count_nonzero(chunk)) - int(is_missing.sum())
    rows: list[tuple[str, Any]] = [
        ("source", source.get("source", "(not recorded)")),
        ("adapter", source.get("adapter", "(none)")),
        ("rows x columns", f"{adata.n_obs} x {adata.n_vars}"),
        ("matrix fitted", matrix_label(layer)),
        ("nonzero entries", f"{stored} ({stored / max(n_entries, 1):.2%})"),
        ("missing entries", f"{missing} ({missing / max(n_entries, 1):.2%})"),
        ("likelihood", f"{result['params'].get('likelihood')} ({result.get('likelihood_source')})"),
        (
            "row clusters used",
            f"{result.get('n_row_clusters_used')} of {_cluster_count(adata, key, 'row')}",
        ),
        (
            "column clusters used",
            f"{result.get('n_col_clusters_used')} of {_cluster_count(adata, key, 'col')}",
        ),
        ("evidence bound per entry", float(result.get("bound", np.nan))),
        ("reference labels", f"obs[{column!r}]" if column else "(none)"),
    ]
    run = dict(adata.uns.get("ckit_run", {}))
    if run.get("seconds") is not None:
        rows.append(("fit time", f"{float(run['seconds']):.1f} s"))
    if run.get("command"):
        rows.append(("command", run["command"]))
    return rows


# What the training panel calls each term early stopping may have read.
_TERM_NAMES = {
    "partition_objective": "objective without the cell level (what early stopping read)",
    "objective": "objective (what early stopping read)",
    "loss": "loss",
}


def _training(adata: AnnData, key: str, pl) -> str:
    import pandas as pd

    from .train import MONITORED_TERMS, kept_epoch, monitored_term

    history = pd.DataFrame(adata.uns[key]["history"])
    params = adata.uns[key].get("params", {})
    # Results saved before ``monitor`` existed stopped on the whole objective.
    monitored = MONITORED_TERMS.get(str(params.get("monitor", "objective")), "objective")
    term = monitored_term(history.columns, monitored)
    stages = history["stage"].astype(str).value_counts() if "stage" in history else {}
    note = ", ".join(f"{count} {stage} epochs" for stage, count in dict(stages).items())
    figure = pl.history(adata, key, terms=term)
    axes = figure.axes[0]
    magnitude = pd.to_numeric(history[term], errors="coerce").abs()
    magnitude = magnitude[np.isfinite(magnitude) & (magnitude > 0)]
    by_stage = magnitude.groupby(history["stage"].astype(str) if "stage" in history else 0)
    medians = by_stage.median()
    scale = ""
    if len(medians) > 1 and medians.max() > 30 * medians.min():
        # stages on very different scales (pre-training vs the full objective): keep both visible
        if (pd.to_numeric(history[term], errors="coerce").dropna() > 0).all():
            axes.set_yscale("log")
            scale = " on a log scale"
        else:
            axes.set_yscale("symlog", linthresh=float(magnitude.min()))
            scale = " on a symmetric log scale"
        axes.relim()
        axes.autoscale_view()
    kept = kept_epoch(history, term, float(params.get("min_delta", 0.0)))
    if kept is not None and "epoch" in kept:
        axes.axvline(float(kept["epoch"]), color="black", linestyle=":", linewidth=1.0)
        kept_note = (
            f"the dotted line marks epoch {int(kept['epoch'])}, the best after the warm-up, "
            "whose weights were kept"
        )
    else:
        kept_note = "no epoch finished at full weight, so the last weights were kept"
    return _figure(figure) + (
        f'<p class="note">The training {_e(_TERM_NAMES[term])} per epoch{scale} '
        f"({_e(note)}); {kept_note}.</p>"
    )


def _top_features(adata: AnnData, key: str, pl, per_block: int = 8) -> str:
    from . import get

    table = get.top_features_df(adata, key)
    blocks = get.blocks_df(adata, key).set_index(["row_cluster", "col_cluster"])
    rows = []
    for (row_cluster, col_cluster), group in table.groupby(
        ["row_cluster", "col_cluster"], observed=True, sort=True
    ):
        block = blocks.loc[(row_cluster, col_cluster)]
        words = ", ".join(group.sort_values("rank")["feature"].astype(str).head(per_block))
        rows.append(
            (
                row_cluster,
                col_cluster,
                f"{int(block['n_rows'])} x {int(block['n_cols'])}",
                float(block["enrichment"]),
                words,
            )
        )
    rows.sort(key=lambda row: -row[3] if np.isfinite(row[3]) else np.inf)
    header = ("row cluster", "column cluster", "size", "block enrichment", "top features")
    return (
        _figure(pl.top_features(adata, key, n_top=8))
        + '<p class="note">Co-clusters by block enrichment (standardised mean difference of the '
        "block against the whole matrix); features ranked by their enrichment in the row "
        "cluster.</p>" + _table(rows, header)
    )


def _uncertainty(adata: AnnData, key: str) -> str:
    summary = []
    for side, proba in (
        ("rows", adata.obsm[f"{key}_row_proba"]),
        ("columns", adata.varm[f"{key}_col_proba"]),
    ):
        top = np.asarray(proba, dtype=np.float64).max(axis=1)
        summary.append(
            (side, float(np.median(top)), f"{np.mean(top < 0.5):.1%}", f"{np.mean(top < 0.9):.1%}")
        )
    header = ("items", "median top membership", "below 0.5", "below 0.9")
    return (
        _figure(uncertainty_figure(adata, key))
        + '<p class="note">How sure each membership is: the probability of the chosen cluster '
        "(1 = certain) and the entropy of the memberships (0 = certain).</p>"
        + _table(summary, header)
    )


def _labels(adata: AnnData, key: str, column: str) -> str:
    scores, table = label_scores(adata, column, key)
    rows = [
        ("purity-ACC", scores["purity_acc"]),
        ("Hungarian ACC", scores["hungarian_acc"]),
        ("NMI", scores["nmi"]),
        ("ARI", scores["ari"]),
        ("labelled rows", scores["n_labelled"]),
    ]
    return (
        f'<p>Row clusters against <code>obs["{_e(column)}"]</code> '
        f"({table.shape[0]} classes).</p>"
        + _table(rows).replace("<table>", '<table class="scores">', 1)
        + _figure(confusion_figure(table))
    )
