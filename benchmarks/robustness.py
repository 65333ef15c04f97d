"""Robustness benchmark (issue #8): planted blocks under noise, missing entries and bad cells.

Run from the repository root::

    .venv/bin/python benchmarks/robustness.py --threads 1 --write
    .venv/bin/python benchmarks/robustness.py --conditions 2x+30% --seeds 0   # one case

The paper's protocol: ``sklearn.datasets.make_checkerboard((1000, 1000), (4, 4), noise=0)``
gives the signal ``S``, whose spread is ``sigma = S.std()``; Gaussian noise of standard
deviation ``level * sigma`` is added, then a share of the entries is hidden at random. Into
the observed entries, ``N_ANOMALIES`` cells are corrupted by ``±6`` times the standard
deviation of the observed matrix. For every condition and seed:

- the consensus score (``sklearn.metrics.consensus_score``) of the model's 4 x 4 biclusters
  and of scikit-learn's SpectralBiclustering against the planted ones. The model gets the
  missing entries as NaN; SpectralBiclustering cannot take NaN, so it gets the column means of
  the observed entries in their place (the usual fill);
- the model's imputation error (RMSE) on the hidden entries against their true noisy values,
  beside filling with column means;
- the share of the corrupted cells among the ``N_ANOMALIES`` highest ``cell_scores`` anomaly
  scores (precision at the number injected).

The issue quotes SpectralBiclustering at about 0.99, 0.67–0.93, 0.41 and 0.26 for noise 2x,
3x, 1x with 50 % hidden and 2x with 30 % hidden; with the noise scaled by the signal's standard
deviation and column-mean filling, as here, it still scores 1.0 on those cases, so the table
adds the levels where it does break (4x, 6x, 3x with 50 % hidden, 4x with 30 % hidden).

Each run is stored in a JSON cache as soon as it finishes; ``--write`` replaces the
``robustness`` section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import functools
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
SHAPE = (1000, 1000)
N_BLOCKS = 4
N_ANOMALIES = 200
# name: (noise level in units of the signal's spread, share of entries hidden)
CONDITIONS = {
    "0.3x": (0.3, 0.0),
    "0.5x": (0.5, 0.0),
    "0.7x": (0.7, 0.0),
    "0.7x+30%": (0.7, 0.3),
    "2x": (2.0, 0.0),
    "3x": (3.0, 0.0),
    "1x+50%": (1.0, 0.5),
    "2x+30%": (2.0, 0.3),
    # Where SpectralBiclustering breaks under this protocol (3 seeds, measured when written:
    # 4x 0.99/0.74/0.67, 6x 0.64/0.31/0.63, 3x+50% 0.98/0.56/0.68, 4x+30% 0.91/0.45/0.65).
    "4x": (4.0, 0.0),
    "6x": (6.0, 0.0),
    "3x+50%": (3.0, 0.5),
    "4x+30%": (4.0, 0.3),
}


def make_case(level: float, hidden_share: float, seed: int, shape=SHAPE) -> dict:
    """The corrupted matrix (NaN where hidden), its truth and the planted structure."""
    from sklearn.datasets import make_checkerboard

    signal, rows, columns = make_checkerboard(
        shape, (N_BLOCKS, N_BLOCKS), noise=0.0, random_state=seed
    )
    rng = np.random.default_rng(seed)
    noisy = signal + rng.normal(0.0, level * signal.std(), signal.shape)
    hidden = rng.random(signal.shape) < hidden_share
    observed = np.flatnonzero(~hidden)
    anomalies = rng.choice(observed, N_ANOMALIES, replace=False)
    X = noisy.copy()
    X.flat[anomalies] += rng.choice([-6.0, 6.0], N_ANOMALIES) * noisy[~hidden].std()
    X[hidden] = np.nan
    return {
        "X": X,
        "noisy": noisy,
        "hidden": hidden,
        "anomalies": anomalies,
        "biclusters": (rows, columns),
    }


def column_mean_fill(X: np.ndarray) -> np.ndarray:
    """``X`` with every NaN replaced by the mean of the observed entries of its column."""
    means = np.nanmean(X, axis=0)
    return np.where(np.isnan(X), means[None, :], X)


def run_model(case: dict, seed: int) -> dict:
    import cocluster_kit as ckit
    from cocluster_kit.metrics import consensus_score

    X = case["X"]
    started = time.perf_counter()
    model = ckit.CoclusterVAE(N_BLOCKS, N_BLOCKS, random_state=seed, progress=False).fit(X)
    seconds = time.perf_counter() - started
    result = {
        "consensus": consensus_score(model.biclusters_, case["biclusters"]),
        "seconds": seconds,
    }
    hidden = case["hidden"]
    if hidden.any():
        truth = case["noisy"][hidden]
        result["impute_rmse"] = float(np.sqrt(np.mean((model.impute(X)[hidden] - truth) ** 2)))
        result["column_mean_rmse"] = float(
            np.sqrt(np.mean((column_mean_fill(X)[hidden] - truth) ** 2))
        )
    scores = model.cell_scores(X)  # every observed entry
    flat = scores["row"].to_numpy() * X.shape[1] + scores["column"].to_numpy()
    top = flat[np.argsort(-scores["anomaly"].to_numpy())[:N_ANOMALIES]]
    result["anomaly_precision"] = float(np.isin(top, case["anomalies"]).mean())
    return result


def run_spectral(case: dict, seed: int) -> dict:
    from sklearn.cluster import SpectralBiclustering
    from sklearn.metrics import consensus_score

    started = time.perf_counter()
    fitted = SpectralBiclustering(N_BLOCKS, random_state=seed).fit(column_mean_fill(case["X"]))
    seconds = time.perf_counter() - started
    return {
        "consensus": consensus_score(fitted.biclusters_, case["biclusters"]),
        "seconds": seconds,
    }


METHODS = {"CoclusterVAE": run_model, "SpectralBiclustering": run_spectral}


def collect(conditions, seeds, cache_path: Path) -> dict:
    model_stamp, baseline_stamp = package_stamps()
    stamps = {"CoclusterVAE": model_stamp, "SpectralBiclustering": baseline_stamp}
    # the methods of one case run one after the other: keep that case only (1000 x 1000 each)
    cases = functools.lru_cache(maxsize=1)(lambda name, seed: make_case(*CONDITIONS[name], seed))
    jobs = (
        (
            f"robustness|{name}|{method}|{seed}",
            stamps[method],
            lambda run=run, name=name, seed=seed: run(cases(name, seed), seed),
        )
        for seed in seeds
        for name in conditions
        for method, run in METHODS.items()
    )
    return run_missing(cache_path, jobs)


def summary(cache: dict, conditions, seeds) -> str:
    def cell(method: str, name: str, metric: str) -> str:
        runs = [cache.get(f"robustness|{name}|{method}|{seed}", {}) for seed in seeds]
        values = [run[metric] for run in runs if metric in run]
        if not values:
            return "—"
        text = f"{np.median(values):.3f}"
        if len(values) > 1:
            text += " (" + ", ".join(f"{v:.3f}" for v in values) + ")"
        if len(values) < len(seeds):
            text += f" [{len(seeds) - len(values)} of {len(seeds)} seeds not run]"
        return text

    lines = [
        "| noise × spread, hidden | model consensus | SpectralBiclustering consensus "
        "| model impute RMSE | column-mean RMSE | anomaly precision@200 | model s / fit |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in conditions:
        level, share = CONDITIONS[name]
        lines.append(
            f"| {level:g}×, {share:.0%} | {cell('CoclusterVAE', name, 'consensus')} "
            f"| {cell('SpectralBiclustering', name, 'consensus')} "
            f"| {cell('CoclusterVAE', name, 'impute_rmse')} "
            f"| {cell('CoclusterVAE', name, 'column_mean_rmse')} "
            f"| {cell('CoclusterVAE', name, 'anomaly_precision')} "
            f"| {cell('CoclusterVAE', name, 'seconds')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    add_run_options(parser, HERE / "results" / "robustness_runs.json")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.table_only:
        cache = read_json(args.cache)
    else:
        cache = collect(args.conditions, args.seeds, args.cache)
    body = "\n".join(
        [
            f"Machine: {machine()}. Seeds {', '.join(map(str, args.seeds))}; medians, every "
            "seed in brackets. Model runs stamped "
            + run_stamps(
                cache,
                [
                    f"robustness|{name}|CoclusterVAE|{seed}"
                    for name in args.conditions
                    for seed in args.seeds
                ],
            )
            + ".",
            "",
            summary(cache, args.conditions, args.seeds),
        ]
    )
    print(body)
    if args.write:
        replace_section(HERE / "RESULTS.md", "robustness", body)


if __name__ == "__main__":
    main()
