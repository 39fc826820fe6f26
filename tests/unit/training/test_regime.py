"""The regime classifier on the synthetic market: out-of-sample skill and recovery of the true regimes."""

from __future__ import annotations

import numpy as np

from models.regime import model_features
from streams.fx.hours import in_local_hours
from streams.stages.regime import RegimeConfig, RegimeStage
from streams.training.regime import confusion
from tests.kit.features import synth_features, trained_small


def test_beats_the_majority_baseline_out_of_sample() -> None:
    _, report = trained_small()
    assert report["n_test"] > 10_000
    assert report["n_train"] > 10_000
    assert report["accuracy"] > report["baseline_accuracy"] + 0.03
    assert report["log_loss"] < report["baseline_log_loss"] - 0.1
    assert report["balanced_accuracy"] > report["baseline_balanced_accuracy"] + 0.15
    cm = np.array(report["confusion"])
    assert cm.sum() == report["n_test"]
    # the held-out tail starts after the purge gap
    assert report["training_to"] < report["split_ts"] - report["purge_ms"]


def test_recovers_the_generator_regimes_out_of_sample() -> None:
    feats, truth = synth_features()
    model, report = trained_small()
    test = report["test_mask"]
    P = model.predict_proba(model_features(feats.take(test)))
    true = truth["regime"][test]
    cm = confusion(true, np.argmax(P, axis=1))
    share = np.bincount(true, minlength=3) / len(true)
    assert np.trace(cm) / cm.sum() > share.max() + 0.03  # beats always-majority against the truth
    assert cm[1, 1] / cm[1].sum() > 0.4  # true directional spells found
    # probabilities rank the true regimes: each class's probability is highest where it is the truth
    for k in (1, 2):
        present = true == k
        if present.sum() >= 20:
            assert P[present, k].mean() > 2 * P[true == 0, k].mean()


def test_tradeable_is_off_around_the_largest_shocks() -> None:
    feats, truth = synth_features()
    model, _ = trained_small()
    stage = RegimeStage(RegimeConfig(), model=model, model_version="t")
    _, res = stage.process(stage.initial_state(), "features", feats)
    reg = res["regime"]
    ready = np.asarray(reg["ready"], dtype=bool)
    # the 30 largest spread shocks
    worst_spread = np.argsort(np.where(ready, np.nan_to_num(reg["spread_widening"]), -np.inf))[-30:]
    assert not reg["tradeable"][worst_spread].any()
    # the generator's jump events: the jump bar and the 10 bars of the pair after it. Events within the
    # hour after the rollover hour (17:00-18:00 New York, spreads 6x) are left out: spread_widening
    # compares a spread with the median of the previous 60 bars, which the rollover inflates, so a
    # shock there does not look wide (a known limit of that feature, seen on 2019-01-22 23:04 UTC)
    after_roll = in_local_hours(np.asarray(reg["ts"], dtype=np.int64), 17, 19)
    around = []
    for p in np.unique(reg["pair"]):
        rows = np.flatnonzero(reg["pair"] == p)
        onset = np.flatnonzero(truth["event"][rows] & ~after_roll[rows])
        around.append(rows[np.unique(np.clip((onset[:, None] + np.arange(11)).ravel(), 0, len(rows) - 1))])
    near = np.concatenate(around)
    near = near[ready[near]]
    assert len(near) >= 50
    # a model-based flag, not a rule: a borderline bar late in the 10-bar window may pass (seen: 1 bar,
    # prob_stable 0.603, after the burst had decayed to zero range), but almost none may
    assert reg["tradeable"][near].mean() <= 0.02
    assert reg["tradeable"][ready].mean() > 0.3  # the flag is not simply always off
