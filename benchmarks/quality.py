"""Quality benchmark (issue #3): the default model beside the classical baselines.

Run from the repository root::

    .venv/bin/python benchmarks/quality.py                 # main table, all data sets, 3 seeds
    .venv/bin/python benchmarks/quality.py --ablation      # the ablation table
    .venv/bin/python benchmarks/quality.py --data wisconsin yale --seeds 0 --methods CoclusterVAE

Every fit is ``CoclusterVAE(n_row_clusters=k, n_col_clusters=k, random_state=seed)`` with the
package defaults, on the matrix as given. Baselines: scikit-learn's SpectralCoclustering and
SpectralBiclustering, and KMeans on LSA (TF-IDF → 100-dimensional truncated SVD → L2) for
non-negative sparse data or on PCA (standardised columns → 50 components) otherwise. Each run
is stored in a JSON cache (``--cache``) as soon as it finishes, so an interrupted run resumes;
the markdown tables are printed and, with ``--write``, replace their section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _common import (
    add_run_options,
    code_revision,
    machine,
    read_json,
    replace_section,
    run_stamps,
    set_threads,
    store_run,
)

HERE = Path(__file__).resolve().parent
DATA_SETS = ("webkb4", "wisconsin", "yale", "classic3", "cstr", "pbmc68k", "digits")
ABLATION_DATA = ("wisconsin", "yale", "webkb4")
# Targets of issue #3 (purity-ACC, NMI); None where the issue sets no bar.
TARGETS = {
    "webkb4": (0.832, 0.468),
    "wisconsin": (0.816, 0.515),
    "yale": (0.581, 0.610),
    "classic3": (None, 0.950),
    "cstr": (None, 0.767),
    "pbmc68k": (None, 0.66),
    "digits": (None, 0.63),
}
ABLATIONS = {
    "defaults (elbo)": {},
    "estimator=iwae": {"estimator": "iwae"},  # n_samples=None: 4 importance samples
    "estimator=dreg": {"estimator": "dreg"},
    "no joint level": {"joint": False},
    "no MI term": {"mi": "none"},
    "no critics": {"critic": False},
    "no scale trick": {"scale_trick": False},
    "rows only": {"joint": False, "mi": "none"},
    # The three parts the ablation found neutral, dropped together (a candidate for new defaults).
    "sides + MI only": {"joint": False, "critic": False, "scale_trick": False},
    "no critics, no scale trick": {"critic": False, "scale_trick": False},  # keeps the cells
    # The kept epoch as chosen before monitor= existed: by the whole J, cell level included.
    "monitor=objective": {"monitor": "objective"},
    # A stronger cross-loss: removing it lowered all three ablation medians (lambda_MI = 1).
    "mi_weight=3": {"mi_weight": 3.0},
    "mi_weight=10": {"mi_weight": 10.0},
    # Latent size of the row and column sides (default 10).
    "latent_dim=5": {"latent_dim": 5},
    "latent_dim=20": {"latent_dim": 20},
    # The mixtures started from a diagonal GMM fit of the encoder means (default: k-means).
    "mixture_init=gmm": {"mixture_init": "gmm"},
    # Smaller minibatches (default 256 a side): more, noisier steps per epoch on small data.
    "batch_size=64": {"row_batch_size": 64, "col_batch_size": 64},
    # Adam's step size (default 1e-3), with the same budget of steps.
    "learning_rate=3e-3": {"learning_rate": 3e-3},
    "learning_rate=3e-4": {"learning_rate": 3e-4},
    # Width of the encoders' hidden layers (default 256, 128).
    "hidden=(128, 64)": {"hidden": (128, 64)},
    "hidden=(512, 256)": {"hidden": (512, 256)},
}


def load(name: str) -> tuple[object, np.ndarray, int]:
    """The matrix as given, 0-based labels and the number of classes."""
    if name == "pbmc68k":
        import scanpy as sc

        adata = sc.datasets.pbmc68k_reduced()
        labels = adata.obs["bulk_labels"].cat.codes.to_numpy()
        return sp.csr_matrix(adata.raw.X), labels, 10
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.data, digits.target, 10
    from cocluster_kit.datasets import load_benchmark

    data = load_benchmark(name)
    return data.X, data.row_labels, data.n_classes


def is_sparse_nonnegative(X) -> bool:
    """Text-like data: non-negative and at most half of the entries nonzero."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    size = X.shape[0] * X.shape[1]
    nonzero = X.nnz if sp.issparse(X) else np.count_nonzero(values)
    return bool(values.min() >= 0) and nonzero <= 0.5 * size


