"""Clustering and biclustering scores used across the project.

All label-based scores accept labels of any hashable type (ints, strings, tuples, ...);
the two label sequences are encoded to integer codes independently, so the scores never
depend on the label values themselves, only on the partition they induce.

Only :mod:`numpy` is imported at module level; :mod:`scipy` and :mod:`sklearn` are imported
inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ari",
    "clustering_scores",
    "consensus_score",
    "contingency_matrix",
    "hungarian_accuracy",
    "nmi",
    "purity_accuracy",
]


def _encode(labels: Iterable[Hashable], name: str) -> np.ndarray:
    """Map arbitrary hashable labels to integer codes ``0..k-1`` (order of first appearance).

    Parameters
    ----------
    labels : iterable of hashable
        One label per item. Must be one-dimensional.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        1-D ``int64`` array of codes, same length as ``labels``.

    Raises
    ------
    ValueError
        If ``labels`` is a string, is not one-dimensional, or holds unhashable values.
    """
    if isinstance(labels, (str, bytes)):
        raise ValueError(
            f"{name} must be a sequence of labels, got a single string {labels!r}; "
            f"pass a list such as list({labels!r}) if each character is a label."
        )
    if isinstance(labels, np.ndarray) or hasattr(labels, "shape"):
        arr = np.asarray(labels)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be one-dimensional, got an array of shape {arr.shape}; "
                "flatten it first (e.g. np.ravel(labels))."
            )
        values: list[Any] = arr.tolist()
    else:
        values = list(labels)
    mapping: dict[Hashable, int] = {}
    try:
        codes = [mapping.setdefault(v, len(mapping)) for v in values]
    except TypeError as err:
        raise ValueError(
            f"{name} must hold hashable labels (ints, strings, ...); {err}. "
            "If labels are nested sequences, pass a flat 1-D sequence of labels instead."
        ) from err
    return np.asarray(codes, dtype=np.int64)


def _encode_pair(
    labels_true: Iterable[Hashable], labels_pred: Iterable[Hashable]
) -> tuple[np.ndarray, np.ndarray]:
    """Encode and validate a pair of label sequences.

    Parameters
    ----------
    labels_true, labels_pred : iterable of hashable
        Reference and predicted labels, one per item.

    Returns
    -------
    tuple of numpy.ndarray
        Integer codes of ``labels_true`` and ``labels_pred``.

    Raises
    ------
    ValueError
        If either is empty or their lengths differ.
    """
    t = _encode(labels_true, "labels_true")
    p = _encode(labels_pred, "labels_pred")
    if t.size != p.size:
        raise ValueError(
            f"labels_true and labels_pred must have the same length, got {t.size} and "
            f"{p.size}; pass one true and one predicted label per item."
        )
    if t.size == 0:
        raise ValueError("labels_true and labels_pred are empty; pass at least one labelled item.")
    return t, p


def _contingency(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Count items per (true class, predicted cluster) pair from integer codes."""
    table = np.zeros((int(t.max()) + 1, int(p.max()) + 1), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table


def contingency_matrix(
    labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]
) -> np.ndarray:
    """Contingency table of true classes against predicted clusters.

    Parameters
    ----------
    labels_true : sequence of hashable
        Reference class of each item.
    labels_pred : sequence of hashable
        Predicted cluster of each item.

    Returns
    -------
    numpy.ndarray
        ``(n_classes, n_clusters)`` integer array; entry ``[i, j]`` counts items of the
        ``i``-th class (in order of first appearance) put in the ``j``-th cluster.
    """
    return _contingency(*_encode_pair(labels_true, labels_pred))


def purity_accuracy(labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]) -> float:
    """Accuracy after mapping each predicted cluster to its majority true class.

    The mapping is many-to-one: several clusters may map to the same class, so
    over-clustering is not penalised (``n`` singleton clusters score 1).

    Parameters
    ----------
    labels_true : sequence of hashable
        Reference class of each item.
    labels_pred : sequence of hashable
        Predicted cluster of each item.

    Returns
    -------
    float
        Fraction of items in ``[0, 1]`` whose cluster's majority class is their class.
    """
    table = contingency_matrix(labels_true, labels_pred)
    return float(table.max(axis=0).sum() / table.sum())


