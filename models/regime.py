"""Regime classifier: model inputs derived from the features record, the estimator, and its outputs.

Inputs are scale-free by construction (ratios to the pair's own typical volatility or spread,
percentiles, correlations, session), so a model trained on one pair and period transfers to others
and to crisis years whose price levels and volatilities it never saw; raw levels such as ``gk_vol``
or prices are deliberately not inputs. :func:`model_features` is a pure per-row transform (no state),
shared by training and the live stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier

from models.forest import CompiledForest, compile_forest, predict_proba_native
from streams.core.units import F64

REGIMES: tuple[str, ...] = ("Stable_Flow", "Directional_Vol", "Event_Risk")
"""Class names; a label or class index ``k`` is ``REGIMES[k]``."""

MODEL_FEATURES: tuple[str, ...] = (
    "session_vol_norm",
    "spread_widening",
    "tick_velocity",
    "abs_displacement",
    "displacement_extremity",
    "abs_ret_z",
    "xcorr",
    "session_id",
)
"""Model input columns, in order (the artifact records them; a mismatch refuses the model)."""

NEUTRAL: dict[str, float] = {
    "session_vol_norm": 1.0,
    "spread_widening": 1.0,
    "tick_velocity": 0.0,
    "abs_displacement": 0.0,
    "displacement_extremity": 0.0,
    "abs_ret_z": 0.0,
    "xcorr": 0.0,
    "session_id": 4.0,
}
"""Value used where an input is not finite (e.g. ``xcorr`` with a single pair): the typical state."""


def model_features(cols: Mapping[str, npt.NDArray[Any]]) -> F64:
    """Build the model input matrix from features-record columns.

    Parameters
    ----------
    cols : mapping of str to ndarray, each shape (n,)
        At least ``session_vol_norm, spread_widening, tick_velocity, displacement, displacement_pct,
        log_ret, gk_vol, xcorr, session_id`` (names of ``schemas/features.avsc``).

    Returns
    -------
    ndarray of float64, shape (n, len(MODEL_FEATURES))
        Finite values in ``MODEL_FEATURES`` order: ``abs_displacement = |displacement|`` (vol units),
        ``displacement_extremity = |2 displacement_pct - 1|`` (0 median … 1 most extreme),
        ``abs_ret_z = |log_ret| / gk_vol`` (the last return in units of current volatility); non-finite
        values replaced by ``NEUTRAL``.
    """
    f = {
        k: np.asarray(cols[k], dtype=np.float64)
        for k in (
            "session_vol_norm",
            "spread_widening",
            "tick_velocity",
            "displacement",
            "displacement_pct",
            "log_ret",
            "gk_vol",
            "xcorr",
            "session_id",
        )
    }
    with np.errstate(all="ignore"):
        derived = {
            "abs_displacement": np.abs(f["displacement"]),
            "displacement_extremity": np.abs(2.0 * f["displacement_pct"] - 1.0),
            "abs_ret_z": np.where(f["gk_vol"] > 0, np.abs(f["log_ret"]) / f["gk_vol"], np.nan),
        }
    cols_all = {**f, **derived}
    X = np.column_stack([cols_all[name] for name in MODEL_FEATURES])
    neutral = np.array([NEUTRAL[name] for name in MODEL_FEATURES])
    return np.where(np.isfinite(X), X, neutral)


def entropy(P: F64) -> F64:
    """Return the Shannon entropy (nats) of each probability row, shape (n,); 0·log 0 = 0, NaN stays NaN."""
    with np.errstate(all="ignore"):
        terms = np.where(P > 0, -P * np.log(P), 0.0)
    out = terms.sum(axis=1)
    out[np.isnan(P).any(axis=1)] = np.nan
    return out


class RegimeForestConfig(BaseModel):
    """Random-forest hyperparameters and the training split (documented defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_estimators: int = Field(default=30, ge=1)
    """Trees; inference cost is linear in it (30 trees × depth 8: ~15 µs per row compiled, ~1.5 M rows/s
    in batches). Was 100 × depth 10 (4 × the cost); out-of-sample on two synthetic markets (seed 11,
    EURUSD+GBPUSD Jan 2019; seed 5, 4 pairs Mar 2019; 25 % time-ordered tail) 30 × 8 scored accuracy
    0.8688 / 0.8477 vs 0.8696 / 0.8473, balanced accuracy 0.6335 / 0.6321 vs 0.6324 / 0.6365, log loss
    0.4004 / 0.4391 vs 0.4012 / 0.4385: the averaged probabilities converge well before 100 trees
    (min_samples_leaf already smooths each tree), so the extra trees bought nothing measurable."""
    max_depth: int = Field(default=8, ge=1)
    """Depth bound: the compiled traversal takes exactly this many steps (10 overfits slightly: equal or
    worse log loss than 8 in the comparison above)."""
    min_samples_leaf: int = Field(default=50, ge=1)
    """Large leaves: smooth probabilities, and no memorising of one noisy minute."""
    max_features: float = Field(default=0.5, gt=0, le=1)
    """Share of inputs tried per split."""
    max_samples: float | None = Field(default=None, gt=0, le=1)
    """Share of the training rows drawn (with replacement) for each tree; ``None``: as many as there are
    rows (the classic bootstrap). Fit time is about proportional to it (see ``results/speed.md``)."""
    class_weight: str | None = None
    """``None`` (unweighted): probabilities stay calibrated to class frequencies, which the tradeable
    thresholds and the entropy guard rely on; ``balanced`` trades calibration and accuracy for recall
    of the rare classes (measured: accuracy below the majority baseline on the synthetic market)."""
    random_state: int = 7
    """Seed of the forest (bootstrap and split sampling)."""
    n_jobs: int = 1
    """Training threads (the training box may raise it)."""
    test_fraction: float = Field(default=0.25, gt=0, lt=1)
    """Share of the (time-ordered) labeled rows held out as the out-of-sample tail."""


class RegimeClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Random forest over ``MODEL_FEATURES`` with compiled inference.

    scikit-learn conventions: ``__init__`` stores hyperparameters, ``fit`` returns ``self``, learned
    attributes end in ``_``. ``predict_proba`` always returns the three ``REGIMES`` columns (a class
    absent from training gets probability 0) and runs on the compiled forest (batches through
    :func:`models.forest.predict_proba_native`, bit-identical), equal to the sklearn forest's
    ``predict_proba`` to ≤ 1e-12.
    """

    def __init__(
        self,
        n_estimators: int = 30,
        max_depth: int | None = 8,
        min_samples_leaf: int = 50,
        max_features: float | str = 0.5,
        class_weight: str | None = None,
        random_state: int | None = 7,
        n_jobs: int = 1,
        max_samples: float | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.max_samples = max_samples

    def fit(self, X: F64, y: npt.NDArray[np.integer]) -> RegimeClassifier:
        """Fit on ``X`` (n, n_features, finite) and labels ``y`` (n,) in {0, 1, 2}; return self."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if not np.isfinite(X).all():
            raise ValueError("RegimeClassifier.fit needs finite inputs (see model_features)")
        if len(y) and (y.min() < 0 or y.max() >= len(REGIMES)):
            raise ValueError(f"labels must be in 0..{len(REGIMES) - 1}")
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            class_weight=self.class_weight,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            max_samples=self.max_samples,
        ).fit(X, y)
        self.compiled_: CompiledForest = compile_forest(self.forest_)
        self.classes_ = np.arange(len(REGIMES))
        self.present_ = np.asarray(self.forest_.classes_, dtype=np.int64)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: F64) -> F64:
        """Return P(regime) per row, shape (n, 3), columns in ``REGIMES`` order."""
        p = predict_proba_native(self.compiled_, self.forest_.estimators_, X)
        if len(self.present_) == len(REGIMES):
            return p
        full = np.zeros((p.shape[0], len(REGIMES)))
        full[:, self.present_] = p
        return full

    def predict(self, X: F64) -> npt.NDArray[np.int64]:
        """Return the most probable class index per row, shape (n,)."""
        return np.argmax(self.predict_proba(X), axis=1)