def kmeans_baseline(X, k: int, seed: int) -> np.ndarray:
    """KMeans (n_init=10) on LSA for sparse non-negative data, on PCA otherwise."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import StandardScaler, normalize

    if is_sparse_nonnegative(X):
        tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(sp.csr_matrix(X))
        n_components = min(100, min(tfidf.shape) - 1)
        features = TruncatedSVD(n_components, random_state=seed).fit_transform(tfidf)
        features = normalize(features)
    else:
        dense = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=float)
        n_components = min(50, min(dense.shape) - 1)
        features = PCA(n_components, random_state=seed).fit_transform(
            StandardScaler().fit_transform(dense)
        )
    return KMeans(k, n_init=10, random_state=seed).fit_predict(features)


def spectral_baseline(kind: str) -> Callable:
    """SpectralCoclustering or SpectralBiclustering with ``k`` clusters (non-negative data)."""

    def fit(X, k: int, seed: int) -> np.ndarray:
        from sklearn.cluster import SpectralBiclustering, SpectralCoclustering

        matrix = sp.csr_matrix(X, dtype=np.float64)
        empty = (np.asarray(matrix.sum(0)) == 0).any() or (np.asarray(matrix.sum(1)) == 0).any()
        if empty:
            # Both methods divide by row and column sums; a tiny floor keeps all-zero rows or
            # columns (the blank border pixels of digits) from giving NaN. Small data only.
            matrix = sp.csr_matrix(matrix.toarray() + 1e-9)
        if kind == "co":
            return SpectralCoclustering(k, random_state=seed).fit(matrix).row_labels_
        return SpectralBiclustering(k, random_state=seed).fit(matrix).row_labels_

    return fit


def model_fit(**overrides) -> Callable:
    """The package's model with its defaults (plus the ablation's switches)."""

    def fit(X, k: int, seed: int) -> np.ndarray:
        import cocluster_kit as ckit

        model = ckit.CoclusterVAE(k, k, random_state=seed, progress=False, **overrides)
        return model.fit(X).row_labels_

    return fit


METHODS: dict[str, Callable] = {
    "CoclusterVAE": model_fit(),
    "SpectralCoclustering": spectral_baseline("co"),
    "SpectralBiclustering": spectral_baseline("bi"),
    "KMeans (LSA / PCA)": kmeans_baseline,
}


def run_one(fit: Callable, X, labels: np.ndarray, k: int, seed: int) -> dict:
    """Fit once and score the row labels."""
    from cocluster_kit.metrics import clustering_scores

    started = time.perf_counter()
    try:
        predicted = fit(X, k, seed)
    except Exception as error:  # a baseline that cannot handle the data is reported, not fatal
        return {"error": f"{type(error).__name__}: {error}"[:200]}
    seconds = time.perf_counter() - started
    return {**clustering_scores(labels, predicted), "seconds": seconds}


BASELINES = ("SpectralCoclustering", "SpectralBiclustering", "KMeans (LSA / PCA)")

SAME_FIT = {("ablation", "defaults (elbo)"): "quality|{name}|CoclusterVAE|{seed}"}
"""Runs that are another table's run: the same settings and seed at the same package revision
and torch thread count give the same fit (fits are reproducible; another thread count changes
the float rounding and so the fit), so the stored run is read instead of refitted. Model runs
record their thread count (``threads``); a twin without it is not reused."""


def collect(table: str, methods: dict, data_sets, seeds, cache_path: Path) -> dict:
    """Run every (data, method, seed) not yet in the cache; returns the cache."""
    import torch

    import cocluster_kit as ckit

    cache = read_json(cache_path)
    revision = code_revision()
    threads = torch.get_num_threads()
    loaded: dict[str, tuple] = {}
    # Seeds outermost: an interrupted run still has every data set at its first seeds.
    for seed in seeds:
        for name in data_sets:
            for method, fit in methods.items():
                key = f"{table}|{name}|{method}|{seed}"
                # Baselines do not change with our code; the model's runs are redone after
                # any change to it (the cache records the git revision they were run at).
                stamp = (
                    ckit.__version__ if method in BASELINES else f"{ckit.__version__}+{revision}"
                )
                if key in cache and cache[key].get("version") == stamp:
                    continue
                twin = SAME_FIT.get((table, method), "").format(name=name, seed=seed)
                twin_run = cache.get(twin, {})
                if twin_run.get("version") == stamp and twin_run.get("threads") == threads:
                    cache[key] = {**twin_run, "same_fit_as": twin}
                    store_run(cache_path, key, cache[key])
                    print(f"{key}: the run of {twin}", flush=True)
                    continue
                if name not in loaded:
                    loaded[name] = load(name)
                X, labels, k = loaded[name]
                result = run_one(fit, X, labels, k, seed)
                cache[key] = {**result, "version": stamp}
                if method not in BASELINES:
                    cache[key]["threads"] = threads  # the fit depends on it (float rounding)
                store_run(cache_path, key, cache[key])
                shown = {k_: round(v, 3) for k_, v in result.items() if isinstance(v, float)}
                print(f"{key}: {shown or result}", flush=True)
    return read_json(cache_path)  # with the runs other processes stored meanwhile


def current_runs(cache: dict) -> dict:
    """The cache without model runs of another package revision: tables show only runs of
    the code as it is (stale runs are redone by the next fitting run, never mixed in)."""
    import cocluster_kit as ckit

    stamp = f"{ckit.__version__}+{code_revision()}"
    return {
        key: run
        for key, run in cache.items()
        if key.split("|")[2] in BASELINES or run.get("version") == stamp
    }


def summary(cache: dict, table: str, methods, data_sets, seeds) -> str:
    """Markdown: one line per (data, method) with medians and the NMI of every seed."""
    lines = [
        "| data | method | purity-ACC | Hungarian-ACC | NMI (seeds) | ARI | s / fit | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in data_sets:
        purity_target, nmi_target = TARGETS[name]
        target = f"{purity_target or '—'} / {nmi_target}"
        for method in methods:
            runs = [cache.get(f"{table}|{name}|{method}|{seed}", {}) for seed in seeds]
            good = [run for run in runs if "nmi" in run]
            missing = len(runs) - len(good)
            if not good:
                reason = next((run["error"] for run in runs if "error" in run), "not run")
                lines.append(f"| {name} | {method} | — | — | {reason} | — | — | {target} |")
                continue

            def median(metric: str, runs=good) -> float:
                return float(np.median([run[metric] for run in runs]))

            seeds_nmi = ", ".join(f"{run['nmi']:.3f}" for run in good)
            if missing:
                seeds_nmi += f"; {missing} of {len(runs)} seeds not run"
            lines.append(
                f"| {name} | {method} | {median('purity_acc'):.3f} | "
                f"{median('hungarian_acc'):.3f} | {median('nmi'):.3f} ({seeds_nmi}) | "
                f"{median('ari'):.3f} | {median('seconds'):.1f} | {target} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=None, choices=DATA_SETS)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--ablation", action="store_true", help="run the ablation table")
    add_run_options(parser, HERE / "results" / "quality_runs.json")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.ablation:
        table, methods, default_data = "ablation", ABLATIONS, ABLATION_DATA
        methods = {name: model_fit(**switches) for name, switches in ABLATIONS.items()}
    else:
        table, methods, default_data = "quality", METHODS, DATA_SETS
    if args.methods:
        unknown = sorted(set(args.methods) - set(methods))
        if unknown:
            parser.error(f"unknown methods {unknown}; choose from {sorted(methods)}")
        methods = {name: methods[name] for name in args.methods}
    data_sets = args.data or default_data
    if args.table_only:
        cache = read_json(args.cache)
    else:
        cache = collect(table, methods, data_sets, args.seeds, args.cache)
    cache = current_runs(cache)
    body = "\n".join(
        [
            f"Machine: {machine()}. Seeds {', '.join(map(str, args.seeds))}; medians, "
            "NMI of every seed in brackets. Model runs stamped "
            + run_stamps(
                cache,
                [
                    f"{table}|{name}|{method}|{seed}"
                    for name in data_sets
                    for method in methods
                    if method not in BASELINES
                    for seed in args.seeds
                ],
            )
            + ".",
            "",
            summary(cache, table, methods, data_sets, args.seeds),
        ]
    )
    print(body)
    if args.write:
        replace_section(HERE / "RESULTS.md", table, body)


if __name__ == "__main__":
    main()