def hungarian_accuracy(labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes.

    The matching maximises the number of correctly matched items
    (:func:`scipy.optimize.linear_sum_assignment` on the contingency table). With unequal
    numbers of clusters and classes, the surplus clusters (or classes) stay unmatched and
    their items count as errors.

    Parameters
    ----------
    labels_true : sequence of hashable
        Reference class of each item.
    labels_pred : sequence of hashable
        Predicted cluster of each item.

    Returns
    -------
    float
        Fraction of items in ``[0, 1]`` correctly labelled under the optimal matching;
        never larger than :func:`purity_accuracy`.
    """
    from scipy.optimize import linear_sum_assignment

    table = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def nmi(labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]) -> float:
    """Compute the normalized mutual information (arithmetic normalisation).

    Thin wrapper of :func:`sklearn.metrics.normalized_mutual_info_score` that accepts
    any hashable labels and validates the inputs.

    Parameters
    ----------
    labels_true : sequence of hashable
        Reference class of each item.
    labels_pred : sequence of hashable
        Predicted cluster of each item.

    Returns
    -------
    float
        NMI in ``[0, 1]``.
    """
    from sklearn.metrics import normalized_mutual_info_score

    t, p = _encode_pair(labels_true, labels_pred)
    return float(normalized_mutual_info_score(t, p))


def ari(labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]) -> float:
    """Compute the adjusted Rand index.

    Thin wrapper of :func:`sklearn.metrics.adjusted_rand_score` that accepts any
    hashable labels and validates the inputs.

    Parameters
    ----------
    labels_true : sequence of hashable
        Reference class of each item.
    labels_pred : sequence of hashable
        Predicted cluster of each item.

    Returns
    -------
    float
        ARI, 1 for identical partitions, about 0 for random ones (may be negative).
    """
    from sklearn.metrics import adjusted_rand_score

    t, p = _encode_pair(labels_true, labels_pred)
    return float(adjusted_rand_score(t, p))


def clustering_scores(
    labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]
) -> dict[str, float]:
    """Compute all label-based clustering scores at once.

    Parameters
    ----------
    labels_true : sequence of hashable
        Reference class of each item.
    labels_pred : sequence of hashable
        Predicted cluster of each item.

    Returns
    -------
    dict of str to float
        Keys ``"purity_acc"``, ``"hungarian_acc"``, ``"nmi"`` and ``"ari"``.
    """
    t, p = _encode_pair(labels_true, labels_pred)
    return {
        "purity_acc": purity_accuracy(t, p),
        "hungarian_acc": hungarian_accuracy(t, p),
        "nmi": nmi(t, p),
        "ari": ari(t, p),
    }


def _check_biclusters(biclusters: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a ``(rows, columns)`` pair of boolean indicator arrays.

    Parameters
    ----------
    biclusters : tuple of array-like
        ``(rows, columns)`` with ``rows`` of shape ``(n_biclusters, n_rows)`` and
        ``columns`` of shape ``(n_biclusters, n_columns)``.
    name : str
        Argument name used in error messages.

    Returns
    -------
    tuple of numpy.ndarray
        ``rows`` and ``columns`` as 2-D boolean arrays.

    Raises
    ------
    ValueError
        If the structure or shapes are not as described.
    """
    if not isinstance(biclusters, (tuple, list)) or len(biclusters) != 2:
        raise ValueError(
            f"{name} must be a (rows, columns) pair of boolean indicator arrays, as returned "
            "by sklearn.datasets.make_biclusters or a fitted model's (rows_, columns_)."
        )
    rows, cols = (np.asarray(x) for x in biclusters)
    if rows.ndim != 2 or cols.ndim != 2:
        raise ValueError(
            f"{name} rows and columns must be 2-D (n_biclusters, n_items) indicator arrays, "
            f"got shapes {rows.shape} and {cols.shape}."
        )
    if rows.shape[0] != cols.shape[0]:
        raise ValueError(
            f"{name} has {rows.shape[0]} row indicators but {cols.shape[0]} column "
            "indicators; pass one row and one column indicator per bicluster."
        )
    if rows.shape[0] == 0:
        raise ValueError(f"{name} holds no biclusters; pass at least one.")
    return rows.astype(bool), cols.astype(bool)


def consensus_score(a: Any, b: Any, *, similarity: str = "jaccard") -> float:
    """Similarity of two sets of biclusters.

    Thin wrapper of :func:`sklearn.metrics.consensus_score`: biclusters are matched
    one-to-one (Hungarian) by pairwise ``similarity``, and the total similarity is divided
    by the size of the larger set.

    Parameters
    ----------
    a, b : tuple of array-like
        Biclusters as ``(rows, columns)`` boolean indicator arrays of shapes
        ``(n_biclusters, n_rows)`` and ``(n_biclusters, n_columns)``. The two sets may hold
        different numbers of biclusters but must index the same matrix.
    similarity : str, default "jaccard"
        Pairwise bicluster similarity, passed to scikit-learn.

    Returns
    -------
    float
        Score in ``[0, 1]``; 1 when both sets hold the same biclusters in any order.

    Raises
    ------
    ValueError
        If ``a`` or ``b`` is malformed, or they index matrices of different shapes.
    """
    from sklearn.metrics import consensus_score as _sk_consensus_score

    rows_a, cols_a = _check_biclusters(a, "a")
    rows_b, cols_b = _check_biclusters(b, "b")
    shape_a = (rows_a.shape[1], cols_a.shape[1])
    shape_b = (rows_b.shape[1], cols_b.shape[1])
    if shape_a != shape_b:
        raise ValueError(
            f"a and b must describe biclusters of the same matrix, got {shape_a[0]}x{shape_a[1]} "
            f"and {shape_b[0]}x{shape_b[1]} (rows x columns) indicators."
        )
    return float(_sk_consensus_score((rows_a, cols_a), (rows_b, cols_b), similarity=similarity))
