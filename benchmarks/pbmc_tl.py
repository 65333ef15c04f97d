"""pbmc68k_reduced through ``tl.cocluster`` (issue #4), beside KMeans on the stored PCA.

Run from the repository root::

    .venv/bin/python benchmarks/pbmc_tl.py --threads 1 --write

For each seed ``s``: ``ckit.tl.cocluster(adata, n_row_clusters=10, n_col_clusters=8,
random_state=s)`` on ``ckit.datasets.pbmc68k_reduced().raw.to_adata()`` (scanpy's
log-normalised values of 765 genes, read by ``tl`` as log expression), its row clusters scored
against ``obs["bulk_labels"]`` (10 cell types); beside it ``KMeans(10, n_init=10,
random_state=s)`` on the data set's own ``obsm["X_pca"]``, the usual scanpy-side baseline.
``tests/test_tl_real_data.py`` checks seed 0 of the same comparison.

Each run is stored in a JSON cache as soon as it finishes (model runs are stamped with the
package tree, so a change to the model refits them); ``--write`` replaces the ``pbmc-tl``
section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import (
    add_run_options,
    machine,
    package_stamps,
    read_json,
    replace_section,
    run_missing,
    run_stamps,
    set_threads,
)

HERE = Path(__file__).resolve().parent
N_ROW_CLUSTERS, N_COL_CLUSTERS = 10, 8
METRICS = ("nmi", "purity_acc", "ari")  # the order of the table's columns


def run_model(seed: int) -> dict:
    import cocluster_kit as ckit
    from cocluster_kit.metrics import clustering_scores

    reduced = ckit.datasets.pbmc68k_reduced()
    adata = reduced.raw.to_adata()
    started = time.perf_counter()
    ckit.tl.cocluster(adata, N_ROW_CLUSTERS, N_COL_CLUSTERS, random_state=seed, progress=False)
    seconds = time.perf_counter() - started
    scores = clustering_scores(reduced.obs["bulk_labels"], adata.obs["cocluster_row"])
    likelihood = adata.uns["cocluster"]["params"]["likelihood"]
    return {**scores, "seconds": seconds, "likelihood": likelihood}


def run_kmeans(seed: int) -> dict:
    from sklearn.cluster import KMeans

    import cocluster_kit as ckit
    from cocluster_kit.metrics import clustering_scores

    reduced = ckit.datasets.pbmc68k_reduced()
    started = time.perf_counter()
    labels = KMeans(N_ROW_CLUSTERS, n_init=10, random_state=seed).fit_predict(reduced.obsm["X_pca"])
    seconds = time.perf_counter() - started
    return {**clustering_scores(reduced.obs["bulk_labels"], labels), "seconds": seconds}


METHODS = {"tl.cocluster": run_model, "KMeans on X_pca": run_kmeans}


def collect(seeds, cache_path: Path) -> dict:
    model_stamp, baseline_stamp = package_stamps()
    stamps = {"tl.cocluster": model_stamp, "KMeans on X_pca": baseline_stamp}
    jobs = (
        (f"pbmc_tl|{method}|{seed}", stamps[method], lambda run=run, seed=seed: run(seed))
        for seed in seeds
        for method, run in METHODS.items()
    )
    return run_missing(cache_path, jobs)


def table(cache: dict, seeds) -> str:
    """One row per seed and a median row: each method's scores, the model's seconds."""

    def value(method: str, seed: int, metric: str) -> float:
        return cache.get(f"pbmc_tl|{method}|{seed}", {}).get(metric, np.nan)

    lines = [
        "| seed | tl.cocluster NMI | KMeans on X_pca NMI | tl.cocluster purity-ACC "
        "| KMeans purity-ACC | tl.cocluster ARI | KMeans ARI | tl.cocluster s / fit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    columns = [(method, metric) for metric in METRICS for method in METHODS]
    columns.append(("tl.cocluster", "seconds"))
    rows = [(str(seed), [seed]) for seed in seeds] + [("median", list(seeds))]
    for label, chosen in rows:
        text = []
        for method, metric in columns:
            cell = np.median([value(method, seed, metric) for seed in chosen])
            text.append(
                "—" if np.isnan(cell) else f"{cell:.0f}" if metric == "seconds" else f"{cell:.3f}"
            )
        if label == "median":
            text[0] = f"**{text[0]}**"
        lines.append(f"| {label} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_options(parser, HERE / "results" / "pbmc_tl_runs.json")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    cache = read_json(args.cache) if args.table_only else collect(args.seeds, args.cache)
    keys = [f"pbmc_tl|tl.cocluster|{seed}" for seed in args.seeds]
    likelihoods = sorted({cache[key]["likelihood"] for key in keys if key in cache})
    body = "\n".join(
        [
            f"Machine: {machine()}. Seeds {', '.join(map(str, args.seeds))}. Model runs "
            f"stamped {run_stamps(cache, keys)}; likelihood picked: "
            f"{', '.join(likelihoods) or 'none'}.",
            "",
            table(cache, args.seeds),
        ]
    )
    print(body)
    if args.write:
        replace_section(HERE / "RESULTS.md", "pbmc-tl", body)


if __name__ == "__main__":
    main()
