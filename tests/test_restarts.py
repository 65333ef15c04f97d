"""``n_init``: restarts from other seeds, the highest bound kept; "auto" only on empty clusters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import FAST

import cocluster_kit as ckit
from cocluster_kit.model import EmptyClusterWarning
from cocluster_kit.model._restarts import fit_with_restarts, restart_seed
from cocluster_kit.train import TrainingError


class Scripted:
    """An estimator stand-in whose fits give scripted bounds and labels (the policy alone)."""

    n_row_clusters, n_col_clusters = 3, 2

    def __init__(self, script: dict[int, tuple[float, list[int], list[int]]]) -> None:
        self.script = script
        self.seeds: list[int] = []

    def fit_once(self, attempt: int, seed: int) -> None:
        self.seeds.append(seed)
        outcome = self.script[attempt]
        if outcome is None:
            raise TrainingError("the loss became non-finite")
        bound, rows, columns = outcome
        self.bound_, self.config_ = bound, {"seed": seed}
        self.row_labels_, self.column_labels_ = np.array(rows), np.array(columns)
        self.module_ = f"module of fit {attempt}"


FULL = ([0, 1, 2, 0], [0, 1, 1])  # every cluster used
MERGED = ([0, 0, 2, 2], [0, 1, 1])  # row cluster 1 empty


def test_auto_stops_after_one_fit_that_uses_every_cluster():
    model = Scripted({0: (-1.0, *FULL), 1: (5.0, *FULL)})
    fit_with_restarts(model, model.fit_once, seed=7, n_init="auto")
    assert model.seeds == [7]
    assert model.config_["fits"] == [
        {"seed": 7, "bound": -1.0, "empty_row_clusters": 0, "empty_col_clusters": 0}
    ]


@pytest.mark.parametrize(("second_bound", "kept"), [(-0.5, 1), (-3.0, 0)])
def test_auto_refits_an_empty_cluster_and_keeps_the_higher_bound(second_bound, kept):
    model = Scripted({0: (-1.0, *MERGED), 1: (second_bound, *FULL)})
    fit_with_restarts(model, model.fit_once, seed=7, n_init="auto")
    assert model.seeds == [7, restart_seed(7, 1)] and restart_seed(7, 1) != 7
    assert model.config_["kept_fit"] == kept
    assert model.module_ == f"module of fit {kept}"
    assert model.bound_ == max(-1.0, second_bound)
    assert model.config_["fits"][0]["empty_row_clusters"] == 1


def test_an_integer_runs_that_many_fits_and_keeps_the_best_bound():
    model = Scripted({0: (-2.0, *FULL), 1: (-1.0, *MERGED), 2: (-1.5, *FULL)})
    fit_with_restarts(model, model.fit_once, seed=0, n_init=3)
    assert len(model.seeds) == 3 and len(set(model.seeds)) == 3
    assert model.config_["kept_fit"] == 1 and model.bound_ == -1.0


def test_a_failed_restart_keeps_the_earlier_fit_and_warns():
    model = Scripted({0: (-1.0, *FULL), 1: None})
    with pytest.warns(RuntimeWarning, match="restart 1 .* failed and was dropped"):
        fit_with_restarts(model, model.fit_once, seed=0, n_init=2)
    assert model.module_ == "module of fit 0" and len(model.config_["fits"]) == 1


def test_a_failed_first_fit_is_raised():
    model = Scripted({0: None})
    with pytest.raises(TrainingError):
        fit_with_restarts(model, model.fit_once, seed=0, n_init="auto")


def test_a_kept_fit_with_empty_clusters_warns_and_says_what_to_try():
    both = ([0, 0, 2, 2], [1, 1, 1])  # row cluster 1 and column cluster 0 empty
    model = Scripted({0: (-1.0, *both)})
    with pytest.warns(EmptyClusterWarning) as caught:
        fit_with_restarts(model, model.fit_once, seed=0, n_init=1)
    message = str(caught[0].message)
    assert "1 of the 3 requested row clusters are empty (the rows fall into 2)" in message
    assert "1 of the 2 requested column clusters are empty (the columns fall into 1)" in message
    assert "n_init='auto'" in message and "fewer clusters" in message
    # After restarts that all left a cluster empty: say so, and no advice to restart.
    model = Scripted({0: (-1.0, *MERGED), 1: (-3.0, *FULL)})
    expected = "row clusters are empty .* after 2 fits"
    with pytest.warns(EmptyClusterWarning, match=expected) as caught:
        fit_with_restarts(model, model.fit_once, seed=0, n_init=2)
    assert "n_init" not in str(caught[0].message) and model.config_["kept_fit"] == 0
    # Every cluster used by the kept fit: no warning, even if an earlier fit left one empty.
    model = Scripted({0: (-1.0, *MERGED), 1: (-0.5, *FULL)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyClusterWarning)
        fit_with_restarts(model, model.fit_once, seed=0, n_init="auto")
    assert model.config_["kept_fit"] == 1


def test_a_real_fit_that_leaves_clusters_empty_warns():
    # Eight identical rows cannot fill three row clusters.
    X = np.tile(np.arange(1.0, 7.0), (8, 1))
    with pytest.warns(EmptyClusterWarning, match="of the 3 requested row clusters are empty"):
        model = ckit.CoclusterVAE(3, 2, random_state=0, **FAST).fit(X)
    assert np.unique(model.row_labels_).size < 3


def test_restarts_on_a_real_fit(small_checkerboard):
    X = small_checkerboard[0]
    one = ckit.CoclusterVAE(3, 2, random_state=0, **FAST).fit(X)
    assert one.n_init == 1 and len(one.config_["fits"]) == 1  # the default: one fit
    auto = ckit.CoclusterVAE(3, 2, random_state=0, n_init="auto", **FAST).fit(X)
    fits = auto.config_["fits"]
    assert fits[0]["seed"] == 0 and fits[0]["bound"] == pytest.approx(one.bound_)
    used_every_cluster = not (fits[0]["empty_row_clusters"] or fits[0]["empty_col_clusters"])
    assert len(fits) == (1 if used_every_cluster else 2)
    if used_every_cluster:  # the first fit is the n_init=1 fit, unchanged
        np.testing.assert_array_equal(auto.row_labels_, one.row_labels_)
    two = ckit.CoclusterVAE(3, 2, random_state=0, n_init=2, **FAST).fit(X)
    bounds = [fit["bound"] for fit in two.config_["fits"]]
    assert len(bounds) == 2 and two.bound_ == pytest.approx(max(bounds))
    assert two.config_["seed"] == two.config_["fits"][two.config_["kept_fit"]]["seed"]


def test_restarts_checkpoint_in_their_own_folders(tmp_path, small_checkerboard):
    X = small_checkerboard[0]
    model = ckit.CoclusterVAE(3, 2, random_state=0, n_init=2, **FAST)
    model.fit(X, checkpoint_dir=tmp_path / "ck")
    assert (tmp_path / "ck" / "checkpoint.pt").is_file()
    assert (tmp_path / "ck" / "restart-1" / "checkpoint.pt").is_file()
    resumed = ckit.CoclusterVAE(3, 2, random_state=0, n_init=2, **FAST)
    resumed.fit(X, checkpoint_dir=tmp_path / "ck")
    np.testing.assert_array_equal(resumed.row_labels_, model.row_labels_)
    assert resumed.config_["fits"] == model.config_["fits"]


@pytest.mark.parametrize("n_init", [0, -1, 1.5, "two", True])
def test_bad_n_init_is_refused(n_init, small_checkerboard):
    with pytest.raises(ValueError, match="n_init=.* must be 'auto' or an integer of at least 1"):
        ckit.CoclusterVAE(3, 2, n_init=n_init, **FAST).fit(small_checkerboard[0])
