"""Training pipeline of the regime classifier: features batch → labels → time-ordered split → fit → report.

Pure: no I/O, no clock; randomness only through ``random_state``. The CLI (``hslr train regime``) wraps
it with data loading, artifact saving and registration.

Split: labeled, ready rows are ordered by time; the last ``test_fraction`` of them (by bar time, all
pairs together) is the out-of-sample tail. Training rows must end at least ``labels.purge_ms`` before
the tail starts, so no training label looks into the test period.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import log_loss

from models.regime import MODEL_FEATURES, REGIMES, RegimeClassifier, model_features
from models.regime_labels import label_regimes
from streams.core.units import I64

if TYPE_CHECKING:
    from streams.core.batch import Batch
    from streams.stages.regime import RegimeConfig


def confusion(y_true: npt.NDArray[np.integer], y_pred: npt.NDArray[np.integer], k: int = 3) -> I64:
    """Return the k × k confusion matrix: rows true class, columns predicted class (counts)."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def time_split(
    ts: I64, usable: npt.NDArray[np.bool_], test_fraction: float, purge_ms: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], int]:
    """Split usable rows by time into (train mask, test mask, first test ts ms) with a purge gap.

    The tail is every usable row at or after the ``1 - test_fraction`` time quantile; training rows end
    more than ``purge_ms`` before it.
    """
    t = np.sort(ts[usable])
    if len(t) < 2:
        raise ValueError(f"only {len(t)} labeled ready rows: too little data to train the regime model")
    split = int(t[min(int(len(t) * (1.0 - test_fraction)), len(t) - 1)])
    test = usable & (ts >= split)
    train = usable & (ts < split - purge_ms)
    if not train.any() or not test.any():
        raise ValueError("the time-ordered split left no training or no test rows; use a longer period")
    return train, test, split


def _counts(y: npt.NDArray[np.integer]) -> dict[str, int]:
    return {name: int((y == k).sum()) for k, name in enumerate(REGIMES)}


def evaluate(
    model: Any, X: npt.NDArray[np.float64], y: npt.NDArray[np.integer], prior: npt.NDArray[np.float64]
) -> dict[str, Any]:
    """Return out-of-sample metrics of ``model`` on (X, y) and of the majority-class baseline.

    ``prior`` (shape (3,)) is the training class frequency: the baseline predicts its argmax and, for
    log-loss, the prior itself as a constant probability vector.
    """
    P = model.predict_proba(X)
    pred = np.argmax(P, axis=1)
    cm = confusion(y, pred)
    recall = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    base = int(np.argmax(prior))
    eps = 1e-12
    return {
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(recall[cm.sum(axis=1) > 0].mean()),
        "log_loss": float(log_loss(y, np.clip(P, eps, 1.0), labels=[0, 1, 2])),
        "baseline_class": REGIMES[base],
        "baseline_accuracy": float((y == base).mean()),
        "baseline_balanced_accuracy": float(1.0 / max((cm.sum(axis=1) > 0).sum(), 1)),
        "baseline_log_loss": float(
            log_loss(y, np.tile(np.clip(prior, eps, 1.0), (len(y), 1)), labels=[0, 1, 2])
        ),
        "confusion": cm.tolist(),
        "recall": {name: float(recall[k]) for k, name in enumerate(REGIMES)},
    }


def prepare(
    features: Mapping[str, np.ndarray], config: RegimeConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (X (n, n_features), labels (n,) int8 with -1 unlabeled, usable (n,) bool) for a features batch."""
    X = model_features(features)
    y = label_regimes(
        features["pair"], features["ts"], features["mid"], features["spread_widening"], config.labels
    )
    usable = np.asarray(features["ready"], dtype=bool) & (y >= 0)
    return X, y, usable


def train_regime(
    features: Mapping[str, np.ndarray], config: RegimeConfig, random_state: int | None = None
) -> tuple[RegimeClassifier, dict[str, Any]]:
    """Label, split by time, fit and evaluate the regime classifier.

    Parameters
    ----------
    features : mapping of str to ndarray (e.g. a ``features`` Batch), each shape (n,)
        Output of the features stage, any pair interleaving.
    config : RegimeConfig
        Uses ``labels`` (rule, purge) and ``train`` (hyperparameters, ``test_fraction``).
    random_state : int, optional
        Forest seed; ``None`` uses ``config.train.random_state``.

    Returns
    -------
    model : RegimeClassifier
        Fitted on the training rows only (the one the metrics describe).
    report : dict
        Row counts, split time (ms), class counts, out-of-sample metrics vs the majority-class baseline
        (``accuracy``, ``balanced_accuracy``, ``log_loss``, ``baseline_*``, ``confusion``), training window
        (``training_from``/``training_to`` ms) the training arrays (``X_train``, ``y_train``) for hashing and the row masks
        (``train_mask``, ``test_mask``, shape (n,)).
    """
    tc = config.train
    X, y, usable = prepare(features, config)
    ts = np.asarray(features["ts"], dtype=np.int64)
    train, test, split = time_split(ts, usable, tc.test_fraction, config.labels.purge_ms)
    model = RegimeClassifier(
        n_estimators=tc.n_estimators,
        max_depth=tc.max_depth,
        min_samples_leaf=tc.min_samples_leaf,
        max_features=tc.max_features,
        class_weight=tc.class_weight,
        random_state=tc.random_state if random_state is None else random_state,
        n_jobs=tc.n_jobs,
        max_samples=tc.max_samples,
    ).fit(X[train], y[train])
    prior = np.bincount(y[train], minlength=len(REGIMES)) / train.sum()
    report: dict[str, Any] = {
        "n_rows": int(len(ts)),
        "n_labeled": int(usable.sum()),
        "n_train": int(train.sum()),
        "n_test": int(test.sum()),
        "split_ts": split,
        "purge_ms": config.labels.purge_ms,
        "training_from": int(ts[train].min()),
        "training_to": int(ts[train].max()),
        "train_counts": _counts(y[train]),
        "test_counts": _counts(y[test]),
        "features": list(MODEL_FEATURES),
        **evaluate(model, X[test], y[test], prior),
        "X_train": X[train],
        "y_train": y[train],
        "train_mask": train,
        "test_mask": test,
    }
    return model, report


def truth_confusion(
    features: Batch, truth: dict[str, np.ndarray], model: Any, mask: np.ndarray
) -> list[list[int]]:
    """Confusion matrix (rows truth regime, columns predicted) of ``model`` on the ``mask`` rows."""
    index = {
        (p, t): i for i, (p, t) in enumerate(zip(truth["pair"].tolist(), truth["ts"].tolist(), strict=True))
    }
    rows = [
        index[(p, t)]
        for p, t in zip(features["pair"][mask].tolist(), features["ts"][mask].tolist(), strict=True)
    ]
    pred = model.predict(model_features(features.take(mask)))
    return confusion(np.asarray(truth["regime"])[rows], pred).tolist()
