from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_biclusters, make_checkerboard

from cocluster_kit.metrics import (
    ari,
    clustering_scores,
    consensus_score,
    contingency_matrix,
    hungarian_accuracy,
    nmi,
    purity_accuracy,
)

# Contingency (classes a, b x clusters 0, 1) = [[3, 2], [2, 0]]:
#   purity    = (max(3, 2) + max(2, 0)) / 7 = 5/7   (both clusters map to class a)
#   Hungarian = a<->1, b<->0 -> (2 + 2) / 7 = 4/7   (greedy a<->0 would give only 3/7)
GREEDY_TRUE = ["a"] * 5 + ["b"] * 2
GREEDY_PRED = [0, 0, 0, 1, 1, 0, 0]


def test_contingency_matrix_hand_computed():
    np.testing.assert_array_equal(
        contingency_matrix(GREEDY_TRUE, GREEDY_PRED), np.array([[3, 2], [2, 0]])
    )


def test_purity_and_hungarian_differ_when_two_clusters_share_a_class():
    # classes a (4 items), b (2 items); clusters 0 and 1 both hold only a.
    true = ["a", "a", "a", "a", "b", "b"]
    pred = [0, 0, 1, 1, 2, 2]
    assert purity_accuracy(true, pred) == pytest.approx(1.0)
    assert hungarian_accuracy(true, pred) == pytest.approx(4 / 6)


def test_hungarian_is_optimal_not_greedy():
    assert purity_accuracy(GREEDY_TRUE, GREEDY_PRED) == pytest.approx(5 / 7)
    assert hungarian_accuracy(GREEDY_TRUE, GREEDY_PRED) == pytest.approx(4 / 7)


def test_more_classes_than_clusters():
    # contingency [[2, 0], [1, 1], [0, 2]] -> both accuracies 4/6
    true = [0, 0, 1, 1, 2, 2]
    pred = [0, 0, 0, 1, 1, 1]
    assert purity_accuracy(true, pred) == pytest.approx(4 / 6)
    assert hungarian_accuracy(true, pred) == pytest.approx(4 / 6)


def test_single_cluster_scores():
    true = [0, 0, 0, 1]
    pred = [7, 7, 7, 7]
    assert purity_accuracy(true, pred) == pytest.approx(3 / 4)
    assert hungarian_accuracy(true, pred) == pytest.approx(3 / 4)
    assert nmi(true, pred) == pytest.approx(0.0)
    assert ari(true, pred) == pytest.approx(0.0)


def test_perfect_relabelling_scores_one():
    true = [0, 0, 1, 1, 2, 2]
    pred = ["z", "z", "x", "x", "y", "y"]
    scores = clustering_scores(true, pred)
    assert set(scores) == {"purity_acc", "hungarian_acc", "nmi", "ari"}
    for value in scores.values():
        assert isinstance(value, float)
        assert value == pytest.approx(1.0)


def test_independent_partitions_hand_computed():
    # contingency all ones (2x2): MI = 0; ARI = (0 - 2/3) / (2 - 2/3) = -1/2
    true = [0, 0, 1, 1]
    pred = [0, 1, 0, 1]
    assert nmi(true, pred) == pytest.approx(0.0)
    assert ari(true, pred) == pytest.approx(-0.5)
    assert purity_accuracy(true, pred) == pytest.approx(0.5)
    assert hungarian_accuracy(true, pred) == pytest.approx(0.5)


def test_scores_match_sklearn_on_random_labels():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, size=200)
    pred = rng.integers(0, 6, size=200)
    assert nmi(true, pred) == pytest.approx(normalized_mutual_info_score(true, pred))
    assert ari(true, pred) == pytest.approx(adjusted_rand_score(true, pred))


def test_permutation_invariance():
    rng = np.random.default_rng(1)
    true = rng.integers(0, 4, size=120)
    pred = np.where(rng.random(120) < 0.7, true, rng.integers(0, 5, size=120))
    base = clustering_scores(true, pred)
    assert 0.0 < base["hungarian_acc"] < 1.0  # a non-trivial case

    # renaming the clusters
    renamed = np.array([3, 0, 4, 1, 2])[pred]
    for key, value in clustering_scores(true, renamed).items():
        assert value == pytest.approx(base[key]), key

    # reordering the items (jointly)
    order = rng.permutation(true.size)
    for key, value in clustering_scores(true[order], pred[order]).items():
        assert value == pytest.approx(base[key]), key


