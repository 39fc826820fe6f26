"""Compiled forest inference equals scikit-learn's predict_proba."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier

from models.forest import compile_forest
from models.regime import RegimeClassifier


def _forest(
    seed: int, n_classes: int = 3, depth: int | None = 8
) -> tuple[RandomForestClassifier, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 5))
    score = X[:, 0] + X[:, 1] ** 2 + 0.5 * rng.normal(size=3000)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    rf = RandomForestClassifier(n_estimators=25, max_depth=depth, min_samples_leaf=3, random_state=seed).fit(
        X, y
    )
    return rf, X


@pytest.mark.parametrize(("seed", "n_classes", "depth"), [(0, 3, 8), (1, 2, None), (2, 4, 3)])
def test_compiled_equals_sklearn_on_random_inputs(seed: int, n_classes: int, depth: int | None) -> None:
    rf, _ = _forest(seed, n_classes, depth)
    cf = compile_forest(rf)
    X = np.random.default_rng(seed + 100).normal(scale=2.0, size=(2000, 5))  # also far outside training
    np.testing.assert_allclose(cf.predict_proba(X), rf.predict_proba(X), rtol=0, atol=1e-12)


def test_inputs_exactly_on_thresholds_follow_sklearn() -> None:
    # ties (x == threshold, and float32 neighbours) are where float32/float64 handling would differ
    rf, _ = _forest(3)
    cf = compile_forest(rf)
    thr = np.unique(np.concatenate([e.tree_.threshold[e.tree_.feature >= 0] for e in rf.estimators_]))
    rng = np.random.default_rng(4)
    picks = rng.choice(thr, size=(600, 5))
    X = np.concatenate(
        [
            picks,
            np.nextafter(picks.astype(np.float32), np.float32(np.inf)).astype(np.float64),
            picks.astype(np.float32).astype(np.float64),
        ]
    )
    np.testing.assert_allclose(cf.predict_proba(X), rf.predict_proba(X), rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=5, max_size=5))
def test_single_row_equals_sklearn(row: list[float]) -> None:
    rf, _ = _forest(5)
    x = np.array([row])
    np.testing.assert_allclose(compile_forest(rf).predict_proba(x), rf.predict_proba(x), rtol=0, atol=1e-12)


def test_chunked_batch_equals_row_by_row() -> None:
    rf, X = _forest(6)
    cf = compile_forest(rf)
    batch = cf.predict_proba(X[:1300])  # > one traversal chunk
    rows = np.vstack([cf.predict_proba(X[i : i + 1]) for i in range(1300)])
    np.testing.assert_array_equal(batch, rows)


def test_wrong_width_is_refused() -> None:
    rf, _ = _forest(0)
    with pytest.raises(ValueError, match="shape"):
        compile_forest(rf).predict_proba(np.zeros((2, 4)))


def test_classifier_pads_a_class_missing_from_training() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = np.where(X[:, 0] > 0, 2, 0)  # no Directional_Vol rows
    model = RegimeClassifier(n_estimators=10, min_samples_leaf=5, random_state=0).fit(X, y)
    P = model.predict_proba(X)
    assert P.shape == (400, 3)
    np.testing.assert_array_equal(P[:, 1], 0.0)
    np.testing.assert_allclose(P[:, [0, 2]], model.forest_.predict_proba(X), atol=1e-12)
    assert (model.predict(X) == y).mean() > 0.9


def test_forest_threads_give_the_same_trees() -> None:
    # the training box may raise n_jobs: the trees (and so every walk-forward output) must not move
    rng = np.random.default_rng(21)
    X = rng.normal(size=(4000, 8))
    y = np.digitize(X[:, 0] + X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=4000), [-0.5, 0.8])
    fitted = {
        (jobs, seed): RegimeClassifier(
            n_estimators=12, random_state=seed, n_jobs=jobs, min_samples_leaf=5
        ).fit(X, y)
        for jobs, seed in ((1, 7), (2, 7), (1, 8))
    }
    one, two, other = (fitted[k].compiled_ for k in ((1, 7), (2, 7), (1, 8)))
    for name in ("feature", "threshold", "child", "value", "roots"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert one.depth == two.depth
    np.testing.assert_array_equal(fitted[(1, 7)].predict_proba(X), fitted[(2, 7)].predict_proba(X))
    # another seed grows other trees: the comparison above is not vacuous
    assert len(one.threshold) != len(other.threshold) or not np.array_equal(one.threshold, other.threshold)


def test_max_samples_draws_that_share_of_rows_per_tree() -> None:
    rng = np.random.default_rng(22)
    X = rng.normal(size=(4000, 8))
    y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=4000), [-0.5, 0.8])
    for share, drawn in ((None, 4000), (0.25, 1000), (0.1, 400)):
        m = RegimeClassifier(n_estimators=4, random_state=3, max_samples=share).fit(X, y)
        # a tree's root weighs every bootstrap draw once (duplicates included)
        assert [e.tree_.weighted_n_node_samples[0] for e in m.forest_.estimators_] == [drawn] * 4