def test_string_and_mixed_labels():
    true = ["cat", "cat", "dog", "dog", "dog"]
    pred = ["x", "y", "y", "y", "y"]
    # contingency [[1, 1], [0, 3]]: purity (1 + 3)/5, Hungarian cat<->x, dog<->y = 4/5
    assert purity_accuracy(true, pred) == pytest.approx(4 / 5)
    assert hungarian_accuracy(true, pred) == pytest.approx(4 / 5)
    mixed = [1, "a", 1, "a"]
    assert hungarian_accuracy(mixed, [(0,), (1,), (0,), (1,)]) == pytest.approx(1.0)
    assert nmi(np.array(true), np.array(pred)) == pytest.approx(nmi(true, pred))


@pytest.mark.parametrize("func", [purity_accuracy, hungarian_accuracy, nmi, ari, clustering_scores])
def test_length_mismatch_message(func):
    with pytest.raises(ValueError, match=r"same length, got 3 and 2"):
        func([0, 1, 1], [0, 1])


@pytest.mark.parametrize("func", [purity_accuracy, hungarian_accuracy, nmi, ari])
def test_empty_labels_rejected(func):
    with pytest.raises(ValueError, match="empty"):
        func([], [])


def test_bad_label_inputs_rejected():
    with pytest.raises(ValueError, match=r"labels_true must be one-dimensional.*\(3, 1\)"):
        purity_accuracy(np.zeros((3, 1)), [0, 1, 2])
    with pytest.raises(ValueError, match="labels_pred must be a sequence of labels"):
        purity_accuracy(["a", "b"], "ab")
    with pytest.raises(ValueError, match="labels_pred must hold hashable labels"):
        purity_accuracy([0, 1], [[0], [1]])


def test_consensus_score_identical_biclusters_is_one():
    _, rows, cols = make_biclusters((30, 20), n_clusters=3, random_state=0)
    assert consensus_score((rows, cols), (rows, cols)) == pytest.approx(1.0)
    # order of biclusters does not matter
    perm = [2, 0, 1]
    assert consensus_score((rows, cols), (rows[perm], cols[perm])) == pytest.approx(1.0)

    _, rows, cols = make_checkerboard((24, 18), n_clusters=(2, 3), random_state=0)
    assert rows.shape == (6, 24)
    assert consensus_score((rows, cols), (rows, cols)) == pytest.approx(1.0)


def test_consensus_score_perturbed_is_below_one():
    _, rows, cols = make_biclusters((30, 20), n_clusters=3, random_state=0)
    perturbed = rows.copy()
    moved = np.flatnonzero(rows[0])[:3]
    perturbed[0, moved] = False
    perturbed[1, moved] = True
    score = consensus_score((rows, cols), (perturbed, cols))
    assert 0.0 < score < 1.0


def test_consensus_score_hand_computed_jaccard():
    # a: rows {0,1} x cols {0,1} (4 cells); b: rows {0,1,2} x cols {0,1} (6 cells)
    # Jaccard = 4 / 6
    rows_a = np.array([[True, True, False, False]])
    rows_b = np.array([[True, True, True, False]])
    cols = np.array([[True, True, False]])
    assert consensus_score((rows_a, cols), (rows_b, cols)) == pytest.approx(2 / 3)
    # a second, unmatched bicluster in b halves the score (divided by max set size)
    rows_b2 = np.vstack([rows_b, [[False, False, False, True]]])
    cols_b2 = np.vstack([cols, [[False, False, True]]])
    assert consensus_score((rows_a, cols), (rows_b2, cols_b2)) == pytest.approx(1 / 3)


def test_consensus_score_errors():
    rows = np.ones((2, 4), dtype=bool)
    cols = np.ones((2, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"a must be a \(rows, columns\) pair"):
        consensus_score(rows, (rows, cols))
    with pytest.raises(ValueError, match="2 row indicators but 1 column"):
        consensus_score((rows, cols), (rows, cols[:1]))
    with pytest.raises(ValueError, match=r"same matrix, got 4x3 and 4x2"):
        consensus_score((rows, cols), (rows, cols[:, :2]))
